// The outbox drained by DeliveryWorker: retries with backoff until a receiver
// accepts, wakes on save, and delivers everything a killed process had stored.
#include "sink/sink_delivery.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>

#include "core/error.h"
#include "sink/alert_sink.h"
#include "testing/test_receivers.h"
#include "store/alert_store.h"
#include "store/store_test_alerts.h"

namespace vigil::sink {
namespace {

using nlohmann::json;
using testing::make_test_alert;
using namespace std::chrono_literals;

// Fails the first `failures` deliveries, then records alerts.
class FlakySink final : public AlertSink {
public:
    FlakySink(std::string name, int failures) : name_(std::move(name)), failures_(failures) {}
    std::string name() const override { return name_; }
    void deliver(const json& alert) override {
        std::lock_guard lock(mutex_);
        if (failures_ > 0) {
            --failures_;
            throw vigil::Error("receiver unavailable");
        }
        ids_.push_back(alert["id"]);
    }
    std::vector<std::string> ids() {
        std::lock_guard lock(mutex_);
        return ids_;
    }

private:
    std::string name_;
    int failures_;
    std::mutex mutex_;
    std::vector<std::string> ids_;
};

class DeliveryTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = store::AlertStore::open(dir_ / "vigil.sqlite", dir_ / "evidence");
        store_->set_retry_backoff(5ms, 40ms);
    }
    testing::TempDir dir_;
    std::unique_ptr<store::AlertStore> store_;
};

TEST_F(DeliveryTest, RetriesUntilTheSinkAcceptsAndCounts) {
    auto flaky = std::make_shared<FlakySink>("flaky", 3);
    auto steady = std::make_shared<FlakySink>("steady", 0);
    DeliveryWorker worker(*store_, {flaky, steady});
    worker.start();
    store_->save_alert(make_test_alert("alert-d001"), "sent", {"flaky", "steady"});
    store_->save_alert(make_test_alert("alert-d002"), "sent", {"flaky"});
    ASSERT_TRUE(worker.drain(5s));
    EXPECT_EQ(store_->pending_deliveries(), 0);
    auto flaky_ids = flaky->ids();
    EXPECT_EQ(std::set<std::string>(flaky_ids.begin(), flaky_ids.end()),
              (std::set<std::string>{"alert-d001", "alert-d002"}));
    EXPECT_EQ(steady->ids(), std::vector<std::string>{"alert-d001"});
    auto counters = worker.counters();
    EXPECT_EQ(counters["flaky"].delivered, 2);
    EXPECT_GE(counters["flaky"].failed_attempts, 3);
    EXPECT_EQ(counters["flaky"].last_error, "receiver unavailable");
    EXPECT_EQ(counters["steady"].delivered, 1);
    EXPECT_EQ(counters["steady"].failed_attempts, 0);
}

