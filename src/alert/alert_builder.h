#pragma once
// The alert stage: turns contextualized events into alert documents
// (schemas/alert.schema.json), with dedup, cooldown and merging per camera,
// zone and rule: related events inside the merge window update one alert
// (same id, later end_time, related_events + 1) instead of repeating it.
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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
    bool first_sent = false;         // this decision sends the alert for the first time
                                     // (new and sent, or an update that turned a dismissed one sent)
};

// Thread-safe: cameras may share one builder.
class AlertBuilder {
public:
    explicit AlertBuilder(AlertPolicy policy);
    // Returns nothing when the event is suppressed (cooldown) or is the end
    // of an episode whose alert is no longer open (nothing to update);
    // otherwise the new or updated alert. wall_time_s: Unix time of the event
    // (for RFC 3339 fields). models: {"detector", "tracker", "vlm"} names;
    // "vlm" defaults to report.vlm_model. Evidence image paths are null until
    // the caller stores the images (set_evidence_path).
    //
    // Merging keeps the strongest verdict seen (confirmed > uncertain >
    // rejected): a later report refreshes the text only when its verdict is
    // at least as strong; severity keeps the highest.
    std::optional<AlertDecision> on_event(const std::string& camera, const contextualize::CameraContext& context,
                                          const analyze::Event& event, const contextualize::ContextReport& report,
                                          double wall_time_s, const nlohmann::json& models);
    // Counters for the progress line and tests.
    int suppressed() const;          // events dropped by the cooldown
    int ignored_end_events() const;  // episode ends with no open alert to update

private:
    AlertPolicy policy_;
    // per-key state lives in the implementation
    struct State;
    std::shared_ptr<State> state_;
};

// Validates an alert document against schemas/alert.schema.json (loaded once);
// returns the violations (empty when valid).
std::vector<std::string> validate_alert(const nlohmann::json& alert);

// "2024-05-01T12:00:03.250Z" for a Unix time.
std::string format_rfc3339_utc(double unix_s);

// The alert "type" for an event: congestion, obstruction (a stationary
// unknown object, or any stationary object on a lane/road rule or zone),
// gathering, scene_check, ... , other.
std::string alert_type_for(const analyze::Event& event, const std::vector<Track>& tracks);

// A fresh unique id: 12 hex digits of milliseconds (ids sort by time) + 8 random.
std::string make_alert_id(double wall_time_s);

// Fills the path of the evidence image with `role` once the store wrote it;
// nullopt marks it missing (the write failed). Returns false when the alert
// has no image with that role.
bool set_evidence_path(nlohmann::json& alert, const std::string& role, const std::optional<std::string>& path);

}  // namespace vigil::alert
