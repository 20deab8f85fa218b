// The SQLite alert store: round trips, search, filters, feedback, retention,
// evidence files and the outbox's backoff.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <set>
#include <thread>

#include "core/error.h"
#include "store/alert_store.h"
#include "store/store_test_alerts.h"
#include "store/store_time.h"
#include "testing/test_support.h"

namespace vigil::store {
namespace {

namespace fs = std::filesystem;
using testing::make_test_alert;
using testing::TempDir;

double now_s() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string days_ago(double days) { return format_rfc3339(now_s() - days * 86400); }

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override { store_ = AlertStore::open(dir_ / "vigil.sqlite", dir_ / "evidence"); }
    TempDir dir_;
    std::unique_ptr<AlertStore> store_;
};

TEST_F(StoreTest, SavedAlertComesBackUnchanged) {
    auto alert = make_test_alert("alert-0001");
    store_->save_alert(alert, "sent", {"jsonl:a"});
    auto loaded = store_->get_alert("alert-0001");
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(*loaded, alert);
    EXPECT_EQ(store_->alert_status("alert-0001"), "sent");
    EXPECT_FALSE(store_->get_alert("no-such-alert").has_value());
    EXPECT_FALSE(store_->alert_status("no-such-alert").has_value());
}

TEST_F(StoreTest, DataSurvivesReopening) {
    store_->save_alert(make_test_alert("alert-persist"), "dismissed", {});
    store_.reset();
    auto reopened = AlertStore::open(dir_ / "vigil.sqlite", dir_ / "evidence");
    ASSERT_TRUE(reopened->get_alert("alert-persist").has_value());
    EXPECT_EQ(reopened->alert_status("alert-persist"), "dismissed");
}

TEST_F(StoreTest, UpdateReplacesTheAlertAndItsSearchText) {
    store_->save_alert(make_test_alert("alert-upd1", "dock-1", "obstruction", "2030-01-01T12:00:00Z", "crates stacked"),
                       "sent", {});
    auto updated = make_test_alert("alert-upd1", "dock-1", "obstruction", "2030-01-01T12:05:00Z", "forklift parked");
    updated["updated_count"] = 1;
    store_->save_alert(updated, "sent", {});
    EXPECT_EQ(store_->list_alerts({}).size(), 1u);
    EXPECT_EQ(store_->get_alert("alert-upd1")->at("updated_count"), 1);
    EXPECT_TRUE(store_->search_alerts("crates").empty());
    ASSERT_EQ(store_->search_alerts("forklift").size(), 1u);
}

struct SearchCase {
    std::string query;
    std::vector<std::string> expected_ids;
};

void PrintTo(const SearchCase& c, std::ostream* os) { *os << c.query; }

class StoreSearchTest : public StoreTest, public ::testing::WithParamInterface<SearchCase> {};

TEST_P(StoreSearchTest, FindsAlertsByTheirText) {
    store_->save_alert(make_test_alert("alert-smoke", "kitchen-2", "scene_check", "2030-01-01T10:00:00Z",
                                       "Grey smoke rises from the fryer near the back door."),
                       "sent", {});
    store_->save_alert(make_test_alert("alert-crowd", "lobby-1", "gathering", "2030-01-01T11:00:00Z",
                                       "About forty people wait in front of the turnstiles."),
                       "sent", {});
    std::set<std::string> ids;
    for (const auto& alert : store_->search_alerts(GetParam().query)) ids.insert(alert["id"].get<std::string>());
    EXPECT_EQ(ids, std::set<std::string>(GetParam().expected_ids.begin(), GetParam().expected_ids.end()))
        << "query: " << GetParam().query;
}

INSTANTIATE_TEST_SUITE_P(Words, StoreSearchTest,
                         ::testing::Values(SearchCase{"smoke", {"alert-smoke"}},        // description
                                           SearchCase{"TURNSTILES", {"alert-crowd"}},   // case-insensitive
                                           SearchCase{"fryer smoke", {"alert-smoke"}},  // all words required
                                           SearchCase{"fryer turnstiles", {}},          // no alert has both
                                           SearchCase{"unloading", {"alert-smoke", "alert-crowd"}},  // probable_cause
                                           SearchCase{"lobby-1", {"alert-crowd"}},  // camera; '-' is not an operator
                                           SearchCase{"north wall", {"alert-smoke", "alert-crowd"}},  // location
                                           SearchCase{"\"door\" (fryer*",
                                                      {"alert-smoke"}}));  // FTS syntax is plain text

TEST_F(StoreTest, SearchWithoutWordsIsAnError) { EXPECT_THROW(store_->search_alerts(" -- "), vigil::Error); }

TEST_F(StoreTest, ListFiltersByCameraTypeAndStatusNewestFirst) {
    store_->save_alert(make_test_alert("alert-a001", "cam-a", "obstruction", "2030-01-01T10:00:00Z"), "sent", {});
    store_->save_alert(make_test_alert("alert-a002", "cam-a", "loitering", "2030-01-01T11:00:00Z"), "sent", {});
    store_->save_alert(make_test_alert("alert-b001", "cam-b", "obstruction", "2030-01-01T12:00:00Z"), "dismissed", {});
    auto ids = [](const std::vector<nlohmann::json>& alerts) {
        std::vector<std::string> out;
        for (const auto& alert : alerts) out.push_back(alert["id"]);
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(ids(store_->list_alerts({})), (V{"alert-b001", "alert-a002", "alert-a001"}));
    EXPECT_EQ(ids(store_->list_alerts({.camera = "cam-a"})), (V{"alert-a002", "alert-a001"}));
    EXPECT_EQ(ids(store_->list_alerts({.type = "obstruction"})), (V{"alert-b001", "alert-a001"}));
    EXPECT_EQ(ids(store_->list_alerts({.camera = "cam-a", .type = "obstruction"})), (V{"alert-a001"}));
    EXPECT_EQ(ids(store_->list_alerts({.status = "dismissed"})), (V{"alert-b001"}));
    EXPECT_EQ(ids(store_->list_alerts({.limit = 1})), (V{"alert-b001"}));
    EXPECT_TRUE(store_->list_alerts({.camera = "cam-z"}).empty());
}

TEST_F(StoreTest, FeedbackIsKeptAndTheLatestVerdictLabelsTheAlert) {
    store_->save_alert(make_test_alert("alert-fb01"), "sent", {});
    store_->save_alert(make_test_alert("alert-fb02"), "sent", {});
    store_->add_feedback("alert-fb01", "dismiss", "just a shadow");
    store_->add_feedback("alert-fb01", "confirm", "on second look, a box");
    auto history = store_->feedback_for("alert-fb01");
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[0]["verdict"], "dismiss");
    EXPECT_EQ(history[1]["note"], "on second look, a box");

    auto reviewed = store_->reviewed_alerts();
    ASSERT_EQ(reviewed.size(), 1u);  // alert-fb02 has no feedback
    EXPECT_EQ(reviewed[0]["id"], "alert-fb01");
    EXPECT_EQ(reviewed[0]["feedback"]["verdict"], "confirm");
    EXPECT_EQ(reviewed[0]["feedback"]["count"], 2);

    EXPECT_THROW(store_->add_feedback("alert-fb01", "maybe", ""), vigil::Error);
    EXPECT_THROW(store_->add_feedback("no-such-alert", "confirm", ""), vigil::Error);
}

TEST_F(StoreTest, EvidenceIsWrittenWhole) {
    auto path = store_->write_evidence("alert-ev01", "trigger.jpg", std::string(100000, 'x'));
    ASSERT_TRUE(path.has_value());
    EXPECT_EQ(*path, dir_ / "evidence" / "alert-ev01" / "trigger.jpg");
    EXPECT_EQ(testing::read_file(*path), std::string(100000, 'x'));
    // Writing again replaces the file; no temporary file stays behind.
    ASSERT_TRUE(store_->write_evidence("alert-ev01", "trigger.jpg", "second").has_value());
    EXPECT_EQ(testing::read_file(*path), "second");
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir_ / "evidence" / "alert-ev01")) {
        (void)entry;
        ++files;
    }
    EXPECT_EQ(files, 1);
}