TEST_F(DeliveryTest, WakesOnSaveInsteadOfWaitingForThePoll) {
    auto sink = std::make_shared<FlakySink>("steady", 0);
    DeliveryWorker worker(*store_, {sink}, {.batch = 8, .idle_poll = std::chrono::milliseconds(60000)});
    worker.start();
    ASSERT_TRUE(worker.drain(1s));  // nothing queued yet; the worker is now asleep for a minute
    const auto started = std::chrono::steady_clock::now();
    store_->save_alert(make_test_alert("alert-d003"), "sent", {"steady"});
    // drain itself would wake the worker; wait on the sink's side instead.
    while (sink->ids().empty() && std::chrono::steady_clock::now() - started < 5s) std::this_thread::yield();
    EXPECT_EQ(sink->ids(), std::vector<std::string>{"alert-d003"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST_F(DeliveryTest, DrainTimesOutWhileTheSinkKeepsFailing) {
    auto sink = std::make_shared<FlakySink>("down", 1000000);
    DeliveryWorker worker(*store_, {sink});
    worker.start();
    store_->save_alert(make_test_alert("alert-d004"), "sent", {"down"});
    EXPECT_FALSE(worker.drain(200ms));
    worker.stop();
    EXPECT_EQ(store_->pending_deliveries(), 1);  // stays queued for the next run
    EXPECT_GE(worker.counters()["down"].failed_attempts, 1);
}

TEST_F(DeliveryTest, RowsForAnUnconfiguredSinkDoNotBlockOthers) {
    auto sink = std::make_shared<FlakySink>("steady", 0);
    DeliveryWorker worker(*store_, {sink});
    store_->save_alert(make_test_alert("alert-d005"), "sent", {"removed-sink", "steady"});
    worker.start();
    EXPECT_TRUE(worker.drain(5s));  // drains its own sinks
    EXPECT_EQ(sink->ids(), std::vector<std::string>{"alert-d005"});
    EXPECT_EQ(store_->pending_deliveries_for("removed-sink"), 1);
}

TEST_F(DeliveryTest, DuplicateSinkNamesAreRejected) {
    EXPECT_THROW(DeliveryWorker(*store_, {std::make_shared<FlakySink>("a", 0), std::make_shared<FlakySink>("a", 0)}),
                 vigil::Error);
}

TEST_F(DeliveryTest, WebhookReceiverThatRecoversGetsEverySignedAlert) {
    testing::WebhookReceiver receiver({500, 503, 502});
    std::shared_ptr<AlertSink> sink = make_sink({{"type", "webhook"}, {"url", receiver.url()}, {"secret", "k3y"}});
    DeliveryWorker worker(*store_, {sink});
    worker.start();
    for (int i = 0; i < 5; ++i)
        store_->save_alert(make_test_alert("alert-h00" + std::to_string(i)), "sent", {sink->name()});
    ASSERT_TRUE(worker.drain(10s));
    std::set<std::string> accepted;
    auto requests = receiver.requests();
    for (size_t i = 3; i < requests.size(); ++i) accepted.insert(requests[i].alert_id_header);
    for (const auto& request : requests) EXPECT_TRUE(request.signed_with("k3y"));
    EXPECT_EQ(accepted.size(), 5u);
    EXPECT_EQ(worker.counters()[sink->name()].delivered, 5);
    EXPECT_GE(worker.counters()[sink->name()].failed_attempts, 3);
}

// The crash test: a child process stores alerts for a webhook whose receiver
// is down and is SIGKILLed mid-run. Every alert it committed must reach the
// receiver once it is up, delivered by a new process from the same database.
TEST(DeliveryCrash, AlertsStoredBeforeAKillAreAllDelivered) {
    testing::TempDir dir;
    const auto db = dir / "vigil.sqlite";
    const int port = testing::free_loopback_port();
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    const json sink_config = {
        {"type", "webhook"}, {"name", "ops"}, {"url", url}, {"secret", "crash"}, {"timeout_s", 2}};
    const int report_after = 40;

    int progress[2];
    ASSERT_EQ(::pipe(progress), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(progress[0]);
        try {
            auto store = store::AlertStore::open(db, dir / "evidence");
            store->set_retry_backoff(5ms, 50ms);
            std::shared_ptr<AlertSink> sink = make_sink(sink_config);
            DeliveryWorker worker(*store, {sink});
            worker.start();
            for (int i = 0; i < 100000; ++i) {
                store->save_alert(make_test_alert("alert-crash-" + std::to_string(i)), "sent", {"ops"});
                if (::write(progress[1], "s", 1) != 1) break;
            }
        } catch (...) {
            ::_exit(3);
        }
        ::_exit(4);  // never reached in time: the parent kills us first
    }
    ::close(progress[1]);
    int saves = 0;
    char byte = 0;
    while (saves < report_after && ::read(progress[0], &byte, 1) == 1) ++saves;
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(progress[0]);
    ASSERT_EQ(saves, report_after) << "the child stopped early";
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exit code " << WEXITSTATUS(status);

    // Atomicity: no committed alert lacks its outbox row.
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
        sqlite3_stmt* stmt = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(raw,
                                     "SELECT COUNT(*) FROM alerts a WHERE NOT EXISTS "
                                     "(SELECT 1 FROM outbox o WHERE o.alert_id = a.id AND o.sink = 'ops')",
                                     -1, &stmt, nullptr),
                  SQLITE_OK);
        ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
        EXPECT_EQ(sqlite3_column_int(stmt, 0), 0);
        sqlite3_finalize(stmt);
        sqlite3_close(raw);
    }

    auto store = store::AlertStore::open(db, dir / "evidence");
    store->set_retry_backoff(5ms, 50ms);
    std::map<std::string, json> stored;
    for (const auto& alert : store->list_alerts({.limit = -1})) stored[alert["id"]] = alert;
    ASSERT_GE(stored.size(), static_cast<size_t>(report_after));

    testing::WebhookReceiver receiver({}, port);
    std::shared_ptr<AlertSink> sink = make_sink(sink_config);
    DeliveryWorker worker(*store, {sink});
    worker.start();
    ASSERT_TRUE(worker.drain(20s)) << store->pending_deliveries() << " still pending";

    std::set<std::string> received;
    for (const auto& request : receiver.requests()) {
        EXPECT_TRUE(request.signed_with("crash"));
        auto body = json::parse(request.body);
        const std::string id = body["id"];
        ASSERT_TRUE(stored.count(id)) << "received an alert that was never stored: " << id;
        EXPECT_EQ(body, stored[id]) << "a duplicate differs from the stored alert";
        EXPECT_EQ(request.alert_id_header, id);
        received.insert(id);
    }
    EXPECT_EQ(received.size(), stored.size());
}

}  // namespace
}  // namespace vigil::sink
