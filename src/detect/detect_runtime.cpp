#include "detect/detect_runtime.h"

#include "core/error.h"
#include "detect/detect_onnx_probe.h"

namespace vigil::detect {

namespace fs = std::filesystem;

void require_model_file(const fs::path& path, const ModelSpec& spec) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        throw Error("detector '" + spec.name + "': model file not found: " + path.string() +
                    " (models are looked up as <models_dir>/detectors/" + spec.folder +
                    "/; set VIGIL_MODELS_DIR to the folder that holds detectors/)");
    }
}

void require_onnx_file(const fs::path& path) {
    (void)onnx_input_shape(path);
}

}  // namespace vigil::detect

#include <fstream>

#include "detect/detect_input_check.h"

namespace vigil::detect {

void check_declared_input(const std::vector<int64_t>& nchw, const fs::path& path, const ModelSpec& spec) {
    auto fits = [](int64_t dim, int64_t want) { return dim < 0 || dim == want; };
    const bool ok = nchw.size() == 4 && fits(nchw[1], 3) && fits(nchw[2], spec.input_size.height) &&
                    fits(nchw[3], spec.input_size.width);
    if (ok) return;
    std::string shape;
    for (auto d : nchw) {
        if (!shape.empty()) shape += 'x';
        shape += d < 0 ? std::string("?") : std::to_string(d);
    }
    throw Error("detector '" + spec.name + "': model " + path.string() + " declares input " + shape +
                " but '" + spec.name + "' expects 1x3x" + std::to_string(spec.input_size.height) + "x" +
                std::to_string(spec.input_size.width) + " (wrong model file or wrong export size)");
}

std::vector<int64_t> darknet_input_shape(const fs::path& cfg) {
    std::ifstream in(cfg);
    if (!in) throw Error("cannot read Darknet config " + cfg.string());
    std::string line;
    bool in_net = false;
    int64_t width = -1, height = -1;
    while (std::getline(in, line)) {
        std::erase_if(line, [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            if (in_net) break;
            in_net = line == "[net]" || line == "[network]";
            continue;
        }
        if (!in_net) continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string key = line.substr(0, eq);
        try {
            if (key == "width") width = std::stoll(line.substr(eq + 1));
            if (key == "height") height = std::stoll(line.substr(eq + 1));
        } catch (const std::exception&) {
            throw Error("Darknet config " + cfg.string() + ": [net] " + key + " is not a number");
        }
    }
    if (width <= 0 || height <= 0) {
        throw Error("not a Darknet config (no [net] width/height): " + cfg.string());
    }
    return {1, 3, height, width};
}

}  // namespace vigil::detect
