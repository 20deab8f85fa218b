#include <cmath>

#include "detect/detect_decoder.h"
#include "detect/detect_decoder_internal.h"

namespace vigil::detect {

void decode_fastestdet(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                       std::vector<Detection>& out) {
    const int gw = input.width / 16;
    const int gh = input.height / 16;
    const bool ok = outputs.size() == 1 && outputs[0].dims == 4 && outputs[0].size[1] > 5 &&
                    outputs[0].size[2] == gh && outputs[0].size[3] == gw && outputs[0].type() == CV_32F &&
                    outputs[0].isContinuous();
    require_output(ok, "fastestdet", outputs, input,
                   "one (1,5+classes," + std::to_string(gh) + "," + std::to_string(gw) + ") tensor");
    const int classes = outputs[0].size[1] - 5;
    const size_t plane = static_cast<size_t>(gw) * gh;
    const float* data = outputs[0].ptr<float>();
    for (int gy = 0; gy < gh; ++gy) {
        for (int gx = 0; gx < gw; ++gx) {
            const size_t cell = static_cast<size_t>(gy) * gw + gx;
            const float obj = data[cell];
            if (obj < min_score) continue;  // class scores are <= 1
            const float* cls = data + 5 * plane + cell;
            int best = 0;
            for (int c = 1; c < classes; ++c) {
                if (cls[c * plane] > cls[best * plane]) best = c;
            }
            const float score = obj * cls[best * plane];
            if (score < min_score) continue;
            const float tx = std::tanh(data[plane + cell]);
            const float ty = std::tanh(data[2 * plane + cell]);
            const float w = 1.f / (1.f + std::exp(-data[3 * plane + cell]));
            const float h = 1.f / (1.f + std::exp(-data[4 * plane + cell]));
            const float cx = (static_cast<float>(gx) + tx) / static_cast<float>(gw);
            const float cy = (static_cast<float>(gy) + ty) / static_cast<float>(gh);
            Detection d;
            d.box = {(cx - w * 0.5f) * input.width, (cy - h * 0.5f) * input.height, w * input.width,
                     h * input.height};
            d.class_id = best;
            d.score = score;
            out.push_back(std::move(d));
        }
    }
}

}  // namespace vigil::detect
