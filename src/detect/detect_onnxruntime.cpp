// ONNX Runtime: the default for ONNX models when the build has it.
#include "detect/detect_runtime.h"

#ifdef VIGIL_HAVE_ONNXRUNTIME

#include <onnxruntime_cxx_api.h>

#include "core/error.h"
#include "detect/detect_input_check.h"
#include "detect/detect_onnx_probe.h"

namespace vigil::detect {

namespace {

Ort::Env& ort_env() {
    static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "vigil");
    return env;
}

class OnnxRuntime : public InferenceRuntime {
public:
    OnnxRuntime(const ModelSpec& spec, const std::filesystem::path& path, int threads)
        : memory_(Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault)) {
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(std::max(threads, 1));
        options.SetInterOpNumThreads(1);
        options.SetExecutionMode(ORT_SEQUENTIAL);
        options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        // Idle intra-op threads spin by default; here they share the cores with
        // capture, tracking and the VLM, whose work the spinning would steal.
        options.AddConfigEntry("session.intra_op.allow_spinning", "0");
        session_ = Ort::Session(ort_env(), path.c_str(), options);
        if (session_.GetInputCount() != 1) {
            throw Error("detector '" + spec.name + "': model " + path.string() + " has " +
                        std::to_string(session_.GetInputCount()) + " inputs, expected one image input");
        }
        check_declared_input(session_.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape(), path, spec);
        Ort::AllocatorWithDefaultOptions allocator;
        input_names_.push_back(session_.GetInputNameAllocated(0, allocator).get());
        for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
            output_names_.push_back(session_.GetOutputNameAllocated(i, allocator).get());
        }
        for (const auto& n : input_names_) input_name_ptrs_.push_back(n.c_str());
        for (const auto& n : output_names_) output_name_ptrs_.push_back(n.c_str());
    }

    const std::vector<cv::Mat>& forward(const cv::Mat& blob) override {
        CV_Assert(blob.isContinuous() && blob.type() == CV_32F && blob.dims == 4);
        const int64_t shape[4] = {blob.size[0], blob.size[1], blob.size[2], blob.size[3]};
        auto input = Ort::Value::CreateTensor<float>(memory_, const_cast<float*>(blob.ptr<float>()), blob.total(),
                                                     shape, 4);
        try {
            values_ = session_.Run(Ort::RunOptions{nullptr}, input_name_ptrs_.data(), &input, 1,
                                   output_name_ptrs_.data(), output_name_ptrs_.size());
        } catch (const Ort::Exception& e) {
            throw Error(std::string("ONNX Runtime inference failed: ") + e.what());
        }
        // The Mats borrow the Ort::Values' memory: no copy, valid until the next call.
        outputs_.clear();
        for (auto& value : values_) {
            const auto dims = value.GetTensorTypeAndShapeInfo().GetShape();
            std::vector<int> sizes(dims.begin(), dims.end());
            outputs_.emplace_back(static_cast<int>(sizes.size()), sizes.data(), CV_32F,
                                  value.GetTensorMutableData<float>());
        }
        return outputs_;
    }

    std::string backend_name() const override { return "onnxruntime"; }

private:
    Ort::MemoryInfo memory_;
    Ort::Session session_{nullptr};
    std::vector<std::string> input_names_, output_names_;
    std::vector<const char*> input_name_ptrs_, output_name_ptrs_;
    std::vector<Ort::Value> values_;
    std::vector<cv::Mat> outputs_;
};

}  // namespace

bool have_onnxruntime() { return true; }

std::unique_ptr<InferenceRuntime> make_onnxruntime_runtime(const ModelSpec& spec,
                                                           const std::filesystem::path& models_dir,
                                                           int threads) {
    const auto path = weights_path(spec, models_dir);
    require_model_file(path, spec);
    if (spec.format != ModelFormat::onnx) {
        throw Error("detector '" + spec.name + "' is not an ONNX model: the onnxruntime backend runs ONNX "
                    "models only (use backend opencv or auto)");
    }
    check_declared_input(onnx_input_shape(path), path, spec);
    try {
        return std::make_unique<OnnxRuntime>(spec, path, threads);
    } catch (const Ort::Exception& e) {
        throw Error("detector '" + spec.name + "': ONNX Runtime cannot load " + path.string() + ": " + e.what());
    }
}

}  // namespace vigil::detect

#else

#include "core/error.h"

namespace vigil::detect {

bool have_onnxruntime() { return false; }

std::unique_ptr<InferenceRuntime> make_onnxruntime_runtime(const ModelSpec& spec, const std::filesystem::path&,
                                                           int) {
    throw Error("detector '" + spec.name + "': this build has no ONNX Runtime (run "
                "scripts/install-onnxruntime.sh and reconfigure), use backend opencv or auto");
}

}  // namespace vigil::detect

#endif
