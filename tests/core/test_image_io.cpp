#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/image_io.h"
#include "testing/test_support.h"

namespace vigil {
namespace {

using testing::TempDir;

std::string error_of(const std::string& spec) {
    try {
        load_image_rgb(spec);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(ImageIo, LoadsJpegPngBmpAsRgb) {
    TempDir dir;
    cv::Mat bgr(40, 60, CV_8UC3, cv::Scalar(255, 0, 0));  // pure blue in BGR
    for (const char* ext : {".png", ".bmp", ".jpg"}) {
        auto path = (dir / (std::string("img") + ext)).string();
        ASSERT_TRUE(cv::imwrite(path, bgr));
        cv::Mat rgb = load_image_rgb(path);
        ASSERT_EQ(rgb.size(), bgr.size()) << ext;
        ASSERT_EQ(rgb.type(), CV_8UC3);
        auto px = rgb.at<cv::Vec3b>(20, 30);
        EXPECT_GT(px[2], 200) << ext << ": blue must land in the third RGB channel";
        EXPECT_LT(px[0], 50) << ext;
    }
}

TEST(ImageIo, RealPhotoFromSharedData) {
    auto path = testing::shared_path("media/images/bus.jpg");
    cv::Mat rgb = load_image_rgb(path.string());
    EXPECT_GT(rgb.cols, 100);
    EXPECT_GT(rgb.rows, 100);
    EXPECT_EQ(sniff_image_format(path.string()), "jpeg");
}

TEST(ImageIo, ClearErrorsForBadInput) {
    TempDir dir;
    EXPECT_NE(error_of((dir / "missing.jpg").string()).find("file not found"), std::string::npos);
    testing::write_file(dir / "notes.jpg", "this is a text file, not a picture\n");
    EXPECT_NE(error_of((dir / "notes.jpg").string()).find("not a JPEG, PNG or BMP"), std::string::npos);
    testing::write_file(dir / "empty.png", "");
    EXPECT_NE(error_of((dir / "empty.png").string()).find("empty"), std::string::npos);
    EXPECT_NE(error_of(dir.path().string()).find("directory"), std::string::npos);

    // A JPEG cut in half must be refused, not decoded half-grey.
    std::string jpeg = testing::read_file(testing::shared_path("media/images/bus.jpg"));
    ASSERT_GT(jpeg.size(), 1000u);
    testing::write_file(dir / "truncated.jpg", jpeg.substr(0, jpeg.size() / 2));
    EXPECT_NE(error_of((dir / "truncated.jpg").string()).find("truncated"), std::string::npos);
}

TEST(ImageIo, VideoFrameByTimeAndIndex) {
    auto video = testing::shared_path("media/videos/opencv_vtest.avi").string();
    cv::Mat by_time = load_image_rgb(video + "@1.5s");
    cv::Mat by_index = load_image_rgb(video + "@#10");
    EXPECT_FALSE(by_time.empty());
    EXPECT_EQ(by_time.size(), by_index.size());
    cv::Mat first = load_image_rgb(video + "@0s");
    EXPECT_GT(cv::norm(first, by_time, cv::NORM_L1), 0.0) << "frames 1.5 s apart must differ";
    EXPECT_NE(error_of(video + "@99999s").find("no frame at that position"), std::string::npos);
    EXPECT_NE(error_of(video + "@abc").find("expected a time"), std::string::npos);
    EXPECT_NE(error_of("/nonexistent/clip.mp4@3s").find("video file not found"), std::string::npos);
}

}  // namespace
}  // namespace vigil
