// Verdict first, report after, on a real video with a real detector: an alert
// goes out the moment the VLM's verdict is decoded and its full report follows
// under the same id; with `send: on_event` the rules' alert goes out at once,
// the VLM's verdict and report update it, and a rejection is delivered as a
// dismissal of what was sent.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "contextualize/contextualize_test_scenes.h"
#include "models/model_synth.h"
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

std::string road_camera(const std::string& name, const std::string& rule_extra = "") {
    return "  - name: " + name + "\n" +
           "    location: Elm Street test road\n"
           "    source: " +
           shared_path("media/videos/opencv4nodejs_traffic.mp4").string() + "\n" +
           "    fps: 4\n"
           "    max_stream_s: 8\n"
           "    detector: {name: yolox-nano, threshold: 0.3, threads: 1, models_dir: " +
           shared_path("models").string() +
           ",\n"
           "               classes: [car, bus, truck, motorbike]}\n"
           "    tracker: {high_threshold: 0.4, new_track_threshold: 0.45}\n"
           "    analytics:\n"
           "      units: normalized\n"
           "      zones: [{name: road, points: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]}]\n"
           "      rules: [{name: road_congestion, type: congestion, zone: road, min_count: 2,\n"
           "               max_speed_px_s: 1000, min_s: 1, clear_s: 0.5" +
           rule_extra + "}]\n";
}

// Every delivered version of each alert, in delivery order.
std::map<std::string, std::vector<json>> versions_by_id(const std::vector<json>& lines) {
    std::map<std::string, std::vector<json>> out;
    for (const json& alert : lines) out[alert.at("id").get<std::string>()].push_back(alert);
    return out;
}

TEST(PipelineVerdictFirst, TheVerdictIsSentAndTheReportCompletesTheSameAlert) {
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir / "vlm");
    vlm::EmbeddedConfig embedded;
    embedded.model_path = pair.text_model.string();
    embedded.mmproj_path = pair.mmproj.string();
    embedded.threads = 1;
    embedded.parallel = 2;
    std::shared_ptr<vlm::VlmEngine> engine = vlm::make_embedded_engine(embedded);
    const auto jsonl = dir / "alerts.jsonl";
    const auto config =
        write_config(dir, "cameras:\n" + road_camera("elm_street") +
                              "vlm: {deadline_s: 60, max_queue: 8, workers: 2}\n"
                              "alert: {merge_window_s: 0, cooldown_s: 0, send_rejected: true}\n"
                              "store: {db: " +
                              (dir / "vigil.sqlite").string() + ", evidence_dir: " + (dir / "ev").string() +
                              "}\n"
                              "sinks:\n  - {type: jsonl, name: file, path: " +
                              jsonl.string() + "}\n");
    const RunSummary summary = run_pipeline(config, engine, until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    ASSERT_GE(summary.vlm_answers, 1);
    EXPECT_EQ(summary.invalid_alerts, 0);
    EXPECT_GE(summary.reports_completed, summary.vlm_answers);

    int completed = 0;
    for (const auto& [id, versions] : versions_by_id(read_jsonl(jsonl))) {
        for (const json& alert : versions) expect_valid(alert);
        const json& first = versions.front();
        const json& last = versions.back();
        if (last["context"]["source"] != "vlm" || last["context"]["complete"] != true) continue;
        ++completed;
        SCOPED_TRACE(id);
        // First out: the decision alone, with the rules' words.
        ASSERT_GE(versions.size(), 2u) << "the report should follow the verdict as an update";
        EXPECT_EQ(first["context"]["source"], "vlm");
        EXPECT_EQ(first["context"]["complete"], false);
        EXPECT_EQ(first["related_events"], 1);
        EXPECT_EQ(last["related_events"], 1) << "the report is not another event";
        EXPECT_EQ(first["evidence"]["images"], last["evidence"]["images"]) << "evidence is written once";
        const json& t = last["timings"];
        EXPECT_EQ(t["event_to_verdict_ms"], first["timings"]["event_to_verdict_ms"]);
        EXPECT_EQ(t["event_to_alert_ms"], first["timings"]["event_to_alert_ms"]);
        EXPECT_LE(t["event_to_verdict_ms"].get<double>(), t["event_to_report_ms"].get<double>());
        EXPECT_LE(t["vlm_verdict_ms"].get<double>(), t["vlm_ms"].get<double>());
    }
    EXPECT_GE(completed, 1);
}

