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
    json context = {{"source", report.source == "vlm" ? "vlm" : "rules"}};
    if (!report.fallback_reason.empty()) context["fallback_reason"] = report.fallback_reason;
    alert["context"] = context;
    alert["evidence"]["images"] = evidence_images_json(report, event, wall_time_s);
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

struct AlertBuilder::State {
    struct Open {
        json alert;
        double last_wall_s = 0;   // the latest event merged in
        int verdict_rank = 0;     // strongest verdict merged in
    };
    std::mutex mutex;
    std::map<std::string, Open> by_key;
    int suppressed = 0;
    int ignored_end = 0;
};

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

std::optional<AlertDecision> AlertBuilder::on_event(const std::string& camera,
                                                    const contextualize::CameraContext& context,
                                                    const analyze::Event& event,
                                                    const contextualize::ContextReport& report, double wall_time_s,
                                                    const json& models) {
    std::string key = camera + '\n' + event.zone + '\n' + event.rule;
    // Scene checks merge per hazard: a later "nothing wrong" answer must not
    // update (and re-send) the open flood alert, nor a fire merge into it.
    if (event.type == "scene_change") key += '\n' + scene_hazard_of(report);
    auto sends = [&](int rank) { return rank > 0 || policy_.send_rejected; };
    auto status_for = [&](int rank) { return sends(rank) ? "sent" : "dismissed"; };

    std::lock_guard lock(state_->mutex);
    auto it = state_->by_key.find(key);
    if (it != state_->by_key.end()) {
        State::Open& open = it->second;
        if (wall_time_s - open.last_wall_s <= policy_.merge_window_s) {
            json& alert = open.alert;
            open.last_wall_s = std::max(open.last_wall_s, wall_time_s);
            alert["end_time"] = format_rfc3339_utc(open.last_wall_s);
            alert["related_events"] = alert.value("related_events", 1) + 1;
            alert["updated_count"] = alert.value("updated_count", 0) + 1;
            const int rank = verdict_rank(report.verdict);
            const bool was_sent = sends(open.verdict_rank);
            if (rank >= open.verdict_rank) {
                const std::string severity = alert["severity"];
                apply_report(alert, report, event, wall_time_s);
                if (severity_rank(severity) > severity_rank(alert["severity"])) alert["severity"] = severity;
                alert["timings"]["vlm_ms"] = report.vlm_ms;
                open.verdict_rank = rank;
            }
            merge_detections(alert["evidence"]["detections"], detections_json(report.tracks));
            alert["models"] = models_json(models, report);
            return AlertDecision{alert, status_for(open.verdict_rank), true, !was_sent && sends(open.verdict_rank)};
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
    json alert = {{"schema_version", 1},
                  {"id", make_alert_id(wall_time_s)},
                  {"camera", camera},
                  {"location", context.location},
                  {"start_time", time},
                  {"end_time", time},
                  {"type", alert_type_for(event, report.tracks)},
                  {"evidence", {{"detections", detections_json(report.tracks)}, {"rule", event.rule}}},
                  {"models", models_json(models, report)},
                  {"timings", {{"vlm_ms", report.vlm_ms}}},
                  {"related_events", 1},
                  {"updated_count", 0}};
    if (!event.zone.empty()) alert["evidence"]["zone"] = event.zone;
    apply_report(alert, report, event, wall_time_s);
    const int rank = verdict_rank(report.verdict);
    state_->by_key[key] = State::Open{alert, wall_time_s, rank};
    return AlertDecision{alert, status_for(rank), false, sends(rank)};
}

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
