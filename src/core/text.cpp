#include "core/text.h"

#include <cstdint>

namespace vigil {

std::string truncate_utf8(const std::string& text, size_t max_chars) {
    size_t chars = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {  // not a continuation byte
            if (chars == max_chars) return text.substr(0, i);
            ++chars;
        }
    }
    return text;
}

std::string sanitize_utf8(const std::string& text) {
    static const std::string replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(text.size());
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char lead = bytes[i];
        size_t length = 0;
        uint32_t min_code = 0;
        if (lead < 0x80) length = 1;
        else if (lead >= 0xC2 && lead <= 0xDF) length = 2, min_code = 0x80;
        else if (lead >= 0xE0 && lead <= 0xEF) length = 3, min_code = 0x800;
        else if (lead >= 0xF0 && lead <= 0xF4) length = 4, min_code = 0x10000;
        bool valid = length > 0 && i + length <= n;
        uint32_t code = length == 1 ? lead : (lead & (0x7F >> length));
        for (size_t k = 1; valid && k < length; ++k) {
            if ((bytes[i + k] & 0xC0) != 0x80) valid = false;
            else code = (code << 6) | (bytes[i + k] & 0x3F);
        }
        // Overlong forms, UTF-16 surrogates and values past U+10FFFF are ill-formed too.
        if (valid && length > 1 && (code < min_code || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF))
            valid = false;
        if (valid) {
            out.append(text, i, length);
            i += length;
        } else {
            out += replacement;
            ++i;
        }
    }
    return out;
}

std::optional<Utf8Stream::State> Utf8Stream::scan(std::string_view piece) const {
    State state = state_;
    for (const char c : piece) {
        const auto byte = static_cast<unsigned char>(c);
        if (state.pending > 0) {
            if (byte < state.low || byte > state.high) return std::nullopt;
            --state.pending;
            state.low = 0x80;
            state.high = 0xBF;
            continue;
        }
        // A lead byte: how many continuation bytes follow, and the range of
        // the first one (ruling out overlong forms, surrogates and > U+10FFFF).
        if (byte < 0x80) continue;
        if (byte >= 0xC2 && byte <= 0xDF) state = {1, 0x80, 0xBF};
        else if (byte == 0xE0) state = {2, 0xA0, 0xBF};
        else if (byte == 0xED) state = {2, 0x80, 0x9F};
        else if (byte >= 0xE1 && byte <= 0xEF) state = {2, 0x80, 0xBF};
        else if (byte == 0xF0) state = {3, 0x90, 0xBF};
        else if (byte >= 0xF1 && byte <= 0xF3) state = {3, 0x80, 0xBF};
        else if (byte == 0xF4) state = {3, 0x80, 0x8F};
        else return std::nullopt;
    }
    return state;
}

bool Utf8Stream::append(std::string_view piece) {
    const auto next = scan(piece);
    if (!next) return false;
    state_ = *next;
    return true;
}

}  // namespace vigil
