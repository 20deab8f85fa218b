#pragma once
// One network forward pass, whatever runs it. A runtime takes the NCHW float
// blob and returns the model's raw outputs; decoding lives elsewhere so both
// runtimes share it (and can be compared output for output).
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "detect/detect_model_zoo.h"

namespace vigil::detect {

class InferenceRuntime {
public:
    virtual ~InferenceRuntime() = default;
    // blob: 1x3xHxW CV_32F. Outputs stay valid until the next call.
    virtual const std::vector<cv::Mat>& forward(const cv::Mat& blob) = 0;
    virtual std::string backend_name() const = 0;  // "onnxruntime" | "opencv"
};

// Whether this build carries ONNX Runtime.
bool have_onnxruntime();

// Loads the spec's weights from models_dir. Throws vigil::Error for a missing
// file (naming the path), a file that is not the expected format, or a model
// whose declared input size is not spec.input_size.
std::unique_ptr<InferenceRuntime> make_onnxruntime_runtime(const ModelSpec& spec,
                                                           const std::filesystem::path& models_dir,
                                                           int threads);
// threads: OpenCV's thread pool is process-wide, so this sets it for every
// OpenCV user in the process (cv::setNumThreads); <= 0 leaves it alone.
std::unique_ptr<InferenceRuntime> make_opencv_runtime(const ModelSpec& spec,
                                                      const std::filesystem::path& models_dir,
                                                      int threads);

// Shared checks before a runtime opens a model file.
void require_model_file(const std::filesystem::path& path, const ModelSpec& spec);
void require_onnx_file(const std::filesystem::path& path);

}  // namespace vigil::detect
