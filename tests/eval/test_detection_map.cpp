// COCO-style AP on hand-built cases; expected values derived in comments.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/eval_detection_map.h"
#include "testing/test_support.h"

namespace {

using vigil::eval::GroundTruthBox;
using vigil::eval::ImageDetections;

vigil::Detection det(float x, float y, float w, float h, int cls, float score) {
    vigil::Detection d;
    d.box = {x, y, w, h};
    d.class_id = cls;
    d.score = score;
    return d;
}

GroundTruthBox gt(float x, float y, float w, float h, int cls) { return {{x, y, w, h}, cls}; }

TEST(DetectionMap, PerfectDetectionsScoreOne) {
    std::vector<ImageDetections> images(2);
    images[0].ground_truth = {gt(0, 0, 50, 50, 0), gt(100, 100, 40, 80, 2)};
    images[1].ground_truth = {gt(10, 10, 30, 30, 0)};
    for (auto& image : images)
        for (const auto& g : image.ground_truth)
            image.detections.push_back(det(g.box.x, g.box.y, g.box.width, g.box.height, g.class_id, 0.9f));
    const auto result = vigil::eval::compute_detection_map(images);
    EXPECT_DOUBLE_EQ(result.map50, 1.0);
    EXPECT_DOUBLE_EQ(result.map50_95, 1.0);
    ASSERT_EQ(result.per_class.size(), 2u);
    EXPECT_EQ(result.per_class[0].num_ground_truth, 2);
}

TEST(DetectionMap, FalsePositiveAtTopScoreHalvesPrecision) {
    // Ranked: FP (0.9), TP (0.8). Recall [0, 1], precision [0, 0.5]; made
    // monotone it is 0.5 everywhere, so all 101 recall points give 0.5.
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0)};
    image.detections = {det(300, 300, 50, 50, 0, 0.9f), det(0, 0, 100, 100, 0, 0.8f)};
    const auto result = vigil::eval::compute_detection_map({image});
    EXPECT_NEAR(result.map50, 0.5, 1e-12);
    EXPECT_NEAR(result.map50_95, 0.5, 1e-12);
}

TEST(DetectionMap, HalfRecallCoversFiftyOneOfOneHundredOneRecallPoints) {
    // Two gt, one found with precision 1: recall points 0.00..0.50 (51 of
    // 101) have precision 1, the rest 0 -> AP = 51 / 101.
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0), gt(200, 0, 100, 100, 0)};
    image.detections = {det(0, 0, 100, 100, 0, 0.7f)};
    EXPECT_NEAR(vigil::eval::compute_detection_map({image}).map50, 51.0 / 101.0, 1e-12);
}

TEST(DetectionMap, LooseBoxCountsOnlyUpToItsIou) {
    // IoU 72 / 100 = 0.72: a match at thresholds 0.50 .. 0.70 (5 of 10).
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0)};
    image.detections = {det(0, 0, 100, 72, 0, 0.9f)};
    const auto result = vigil::eval::compute_detection_map({image});
    EXPECT_DOUBLE_EQ(result.map50, 1.0);
    EXPECT_NEAR(result.map50_95, 0.5, 1e-12);
}

TEST(DetectionMap, DuplicateDetectionIsAFalsePositive) {
    // Ranked TP (0.9), duplicate (0.8): recall reaches 1 at precision 1 first,
    // so AP stays 1 (the later FP does not lower interpolated precision).
    // Reversed scores would make it 0.5, as in the false-positive case.
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0)};
    image.detections = {det(0, 0, 100, 100, 0, 0.9f), det(2, 2, 100, 100, 0, 0.8f)};
    EXPECT_DOUBLE_EQ(vigil::eval::compute_detection_map({image}).map50, 1.0);
    image.detections = {det(0, 0, 100, 100, 0, 0.8f), det(2, 2, 100, 100, 0, 0.9f)};
    // The 0.9 box (IoU 0.92) takes the gt; the exact box is then unmatched.
    EXPECT_DOUBLE_EQ(vigil::eval::compute_detection_map({image}).map50, 1.0);
    image.detections = {det(0, 0, 100, 100, 0, 0.8f), det(300, 300, 10, 10, 0, 0.9f)};
    EXPECT_NEAR(vigil::eval::compute_detection_map({image}).map50, 0.5, 1e-12);
}

