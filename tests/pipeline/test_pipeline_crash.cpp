// A whole `vigil run` process is killed with SIGKILL while its webhook
// receiver is down. After a restart with the receiver up, every alert the dead
// process stored reaches the receiver: none lost, duplicates only by id.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "store/alert_store.h"
#include "testing/test_receivers.h"
#include "testing/test_support.h"

extern char** environ;

namespace vigil::pipeline {
namespace {

using json = nlohmann::json;
using vigil::testing::shared_path;
using vigil::testing::TempDir;

// `vigil ARGS...` as a child process, its output in `log`.
pid_t spawn_vigil(const std::vector<std::string>& args, const std::filesystem::path& log) {
    std::vector<std::string> words = {VIGIL_EXE};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return spawned == 0 ? pid : -1;
}

// Alerts committed so far, read through a separate read-only connection as
// an outside observer would (the running process holds the writer).
int stored_alerts(const std::filesystem::path& db) {
    if (!std::filesystem::exists(db)) return 0;
    sqlite3* connection = nullptr;
    int count = 0;
    if (sqlite3_open_v2(db.c_str(), &connection, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(connection, 1000);
        sqlite3_stmt* query = nullptr;
        if (sqlite3_prepare_v2(connection, "SELECT COUNT(*) FROM alerts", -1, &query, nullptr) == SQLITE_OK &&
            sqlite3_step(query) == SQLITE_ROW)
            count = sqlite3_column_int(query, 0);
        sqlite3_finalize(query);
    }
    sqlite3_close(connection);
    return count;
}

// One camera on the traffic clip; every vehicle entering the road is an
// alert of its own (no merging, no cooldown), so alerts come fast.
std::string config_yaml(const TempDir& dir, int webhook_port, const std::string& camera_extra) {
    return "cameras:\n"
           "  - name: crash_cam\n"
           "    location: Crash test road\n"
           "    source: " + shared_path("media/videos/opencv4nodejs_traffic.mp4").string() + "\n" +
           "    fps: 4\n" + camera_extra +
           "    detector: {name: yolox-nano, threshold: 0.3, threads: 1, models_dir: " +
           shared_path("models").string() + ",\n"
           "               classes: [car, bus, truck, motorbike]}\n"
           "    analytics:\n"
           "      units: normalized\n"
           "      zones: [{name: road, points: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]]}]\n"
           "      rules: [{name: road_entries, type: zone_presence, zone: road, exit: false}]\n"
           "alert: {merge_window_s: 0, cooldown_s: 0}\n"
           "store: {db: " + (dir / "vigil.sqlite").string() + ", evidence_dir: " + (dir / "evidence").string() + "}\n" +
           "sinks:\n"
           "  - {type: webhook, name: ops, url: \"http://127.0.0.1:" + std::to_string(webhook_port) +
           "/hook\", secret: crash-key, timeout_s: 2}\n";
}

TEST(PipelineCrash, KilledRunDeliversEveryStoredAlertAfterRestart) {
    TempDir dir;
    const auto db = dir / "vigil.sqlite";
    const int port = vigil::testing::free_loopback_port();  // nobody listens yet: the receiver is down
    const auto looping = dir / "looping.yaml";
    const auto short_run = dir / "short.yaml";
    vigil::testing::write_file(looping, config_yaml(dir, port, "    loop: true\n"));
    vigil::testing::write_file(short_run, config_yaml(dir, port, "    max_stream_s: 1\n"));

    // Run 1: a live, never-ending run, killed once it has stored alerts it
    // could not deliver.
    const pid_t first = spawn_vigil({"run", looping.string(), "--no-vlm", "--no-progress"}, dir / "first.log");
    ASSERT_GT(first, 0);
    const int wanted = 6;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    bool exited = false;
    while (stored_alerts(db) < wanted && std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(first, &status, WNOHANG) == first) {
            exited = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval, not a sync point
    }
    ASSERT_FALSE(exited) << "vigil run ended on its own:\n" << vigil::testing::read_file(dir / "first.log");
    ASSERT_EQ(kill(first, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(first, &status, 0), first);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    std::map<std::string, json> before_kill;
    {
        auto store = store::AlertStore::open(db, dir / "evidence");
        for (const auto& alert : store->list_alerts({.limit = -1})) before_kill[alert.at("id")] = alert;
        EXPECT_GT(store->pending_deliveries(), 0) << "the receiver was down: nothing can have been delivered";
    }
    ASSERT_GE(before_kill.size(), static_cast<size_t>(wanted));

    // Run 2: the receiver is up; a short run on the same store delivers the
    // outbox the first process left before it ends.
    vigil::testing::WebhookReceiver receiver({}, port);
    const auto result = vigil::testing::run_vigil("run " + short_run.string() +
                                                  " --no-vlm --no-progress --until-eof --summary-json");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto summary_start = result.output.find("{\n");
    ASSERT_NE(summary_start, std::string::npos) << result.output;
    const json summary = json::parse(result.output.substr(summary_start), nullptr, false);
    ASSERT_FALSE(summary.is_discarded()) << result.output;
    EXPECT_EQ(summary.at("deliveries_pending"), 0) << result.output;

    auto store = store::AlertStore::open(db, dir / "evidence");
    std::map<std::string, json> stored;
    for (const auto& alert : store->list_alerts({.limit = -1})) stored[alert.at("id")] = alert;
    std::set<std::string> received;
    for (const auto& request : receiver.requests()) {
        EXPECT_TRUE(request.signed_with("crash-key"));
        const json body = json::parse(request.body);
        const std::string id = body.at("id");
        EXPECT_EQ(request.alert_id_header, id);
        ASSERT_TRUE(stored.count(id)) << "received an alert that was never stored: " << id;
        EXPECT_EQ(body, stored[id]) << "a delivered copy differs from the stored alert";
        received.insert(id);
    }
    for (const auto& [id, alert] : before_kill) EXPECT_TRUE(received.count(id)) << "lost in the crash: " << id;
    for (const auto& [id, alert] : stored) EXPECT_TRUE(received.count(id)) << "stored, never delivered: " << id;
    EXPECT_EQ(store->pending_deliveries(), 0);
}

}  // namespace
}  // namespace vigil::pipeline
