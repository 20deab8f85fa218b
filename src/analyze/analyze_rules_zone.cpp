// Rules about one track in one zone: presence, dwell, loitering, stationary objects.
#include <cmath>
#include <fmt/format.h>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_rules.h"

namespace vigil::analyze {

static nlohmann::json point_json(cv::Point2f p) {
    return nlohmann::json::array({std::round(p.x * 10) / 10, std::round(p.y * 10) / 10});
}

static double round_to(double v, double step) {
    return std::round(v / step) * step;
}

// ---- zone_presence ---------------------------------------------------------

ZonePresenceRule::ZonePresenceRule(std::string name, ZonePresenceConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

Event ZonePresenceRule::exit_event(const TrackView& view, double time_s, const char* reason) const {
    const ZonePresence& presence = view.zones[config_.zone.index];
    Event event = make_event("zone_exit", time_s, presence.enter_s);
    event.zone = config_.zone.name;
    event.track_ids = {view.id};
    event.metrics = {{"dwell_s", round_to(presence.dwell_s(), 0.01)},
                     {"reason", reason},
                     {"class_id", view.class_id},
                     {"label", view.label}};
    event.summary = fmt::format("{} {} zone \"{}\" after {:.1f} s inside.", describe_track(view),
                                std::string_view(reason) == "left" ? "left" : "was lost in", config_.zone.name,
                                presence.dwell_s());
    return event;
}

void ZonePresenceRule::update(const FrameContext& frame, std::vector<Event>& out) {
    for (const TrackView& view : frame.tracks) {
        const ZonePresence& presence = view.zones[config_.zone.index];
        if (!(presence.entered || presence.exited) || !config_.classes.accepts(view.class_id, view.label)) continue;
        if (presence.entered && config_.enter) {
            Event event = make_event("zone_enter", frame.time_s, presence.enter_s);
            event.zone = config_.zone.name;
            event.track_ids = {view.id};
            event.metrics = {{"anchor", point_json(presence.enter_anchor)},
                             {"class_id", view.class_id},
                             {"label", view.label}};
            event.summary = fmt::format("{} entered zone \"{}\".", describe_track(view), config_.zone.name);
            out.push_back(std::move(event));
        }
        if (presence.exited && config_.exit) out.push_back(exit_event(view, frame.time_s, "left"));
    }
}

void ZonePresenceRule::on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) {
    if (config_.exit && last.zones[config_.zone.index].inside && config_.classes.accepts(last.class_id, last.label)) {
        out.push_back(exit_event(last, time_s, "track_removed"));
    }
}

// ---- dwell -----------------------------------------------------------------

DwellRule::DwellRule(std::string name, DwellConfig config) : Rule(std::move(name)), config_(std::move(config)) {}

void DwellRule::end_visit(const TrackView& view, double time_s, std::vector<Event>& out) {
    auto it = fired_visit_.find(view.id);
    if (it == fired_visit_.end()) return;
    const ZonePresence& presence = view.zones[config_.zone.index];
    if (config_.emit_end && it->second == presence.enter_s) {
        Event event = make_event("dwell", time_s, presence.enter_s, EventPhase::end);
        event.zone = config_.zone.name;
        event.track_ids = {view.id};
        event.metrics = {{"dwell_s", round_to(presence.dwell_s(), 0.01)}, {"min_s", config_.min_s}};
        event.summary = fmt::format("{} left zone \"{}\" after {:.1f} s.", describe_track(view), config_.zone.name,
                                    presence.dwell_s());
        out.push_back(std::move(event));
    }
    fired_visit_.erase(it);
}

void DwellRule::update(const FrameContext& frame, std::vector<Event>& out) {
    for (const TrackView& view : frame.tracks) {
        const ZonePresence& presence = view.zones[config_.zone.index];
        if (presence.exited) {
            end_visit(view, frame.time_s, out);
            continue;
        }
        if (!presence.inside || presence.dwell_s() + time_slack < config_.min_s) continue;
        if (!config_.classes.accepts(view.class_id, view.label)) continue;
        auto [it, fresh] = fired_visit_.try_emplace(view.id, presence.enter_s);
        if (!fresh) {
            if (it->second == presence.enter_s) continue;
            it->second = presence.enter_s;
        }
        Event event = make_event("dwell", frame.time_s, presence.enter_s, EventPhase::start);
        event.zone = config_.zone.name;
        event.track_ids = {view.id};
        event.metrics = {{"dwell_s", round_to(presence.dwell_s(), 0.01)},
                         {"min_s", config_.min_s},
                         {"class_id", view.class_id},
                         {"label", view.label}};
        event.summary = fmt::format("{} has been in zone \"{}\" for {:.1f} s (limit {:g} s).", describe_track(view),
                                    config_.zone.name, presence.dwell_s(), config_.min_s);
        out.push_back(std::move(event));
    }
}

void DwellRule::on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) {
    end_visit(last, time_s, out);
}

// ---- loitering -------------------------------------------------------------