TEST(StoreEvidenceFailure, EvidenceFolderUnderARegularFileReturnsNothing) {
    // Permissions do not stop root (tests run as root); a file in the way of the folder does (ENOTDIR).
    TempDir dir;
    testing::write_file(dir / "not-a-dir", "x");
    auto store = AlertStore::open(dir / "vigil.sqlite", dir / "not-a-dir" / "evidence");
    EXPECT_FALSE(store->write_evidence("alert-ev02", "trigger.jpg", "bytes").has_value());
    // The alert is still saved, with its evidence marked missing by the caller.
    store->save_alert(make_test_alert("alert-ev02"), "sent", {});
    EXPECT_TRUE(store->get_alert("alert-ev02").has_value());
}

TEST_F(StoreTest, EvidenceThatCannotReplaceItsTargetReturnsNothingAndLeavesNoTemp) {
    // rename() onto a non-empty directory fails (EISDIR/ENOTEMPTY), even for root.
    fs::create_directories(dir_ / "evidence" / "alert-ev03" / "trigger.jpg" / "inner");
    EXPECT_FALSE(store_->write_evidence("alert-ev03", "trigger.jpg", "bytes").has_value());
    int entries = 0;
    for (const auto& entry : fs::directory_iterator(dir_ / "evidence" / "alert-ev03")) {
        (void)entry;
        ++entries;
    }
    EXPECT_EQ(entries, 1);  // only the directory that was in the way
}

