#include "detect/detect_model_zoo.h"

#include <fstream>

#include "core/error.h"

namespace vigil::detect {

namespace fs = std::filesystem;

const std::vector<ModelSpec>& model_zoo() {
    // Preprocessing as each model's upstream inference code does it (see
    // shared/models/detectors/SOURCES.md): YOLOX letterboxes raw BGR 0..255
    // with pad 114; FastestDet and Darknet stretch to the input and scale to
    // 0..1, Darknet in RGB. Checked on the shared COCO val subset (micro-AP50,
    // stretch vs letterbox): FastestDet 0.339 vs 0.303, Yolo-Fastest-XL 0.358
    // vs 0.336, YOLOX-nano 0.467 vs 0.466 (letterbox kept: fewer false positives).
    static const std::vector<ModelSpec> zoo = {
        {"yolox-nano", "yolox-nano", "yolox_nano.onnx", "", ModelFormat::onnx, {416, 416},
         OutputDecoder::yolox, ResizeMode::letterbox_top_left, false, 1.0, 114.0},
        {"fastestdet", "fastestdet", "FastestDet.onnx", "", ModelFormat::onnx, {352, 352},
         OutputDecoder::fastestdet, ResizeMode::stretch, false, 1.0 / 255.0, 0.0},
        {"yolo-fastest-1.1", "yolo-fastest-1.1", "yolo-fastest-1.1.weights", "yolo-fastest-1.1.cfg",
         ModelFormat::darknet, {320, 320}, OutputDecoder::darknet_yolo, ResizeMode::stretch, true,
         1.0 / 255.0, 0.0},
        {"yolo-fastest-1.1-xl", "yolo-fastest-1.1", "yolo-fastest-1.1-xl.weights",
         "yolo-fastest-1.1-xl.cfg", ModelFormat::darknet, {320, 320}, OutputDecoder::darknet_yolo,
         ResizeMode::stretch, true, 1.0 / 255.0, 0.0},
        {"motion", "", "", "", ModelFormat::none, {0, 0}, OutputDecoder::none, ResizeMode::stretch,
         false, 1.0, 0.0},
    };
    return zoo;
}

const ModelSpec* find_model(const std::string& name) {
    for (const auto& spec : model_zoo()) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

std::string known_model_names() {
    std::string names;
    for (const auto& spec : model_zoo()) {
        if (!names.empty()) names += ", ";
        names += spec.name;
    }
    return names;
}

fs::path weights_path(const ModelSpec& spec, const fs::path& models_dir) {
    return models_dir / "detectors" / spec.folder / spec.weights_file;
}

fs::path config_path(const ModelSpec& spec, const fs::path& models_dir) {
    return models_dir / "detectors" / spec.folder / spec.config_file;
}

std::vector<std::string> load_class_names(const fs::path& models_dir) {
    const fs::path path = models_dir / "detectors" / "coco.names";
    std::ifstream in(path);
    if (!in) {
        throw Error("class names file not found: " + path.string() +
                    " (expected one class name per line; set VIGIL_MODELS_DIR to the folder holding detectors/)");
    }
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) names.push_back(line);
    }
    if (names.empty()) throw Error("class names file is empty: " + path.string());
    return names;
}

}  // namespace vigil::detect
