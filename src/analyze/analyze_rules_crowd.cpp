// Rules about groups of tracks in a zone: congestion (slow vehicles) and
// gathering (people clustering fast).
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_rules.h"

namespace vigil::analyze {

static double round_to(double v, double step) {
    return std::round(v / step) * step;
}

// ---- congestion ------------------------------------------------------------

CongestionRule::CongestionRule(std::string name, CongestionConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

void CongestionRule::update(const FrameContext& frame, std::vector<Event>& out) {
    slow_ids_.clear();
    double speed_sum = 0;
    const char* unit = "px/s";
    // Lost tracks still count: a vehicle hidden behind a truck in a jam is still there.
    for (const TrackView& view : frame.tracks) {
        if (!config_.zone.contains(view) || !config_.classes.accepts(view.class_id, view.label)) continue;
        if (!config_.speed.slow(*view.track)) continue;
        slow_ids_.push_back(view.id);
        speed_sum += config_.speed.speed(*view.track);
        unit = config_.speed.unit(*view.track);
    }
    int count = int(slow_ids_.size());
    Episode::Change change = episode_.update(count >= config_.min_count, frame.time_s, config_.timing);
    if (episode_.active()) peak_count_ = std::max(peak_count_, count);

    if (change == Episode::Change::started) {
        peak_count_ = count;
        double mean_speed = speed_sum / std::max(count, 1);
        double duration = frame.time_s - episode_.start_s();
        Event event = make_event("congestion", frame.time_s, episode_.start_s(), EventPhase::start);
        event.zone = config_.zone.name;
        event.track_ids = slow_ids_;
        std::sort(event.track_ids.begin(), event.track_ids.end());
        event.metrics = {{"count", count},
                         {"mean_speed", round_to(mean_speed, 0.01)},
                         {"speed_unit", unit},
                         {"duration_s", round_to(duration, 0.01)},
                         {"min_count", config_.min_count}};
        event.summary = fmt::format("{} slow vehicles (mean speed {:.1f} {}) in zone \"{}\" for {:.1f} s.", count,
                                    mean_speed, unit, config_.zone.name, duration);
        out.push_back(std::move(event));
    } else if (change == Episode::Change::ended && config_.emit_end) {
        double duration = episode_.clear_s() - episode_.start_s();
        Event event = make_event("congestion", frame.time_s, episode_.start_s(), EventPhase::end);
        event.zone = config_.zone.name;
        event.track_ids = slow_ids_;
        std::sort(event.track_ids.begin(), event.track_ids.end());
        event.metrics = {{"count", count},
                         {"peak_count", peak_count_},
                         {"duration_s", round_to(duration, 0.01)}};
        event.summary = fmt::format("Congestion in zone \"{}\" cleared after {:.1f} s (peak {} vehicles).",
                                    config_.zone.name, duration, peak_count_);
        out.push_back(std::move(event));
    }
}

// ---- gathering -------------------------------------------------------------

GatheringRule::GatheringRule(std::string name, GatheringConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

// Ground distance where the scale near both people is known (radius_m),
// else image distance (radius_px); without either, they are not neighbours.
bool GatheringRule::neighbours(const TrackView& a, const TrackView& b) const {
    double d = distance(a.anchor, b.anchor);
    if (config_.radius_m > 0) {
        double scale = a.metres_per_px > 0 && b.metres_per_px > 0 ? 0.5 * (a.metres_per_px + b.metres_per_px)
                                                                 : std::max(a.metres_per_px, b.metres_per_px);
        if (scale > 0) return d * scale <= config_.radius_m;
    }
    return config_.radius_px > 0 && d <= config_.radius_px;
}

void GatheringRule::update(const FrameContext& frame, std::vector<Event>& out) {
    members_.clear();
    for (const TrackView& view : frame.tracks) {
        if (!config_.zone.contains(view) || !config_.classes.accepts(view.class_id, view.label)) continue;
        const cv::Point2f& v = view.track->velocity_px_s;
        if (std::hypot(v.x, v.y) > config_.max_speed_px_s) continue;  // walking past, not gathering
        members_.push_back(&view);
    }
    // The largest group is the person with the most others within the radius.
    int best = 0;
    const TrackView* centre = nullptr;
    for (const TrackView* a : members_) {
        int n = 0;
        for (const TrackView* b : members_) n += neighbours(*a, *b) ? 1 : 0;
        if (n > best) {
            best = n;
            centre = a;
        }
    }

    const double interval = config_.window_s / double(samples_kept - 2);
    const Sample* newest = sample_count_ == 0 ? nullptr : &samples_[(next_sample_ + samples_kept - 1) % samples_kept];
    if (newest == nullptr || frame.time_s - newest->time_s + time_slack >= interval) {
        samples_[next_sample_] = {frame.time_s, best};
        next_sample_ = (next_sample_ + 1) % samples_kept;
        sample_count_ = std::min(sample_count_ + 1, samples_kept);
    }
    int low = best;
    for (size_t k = 0; k < sample_count_; ++k) {
        const Sample& s = samples_[k];
        if (s.time_s + time_slack >= frame.time_s - config_.window_s) low = std::min(low, s.count);
    }
    double growth_per_s = (best - low) / config_.window_s;

    Episode::Change change = episode_.update(best >= config_.min_count, frame.time_s, config_.timing,
                                             growth_per_s + time_slack >= config_.min_growth_per_s);
    if (episode_.active()) peak_count_ = std::max(peak_count_, best);

    group_ids_.clear();
    if (centre != nullptr) {
        for (const TrackView* b : members_) {
            if (neighbours(*centre, *b)) group_ids_.push_back(b->id);
        }
        std::sort(group_ids_.begin(), group_ids_.end());
    }
    if (change == Episode::Change::started) {
        peak_count_ = best;
        bool metres = config_.radius_m > 0 && centre->metres_per_px > 0;
        Event event = make_event("gathering", frame.time_s, episode_.start_s(), EventPhase::start);
        event.zone = config_.zone.name;
        event.track_ids = group_ids_;
        event.metrics = {{"count", best},
                         {"radius", metres ? config_.radius_m : config_.radius_px},
                         {"radius_unit", metres ? "m" : "px"},
                         {"growth_per_s", round_to(growth_per_s, 0.001)},
                         {"grown_by", best - low},
                         {"window_s", config_.window_s},
                         {"centre", nlohmann::json::array({std::round(centre->anchor.x), std::round(centre->anchor.y)})},
                         {"min_count", config_.min_count}};
        std::string where = config_.zone.name.empty() ? "" : fmt::format(" in zone \"{}\"", config_.zone.name);
        event.summary = fmt::format("{} people gathered within {:g} {}{} (up by {} in the last {:g} s).", best,
                                    metres ? config_.radius_m : config_.radius_px, metres ? "m" : "px", where,
                                    best - low, config_.window_s);
        out.push_back(std::move(event));
    } else if (change == Episode::Change::ended && config_.emit_end) {
        double duration = episode_.clear_s() - episode_.start_s();
        Event event = make_event("gathering", frame.time_s, episode_.start_s(), EventPhase::end);
        event.zone = config_.zone.name;
        event.track_ids = group_ids_;
        event.metrics = {{"count", best}, {"peak_count", peak_count_}, {"duration_s", round_to(duration, 0.01)}};
        event.summary = fmt::format("The gathering of up to {} people dispersed after {:.1f} s.", peak_count_,
                                    duration);
        out.push_back(std::move(event));
    }
}

}  // namespace vigil::analyze