TEST_F(StoreTest, EvidenceNamesCannotLeaveTheEvidenceFolder) {
    EXPECT_FALSE(store_->write_evidence("..", "x.jpg", "bytes").has_value());
    EXPECT_FALSE(store_->write_evidence("alert-ev04", "../../x.jpg", "bytes").has_value());
    EXPECT_FALSE(fs::exists(dir_ / "x.jpg"));
}

TEST_F(StoreTest, RetentionDeletesOnlyOldEvidence) {
    store_->save_alert(make_test_alert("alert-old1", "dock-1", "obstruction", days_ago(10)), "sent", {});
    store_->save_alert(make_test_alert("alert-new1", "dock-1", "obstruction", days_ago(0.01)), "sent", {});
    ASSERT_TRUE(store_->write_evidence("alert-old1", "trigger.jpg", "old").has_value());
    ASSERT_TRUE(store_->write_evidence("alert-new1", "trigger.jpg", "new").has_value());
    // Evidence whose alert never got saved ages by its folder's time.
    ASSERT_TRUE(store_->write_evidence("alert-orphan", "trigger.jpg", "orphan").has_value());
    ASSERT_TRUE(store_->write_evidence("alert-fresh-orphan", "trigger.jpg", "orphan").has_value());
    fs::last_write_time(dir_ / "evidence" / "alert-orphan",
                        fs::file_time_type::clock::now() - std::chrono::hours(24 * 20));

    EXPECT_EQ(store_->apply_retention(std::chrono::hours(24 * 7)), 2);
    EXPECT_FALSE(fs::exists(dir_ / "evidence" / "alert-old1"));
    EXPECT_FALSE(fs::exists(dir_ / "evidence" / "alert-orphan"));
    EXPECT_TRUE(fs::exists(dir_ / "evidence" / "alert-new1" / "trigger.jpg"));
    EXPECT_TRUE(fs::exists(dir_ / "evidence" / "alert-fresh-orphan" / "trigger.jpg"));
    // The alert records themselves stay; only delete_alerts_older_than removes them.
    EXPECT_TRUE(store_->get_alert("alert-old1").has_value());

    store_->add_feedback("alert-old1", "confirm", "");
    EXPECT_EQ(store_->delete_alerts_older_than(std::chrono::hours(24 * 7)), 1);
    EXPECT_FALSE(store_->get_alert("alert-old1").has_value());
    EXPECT_TRUE(store_->reviewed_alerts().empty());
    EXPECT_TRUE(store_->search_alerts("pallet").size() == 1);
}

