#include "store/store_time.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace vigil::store {

std::optional<double> parse_rfc3339(const std::string& text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                    &consumed) != 6)
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    size_t pos = static_cast<size_t>(consumed);
    double fraction = 0;
    if (pos < text.size() && text[pos] == '.') {
        double scale = 0.1;
        ++pos;
        if (pos >= text.size() || !std::isdigit(static_cast<unsigned char>(text[pos]))) return std::nullopt;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
            fraction += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
    }
    int offset_seconds = 0;
    const std::string zone = text.substr(pos);
    if (zone == "Z" || zone == "z") {
        offset_seconds = 0;
    } else {
        int oh = 0, om = 0, zone_consumed = 0;
        char sign = 0;
        if (std::sscanf(zone.c_str(), "%c%2d:%2d%n", &sign, &oh, &om, &zone_consumed) != 3 ||
            static_cast<size_t>(zone_consumed) != zone.size() || (sign != '+' && sign != '-'))
            return std::nullopt;
        offset_seconds = (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<double>(timegm(&tm)) - offset_seconds + fraction;
}

std::string format_rfc3339(double unix_seconds) {
    double whole = std::floor(unix_seconds);
    auto seconds = static_cast<std::time_t>(whole);
    int millis = static_cast<int>(std::lround((unix_seconds - whole) * 1000));
    if (millis == 1000) {
        ++seconds;
        millis = 0;
    }
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[96];
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buffer;
}

}  // namespace vigil::store
