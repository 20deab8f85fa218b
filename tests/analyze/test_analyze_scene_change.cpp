#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "analyze/analyze_engine.h"
#include "analyze/analyze_scene_change.h"
#include "core/error.h"

namespace vigil::analyze {
namespace {

// A street-like synthetic frame: gradient sky, grey road, a few boxes.
cv::Mat synthetic_scene(int seed) {
    cv::Mat frame(360, 640, CV_8UC3);
    for (int y = 0; y < frame.rows; ++y) {
        frame.row(y).setTo(cv::Scalar(120 + y / 4, 110 + y / 5, 90 + y / 6));
    }
    cv::rectangle(frame, {0, 220, 640, 140}, cv::Scalar(70, 70, 70), cv::FILLED);
    cv::RNG rng(seed);
    for (int i = 0; i < 6; ++i) {
        cv::Point p(rng.uniform(0, 600), rng.uniform(150, 320));
        cv::rectangle(frame, p, p + cv::Point(40, 30), cv::Scalar(rng.uniform(0, 255), 80, 200), cv::FILLED);
    }
    return frame;
}

TEST(SceneChangeScore, SameImageScoresZero) {
    SceneChangeScorer scorer;
    cv::Mat frame = synthetic_scene(1);
    EXPECT_FALSE(scorer.update(frame, 0.0).has_value());
    SceneChangeScore s = scorer.score(frame);
    EXPECT_LT(s.mean_abs_diff, 0.005);
    EXPECT_LT(s.histogram_distance, 0.02);
    EXPECT_LT(s.score, 0.02);
}

TEST(SceneChangeScore, SensorNoiseStaysBelowThreshold) {
    SceneChangeScorer scorer;
    cv::Mat frame = synthetic_scene(1);
    scorer.update(frame, 0.0);
    cv::Mat noisy = frame.clone();
    cv::Mat noise(frame.size(), CV_8UC3);
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(6));
    cv::add(noisy, noise, noisy);
    EXPECT_LT(scorer.score(noisy).score, scorer.config().threshold * 0.5);
}

// A camera swapped for one with another aspect ratio and view fires; the
// same view at another aspect ratio does not.
TEST(SceneChangeScore, NewAspectRatioIsComparedNotAdopted) {
    SceneChangeConfig config;
    config.threshold = 0.2;
    SceneChangeScorer scorer(config);
    const cv::Mat wide = synthetic_scene(1);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(scorer.update(wide, i * 0.5).has_value());
    cv::Mat squeezed;
    cv::resize(wide, squeezed, cv::Size(480, 360), 0, 0, cv::INTER_AREA);
    EXPECT_LT(scorer.score(squeezed).score, config.threshold * 0.5);
    EXPECT_FALSE(scorer.update(squeezed, 1.5).has_value());

    cv::Mat other_view(480, 640, CV_8UC3, cv::Scalar(235, 235, 235));  // a 4:3 camera facing a bright wall
    auto event = scorer.update(other_view, 2.0);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->metrics["reason"], "change");
}

TEST(SceneChangeScore, BigChangeFiresOnceThenRearms) {
    SceneChangeConfig config;
    config.threshold = 0.2;
    config.adapt_rate = 0.2;
    SceneChangeScorer scorer(config);
    cv::Mat day = synthetic_scene(1);
    cv::Mat blocked(day.size(), CV_8UC3, cv::Scalar(10, 10, 10));  // lens covered
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(scorer.update(day, i * 0.1).has_value());

    SceneChangeScore s = scorer.score(blocked);
    EXPECT_GT(s.score, config.threshold);
    auto event = scorer.update(blocked, 0.5);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->type, "scene_change");
    EXPECT_EQ(event->metrics["reason"], "change");
    EXPECT_GT(event->metrics["score"].get<double>(), 0.2);
    EXPECT_FALSE(event->summary.empty());

    // The condition persists: no second event while the reference adapts.
    int events = 0;
    for (int i = 6; i < 60; ++i) events += scorer.update(blocked, i * 0.1).has_value() ? 1 : 0;
    EXPECT_EQ(events, 0);
    // Adapted to the blocked view, so uncovering the lens is a new change.
    auto back = scorer.update(day, 6.0);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->metrics["reason"], "change");
}

TEST(SceneChangeScore, PeriodicChecksFireOnSchedule) {
    SceneChangeConfig config;
    config.period_s = 2.0;
    SceneChangeScorer scorer(config);
    cv::Mat frame = synthetic_scene(3);
    std::vector<double> fired;
    for (int i = 0; i <= 50; ++i) {
        if (auto event = scorer.update(frame, i * 0.1)) {
            EXPECT_EQ(event->metrics["reason"], "periodic");
            fired.push_back(event->time_s);
        }
    }
    ASSERT_EQ(fired.size(), 2u);
    EXPECT_NEAR(fired[0], 2.0, 1e-6);
    EXPECT_NEAR(fired[1], 4.0, 1e-6);
}

TEST(SceneChangeScore, GrayInputAndBadInput) {
    SceneChangeScorer scorer;
    cv::Mat gray;
    cv::cvtColor(synthetic_scene(2), gray, cv::COLOR_BGR2GRAY);
    scorer.update(gray, 0);
    EXPECT_LT(scorer.score(gray).score, 0.02);
    EXPECT_THROW(scorer.score(cv::Mat()), Error);
    EXPECT_THROW(scorer.score(cv::Mat(10, 10, CV_32FC1)), Error);
}

TEST(SceneChangeScore, EngineRunsItFromConfig) {
    nlohmann::json config = {{"scene_change", {{"name", "cam1_scene"}, {"threshold", 0.2}}}};
    AnalyticsEngine engine(config, cv::Size(640, 360));
    EXPECT_TRUE(engine.update_frame(synthetic_scene(1), 0.0).empty());
    auto events = engine.update_frame(cv::Mat(360, 640, CV_8UC3, cv::Scalar(250, 250, 250)), 0.1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].rule, "cam1_scene");

    EXPECT_THROW(AnalyticsEngine({{"scene_change", {{"treshold", 0.2}}}}, cv::Size(640, 360)), Error);
}

}  // namespace
}  // namespace vigil::analyze
