// Video files through the FFmpeg source: every shared video decodes at the
// size, rate and length its container declares; sampling, looping, pacing,
// truncated files and bad paths behave.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <opencv2/videoio.hpp>

#include "core/error.h"
#include "ingest/ingest_source.h"
#include "testing/test_support.h"

namespace {

using namespace vigil::ingest;
using vigil::testing::shared_path;
using vigil::testing::TempDir;

struct VideoFacts {
    const char* file;
    int width, height;
    double fps;
    int frames;           // from media/videos/SOURCES.md (ffprobe)
    int frame_tolerance;  // AVI indexes count a few frames the decoder never outputs
    bool index_at_front;  // whether a truncated copy still has its index (MP4 moov before mdat, or AVI)
    bool reports_damage;  // the decoder flags broken input (msmpeg4 conceals it silently: "ignoring overflow")
};

void PrintTo(const VideoFacts& v, std::ostream* os) { *os << v.file; }

const VideoFacts kVideos[] = {
    {"opencv4nodejs_traffic.mp4", 640, 360, 23.98, 480, 1, false, true},
    {"bgslibrary_video02_highway.avi", 320, 240, 25, 750, 3, true, true},
    {"intel_car-detection.mp4", 768, 432, 12.5, 377, 1, true, true},
    {"yolov4tflite_road_dashcam.mp4", 1280, 720, 25, 38, 1, true, true},
    {"opencv_vtest.avi", 768, 576, 10, 795, 3, true, false},
};

std::string video_path(const VideoFacts& v) { return shared_path(std::string("media/videos/") + v.file).string(); }

struct ReadResult {
    std::vector<double> times;
    std::vector<int64_t> indices;
    int wrong_size = 0;
    SourceState final_state = SourceState::connecting;
    SourceStats stats;
};

ReadResult read_all(VideoSource& source, int expected_width, int expected_height, size_t limit = 100000) {
    ReadResult r;
    while (r.times.size() < limit) {
        auto frame = source.read();
        if (!frame) break;
        if (frame->bgr.cols != expected_width || frame->bgr.rows != expected_height || frame->bgr.type() != CV_8UC3)
            ++r.wrong_size;
        r.times.push_back(frame->stream_time_s);
        r.indices.push_back(frame->index);
    }
    r.final_state = source.state();
    r.stats = source.stats();
    return r;
}

bool strictly_increasing(const std::vector<double>& v) {
    for (size_t i = 1; i < v.size(); ++i)
        if (!(v[i] > v[i - 1])) return false;
    return true;
}

class IngestVideo : public ::testing::TestWithParam<VideoFacts> {};

TEST_P(IngestVideo, DecodesEveryFrameAtTheDeclaredSizeRateAndLength) {
    const VideoFacts& v = GetParam();
    SourceConfig config;
    config.url = video_path(v);
    auto source = open_source(config);

    const StreamInfo info = source->info();
    EXPECT_EQ(info.width, v.width);
    EXPECT_EQ(info.height, v.height);
    EXPECT_NEAR(info.nominal_fps, v.fps, 0.01);
    EXPECT_FALSE(info.live);
    // A second, independent reader of the container (OpenCV's) agrees on the metadata.
    cv::VideoCapture reference(config.url);
    ASSERT_TRUE(reference.isOpened());
    EXPECT_EQ(info.width, int(reference.get(cv::CAP_PROP_FRAME_WIDTH)));
    EXPECT_EQ(info.height, int(reference.get(cv::CAP_PROP_FRAME_HEIGHT)));
    EXPECT_NEAR(info.nominal_fps, reference.get(cv::CAP_PROP_FPS), 0.01);

    const ReadResult r = read_all(*source, v.width, v.height);
    EXPECT_EQ(r.final_state, SourceState::ended);
    EXPECT_EQ(r.wrong_size, 0);
    EXPECT_NEAR(double(r.times.size()), double(v.frames), double(v.frame_tolerance));
    EXPECT_TRUE(strictly_increasing(r.times));
    ASSERT_FALSE(r.times.empty());
    EXPECT_DOUBLE_EQ(r.times.front(), 0.0);
    // Constant-rate clips: the last frame sits at (n-1)/fps.
    EXPECT_NEAR(r.times.back(), double(r.times.size() - 1) / v.fps, 2.0 / v.fps);
    EXPECT_EQ(r.stats.frames_delivered, int64_t(r.times.size()));
    EXPECT_EQ(r.stats.frames_decoded, r.stats.frames_delivered + r.stats.frames_corrupt);
    EXPECT_EQ(r.indices.front(), 0);
    EXPECT_EQ(r.indices.back(), r.stats.frames_decoded - 1);
    EXPECT_FALSE(source->read().has_value()) << "a finished file stays finished";
}

TEST_P(IngestVideo, TargetFpsKeepsFramesAtThatRateOfStreamTime) {
    const VideoFacts& v = GetParam();
    SourceConfig config;
    config.url = video_path(v);
    config.target_fps = 5;
    auto source = open_source(config);
    const ReadResult r = read_all(*source, v.width, v.height);
    ASSERT_GE(r.times.size(), 2u);
    // Slots every 0.2 s over the decoded span, the first at t=0.
    const double span = double(r.stats.frames_decoded - 1) / v.fps;
    const double expected = std::floor(span * config.target_fps) + 1;
    EXPECT_NEAR(double(r.times.size()), expected, 1.0) << "span " << span << " s";
    for (size_t i = 1; i < r.times.size(); ++i) {
        const double gap = r.times[i] - r.times[i - 1];
        EXPECT_GT(gap, 0.2 - 1.0 / v.fps - 1e-6) << "kept frame " << i;
        EXPECT_LT(gap, 0.2 + 1.0 / v.fps + 1e-6) << "kept frame " << i;
    }
    EXPECT_EQ(r.stats.frames_delivered, int64_t(r.times.size()));
    EXPECT_GT(r.stats.frames_decoded, r.stats.frames_delivered);
}

TEST_P(IngestVideo, TruncatedCopyYieldsTheFramesBeforeTheCutAndEnds) {
    const VideoFacts& v = GetParam();
    const std::string original = vigil::testing::read_file(video_path(v));
    ASSERT_FALSE(original.empty());
    TempDir dir;
    const auto truncated = dir / (std::string("cut_") + v.file);
    vigil::testing::write_file(truncated, original.substr(0, original.size() * 6 / 10));
    SourceConfig config;
    config.url = truncated.string();
    if (!v.index_at_front) {
        // The index (moov) was in the lost 40%: nothing is decodable, and the error says which file.
        try {
            open_source(config);
            FAIL() << "expected vigil::Error";
        } catch (const vigil::Error& e) {
            EXPECT_THAT(e.what(), ::testing::HasSubstr(truncated.string()));
        }
        return;
    }
    auto source = open_source(config);
    const ReadResult r = read_all(*source, v.width, v.height);
    EXPECT_EQ(r.final_state, SourceState::ended);
    EXPECT_EQ(r.wrong_size, 0);
    EXPECT_TRUE(strictly_increasing(r.times));
    EXPECT_GT(r.times.size(), size_t(v.frames) / 4) << "frames before the cut are delivered";
    EXPECT_LT(r.times.size(), size_t(v.frames)) << "frames after the cut cannot exist";
}

TEST_P(IngestVideo, DamagedMiddleIsSkippedAndCountedNotFatal) {
    const VideoFacts& v = GetParam();
    if (!v.index_at_front) GTEST_SKIP() << "the damage would hit the index, tested as truncation";
    std::string bytes = vigil::testing::read_file(video_path(v));
    ASSERT_FALSE(bytes.empty());
    // Overwrite 32 KiB at 45% of the file with pseudo-random bytes.
    uint32_t state = 12345;
    const size_t start = bytes.size() * 45 / 100;
    for (size_t i = start; i < start + 32768 && i < bytes.size(); ++i) {
        state = state * 1664525u + 1013904223u;
        bytes[i] = char(state >> 24);
    }
    TempDir dir;
    const auto damaged = dir / (std::string("damaged_") + v.file);
    vigil::testing::write_file(damaged, bytes);
    SourceConfig config;
    config.url = damaged.string();
    auto source = open_source(config);
    const ReadResult r = read_all(*source, v.width, v.height);
    EXPECT_EQ(r.final_state, SourceState::ended);
    EXPECT_EQ(r.wrong_size, 0);
    EXPECT_TRUE(strictly_increasing(r.times));
    EXPECT_GT(r.times.size(), size_t(v.frames) * 6 / 10) << "decoding goes on after the damage";
    if (v.reports_damage) {
        EXPECT_GT(r.stats.packets_corrupt + r.stats.frames_corrupt + r.stats.read_errors, 0) << "the damage is counted";
    }
}

INSTANTIATE_TEST_SUITE_P(SharedVideos, IngestVideo, ::testing::ValuesIn(kVideos), [](const auto& test) {
    std::string name = test.param.file;
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
});

TEST(IngestFile, TargetFpsAboveTheSourceRateKeepsEveryFrame) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    config.target_fps = 60;
    auto source = open_source(config);
    const ReadResult r = read_all(*source, 1280, 720);
    EXPECT_EQ(r.stats.frames_delivered, r.stats.frames_decoded);
    EXPECT_NEAR(double(r.times.size()), 38, 1);
}

