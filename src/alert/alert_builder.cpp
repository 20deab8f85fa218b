// Contextualized events -> alert documents, with merging, cooldown and dismissal.
#include "alert/alert_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/paths.h"
#include "core/text.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::alert {

using nlohmann::json;

namespace {

// Anything but a clear yes or no counts as uncertain.
int verdict_rank(const std::string& verdict) {
    if (verdict == "confirmed") return 2;
    if (verdict == "rejected") return 0;
    return 1;
}

const char* verdict_name(int rank) { return rank == 2 ? "confirmed" : rank == 0 ? "rejected" : "uncertain"; }

int severity_rank(const std::string& severity) {
    static const std::vector<std::string> order = {"info", "low", "medium", "high", "critical"};
    auto it = std::find(order.begin(), order.end(), severity);
    return it == order.end() ? -1 : int(it - order.begin());
}


std::string string_field(const json& report, const char* key, size_t max_chars, const std::string& fallback = "") {
    auto it = report.find(key);
    return truncate_utf8(it != report.end() && it->is_string() ? it->get<std::string>() : fallback, max_chars);
}

json string_list(const json& report, const char* key) {
    json out = json::array();
    auto it = report.find(key);
    if (it == report.end() || !it->is_array()) return out;
    for (const json& item : *it) {
        if (!item.is_string()) continue;
        if (out.size() == 10) break;
        out.push_back(truncate_utf8(item.get<std::string>(), 200));
    }
    return out;
}

bool bool_field(const json& report, const char* key) {
    auto it = report.find(key);
    return it != report.end() && it->is_boolean() && it->get<bool>();
}

double rounded(double value, double step) { return std::round(value / step) * step; }

json detections_json(const std::vector<Track>& tracks) {
    json out = json::array();
    for (const Track& track : tracks) {
        out.push_back({{"track_id", track.id},
                       {"label", track.label.empty() ? (track.class_id < 0 ? "unknown" : fmt::format("class {}", track.class_id))
                                                     : track.label},
                       {"score", rounded(track.score, 0.001)},
                       {"box", {rounded(track.box.x, 0.1), rounded(track.box.y, 0.1), rounded(track.box.width, 0.1),
                                rounded(track.box.height, 0.1)}}});
    }
    return out;
}

json evidence_images_json(const contextualize::ContextReport& report, const analyze::Event& event, double wall_time_s) {
    json images = json::array();
    for (size_t i = 0; i < report.evidence_images.size(); ++i) {
        json image = {{"role", report.evidence_images[i].first}, {"path", nullptr}};
        if (i < report.evidence_times_s.size())
            image["time"] = format_rfc3339_utc(wall_time_s + (report.evidence_times_s[i] - event.time_s));
        images.push_back(std::move(image));
    }
    return images;
}

// The report's content as alert fields, each within the alert schema's bounds.
// Evidence images are set only on a new alert: later versions keep theirs.
void apply_report(json& alert, const contextualize::ContextReport& report, const analyze::Event& event,
                  double wall_time_s) {
    const json& r = report.report.is_object() ? report.report : json::object();
    alert["title"] = string_field(r, "title", 120, event.type);
    alert["summary"] = string_field(r, "summary", 400, event.summary);
    alert["description"] = string_field(r, "description", 2000);
    alert["probable_cause"] = string_field(r, "probable_cause", 400);
    json hazards = string_list(r, "hazards");
    // A scene check names its hazard in a field of its own.
    if (r.contains("hazard_type") && r["hazard_type"].is_string() && r["hazard_type"] != "none" &&
        bool_field(r, "hazard_found") && hazards.size() < 10 &&
        std::find(hazards.begin(), hazards.end(), r["hazard_type"]) == hazards.end())
        hazards.insert(hazards.begin(), r["hazard_type"]);
    alert["hazards"] = hazards;
    alert["people_at_risk"] = bool_field(r, "people_at_risk");
    alert["emergency_services_seen"] = bool_field(r, "emergency_services_seen");
    alert["recommended_actions"] = string_list(r, "recommended_actions");
    std::string severity = string_field(r, "severity", 16, "low");
    alert["severity"] = severity_rank(severity) < 0 ? "low" : severity;
    double confidence = r.contains("confidence") && r["confidence"].is_number() ? r["confidence"].get<double>() : 0.5;
    alert["confidence"] = std::isfinite(confidence) ? std::clamp(confidence, 0.0, 1.0) : 0.5;
    alert["reasoning"] = truncate_utf8(report.reasoning, 2000);
    alert["verdict"] = verdict_name(verdict_rank(report.verdict));
    json context = {{"source", report.source == "vlm" ? "vlm" : "rules"}, {"complete", report.complete}};
    if (!report.fallback_reason.empty()) context["fallback_reason"] = report.fallback_reason;
    alert["context"] = context;
    if (!alert["evidence"].contains("images")) alert["evidence"]["images"] = evidence_images_json(report, event, wall_time_s);
    alert["evidence"]["metrics"] = event.metrics.is_object() ? event.metrics : json::object();
}

void merge_detections(json& into, const json& more) {
    for (const json& detection : more) {
        auto same = std::find_if(into.begin(), into.end(),
                                 [&](const json& d) { return d["track_id"] == detection["track_id"]; });
        if (same != into.end()) *same = detection;
        else into.push_back(detection);
    }
}

json models_json(const json& models, const contextualize::ContextReport& report) {
    json out = models.is_object() ? models : json::object();
    if (!out.contains("vlm") && !report.vlm_model.empty()) out["vlm"] = report.vlm_model;
    return out;
}

const json& alert_schema() {
    static const json schema = [] {
        const auto path = data_dir() / "schemas" / "alert.schema.json";
        std::ifstream in(path);
        if (!in) throw Error(fmt::format("cannot read the alert schema {} (set VIGIL_DATA_DIR)", path.string()));
        json loaded;
        try {
            loaded = json::parse(in);
        } catch (const json::parse_error& e) {
            throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
        }
        vlm::check_schema(loaded);
        return loaded;
    }();
    return schema;
}

// The hazard a scene-check report names ("none" when it found none or the
// report came from the rules, which cannot see hazards).
std::string scene_hazard_of(const contextualize::ContextReport& report) {
    const json& r = report.report;
    if (report.source != "vlm" || !r.is_object() || !bool_field(r, "hazard_found")) return "none";
    return r.contains("hazard_type") && r["hazard_type"].is_string() ? r["hazard_type"].get<std::string>() : "other";
}

}  // namespace

