// `vigil run` end to end on a real traffic video with a real detector: alerts
// come out valid, stored, searchable and delivered to a real MQTT broker, a
// webhook and a JSON-lines file; VLM verdicts, timeouts, bad answers, a dead
// camera and an unwritable evidence folder each take their documented path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "alert/alert_builder.h"
#include "core/error.h"
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

std::string video() { return shared_path("media/videos/opencv4nodejs_traffic.mp4").string(); }
std::string models() { return shared_path("models").string(); }

// One camera on the traffic clip: 4 analysed frames per second of the first
// `seconds` of video, YOLOX-nano on one thread, and a congestion rule tuned so
// this clip's ordinary traffic fires it (two vehicles in the road zone for a
// second, any speed).
std::string road_camera(const std::string& name, double seconds = 8, const std::string& source = "") {
    return "  - name: " + name + "\n" +
           "    location: Elm Street test road\n"
           "    site_context: Urban road seen from above.\n"
           "    source: " + (source.empty() ? video() : source) + "\n" +
           "    fps: 4\n"
           "    max_stream_s: " + std::to_string(seconds) + "\n" +
           "    detector: {name: yolox-nano, threshold: 0.3, threads: 1, models_dir: " + models() + ",\n"
           "               classes: [car, bus, truck, motorbike]}\n"
           "    tracker: {high_threshold: 0.4, new_track_threshold: 0.45}\n"
           "    analytics:\n"
           "      units: normalized\n"
           "      zones: [{name: road, points: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]}]\n"
           "      rules: [{name: road_congestion, type: congestion, zone: road, min_count: 2,\n"
           "               max_speed_px_s: 1000, min_s: 1, clear_s: 0.5}]\n";
}

std::string store_yaml(const TempDir& dir, const std::string& evidence = "") {
    return "store: {db: " + (dir / "vigil.sqlite").string() +
           ", evidence_dir: " + (evidence.empty() ? (dir / "evidence").string() : evidence) + "}\n";
}

std::set<std::string> ids_of(const std::vector<json>& alerts) {
    std::set<std::string> ids;
    for (const auto& alert : alerts) ids.insert(alert.at("id").get<std::string>());
    return ids;
}

// The tiny synthetic VLM (random weights, schema-constrained output) in
// process, delivering to MQTT, a webhook and a file.
TEST(PipelineEndToEnd, EmbeddedVlmAlertsAreStoredAndDelivered) {
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir / "vlm");
    vlm::EmbeddedConfig embedded;
    embedded.model_path = pair.text_model.string();
    embedded.mmproj_path = pair.mmproj.string();
    embedded.threads = 1;
    std::shared_ptr<vlm::VlmEngine> engine = vlm::make_embedded_engine(embedded);

    MosquittoBroker broker(dir.path());
    MqttSubscriber subscriber(broker.port());
    WebhookReceiver webhook;
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(
        dir, "cameras:\n" + road_camera("elm_street") +
                 "vlm: {deadline_s: 30, max_queue: 8}\n"
                 "alert: {merge_window_s: 0, cooldown_s: 0, send_rejected: true}\n" +
                 store_yaml(dir) +
                 "sinks:\n"
                 "  - {type: jsonl, name: file, path: " + jsonl.string() + "}\n"
                 "  - {type: mqtt, name: broker, host: 127.0.0.1, port: " + std::to_string(broker.port()) + "}\n"
                 "  - {type: webhook, name: ops, url: \"" + webhook.url() + "\"}\n");

    const RunSummary summary = run_pipeline(config, engine, until_eof());
    ASSERT_EQ(summary.cameras.size(), 1u);
    EXPECT_GT(summary.cameras[0].frames_analysed, 20);
    EXPECT_GE(summary.events, 1);
    ASSERT_GE(summary.alerts_sent, 1) << to_json(summary).dump(2);
    std::cerr << "embedded VLM: " << summary.vlm_answers << " answered, " << summary.vlm_errors << " failed\n";
    EXPECT_EQ(summary.invalid_alerts, 0);
    EXPECT_GE(summary.vlm_requests, 1);
    EXPECT_EQ(summary.vlm_requests, summary.vlm_answers + summary.vlm_timeouts + summary.vlm_errors);
    EXPECT_EQ(summary.deliveries_pending, 0);

    const auto file_alerts = read_jsonl(jsonl);
    ASSERT_EQ(static_cast<int64_t>(ids_of(file_alerts).size()), summary.alerts_sent);
    for (const auto& alert : file_alerts) {
        expect_valid(alert);
        EXPECT_EQ(alert["camera"], "elm_street");
        EXPECT_EQ(alert["type"], "congestion");
        EXPECT_EQ(alert["evidence"]["rule"], "road_congestion");
        EXPECT_FALSE(alert["evidence"]["images"].empty());
        for (const auto& image : alert["evidence"]["images"]) {
            ASSERT_TRUE(image["path"].is_string());
            EXPECT_TRUE(std::filesystem::exists(image["path"].get<std::string>()));
        }
        EXPECT_TRUE(alert["timings"]["event_to_alert_ms"].is_number());
        EXPECT_EQ(alert["models"]["vlm"].get<std::string>().empty(), false);
    }

    auto store = store::AlertStore::open(dir / "vigil.sqlite", dir / "evidence");
    const auto found = store->search_alerts("Elm");
    EXPECT_EQ(ids_of(found), ids_of(file_alerts));

    const auto messages = subscriber.wait_for(file_alerts.size(), std::chrono::seconds(10));
    std::vector<json> mqtt_alerts;
    for (const auto& [topic, payload] : messages) {
        EXPECT_EQ(topic.rfind("vigil/alerts/elm_street/", 0), 0u) << topic;
        mqtt_alerts.push_back(json::parse(payload));
    }
    EXPECT_EQ(ids_of(mqtt_alerts), ids_of(file_alerts));
    EXPECT_EQ(ids_of(webhook.bodies()), ids_of(file_alerts));
}

