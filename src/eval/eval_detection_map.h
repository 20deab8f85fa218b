#pragma once
// COCO-style detection AP: per class, detections ranked by score and matched
// greedily (each to the unmatched gt of the same class it overlaps most, at
// least at the IoU threshold), precision made monotone and sampled at 101
// recall points; mAP averages classes that have ground truth.
#include <array>
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

#include "core/detection.h"

namespace vigil::eval {

struct GroundTruthBox {
    cv::Rect2f box;  // pixels, top-left corner
    int class_id = -1;
};

struct ImageDetections {
    std::vector<GroundTruthBox> ground_truth;
    std::vector<Detection> detections;  // class_id < 0 are ignored
};

constexpr int kCocoIouThresholdCount = 10;  // 0.50, 0.55, ..., 0.95

// IoU threshold of index i, as numpy.linspace(0.5, 0.95, 10) gives it.
double coco_iou_threshold(int i);

struct ClassAp {
    int class_id = -1;
    int num_ground_truth = 0;
    int num_detections = 0;
    std::array<double, kCocoIouThresholdCount> ap{};  // per IoU threshold
    double ap50() const { return ap[0]; }
    double ap50_95() const;
};

struct DetectionMapResult {
    double map50 = 0;
    double map50_95 = 0;
    std::vector<ClassAp> per_class;  // classes with ground truth, by class id
    int images = 0;
};

// YOLO label file (lines "class cx cy w h", normalised to the image) as
// pixel boxes for an image of image_size. A missing file means no objects.
// Throws vigil::Error naming file:line for malformed lines.
std::vector<GroundTruthBox> read_yolo_labels(const std::filesystem::path& label_file, cv::Size image_size);

// max_detections_per_image caps each image's detections per class by score
// (COCO's maxDets = 100).
DetectionMapResult compute_detection_map(const std::vector<ImageDetections>& images,
                                         int max_detections_per_image = 100);

}  // namespace vigil::eval
