// Bad input, odd streams and scale: the trackers must answer with a clear
// vigil::Error or carry on, never crash.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "track/tracker.h"

namespace {

using vigil::track::TrackerConfig;

vigil::Detection det(float x, float y, float w = 40, float h = 100, float score = 0.9f) {
    vigil::Detection d;
    d.box = cv::Rect2f(x, y, w, h);
    d.score = score;
    return d;
}

std::unique_ptr<vigil::track::Tracker> make(const std::string& algorithm, TrackerConfig config = {}) {
    config.algorithm = algorithm;
    return vigil::track::make_tracker(config);
}

class TrackerRobustness : public ::testing::TestWithParam<std::string> {};

TEST_P(TrackerRobustness, EmptyFramesBeforeAndBetweenDetections) {
    auto tracker = make(GetParam());
    for (int f = 0; f < 5; ++f) EXPECT_TRUE(tracker->update({}, f * 0.1).empty());
    std::set<int> ids;
    for (int f = 5; f < 15; ++f)
        for (const auto& t : tracker->update({det(100 + 3.f * float(f), 100)}, f * 0.1)) ids.insert(t.id);
    EXPECT_EQ(ids.size(), 1u);
    for (int f = 15; f < 100; ++f) EXPECT_TRUE(tracker->update({}, f * 0.1).empty());
}

TEST_P(TrackerRobustness, DegenerateBoxesAreIgnored) {
    auto tracker = make(GetParam());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (int f = 0; f < 10; ++f) {
        const auto tracks = tracker->update({det(10, 10, 0, 50), det(10, 10, -20, 50), det(10, 10, 30, -1),
                                             det(nan, 10), det(10, inf), det(50, 50, 40, 100, nan)},
                                            f * 0.1);
        EXPECT_TRUE(tracks.empty()) << "frame " << f;
    }
    // Tiny but valid boxes still track.
    size_t reported = 0;
    for (int f = 10; f < 20; ++f) reported = tracker->update({det(5, 5, 0.5f, 0.5f)}, f * 0.1).size();
    EXPECT_EQ(reported, 1u);
}

TEST_P(TrackerRobustness, TimeGoingBackwardsIsAnErrorUntilReset) {
    auto tracker = make(GetParam());
    tracker->update({det(100, 100)}, 1.0);
    tracker->update({det(102, 100)}, 1.0);  // a repeated timestamp is allowed
    try {
        tracker->update({det(104, 100)}, 0.5);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("backwards"), std::string::npos) << e.what();
    }
    EXPECT_THROW(tracker->update({}, std::nan("")), vigil::Error);

    std::set<int> before;
    for (int f = 0; f < 3; ++f)
        for (const auto& t : tracker->update({det(100, 100)}, 2.0 + f)) before.insert(t.id);
    tracker->reset();
    std::set<int> after;
    for (int f = 0; f < 3; ++f)
        for (const auto& t : tracker->update({det(100, 100)}, 0.1 * f)) after.insert(t.id);
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    EXPECT_GT(*after.begin(), *before.rbegin()) << "ids must never be reused, even after reset()";
}

TEST_P(TrackerRobustness, LostTracksReportedOnRequest) {
    TrackerConfig config;
    config.output_lost_tracks = true;
    auto tracker = make(GetParam(), config);
    int id = 0;
    for (int f = 0; f < 10; ++f) {
        const auto tracks = tracker->update({det(100 + 4.f * float(f), 100)}, f * 0.1);
        ASSERT_EQ(tracks.size(), 1u);
        id = tracks[0].id;
    }
    const auto lost = tracker->update({}, 1.0);
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].id, id);
    EXPECT_EQ(lost[0].frames_since_seen, 1);
    EXPECT_NEAR(lost[0].last_seen_s, 0.9, 1e-9);
    EXPECT_GT(lost[0].box.x, 100 + 4 * 9);  // predicted onwards while unseen
}

TEST_P(TrackerRobustness, TracksExpireAfterMaxLostFrames) {
    TrackerConfig config;
    config.output_lost_tracks = true;
    config.max_lost_frames = 5;
    config.frame_rate = 30;
    auto tracker = make(GetParam(), config);
    for (int f = 0; f < 5; ++f) tracker->update({det(100, 100)}, f / 30.0);
    for (int f = 5; f < 10; ++f) EXPECT_EQ(tracker->update({}, f / 30.0).size(), 1u) << "frame " << f;
    EXPECT_TRUE(tracker->update({}, 10 / 30.0).empty());
}

TEST_P(TrackerRobustness, HistoryIsBounded) {
    TrackerConfig config;
    config.history_length = 8;
    auto tracker = make(GetParam(), config);
    std::vector<vigil::Track> tracks;
    for (int f = 0; f < 50; ++f) tracks = tracker->update({det(100 + float(f), 100)}, f * 0.04);
    ASSERT_EQ(tracks.size(), 1u);
    ASSERT_EQ(tracks[0].history.size(), 8u);
    EXPECT_NEAR(tracks[0].history.back().time_s, 49 * 0.04, 1e-9);
    EXPECT_NEAR(tracks[0].history.front().time_s, 42 * 0.04, 1e-9);
    EXPECT_NEAR(tracks[0].first_seen_s, 0.0, 1e-9);
}

