#include "track/track_motion.h"

#include <cmath>

namespace vigil::track {
namespace {

cv::Point2f bottom_centre(const cv::Rect2f& box) { return {box.x + box.width * 0.5f, box.y + box.height}; }

}  // namespace

std::optional<cv::Point2f> fit_velocity(const std::vector<double>& times_s, const std::vector<cv::Point2f>& points) {
    const size_t n = times_s.size();
    if (n < 2 || points.size() != n) return std::nullopt;
    double mean_t = 0, mean_x = 0, mean_y = 0;
    for (size_t i = 0; i < n; ++i) {
        mean_t += times_s[i];
        mean_x += points[i].x;
        mean_y += points[i].y;
    }
    mean_t /= double(n);
    mean_x /= double(n);
    mean_y /= double(n);
    double stt = 0, stx = 0, sty = 0;
    for (size_t i = 0; i < n; ++i) {
        const double dt = times_s[i] - mean_t;
        stt += dt * dt;
        stx += dt * (points[i].x - mean_x);
        sty += dt * (points[i].y - mean_y);
    }
    if (stt <= 1e-12) return std::nullopt;
    return cv::Point2f(float(stx / stt), float(sty / stt));
}

void TrackMotion::observe(vigil::Track& track, double time_s, const cv::Rect2f& box, const MotionSettings& settings) {
    track.last_seen_s = time_s;
    track.history.push_back({time_s, box});
    if (track.history.size() > settings.history_length)
        track.history.erase(track.history.begin(),
                            track.history.begin() + std::ptrdiff_t(track.history.size() - settings.history_length));

    // Points inside the window, but always the last two so a track refound
    // after a gap still gets a velocity.
    size_t first = track.history.size();
    while (first > 0 &&
           (track.history.size() - first < 2 || track.history[first - 1].time_s >= time_s - settings.velocity_window_s))
        --first;
    std::vector<double> times;
    std::vector<cv::Point2f> image_points, ground_points;
    std::vector<double> ground_times;
    for (size_t i = first; i < track.history.size(); ++i) {
        const cv::Point2f point = bottom_centre(track.history[i].box);
        times.push_back(track.history[i].time_s);
        image_points.push_back(point);
        if (settings.ground) {
            if (auto on_ground = settings.ground->to_ground(point)) {
                ground_times.push_back(track.history[i].time_s);
                ground_points.push_back(*on_ground);
            }
        }
    }
    track.velocity_px_s = fit_velocity(times, image_points).value_or(cv::Point2f(0, 0));
    track.has_ground_velocity = false;
    track.velocity_m_s = {0, 0};
    if (settings.ground) {
        if (auto ground_velocity = fit_velocity(ground_times, ground_points)) {
            track.has_ground_velocity = true;
            track.velocity_m_s = *ground_velocity;
        } else if (ground_points.size() == 1 && ground_times.size() == times.size()) {
            track.has_ground_velocity = true;  // a single observation: at rest as far as known
        }
    }

    std::optional<cv::Point2f> ground_point;
    if (settings.ground) ground_point = settings.ground->to_ground(bottom_centre(box));
    const bool on_ground = ground_point.has_value();
    const cv::Point2f point = on_ground ? *ground_point : bottom_centre(box);
    const double radius = on_ground ? settings.stationary_radius_m : settings.stationary_radius_fraction * box.height;
    if (!has_anchor_ || anchor_on_ground_ != on_ground || cv::norm(point - anchor_) > radius) {
        has_anchor_ = true;
        anchor_on_ground_ = on_ground;
        anchor_ = point;
        anchor_time_s_ = time_s;
    }
    track.stationary_s = time_s - anchor_time_s_;
}

}  // namespace vigil::track
