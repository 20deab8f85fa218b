#include "detect/detect_nms.h"

#include <algorithm>

namespace vigil::detect {

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b) {
    const float inter = (a & b).area();
    if (inter <= 0.f) return 0.f;
    const float uni = a.area() + b.area() - inter;
    return uni > 0.f ? inter / uni : 0.f;
}

std::vector<Detection> nms_per_class(std::vector<Detection> detections, float iou_threshold) {
    std::stable_sort(detections.begin(), detections.end(),
                     [](const Detection& a, const Detection& b) { return a.score > b.score; });
    std::vector<Detection> kept;
    kept.reserve(detections.size());
    for (auto& candidate : detections) {
        bool suppressed = false;
        for (const auto& k : kept) {
            if (k.class_id == candidate.class_id && box_iou(k.box, candidate.box) > iou_threshold) {
                suppressed = true;
                break;
            }
        }
        if (!suppressed) kept.push_back(std::move(candidate));
    }
    return kept;
}

}  // namespace vigil::detect
