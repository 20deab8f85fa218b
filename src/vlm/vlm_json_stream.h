#pragma once
// Reads a JSON object while a model is still writing it and reports each
// top-level member the moment its value is complete, so the first members of
// an answer (a verdict, a severity) can be acted on before the rest is
// decoded. Members come in the order they were written.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::vlm {

class JsonMemberStream {
public:
    using Member = std::pair<std::string, nlohmann::json>;

    // Appends generated text; returns the members it completed. Text that is
    // not a JSON object, or that breaks off, completes nothing (the final
    // answer is validated as a whole elsewhere).
    std::vector<Member> feed(std::string_view text);

    // Every member completed so far.
    const nlohmann::json& members() const { return members_; }

private:
    enum class Expect { open, key_or_close, colon, value, comma_or_close, done, invalid };

    void complete_value(std::vector<Member>& out, size_t end);

    Expect expect_ = Expect::open;
    std::string text_;        // everything fed, from the opening brace
    size_t key_start_ = 0;    // where the current member's key string starts
    size_t key_end_ = 0;      // one past its closing quote
    size_t value_start_ = 0;  // where the current value starts
    int depth_ = 0;           // nesting inside the current value (0 at top level)
    bool in_string_ = false;
    bool escaped_ = false;
    bool value_is_scalar_ = false;  // number, true, false or null: ends at a delimiter
    bool reading_key_ = false;
    nlohmann::json members_ = nlohmann::json::object();
};

}  // namespace vigil::vlm
