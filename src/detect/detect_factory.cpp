#include <filesystem>

#include "core/error.h"
#include "core/paths.h"
#include "detect/detect_motion.h"
#include "detect/detect_network_detector.h"
#include "detect/detector.h"

namespace vigil::detect {

namespace {

// auto: ONNX Runtime for ONNX models when the build has it (~5x faster than
// OpenCV 4.6 DNN on these models), OpenCV DNN for everything else.
std::unique_ptr<InferenceRuntime> make_runtime(const ModelSpec& spec, const std::filesystem::path& models_dir,
                                               const DetectorConfig& config) {
    const std::string& backend = config.backend;
    if (backend == "onnxruntime") return make_onnxruntime_runtime(spec, models_dir, config.threads);
    if (backend == "opencv") return make_opencv_runtime(spec, models_dir, config.threads);
    if (backend == "auto") {
        if (spec.format == ModelFormat::onnx && have_onnxruntime()) {
            return make_onnxruntime_runtime(spec, models_dir, config.threads);
        }
        return make_opencv_runtime(spec, models_dir, config.threads);
    }
    throw Error("detector backend '" + backend + "' is unknown (known: auto, onnxruntime, opencv)");
}

}  // namespace

std::vector<std::string> detector_names() {
    std::vector<std::string> names;
    for (const auto& spec : model_zoo()) names.push_back(spec.name);
    return names;
}

std::unique_ptr<Detector> make_detector(const DetectorConfig& config) {
    const ModelSpec* spec = find_model(config.name);
    if (!spec) {
        throw Error("unknown detector '" + config.name + "' (known: " + known_model_names() + ")");
    }
    if (config.threads < 1) {
        throw Error("detector threads = " + std::to_string(config.threads) + ": expected >= 1");
    }
    if (spec->format == ModelFormat::none) return make_motion_detector(config);
    const std::filesystem::path models_dir = config.models_dir.empty() ? vigil::models_dir()
                                                                       : std::filesystem::path(config.models_dir);
    // The model first: a missing model is the likelier problem and its
    // message names the file to fetch.
    auto runtime = make_runtime(*spec, models_dir, config);
    auto class_names = load_class_names(models_dir);
    return std::make_unique<NetworkDetector>(*spec, std::move(runtime), std::move(class_names), config);
}

}  // namespace vigil::detect