TEST_F(StoreTest, SaveQueuesOneDeliveryPerSinkAndUpdatesReplaceUndeliveredOnes) {
    store_->save_alert(make_test_alert("alert-ob01"), "sent", {"webhook:ops", "mqtt:local"});
    store_->save_alert(make_test_alert("alert-ob02"), "dismissed", {});
    EXPECT_EQ(store_->pending_deliveries(), 2);
    auto due = store_->due_deliveries(10);
    ASSERT_EQ(due.size(), 2u);
    EXPECT_EQ(due[0].alert_id, "alert-ob01");
    EXPECT_EQ(due[0].sink, "webhook:ops");
    EXPECT_EQ(due[1].sink, "mqtt:local");
    EXPECT_EQ(due[0].alert["id"], "alert-ob01");

    store_->mark_delivered(due[0].id);
    EXPECT_EQ(store_->pending_deliveries(), 1);
    EXPECT_EQ(store_->pending_deliveries_for("webhook:ops"), 0);

    // The update is queued again for the sink that had it, and replaces the
    // not-yet-delivered older version for the other.
    auto updated = make_test_alert("alert-ob01");
    updated["updated_count"] = 1;
    store_->save_alert(updated, "sent", {"webhook:ops", "mqtt:local"});
    EXPECT_EQ(store_->pending_deliveries(), 2);
    for (const auto& item : store_->due_deliveries(10)) EXPECT_EQ(item.alert["updated_count"], 1) << item.sink;

    // A sent alert the VLM then rejected: stored dismissed, and the update is
    // delivered (to the sinks the caller names) so receivers learn it.
    auto retracted = make_test_alert("alert-ob01");
    retracted["verdict"] = "rejected";
    store_->save_alert(retracted, "dismissed", {"webhook:ops", "mqtt:local"});
    EXPECT_EQ(store_->alert_status("alert-ob01"), "dismissed");
    EXPECT_EQ(store_->pending_deliveries(), 2);
    for (const auto& item : store_->due_deliveries(10)) EXPECT_EQ(item.alert["verdict"], "rejected") << item.sink;
}

