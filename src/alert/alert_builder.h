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

// When an alert about an event that goes to the VLM is first sent.
enum class SendMode {
    on_verdict,  // as soon as the VLM's verdict is decoded (a rejection dismisses it); the report follows
    on_event,    // at once, from the rules; the VLM's verdict and report update it
};
// "on_verdict" | "on_event"; throws vigil::Error for anything else.
SendMode parse_send_mode(const std::string& text);
const char* to_string(SendMode mode);

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
    bool deliver = false;            // goes to the sinks: sent, or sent before and now dismissed
                                     // (receivers learn that the VLM rejected what they were told)
    std::string previous_status;     // the status before this decision ("" for a new alert)
};

// How one report relates to its event and when it was made. An event may get
// several reports: verdict first, then the full report (each replacing the
// one before for that event), or the rules' report at once and the VLM's
// after it (`send: on_event`).
struct ReportInfo {
    uint64_t event_token = 0;        // the event's identity across its reports (0: a single report)
    bool partial = false;            // another report for this event will follow
    double since_detection_ms = -1;  // event detected -> now (fills the alert's timings; < 0: unknown)
    double queue_wait_ms = -1;       // time the event waited for the VLM (< 0: unknown)
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
    //
    // A report with info.partial set leaves its event open for on_report.
    std::optional<AlertDecision> on_event(const std::string& camera, const contextualize::CameraContext& context,
                                          const analyze::Event& event, const contextualize::ContextReport& report,
                                          double wall_time_s, const nlohmann::json& models,
                                          const ReportInfo& info = {});
    // A later report for an event whose earlier report made or updated
    // `alert_id` (info.event_token names the event). It replaces that
    // report's say on the verdict and severity (a VLM rejection can dismiss
    // an alert the rules sent) and, when at least as sure as the alert,
    // refreshes its text; it is not a new related event. Nothing when the
    // alert is unknown or the event has no open report.
    std::optional<AlertDecision> on_report(const std::string& alert_id, const analyze::Event& event,
                                           const contextualize::ContextReport& report, const nlohmann::json& models,
                                           const ReportInfo& info);
    // Records the evidence image entries (paths written by the store) so
    // every later version of the alert carries them.
    void set_evidence_images(const std::string& alert_id, const nlohmann::json& images);
    // Alerts still waiting for a report of one of their events.
    size_t awaiting_reports() const;
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
