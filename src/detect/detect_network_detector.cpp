#include "detect/detect_network_detector.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "detect/detect_decoder.h"

namespace vigil::detect {

NetworkDetector::NetworkDetector(const ModelSpec& spec, std::unique_ptr<InferenceRuntime> runtime,
                                 std::vector<std::string> class_names, const DetectorConfig& config)
    : spec_(spec),
      runtime_(std::move(runtime)),
      class_names_(std::move(class_names)),
      post_(config, class_names_) {}

const cv::Mat& NetworkDetector::preprocess(const cv::Mat& frame) {
    if (frame.empty()) throw Error("detector '" + spec_.name + "': empty frame");
    const cv::Mat* bgr = &frame;
    if (frame.depth() != CV_8U) {
        throw Error("detector '" + spec_.name + "': expected an 8-bit frame, got depth " +
                    std::to_string(frame.depth()));
    }
    if (frame.channels() == 1 || frame.channels() == 4) {
        cv::cvtColor(frame, converted_, frame.channels() == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGRA2BGR);
        bgr = &converted_;
    } else if (frame.channels() != 3) {
        throw Error("detector '" + spec_.name + "': expected a BGR frame, got " +
                    std::to_string(frame.channels()) + " channels");
    }
    transform_ = InputTransform::make(bgr->size(), spec_.input_size, spec_.resize);
    resize_into_input(*bgr, transform_, spec_.pad_value, canvas_);
    image_to_blob(canvas_, static_cast<float>(spec_.pixel_scale), spec_.swap_rb, blob_);
    return blob_;
}

const std::vector<cv::Mat>& NetworkDetector::forward(const cv::Mat& bgr) {
    return runtime_->forward(preprocess(bgr));
}

std::vector<Detection> NetworkDetector::detect(const cv::Mat& bgr) {
    const auto& outputs = forward(bgr);
    candidates_.clear();
    decode(spec_.decoder, outputs, spec_.input_size, post_.min_threshold(), candidates_);
    for (auto& d : candidates_) d.box = transform_.to_frame(d.box);
    return post_.finish(candidates_, transform_.frame_size);
}

}  // namespace vigil::detect
