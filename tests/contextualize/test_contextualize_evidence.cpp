// Evidence frames: the ring buffer, choosing before/trigger/after, drawing
// numbered boxes, the crop, and packing views into the tile budget.
#include <gtest/gtest.h>

#include "contextualize/contextualize_evidence.h"
#include "contextualize_test_scenes.h"
#include "core/error.h"

namespace vigil::contextualize {
namespace {

using namespace vigil::contextualize::testing;

EvidenceFrame tiny_frame(double time_s) {
    EvidenceFrame frame;
    frame.time_s = time_s;
    frame.bgr = cv::Mat(4, 4, CV_8UC3, cv::Scalar(time_s, 0, 0));
    return frame;
}

std::vector<double> times_of(const std::vector<EvidenceFrame>& frames) {
    std::vector<double> out;
    for (const auto& frame : frames) out.push_back(frame.time_s);
    return out;
}

TEST(FrameRing, KeepsTheLastSecondsAndAtMostMaxFrames) {
    FrameRing ring(5.0, 4);
    EXPECT_EQ(ring.latest(), nullptr);
    EXPECT_TRUE(ring.frames_near({1.0}).empty());
    for (int t = 0; t <= 10; ++t) ring.push(tiny_frame(t));
    EXPECT_EQ(ring.size(), 4u);  // 5 s would keep 6 frames; max_frames caps at 4
    ASSERT_NE(ring.latest(), nullptr);
    EXPECT_EQ(ring.latest()->time_s, 10.0);
    EXPECT_EQ(times_of(ring.frames_near({0.0, 100.0})), (std::vector<double>{7.0, 10.0}));

    FrameRing by_time(2.5, 64);
    for (int t = 0; t <= 10; ++t) by_time.push(tiny_frame(t));
    EXPECT_EQ(times_of(by_time.frames_near({0, 8, 9, 10})), (std::vector<double>{8.0, 9.0, 10.0}));
}

TEST(FrameRing, FramesNearAreDeduplicatedAndOldestFirst) {
    FrameRing ring(60.0, 64);
    for (double t : {1.0, 2.0, 3.0, 4.0}) ring.push(tiny_frame(t));
    EXPECT_EQ(times_of(ring.frames_near({3.9, 1.2, 4.4, 0.0})), (std::vector<double>{1.0, 4.0}));
}

TEST(FrameRing, TimeGoingBackwardsStartsAfresh) {
    FrameRing ring(60.0, 64);
    for (double t : {10.0, 11.0, 12.0}) ring.push(tiny_frame(t));
    ring.push(tiny_frame(0.5));
    EXPECT_EQ(ring.size(), 1u);
    EXPECT_EQ(ring.latest()->time_s, 0.5);
}

TEST(Evidence, PicksBeforeTriggerAfterAndDrawsNumberedBoxes) {
    analyze::Event event = congestion_event();
    std::vector<EvidenceFrame> frames;
    for (double t : {10.0, 12.0, 14.0, 18.0}) frames.push_back(road_frame(t, t == 14.0 ? 20.f : 0.f));
    Evidence evidence = compose_evidence(event, frames, 2);

    ASSERT_EQ(evidence.views.size(), 5u);
    EXPECT_EQ(evidence.views[0].role, "trigger");
    EXPECT_EQ(evidence.views[0].time_s, 14.0);
    EXPECT_EQ(evidence.views[3].role, "before");
    EXPECT_EQ(evidence.views[3].time_s, 10.0);  // the earliest: the scene before the episode built up
    EXPECT_EQ(evidence.views[4].role, "after");
    EXPECT_EQ(evidence.views[4].time_s, 18.0);

    // The annotated frame differs from the trigger on the box outlines only.
    const cv::Mat& trigger = evidence.views[0].bgr;
    const cv::Mat& annotated = evidence.views[1].bgr;
    ASSERT_EQ(evidence.views[1].role, "annotated");
    const Track& first = evidence.tracks.at(0);
    const cv::Point on_edge(int(first.box.x + first.box.width / 2), int(first.box.y + first.box.height));
    EXPECT_NE(annotated.at<cv::Vec3b>(on_edge), trigger.at<cv::Vec3b>(on_edge));
    EXPECT_EQ(annotated.at<cv::Vec3b>(10, kFrameWidth - 10), trigger.at<cv::Vec3b>(10, kFrameWidth - 10));
    // The source frame is untouched.
    EXPECT_EQ(frames[2].bgr.at<cv::Vec3b>(on_edge), trigger.at<cv::Vec3b>(on_edge));

    // The crop holds both boxes, with context, and is much smaller than the frame.
    const cv::Mat& crop = evidence.views[2].bgr;
    EXPECT_EQ(evidence.views[2].role, "crop");
    EXPECT_GE(crop.cols, 140 + 180 + 140);
    EXPECT_LT(crop.total(), trigger.total() / 2);

    ASSERT_EQ(evidence.tiles_rgb.size(), 2u);
    EXPECT_EQ(evidence.tiles_rgb[0].size(), cv::Size(512, 288));  // 1280x720 scaled into one tile
    EXPECT_EQ(evidence.tiles_rgb[1].size(), cv::Size(512, 512));  // the mosaic
    EXPECT_NE(evidence.layout.find("image 1: the trigger frame with the involved objects in numbered boxes"),
              std::string::npos)
        << evidence.layout;
    EXPECT_NE(evidence.layout.find("top-left the scene 4.0 s before"), std::string::npos) << evidence.layout;
}

TEST(Evidence, TrackMissingOnTheTriggerFrameIsTakenFromTheNearestFrame) {
    analyze::Event event = congestion_event();
    event.track_ids = {3, 5, 9, 42};
    std::vector<EvidenceFrame> frames = road_frames();
    frames[0] = road_frame(10.0, 0.f, {9});
    frames[2] = road_frame(17.0, 0.f, {3, 9});
    std::vector<Track> tracks = involved_tracks(event, frames);
    ASSERT_EQ(tracks.size(), 3u);  // 42 is nowhere
    EXPECT_EQ(tracks[2].id, 9);
    EXPECT_FLOAT_EQ(tracks[2].box.x, 300.f + 180.f);  // from t = 17 (nearer, second car there) rather than t = 10
}

TEST(Evidence, OneTileMeansOneMosaicOfAllViews) {
    Evidence evidence = compose_evidence(congestion_event(), road_frames(), 1);
    ASSERT_EQ(evidence.tiles_rgb.size(), 1u);
    EXPECT_EQ(evidence.tiles_rgb[0].size(), cv::Size(512, 512));
    EXPECT_NE(evidence.layout.find("top-left the scene 4.0 s before"), std::string::npos) << evidence.layout;
    EXPECT_NE(evidence.layout.find("top-right the trigger frame"), std::string::npos) << evidence.layout;
    EXPECT_NE(evidence.layout.find("bottom-right a close-up"), std::string::npos) << evidence.layout;
}

TEST(Evidence, LargeTrackBoxesNeedNoCropAndBadFramesAreSkipped) {
    analyze::Event event = congestion_event();
    EvidenceFrame big = road_frame(14.0, 0.f);
    big.tracks[0].box = cv::Rect2f(0, 0, kFrameWidth * 0.9f, kFrameHeight * 0.9f);
    EvidenceFrame grey;
    grey.time_s = 13.0;
    grey.bgr = cv::Mat(10, 10, CV_8UC1, cv::Scalar(0));  // not a colour frame
    std::vector<EvidenceFrame> frames(3);
    frames[0] = grey;
    frames[1] = big;  // frames[2] stays empty
    Evidence evidence = compose_evidence(event, frames, 3);
    ASSERT_EQ(evidence.views.size(), 2u);
    EXPECT_EQ(evidence.views[1].role, "annotated");
    EXPECT_EQ(evidence.tiles_rgb.size(), 1u);
    EXPECT_THROW(compose_evidence(event, frames, 0), Error);
}

TEST(Evidence, FitWithinNeverUpscales) {
    cv::Mat small(100, 50, CV_8UC3);
    EXPECT_EQ(fit_within(small, 512).size(), small.size());
    cv::Mat tall(2000, 500, CV_8UC3);
    EXPECT_EQ(fit_within(tall, 512).size(), cv::Size(128, 512));
}

}  // namespace
}  // namespace vigil::contextualize
