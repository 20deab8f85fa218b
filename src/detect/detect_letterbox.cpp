#include "detect/detect_letterbox.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace vigil::detect {

InputTransform InputTransform::make(cv::Size frame, cv::Size input, ResizeMode mode) {
    InputTransform t;
    t.frame_size = frame;
    t.input_size = input;
    const float sx = static_cast<float>(input.width) / static_cast<float>(frame.width);
    const float sy = static_cast<float>(input.height) / static_cast<float>(frame.height);
    if (mode == ResizeMode::stretch) {
        t.scale_x = sx;
        t.scale_y = sy;
    } else {
        t.scale_x = t.scale_y = std::min(sx, sy);
    }
    return t;
}

cv::Size InputTransform::scaled_size() const {
    auto w = static_cast<int>(std::lround(frame_size.width * scale_x));
    auto h = static_cast<int>(std::lround(frame_size.height * scale_y));
    return {std::clamp(w, 1, input_size.width), std::clamp(h, 1, input_size.height)};
}

cv::Rect2f InputTransform::to_frame(const cv::Rect2f& b) const {
    const float fw = static_cast<float>(frame_size.width);
    const float fh = static_cast<float>(frame_size.height);
    float x1 = std::clamp((b.x - offset_x) / scale_x, 0.f, fw);
    float y1 = std::clamp((b.y - offset_y) / scale_y, 0.f, fh);
    float x2 = std::clamp((b.x + b.width - offset_x) / scale_x, 0.f, fw);
    float y2 = std::clamp((b.y + b.height - offset_y) / scale_y, 0.f, fh);
    return {x1, y1, x2 - x1, y2 - y1};
}

cv::Rect2f InputTransform::to_input(const cv::Rect2f& b) const {
    return {b.x * scale_x + offset_x, b.y * scale_y + offset_y, b.width * scale_x, b.height * scale_y};
}

void resize_into_input(const cv::Mat& bgr, const InputTransform& t, double pad_value, cv::Mat& canvas) {
    canvas.create(t.input_size, CV_8UC3);
    const cv::Size scaled = t.scaled_size();
    const cv::Rect inner(static_cast<int>(t.offset_x), static_cast<int>(t.offset_y), scaled.width,
                         scaled.height);
    if (inner.size() != t.input_size) {
        canvas.setTo(cv::Scalar::all(pad_value));
    }
    cv::Mat target = canvas(inner);
    if (bgr.size() == scaled) {
        bgr.copyTo(target);
    } else {
        cv::resize(bgr, target, scaled, 0, 0, cv::INTER_LINEAR);
    }
}

void image_to_blob(const cv::Mat& image, float scale, bool swap_rb, cv::Mat& blob) {
    CV_Assert(image.type() == CV_8UC3);
    const int sizes[4] = {1, 3, image.rows, image.cols};
    blob.create(4, sizes, CV_32F);
    const size_t plane = static_cast<size_t>(image.rows) * image.cols;
    float* first = blob.ptr<float>() + (swap_rb ? 2 * plane : 0);
    float* second = blob.ptr<float>() + plane;
    float* third = blob.ptr<float>() + (swap_rb ? 0 : 2 * plane);
    for (int y = 0; y < image.rows; ++y) {
        const uint8_t* px = image.ptr<uint8_t>(y);
        const size_t row = static_cast<size_t>(y) * image.cols;
        for (int x = 0; x < image.cols; ++x, px += 3) {
            first[row + x] = px[0] * scale;
            second[row + x] = px[1] * scale;
            third[row + x] = px[2] * scale;
        }
    }
}

}  // namespace vigil::detect
