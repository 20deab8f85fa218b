// OpenCV DNN runtime: runs Darknet models, and ONNX models where the build
// has no ONNX Runtime (about 5x slower on these models, same outputs).
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include "core/error.h"
#include "detect/detect_input_check.h"
#include "detect/detect_onnx_probe.h"
#include "detect/detect_runtime.h"

namespace vigil::detect {

namespace {

class OpenCvRuntime : public InferenceRuntime {
public:
    explicit OpenCvRuntime(cv::dnn::Net net) : net_(std::move(net)) {
        net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        output_names_ = net_.getUnconnectedOutLayersNames();
    }

    const std::vector<cv::Mat>& forward(const cv::Mat& blob) override {
        net_.setInput(blob);
        net_.forward(outputs_, output_names_);
        return outputs_;
    }

    std::string backend_name() const override { return "opencv"; }

private:
    cv::dnn::Net net_;
    std::vector<std::string> output_names_;
    std::vector<cv::Mat> outputs_;
};

}  // namespace

std::unique_ptr<InferenceRuntime> make_opencv_runtime(const ModelSpec& spec,
                                                      const std::filesystem::path& models_dir,
                                                      int threads) {
    const auto weights = weights_path(spec, models_dir);
    require_model_file(weights, spec);
    if (threads > 0) cv::setNumThreads(threads);
    cv::dnn::Net net;
    try {
        if (spec.format == ModelFormat::onnx) {
            check_declared_input(onnx_input_shape(weights), weights, spec);
            net = cv::dnn::readNetFromONNX(weights.string());
        } else if (spec.format == ModelFormat::darknet) {
            const auto cfg = config_path(spec, models_dir);
            require_model_file(cfg, spec);
            check_declared_input(darknet_input_shape(cfg), cfg, spec);
            net = cv::dnn::readNetFromDarknet(cfg.string(), weights.string());
        } else {
            throw Error("detector '" + spec.name + "' has no network to load");
        }
    } catch (const cv::Exception& e) {
        throw Error("detector '" + spec.name + "': OpenCV DNN cannot load " + weights.string() + ": " + e.msg);
    }
    if (net.empty()) throw Error("detector '" + spec.name + "': OpenCV DNN loaded no network from " + weights.string());
    return std::make_unique<OpenCvRuntime>(std::move(net));
}

}  // namespace vigil::detect
