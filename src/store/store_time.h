#pragma once
// RFC 3339 UTC timestamps, the form alert documents carry, to and from Unix seconds.
#include <optional>
#include <string>

namespace vigil::store {

// "2024-05-01T12:30:00Z", "...T12:30:00.250+02:00"; nullopt when not RFC 3339.
std::optional<double> parse_rfc3339(const std::string& text);
// Unix seconds to "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string format_rfc3339(double unix_seconds);

}  // namespace vigil::store