std::vector<json> alerts_of(const std::vector<json>& alerts, const std::string& camera) {
    std::vector<json> out;
    for (const auto& alert : alerts) {
        if (alert["camera"] == camera) out.push_back(alert);
    }
    return out;
}

// A scripted OpenAI-compatible VLM decides per camera (the camera's name is in
// the prompt): confirm, reject, answer too late, or answer off-schema.
TEST(PipelineEndToEnd, VlmVerdictsTimeoutsBadAnswersAndMerging) {
    TempDir dir;
    ScriptedVlmServer server([](const std::string& body, ScriptedVlmServer& self) -> std::string {
        if (body.find("reject_cam") != std::string::npos) return scripted_report("rejected", "Parked cars").dump();
        if (body.find("slow_cam") != std::string::npos) {
            self.hold();  // until the test ends: far past the 1 s deadline
            return scripted_report("confirmed", "Too late").dump();
        }
        if (body.find("garbage_cam") != std::string::npos) return R"({"verdict": "maybe", "title": 7})";
        return scripted_report("confirmed", "Queue on the road").dump();
    });
    WebhookReceiver webhook;
    const auto jsonl = dir / "alerts.jsonl";
    // confirm_cam also reports every vehicle entering the road: many events
    // with one camera/zone/rule key, which must merge into one alert.
    const std::string entries =
        "        - {name: road_entries, type: zone_presence, zone: road, exit: false}\n";
    std::string confirm = road_camera("confirm_cam");
    confirm.replace(confirm.find("      rules: ["), std::string("      rules: [").size(), "      rules:\n        - ");
    confirm.replace(confirm.rfind("clear_s: 0.5}]"), std::string("clear_s: 0.5}]").size(), "clear_s: 0.5}");
    confirm += entries;
    const auto config = write_config(
        dir, "cameras:\n" + confirm + road_camera("reject_cam") + road_camera("slow_cam") +
                 road_camera("garbage_cam") + "vlm: {server: \"" + server.url() +
                 "\", deadline_s: 1, max_queue: 64, workers: 2}\n"
                 "alert: {merge_window_s: 600, cooldown_s: 0}\n" +
                 store_yaml(dir) + "sinks:\n  - {type: jsonl, name: file, path: " + jsonl.string() +
                 "}\n  - {type: webhook, name: ops, url: \"" + webhook.url() + "\"}\n");
    std::shared_ptr<vlm::VlmEngine> engine = vlm::make_openai_engine({server.url()});

    const RunSummary summary = run_pipeline(config, engine, until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    EXPECT_EQ(summary.invalid_alerts, 0);
    EXPECT_EQ(summary.vlm_shed, 0);
    EXPECT_GE(summary.vlm_timeouts, 1);
    EXPECT_GE(summary.vlm_errors, 1);
    EXPECT_GE(summary.alerts_dismissed, 1);
    EXPECT_GE(summary.alerts_updated, 1);

    auto store = store::AlertStore::open(dir / "vigil.sqlite", dir / "evidence");
    store::AlertQuery everything;
    everything.limit = 1000;
    const auto stored = store->list_alerts(everything);
    for (const auto& alert : stored) expect_valid(alert);
    const auto delivered = read_jsonl(jsonl);

    // Confirmed: sent, with the VLM's words.
    const auto confirmed = alerts_of(stored, "confirm_cam");
    ASSERT_FALSE(confirmed.empty());
    bool saw_congestion = false, saw_merged = false;
    for (const auto& alert : confirmed) {
        EXPECT_EQ(alert["context"]["source"], "vlm");
        EXPECT_EQ(alert["verdict"], "confirmed");
        if (alert["type"] == "congestion") {
            saw_congestion = true;
            EXPECT_EQ(alert["title"], "Queue on the road");
        } else if (alert.value("related_events", 1) >= 2) {
            saw_merged = true;
        }
    }
    EXPECT_TRUE(saw_congestion);
    EXPECT_TRUE(saw_merged) << "many road_entries events should have merged into one alert";
    // One alert per key: the entries alert exists once however many events merged into it.
    std::set<std::string> entry_ids;
    for (const auto& alert : confirmed) {
        if (alert["evidence"]["rule"] == "road_entries") entry_ids.insert(alert["id"].get<std::string>());
    }
    EXPECT_EQ(entry_ids.size(), 1u);
    EXPECT_FALSE(alerts_of(delivered, "confirm_cam").empty());

    // Rejected: stored as dismissed, never delivered.
    const auto rejected = alerts_of(stored, "reject_cam");
    ASSERT_FALSE(rejected.empty());
    for (const auto& alert : rejected) EXPECT_EQ(alert["verdict"], "rejected");
    store::AlertQuery dismissed;
    dismissed.camera = "reject_cam";
    dismissed.status = "dismissed";
    EXPECT_EQ(store->list_alerts(dismissed).size(), rejected.size());
    EXPECT_TRUE(alerts_of(delivered, "reject_cam").empty());
    EXPECT_TRUE(alerts_of(webhook.bodies(), "reject_cam").empty());

    // Too slow and off-schema: rule-based context, still sent.
    for (const std::string camera : {"slow_cam", "garbage_cam"}) {
        const auto alerts = alerts_of(delivered, camera);
        ASSERT_FALSE(alerts.empty()) << camera;
        for (const auto& alert : alerts) {
            EXPECT_EQ(alert["context"]["source"], "rules") << camera;
            EXPECT_EQ(alert["verdict"], "uncertain") << camera;
        }
    }
    EXPECT_NE(alerts_of(delivered, "slow_cam")[0]["context"]["fallback_reason"].get<std::string>().find("timed out"),
              std::string::npos);
}

// A camera that cannot connect keeps retrying while the other one alerts.
TEST(PipelineEndToEnd, UnreachableCameraDoesNotStopTheOthers) {
    TempDir dir;
    const auto jsonl = dir / "alerts.jsonl";
    const std::string dead = "rtsp://127.0.0.1:" + std::to_string(free_loopback_port()) + "/x";
    const auto config = write_config(
        dir, "cameras:\n" + road_camera("dead_cam", 8, dead) + road_camera("live_cam") +
                 "alert: {cooldown_s: 0}\n" + store_yaml(dir) + "sinks:\n  - {type: jsonl, path: " + jsonl.string() +
                 "}\n");
    const RunSummary summary = run_pipeline(config, nullptr, until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    ASSERT_EQ(summary.cameras.size(), 2u);
    EXPECT_EQ(summary.cameras[0].frames_analysed, 0);
    EXPECT_NE(summary.cameras[0].state, "streaming");
    EXPECT_FALSE(summary.cameras[0].last_error.empty());
    EXPECT_GT(summary.cameras[1].frames_analysed, 15);
    const auto alerts = read_jsonl(jsonl);
    ASSERT_FALSE(alerts.empty());
    for (const auto& alert : alerts) {
        expect_valid(alert);
        EXPECT_EQ(alert["camera"], "live_cam");
        EXPECT_EQ(alert["context"]["source"], "rules");
    }
}

// Evidence that cannot be written (the folder would have to live under a
// regular file) is marked missing; the alert is still stored and sent.
TEST(PipelineEndToEnd, UnwritableEvidenceIsMarkedMissing) {
    TempDir dir;
    vigil::testing::write_file(dir / "not_a_dir", "plain file");
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + road_camera("elm_street") + "alert: {cooldown_s: 0}\n" +
                                              store_yaml(dir, (dir / "not_a_dir" / "evidence").string()) +
                                              "sinks:\n  - {type: jsonl, path: " + jsonl.string() + "}\n");
    const RunSummary summary = run_pipeline(config, nullptr, until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    ASSERT_GE(summary.alerts_sent, 1);
    EXPECT_GE(summary.evidence_missing, 1);
    auto store = store::AlertStore::open(dir / "vigil.sqlite", dir / "evidence");
    const auto stored = store->list_alerts({});
    ASSERT_EQ(static_cast<int64_t>(stored.size()), summary.alerts_sent);
    for (const auto& alert : stored) {
        expect_valid(alert);
        ASSERT_FALSE(alert["evidence"]["images"].empty());
        for (const auto& image : alert["evidence"]["images"]) {
            EXPECT_TRUE(image["path"].is_null());
            EXPECT_EQ(image["missing"], true);
        }
    }
    EXPECT_EQ(read_jsonl(jsonl).size(), stored.size());
}

// When every camera fails before its first frame the run says why.
TEST(PipelineEndToEnd, AllCamerasFailingIsAnError) {
    TempDir dir;
    const auto config = write_config(dir, "cameras:\n" + road_camera("ghost", 8, (dir / "missing.mp4").string()) +
                                              store_yaml(dir));
    try {
        run_pipeline(config, nullptr, until_eof());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("camera \"ghost\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("missing.mp4"), std::string::npos) << e.what();
    }
}

// A VLM slower than the event rate: past max_queue events waiting for a
// verdict, the overflow is shed to rule-based context at once; every event
// still becomes (part of) an alert.
TEST(PipelineEndToEnd, FullVlmQueueShedsToRules) {
    TempDir dir;
    ScriptedVlmServer server([](const std::string&, ScriptedVlmServer& self) -> std::string {
        self.hold();
        return scripted_report("confirmed", "Too late").dump();
    });
    std::string camera = road_camera("busy_cam");
    camera.replace(camera.find("      rules: ["), std::string("      rules: [").size(),
                   "      rules: [{name: road_entries, type: zone_presence, zone: road, exit: false}, ");
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + camera + "vlm: {server: \"" + server.url() +
                                              "\", deadline_s: 1, max_queue: 1, workers: 1}\n"
                                              "alert: {merge_window_s: 0, cooldown_s: 0}\n" +
                                              store_yaml(dir) + "sinks:\n  - {type: jsonl, path: " + jsonl.string() +
                                              "}\n");
    const RunSummary summary = run_pipeline(config, vlm::make_openai_engine({server.url()}), until_eof());
    SCOPED_TRACE(to_json(summary).dump(2));
    EXPECT_GE(summary.vlm_shed, 1);
    // Nothing vanished: every event the VLM queue took or shed became an alert.
    EXPECT_EQ(summary.vlm_requests, summary.vlm_timeouts + summary.vlm_errors + summary.vlm_answers);
    EXPECT_EQ(summary.alerts_sent + summary.alerts_updated + summary.alerts_suppressed,
              summary.vlm_requests + summary.vlm_shed);
    std::set<std::string> shed_ids;  // an updated alert is delivered again under the same id
    for (const auto& alert : read_jsonl(jsonl)) {
        expect_valid(alert);
        EXPECT_EQ(alert["context"]["source"], "rules");
        if (alert["context"]["fallback_reason"].get<std::string>().find("VLM busy") != std::string::npos)
            shed_ids.insert(alert["id"].get<std::string>());
    }
    const int shed_alerts = static_cast<int>(shed_ids.size());
    // Events at the same stream time merge into one alert (merge window 0
    // still joins equal times), so a shed event may show up as an update.
    EXPECT_GE(shed_alerts, 1);
    EXPECT_LE(shed_alerts, summary.vlm_shed);
    EXPECT_GE(shed_alerts + summary.alerts_updated, summary.vlm_shed);
}

// A stop request (what SIGINT sets) ends a run whose source never ends: the
// camera loops its file at real-time pace. Queued events are still alerted.
TEST(PipelineEndToEnd, StopRequestEndsALiveRunCleanly) {
    TempDir dir;
    std::string camera = road_camera("looping_cam", 0);
    camera.replace(camera.find("    max_stream_s: 0.000000\n"), std::string("    max_stream_s: 0.000000\n").size(),
                   "    realtime: true\n    loop: true\n");
    const auto jsonl = dir / "alerts.jsonl";
    const auto config = write_config(dir, "cameras:\n" + camera + "alert: {cooldown_s: 0}\n" + store_yaml(dir) +
                                              "sinks:\n  - {type: jsonl, path: " + jsonl.string() + "}\n");
    std::atomic<bool> stop{false};
    RunOptions options;
    options.stop = &stop;
    options.progress = false;
    options.until_eof = true;  // a looping file never reaches its end
    RunSummary summary;
    std::thread run([&] { summary = run_pipeline(config, nullptr, options); });
    // Wait for the first delivered alert (about 7 s of video in), then stop.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while (read_jsonl(jsonl).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto stopped_at = std::chrono::steady_clock::now();
    stop = true;
    run.join();
    const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
    SCOPED_TRACE(to_json(summary).dump(2));
    EXPECT_LT(stop_s, 5.0);
    EXPECT_GE(summary.alerts_sent, 1);
    EXPECT_EQ(summary.deliveries_pending, 0);
    EXPECT_EQ(static_cast<int64_t>(ids_of(read_jsonl(jsonl)).size()), summary.alerts_sent);
}

}  // namespace
}  // namespace vigil::pipeline
