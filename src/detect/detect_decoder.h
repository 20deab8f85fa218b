#pragma once
// Raw network outputs -> candidate detections in network-input pixels, one
// decoder per output layout. Candidates below min_score are dropped here
// (the expensive part is touching every anchor once); thresholds per class,
// NMS and mapping to frame pixels come after.
#include <opencv2/core.hpp>
#include <vector>

#include "core/detection.h"
#include "detect/detect_model_zoo.h"

namespace vigil::detect {

// (1, N, 5+C): cx, cy, w, h as grid offsets/log sizes, obj, C class scores
// (both already sigmoid). N must equal the anchors of strides 8/16/32.
void decode_yolox(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                  std::vector<Detection>& out);

// (1, 5+C, H/16, W/16): obj, tx, ty (tanh offsets), w, h (sigmoid, relative
// to the input), C class scores. Score = obj * cls like the other decoders,
// not upstream's obj^0.6 * cls^0.4: on the COCO val subset both rank equally
// (micro-AP50 0.339 vs 0.337) but upstream's inflates scores: at threshold
// 0.3 it let through 3.6 false positives per true one (1.2 with obj * cls).
void decode_fastestdet(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                       std::vector<Detection>& out);

// One (rows, 5+C) matrix per YOLO layer as OpenCV's Darknet importer gives
// them: cx, cy, w, h relative to the input, obj, C class confidences.
void decode_darknet_yolo(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                         std::vector<Detection>& out);

void decode(OutputDecoder decoder, const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
            std::vector<Detection>& out);

}  // namespace vigil::detect
