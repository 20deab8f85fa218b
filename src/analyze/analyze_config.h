#pragma once
// Reading the analytics config (nlohmann::json, the form the YAML loader
// produces) with errors that name the zone or rule and the key.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::analyze {

// Reads the keys of one JSON object. `where` names it in every error, e.g.
// `analytics rule "jam" (congestion)`. finish() rejects keys nobody read, so
// a misspelt key is an error instead of a silently ignored setting.
class ConfigReader {
public:
    ConfigReader(const nlohmann::json& object, std::string where);

    const std::string& where() const { return where_; }
    bool has(const char* key) const;
    const nlohmann::json& required(const char* key);
    const nlohmann::json* optional(const char* key);

    std::string string(const char* key);
    std::string string_or(const char* key, const std::string& fallback);
    double number(const char* key);
    // Missing keys give `fallback`; present values must lie in [min, max].
    double number_or(const char* key, double fallback, double min, double max);
    int integer_or(const char* key, int fallback, int min, int max);
    bool boolean_or(const char* key, bool fallback);
    cv::Point2f point(const char* key);

    [[noreturn]] void fail(const char* key, const std::string& what) const;
    void finish() const;

private:
    const nlohmann::json& object_;
    std::string where_;
    std::vector<std::string> read_;
};

// Reads [x, y] pairs; `where` names the key in errors.
cv::Point2f parse_point(const nlohmann::json& value, const std::string& where);

// Which tracks a rule looks at: a list of class ids (ints) and/or labels
// (strings). Empty = every class; -1 selects unknown blobs from the motion
// detector.
class ClassFilter {
public:
    ClassFilter() = default;
    // `value` is a list such as [2, 5, "truck", -1].
    ClassFilter(const nlohmann::json& value, const std::string& where);
    static ClassFilter labels(std::vector<std::string> labels);

    bool accepts(int class_id, std::string_view label) const;
    bool accepts_all() const { return ids_.empty() && labels_.empty(); }
    nlohmann::json to_json() const;

private:
    std::vector<int> ids_;
    std::vector<std::string> labels_;
};

}  // namespace vigil::analyze