namespace {

// What one report says about an alert's verdict and severity.
struct Say {
    int verdict = 0;   // verdict_rank
    int severity = 0;  // severity_rank
};

// The strongest verdict and the highest severity any of them gave.
Say stronger(const Say& a, const Say& b) { return Say{std::max(a.verdict, b.verdict), std::max(a.severity, b.severity)}; }

// An alert that later events or reports may still change.
struct OpenAlert {
    json alert;
    double last_wall_s = 0;                // the latest event merged in
    std::optional<Say> settled;            // from events whose reports are final
    std::map<uint64_t, Say> provisional;   // events whose report will still be replaced
    bool delivered = false;                // some version went to the sinks
    std::string status;                    // of the latest version

    Say current() const {
        std::optional<Say> out = settled;
        for (const auto& [token, say] : provisional) out = out ? stronger(*out, say) : say;
        return out.value_or(Say{1, 1});
    }
    std::string id() const { return alert.at("id").get<std::string>(); }
};

// The alert's verdict and severity from every event's say, and whether this
// version is sent, dismissed, delivered.
AlertDecision decide(OpenAlert& open, bool is_update, bool send_rejected) {
    const Say say = open.current();
    static const std::vector<std::string> severities = {"info", "low", "medium", "high", "critical"};
    open.alert["verdict"] = verdict_name(say.verdict);
    open.alert["severity"] = severities[static_cast<size_t>(std::clamp(say.severity, 0, 4))];
    const bool sends = say.verdict > 0 || send_rejected;
    AlertDecision decision;
    decision.alert = open.alert;
    decision.status = sends ? "sent" : "dismissed";
    decision.is_update = is_update;
    decision.first_sent = sends && !open.delivered;
    decision.deliver = sends || open.delivered;
    decision.previous_status = open.status;
    open.delivered = open.delivered || sends;
    open.status = decision.status;
    return decision;
}

}  // namespace

struct AlertBuilder::State {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<OpenAlert>> by_key;
    std::map<std::string, std::shared_ptr<OpenAlert>> by_id;  // alerts with provisional reports
    int suppressed = 0;
    int ignored_end = 0;
};

namespace {

Say say_of(const contextualize::ContextReport& report) {
    const json& r = report.report;
    const std::string severity = r.is_object() && r.contains("severity") && r["severity"].is_string()
                                     ? r["severity"].get<std::string>()
                                     : "low";
    return Say{verdict_rank(report.verdict), std::max(0, severity_rank(severity))};
}

void set_timings(json& alert, const contextualize::ContextReport& report, const ReportInfo& info, bool is_new) {
    json& timings = alert["timings"];
    if (is_new && info.since_detection_ms >= 0) timings["event_to_alert_ms"] = info.since_detection_ms;
    if (info.queue_wait_ms >= 0) timings["queue_wait_ms"] = info.queue_wait_ms;
    if (report.source == "vlm") {
        if (!timings.contains("event_to_verdict_ms") && info.since_detection_ms >= 0)
            timings["event_to_verdict_ms"] = info.since_detection_ms;
        if (report.vlm_verdict_ms > 0) timings["vlm_verdict_ms"] = report.vlm_verdict_ms;
        if (report.complete && info.since_detection_ms >= 0) timings["event_to_report_ms"] = info.since_detection_ms;
    }
    if (report.vlm_ms > 0 || !timings.contains("vlm_ms")) timings["vlm_ms"] = report.vlm_ms;
}

}  // namespace