// An update saved while the older version is being delivered replaces the
// older row; when that delivery then reports done, the new version must still
// be pending (outbox ids are never reused: it was marked delivered before).
TEST_F(StoreTest, ADeliveryOfAReplacedVersionDoesNotMarkTheNewOneDelivered) {
    store_->save_alert(make_test_alert("alert-rv01"), "sent", {"file"});
    const auto in_flight = store_->due_deliveries(10);
    ASSERT_EQ(in_flight.size(), 1u);
    auto newer = make_test_alert("alert-rv01");
    newer["updated_count"] = 1;
    store_->save_alert(newer, "sent", {"file"});
    store_->mark_delivered(in_flight[0].id);  // the older version reached the sink
    EXPECT_EQ(store_->pending_deliveries_for("file"), 1);
    const auto due = store_->due_deliveries(10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_NE(due[0].id, in_flight[0].id);
    EXPECT_EQ(due[0].alert["updated_count"], 1);
}

TEST_F(StoreTest, FailedDeliveriesBackOffExponentiallyUpToTheCap) {
    store_->set_retry_backoff(std::chrono::milliseconds(2000), std::chrono::milliseconds(5000));
    store_->save_alert(make_test_alert("alert-bo01"), "sent", {"webhook:ops"});
    auto id = store_->due_deliveries(1).at(0).id;
    std::vector<double> delays;
    for (int attempt = 0; attempt < 4; ++attempt) {
        double before = now_s();
        store_->mark_failed(id, "HTTP 503");
        EXPECT_TRUE(store_->due_deliveries(10).empty()) << "attempt " << attempt;
        auto next = store_->next_delivery_time();
        ASSERT_TRUE(next.has_value());
        delays.push_back(std::chrono::duration<double>(next->time_since_epoch()).count() - before);
    }
    ASSERT_EQ(delays.size(), 4u);
    EXPECT_NEAR(delays[0], 2.0, 0.2);
    EXPECT_NEAR(delays[1], 4.0, 0.2);
    EXPECT_NEAR(delays[2], 5.0, 0.2);  // capped
    EXPECT_NEAR(delays[3], 5.0, 0.2);
    EXPECT_EQ(store_->pending_deliveries(), 1);
    EXPECT_THROW(store_->set_retry_backoff(std::chrono::milliseconds(0), std::chrono::milliseconds(5)), vigil::Error);
}

TEST_F(StoreTest, RetryPendingNowEndsEveryBackoffButKeepsDeliveredRowsDone) {
    store_->set_retry_backoff(std::chrono::hours(1), std::chrono::hours(1));
    store_->save_alert(make_test_alert("alert-rn01"), "sent", {"webhook:ops", "mqtt:local"});
    const auto due = store_->due_deliveries(10);
    ASSERT_EQ(due.size(), 2u);
    store_->mark_failed(due[0].id, "connection refused");
    store_->mark_delivered(due[1].id);
    EXPECT_TRUE(store_->due_deliveries(10).empty());

    EXPECT_EQ(store_->retry_pending_now(), 1);
    const auto again = store_->due_deliveries(10);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, due[0].id);
    EXPECT_EQ(store_->retry_pending_now(), 0) << "a row already due is not rescheduled";
}

TEST_F(StoreTest, SaveListenersRunAfterQueuedSavesOnly) {
    int calls = 0;
    int handle = store_->add_save_listener([&] { ++calls; });
    store_->save_alert(make_test_alert("alert-li01"), "sent", {"stdout"});
    store_->save_alert(make_test_alert("alert-li02"), "dismissed", {});
    EXPECT_EQ(calls, 1);
    store_->remove_save_listener(handle);
    store_->save_alert(make_test_alert("alert-li03"), "sent", {"stdout"});
    EXPECT_EQ(calls, 1);
}

TEST_F(StoreTest, ConcurrentWritersAreSafe) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                std::string id = "alert-t" + std::to_string(t) + "-" + std::to_string(i);
                store_->save_alert(make_test_alert(id), "sent", {"stdout"});
                store_->record_event("dock-1", {{"rule", "stationary_object"}, {"i", i}});
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(store_->list_alerts({.limit = -1}).size(), 80u);
    EXPECT_EQ(store_->pending_deliveries(), 80);
}

TEST_F(StoreTest, SaveRejectsAnAlertWithoutIdOrWithAnUnknownStatus) {
    nlohmann::json alert = make_test_alert("alert-bad1");
    EXPECT_THROW(store_->save_alert(alert, "maybe", {}), vigil::Error);
    alert.erase("id");
    EXPECT_THROW(store_->save_alert(alert, "sent", {}), vigil::Error);
    EXPECT_TRUE(store_->list_alerts({}).empty());
}

TEST(StoreOpen, UnopenablePathsNameThePath) {
    TempDir dir;
    testing::write_file(dir / "file", "x");
    testing::write_file(dir / "garbage.sqlite", std::string(8192, 'g'));
    fs::create_directories(dir / "folder.sqlite");
    for (const fs::path& path : {dir / "file" / "vigil.sqlite", dir / "folder.sqlite", dir / "garbage.sqlite"}) {
        try {
            AlertStore::open(path, dir / "evidence");
            ADD_FAILURE() << "opened " << path;
        } catch (const vigil::Error& e) {
            EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
        }
    }
}

