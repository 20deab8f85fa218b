#pragma once
// The detectors Vigil knows by name: where each one's files live under
// <models_dir>/detectors/, its network input, how a frame is turned into the
// network's input, and which decoder reads its raw output.
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace vigil::detect {

enum class ModelFormat { onnx, darknet, none };

enum class OutputDecoder {
    yolox,        // (1, N, 85) raw head, grid offsets + exp sizes at strides 8/16/32
    fastestdet,   // (1, 85, H/16, W/16): obj, 4 box, 80 cls
    darknet_yolo, // one (rows, 85) matrix per YOLO layer, boxes relative to the input
    none,
};

// How the frame becomes the network input. Models were trained one way or
// the other; using the wrong one shifts or squashes boxes.
enum class ResizeMode {
    stretch,           // plain resize to the input size (aspect not kept)
    letterbox_top_left // keep aspect, pad right/bottom
};

struct ModelSpec {
    std::string name;            // catalog name, e.g. "yolox-nano"
    std::string folder;          // under <models_dir>/detectors/
    std::string weights_file;    // ONNX model or Darknet weights
    std::string config_file;     // Darknet .cfg; empty for ONNX
    ModelFormat format = ModelFormat::none;
    cv::Size input_size;         // W x H the network was exported for
    OutputDecoder decoder = OutputDecoder::none;
    ResizeMode resize = ResizeMode::stretch;
    bool swap_rb = false;        // true: the network takes RGB
    double pixel_scale = 1.0;    // multiplies 0..255 pixel values
    double pad_value = 114.0;    // for letterbox modes
};

// Every named detector, network models first, then "motion".
const std::vector<ModelSpec>& model_zoo();

// Null when unknown.
const ModelSpec* find_model(const std::string& name);

// Comma-separated known names, for error messages.
std::string known_model_names();

std::filesystem::path weights_path(const ModelSpec& spec, const std::filesystem::path& models_dir);
std::filesystem::path config_path(const ModelSpec& spec, const std::filesystem::path& models_dir);

// <models_dir>/detectors/coco.names: one class per line, ids in file order.
std::vector<std::string> load_class_names(const std::filesystem::path& models_dir);

}  // namespace vigil::detect
