// Velocity, ground-plane speed and stationary time, measured on synthetic
// boxes whose true motion is known.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/error.h"
#include "track/track_ground_plane.h"
#include "track/track_motion.h"
#include "track/tracker.h"

namespace {

using vigil::track::TrackerConfig;

vigil::Detection person_at(cv::Point2f bottom_centre, float w = 40, float h = 100, float score = 0.9f) {
    vigil::Detection d;
    d.box = cv::Rect2f(bottom_centre.x - w / 2, bottom_centre.y - h, w, h);
    d.score = score;
    return d;
}

// Runs a single object through the tracker; returns its last reported state.
vigil::Track follow(const TrackerConfig& config, int frames, double fps,
                    const std::function<cv::Point2f(double)>& bottom_centre_at, float jitter_px = 0) {
    auto tracker = vigil::track::make_tracker(config);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> noise(-jitter_px, jitter_px);
    vigil::Track last;
    for (int f = 0; f < frames; ++f) {
        const double t = f / fps;
        cv::Point2f p = bottom_centre_at(t);
        p.x += noise(rng);
        p.y += noise(rng);
        const auto tracks = tracker->update({person_at(p)}, t);
        EXPECT_EQ(tracks.size(), 1u) << "frame " << f;
        if (!tracks.empty()) last = tracks.front();
    }
    return last;
}

class VelocityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VelocityTest, MovingBoxPixelsPerSecond) {
    TrackerConfig config;
    config.algorithm = GetParam();
    const cv::Point2f velocity(60, -20);  // px/s
    const vigil::Track t = follow(
        config, 40, 10, [&](double s) { return cv::Point2f(200 + velocity.x * float(s), 400 + velocity.y * float(s)); },
        1.5f);
    EXPECT_NEAR(t.velocity_px_s.x, velocity.x, 0.1 * std::abs(velocity.x));
    EXPECT_NEAR(t.velocity_px_s.y, velocity.y, 0.15 * std::abs(velocity.y));
    EXPECT_FALSE(t.has_ground_velocity);
    EXPECT_LT(t.stationary_s, 0.5);
}

TEST_P(VelocityTest, StillBoxAccumulatesStationaryTime) {
    TrackerConfig config;
    config.algorithm = GetParam();
    const vigil::Track t = follow(
        config, 50, 10, [](double) { return cv::Point2f(300, 300); }, 1.0f);
    EXPECT_NEAR(t.stationary_s, 4.9, 0.31);
    EXPECT_LT(cv::norm(t.velocity_px_s), 5.0);
}

TEST_P(VelocityTest, StationaryTimeCountsFromWhenTheObjectStopped) {
    TrackerConfig config;
    config.algorithm = GetParam();
    // Walks at 80 px/s for 2 s, then stands still for 3 s.
    const vigil::Track t =
        follow(config, 50, 10, [](double s) { return cv::Point2f(100 + 80 * float(std::min(s, 2.0)), 300); });
    // Still for 2.9 s at the last frame. The clock starts once the object is
    // inside the stationary radius (0.2 x 100 px) of its resting point, i.e.
    // up to 20 px / 80 px/s = 0.25 s before the stop; filter settling may
    // delay it a little.
    EXPECT_GT(t.stationary_s, 2.4);
    EXPECT_LE(t.stationary_s, 2.9 + 0.25 + 1e-6);
}

TEST_P(VelocityTest, GroundPlaneGivesMetresPerSecond) {
    // A camera looking down the road: a true perspective homography, built
    // from a ground rectangle 10 m wide and 30 m deep.
    vigil::track::GroundPlaneCalibration calibration;
    calibration.image_px = {cv::Point2f(200, 700), cv::Point2f(1100, 700), cv::Point2f(800, 300),
                            cv::Point2f(500, 300)};
    calibration.ground_m = {cv::Point2f(0, 0), cv::Point2f(10, 0), cv::Point2f(10, 30), cv::Point2f(0, 30)};
    const vigil::track::GroundPlane plane(calibration);
    const cv::Matx33d ground_to_image = plane.homography().inv();
    auto to_image = [&](cv::Point2f g) {
        const cv::Vec3d p = ground_to_image * cv::Vec3d(g.x, g.y, 1);
        return cv::Point2f(float(p[0] / p[2]), float(p[1] / p[2]));
    };

    TrackerConfig config;
    config.algorithm = GetParam();
    config.ground_plane = calibration;
    const cv::Point2f ground_velocity(1.2f, 0.8f);  // m/s, walking away and to the right
    const vigil::Track t = follow(config, 40, 10, [&](double s) {
        return to_image(cv::Point2f(2 + ground_velocity.x * float(s), 3 + ground_velocity.y * float(s)));
    });
    ASSERT_TRUE(t.has_ground_velocity);
    EXPECT_NEAR(t.velocity_m_s.x, ground_velocity.x, 0.1 * ground_velocity.x);
    EXPECT_NEAR(t.velocity_m_s.y, ground_velocity.y, 0.1 * ground_velocity.y);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, VelocityTest, ::testing::Values("bytetrack", "sort"));

TEST(GroundPlane, MapsCalibrationPointsExactly) {
    vigil::track::GroundPlaneCalibration calibration;
    calibration.image_px = {cv::Point2f(10, 400), cv::Point2f(600, 420), cv::Point2f(450, 100), cv::Point2f(150, 90)};
    calibration.ground_m = {cv::Point2f(0, 0), cv::Point2f(8, 0), cv::Point2f(8, 20), cv::Point2f(0, 20)};
    const vigil::track::GroundPlane plane(calibration);
    for (size_t i = 0; i < 4; ++i) {
        const auto g = plane.to_ground(calibration.image_px[i]);
        ASSERT_TRUE(g.has_value());
        EXPECT_NEAR(g->x, calibration.ground_m[i].x, 1e-3);
        EXPECT_NEAR(g->y, calibration.ground_m[i].y, 1e-3);
    }
    // A point far above the horizon (where the road edges meet) is not on the ground.
    EXPECT_FALSE(plane.to_ground(cv::Point2f(300, -2000)).has_value());
}

TEST(GroundPlane, CollinearPointsAreRejected) {
    vigil::track::GroundPlaneCalibration calibration;
    calibration.image_px = {cv::Point2f(0, 0), cv::Point2f(100, 0), cv::Point2f(200, 0), cv::Point2f(0, 100)};
    calibration.ground_m = {cv::Point2f(0, 0), cv::Point2f(1, 0), cv::Point2f(1, 1), cv::Point2f(0, 1)};
    try {
        vigil::track::GroundPlane plane(calibration);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("image_px"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("collinear"), std::string::npos) << e.what();
    }
    TrackerConfig config;
    config.ground_plane = calibration;
    EXPECT_THROW(vigil::track::make_tracker(config), vigil::Error);
}

TEST(FitVelocity, NeedsTwoDistinctTimes) {
    EXPECT_FALSE(vigil::track::fit_velocity({1.0}, {cv::Point2f(0, 0)}).has_value());
    EXPECT_FALSE(vigil::track::fit_velocity({1.0, 1.0}, {cv::Point2f(0, 0), cv::Point2f(5, 5)}).has_value());
    const auto v =
        vigil::track::fit_velocity({0.0, 0.5, 1.0}, {cv::Point2f(0, 0), cv::Point2f(1, 2), cv::Point2f(2, 4)});
    ASSERT_TRUE(v.has_value());
    EXPECT_NEAR(v->x, 2.0, 1e-5);
    EXPECT_NEAR(v->y, 4.0, 1e-5);
}

}  // namespace