AlertBuilder::AlertBuilder(AlertPolicy policy) : policy_(policy), state_(std::make_shared<State>()) {
    if (policy_.merge_window_s < 0 || policy_.cooldown_s < 0)
        throw Error(fmt::format("alert policy: merge_window_s ({}) and cooldown_s ({}) must not be negative",
                                policy_.merge_window_s, policy_.cooldown_s));
}

int AlertBuilder::suppressed() const {
    std::lock_guard lock(state_->mutex);
    return state_->suppressed;
}

int AlertBuilder::ignored_end_events() const {
    std::lock_guard lock(state_->mutex);
    return state_->ignored_end;
}

size_t AlertBuilder::awaiting_reports() const {
    std::lock_guard lock(state_->mutex);
    return state_->by_id.size();
}

std::optional<AlertDecision> AlertBuilder::on_event(const std::string& camera,
                                                    const contextualize::CameraContext& context,
                                                    const analyze::Event& event,
                                                    const contextualize::ContextReport& report, double wall_time_s,
                                                    const json& models, const ReportInfo& info) {
    std::string key = camera + '\n' + event.zone + '\n' + event.rule;
    // Scene checks merge per hazard: a later "nothing wrong" answer must not
    // update (and re-send) the open flood alert, nor a fire merge into it.
    if (event.type == "scene_change") key += '\n' + scene_hazard_of(report);
    const Say say = say_of(report);

    std::lock_guard lock(state_->mutex);
    auto it = state_->by_key.find(key);
    if (it != state_->by_key.end()) {
        OpenAlert& open = *it->second;
        if (wall_time_s - open.last_wall_s <= policy_.merge_window_s) {
            json& alert = open.alert;
            open.last_wall_s = std::max(open.last_wall_s, wall_time_s);
            alert["end_time"] = format_rfc3339_utc(open.last_wall_s);
            alert["related_events"] = alert.value("related_events", 1) + 1;
            alert["updated_count"] = alert.value("updated_count", 0) + 1;
            // A later report refreshes the text only when its verdict is at
            // least as strong as the alert's.
            const bool refresh = say.verdict >= open.current().verdict;
            if (info.partial) {
                open.provisional[info.event_token] = say;
                state_->by_id[open.id()] = it->second;
            } else {
                open.settled = open.settled ? stronger(*open.settled, say) : say;
            }
            if (refresh) {
                apply_report(alert, report, event, wall_time_s);
                set_timings(alert, report, info, false);
            }
            merge_detections(alert["evidence"]["detections"], detections_json(report.tracks));
            alert["models"] = models_json(models, report);
            return decide(open, true, policy_.send_rejected);
        }
        // The alert closed one merge window after its last event; the key
        // stays quiet for the cooldown after that.
        const double closed_at = open.last_wall_s + policy_.merge_window_s;
        if (wall_time_s < closed_at + policy_.cooldown_s) {
            ++state_->suppressed;
            return std::nullopt;
        }
    }
    if (event.phase == analyze::EventPhase::end) {
        ++state_->ignored_end;
        return std::nullopt;
    }

    const std::string time = format_rfc3339_utc(wall_time_s);
    auto open = std::make_shared<OpenAlert>();
    json& alert = open->alert;
    alert = {{"schema_version", 1},
             {"id", make_alert_id(wall_time_s)},
             {"camera", camera},
             {"location", context.location},
             {"start_time", time},
             {"end_time", time},
             {"type", alert_type_for(event, report.tracks)},
             {"evidence", {{"detections", detections_json(report.tracks)}, {"rule", event.rule}}},
             {"models", models_json(models, report)},
             {"timings", json::object()},
             {"related_events", 1},
             {"updated_count", 0}};
    if (!event.zone.empty()) alert["evidence"]["zone"] = event.zone;
    apply_report(alert, report, event, wall_time_s);
    set_timings(alert, report, info, true);
    open->last_wall_s = wall_time_s;
    if (info.partial) {
        open->provisional[info.event_token] = say;
        state_->by_id[open->id()] = open;
    } else {
        open->settled = say;
    }
    state_->by_key[key] = open;
    return decide(*open, false, policy_.send_rejected);
}