// A VLM that confirms on one camera and rejects on the other. It answers only
// once the camera's rules alert has reached the receiver (the JSON-lines
// file), as a real VLM is slower than the rules, so the test sees every step.
std::shared_ptr<contextualize::testing::ScriptedVlmEngine> judging_vlm(const std::filesystem::path& jsonl) {
    auto engine = std::make_shared<contextualize::testing::ScriptedVlmEngine>();
    engine->streaming = true;
    engine->answer_for = [jsonl](const vlm::VlmRequest& request) {
        const bool reject = request.instructions.find("reject_cam") != std::string::npos;
        const std::string camera = reject ? "reject_cam" : "confirm_cam";
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        auto delivered = [&] {
            if (!std::filesystem::exists(jsonl)) return false;
            for (const json& alert : read_jsonl(jsonl))
                if (alert["camera"] == camera) return true;
            return false;
        };
        while (!delivered() && std::chrono::steady_clock::now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the receiver's file
        return scripted_report(reject ? "rejected" : "confirmed", reject ? "Parked cars" : "Queue").dump();
    };
    return engine;
}

TEST(PipelineVerdictFirst, SendOnEventSendsTheRulesAlertAndTheVlmUpdatesOrRetractsIt) {
    TempDir dir;
    const auto jsonl = dir / "alerts.jsonl";
    // confirm_cam sends on the event for every rule; reject_cam only for its
    // congestion rule (the per-rule key).
    std::string confirm = road_camera("confirm_cam");
    confirm.insert(confirm.find("    fps: 4"), "    send: on_event\n");
    const auto config =
        write_config(dir, "cameras:\n" + confirm + road_camera("reject_cam", ", send: on_event") +
                              "vlm: {server: \"http://127.0.0.1:9\", deadline_s: 30, max_queue: 64}\n"
                              "alert: {merge_window_s: 0, cooldown_s: 0}\n"
                              "store: {db: " +
                              (dir / "vigil.sqlite").string() + ", evidence_dir: " + (dir / "ev").string() +
                              "}\n"
                              "sinks:\n  - {type: jsonl, name: file, path: " +
                              jsonl.string() + "}\n");
    ASSERT_EQ(config.cameras[0].send, alert::SendMode::on_event);
    ASSERT_EQ(config.cameras[1].send_mode_for("road_congestion"), alert::SendMode::on_event);
    const RunSummary summary = run_pipeline(config, judging_vlm(jsonl), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    EXPECT_EQ(summary.invalid_alerts, 0);
    ASSERT_GE(summary.vlm_answers, 2);

    auto store = store::AlertStore::open(dir / "vigil.sqlite", dir / "ev");
    int confirmed = 0, retracted = 0;
    for (const auto& [id, versions] : versions_by_id(read_jsonl(jsonl))) {
        SCOPED_TRACE(id);
        for (const json& alert : versions) expect_valid(alert);
        const json& first = versions.front();
        const json& last = versions.back();
        // Out at once, from the rules, before the VLM has said anything.
        EXPECT_EQ(first["context"]["source"], "rules");
        EXPECT_EQ(first["context"]["complete"], false);
        EXPECT_EQ(first["context"]["fallback_reason"], "sent before the VLM's verdict (send: on_event)");
        EXPECT_FALSE(first["timings"].contains("event_to_verdict_ms"));
        // Then the VLM's verdict and report (the two may reach the receiver as
        // one update: the outbox keeps only the latest undelivered version).
        ASSERT_GE(versions.size(), 2u);
        EXPECT_EQ(last["context"]["source"], "vlm");
        EXPECT_EQ(last["context"]["complete"], true);
        EXPECT_LE(first["timings"]["event_to_alert_ms"].get<double>(),
                  last["timings"]["event_to_verdict_ms"].get<double>());
        if (last["camera"] == "confirm_cam") {
            ++confirmed;
            EXPECT_EQ(last["verdict"], "confirmed");
            EXPECT_EQ(store->alert_status(id), "sent");
        } else {
            ++retracted;
            EXPECT_EQ(last["verdict"], "rejected");
            EXPECT_EQ(last["title"], "Parked cars");
            EXPECT_EQ(store->alert_status(id), "dismissed") << "stored as dismissed, and delivered as such";
        }
    }
    EXPECT_GE(confirmed, 1);
    EXPECT_GE(retracted, 1);
    EXPECT_EQ(summary.alerts_retracted, retracted);
}

}  // namespace
}  // namespace vigil::pipeline
