// Motion detector on synthetic scenes with known truth, and on real highway
// CCTV footage.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "core/error.h"
#include "detect/detect_motion.h"
#include "detect/detect_nms.h"
#include "testing/test_support.h"

namespace vigil::detect {
namespace {

// A fixed camera: a textured static scene plus sensor noise on every frame.
class SyntheticCamera {
public:
    SyntheticCamera() {
        cv::setRNGSeed(7);
        background_.create(240, 320, CV_8UC3);
        cv::randu(background_, cv::Scalar::all(40), cv::Scalar::all(200));
        cv::GaussianBlur(background_, background_, {9, 9}, 3);
    }
    cv::Mat frame(const std::vector<cv::Rect>& objects) {
        cv::Mat f = background_.clone();
        for (const auto& r : objects) cv::rectangle(f, r, cv::Scalar(20, 30, 240), cv::FILLED);
        cv::Mat noise(f.size(), CV_16SC3);
        cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(2));
        cv::Mat out;
        f.convertTo(out, CV_16SC3);
        out += noise;
        out.convertTo(f, CV_8UC3);
        return f;
    }

private:
    cv::Mat background_;
};

std::unique_ptr<Detector> motion_detector() {
    DetectorConfig config;
    config.name = "motion";
    return make_detector(config);
}

const Detection* best_match(const std::vector<Detection>& ds, const cv::Rect2f& truth) {
    const Detection* best = nullptr;
    for (const auto& d : ds) {
        if (!best || box_iou(d.box, truth) > box_iou(best->box, truth)) best = &d;
    }
    return best;
}

TEST(MotionDetector, MovingRectangleIsAMovingBlob) {
    SyntheticCamera camera;
    auto detector = motion_detector();
    EXPECT_EQ(detector->input_size(), cv::Size(0, 0));
    // Past MOG2's fast-learning start, where a few frames of an object would
    // already count as background.
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(detector->detect(camera.frame({})).empty()) << "frame " << i;
    int matched = 0;
    for (int i = 0; i < 50; ++i) {
        const cv::Rect truth(20 + 5 * i, 100, 30, 30);
        const auto ds = detector->detect(camera.frame({truth}));
        for (const auto& d : ds) {
            EXPECT_EQ(d.label, "motion") << "frame " << i;
            EXPECT_EQ(d.class_id, -1);
        }
        const Detection* d = best_match(ds, cv::Rect2f(truth));
        if (d && box_iou(d->box, cv::Rect2f(truth)) > 0.6f) ++matched;
    }
    EXPECT_GE(matched, 49);
}

TEST(MotionDetector, RectangleThatStaysBecomesStaticObjectAndLeavesNoGhost) {
    SyntheticCamera camera;
    MotionConfig motion;  // defaults: static after 25 still frames, warm-up 100
    DetectorConfig config;
    auto detector = make_motion_detector(config, motion);
    for (int i = 0; i < motion.warmup_frames + 10; ++i) detector->detect(camera.frame({}));

    const cv::Rect truth(150, 80, 40, 40);
    int first_static = -1;
    for (int i = 0; i < 150; ++i) {
        const auto ds = detector->detect(camera.frame({truth}));
        ASSERT_EQ(ds.size(), 1u) << "frame " << i << " after the object appeared";
        EXPECT_GT(box_iou(ds[0].box, cv::Rect2f(truth)), 0.7f) << "frame " << i;
        if (ds[0].label == "static_object" && first_static < 0) first_static = i;
        EXPECT_EQ(ds[0].label, first_static >= 0 ? "static_object" : "motion") << "frame " << i;
    }
    // Still 150 frames on: long after the background model absorbed it.
    EXPECT_GE(first_static, motion.static_frames - 1);
    EXPECT_LE(first_static, motion.static_frames + 5);

    // Removed: gone within a few frames, and the hole it leaves in the
    // background model is not reported as motion.
    int last_seen = -1;
    for (int i = 0; i < 60; ++i) {
        if (!detector->detect(camera.frame({})).empty()) last_seen = i;
    }
    EXPECT_LT(last_seen, 5);
}

TEST(MotionDetector, LabelFilterAndRoiApply) {
    SyntheticCamera camera;
    DetectorConfig config;
    config.name = "motion";
    config.classes = {"static_object"};
    auto only_static = make_detector(config);
    config.classes.clear();
    config.roi_mask = cv::Mat::zeros(240, 320, CV_8U);
    config.roi_mask(cv::Rect(0, 0, 160, 240)).setTo(255);  // left half only
    auto left_only = make_detector(config);
    for (int i = 0; i < 10; ++i) {
        only_static->detect(camera.frame({}));
        left_only->detect(camera.frame({}));
    }
    int left_hits = 0;
    for (int i = 0; i < 50; ++i) {
        const cv::Rect truth(10 + 6 * i, 100, 30, 30);  // crosses from left to right half
        const cv::Mat f = camera.frame({truth});
        EXPECT_TRUE(only_static->detect(f).empty());
        const auto ds = left_only->detect(f);
        for (const auto& d : ds) EXPECT_LT(d.box.x + d.box.width / 2, 160.f);
        left_hits += !ds.empty();
    }
    EXPECT_GT(left_hits, 15);
    EXPECT_LT(left_hits, 30);
}

TEST(MotionDetector, RejectsFramesOfAnotherSize) {
    SyntheticCamera camera;
    auto detector = motion_detector();
    detector->detect(camera.frame({}));
    EXPECT_THROW(detector->detect(cv::Mat(100, 100, CV_8UC3, cv::Scalar::all(0))), Error);
    EXPECT_THROW(detector->detect(cv::Mat()), Error);
}

TEST(MotionDetector, HighwayTrafficGivesMovingBlobs) {
    cv::VideoCapture video(vigil::testing::shared_path("media/videos/bgslibrary_video02_highway.avi").string());
    ASSERT_TRUE(video.isOpened());
    auto detector = motion_detector();
    cv::Mat frame;
    int frames = 0, frames_with_motion = 0, blobs = 0;
    while (frames < 120 && video.read(frame)) {
        const auto ds = detector->detect(frame);
        ++frames;
        if (frames <= 20) continue;  // background model settling
        int moving = 0;
        for (const auto& d : ds) {
            EXPECT_LT(d.box.area(), frame.total() / 4.0) << "a blob covers a quarter of the frame at " << frames;
            moving += d.label == "motion";
        }
        frames_with_motion += moving > 0;
        blobs += moving;
    }
    ASSERT_EQ(frames, 120);
    EXPECT_GE(frames_with_motion, 90);
    EXPECT_GE(blobs, 150);  // several cars at a time
}

}  // namespace
}  // namespace vigil::detect
