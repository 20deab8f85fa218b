#pragma once
// The detect stage's one interface. Backends live beside it, one file each
// (detect_onnxruntime.cpp, detect_opencv_dnn.cpp, detect_motion.cpp); model
// decoding (YOLOX, FastestDet, Darknet YOLO) is separate from the runtime.
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "core/detection.h"

namespace vigil::detect {

struct DetectorConfig {
    std::string name = "yolox-nano";   // catalog name: yolox-nano, fastestdet, yolo-fastest-1.1, yolo-fastest-1.1-xl, motion
    std::string models_dir;            // empty: vigil::models_dir() (honours VIGIL_MODELS_DIR)
    std::string backend = "auto";      // auto | onnxruntime | opencv
    int threads = 1;
    float score_threshold = 0.25f;
    std::map<std::string, float> class_thresholds;  // per class name, overrides score_threshold
    float nms_iou = 0.45f;             // class-aware NMS
    std::vector<std::string> classes;  // keep only these class names; empty = all
    cv::Mat roi_mask;                  // optional 8-bit mask in frame size; detections whose bottom-centre is 0 are dropped
};

class Detector {
public:
    virtual ~Detector() = default;
    // bgr: 8-bit 3-channel frame of any size. Boxes come back in its pixels.
    virtual std::vector<Detection> detect(const cv::Mat& bgr) = 0;
    virtual const std::vector<std::string>& class_names() const = 0;
    virtual std::string name() const = 0;      // e.g. "yolox-nano (onnxruntime)"
    virtual cv::Size input_size() const = 0;   // network input; (0,0) for motion
};

// Throws vigil::Error for an unknown name (listing the known ones), missing
// weights (naming the path looked in), or a model whose input size does not
// match what the named detector expects.
std::unique_ptr<Detector> make_detector(const DetectorConfig& config);

// Names make_detector accepts.
std::vector<std::string> detector_names();

}  // namespace vigil::detect
