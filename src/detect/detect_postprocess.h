#pragma once
// What every detector does after its raw output is decoded: per-class score
// thresholds, the class filter, NMS and the ROI mask, resolved once from the
// DetectorConfig so the per-frame path is plain lookups.
#include <string>
#include <vector>

#include "core/detection.h"
#include "detect/detector.h"

namespace vigil::detect {

class PostProcessor {
public:
    // Throws vigil::Error for a class name (in class_thresholds or classes)
    // that is not one of `class_names`, or a threshold outside [0, 1].
    PostProcessor(const DetectorConfig& config, const std::vector<std::string>& class_names);

    // Lowest threshold of any kept class: decoders drop candidates below it.
    float min_threshold() const { return min_threshold_; }
    bool keeps_class(int class_id) const;
    float threshold_of(int class_id) const;

    // Candidates in frame pixels with class_id set: drops by threshold, class
    // and ROI, runs class-aware NMS, fills labels.
    std::vector<Detection> finish(std::vector<Detection> candidates, cv::Size frame_size) const;

    // For detectors whose labels are fixed strings (motion): threshold by
    // score_threshold, filter by label, ROI.
    std::vector<Detection> finish_labelled(std::vector<Detection> detections, cv::Size frame_size) const;

private:
    bool inside_roi(const Detection& d, cv::Size frame_size) const;

    std::vector<std::string> class_names_;
    std::vector<float> thresholds_;  // per class id
    std::vector<bool> keep_;         // per class id
    std::vector<std::string> label_filter_;
    std::map<std::string, float> label_thresholds_;
    float score_threshold_ = 0.25f;
    float min_threshold_ = 0.25f;
    float nms_iou_ = 0.45f;
    cv::Mat roi_mask_;
};

}  // namespace vigil::detect
