#pragma once
// The alert stage: turns contextualized events into alert documents
// (schemas/alert.schema.json), with dedup, cooldown and merging per camera,
// zone and rule: related events inside the merge window update one alert
// (same id, later end_time, related_events + 1) instead of repeating it.
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "analyze/analyze_event.h"
#include "contextualize/contextualizer.h"

namespace vigil::alert {

struct AlertPolicy {
    double merge_window_s = 120;     // events of the same camera/zone/rule within this window merge
    double cooldown_s = 300;         // after an alert closes, the same key stays quiet this long
    bool send_rejected = false;      // a VLM-rejected trigger is stored as dismissed, not sent
};

struct AlertDecision {
    nlohmann::json alert;            // complete, valid alert document
    std::string status;              // "sent" | "dismissed"
    bool is_update = false;          // an existing alert (same id) was updated
};

class AlertBuilder {
public:
    explicit AlertBuilder(AlertPolicy policy);
    // Returns nothing when the event is suppressed (cooldown); otherwise the
    // new or updated alert. wall_time_s: Unix time of the event (for RFC 3339 fields).
    std::optional<AlertDecision> on_event(const std::string& camera, const contextualize::CameraContext& context,
                                          const analyze::Event& event, const contextualize::ContextReport& report,
                                          double wall_time_s, const nlohmann::json& models);
    // Counters for the progress line and tests.
    int suppressed() const { return suppressed_; }

private:
    AlertPolicy policy_;
    int suppressed_ = 0;
    // per-key state lives in the implementation
    struct State;
    std::shared_ptr<State> state_;
};

// Validates an alert document against schemas/alert.schema.json (loaded once);
// returns the violations (empty when valid).
std::vector<std::string> validate_alert(const nlohmann::json& alert);

}  // namespace vigil::alert
