#include "analyze/analyze_engine.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "analyze/analyze_config.h"
#include "core/error.h"

namespace vigil::analyze {

AnalyticsEngine::AnalyticsEngine(const nlohmann::json& config, cv::Size frame_size) : frame_size_(frame_size) {
    if (frame_size.width <= 0 || frame_size.height <= 0) {
        throw Error(fmt::format("analytics: frame size {}x{} is not valid", frame_size.width, frame_size.height));
    }
    ConfigReader reader(config, "analytics config");
    std::string units_name = reader.string_or("units", "pixels");
    Units units = Units::pixels;
    if (units_name == "normalized" || units_name == "normalised") {
        units = Units::normalized;
    } else if (units_name != "pixels") {
        reader.fail("units", fmt::format("\"{}\" is not \"pixels\" or \"normalized\"", units_name));
    }
    anchor_ = anchor_from_string(reader.string_or("anchor", "bottom_centre"), "analytics config: key \"anchor\"");
    confirmed_only_ = reader.boolean_or("confirmed_only", true);

    auto read_list = [&](const char* key) -> const nlohmann::json& {
        static const nlohmann::json empty = nlohmann::json::array();
        const nlohmann::json* list = reader.optional(key);
        if (list == nullptr) return empty;
        if (!list->is_array()) reader.fail(key, "expected a list, got " + list->dump());
        return *list;
    };
    const nlohmann::json& zones = read_list("zones");
    for (size_t i = 0; i < zones.size(); ++i) {
        zones_.push_back(parse_zone(zones[i], units, frame_size, fmt::format("analytics config: zones[{}]", i)));
        for (size_t k = 0; k < i; ++k) {
            if (zones_[k].name == zones_[i].name) {
                throw Error(fmt::format("analytics config: zones[{}]: zone name \"{}\" is used twice", i,
                                        zones_[i].name));
            }
        }
    }
    const nlohmann::json& lines = read_list("lines");
    for (size_t i = 0; i < lines.size(); ++i) {
        lines_.push_back(parse_line(lines[i], units, frame_size, fmt::format("analytics config: lines[{}]", i)));
        for (size_t k = 0; k < i; ++k) {
            if (lines_[k].name == lines_[i].name) {
                throw Error(fmt::format("analytics config: lines[{}]: line name \"{}\" is used twice", i,
                                        lines_[i].name));
            }
        }
    }
    const nlohmann::json& rules = read_list("rules");
    Layout layout{zones_, lines_};
    for (size_t i = 0; i < rules.size(); ++i) {
        rules_.push_back(make_rule(rules[i], layout, fmt::format("analytics config: rules[{}]", i)));
        for (size_t k = 0; k < i; ++k) {
            if (rules_[k]->name() == rules_[i]->name()) {
                throw Error(fmt::format("analytics config: rules[{}]: rule name \"{}\" is used twice", i,
                                        rules_[i]->name()));
            }
        }
    }
    if (const nlohmann::json* scene = reader.optional("scene_change")) {
        scene_change_.emplace(parse_scene_change_config(*scene, "analytics config: scene_change"));
    }
    reader.finish();
}

std::vector<Event> AnalyticsEngine::update(const std::vector<Track>& tracks, double time_s) {
    std::vector<Event> out;
    update(tracks, time_s, out);
    return out;
}

void AnalyticsEngine::update(const std::vector<Track>& tracks, double time_s, std::vector<Event>& out) {
    ++generation_;
    views_.clear();
    for (const Track& track : tracks) {
        if (confirmed_only_ && !track.confirmed) continue;
        auto [it, fresh] = memory_.try_emplace(track.id);
        TrackMemory& memory = it->second;
        if (fresh) memory.zones.resize(zones_.size());
        if (memory.generation == generation_) continue;  // the same id twice in one frame: keep the first
        memory.generation = generation_;
        memory.class_id = track.class_id;
        memory.label = track.label;

        cv::Point2f anchor = anchor_point(track.box, anchor_);
        bool observed = track.frames_since_seen == 0;
        for (size_t z = 0; z < zones_.size(); ++z) {
            if (observed) {
                memory.zones[z].observe(zones_[z].contains(anchor), anchor, time_s, zones_[z].inertia_frames);
            } else {
                memory.zones[z].hold();
            }
        }
        if (observed) memory.anchor = anchor;
        // The ground scale near a person comes from how far they move in metres
        // versus pixels; slow movers give too noisy a ratio.
        double px_speed = std::hypot(track.velocity_px_s.x, track.velocity_px_s.y);
        if (observed && track.has_ground_velocity && px_speed > 5.0) {
            double ratio = std::hypot(track.velocity_m_s.x, track.velocity_m_s.y) / px_speed;
            memory.metres_per_px = memory.metres_per_px > 0 ? 0.8 * memory.metres_per_px + 0.2 * ratio : ratio;
        }
        TrackView view;
        view.track = &track;
        view.id = track.id;
        view.class_id = track.class_id;
        view.label = memory.label;
        view.anchor = anchor;
        view.observed = observed;
        view.zones = memory.zones.data();
        view.metres_per_px = memory.metres_per_px;
        views_.push_back(view);
    }

    FrameContext frame{time_s, views_};
    for (auto& rule : rules_) rule->update(frame, out);

    removed_.clear();
    for (const auto& [id, memory] : memory_) {
        if (memory.generation != generation_) removed_.push_back(id);
    }
    if (removed_.empty()) return;
    std::sort(removed_.begin(), removed_.end());
    for (int id : removed_) {
        auto it = memory_.find(id);
        TrackMemory& memory = it->second;
        for (ZonePresence& presence : memory.zones) presence.hold();
        TrackView last;
        last.id = id;
        last.class_id = memory.class_id;
        last.label = memory.label;
        last.anchor = memory.anchor;
        last.zones = memory.zones.data();
        last.metres_per_px = memory.metres_per_px;
        for (auto& rule : rules_) rule->on_track_removed(last, time_s, out);
        memory_.erase(it);
    }
}

std::vector<Event> AnalyticsEngine::update_frame(const cv::Mat& frame, double time_s) {
    std::vector<Event> out;
    if (!scene_change_) return out;
    if (auto event = scene_change_->update(frame, time_s)) out.push_back(std::move(*event));
    return out;
}

}  // namespace vigil::analyze
