#include "track/track_kalman.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>

namespace vigil::track {
namespace {

// ByteTrack / DeepSORT noise: standard deviations as fractions of the box height.
constexpr double kPositionWeight = 1.0 / 20;
constexpr double kVelocityWeight = 1.0 / 160;

Eigen::Vector4d box_to_xyah(const cv::Rect2f& box) {
    return {box.x + box.width * 0.5, box.y + box.height * 0.5, double(box.width) / box.height, box.height};
}

Eigen::Vector4d box_to_xysr(const cv::Rect2f& box) {
    return {box.x + box.width * 0.5, box.y + box.height * 0.5, double(box.width) * box.height,
            double(box.width) / box.height};
}

// Standard Kalman correction for a measurement of the first M state entries.
template <int N, int M>
void correct(Eigen::Matrix<double, N, 1>& mean, Eigen::Matrix<double, N, N>& covariance,
             const Eigen::Matrix<double, M, 1>& measurement, const Eigen::Matrix<double, M, 1>& noise_variance) {
    const Eigen::Matrix<double, M, M> innovation_cov =
        covariance.template topLeftCorner<M, M>() + Eigen::Matrix<double, M, M>(noise_variance.asDiagonal());
    const Eigen::Matrix<double, N, M> cross = covariance.template leftCols<M>();
    // gain = cross * S^-1, solved without forming the inverse.
    const Eigen::Matrix<double, N, M> gain = innovation_cov.ldlt().solve(cross.transpose()).transpose();
    mean += gain * (measurement - mean.template head<M>());
    // K S K^T = K cross^T; lazy products because Eigen's blocked GEMM is
    // several times slower for matrices this small.
    covariance -= gain.lazyProduct(cross.transpose());
}

template <int N>
Eigen::Matrix<double, N, N> constant_velocity_transition(int positions) {
    Eigen::Matrix<double, N, N> transition = Eigen::Matrix<double, N, N>::Identity();
    for (int i = 0; i < positions && i + 4 < N; ++i) transition(i, i + 4) = 1;
    return transition;
}

template <int N>
Eigen::Matrix<double, N, N> propagate(const Eigen::Matrix<double, N, N>& transition,
                                      const Eigen::Matrix<double, N, N>& covariance) {
    const Eigen::Matrix<double, N, N> half = transition.lazyProduct(covariance);
    return half.lazyProduct(transition.transpose());
}

}  // namespace

void XyahKalmanFilter::initiate(const cv::Rect2f& box) {
    const Eigen::Vector4d z = box_to_xyah(box);
    mean_ << z, 0, 0, 0, 0;
    const double h = z(3);
    Mean sd;
    sd << 2 * kPositionWeight * h, 2 * kPositionWeight * h, 1e-2, 2 * kPositionWeight * h, 10 * kVelocityWeight * h,
        10 * kVelocityWeight * h, 1e-5, 10 * kVelocityWeight * h;
    covariance_ = sd.cwiseAbs2().asDiagonal();
}

void XyahKalmanFilter::predict() {
    static const Covariance transition = constant_velocity_transition<8>(4);
    const double h = mean_(3);
    Mean sd;
    sd << kPositionWeight * h, kPositionWeight * h, 1e-2, kPositionWeight * h, kVelocityWeight * h, kVelocityWeight * h,
        1e-5, kVelocityWeight * h;
    mean_ = transition * mean_;
    covariance_ = propagate(transition, covariance_);
    covariance_.diagonal() += sd.cwiseAbs2();
}

void XyahKalmanFilter::update(const cv::Rect2f& box) {
    const double h = mean_(3);
    Eigen::Vector4d noise_sd(kPositionWeight * h, kPositionWeight * h, 1e-1, kPositionWeight * h);
    correct<8, 4>(mean_, covariance_, box_to_xyah(box), noise_sd.cwiseAbs2());
}

cv::Rect2f XyahKalmanFilter::box() const {
    const double h = std::max(0.0, mean_(3));
    const double w = std::max(0.0, mean_(2) * h);
    return {float(mean_(0) - w / 2), float(mean_(1) - h / 2), float(w), float(h)};
}

void SortKalmanFilter::initiate(const cv::Rect2f& box) {
    mean_ << box_to_xysr(box), 0, 0, 0;
    Mean variance;
    variance << 10, 10, 10, 10, 1e4, 1e4, 1e4;
    covariance_ = variance.asDiagonal();
}

void SortKalmanFilter::predict() {
    static const Covariance transition = constant_velocity_transition<7>(3);
    // An area about to turn negative stops shrinking, as in SORT.
    if (mean_(2) + mean_(6) <= 0) mean_(6) = 0;
    mean_ = transition * mean_;
    covariance_ = propagate(transition, covariance_);
    Mean process_variance;
    process_variance << 1, 1, 1, 1, 1e-2, 1e-2, 1e-4;
    covariance_.diagonal() += process_variance;
}

void SortKalmanFilter::update(const cv::Rect2f& box) {
    correct<7, 4>(mean_, covariance_, box_to_xysr(box), Eigen::Vector4d(1, 1, 10, 10));
}

cv::Rect2f SortKalmanFilter::box() const {
    const double area = std::max(0.0, mean_(2));
    const double aspect = std::max(0.0, mean_(3));
    const double w = std::sqrt(area * aspect);
    const double h = w > 0 ? area / w : 0;
    return {float(mean_(0) - w / 2), float(mean_(1) - h / 2), float(w), float(h)};
}

}  // namespace vigil::track
