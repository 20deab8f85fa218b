#pragma once
// The interface every rule implements, and what the engine hands it per frame.
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analyze/analyze_event.h"
#include "analyze/analyze_zone.h"
#include "core/detection.h"

namespace vigil::analyze {

// One track as the rules see it on one frame: the engine has already picked
// its anchor point and updated its debounced presence in every zone.
struct TrackView {
    const Track* track = nullptr;   // null when the track has just been removed
    int id = 0;
    int class_id = -1;
    std::string_view label;
    cv::Point2f anchor;
    bool observed = false;          // matched on this frame (frames_since_seen == 0)
    const ZonePresence* zones = nullptr;  // one per configured zone, by zone index
    double metres_per_px = 0;       // from ground vs image velocity; 0 = unknown
};

struct FrameContext {
    double time_s = 0;
    std::span<const TrackView> tracks;
};

class Rule {
public:
    explicit Rule(std::string name) : name_(std::move(name)) {}
    virtual ~Rule() = default;
    Rule(const Rule&) = delete;
    Rule& operator=(const Rule&) = delete;

    const std::string& name() const { return name_; }

    virtual void update(const FrameContext& frame, std::vector<Event>& out) = 0;
    // The tracker dropped the track; `last` holds its final state.
    virtual void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) = 0;

protected:
    Event make_event(const char* type, double time_s, double start_s, EventPhase phase = EventPhase::instant) const;

private:
    std::string name_;
};

// Frame times are sums of 1/fps steps; this slack keeps "held for 2 s" from
// missing by one frame to rounding.
inline constexpr double time_slack = 1e-6;

// "person #4", "car #12", "unknown object #7".
std::string describe_track(const TrackView& view);

// Turns a per-frame condition into episodes: it must hold for hold_s before
// an episode starts and fail for clear_s before it ends; a new episode waits
// cooldown_s after the previous one ended. One start per episode is what
// keeps a persistent condition from firing every frame.
struct EpisodeTiming {
    double hold_s = 0;
    double clear_s = 0;
    double cooldown_s = 0;
};

class Episode {
public:
    enum class Change { none, started, ended };

    // `may_start` adds checks that only gate the opening of an episode
    // (e.g. a crowd must be growing to start a gathering, not to continue it).
    Change update(bool holds, double time_s, const EpisodeTiming& timing, bool may_start = true);
    // Ends an active episode at once (the track or zone went away).
    bool force_end(double time_s);

    bool active() const { return active_; }
    double start_s() const { return start_s_; }    // when the condition began holding
    double clear_s() const { return clear_since_; }  // when it stopped holding (ended episodes)

private:
    static constexpr double never = -std::numeric_limits<double>::infinity();
    bool active_ = false;
    double holding_since_ = std::numeric_limits<double>::quiet_NaN();
    double clear_since_ = std::numeric_limits<double>::quiet_NaN();
    double start_s_ = 0;
    double last_end_s_ = never;
};

}  // namespace vigil::analyze
