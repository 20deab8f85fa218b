// Top-level members of a JSON object as it is generated.
#include "vlm/vlm_json_stream.h"

#include <cctype>

namespace vigil::vlm {

namespace {
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

void JsonMemberStream::complete_value(std::vector<Member>& out, size_t end) {
    try {
        std::string key = nlohmann::json::parse(text_.substr(key_start_, key_end_ - key_start_)).get<std::string>();
        nlohmann::json value = nlohmann::json::parse(text_.substr(value_start_, end - value_start_));
        members_[key] = value;
        out.emplace_back(std::move(key), std::move(value));
        expect_ = Expect::comma_or_close;
    } catch (const nlohmann::json::exception&) {
        expect_ = Expect::invalid;
    }
}

std::vector<JsonMemberStream::Member> JsonMemberStream::feed(std::string_view piece) {
    std::vector<Member> out;
    for (char c : piece) {
        if (expect_ == Expect::done || expect_ == Expect::invalid) break;
        const size_t pos = text_.size();
        text_.push_back(c);
        if (in_string_) {
            if (escaped_) {
                escaped_ = false;
            } else if (c == '\\') {
                escaped_ = true;
            } else if (c == '"') {
                in_string_ = false;
                if (reading_key_) {
                    reading_key_ = false;
                    key_end_ = pos + 1;
                    expect_ = Expect::colon;
                } else if (expect_ == Expect::value && depth_ == 0) {
                    complete_value(out, pos + 1);
                }
            }
            continue;
        }
        switch (expect_) {
            case Expect::open:
                if (c == '{')
                    expect_ = Expect::key_or_close;
                else if (!is_space(c))
                    expect_ = Expect::invalid;
                break;
            case Expect::key_or_close:
                if (c == '"') {
                    in_string_ = true;
                    reading_key_ = true;
                    key_start_ = pos;
                } else if (c == '}') {
                    expect_ = Expect::done;
                } else if (!is_space(c)) {
                    expect_ = Expect::invalid;
                }
                break;
            case Expect::colon:
                if (c == ':') {
                    expect_ = Expect::value;
                    value_start_ = 0;
                    depth_ = 0;
                    value_is_scalar_ = false;
                } else if (!is_space(c)) {
                    expect_ = Expect::invalid;
                }
                break;
            case Expect::value:
                if (value_start_ == 0 && !value_is_scalar_ && depth_ == 0) {
                    if (is_space(c)) break;
                    value_start_ = pos;
                    if (c == '"') {
                        in_string_ = true;
                    } else if (c == '{' || c == '[') {
                        depth_ = 1;
                    } else {
                        value_is_scalar_ = true;
                    }
                    break;
                }
                if (value_is_scalar_) {
                    if (c == ',' || c == '}' || is_space(c)) {
                        complete_value(out, pos);
                        if (expect_ == Expect::comma_or_close && c == ',')
                            expect_ = Expect::key_or_close;
                        else if (expect_ == Expect::comma_or_close && c == '}')
                            expect_ = Expect::done;
                    }
                    break;
                }
                if (c == '"') {
                    in_string_ = true;
                } else if (c == '{' || c == '[') {
                    ++depth_;
                } else if (c == '}' || c == ']') {
                    if (--depth_ == 0) complete_value(out, pos + 1);
                }
                break;
            case Expect::comma_or_close:
                if (c == ',')
                    expect_ = Expect::key_or_close;
                else if (c == '}')
                    expect_ = Expect::done;
                else if (!is_space(c))
                    expect_ = Expect::invalid;
                break;
            case Expect::done:
            case Expect::invalid:
                break;
        }
    }
    return out;
}

}  // namespace vigil::vlm
