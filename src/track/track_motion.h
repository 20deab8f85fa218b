#pragma once
// What both trackers derive from a track's matched positions: the bounded
// history, bottom-centre velocity (px/s, and m/s on a calibrated ground
// plane) and how long the track has stood still.
#include <optional>

#include "core/detection.h"
#include "track/track_ground_plane.h"

namespace vigil::track {

struct MotionSettings {
    size_t history_length = 64;
    double velocity_window_s = 1.0;
    float stationary_radius_fraction = 0.2f;
    float stationary_radius_m = 0.5f;
    const GroundPlane* ground = nullptr;  // not owned; null when uncalibrated
};

class TrackMotion {
public:
    // Records a matched observation at time_s (the track's filtered box) and
    // refreshes track.history, velocities, stationary_s and last_seen_s.
    void observe(vigil::Track& track, double time_s, const cv::Rect2f& box, const MotionSettings& settings);

private:
    bool has_anchor_ = false;
    bool anchor_on_ground_ = false;
    cv::Point2f anchor_;
    double anchor_time_s_ = 0;
};

// Least-squares slope of points over time (units per second); empty when
// fewer than two distinct times are given.
std::optional<cv::Point2f> fit_velocity(const std::vector<double>& times_s, const std::vector<cv::Point2f>& points);

}  // namespace vigil::track
