// line_crossing: directed counting at a segment.
#include <cmath>
#include <fmt/format.h>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_rules.h"

namespace vigil::analyze {

LineCrossingRule::LineCrossingRule(std::string name, LineCrossingConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

void LineCrossingRule::update(const FrameContext& frame, std::vector<Event>& out) {
    const Line& line = config_.geometry;
    for (const TrackView& view : frame.tracks) {
        // A lost track's box is a prediction; only matched positions may count.
        if (!view.observed || !config_.classes.accepts(view.class_id, view.label)) continue;
        double signed_side = side_of_line(line.a, line.b, view.anchor);
        int side = (signed_side > 0) - (signed_side < 0);
        State& state = states_[view.id];
        cv::Point2f previous = state.last_anchor;
        state.last_anchor = view.anchor;
        if (!state.seen || state.side == 0) {
            state.seen = true;
            state.side = side;
            continue;
        }
        if (side == 0 || side == state.side) {
            state.candidate_frames = 0;
            continue;
        }
        if (state.candidate_frames == 0) {
            state.candidate_side = side;
            state.candidate_start_s = frame.time_s;
            // Passing round the end of the segment changes side without crossing it.
            state.candidate_through = segments_intersect(previous, view.anchor, line.a, line.b);
        }
        if (++state.candidate_frames < line.inertia_frames) continue;
        int from = state.side;
        state.side = side;
        state.candidate_frames = 0;
        if (!state.candidate_through) continue;

        bool left_to_right = from < 0;
        if ((config_.direction == CrossingDirection::left_to_right && !left_to_right) ||
            (config_.direction == CrossingDirection::right_to_left && left_to_right)) {
            continue;
        }
        if (frame.time_s - state.last_cross_s + time_slack < config_.cooldown_s) continue;
        state.last_cross_s = frame.time_s;

        Event event = make_event("line_cross", frame.time_s, state.candidate_start_s);
        event.zone = line.name;
        event.track_ids = {view.id};
        event.direction = left_to_right ? "left_to_right" : "right_to_left";
        const cv::Point2f& v = view.track->velocity_px_s;
        event.metrics = {{"speed_px_s", std::round(std::hypot(v.x, v.y) * 10) / 10},
                         {"class_id", view.class_id},
                         {"label", view.label}};
        if (view.track->has_ground_velocity) {
            const cv::Point2f& g = view.track->velocity_m_s;
            event.metrics["speed_m_s"] = std::round(std::hypot(g.x, g.y) * 100) / 100;
        }
        event.summary = fmt::format("{} crossed line \"{}\" {}.", describe_track(view), line.name,
                                    left_to_right ? "left to right" : "right to left");
        out.push_back(std::move(event));
    }
}

void LineCrossingRule::on_track_removed(const TrackView& last, double, std::vector<Event>&) {
    states_.erase(last.id);
}

}  // namespace vigil::analyze