TEST_P(TrackerRobustness, ThousandsOfObjectsKeepTheirIds) {
    auto tracker = make(GetParam());
    // A 60 x 50 grid of boxes drifting diagonally: 3000 live tracks.
    auto frame = [](int f) {
        std::vector<vigil::Detection> dets;
        for (int gx = 0; gx < 60; ++gx)
            for (int gy = 0; gy < 50; ++gy)
                dets.push_back(det(float(gx) * 60 + 2.f * float(f), float(gy) * 60 + 1.f * float(f), 30, 50));
        return dets;
    };
    const auto start = std::chrono::steady_clock::now();
    std::vector<int> first_ids, last_ids;
    for (int f = 0; f < 20; ++f) {
        const auto tracks = tracker->update(frame(f), f * 0.1);
        ASSERT_EQ(tracks.size(), 3000u) << "frame " << f;
        std::vector<int>& ids = f == 2 ? first_ids : last_ids;
        ids.clear();
        for (const auto& t : tracks) ids.push_back(t.id);
    }
    EXPECT_EQ(first_ids, last_ids);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0) << "20 frames of 3000 tracks";
}

INSTANTIATE_TEST_SUITE_P(Algorithms, TrackerRobustness, ::testing::Values("bytetrack", "sort"));

TEST(TrackerFactory, UnknownAlgorithmNamesTheChoices) {
    TrackerConfig config;
    config.algorithm = "deepsort";
    try {
        vigil::track::make_tracker(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("deepsort"), std::string::npos) << message;
        EXPECT_NE(message.find("bytetrack"), std::string::npos) << message;
        EXPECT_NE(message.find("sort"), std::string::npos) << message;
    }
}

TEST(TrackerFactory, BadConfigNamesTheField) {
    TrackerConfig config;
    config.low_threshold = 0.8f;
    config.high_threshold = 0.5f;
    try {
        vigil::track::make_tracker(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("low_threshold"), std::string::npos) << e.what();
    }
    config = {};
    config.frame_rate = 0;
    EXPECT_THROW(vigil::track::make_tracker(config), vigil::Error);
    config = {};
    config.min_hits = 0;
    EXPECT_THROW(vigil::track::make_tracker(config), vigil::Error);
}

TEST(TrackerFactory, EachAlgorithmGetsItsPublishedDefaults) {
    TrackerConfig sort;
    sort.algorithm = "sort";
    const TrackerConfig s = sort.resolve_defaults();
    EXPECT_FLOAT_EQ(s.high_threshold, 0.5f);
    EXPECT_FLOAT_EQ(s.new_track_threshold, 0.5f);
    EXPECT_EQ(s.min_hits, 4);  // the paper's min_hits 3, plus the birth frame
    EXPECT_EQ(s.max_lost_frames, 1);
    EXPECT_FLOAT_EQ(s.sort_iou_threshold, 0.3f);

    const TrackerConfig b = TrackerConfig{}.resolve_defaults();
    EXPECT_EQ(b.algorithm, "bytetrack");
    EXPECT_FLOAT_EQ(b.high_threshold, 0.6f);
    EXPECT_FLOAT_EQ(b.new_track_threshold, 0.7f);
    EXPECT_EQ(b.min_hits, 2);
    EXPECT_EQ(b.max_lost_frames, 30);
    EXPECT_EQ(b.max_lost_frames_scaled(), 30);  // default frame_rate is 30
    TrackerConfig slow = b;
    slow.frame_rate = 14;
    EXPECT_EQ(slow.max_lost_frames_scaled(), 14) << "ByteTrack's buffer is 30 frames at 30 fps";

    TrackerConfig chosen;
    chosen.algorithm = "sort";
    chosen.min_hits = 1;
    chosen.high_threshold = 0.3f;
    const TrackerConfig c = chosen.resolve_defaults();
    EXPECT_EQ(c.min_hits, 1);
    EXPECT_FLOAT_EQ(c.high_threshold, 0.3f);
    EXPECT_FLOAT_EQ(c.new_track_threshold, 0.3f);
}

TEST(TrackerFactory, SortForgetsATrackAfterOneMissedFrame) {
    TrackerConfig config;
    config.output_lost_tracks = true;
    auto tracker = make("sort", config);
    int id = 0;
    for (int f = 0; f < 6; ++f) {
        const auto tracks = tracker->update({det(100, 100)}, f * 0.1);
        ASSERT_EQ(tracks.size(), 1u) << "frame " << f;
        id = tracks[0].id;
    }
    EXPECT_EQ(tracker->update({}, 0.6).size(), 1u);  // max_age 1: kept through one miss
    EXPECT_TRUE(tracker->update({}, 0.7).empty());
    std::vector<int> ids;
    for (int f = 8; f < 14; ++f)
        for (const auto& t : tracker->update({det(100, 100)}, f * 0.1)) ids.push_back(t.id);
    ASSERT_FALSE(ids.empty());
    EXPECT_GT(ids.front(), id) << "a forgotten track comes back under a new id";
}

TEST(TrackerFactory, NamesItsAlgorithm) {
    EXPECT_EQ(make("bytetrack")->name(), "bytetrack");
    EXPECT_EQ(make("sort")->name(), "sort");
}

}  // namespace
