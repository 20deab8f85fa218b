#include <gtest/gtest.h>

#include <opencv2/dnn.hpp>

#include "detect/detect_letterbox.h"

namespace vigil::detect {
namespace {

void expect_rect_near(const cv::Rect2f& a, const cv::Rect2f& b, float tol) {
    EXPECT_NEAR(a.x, b.x, tol);
    EXPECT_NEAR(a.y, b.y, tol);
    EXPECT_NEAR(a.width, b.width, tol);
    EXPECT_NEAR(a.height, b.height, tol);
}

struct GeometryCase {
    cv::Size frame;
    cv::Size input;
    ResizeMode mode;
    friend void PrintTo(const GeometryCase& c, std::ostream* out) {
        *out << c.frame.width << "x" << c.frame.height << " to " << c.input.width << "x" << c.input.height
             << (c.mode == ResizeMode::stretch ? " stretched" : " letterboxed");
    }
};

class InputTransformRoundTrip : public ::testing::TestWithParam<GeometryCase> {};

TEST_P(InputTransformRoundTrip, FrameBoxSurvivesToInputAndBack) {
    const auto& c = GetParam();
    const auto t = InputTransform::make(c.frame, c.input, c.mode);
    const cv::Rect2f box(c.frame.width * 0.1f, c.frame.height * 0.2f, c.frame.width * 0.5f,
                         c.frame.height * 0.3f);
    const cv::Rect2f in = t.to_input(box);
    // Inside the network input.
    EXPECT_GE(in.x, 0.f);
    EXPECT_LE(in.x + in.width, c.input.width + 1e-3f);
    EXPECT_LE(in.y + in.height, c.input.height + 1e-3f);
    expect_rect_near(t.to_frame(in), box, 1e-2f);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, InputTransformRoundTrip,
    ::testing::Values(GeometryCase{{810, 1080}, {416, 416}, ResizeMode::letterbox_top_left},
                      GeometryCase{{1920, 1080}, {416, 416}, ResizeMode::letterbox_top_left},
                      GeometryCase{{1920, 1080}, {352, 352}, ResizeMode::stretch},
                      GeometryCase{{320, 240}, {320, 320}, ResizeMode::stretch},
                      GeometryCase{{100, 100}, {416, 416}, ResizeMode::letterbox_top_left}));

TEST(InputTransform, LetterboxKeepsAspectAndPadsBottomRight) {
    const auto t = InputTransform::make({800, 400}, {416, 416}, ResizeMode::letterbox_top_left);
    EXPECT_FLOAT_EQ(t.scale_x, 0.52f);
    EXPECT_FLOAT_EQ(t.scale_y, 0.52f);
    EXPECT_EQ(t.scaled_size(), cv::Size(416, 208));

    cv::Mat frame(400, 800, CV_8UC3, cv::Scalar(10, 20, 30));
    cv::Mat canvas;
    resize_into_input(frame, t, 114, canvas);
    ASSERT_EQ(canvas.size(), cv::Size(416, 416));
    EXPECT_EQ(canvas.at<cv::Vec3b>(100, 200), cv::Vec3b(10, 20, 30));
    EXPECT_EQ(canvas.at<cv::Vec3b>(300, 200), cv::Vec3b(114, 114, 114));
}

TEST(InputTransform, StretchScalesAxesIndependently) {
    const auto t = InputTransform::make({640, 320}, {320, 320}, ResizeMode::stretch);
    EXPECT_FLOAT_EQ(t.scale_x, 0.5f);
    EXPECT_FLOAT_EQ(t.scale_y, 1.0f);
    cv::Mat frame(320, 640, CV_8UC3, cv::Scalar(1, 2, 3)), canvas;
    resize_into_input(frame, t, 114, canvas);
    EXPECT_EQ(canvas.at<cv::Vec3b>(319, 319), cv::Vec3b(1, 2, 3));
}

TEST(InputTransform, BoxesInThePaddingAreClippedToTheFrame) {
    const auto t = InputTransform::make({800, 400}, {416, 416}, ResizeMode::letterbox_top_left);
    // A box reaching into the bottom padding and past the left edge.
    const cv::Rect2f frame_box = t.to_frame({-20, 150, 100, 200});
    EXPECT_FLOAT_EQ(frame_box.x, 0.f);
    EXPECT_FLOAT_EQ(frame_box.y + frame_box.height, 400.f);
    EXPECT_NEAR(frame_box.width, 80.f / 0.52f, 1e-3);
}

}  // namespace
}  // namespace vigil::detect

namespace vigil::detect {
namespace {

TEST(ImageToBlob, MatchesOpenCvBlobFromImage) {
    cv::Mat image(37, 53, CV_8UC3);
    cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(256));
    for (bool swap : {false, true}) {
        for (float scale : {1.f, 1.f / 255.f}) {
            cv::Mat ours, theirs;
            image_to_blob(image, scale, swap, ours);
            theirs = cv::dnn::blobFromImage(image, scale, cv::Size(), cv::Scalar(), swap, false, CV_32F);
            ASSERT_EQ(ours.dims, 4);
            for (int i = 0; i < 4; ++i) EXPECT_EQ(ours.size[i], theirs.size[i]);
            EXPECT_EQ(cv::norm(ours.reshape(1, 1), theirs.reshape(1, 1), cv::NORM_INF), 0.0)
                << "swap " << swap << " scale " << scale;
        }
    }
}

}  // namespace
}  // namespace vigil::detect
