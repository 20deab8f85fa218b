// The `vigil run` YAML schema: each kind of mistake gives a message naming the
// file, the line, the camera and the key; every shipped preset loads.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "pipeline/pipeline_config.h"
#include "testing/test_support.h"

namespace vigil::pipeline {
namespace {

using testing::shared_path;
using testing::TempDir;

std::string video() { return shared_path("media/videos/opencv4nodejs_traffic.mp4").string(); }

// A valid one-camera config; `extra_camera_keys` goes inside the camera.
std::string camera_yaml(const std::string& name, const std::string& extra_camera_keys = "") {
    return "  - name: " + name + "\n    source: " + video() + "\n    detector: {name: motion}\n" + extra_camera_keys;
}

struct MistakeCase {
    std::string label;
    std::string yaml;
    int line;                 // expected line in the message
    std::string camera;       // expected camera name ("" = none)
    std::string key;          // expected key ("" = none)
    std::string what;         // a phrase of the explanation
};

void PrintTo(const MistakeCase& mistake, std::ostream* out) { *out << mistake.label; }

class ConfigMistake : public ::testing::TestWithParam<MistakeCase> {};

TEST_P(ConfigMistake, MessageNamesFileLineCameraAndKey) {
    const MistakeCase& mistake = GetParam();
    TempDir dir;
    const auto path = dir / "site.yaml";
    testing::write_file(path, mistake.yaml);
    try {
        load_pipeline_config(path);
        FAIL() << "expected an error for " << mistake.label;
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(path.string() + ":" + std::to_string(mistake.line) + ":"), std::string::npos)
            << message;
        if (!mistake.camera.empty()) {
            EXPECT_NE(message.find("camera \"" + mistake.camera + "\""), std::string::npos) << message;
        }
        if (!mistake.key.empty()) {
            EXPECT_NE(message.find("key \"" + mistake.key + "\""), std::string::npos) << message;
        }
        EXPECT_NE(message.find(mistake.what), std::string::npos) << message;
    }
}

std::vector<MistakeCase> mistakes() {
    return {
        {"yaml_syntax", "cameras:\n" + camera_yaml("north") + "    location: \"Elm\" Street\n    fps: 5\n", 5, "", "",
         "YAML syntax error"},
        {"unknown_key", "cameras:\n" + camera_yaml("north", "    fsp: 5\n"), 5, "north", "fsp", "unknown key"},
        {"unknown_nested_key", "cameras:\n" + camera_yaml("north", "    tracker: {algoritm: sort}\n"), 5, "north",
         "tracker.algoritm", "unknown key"},
        {"wrong_type", "cameras:\n" + camera_yaml("north", "    fps: fast\n"), 5, "north", "fps",
         "expected a number"},
        {"unknown_detector",
         "cameras:\n  - name: north\n    source: " + video() + "\n    detector:\n      name: yolo9\n", 5, "north",
         "detector.name", "unknown detector \"yolo9\"; known: "},
        {"self_intersecting_zone",
         "cameras:\n" + camera_yaml("north",
                                    "    analytics:\n"
                                    "      zones:\n"
                                    "        - name: bowtie\n"
                                    "          points: [[0, 0], [100, 100], [100, 0], [0, 100]]\n"),
         7, "north", "analytics.zones[0]", "intersects itself"},
        {"missing_source", "cameras:\n  - name: north\n    detector: {name: motion}\n", 2, "north", "source",
         "missing"},
        {"duplicate_camera", "cameras:\n" + camera_yaml("north") + camera_yaml("north"), 5, "north", "name",
         "duplicate camera name"},
        {"bad_sink_type", "cameras:\n" + camera_yaml("north") + "sinks:\n  - type: kafka\n", 6, "", "sinks[0].type",
         "unknown sink type \"kafka\""},
        {"bad_rule_key",
         "cameras:\n" + camera_yaml("north",
                                    "    analytics:\n"
                                    "      rules:\n"
                                    "        - {name: jam, type: congestion, zone: lane, min_count: 3}\n"),
         7, "north", "analytics.rules[0]", "jam"},
        {"threshold_range", "cameras:\n" + camera_yaml("north", "    tracker: {high_threshold: 2}\n"), 5, "north",
         "tracker.high_threshold", "outside 0..1"},
        {"unknown_top_level", "cameras:\n" + camera_yaml("north") + "alerts: {cooldown_s: 3}\n", 5, "", "alerts",
         "unknown key"},
        {"lora_with_server",
         "cameras:\n" + camera_yaml("north") + "vlm:\n  server: \"http://127.0.0.1:8080\"\n  lora: site.gguf\n", 7, "",
         "vlm.lora", "applies to the embedded model"},
        {"bad_send_mode", "cameras:\n" + camera_yaml("north", "    send: at_once\n"), 5, "north", "send",
         "unknown send mode \"at_once\"; expected on_verdict"},
        {"bad_rule_send_mode",
         "cameras:\n" + camera_yaml("north",
                                    "    analytics:\n"
                                    "      zones: [{name: lane, points: [[0, 0], [9, 0], [9, 9], [0, 9]]}]\n"
                                    "      rules:\n"
                                    "        - {name: jam, type: congestion, zone: lane, send: later}\n"),
         8, "north", "analytics.rules[0].send", "unknown send mode \"later\""},
        {"negative_prefix_cache", "cameras:\n" + camera_yaml("north") + "vlm: {prefix_cache_mb: -1}\n", 5, "",
         "vlm.prefix_cache_mb", ""},
    };
}

INSTANTIATE_TEST_SUITE_P(Mistakes, ConfigMistake, ::testing::ValuesIn(mistakes()),
                         [](const auto& test_case) { return test_case.param.label; });

TEST(PipelineConfig, ReadsEveryKey) {
    TempDir dir;
    const auto path = dir / "full.yaml";
    testing::write_file(path, R"(cameras:
  - name: gate
    location: "Gate 3, north car park"
    site_context: Barrier gate with a pedestrian crossing
    source: clips/gate.mp4
    fps: 5
    detector:
      name: yolox-nano
      threshold: 0.3
      classes: [car, person]
      class_thresholds: {person: 0.4}
    tracker: {algorithm: sort, min_hits: 3}
    calibration:
      image_px: [[0, 400], [600, 400], [500, 200], [100, 200]]
      ground_m: [[0, 0], [12, 0], [12, 30], [0, 30]]
    analytics:
      units: normalized
      zones: [{name: lane, points: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]
      rules: [{name: jam, type: congestion, zone: lane, min_count: 3, max_speed_px_s: 5, min_s: 4, send: on_event}]
    send: on_verdict
  - name: spare
    source: "rtsp://10.0.0.9/stream"
    detector: {name: motion}
    enabled: false
vlm: {server: "http://127.0.0.1:8080", deadline_s: 5, max_queue: 2, workers: 3, prefix_cache_mb: 64}
alert: {merge_window_s: 30, cooldown_s: 10, send_rejected: true}
store: {db: out/vigil.sqlite, evidence_dir: out/evidence, retention_days: 7}
sinks:
  - {type: jsonl, name: file, path: alerts.jsonl}
  - {type: mqtt, host: 127.0.0.1, port: 1883}
scene_check: {period_s: 600, threshold: 0.3}
)");
    const PipelineConfig config = load_pipeline_config(path);
    ASSERT_EQ(config.cameras.size(), 2u);
    const CameraConfig& gate = config.cameras[0];
    EXPECT_EQ(gate.location, "Gate 3, north car park");
    EXPECT_EQ(gate.source, (dir.path() / "clips/gate.mp4").string());  // relative to the config file
    EXPECT_DOUBLE_EQ(gate.fps, 5);
    EXPECT_DOUBLE_EQ(gate.tracker.frame_rate, 5);
    EXPECT_EQ(gate.detector.name, "yolox-nano");
    EXPECT_FLOAT_EQ(gate.detector.score_threshold, 0.3f);
    EXPECT_EQ(gate.detector.classes, (std::vector<std::string>{"car", "person"}));
    EXPECT_FLOAT_EQ(gate.detector.class_thresholds.at("person"), 0.4f);
    EXPECT_EQ(gate.tracker.algorithm, "sort");
    EXPECT_EQ(gate.tracker.min_hits, 3);
    ASSERT_TRUE(gate.tracker.ground_plane.has_value());
    EXPECT_FLOAT_EQ(gate.tracker.ground_plane->ground_m[2].y, 30.f);
    EXPECT_EQ(gate.analytics["rules"][0]["min_count"], 3);
    EXPECT_EQ(gate.analytics["zones"][0]["points"][0][1], 0.5);
    EXPECT_FALSE(config.cameras[1].enabled);
    EXPECT_EQ(config.cameras[1].source, "rtsp://10.0.0.9/stream");
    EXPECT_EQ(config.vlm.server, "http://127.0.0.1:8080");
    EXPECT_EQ(config.vlm.workers, 3);
    EXPECT_EQ(config.vlm.prefix_cache_mb, 64);
    EXPECT_EQ(gate.send, alert::SendMode::on_verdict);
    EXPECT_EQ(gate.send_mode_for("jam"), alert::SendMode::on_event);
    EXPECT_EQ(gate.send_mode_for("other_rule"), alert::SendMode::on_verdict);
    EXPECT_FALSE(gate.analytics["rules"][0].contains("send")) << "the pipeline's key, not the analytics engine's";
    EXPECT_DOUBLE_EQ(config.alert.cooldown_s, 10);
    EXPECT_TRUE(config.alert.send_rejected);
    EXPECT_EQ(config.store.retention_days, 7);
    ASSERT_EQ(config.sinks.size(), 2u);
    EXPECT_EQ(config.sinks[1]["port"], 1883);
    EXPECT_DOUBLE_EQ(config.scene_check.period_s, 600);
}

TEST(PipelineConfig, EmbeddedVlmFilesAndLoraResolveAgainstTheConfigFolder) {
    TempDir dir;
    const auto path = dir / "site.yaml";
    testing::write_file(path, "cameras:\n" + camera_yaml("north") +
                                  "vlm: {model: m/text.gguf, mmproj: m/mmproj.gguf, lora: adapters/site.gguf}\n");
    const auto config = load_pipeline_config(path);
    EXPECT_EQ(config.vlm.model, (dir.path() / "m/text.gguf").string());
    EXPECT_EQ(config.vlm.mmproj, (dir.path() / "m/mmproj.gguf").string());
    EXPECT_EQ(config.vlm.lora, (dir.path() / "adapters/site.gguf").string());
}

TEST(PipelineConfig, SourceOverrides) {
    TempDir dir;
    const auto path = dir / "two.yaml";
    testing::write_file(path, "cameras:\n" + camera_yaml("north") + camera_yaml("south"));
    const auto config = load_pipeline_config(path, {"south=rtsp://127.0.0.1:9/x"});
    EXPECT_EQ(config.cameras[0].source, video());
    EXPECT_EQ(config.cameras[1].source, "rtsp://127.0.0.1:9/x");
    // A bare URL is ambiguous with two cameras, and unknown camera names are named.
    EXPECT_THROW(load_pipeline_config(path, {"rtsp://127.0.0.1:9/x"}), Error);
    try {
        load_pipeline_config(path, {"west=a.mp4"});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cameras: north, south"), std::string::npos) << e.what();
    }
    // A missing source is fine when the command line supplies it.
    testing::write_file(path, "cameras:\n  - name: solo\n    detector: {name: motion}\n");
    EXPECT_EQ(load_pipeline_config(path, {"/tmp/clip.mp4"}).cameras[0].source, "/tmp/clip.mp4");
}

TEST(PipelineConfig, QuotedScalarsStayText) {
    TempDir dir;
    const auto path = dir / "q.yaml";
    testing::write_file(path, "cameras:\n" + camera_yaml("north") +
                                  "sinks:\n  - {type: webhook, name: \"007\", url: \"http://h/x\", secret: '123'}\n");
    const auto config = load_pipeline_config(path);
    EXPECT_TRUE(config.sinks[0]["name"].is_string());
    EXPECT_TRUE(config.sinks[0]["secret"].is_string());
}

// Every shipped preset validates (with a test video as its source).
TEST(PipelineConfig, EveryPresetLoads) {
    const std::filesystem::path configs = std::filesystem::path(VIGIL_SOURCE_DIR) / "configs";
    int presets = 0;
    for (const auto& entry : std::filesystem::directory_iterator(configs)) {
        if (entry.path().extension() != ".yaml") continue;
        ++presets;
        SCOPED_TRACE(entry.path().string());
        std::vector<std::string> overrides;
        try {
            const auto plain = load_pipeline_config(entry.path(), {});
            for (const auto& camera : plain.cameras) overrides.push_back(camera.name + "=" + video());
        } catch (const Error& e) {
            // Presets without a source are meant to get one with --source.
            EXPECT_NE(std::string(e.what()).find("key \"source\""), std::string::npos) << e.what();
        }
        PipelineConfig config;
        if (overrides.empty()) {
            ASSERT_NO_THROW(config = load_pipeline_config(entry.path(), {video()}));
        } else {
            ASSERT_NO_THROW(config = load_pipeline_config(entry.path(), overrides));
        }
        ASSERT_FALSE(config.cameras.empty());
        for (const auto& camera : config.cameras) EXPECT_FALSE(camera.analytics["rules"].empty()) << camera.name;
    }
    EXPECT_GE(presets, 6);
}

}  // namespace
}  // namespace vigil::pipeline
