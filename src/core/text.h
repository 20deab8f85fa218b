#pragma once
// Small text helpers shared by stages that write user-facing strings.
#include <cstddef>
#include <string>

namespace vigil {

// The first `max_chars` Unicode characters of UTF-8 `text` (never cuts a
// multi-byte character in half).
std::string truncate_utf8(const std::string& text, size_t max_chars);

}  // namespace vigil
