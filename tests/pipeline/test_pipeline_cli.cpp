// `vigil run` through the executable: source overrides, the extra JSON-lines
// file, what it says with no VLM installed, and the VLM options reaching the
// embedded engine (a LoRA adapter that does not fit is refused by llama.cpp).
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "alert/alert_builder.h"
#include "models/model_synth.h"
#include "pipeline_test_support.h"
#include "testing/test_support.h"

namespace vigil::pipeline {
namespace {

using json = nlohmann::json;
using vigil::testing::run_vigil;
using vigil::testing::shared_path;
using vigil::testing::TempDir;
using vigil::pipeline::testing::read_jsonl;

// Two cameras; `north`'s source is a file that does not exist, so the
// command line must supply one. Vehicles entering the road are the events.
std::string two_camera_config(const TempDir& dir) {
    std::string cameras;
    for (const std::string name : {"north", "south"}) {
        cameras += "  - name: " + name + "\n" +
                   "    source: " + (name == "north" ? (dir / "missing.mp4").string()
                                                      : shared_path("media/videos/opencv4nodejs_traffic.mp4").string()) +
                   "\n    fps: 4\n    max_stream_s: 6\n"
                   "    detector: {name: yolox-nano, threshold: 0.3, threads: 1, models_dir: " +
                   shared_path("models").string() + ", classes: [car, bus, truck]}\n" +
                   "    tracker: {high_threshold: 0.4, new_track_threshold: 0.45}\n" +
                   "    analytics:\n"
                   "      units: normalized\n"
                   "      zones: [{name: road, points: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]}]\n"
                   "      rules: [{name: road_entries, type: zone_presence, zone: road, exit: false}]\n";
    }
    return "cameras:\n" + cameras + "alert: {merge_window_s: 0, cooldown_s: 0}\n" + "store: {db: " +
           (dir / "vigil.sqlite").string() + ", evidence_dir: " + (dir / "evidence").string() + "}\n";
}

TEST(PipelineCli, SourceOverrideForOneCameraAndAnExtraAlertsFile) {
    TempDir dir;
    const auto config = dir / "site.yaml";
    vigil::testing::write_file(config, two_camera_config(dir));
    const auto jsonl = dir / "out.jsonl";
    const std::string video = shared_path("media/videos/bgslibrary_video02_highway.avi").string();
    const auto result = run_vigil("run " + config.string() + " --source north=" + video + " --alerts-jsonl " +
                                  jsonl.string() + " --until-eof --no-progress --no-vlm");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto alerts = read_jsonl(jsonl);
    ASSERT_FALSE(alerts.empty()) << result.output;
    std::set<std::string> cameras;
    for (const auto& alert : alerts) {
        cameras.insert(alert.at("camera"));
        EXPECT_TRUE(alert::validate_alert(alert).empty()) << alert.dump(2);
    }
    EXPECT_TRUE(cameras.count("north")) << "the overridden source never produced an alert";
    EXPECT_TRUE(cameras.count("south"));
}

// stdout carries the summary only: the warnings of a VLM that cannot be
// reached go to stderr, so a program can parse what --summary-json prints.
TEST(PipelineCli, SummaryJsonOnStdoutStaysParseableWhileWarningsGoToStderr) {
    TempDir dir;
    const auto config = dir / "site.yaml";
    vigil::testing::write_file(config, two_camera_config(dir));
    // run_command merges stderr into what it captures; the group sends it to a file first.
    const auto result = vigil::testing::run_command(
        "{ " + std::string(VIGIL_EXE) + " run " + config.string() + " --source north=" +
        shared_path("media/videos/opencv4nodejs_traffic.mp4").string() + " --vlm-server http://127.0.0.1:" +
        std::to_string(vigil::testing::free_loopback_port()) + " --until-eof --no-progress --summary-json 2>" +
        (dir / "stderr.txt").string() + "; }");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const json summary = json::parse(result.output, nullptr, false);
    ASSERT_FALSE(summary.is_discarded()) << "stdout is not one JSON document:\n" << result.output;
    EXPECT_GT(summary.at("vlm_errors").get<int>(), 0);
    EXPECT_NE(vigil::testing::read_file(dir / "stderr.txt").find("VLM failed"), std::string::npos);
}

TEST(PipelineCli, WithoutVlmWeightsItSaysSoOnceAndUsesRules) {
    TempDir dir;
    const auto config = dir / "site.yaml";
    vigil::testing::write_file(config, two_camera_config(dir));
    std::filesystem::create_directories(dir / "no-models");
    const auto jsonl = dir / "out.jsonl";
    const auto result = vigil::testing::run_command(
        "VIGIL_MODELS_DIR=" + (dir / "no-models").string() + " " + VIGIL_EXE + " run " + config.string() +
        " --source north=" + shared_path("media/videos/opencv4nodejs_traffic.mp4").string() + " --alerts-jsonl " +
        jsonl.string() + " --until-eof --no-progress 2>&1");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const std::string notice = "no VLM weights installed";
    const auto first = result.output.find(notice);
    ASSERT_NE(first, std::string::npos) << result.output;
    EXPECT_EQ(result.output.find(notice, first + 1), std::string::npos) << "said more than once:\n" << result.output;
    const auto alerts = read_jsonl(jsonl);
    ASSERT_FALSE(alerts.empty());
    for (const auto& alert : alerts) EXPECT_EQ(alert["context"]["source"], "rules");
}

TEST(PipelineCli, LoraOptionReachesTheEmbeddedEngine) {
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir / "vlm");
    const auto config = dir / "site.yaml";
    vigil::testing::write_file(config, two_camera_config(dir));
    const std::string engine = " --vlm-model " + pair.text_model.string() + " --vlm-mmproj " + pair.mmproj.string();
    // A GGUF that is not an adapter for this model: llama.cpp refuses it, so
    // the option reached the engine; the run stops before any camera opens.
    const auto foreign = run_vigil("run " + config.string() + engine + " --vlm-lora " + pair.mmproj.string() +
                                   " --until-eof --no-progress");
    EXPECT_EQ(foreign.exit_code, 1) << foreign.output;
    EXPECT_NE(foreign.output.find("LoRA adapter"), std::string::npos) << foreign.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "vigil.sqlite")) << "cameras ran despite the bad adapter";

    const auto with_server = run_vigil("run " + config.string() + " --vlm-server http://127.0.0.1:9 --vlm-lora " +
                                       pair.mmproj.string() + " --until-eof --no-progress");
    EXPECT_EQ(with_server.exit_code, 1) << with_server.output;
    EXPECT_NE(with_server.output.find("applies to the embedded model"), std::string::npos) << with_server.output;
}

}  // namespace
}  // namespace vigil::pipeline
