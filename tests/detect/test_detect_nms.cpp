#include <gtest/gtest.h>

#include "detect/detect_nms.h"

namespace vigil::detect {
namespace {

Detection det(float x, float y, float w, float h, int cls, float score) {
    Detection d;
    d.box = {x, y, w, h};
    d.class_id = cls;
    d.score = score;
    return d;
}

TEST(DetectNms, IouOfKnownBoxes) {
    EXPECT_FLOAT_EQ(box_iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.f);
    EXPECT_FLOAT_EQ(box_iou({0, 0, 10, 10}, {20, 20, 5, 5}), 0.f);
    // 5x10 overlap over 150 union.
    EXPECT_NEAR(box_iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.f / 150.f, 1e-6);
    EXPECT_FLOAT_EQ(box_iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.f);
}

TEST(DetectNms, SuppressesOverlapsOfTheSameClassOnly) {
    std::vector<Detection> in = {
        det(0, 0, 100, 100, 0, 0.6f),   // suppressed by the 0.9 box (IoU 0.81)
        det(5, 5, 100, 100, 0, 0.9f),
        det(0, 0, 100, 100, 5, 0.5f),   // other class: kept
        det(300, 300, 50, 50, 0, 0.3f), // far away: kept
    };
    auto out = nms_per_class(in, 0.45f);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_FLOAT_EQ(out[0].score, 0.9f);
    EXPECT_FLOAT_EQ(out[1].score, 0.5f);
    EXPECT_EQ(out[1].class_id, 5);
    EXPECT_FLOAT_EQ(out[2].score, 0.3f);
}

TEST(DetectNms, ThresholdIsStrict) {
    // IoU of these two is exactly 1/3.
    std::vector<Detection> in = {det(0, 0, 10, 10, 1, 0.9f), det(5, 0, 10, 10, 1, 0.8f)};
    EXPECT_EQ(nms_per_class(in, 0.34f).size(), 2u);
    EXPECT_EQ(nms_per_class(in, 0.33f).size(), 1u);
}

TEST(DetectNms, ChainDoesNotSuppressTransitively) {
    // B overlaps A and C, A and C do not overlap: A suppresses B, C survives.
    std::vector<Detection> in = {det(0, 0, 10, 10, 0, 0.9f), det(4, 0, 10, 10, 0, 0.8f),
                                 det(8, 0, 10, 10, 0, 0.7f)};
    auto out = nms_per_class(in, 0.4f);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_FLOAT_EQ(out[0].score, 0.9f);
    EXPECT_FLOAT_EQ(out[1].score, 0.7f);
}

TEST(DetectNms, EmptyInput) { EXPECT_TRUE(nms_per_class({}, 0.5f).empty()); }

}  // namespace
}  // namespace vigil::detect
