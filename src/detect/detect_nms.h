#pragma once
// Class-aware non-maximum suppression: a box only suppresses lower-scored
// boxes of its own class, so a person in front of a bus keeps both.
#include <vector>

#include "core/detection.h"

namespace vigil::detect {

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b);

// Keeps, per class_id, the highest-scored boxes whose IoU with every kept box
// of that class is <= iou_threshold. Result is sorted by descending score.
std::vector<Detection> nms_per_class(std::vector<Detection> detections, float iou_threshold);

}  // namespace vigil::detect