TEST(IngestFile, LoopRestartsWithStreamTimeAndIndexStillIncreasing) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    config.loop = true;
    auto source = open_source(config);
    const ReadResult r = read_all(*source, 1280, 720, 100);
    ASSERT_EQ(r.times.size(), 100u) << "a looping file does not end";
    EXPECT_EQ(r.final_state, SourceState::streaming);
    EXPECT_TRUE(strictly_increasing(r.times));
    for (size_t i = 1; i < r.indices.size(); ++i) EXPECT_EQ(r.indices[i], r.indices[i - 1] + 1);
    // Three passes of a ~1.5 s clip at 25 fps: time follows the frame count across the seams.
    EXPECT_NEAR(r.times.back(), 99 / 25.0, 0.1);
}

TEST(IngestFile, RealtimePacesFramesToTheWallClock) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    config.realtime = true;
    auto source = open_source(config);
    const auto start = std::chrono::steady_clock::now();
    const ReadResult r = read_all(*source, 1280, 720, 11);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(r.times.size(), 11u);
    EXPECT_GE(elapsed, r.times.back() - r.times.front() - 0.01) << "ten frame intervals at 25 fps take 0.4 s";
}

TEST(IngestFile, WallTimeIsWhenTheFrameWasRead) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    auto source = open_source(config);
    const auto before = std::chrono::system_clock::now();
    auto frame = source->read();
    const auto after = std::chrono::system_clock::now();
    ASSERT_TRUE(frame);
    EXPECT_GE(frame->wall_time, before);
    EXPECT_LE(frame->wall_time, after);
}

