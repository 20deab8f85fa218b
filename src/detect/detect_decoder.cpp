#include "detect/detect_decoder.h"

#include <string>

#include "core/error.h"
#include "detect/detect_decoder_internal.h"

namespace vigil::detect {

std::string shape_string(const cv::Mat& m) {
    std::string s = "(";
    for (int i = 0; i < m.dims; ++i) {
        if (i) s += ',';
        s += std::to_string(m.size[i]);
    }
    s += ')';
    return s;
}

void require_output(bool ok, const char* model, const std::vector<cv::Mat>& outputs, cv::Size input,
                    const std::string& expected) {
    if (ok) return;
    std::string shapes;
    for (const auto& m : outputs) {
        if (!shapes.empty()) shapes += ' ';
        shapes += shape_string(m);
    }
    throw Error(std::string(model) + " model output " + shapes + " does not fit a " +
                std::to_string(input.width) + "x" + std::to_string(input.height) + " input: expected " +
                expected + " (was the model exported for another input size?)");
}

void decode(OutputDecoder decoder, const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
            std::vector<Detection>& out) {
    switch (decoder) {
        case OutputDecoder::yolox: decode_yolox(outputs, input, min_score, out); return;
        case OutputDecoder::fastestdet: decode_fastestdet(outputs, input, min_score, out); return;
        case OutputDecoder::darknet_yolo: decode_darknet_yolo(outputs, input, min_score, out); return;
        case OutputDecoder::none: return;
    }
}

}  // namespace vigil::detect