TEST(StoreOpen, MigratesANewFileAndRefusesANewerSchema) {
    TempDir dir;
    const auto path = dir / "vigil.sqlite";
    AlertStore::open(path, dir / "evidence");
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
    sqlite3_finalize(stmt);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    try {
        AlertStore::open(path, dir / "evidence");
        ADD_FAILURE() << "opened a schema from the future";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
    }
}

// A store written by the first schema (outbox ids that could be reused)
// opens with its pending deliveries intact and the new outbox.
TEST(StoreOpen, AVersionOneStoreIsMigratedWithItsOutbox) {
    TempDir dir;
    const auto path = dir / "old.sqlite";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* v1 =
        "CREATE TABLE events (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, recorded_at REAL NOT NULL, json TEXT NOT "
        "NULL);"
        "CREATE TABLE alerts (id TEXT PRIMARY KEY, camera TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, "
        "start_time TEXT NOT NULL, end_time TEXT NOT NULL, end_epoch REAL NOT NULL, saved_at REAL NOT NULL, json TEXT "
        "NOT NULL);"
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, verdict TEXT NOT NULL, note TEXT NOT "
        "NULL, created_at REAL NOT NULL);"
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, sink TEXT NOT NULL, alert_json TEXT NOT "
        "NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT, delivered_at "
        "REAL, created_at REAL NOT NULL);"
        "CREATE VIRTUAL TABLE alerts_fts USING fts5(title, summary, description, probable_cause, location, camera);"
        "INSERT INTO outbox(id, alert_id, sink, alert_json, attempts, next_attempt_at, created_at) "
        "VALUES(7, 'alert-old', 'file', '{\"id\":\"alert-old\"}', 0, 0, 0);"
        "PRAGMA user_version = 1;";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
    auto store = AlertStore::open(path, dir / "evidence");
    const auto due = store->due_deliveries(10);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].id, 7);
    EXPECT_EQ(due[0].alert_id, "alert-old");
    store->save_alert(make_test_alert("alert-old"), "sent", {"file"});  // replaces row 7
    EXPECT_NE(store->due_deliveries(10).at(0).id, 7);
}

struct TimeCase {
    std::string text;
    std::optional<double> seconds;
};

void PrintTo(const TimeCase& c, std::ostream* os) { *os << c.text; }

class StoreTimeTest : public ::testing::TestWithParam<TimeCase> {};

TEST_P(StoreTimeTest, ParsesRfc3339) {
    auto parsed = parse_rfc3339(GetParam().text);
    ASSERT_EQ(parsed.has_value(), GetParam().seconds.has_value()) << GetParam().text;
    if (parsed) {
        EXPECT_NEAR(*parsed, *GetParam().seconds, 1e-6) << GetParam().text;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, StoreTimeTest,
    ::testing::Values(TimeCase{"1970-01-01T00:00:00Z", 0.0}, TimeCase{"2024-05-01T12:30:00Z", 1714566600.0},
                      TimeCase{"2024-05-01T12:30:00.250Z", 1714566600.25},
                      TimeCase{"2024-05-01T14:30:00+02:00", 1714566600.0},
                      TimeCase{"2024-05-01 12:30:00Z", 1714566600.0}, TimeCase{"2024-05-01T12:30:00", std::nullopt},
                      TimeCase{"2024-13-01T12:30:00Z", std::nullopt}, TimeCase{"yesterday", std::nullopt}));

TEST(StoreTime, FormatRoundTrips) {
    EXPECT_EQ(format_rfc3339(1714566600.25), "2024-05-01T12:30:00.250Z");
    EXPECT_NEAR(*parse_rfc3339(format_rfc3339(1714566600.999)), 1714566600.999, 1e-6);
}

}  // namespace
}  // namespace vigil::store