LoiteringRule::LoiteringRule(std::string name, LoiteringConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

void LoiteringRule::update(const FrameContext& frame, std::vector<Event>& out) {
    const double interval = config_.window_s / double(samples_kept - 2);
    for (const TrackView& view : frame.tracks) {
        const ZonePresence& presence = view.zones[config_.zone.index];
        if (!view.observed || !presence.inside || presence.streak != 0) continue;
        if (!config_.classes.accepts(view.class_id, view.label)) continue;
        State& state = states_[view.id];
        if (!(state.visit == presence.enter_s)) {
            state.visit = presence.enter_s;
            state.count = 0;
        }
        const Sample* newest = state.count == 0 ? nullptr : &state.samples[(state.next + samples_kept - 1) % samples_kept];
        if (newest == nullptr || frame.time_s - newest->time_s + time_slack >= interval) {
            state.samples[state.next] = {frame.time_s, view.anchor};
            state.next = (state.next + 1) % samples_kept;
            state.count = std::min(state.count + 1, samples_kept);
        }
        if (state.fired_visit == state.visit || presence.dwell_s() + time_slack < config_.min_s) continue;

        // The oldest sample still inside the trailing window is where the person was window_s ago.
        const Sample* reference = nullptr;
        for (size_t k = 0; k < state.count; ++k) {
            const Sample& s = state.samples[(state.next + samples_kept - state.count + k) % samples_kept];
            if (s.time_s + time_slack >= frame.time_s - config_.window_s) {
                reference = &s;
                break;
            }
        }
        if (reference == nullptr) continue;
        double displacement = distance(reference->anchor, view.anchor);
        if (displacement > config_.max_displacement_px) continue;
        state.fired_visit = state.visit;
        Event event = make_event("loitering", frame.time_s, presence.enter_s, EventPhase::start);
        event.zone = config_.zone.name;
        event.track_ids = {view.id};
        event.metrics = {{"dwell_s", round_to(presence.dwell_s(), 0.01)},
                         {"net_displacement_px", round_to(displacement, 0.1)},
                         {"window_s", config_.window_s},
                         {"max_displacement_px", config_.max_displacement_px},
                         {"min_s", config_.min_s}};
        event.summary = fmt::format(
            "{} has stayed in zone \"{}\" for {:.1f} s, moving only {:.0f} px over the last {:g} s.",
            describe_track(view), config_.zone.name, presence.dwell_s(), displacement, config_.window_s);
        out.push_back(std::move(event));
    }
}

void LoiteringRule::on_track_removed(const TrackView& last, double, std::vector<Event>&) {
    states_.erase(last.id);
}

// ---- stationary_object -----------------------------------------------------

StationaryObjectRule::StationaryObjectRule(std::string name, StationaryObjectConfig config)
    : Rule(std::move(name)), config_(std::move(config)) {}

void StationaryObjectRule::update(const FrameContext& frame, std::vector<Event>& out) {
    for (const TrackView& view : frame.tracks) {
        bool holds = config_.zone.contains(view) && view.track->stationary_s + time_slack >= config_.min_s &&
                     config_.classes.accepts(view.class_id, view.label);
        auto it = episodes_.find(view.id);
        if (it == episodes_.end()) {
            if (!holds) continue;
            it = episodes_.emplace(view.id, Episode{}).first;
        }
        Episode& episode = it->second;
        Episode::Change change = episode.update(holds, frame.time_s, config_.timing);
        if (change == Episode::Change::started) {
            double still_since = frame.time_s - view.track->stationary_s;
            Event event = make_event("stationary_object", frame.time_s, still_since, EventPhase::start);
            event.zone = config_.zone.name;
            event.track_ids = {view.id};
            event.metrics = {{"stationary_s", round_to(view.track->stationary_s, 0.01)},
                             {"min_s", config_.min_s},
                             {"class_id", view.class_id},
                             {"label", view.label},
                             {"anchor", point_json(view.anchor)}};
            std::string where = config_.zone.name.empty() ? "" : fmt::format(" in zone \"{}\"", config_.zone.name);
            event.summary = fmt::format("{} has not moved for {:.1f} s{}.", describe_track(view),
                                        view.track->stationary_s, where);
            out.push_back(std::move(event));
        } else if (change == Episode::Change::ended) {
            if (config_.emit_end) {
                Event event = make_event("stationary_object", frame.time_s, episode.start_s(), EventPhase::end);
                event.zone = config_.zone.name;
                event.track_ids = {view.id};
                event.metrics = {{"reason", "moved_or_left"}};
                event.summary = fmt::format("{} is no longer standing still.", describe_track(view));
                out.push_back(std::move(event));
            }
        }
    }
}

void StationaryObjectRule::on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) {
    auto it = episodes_.find(last.id);
    if (it == episodes_.end()) return;
    if (it->second.active() && config_.emit_end) {
        Event event = make_event("stationary_object", time_s, it->second.start_s(), EventPhase::end);
        event.zone = config_.zone.name;
        event.track_ids = {last.id};
        event.metrics = {{"reason", "track_removed"}};
        event.summary = fmt::format("{} is gone.", describe_track(last));
        out.push_back(std::move(event));
    }
    episodes_.erase(it);
}

}  // namespace vigil::analyze
