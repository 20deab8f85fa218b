// `vigil detect` end to end through the built executable.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "testing/test_support.h"

namespace vigil::detect {
namespace {

using vigil::testing::run_vigil;
using vigil::testing::shared_path;
using vigil::testing::TempDir;

std::string models_flag() { return " --models-dir " + shared_path("models").string(); }

TEST(VigilDetectCli, ImageAsJsonWithAnnotatedCopy) {
    TempDir dir;
    const auto out = dir / "annotated.jpg";
    const auto r = run_vigil("detect --detector fastestdet --json " + shared_path("media/images/bus.jpg").string() +
                             models_flag() + " --out " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["width"], 810);
    EXPECT_EQ(j["height"], 1080);
    int buses = 0, persons = 0;
    for (const auto& d : j["detections"]) {
        buses += d["label"] == "bus";
        persons += d["label"] == "person";
        EXPECT_EQ(d["box"].size(), 4u);
    }
    EXPECT_EQ(buses, 1);
    EXPECT_GE(persons, 3);
    const cv::Mat annotated = cv::imread(out.string());
    ASSERT_EQ(annotated.size(), cv::Size(810, 1080));
    const cv::Mat original = cv::imread(shared_path("media/images/bus.jpg").string());
    EXPECT_GT(cv::norm(annotated, original, cv::NORM_L1), 0.0);  // boxes were drawn
}

TEST(VigilDetectCli, VideoGivesOneJsonLinePerFrame) {
    const auto r = run_vigil("detect -d motion --json --max-frames 30 " +
                             shared_path("media/videos/bgslibrary_video02_highway.avi").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::istringstream lines(r.output);
    std::string line;
    int frames = 0, with_motion = 0;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j["frame"], frames);
        with_motion += !j["detections"].empty();
        ++frames;
    }
    EXPECT_EQ(frames, 30);
    EXPECT_GE(with_motion, 15);
}

TEST(VigilDetectCli, UserErrorsExitOneWithAMessage) {
    auto r = run_vigil("detect -d nope " + shared_path("media/images/bus.jpg").string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("vigil: error: unknown detector 'nope' (known: yolox-nano"), std::string::npos) << r.output;
    r = run_vigil("detect /nonexistent/clip.mp4" + models_flag());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("input not found: /nonexistent/clip.mp4"), std::string::npos) << r.output;
    r = run_vigil("detect --classes unicorn " + shared_path("media/images/bus.jpg").string() + models_flag());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("unknown class 'unicorn'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace vigil::detect
