#pragma once
// Constant-velocity Kalman filters over boxes, one step per frame.
// XyahKalmanFilter is ByteTrack's (and DeepSORT's): state (cx, cy, aspect, h)
// plus velocities, noise proportional to the box height. SortKalmanFilter is
// the original SORT's: state (cx, cy, area, aspect) plus three velocities,
// fixed noise.
#include <Eigen/Core>
#include <opencv2/core.hpp>

namespace vigil::track {

class XyahKalmanFilter {
public:
    using Mean = Eigen::Matrix<double, 8, 1>;
    using Covariance = Eigen::Matrix<double, 8, 8>;

    void initiate(const cv::Rect2f& box);
    void predict();
    void update(const cv::Rect2f& box);
    // A lost track's height should not keep growing or shrinking.
    void freeze_height_velocity() { mean_(7) = 0; }
    cv::Rect2f box() const;
    const Mean& mean() const { return mean_; }

private:
    Mean mean_ = Mean::Zero();
    Covariance covariance_ = Covariance::Identity();
};

class SortKalmanFilter {
public:
    using Mean = Eigen::Matrix<double, 7, 1>;
    using Covariance = Eigen::Matrix<double, 7, 7>;

    void initiate(const cv::Rect2f& box);
    void predict();
    void update(const cv::Rect2f& box);
    cv::Rect2f box() const;
    bool is_finite() const { return mean_.allFinite(); }

private:
    Mean mean_ = Mean::Zero();
    Covariance covariance_ = Covariance::Identity();
};

}  // namespace vigil::track
