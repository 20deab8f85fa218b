#pragma once
// The rule families. Each rule is one configured instance (a name, a type, a
// config struct) with its own per-track or per-zone state. The config key of
// each field is named in the comment beside it.
#include <array>
#include <limits>
#include <memory>
#include <unordered_map>

#include "analyze/analyze_config.h"
#include "analyze/analyze_rule.h"

namespace vigil::analyze {

// What a rule may refer to by name.
struct Layout {
    const std::vector<Zone>& zones;
    const std::vector<Line>& lines;
};

// A rule's zone; index -1 = the whole frame (for rules where "zone" is optional).
struct ZoneRef {
    int index = -1;
    std::string name;
    bool contains(const TrackView& view) const { return index < 0 || view.zones[index].inside; }
};

// Builds a rule from {"name", "type", ...}; errors name the rule and key.
std::unique_ptr<Rule> make_rule(const nlohmann::json& config, const Layout& layout, const std::string& where);

// type "zone_presence": zone_enter / zone_exit events.
struct ZonePresenceConfig {
    ZoneRef zone;             // "zone", required
    ClassFilter classes;      // "classes", default all
    bool enter = true;        // "enter": emit zone_enter
    bool exit = true;         // "exit": emit zone_exit (also when a track inside is removed)
};

class ZonePresenceRule final : public Rule {
public:
    ZonePresenceRule(std::string name, ZonePresenceConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    Event exit_event(const TrackView& view, double time_s, const char* reason) const;
    ZonePresenceConfig config_;
};

// type "dwell": a track has been in the zone longer than min_s (once per visit).
struct DwellConfig {
    ZoneRef zone;             // "zone", required
    ClassFilter classes;      // "classes"
    double min_s = 0;         // "min_s", required
    bool emit_end = false;    // "emit_end": a phase=end event when the long visit ends
};

class DwellRule final : public Rule {
public:
    DwellRule(std::string name, DwellConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    void end_visit(const TrackView& view, double time_s, std::vector<Event>& out);
    DwellConfig config_;
    std::unordered_map<int, double> fired_visit_;  // track id -> enter_s of the visit that fired
};

// type "loitering": a person stays in the zone longer than min_s while moving
// less than max_displacement_px over the trailing window_s (hanging around
// rather than passing through slowly).
struct LoiteringConfig {
    ZoneRef zone;                    // "zone", required
    ClassFilter classes;             // "classes", default ["person"]
    double min_s = 0;                // "min_s", required
    double window_s = 0;             // "window_s", default min_s
    double max_displacement_px = 0;  // "max_displacement_px", required
};

class LoiteringRule final : public Rule {
public:
    LoiteringRule(std::string name, LoiteringConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    static constexpr size_t samples_kept = 32;
    struct Sample {
        double time_s;
        cv::Point2f anchor;
    };
    // Anchors sampled every window_s / (samples_kept - 2), in a fixed ring, so
    // the state of a track never allocates after its first frame.
    struct State {
        std::array<Sample, samples_kept> samples;
        size_t next = 0, count = 0;
        double fired_visit = std::numeric_limits<double>::quiet_NaN();
        double visit = std::numeric_limits<double>::quiet_NaN();
    };
    LoiteringConfig config_;
    std::unordered_map<int, State> states_;
};

// type "stationary_object": a track (or an unknown blob, class -1) has been
// stationary (Track::stationary_s) longer than min_s inside the zone.
struct StationaryObjectConfig {
    ZoneRef zone;             // "zone", optional (whole frame)
    ClassFilter classes;      // "classes"
    double min_s = 0;         // "min_s", required
    EpisodeTiming timing;     // "clear_s" (default 1), "cooldown_s"
    bool emit_end = false;    // "emit_end"
};

class StationaryObjectRule final : public Rule {
public:
    StationaryObjectRule(std::string name, StationaryObjectConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    StationaryObjectConfig config_;
    std::unordered_map<int, Episode> episodes_;
};

// type "line_crossing": a track's anchor passes through the segment a->b and
// stays on the far side for the line's inertia_frames. Flicker back and forth
// never completes the inertia, so it never counts twice.
enum class CrossingDirection { any, left_to_right, right_to_left };

struct LineCrossingConfig {
    int line = -1;                                   // "line", required (a line name)
    Line geometry;
    CrossingDirection direction = CrossingDirection::any;  // "direction": any | left_to_right | right_to_left
    ClassFilter classes;                             // "classes"
    double cooldown_s = 0;                           // "cooldown_s": per track
};

class LineCrossingRule final : public Rule {
public:
    LineCrossingRule(std::string name, LineCrossingConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    struct State {
        bool seen = false;
        int side = 0;              // committed side: -1 left, +1 right, 0 not yet known
        int candidate_side = 0;
        int candidate_frames = 0;
        bool candidate_through = false;  // the move onto the new side went through the segment
        double candidate_start_s = 0;
        cv::Point2f last_anchor;
        double last_cross_s = -std::numeric_limits<double>::infinity();
    };
    LineCrossingConfig config_;
    std::unordered_map<int, State> states_;
};

// Speed limits in image or ground units: a track is "slow" when its ground
// speed is known and <= max_m_s, or else its image speed <= max_px_s.
struct SpeedLimit {
    double max_px_s = std::numeric_limits<double>::infinity();
    double max_m_s = std::numeric_limits<double>::quiet_NaN();
    bool slow(const Track& track) const;
    double speed(const Track& track) const;  // in the unit slow() used
    const char* unit(const Track& track) const;
};

// type "congestion": at least min_count vehicles of the given classes in the
// zone, each slower than the limit, for at least min_s.
struct CongestionConfig {
    ZoneRef zone;             // "zone", required
    ClassFilter classes;      // "classes", default car, motorbike/motorcycle, bus, truck
    int min_count = 0;        // "min_count", required
    SpeedLimit speed;         // "max_speed_px_s" and/or "max_speed_m_s", one required
    EpisodeTiming timing;     // "min_s" (hold, required), "clear_s" (default 2), "cooldown_s"
    bool emit_end = true;     // "emit_end"
};

class CongestionRule final : public Rule {
public:
    CongestionRule(std::string name, CongestionConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView&, double, std::vector<Event>&) override {}

private:
    CongestionConfig config_;
    Episode episode_;
    std::vector<int> slow_ids_;   // scratch, reused every frame
    int peak_count_ = 0;
};

// type "gathering": at least min_count people within radius of one another's
// centre person, the group having grown by at least min_growth_per_s over the
// trailing window_s. People passing by (faster than max_speed_px_s) do not
// count, and a slowly forming queue does not grow fast enough to fire.
struct GatheringConfig {
    ZoneRef zone;                    // "zone", optional (whole frame)
    ClassFilter classes;             // "classes", default ["person"]
    int min_count = 0;               // "min_count", required
    double radius_px = 0;            // "radius_px"; and/or
    double radius_m = 0;             // "radius_m", used where ground scale is known
    double window_s = 10;            // "window_s"
    double min_growth_per_s = 0;     // "min_growth_per_s": people per second
    double max_speed_px_s = std::numeric_limits<double>::infinity();  // "max_speed_px_s"
    EpisodeTiming timing;            // "min_s" (hold, default 1), "clear_s" (default 2), "cooldown_s"
    bool emit_end = true;            // "emit_end"
};

class GatheringRule final : public Rule {
public:
    GatheringRule(std::string name, GatheringConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView&, double, std::vector<Event>&) override {}

private:
    bool neighbours(const TrackView& a, const TrackView& b) const;

