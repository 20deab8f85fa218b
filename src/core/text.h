#pragma once
// Small text helpers shared by stages that write user-facing strings.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// The first `max_chars` Unicode characters of UTF-8 `text` (never cuts a
// multi-byte character in half).
std::string truncate_utf8(const std::string& text, size_t max_chars);

// `text` with every ill-formed UTF-8 sequence (a character cut at the token
// limit, stray bytes from a byte-level vocabulary) replaced by U+FFFD, so it
// can go into JSON, a database or a terminal.
std::string sanitize_utf8(const std::string& text);

// UTF-8 text arriving in pieces (a model's tokens): says whether a piece
// keeps the text well-formed, allowing only a character still open at the
// end. Byte-level vocabularies can spell any byte sequence, and a grammar
// matcher that decodes leniently would count an ill-formed one as a single
// character that later becomes several replacement characters.
class Utf8Stream {
public:
    bool can_append(std::string_view piece) const { return scan(piece).has_value(); }
    // Returns false, and takes nothing, when the piece would make the text ill-formed.
    bool append(std::string_view piece);
    // True when no character is left open.
    bool complete() const { return state_.pending == 0; }

private:
    struct State {
        uint8_t pending = 0;     // continuation bytes still expected
        uint8_t low = 0x80;      // allowed range of the next continuation byte
        uint8_t high = 0xBF;
    };
    std::optional<State> scan(std::string_view piece) const;
    State state_;
};

}  // namespace vigil