std::optional<AlertDecision> AlertBuilder::on_report(const std::string& alert_id, const analyze::Event& event,
                                                     const contextualize::ContextReport& report, const json& models,
                                                     const ReportInfo& info) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_id.find(alert_id);
    if (it == state_->by_id.end()) return std::nullopt;
    std::shared_ptr<OpenAlert> keep = it->second;
    OpenAlert& open = *keep;
    auto earlier = open.provisional.find(info.event_token);
    if (earlier == open.provisional.end()) return std::nullopt;
    const Say say = say_of(report);
    open.provisional.erase(earlier);
    if (info.partial) {
        open.provisional[info.event_token] = say;
    } else {
        open.settled = open.settled ? stronger(*open.settled, say) : say;
        if (open.provisional.empty()) state_->by_id.erase(it);
    }
    json& alert = open.alert;
    alert["updated_count"] = alert.value("updated_count", 0) + 1;
    if (say.verdict >= open.current().verdict) apply_report(alert, report, event, 0);
    set_timings(alert, report, info, false);
    merge_detections(alert["evidence"]["detections"], detections_json(report.tracks));
    alert["models"] = models_json(models, report);
    return decide(open, true, policy_.send_rejected);
}

void AlertBuilder::set_evidence_images(const std::string& alert_id, const json& images) {
    std::lock_guard lock(state_->mutex);
    for (auto* index : {&state_->by_id, &state_->by_key}) {
        for (auto& [name, open] : *index) {
            if (open->alert.value("id", "") == alert_id) {
                open->alert["evidence"]["images"] = images;
                return;
            }
        }
    }
}

SendMode parse_send_mode(const std::string& text) {
    if (text == "on_verdict") return SendMode::on_verdict;
    if (text == "on_event") return SendMode::on_event;
    throw Error(fmt::format("unknown send mode \"{}\"; expected on_verdict (wait for the VLM's verdict) or on_event "
                            "(send the rules' alert at once, the VLM updates it)",
                            text));
}

const char* to_string(SendMode mode) { return mode == SendMode::on_event ? "on_event" : "on_verdict"; }

std::vector<std::string> validate_alert(const json& alert) { return vlm::validate_json(alert_schema(), alert); }

std::string format_rfc3339_utc(double unix_s) {
    if (!std::isfinite(unix_s)) unix_s = 0;
    const double whole = std::floor(unix_s);
    int millis = int(std::lround((unix_s - whole) * 1000));
    auto seconds = static_cast<std::time_t>(whole);
    if (millis == 1000) {
        ++seconds;
        millis = 0;
    }
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                       utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

std::string alert_type_for(const analyze::Event& event, const std::vector<Track>& tracks) {
    const std::string& type = event.type;
    if (type == "stationary_object") {
        auto on_road = [](std::string name) {
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            return name.find("lane") != std::string::npos || name.find("road") != std::string::npos;
        };
        bool unknown_object = event.metrics.is_object() && event.metrics.value("class_id", 0) < 0;
        for (const Track& track : tracks) unknown_object = unknown_object || track.class_id < 0;
        return unknown_object || on_road(event.rule) || on_road(event.zone) ? "obstruction" : "stationary_object";
    }
    static const std::map<std::string, std::string> direct = {
        {"congestion", "congestion"},    {"gathering", "gathering"},   {"scene_change", "scene_check"},
        {"loitering", "loitering"},      {"dwell", "loitering"},       {"wrong_way", "wrong_way"},
        {"line_cross", "line_crossing"}, {"zone_enter", "zone_intrusion"}};
    auto it = direct.find(type);
    return it == direct.end() ? "other" : it->second;
}

std::string make_alert_id(double wall_time_s) {
    static std::mutex mutex;
    static std::mt19937_64 random(std::random_device{}());
    const auto millis = static_cast<uint64_t>(std::max(0.0, wall_time_s) * 1000) & 0xFFFFFFFFFFFFull;
    std::lock_guard lock(mutex);
    return fmt::format("{:012x}{:08x}", millis, static_cast<uint32_t>(random()));
}

bool set_evidence_path(json& alert, const std::string& role, const std::optional<std::string>& path) {
    if (!alert.contains("evidence") || !alert["evidence"].contains("images")) return false;
    bool found = false;
    for (json& image : alert["evidence"]["images"]) {
        if (image.value("role", "") != role) continue;
        found = true;
        if (path) {
            image["path"] = *path;
            image.erase("missing");
        } else {
            image["path"] = nullptr;
            image["missing"] = true;
        }
    }
    return found;
}

}  // namespace vigil::alert
