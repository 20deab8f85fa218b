// `vigil run`'s scene checks end to end: with `scene_check` set, a camera
// whose rules never fire still sends its picture to the VLM every period (or
// on a scene change), and only a check whose answer names a hazard becomes a
// sent alert of type scene_check. Real video, the real YOLOX-nano detector,
// a scripted OpenAI-compatible VLM server.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "alert/alert_builder.h"
#include "analyze/analyze_scene_change.h"
#include "core/paths.h"
#include "ingest/ingest_source.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "pipeline_test_support.h"
#include "store/alert_store.h"
#include "testing/test_support.h"
#include "vlm/vlm_engine.h"

namespace vigil::pipeline {
namespace {

using json = nlohmann::json;
using vigil::testing::shared_path;
using vigil::testing::TempDir;
using namespace vigil::pipeline::testing;

std::string traffic_video() { return shared_path("media/videos/opencv4nodejs_traffic.mp4").string(); }
std::string highway_video() { return shared_path("media/videos/bgslibrary_video02_highway.avi").string(); }
std::string models() { return shared_path("models").string(); }

// The scene check prompt's first line has no placeholders, so it shows up
// verbatim in the request body of every scene check and of nothing else.
std::string scene_check_marker() {
    std::ifstream in(data_dir() / "prompts" / "scene_check.prompt.txt");
    std::string line;
    std::getline(in, line);
    return line;
}

bool is_scene_check(const std::string& body) {
    static const std::string marker = scene_check_marker();
    return !marker.empty() && body.find(marker) != std::string::npos;
}

// A schema-valid answer to prompts/scene_check.schema.json. "none!" is a
// model that finds no hazard yet still writes verdict "confirmed".
json scene_answer(const std::string& hazard) {
    const bool found = hazard != "none" && hazard != "none!";
    return {{"hazard_found", found},
            {"hazard_type", found ? hazard : "none"},
            {"verdict", found || hazard == "none!" ? "confirmed" : "rejected"},
            {"reasoning", found ? "Water covers the lanes." : "Traffic flows normally."},
            {"title", found ? "Flooded road" : "Normal traffic"},
            {"summary", found ? "Water covers both lanes." : "Nothing out of the ordinary."},
            {"description", found ? "Water covers both lanes; cars have stopped before it." : "Cars drive by."},
            {"probable_cause", found ? "Heavy rain." : ""},
            {"hazards", found ? json::array({"standing water"}) : json::array()},
            {"people_at_risk", false},
            {"emergency_services_seen", false},
            {"recommended_actions", found ? json::array({"Close the road"}) : json::array()},
            {"severity", found ? "high" : "info"},
            {"confidence", 0.9}};
}

// One camera on `source`, 4 analysed frames per second of the first
// `seconds`, YOLOX-nano on one thread, and a congestion rule no road scene
// reaches (100 vehicles), so every VLM request comes from a scene check.
std::string quiet_camera(const std::string& name, const std::string& source, double seconds) {
    return "  - name: " + name + "\n" +
           "    location: Elm Street test road\n"
           "    source: " + source + "\n" +
           "    fps: 4\n"
           "    max_stream_s: " + std::to_string(seconds) + "\n" +
           "    detector: {name: yolox-nano, threshold: 0.3, threads: 1, models_dir: " + models() + ",\n"
           "               classes: [car, bus, truck, motorbike]}\n"
           "    analytics:\n"
           "      units: normalized\n"
           "      zones: [{name: road, points: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]}]\n"
           "      rules: [{name: road_jam, type: congestion, zone: road, min_count: 100,\n"
           "               max_speed_px_s: 1000, min_s: 1}]\n";
}

// By default merging is off, so each scene check is an alert of its own
// whose status shows what its answer decided.
std::string outputs_yaml(const TempDir& dir, const std::string& vlm_url, const std::filesystem::path& jsonl,
                         const std::string& webhook_url,
                         const std::string& alert_policy = "alert: {merge_window_s: 0, cooldown_s: 0}\n") {
    return "vlm: {server: \"" + vlm_url + "\", deadline_s: 5, max_queue: 16, workers: 1}\n" + alert_policy +
           "store: {db: " + (dir / "vigil.sqlite").string() + ", evidence_dir: " + (dir / "evidence").string() + "}\n"
           "sinks:\n"
           "  - {type: jsonl, name: file, path: " + jsonl.string() + "}\n" +
           (webhook_url.empty() ? "" : "  - {type: webhook, name: ops, url: \"" + webhook_url + "\"}\n");
}

std::vector<json> stored_alerts(const TempDir& dir, const std::string& status) {
    auto store = store::AlertStore::open(dir / "vigil.sqlite", dir / "evidence");
    store::AlertQuery query;
    query.status = status;
    query.limit = 1000;
    return store->list_alerts(query);
}

// Records every request body and answers scene checks from a list (the
// last answer repeats); anything else is counted as unexpected.
struct SceneScript {
    std::vector<std::string> answers;  // hazard_type per scene check, in order
    std::mutex mutex;
    std::vector<std::string> scene_bodies;
    int other_requests = 0;

