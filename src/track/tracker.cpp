#include "track/tracker.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "track/track_common.h"

namespace vigil::track {
namespace {

void require(bool ok, const std::string& field, const std::string& expected) {
    if (!ok) throw vigil::Error("track: config." + field + " is out of range; expected " + expected);
}

// Published defaults: ByteTrack's MOT17 settings (Zhang et al. 2022) and the
// SORT paper's (Bewley et al. 2016).
struct AlgorithmDefaults {
    float high_threshold;
    float new_track_margin;  // new_track_threshold = high_threshold + this
    int min_hits;
    int max_lost_frames;
};
constexpr AlgorithmDefaults kByteTrackDefaults{0.6f, 0.1f, 2, 30};
// SORT's min_hits = 3 counts matches after the birth detection; ours counts the birth too.
constexpr AlgorithmDefaults kSortDefaults{0.5f, 0.f, 4, 1};

void validate(const TrackerConfig& c) {
    auto unit = [](float v) { return std::isfinite(v) && v >= 0 && v <= 1; };
    require(unit(c.high_threshold), "high_threshold", "a score in [0, 1]");
    require(unit(c.low_threshold) && c.low_threshold <= c.high_threshold, "low_threshold",
            "a score in [0, high_threshold]");
    require(unit(c.new_track_threshold), "new_track_threshold", "a score in [0, 1]");
    require(unit(c.match_iou_threshold), "match_iou_threshold", "a value in [0, 1]");
    require(unit(c.low_match_iou_threshold), "low_match_iou_threshold", "a value in [0, 1]");
    require(unit(c.unconfirmed_match_iou_threshold), "unconfirmed_match_iou_threshold", "a value in [0, 1]");
    require(unit(c.duplicate_iou_threshold), "duplicate_iou_threshold", "a value in [0, 1]");
    require(unit(c.sort_iou_threshold), "sort_iou_threshold", "a value in [0, 1]");
    require(c.max_lost_frames >= 0, "max_lost_frames", "a frame count >= 0");
    require(std::isfinite(c.frame_rate) && c.frame_rate > 0, "frame_rate", "frames per second > 0");
    require(c.min_hits >= 1, "min_hits", "a count >= 1");
    require(c.history_length >= 2, "history_length", "at least 2 points");
    require(std::isfinite(c.velocity_window_s) && c.velocity_window_s > 0, "velocity_window_s", "seconds > 0");
    require(std::isfinite(c.stationary_radius_fraction) && c.stationary_radius_fraction >= 0,
            "stationary_radius_fraction", "a fraction of the box height >= 0");
    require(std::isfinite(c.stationary_radius_m) && c.stationary_radius_m >= 0, "stationary_radius_m", "metres >= 0");
}

}  // namespace

TrackerConfig TrackerConfig::resolve_defaults() const {
    TrackerConfig c = *this;
    const AlgorithmDefaults* defaults = algorithm == "bytetrack" ? &kByteTrackDefaults
                                        : algorithm == "sort"    ? &kSortDefaults
                                                                 : nullptr;
    if (!defaults) return c;
    if (c.high_threshold == kAlgorithmDefault) c.high_threshold = defaults->high_threshold;
    if (c.new_track_threshold == kAlgorithmDefault)
        c.new_track_threshold = std::min(1.f, c.high_threshold + defaults->new_track_margin);
    if (c.min_hits == kAlgorithmDefault) c.min_hits = defaults->min_hits;
    if (c.max_lost_frames == kAlgorithmDefault) c.max_lost_frames = defaults->max_lost_frames;
    return c;
}

int TrackerConfig::max_lost_frames_scaled() const {
    if (algorithm == "sort") return max_lost_frames;
    return int(frame_rate / 30.0 * max_lost_frames);
}

std::unique_ptr<Tracker> make_tracker(const TrackerConfig& config) {
    if (config.algorithm != "bytetrack" && config.algorithm != "sort")
        throw vigil::Error("track: unknown tracker algorithm '" + config.algorithm +
                           "'; expected one of: bytetrack, sort");
    const TrackerConfig resolved = config.resolve_defaults();
    validate(resolved);
    return resolved.algorithm == "bytetrack" ? make_bytetrack_tracker(resolved) : make_sort_tracker(resolved);
}

void StreamClock::advance(double time_s, const std::string& tracker_name) {
    if (!std::isfinite(time_s))
        throw vigil::Error("track: " + tracker_name + " got a non-finite frame time; expected seconds");
    if (last_time_s_ && time_s < *last_time_s_)
        throw vigil::Error("track: " + tracker_name + " got frame time " + std::to_string(time_s) + " s after " +
                           std::to_string(*last_time_s_) +
                           " s; time must not go backwards (reset() the tracker when a stream restarts)");
    last_time_s_ = time_s;
    ++frame_index_;
}

bool is_usable_detection(const vigil::Detection& d) {
    return std::isfinite(d.box.x) && std::isfinite(d.box.y) && std::isfinite(d.box.width) &&
           std::isfinite(d.box.height) && d.box.width > 0 && d.box.height > 0 && std::isfinite(d.score);
}

bool classes_compatible(int track_class, int detection_class, bool class_aware) {
    return !class_aware || track_class < 0 || detection_class < 0 || track_class == detection_class;
}

MotionContext::MotionContext(const TrackerConfig& config) {
    if (config.ground_plane) ground = std::make_unique<GroundPlane>(*config.ground_plane);
    settings.history_length = config.history_length;
    settings.velocity_window_s = config.velocity_window_s;
    settings.stationary_radius_fraction = config.stationary_radius_fraction;
    settings.stationary_radius_m = config.stationary_radius_m;
    settings.ground = ground.get();
}

}  // namespace vigil::track
