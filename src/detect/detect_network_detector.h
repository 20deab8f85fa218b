#pragma once
// A Detector over a neural network: preprocess (resize/letterbox, blob),
// one runtime forward, decode, post-process. Exposed for the benchmark, which
// times the runtime's bare forward on the same blob beside detect().
// One instance serves one stream at a time: it reuses its buffers per call.
#include <memory>

#include "detect/detect_letterbox.h"
#include "detect/detect_postprocess.h"
#include "detect/detect_runtime.h"
#include "detect/detector.h"

namespace vigil::detect {

class NetworkDetector : public Detector {
public:
    NetworkDetector(const ModelSpec& spec, std::unique_ptr<InferenceRuntime> runtime,
                    std::vector<std::string> class_names, const DetectorConfig& config);

    std::vector<Detection> detect(const cv::Mat& bgr) override;
    const std::vector<std::string>& class_names() const override { return class_names_; }
    std::string name() const override { return spec_.name + " (" + runtime_->backend_name() + ")"; }
    cv::Size input_size() const override { return spec_.input_size; }

    // Turns a frame into the network's input blob (kept in this object).
    const cv::Mat& preprocess(const cv::Mat& bgr);
    // Raw outputs of the last forward, as the decoder sees them.
    const std::vector<cv::Mat>& forward(const cv::Mat& bgr);
    InferenceRuntime& runtime() { return *runtime_; }
    const InputTransform& last_transform() const { return transform_; }

private:
    ModelSpec spec_;
    std::unique_ptr<InferenceRuntime> runtime_;
    std::vector<std::string> class_names_;
    PostProcessor post_;
    InputTransform transform_;
    cv::Mat converted_, canvas_, blob_;
    std::vector<Detection> candidates_;
};

}  // namespace vigil::detect
