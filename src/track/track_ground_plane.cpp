#include "track/track_ground_plane.h"

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "core/error.h"

namespace vigil::track {
namespace {

void check_quad(const std::array<cv::Point2f, 4>& points, const char* which) {
    double extent = 0;
    for (const cv::Point2f& p : points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y))
            throw vigil::Error(std::string("track: ground_plane.") + which + " has a non-finite coordinate");
        extent = std::max({extent, std::abs(double(p.x) - points[0].x), std::abs(double(p.y) - points[0].y)});
    }
    for (int a = 0; a < 4; ++a)
        for (int b = a + 1; b < 4; ++b)
            for (int c = b + 1; c < 4; ++c) {
                const cv::Point2f u = points[size_t(b)] - points[size_t(a)];
                const cv::Point2f v = points[size_t(c)] - points[size_t(a)];
                const double twice_area = std::abs(double(u.x) * v.y - double(u.y) * v.x);
                if (twice_area <= 1e-6 * extent * extent || extent == 0)
                    throw vigil::Error(std::string("track: ground_plane.") + which + " points " +
                                       std::to_string(a + 1) + ", " + std::to_string(b + 1) + " and " +
                                       std::to_string(c + 1) +
                                       " are collinear; expected four points with no three on one line");
            }
}

}  // namespace

GroundPlane::GroundPlane(const GroundPlaneCalibration& calibration) {
    check_quad(calibration.image_px, "image_px");
    check_quad(calibration.ground_m, "ground_m");
    homography_ = cv::Matx33d(cv::getPerspectiveTransform(calibration.image_px.data(), calibration.ground_m.data()));
    const cv::Point2f& reference = calibration.image_px[0];
    ground_side_sign_ = (homography_ * cv::Vec3d(reference.x, reference.y, 1.0))[2] > 0 ? 1 : -1;
}

std::optional<cv::Point2f> GroundPlane::to_ground(const cv::Point2f& image_px) const {
    const cv::Vec3d p = homography_ * cv::Vec3d(image_px.x, image_px.y, 1.0);
    // Points on the ground share the calibration points' sign of w; the
    // other sign is above the horizon.
    if (!(p[2] * ground_side_sign_ > 1e-12) || !std::isfinite(p[0]) || !std::isfinite(p[1])) return std::nullopt;
    return cv::Point2f(float(p[0] / p[2]), float(p[1] / p[2]));
}

}  // namespace vigil::track
