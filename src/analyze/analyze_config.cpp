#include "analyze/analyze_config.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/error.h"

namespace vigil::analyze {

ConfigReader::ConfigReader(const nlohmann::json& object, std::string where)
    : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) {
        throw Error(fmt::format("{}: expected an object with keys, got {}", where_, object_.dump()));
    }
}

void ConfigReader::fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: key \"{}\": {}", where_, key, what));
}

bool ConfigReader::has(const char* key) const {
    return object_.contains(key);
}

const nlohmann::json* ConfigReader::optional(const char* key) {
    auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    read_.emplace_back(key);
    return &*it;
}

const nlohmann::json& ConfigReader::required(const char* key) {
    const nlohmann::json* value = optional(key);
    if (value == nullptr) fail(key, "is required but missing");
    return *value;
}

std::string ConfigReader::string(const char* key) {
    const nlohmann::json& value = required(key);
    if (!value.is_string()) fail(key, "expected a string, got " + value.dump());
    return value.get<std::string>();
}

std::string ConfigReader::string_or(const char* key, const std::string& fallback) {
    return has(key) ? string(key) : fallback;
}

double ConfigReader::number(const char* key) {
    const nlohmann::json& value = required(key);
    if (!value.is_number()) fail(key, "expected a number, got " + value.dump());
    return value.get<double>();
}

double ConfigReader::number_or(const char* key, double fallback, double min, double max) {
    if (!has(key)) return fallback;
    double v = number(key);
    if (!std::isfinite(v) || v < min || v > max) {
        fail(key, fmt::format("{} is out of range (expected {} to {})", v, min, max));
    }
    return v;
}

int ConfigReader::integer_or(const char* key, int fallback, int min, int max) {
    if (!has(key)) return fallback;
    const nlohmann::json& value = required(key);
    if (!value.is_number_integer()) fail(key, "expected a whole number, got " + value.dump());
    int v = value.get<int>();
    if (v < min || v > max) fail(key, fmt::format("{} is out of range (expected {} to {})", v, min, max));
    return v;
}

bool ConfigReader::boolean_or(const char* key, bool fallback) {
    if (!has(key)) return fallback;
    const nlohmann::json& value = required(key);
    if (!value.is_boolean()) fail(key, "expected true or false, got " + value.dump());
    return value.get<bool>();
}

cv::Point2f ConfigReader::point(const char* key) {
    return parse_point(required(key), fmt::format("{}: key \"{}\"", where_, key));
}

void ConfigReader::finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
        if (std::find(read_.begin(), read_.end(), it.key()) == read_.end()) {
            throw Error(fmt::format("{}: unknown key \"{}\"", where_, it.key()));
        }
    }
}

cv::Point2f parse_point(const nlohmann::json& value, const std::string& where) {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
        throw Error(fmt::format("{}: expected a point [x, y], got {}", where, value.dump()));
    }
    return {value[0].get<float>(), value[1].get<float>()};
}

ClassFilter::ClassFilter(const nlohmann::json& value, const std::string& where) {
    if (!value.is_array()) {
        throw Error(fmt::format("{}: expected a list of class ids or labels, got {}", where, value.dump()));
    }
    for (const auto& item : value) {
        if (item.is_number_integer()) {
            ids_.push_back(item.get<int>());
        } else if (item.is_string()) {
            labels_.push_back(item.get<std::string>());
        } else {
            throw Error(fmt::format("{}: class {} is neither a class id nor a label", where, item.dump()));
        }
    }
}

ClassFilter ClassFilter::labels(std::vector<std::string> labels) {
    ClassFilter filter;
    filter.labels_ = std::move(labels);
    return filter;
}

bool ClassFilter::accepts(int class_id, std::string_view label) const {
    if (accepts_all()) return true;
    if (std::find(ids_.begin(), ids_.end(), class_id) != ids_.end()) return true;
    return std::find(labels_.begin(), labels_.end(), label) != labels_.end();
}

nlohmann::json ClassFilter::to_json() const {
    nlohmann::json out = nlohmann::json::array();
    for (int id : ids_) out.push_back(id);
    for (const auto& label : labels_) out.push_back(label);
    return out;
}

}  // namespace vigil::analyze
