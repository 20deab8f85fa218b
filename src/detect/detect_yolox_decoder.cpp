#include <cmath>

#include "detect/detect_decoder.h"
#include "detect/detect_decoder_internal.h"

namespace vigil::detect {

void decode_yolox(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                  std::vector<Detection>& out) {
    static constexpr int strides[] = {8, 16, 32};
    int anchors = 0;
    for (int s : strides) anchors += (input.width / s) * (input.height / s);
    const bool ok = outputs.size() == 1 && outputs[0].dims == 3 && outputs[0].size[1] == anchors &&
                    outputs[0].size[2] > 5 && outputs[0].type() == CV_32F && outputs[0].isContinuous();
    require_output(ok, "yolox", outputs, input, "one (1," + std::to_string(anchors) + ",5+classes) tensor");
    const int cols = outputs[0].size[2];
    const int classes = cols - 5;
    const float* row = outputs[0].ptr<float>();
    for (int s : strides) {
        const int gw = input.width / s;
        const int gh = input.height / s;
        const float stride = static_cast<float>(s);
        for (int gy = 0; gy < gh; ++gy) {
            for (int gx = 0; gx < gw; ++gx, row += cols) {
                const float obj = row[4];
                if (obj < min_score) continue;  // class scores are <= 1
                const float* cls = row + 5;
                int best = 0;
                for (int c = 1; c < classes; ++c) {
                    if (cls[c] > cls[best]) best = c;
                }
                const float score = obj * cls[best];
                if (score < min_score) continue;
                const float cx = (row[0] + static_cast<float>(gx)) * stride;
                const float cy = (row[1] + static_cast<float>(gy)) * stride;
                const float w = std::exp(row[2]) * stride;
                const float h = std::exp(row[3]) * stride;
                Detection d;
                d.box = {cx - w * 0.5f, cy - h * 0.5f, w, h};
                d.class_id = best;
                d.score = score;
                out.push_back(std::move(d));
            }
        }
    }
}

}  // namespace vigil::detect
