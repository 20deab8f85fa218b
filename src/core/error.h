#pragma once
// One exception type for every user-facing failure: the message says what was
// wrong, where (file, line, key) and what was expected, ready to print as is.
#include <stdexcept>
#include <string>

namespace vigil {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A deadline passed or a caller cancelled; distinct so callers can fall back.
class TimeoutError : public Error {
public:
    using Error::Error;
};

class CancelledError : public Error {
public:
    using Error::Error;
};

}  // namespace vigil
