// wrong_way: travel against a zone's allowed direction.
#include <cmath>
#include <fmt/format.h>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_rules.h"

namespace vigil::analyze {

WrongWayRule::WrongWayRule(std::string name, WrongWayConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

void WrongWayRule::update(const FrameContext& frame, std::vector<Event>& out) {
    for (const TrackView& view : frame.tracks) {
        // A lost track's velocity is the tracker's guess; wait for a real match.
        if (!view.observed) continue;
        const cv::Point2f& v = view.track->velocity_px_s;
        double speed = std::hypot(v.x, v.y);
        double angle = angle_between_deg(v, config_.direction);
        bool holds = config_.zone.contains(view) && speed >= config_.min_speed_px_s &&
                     angle >= config_.min_angle_deg && config_.classes.accepts(view.class_id, view.label);
        auto it = states_.find(view.id);
        if (it == states_.end()) {
            if (!holds) continue;
            it = states_.emplace(view.id, State{}).first;
        }
        State& state = it->second;
        Episode::Change change = state.episode.update(holds, frame.time_s, config_.timing);
        if (holds) state.max_angle_deg = std::max(state.max_angle_deg, angle);
        if (change == Episode::Change::started) {
            double duration = frame.time_s - state.episode.start_s();
            Event event = make_event("wrong_way", frame.time_s, state.episode.start_s(), EventPhase::start);
            event.zone = config_.zone.name;
            event.track_ids = {view.id};
            event.metrics = {{"angle_deg", std::round(angle)},
                             {"speed_px_s", std::round(speed * 10) / 10},
                             {"duration_s", std::round(duration * 100) / 100},
                             {"allowed_direction", nlohmann::json::array({config_.direction.x, config_.direction.y})},
                             {"min_angle_deg", config_.min_angle_deg},
                             {"class_id", view.class_id},
                             {"label", view.label}};
            event.summary = fmt::format("{} is moving against the allowed direction in zone \"{}\" ({:.0f} degrees "
                                        "off, {:.0f} px/s, for {:.1f} s).",
                                        describe_track(view), config_.zone.name, angle, speed, duration);
            out.push_back(std::move(event));
        } else if (change == Episode::Change::ended) {
            if (config_.emit_end) {
                Event event = make_event("wrong_way", frame.time_s, state.episode.start_s(), EventPhase::end);
                event.zone = config_.zone.name;
                event.track_ids = {view.id};
                event.metrics = {{"max_angle_deg", std::round(state.max_angle_deg)}};
                event.summary = fmt::format("{} no longer moves against the allowed direction.", describe_track(view));
                out.push_back(std::move(event));
            }
            state.max_angle_deg = 0;
        }
    }
}

void WrongWayRule::on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) {
    auto it = states_.find(last.id);
    if (it == states_.end()) return;
    if (it->second.episode.active() && config_.emit_end) {
        Event event = make_event("wrong_way", time_s, it->second.episode.start_s(), EventPhase::end);
        event.zone = config_.zone.name;
        event.track_ids = {last.id};
        event.metrics = {{"max_angle_deg", std::round(it->second.max_angle_deg)}, {"reason", "track_removed"}};
        event.summary = fmt::format("{} is gone.", describe_track(last));
        out.push_back(std::move(event));
    }
    states_.erase(it);
}

}  // namespace vigil::analyze