    std::string answer(const std::string& body) {
        std::lock_guard lock(mutex);
        if (!is_scene_check(body)) {
            ++other_requests;
            return scripted_report("confirmed", "Not a scene check").dump();
        }
        const size_t n = scene_bodies.size();
        scene_bodies.push_back(body);
        return scene_answer(answers[std::min(n, answers.size() - 1)]).dump();
    }
};

// Writes `count` frames, one per second of `video`, resized to `size` (an
// empty size keeps the first video's), as JPEGs named from `first` on.
cv::Size write_frames(const std::string& video, const std::filesystem::path& folder, int first, int count,
                      cv::Size size) {
    ingest::SourceConfig source;
    source.url = video;
    source.target_fps = 1;
    auto reader = ingest::open_source(source);
    for (int i = 0; i < count; ++i) {
        auto frame = reader->read();
        if (!frame) throw std::runtime_error(video + ": fewer frames than asked for");
        if (size.empty()) size = frame->bgr.size();
        cv::Mat out;
        cv::resize(frame->bgr, out, size, 0, 0, cv::INTER_AREA);
        char name[32];
        std::snprintf(name, sizeof name, "%03d.jpg", first + i);
        if (!cv::imwrite((folder / name).string(), out)) throw std::runtime_error("cannot write a frame");
    }
    return size;
}

// 1 and 2: periodic checks reach the VLM about once a period; the first,
// answered "flood", is the one sent alert; the others found nothing and are
// stored dismissed, even the one whose answer said "confirmed".
TEST(PipelineSceneCheck, PeriodicChecksAlertOnlyOnAHazard) {
    constexpr double kSeconds = 9;
    constexpr double kPeriodS = 2;
    TempDir dir;
    SceneScript script{{"flood", "none!", "none"}};
    ScriptedVlmServer server([&](const std::string& body, ScriptedVlmServer&) { return script.answer(body); });
    WebhookReceiver webhook;
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + quiet_camera("elm_street", traffic_video(), kSeconds) +
                                              "scene_check: {period_s: " + std::to_string(kPeriodS) + "}\n" +
                                              outputs_yaml(dir, server.url(), jsonl, webhook.url()));

    const RunSummary summary = run_pipeline(config, vlm::make_openai_engine({server.url()}), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    ASSERT_EQ(summary.cameras.size(), 1u);
    EXPECT_GT(summary.cameras[0].frames_analysed, 4 * (kSeconds - 1));

    // The first check sets the scene's reference; one fires each full period
    // after it, up to half a second late (checks run on every other frame).
    const int scene_checks = static_cast<int>(script.scene_bodies.size());
    const int most = static_cast<int>(std::floor(kSeconds / kPeriodS));
    EXPECT_GE(scene_checks, most - 1);
    EXPECT_LE(scene_checks, most);
    ASSERT_GE(scene_checks, 3) << "need every scripted answer used";
    EXPECT_EQ(script.other_requests, 0) << "the congestion rule was not meant to fire";
    EXPECT_EQ(server.requests(), scene_checks);
    for (const auto& body : script.scene_bodies)
        EXPECT_NE(body.find("Periodic scene check"), std::string::npos) << "the prompt should say why it ran";

    EXPECT_EQ(summary.vlm_requests, scene_checks);
    EXPECT_EQ(summary.vlm_answers, scene_checks);
    EXPECT_EQ(summary.vlm_shed + summary.vlm_timeouts + summary.vlm_errors, 0);
    EXPECT_EQ(summary.invalid_alerts, 0);
    EXPECT_EQ(summary.alerts_sent, 1);
    EXPECT_EQ(summary.alerts_dismissed, scene_checks - 1);
    EXPECT_EQ(summary.deliveries_pending, 0);

    // The hazard: delivered to both sinks, once, as a scene_check alert.
    const auto delivered = read_jsonl(jsonl);
    ASSERT_EQ(delivered.size(), 1u);
    const json& flood = delivered[0];
    expect_valid(flood);
    EXPECT_EQ(flood["camera"], "elm_street");
    EXPECT_EQ(flood["type"], "scene_check");
    EXPECT_EQ(flood["verdict"], "confirmed");
    EXPECT_EQ(flood["context"]["source"], "vlm");
    EXPECT_EQ(flood["severity"], "high");
    EXPECT_EQ(flood["title"], "Flooded road");
    EXPECT_NE(std::find(flood["hazards"].begin(), flood["hazards"].end(), "flood"), flood["hazards"].end())
        << flood["hazards"].dump();
    EXPECT_EQ(flood["evidence"]["rule"], "scene_change");
    EXPECT_EQ(flood["evidence"]["metrics"]["reason"], "periodic");
    EXPECT_FALSE(flood["evidence"]["images"].empty());
    for (const auto& image : flood["evidence"]["images"]) {
        ASSERT_TRUE(image["path"].is_string()) << image.dump();
        EXPECT_TRUE(std::filesystem::exists(image["path"].get<std::string>()));
    }
    const auto hooks = webhook.bodies();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0]["id"], flood["id"]);

