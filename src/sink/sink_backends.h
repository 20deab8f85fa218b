#pragma once
// Constructors for each sink backend (one file each) and the config reading
// they share; make_sink in sink_factory.cpp picks one by "type".
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sink/alert_sink.h"

namespace vigil::sink {

std::unique_ptr<AlertSink> make_jsonl_sink(const nlohmann::json& config);
std::unique_ptr<AlertSink> make_stdout_sink(const nlohmann::json& config);
std::unique_ptr<AlertSink> make_webhook_sink(const nlohmann::json& config);
std::unique_ptr<AlertSink> make_mqtt_sink(const nlohmann::json& config);

// "sha256=" is not included: lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

// Typed access to a sink config; errors name the sink and the key.
std::string config_string(const nlohmann::json& config, const char* key, const std::string& fallback);
std::string config_required_string(const nlohmann::json& config, const char* key);
double config_number(const nlohmann::json& config, const char* key, double fallback, double min, double max);
// The sink's outbox key: "name" when given, else "<type>:<default_detail>".
std::string config_sink_name(const nlohmann::json& config, const std::string& default_detail);

}  // namespace vigil::sink
