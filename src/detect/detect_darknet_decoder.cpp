#include "detect/detect_decoder.h"
#include "detect/detect_decoder_internal.h"

namespace vigil::detect {

void decode_darknet_yolo(const std::vector<cv::Mat>& outputs, cv::Size input, float min_score,
                         std::vector<Detection>& out) {
    // Rows per layer are grid cells x 3 anchors at strides 32 and 16.
    const int expected_rows = 3 * (input.width / 32) * (input.height / 32) + 3 * (input.width / 16) * (input.height / 16);
    int rows = 0;
    bool ok = !outputs.empty();
    for (const auto& m : outputs) {
        ok = ok && m.dims == 2 && m.cols > 5 && m.type() == CV_32F;
        rows += m.rows;
    }
    require_output(ok && rows == expected_rows, "darknet yolo", outputs, input,
                   std::to_string(expected_rows) + " rows of 5+classes over the YOLO layers");
    for (const auto& m : outputs) {
        const int classes = m.cols - 5;
        for (int r = 0; r < m.rows; ++r) {
            const float* row = m.ptr<float>(r);
            if (row[4] < min_score) continue;  // class confidences are obj * p(class)
            const float* cls = row + 5;
            int best = 0;
            for (int c = 1; c < classes; ++c) {
                if (cls[c] > cls[best]) best = c;
            }
            if (cls[best] < min_score) continue;
            const float w = row[2] * input.width;
            const float h = row[3] * input.height;
            Detection d;
            d.box = {row[0] * input.width - w * 0.5f, row[1] * input.height - h * 0.5f, w, h};
            d.class_id = best;
            d.score = cls[best];
            out.push_back(std::move(d));
        }
    }
}

}  // namespace vigil::detect
