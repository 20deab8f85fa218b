#include "detect/detect_postprocess.h"

#include <algorithm>

#include "core/error.h"
#include "detect/detect_nms.h"

namespace vigil::detect {

namespace {

void check_threshold(const std::string& key, float value) {
    if (!(value >= 0.f && value <= 1.f)) {
        throw Error("detector " + key + " = " + std::to_string(value) + ": expected a score in [0, 1]");
    }
}

int class_index(const std::vector<std::string>& names, const std::string& name, const std::string& key) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
        std::string known;
        for (const auto& n : names) {
            if (!known.empty()) known += ", ";
            known += n;
        }
        throw Error("detector " + key + ": unknown class '" + name + "' (known: " + known + ")");
    }
    return static_cast<int>(it - names.begin());
}

}  // namespace

PostProcessor::PostProcessor(const DetectorConfig& config, const std::vector<std::string>& class_names)
    : class_names_(class_names),
      thresholds_(class_names.size(), config.score_threshold),
      keep_(class_names.size(), config.classes.empty()),
      label_thresholds_(config.class_thresholds),
      score_threshold_(config.score_threshold),
      nms_iou_(config.nms_iou),
      roi_mask_(config.roi_mask) {
    check_threshold("score_threshold", config.score_threshold);
    check_threshold("nms_iou", config.nms_iou);
    for (const auto& [name, value] : config.class_thresholds) {
        check_threshold("class_thresholds." + name, value);
        thresholds_[class_index(class_names, name, "class_thresholds")] = value;
    }
    for (const auto& name : config.classes) {
        keep_[class_index(class_names, name, "classes")] = true;
    }
    label_filter_ = config.classes;
    if (!roi_mask_.empty() && roi_mask_.type() != CV_8UC1) {
        throw Error("detector roi_mask: expected an 8-bit single-channel mask, got type " +
                    std::to_string(roi_mask_.type()));
    }
    min_threshold_ = 1.f;
    for (size_t i = 0; i < thresholds_.size(); ++i) {
        if (keep_[i]) min_threshold_ = std::min(min_threshold_, thresholds_[i]);
    }
}

bool PostProcessor::keeps_class(int class_id) const {
    return class_id >= 0 && class_id < static_cast<int>(keep_.size()) && keep_[class_id];
}

float PostProcessor::threshold_of(int class_id) const {
    return class_id >= 0 && class_id < static_cast<int>(thresholds_.size()) ? thresholds_[class_id]
                                                                             : score_threshold_;
}

bool PostProcessor::inside_roi(const Detection& d, cv::Size frame_size) const {
    if (roi_mask_.empty()) return true;
    if (roi_mask_.size() != frame_size) {
        throw Error("detector roi_mask is " + std::to_string(roi_mask_.cols) + "x" +
                    std::to_string(roi_mask_.rows) + " but the frame is " + std::to_string(frame_size.width) +
                    "x" + std::to_string(frame_size.height) + ": expected the frame's size");
    }
    const int x = std::clamp(static_cast<int>(d.box.x + d.box.width * 0.5f), 0, frame_size.width - 1);
    const int y = std::clamp(static_cast<int>(d.box.y + d.box.height), 0, frame_size.height - 1);
    return roi_mask_.at<uint8_t>(y, x) != 0;
}

std::vector<Detection> PostProcessor::finish(std::vector<Detection> candidates, cv::Size frame_size) const {
    std::erase_if(candidates, [&](const Detection& d) {
        return !keeps_class(d.class_id) || d.score < threshold_of(d.class_id) || d.box.width <= 0.f ||
               d.box.height <= 0.f || !inside_roi(d, frame_size);
    });
    auto kept = nms_per_class(std::move(candidates), nms_iou_);
    for (auto& d : kept) d.label = class_names_[d.class_id];
    return kept;
}

std::vector<Detection> PostProcessor::finish_labelled(std::vector<Detection> detections,
                                                      cv::Size frame_size) const {
    std::erase_if(detections, [&](const Detection& d) {
        auto it = label_thresholds_.find(d.label);
        const float threshold = it == label_thresholds_.end() ? score_threshold_ : it->second;
        const bool wanted = label_filter_.empty() ||
                            std::find(label_filter_.begin(), label_filter_.end(), d.label) != label_filter_.end();
        return !wanted || d.score < threshold || !inside_roi(d, frame_size);
    });
    return detections;
}

}  // namespace vigil::detect