    const auto sent = stored_alerts(dir, "sent");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0]["id"], flood["id"]);

    // The checks that found nothing: stored, dismissed, never delivered.
    const auto dismissed = stored_alerts(dir, "dismissed");
    EXPECT_EQ(static_cast<int>(dismissed.size()), scene_checks - 1);
    for (const auto& alert : dismissed) {
        expect_valid(alert);
        EXPECT_EQ(alert["type"], "scene_check");
        EXPECT_EQ(alert["verdict"], "rejected");
        EXPECT_EQ(alert["context"]["source"], "vlm");
        EXPECT_EQ(std::find(alert["hazards"].begin(), alert["hazards"].end(), "flood"), alert["hazards"].end());
        EXPECT_NE(alert["id"], flood["id"]);
    }
}

// With the default alert policy (a merge window far longer than the period)
// checks merge per hazard: the flood is sent once and is not updated, nor
// re-sent, by the "nothing wrong" answers around it, which merge into one
// dismissed alert of their own.
TEST(PipelineSceneCheck, DefaultMergingKeepsAHazardApartFromQuietChecks) {
    constexpr double kSeconds = 9;
    TempDir dir;
    SceneScript script{{"none", "flood", "none"}};
    ScriptedVlmServer server([&](const std::string& body, ScriptedVlmServer&) { return script.answer(body); });
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + quiet_camera("elm_street", traffic_video(), kSeconds) +
                                              "scene_check: {period_s: 2}\n" +
                                              outputs_yaml(dir, server.url(), jsonl, "", ""));
    ASSERT_GT(config.alert.merge_window_s, kSeconds) << "the test is about the default merge window";

    const RunSummary summary = run_pipeline(config, vlm::make_openai_engine({server.url()}), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    const int scene_checks = static_cast<int>(script.scene_bodies.size());
    ASSERT_GE(scene_checks, 3) << "need every scripted answer used";
    EXPECT_EQ(summary.alerts_sent, 1);
    EXPECT_EQ(summary.alerts_dismissed, 1);
    EXPECT_EQ(summary.alerts_updated, scene_checks - 2);

    const auto delivered = read_jsonl(jsonl);
    ASSERT_EQ(delivered.size(), 1u) << "the flood alert was re-sent";
    EXPECT_EQ(delivered[0]["title"], "Flooded road");
    EXPECT_EQ(delivered[0]["related_events"], 1);
    const auto dismissed = stored_alerts(dir, "dismissed");
    ASSERT_EQ(dismissed.size(), 1u);
    EXPECT_EQ(dismissed[0]["related_events"], scene_checks - 1);
    EXPECT_TRUE(dismissed[0]["hazards"].empty()) << dismissed[0]["hazards"].dump();
}

