#pragma once
// The sink stage's one interface: deliver one alert document somewhere.
// Backends beside it: sink_jsonl.cpp, sink_webhook.cpp, sink_mqtt.cpp,
// sink_stdout.cpp. Delivery is at-least-once through the store's outbox
// (store/alert_store.h); receivers dedupe by the alert's "id".
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace vigil::sink {

class AlertSink {
public:
    virtual ~AlertSink() = default;
    // Unique per configured sink, e.g. "webhook:ops"; the outbox keys on it.
    virtual std::string name() const = 0;
    // Throws vigil::Error when the alert was not accepted (the outbox retries).
    virtual void deliver(const nlohmann::json& alert) = 0;
};

// config: {"type": "jsonl"|"webhook"|"mqtt"|"stdout", "name": "...", ...type-specific keys}.
// Throws vigil::Error naming the key for a bad config.
std::unique_ptr<AlertSink> make_sink(const nlohmann::json& config);

}  // namespace vigil::sink