TEST(DetectionMap, ClassesWithoutGroundTruthAreLeftOutOfTheMean) {
    // Class 0 perfect (AP 1); class 1 has gt but no detection (AP 0); class 5
    // only has a detection: not part of the mean. mAP = (1 + 0) / 2.
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0), gt(200, 200, 50, 50, 1)};
    image.detections = {det(0, 0, 100, 100, 0, 0.9f), det(400, 400, 20, 20, 5, 0.99f)};
    const auto result = vigil::eval::compute_detection_map({image});
    ASSERT_EQ(result.per_class.size(), 2u);
    EXPECT_EQ(result.per_class[1].class_id, 1);
    EXPECT_DOUBLE_EQ(result.per_class[1].ap50(), 0.0);
    EXPECT_DOUBLE_EQ(result.map50, 0.5);
}

TEST(DetectionMap, WrongClassNeverMatches) {
    ImageDetections image;
    image.ground_truth = {gt(0, 0, 100, 100, 0)};
    image.detections = {det(0, 0, 100, 100, 3, 0.9f)};
    EXPECT_DOUBLE_EQ(vigil::eval::compute_detection_map({image}).map50, 0.0);
}

TEST(DetectionMap, RankingSpansImages) {
    // Image A: TP 0.9; image B: FP 0.8 then TP 0.6; two gt in all.
    // Ranked TP, FP, TP: recall .5, .5, 1; precision 1, .5, 2/3 -> monotone
    // 1, 2/3, 2/3. Recall points 0..0.5 (51) get 1, 0.51..1 (50) get 2/3.
    ImageDetections a, b;
    a.ground_truth = {gt(0, 0, 100, 100, 0)};
    a.detections = {det(0, 0, 100, 100, 0, 0.9f)};
    b.ground_truth = {gt(0, 0, 100, 100, 0)};
    b.detections = {det(500, 500, 10, 10, 0, 0.8f), det(0, 0, 100, 100, 0, 0.6f)};
    EXPECT_NEAR(vigil::eval::compute_detection_map({a, b}).map50, (51.0 + 50.0 * 2.0 / 3.0) / 101.0, 1e-12);
}

TEST(DetectionMap, ReadsYoloLabelsInPixels) {
    vigil::testing::TempDir dir;
    vigil::testing::write_file(dir / "img.txt", "3 0.5 0.25 0.2 0.1\n\n0 0.1 0.1 0.2 0.2\n");
    const auto boxes = vigil::eval::read_yolo_labels(dir / "img.txt", cv::Size(640, 480));
    ASSERT_EQ(boxes.size(), 2u);
    EXPECT_EQ(boxes[0].class_id, 3);
    EXPECT_FLOAT_EQ(boxes[0].box.x, 256);     // (0.5 - 0.1) * 640
    EXPECT_FLOAT_EQ(boxes[0].box.y, 96);      // (0.25 - 0.05) * 480
    EXPECT_FLOAT_EQ(boxes[0].box.width, 128);
    EXPECT_FLOAT_EQ(boxes[0].box.height, 48);
    EXPECT_TRUE(vigil::eval::read_yolo_labels(dir / "none.txt", cv::Size(10, 10)).empty());
    vigil::testing::write_file(dir / "bad.txt", "1 0.5 0.5\n");
    try {
        vigil::eval::read_yolo_labels(dir / "bad.txt", cv::Size(10, 10));
        FAIL() << "short line accepted";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.txt:1"), std::string::npos) << e.what();
    }
}

TEST(DetectionMap, CocoSubsetLabelsAgainstThemselvesScoreOne) {
    const auto labels = vigil::testing::shared_path("eval/coco-val2017-subset/labels");
    std::vector<ImageDetections> images;
    for (const auto& entry : std::filesystem::directory_iterator(labels)) {
        ImageDetections image;
        image.ground_truth = vigil::eval::read_yolo_labels(entry.path(), cv::Size(640, 480));
        for (const auto& g : image.ground_truth)
            image.detections.push_back(det(g.box.x, g.box.y, g.box.width, g.box.height, g.class_id, 0.5f));
        images.push_back(std::move(image));
    }
    ASSERT_GT(images.size(), 50u);
    const auto result = vigil::eval::compute_detection_map(images);
    EXPECT_DOUBLE_EQ(result.map50_95, 1.0);
    EXPECT_GT(result.per_class.size(), 20u);
}

}  // namespace