// 3: a scene change. A folder of stills plays one per second: eight seconds
// of the traffic clip, then a hard cut to eight of the highway clip (the
// picture a camera knocked onto another view would show). Only the change
// triggers a check; the VLM answers that it sees no hazard.
TEST(PipelineSceneCheck, SceneCutTriggersOneCheck) {
    constexpr int kBefore = 8, kAfter = 8;
    TempDir dir;
    const auto folder = dir / "cut";
    std::filesystem::create_directories(folder);
    const cv::Size size = write_frames(traffic_video(), folder, 0, kBefore, {});
    write_frames(highway_video(), folder, kBefore, kAfter, size);

    SceneScript script{{"none"}};
    ScriptedVlmServer server([&](const std::string& body, ScriptedVlmServer&) { return script.answer(body); });
    const auto jsonl = dir / "alerts.jsonl";
    // Scores measured on these stills: under 0.03 within one clip, 0.26 at
    // the cut and above 0.17 for the seconds after it (the reference adapts
    // slowly), so 0.12 fires once and does not re-arm.
    const auto config = write_config(dir, "cameras:\n" + quiet_camera("elm_street", folder.string(), 100) +
                                              "scene_check: {threshold: 0.12}\n" +
                                              outputs_yaml(dir, server.url(), jsonl, ""));

    const RunSummary summary = run_pipeline(config, vlm::make_openai_engine({server.url()}), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    EXPECT_EQ(summary.cameras.at(0).frames_analysed, kBefore + kAfter);
    ASSERT_EQ(script.scene_bodies.size(), 1u);
    EXPECT_EQ(script.other_requests, 0);
    EXPECT_NE(script.scene_bodies[0].find("The scene changed"), std::string::npos);
    EXPECT_EQ(summary.vlm_answers, 1);
    EXPECT_EQ(summary.alerts_sent, 0);
    EXPECT_EQ(summary.alerts_dismissed, 1);
    EXPECT_TRUE(read_jsonl(jsonl).empty());

    const auto dismissed = stored_alerts(dir, "dismissed");
    ASSERT_EQ(dismissed.size(), 1u);
    const json& check = dismissed[0];
    expect_valid(check);
    EXPECT_EQ(check["type"], "scene_check");
    EXPECT_EQ(check["verdict"], "rejected");
    const json& metrics = check["evidence"]["metrics"];
    EXPECT_EQ(metrics["reason"], "change");
    EXPECT_GE(metrics["score"].get<double>(), 0.12);
    EXPECT_TRUE(stored_alerts(dir, "sent").empty());
    // It fired on the first highway still (one still per second of stream time).
    const std::string at_cut = std::to_string(kBefore) + ".0 s into the stream";
    EXPECT_NE(script.scene_bodies[0].find(at_cut), std::string::npos) << "expected the check at " << at_cut;
}

// 4: the VLM is down (nothing listens on its port). A periodic check has no
// facts beyond the picture, so without the VLM's answer there is nothing to
// alert on: each check is recorded and counted, and no alert is made.
TEST(PipelineSceneCheck, PeriodicChecksWithoutAVlmAnswerAreRecordedNotAlerted) {
    constexpr double kSeconds = 5;
    constexpr double kPeriodS = 2;
    TempDir dir;
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_loopback_port());
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + quiet_camera("elm_street", traffic_video(), kSeconds) +
                                              "scene_check: {period_s: " + std::to_string(kPeriodS) + "}\n" +
                                              outputs_yaml(dir, dead, jsonl, ""));
    vlm::OpenAiConfig openai;
    openai.base_url = dead;
    openai.max_retries = 0;
    const RunSummary summary = run_pipeline(config, vlm::make_openai_engine(openai), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));

    const int most = static_cast<int>(std::floor(kSeconds / kPeriodS));
    EXPECT_GE(summary.vlm_requests, most - 1);
    EXPECT_LE(summary.vlm_requests, most);
    EXPECT_EQ(summary.vlm_errors, summary.vlm_requests);
    EXPECT_EQ(summary.scene_checks_without_vlm, summary.vlm_requests);
    EXPECT_EQ(summary.alerts_sent + summary.alerts_dismissed + summary.alerts_updated, 0);
    EXPECT_TRUE(stored_alerts(dir, "").empty());
    EXPECT_TRUE(read_jsonl(jsonl).empty());

    // With no VLM at all the same holds.
    TempDir bare;
    const auto bare_config = write_config(bare, "cameras:\n" + quiet_camera("elm_street", traffic_video(), kSeconds) +
                                                    "scene_check: {period_s: " + std::to_string(kPeriodS) + "}\n" +
                                                    outputs_yaml(bare, dead, bare / "alerts.jsonl", ""));
    const RunSummary without = run_pipeline(bare_config, nullptr, until_eof());
    EXPECT_GE(without.scene_checks_without_vlm, most - 1);
    EXPECT_TRUE(stored_alerts(bare, "").empty());
}

}  // namespace
}  // namespace vigil::pipeline
