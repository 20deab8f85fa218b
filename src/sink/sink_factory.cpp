// make_sink: one config object to one backend, with config errors that name
// the sink and the key a person has to fix.
#include <cmath>

#include "core/error.h"
#include "sink/sink_backends.h"

namespace vigil::sink {

namespace {

std::string sink_label(const nlohmann::json& config) {
    if (config.is_object()) {
        auto name = config.find("name");
        if (name != config.end() && name->is_string()) return "sink \"" + name->get<std::string>() + "\"";
        auto type = config.find("type");
        if (type != config.end() && type->is_string()) return type->get<std::string>() + " sink";
    }
    return "sink";
}

}  // namespace

std::string config_string(const nlohmann::json& config, const char* key, const std::string& fallback) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return fallback;
    if (!it->is_string()) throw vigil::Error(sink_label(config) + ": key \"" + key + "\" must be a string");
    return it->get<std::string>();
}

std::string config_required_string(const nlohmann::json& config, const char* key) {
    std::string value = config_string(config, key, "");
    if (value.empty())
        throw vigil::Error(sink_label(config) + ": key \"" + key + "\" is required (a non-empty string)");
    return value;
}

double config_number(const nlohmann::json& config, const char* key, double fallback, double min, double max) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return fallback;
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < min || it->get<double>() > max)
        throw vigil::Error(sink_label(config) + ": key \"" + key + "\" must be a number from " + std::to_string(min) +
                           " to " + std::to_string(max));
    return it->get<double>();
}

std::string config_sink_name(const nlohmann::json& config, const std::string& default_detail) {
    std::string name = config_string(config, "name", "");
    if (!name.empty()) return name;
    std::string type = config_string(config, "type", "");
    return default_detail.empty() ? type : type + ":" + default_detail;
}

std::unique_ptr<AlertSink> make_sink(const nlohmann::json& config) {
    if (!config.is_object()) throw vigil::Error("sink config must be an object with a \"type\" key");
    const std::string type = config_required_string(config, "type");
    if (type == "jsonl") return make_jsonl_sink(config);
    if (type == "stdout") return make_stdout_sink(config);
    if (type == "webhook") return make_webhook_sink(config);
    if (type == "mqtt") return make_mqtt_sink(config);
    throw vigil::Error(sink_label(config) + ": key \"type\" is \"" + type +
                       "\"; expected one of: jsonl, stdout, webhook, mqtt");
}

}  // namespace vigil::sink
