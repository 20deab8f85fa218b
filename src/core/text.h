#pragma once
// Small text helpers shared by stages that write user-facing strings.
#include <cstddef>
#include <string>

namespace vigil {

// The first `max_chars` Unicode characters of UTF-8 `text` (never cuts a
// multi-byte character in half).
std::string truncate_utf8(const std::string& text, size_t max_chars);

// `text` with every ill-formed UTF-8 sequence (a character cut at the token
// limit, stray bytes from a byte-level vocabulary) replaced by U+FFFD, so it
// can go into JSON, a database or a terminal.
std::string sanitize_utf8(const std::string& text);

}  // namespace vigil
