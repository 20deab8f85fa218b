#pragma once
// Image-to-ground homography from four point correspondences, so speeds and
// distances can be reported in metres.
#include <opencv2/core.hpp>
#include <optional>

#include "track/tracker.h"

namespace vigil::track {

class GroundPlane {
public:
    // Throws vigil::Error when three points of either set are (nearly)
    // collinear, or a coordinate is not finite.
    explicit GroundPlane(const GroundPlaneCalibration& calibration);
    // Empty for points on or beyond the horizon line.
    std::optional<cv::Point2f> to_ground(const cv::Point2f& image_px) const;
    const cv::Matx33d& homography() const { return homography_; }

private:
    cv::Matx33d homography_;
    int ground_side_sign_ = 1;
};

}  // namespace vigil::track