    static constexpr size_t samples_kept = 64;
    struct Sample {
        double time_s;
        int count;
    };
    GatheringConfig config_;
    Episode episode_;
    std::array<Sample, samples_kept> samples_{};
    size_t next_sample_ = 0, sample_count_ = 0;
    std::vector<const TrackView*> members_;   // scratch
    std::vector<int> group_ids_;              // scratch
    int peak_count_ = 0;
};

// type "wrong_way": inside the zone, a track moves against the allowed
// direction (angle above min_angle_deg) faster than min_speed_px_s for min_s.
struct WrongWayConfig {
    ZoneRef zone;                  // "zone", required
    ClassFilter classes;           // "classes"
    cv::Point2f direction;         // "direction": [dx, dy] allowed travel, image axes (y down)
    double min_angle_deg = 120;    // "min_angle_deg"
    double min_speed_px_s = 10;    // "min_speed_px_s"
    EpisodeTiming timing;          // "min_s" (hold, default 1), "clear_s" (default 1), "cooldown_s"
    bool emit_end = false;         // "emit_end"
};

class WrongWayRule final : public Rule {
public:
    WrongWayRule(std::string name, WrongWayConfig config);
    void update(const FrameContext& frame, std::vector<Event>& out) override;
    void on_track_removed(const TrackView& last, double time_s, std::vector<Event>& out) override;

private:
    struct State {
        Episode episode;
        double max_angle_deg = 0;
    };
    WrongWayConfig config_;
    std::unordered_map<int, State> states_;
};

}  // namespace vigil::analyze
