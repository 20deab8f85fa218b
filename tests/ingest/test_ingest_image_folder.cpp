// A folder of images as a source: name order, image_fps timestamps, skipped
// unreadable files, sampling and looping.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "ingest/ingest_source.h"
#include "testing/test_support.h"

namespace {

using namespace vigil::ingest;
using vigil::testing::TempDir;

// Writes images whose blue channel encodes their intended position, in an order
// that differs from name order, plus files that must be skipped or ignored.
void write_folder(const TempDir& dir) {
    auto solid = [](int value) { return cv::Mat(24, 32, CV_8UC3, cv::Scalar(value, 0, 0)); };
    ASSERT_TRUE(cv::imwrite((dir / "frame_003.bmp").string(), solid(30)));
    ASSERT_TRUE(cv::imwrite((dir / "frame_001.png").string(), solid(10)));
    ASSERT_TRUE(cv::imwrite((dir / "frame_002.JPG").string(), solid(20)));
    vigil::testing::write_file(dir / "frame_002b.jpg", "this is not a JPEG");
    ASSERT_TRUE(cv::imwrite((dir / "frame_004.png").string(), solid(40)));
    vigil::testing::write_file(dir / "notes.txt", "ignored: not an image name");
}

std::vector<Frame> read_all(VideoSource& source, size_t limit = 1000) {
    std::vector<Frame> frames;
    while (frames.size() < limit) {
        auto frame = source.read();
        if (!frame) break;
        frames.push_back(std::move(*frame));
    }
    return frames;
}

TEST(IngestImageFolder, ReadsImagesInNameOrderAndSkipsUnreadableOnes) {
    TempDir dir;
    write_folder(dir);
    SourceConfig config;
    config.url = dir.path().string();
    config.image_fps = 2;
    auto source = open_source(config);
    EXPECT_EQ(source->info().frame_count, 5);
    const auto frames = read_all(*source);
    ASSERT_EQ(frames.size(), 4u);
    const int expected_blue[] = {10, 20, 30, 40};
    const int64_t expected_index[] = {0, 1, 3, 4};  // index 2 was the unreadable file
    for (size_t i = 0; i < frames.size(); ++i) {
        EXPECT_NEAR(frames[i].bgr.at<cv::Vec3b>(5, 5)[0], expected_blue[i], 3) << "frame " << i;
        EXPECT_EQ(frames[i].index, expected_index[i]);
        EXPECT_DOUBLE_EQ(frames[i].stream_time_s, double(expected_index[i]) / 2.0);
        EXPECT_EQ(frames[i].bgr.size(), cv::Size(32, 24));
    }
    const SourceStats stats = source->stats();
    EXPECT_EQ(stats.frames_decoded, 5);
    EXPECT_EQ(stats.frames_corrupt, 1);
    EXPECT_EQ(stats.frames_delivered, 4);
    EXPECT_THAT(source->last_error(), ::testing::HasSubstr("frame_002b.jpg"));
    EXPECT_EQ(source->state(), SourceState::ended);
}

TEST(IngestImageFolder, TargetFpsThinsByStreamTime) {
    TempDir dir;
    write_folder(dir);
    SourceConfig config;
    config.url = dir.path().string();
    config.image_fps = 2;  // times 0, 0.5, (1.0 unreadable), 1.5, 2.0
    config.target_fps = 1;
    auto source = open_source(config);
    const auto frames = read_all(*source);
    // Slots at 0, 1 and 2 s: 1.5 fills the late slot at 1, 2.0 the slot at 2; 0.5 is dropped.
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_DOUBLE_EQ(frames[0].stream_time_s, 0.0);
    EXPECT_DOUBLE_EQ(frames[1].stream_time_s, 1.5);
    EXPECT_DOUBLE_EQ(frames[2].stream_time_s, 2.0);
}

TEST(IngestImageFolder, LoopKeepsTimeIncreasing) {
    TempDir dir;
    write_folder(dir);
    SourceConfig config;
    config.url = dir.path().string();
    config.loop = true;
    auto source = open_source(config);
    const auto frames = read_all(*source, 10);
    ASSERT_EQ(frames.size(), 10u);
    for (size_t i = 1; i < frames.size(); ++i) EXPECT_GT(frames[i].stream_time_s, frames[i - 1].stream_time_s);
    EXPECT_NEAR(frames[4].bgr.at<cv::Vec3b>(5, 5)[0], 10, 3) << "the fifth frame is the first image again";
}

TEST(IngestImageFolder, FolderWithoutImagesIsAClearError) {
    TempDir dir;
    vigil::testing::write_file(dir / "readme.txt", "no images here");
    SourceConfig config;
    config.url = dir.path().string();
    try {
        open_source(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr(dir.path().string()));
        EXPECT_THAT(e.what(), ::testing::HasSubstr("no JPEG/PNG/BMP"));
    }
}

}  // namespace