TEST(IngestFile, CloseEndsTheSource) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    auto source = open_source(config);
    ASSERT_TRUE(source->read());
    source->close();
    EXPECT_EQ(source->state(), SourceState::ended);
    EXPECT_FALSE(source->read());
}

TEST(IngestErrors, MissingFileNamesThePath) {
    SourceConfig config;
    config.url = "/nonexistent/dir/clip.mp4";
    try {
        open_source(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr("/nonexistent/dir/clip.mp4"));
        EXPECT_THAT(e.what(), ::testing::HasSubstr("not found"));
    }
}

TEST(IngestErrors, UnsupportedSchemeListsTheSupportedOnes) {
    SourceConfig config;
    config.url = "ftp://user:secret@cam.local/stream";
    try {
        open_source(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        const std::string message = e.what();
        EXPECT_THAT(message, ::testing::HasSubstr("ftp://"));
        EXPECT_THAT(message, ::testing::HasSubstr("rtsp://"));
        EXPECT_THAT(message, ::testing::HasSubstr("http://"));
        EXPECT_THAT(message, ::testing::HasSubstr("/dev/video"));
        EXPECT_THAT(message, ::testing::Not(::testing::HasSubstr("secret"))) << "passwords stay out of messages";
    }
}

TEST(IngestErrors, NonPositiveTimeoutsAndRatesAreRejectedByName) {
    SourceConfig config;
    config.url = shared_path("media/videos/yolov4tflite_road_dashcam.mp4").string();
    config.open_timeout_ms = 0;
    EXPECT_THAT([&] { open_source(config); },
                ::testing::ThrowsMessage<vigil::Error>(::testing::HasSubstr("open_timeout_ms must be > 0")));
    config.open_timeout_ms = 1000;
    config.target_fps = -5;
    EXPECT_THAT([&] { open_source(config); },
                ::testing::ThrowsMessage<vigil::Error>(::testing::HasSubstr("target_fps must be >= 0")));
}

TEST(IngestErrors, FileThatIsNotAVideoNamesThePath) {
    TempDir dir;
    const auto path = dir / "notes.mp4";
    vigil::testing::write_file(path, std::string(4096, 'x'));
    SourceConfig config;
    config.url = path.string();
    EXPECT_THROW(
        {
            try {
                open_source(config);
            } catch (const vigil::Error& e) {
                EXPECT_THAT(e.what(), ::testing::HasSubstr(path.string()));
                throw;
            }
        },
        vigil::Error);
}

TEST(IngestErrors, MissingCameraDeviceIsAClearError) {
    SourceConfig config;
    config.url = "/dev/video97";
    try {
        open_source(config);
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr("/dev/video97"));
    }
}

}  // namespace
