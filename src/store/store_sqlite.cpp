// AlertStore on SQLite: one connection in WAL mode guarded by a mutex, so a
// `vigil alerts list` in another process can read while `vigil run` writes.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "core/error.h"
#include "store/alert_store.h"
#include "store/store_time.h"

namespace vigil::store {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Schema history: migration i brings user_version from i to i + 1. Append,
// never edit, so every existing database can be brought forward.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        json TEXT NOT NULL);
    CREATE INDEX events_recorded ON events(recorded_at);
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        start_time TEXT NOT NULL,
        end_time TEXT NOT NULL,
        end_epoch REAL NOT NULL,
        saved_at REAL NOT NULL,
        json TEXT NOT NULL);
    CREATE INDEX alerts_camera ON alerts(camera, end_epoch);
    CREATE INDEX alerts_type ON alerts(type, end_epoch);
    CREATE INDEX alerts_end ON alerts(end_epoch);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        note TEXT NOT NULL,
        created_at REAL NOT NULL);
    CREATE INDEX feedback_alert ON feedback(alert_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        sink TEXT NOT NULL,
        alert_json TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        delivered_at REAL,
        created_at REAL NOT NULL);
    CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);
    CREATE INDEX outbox_alert ON outbox(alert_id, sink);
    -- rowid = alerts.rowid; the upsert in save_alert keeps an alert's rowid stable.
    CREATE VIRTUAL TABLE alerts_fts USING fts5(title, summary, description, probable_cause, location, camera);
    )sql",
    // Outbox ids are never reused: a row an update replaced while its older
    // version was being delivered must not come back under the same id, or
    // marking the old delivery done would mark the new version delivered.
    R"sql(
    CREATE TABLE outbox_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        sink TEXT NOT NULL,
        alert_json TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        delivered_at REAL,
        created_at REAL NOT NULL);
    INSERT INTO outbox_v2 SELECT id, alert_id, sink, alert_json, attempts, next_attempt_at, last_error, delivered_at,
                                 created_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v2 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);
    CREATE INDEX outbox_alert ON outbox(alert_id, sink);
    )sql",
};
constexpr int kSchemaVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Statement {
public:
    Statement(sqlite3* db, const char* sql, const fs::path& path) : db_(db), path_(path) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, const std::string& value) {
        check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
    Statement& bind(int index, double value) {
        check(sqlite3_bind_double(stmt_, index, value));
        return *this;
    }
    Statement& bind(int index, int64_t value) {
        check(sqlite3_bind_int64(stmt_, index, value));
        return *this;
    }
    Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }

    // True while a row is available.
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail("step");
    }
    void run() {
        while (step()) {
        }
    }
    std::string text(int column) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
    }
    int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    double real(int column) const { return sqlite3_column_double(stmt_, column); }
    bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail("bind");
    }
    [[noreturn]] void fail(const char* what) {
        throw vigil::Error("alert store " + path_.string() + ": " + what + " failed: " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    fs::path path_;
};

// Only plain file and directory names: an alert id or evidence name must never
// reach outside the evidence directory.
bool safe_component(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.size() > 200) return false;
    return name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

bool write_all_and_sync(int fd, const std::string& bytes) {
    size_t written = 0;
    while (written < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        written += static_cast<size_t>(n);
    }
    return ::fsync(fd) == 0;
}

// The alert's text columns that full-text search looks at.
std::string text_field(const json& alert, const char* key) {
    auto it = alert.find(key);
    return it != alert.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Free text to an FTS5 query: every word quoted (so "-", ":" or "AND" in user
// text are words, not operators) and all words required.
std::string fts_query(const std::string& text) {
    std::string query;
    std::string word;
    auto flush = [&] {
        if (word.empty()) return;
        if (!query.empty()) query += ' ';
        query += '"' + word + '"';
        word.clear();
    };
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || u >= 0x80 || c == '_')
            word += c;
        else
            flush();
    }
    flush();
    return query;
}

class SqliteAlertStore final : public AlertStore {
public:
    SqliteAlertStore(const fs::path& path, const fs::path& evidence_dir) : path_(path) {
        evidence_dir_ = evidence_dir;
        std::error_code ec;
        if (path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
            fs::create_directories(path.parent_path(), ec);
            if (ec)
                throw vigil::Error("cannot create the folder for alert store " + path.string() + ": " + ec.message());
        }
        if (fs::is_directory(path, ec))
            throw vigil::Error("alert store " + path.string() + " is a directory; expected a .sqlite file");
        int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
        if (rc != SQLITE_OK) {
            std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            db_ = nullptr;
            throw vigil::Error("cannot open alert store " + path.string() + ": " + message);
        }
        try {
            sqlite3_busy_timeout(db_, 10000);
            // FULL: an alert acknowledged by save_alert survives power loss, not just a crash.
            exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
            migrate();
        } catch (...) {
            sqlite3_close(db_);
            db_ = nullptr;
            throw;
        }
    }

    ~SqliteAlertStore() override { sqlite3_close(db_); }

    void record_event(const std::string& camera, const json& event) override {
        std::lock_guard lock(mutex_);
        Statement(db_, "INSERT INTO events(camera, recorded_at, json) VALUES(?, ?, ?)", path_)
            .bind(1, camera)
            .bind(2, now_seconds())
            .bind(3, event.dump())
            .run();
    }

    void save_alert(const json& alert, const std::string& status, const std::vector<std::string>& sinks) override {
        if (!alert.is_object() || !alert.contains("id") || !alert["id"].is_string())
            throw vigil::Error("save_alert: the alert has no string \"id\"");
        if (status != "sent" && status != "dismissed")
            throw vigil::Error("save_alert: status \"" + status + "\" is not \"sent\" or \"dismissed\"");
        const std::string id = alert["id"].get<std::string>();
        const std::string body = alert.dump();
        const std::string end_time = text_field(alert, "end_time");
        const double now = now_seconds();
        const double end_epoch = parse_rfc3339(end_time).value_or(now);
        bool queued = false;
        {
            std::lock_guard lock(mutex_);
            Transaction tx(*this);
            Statement(
                db_,
                "INSERT INTO alerts(id, camera, type, status, start_time, end_time, end_epoch, saved_at, json) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(id) DO UPDATE SET camera = ?2, type = ?3, "
                "status = ?4, start_time = ?5, end_time = ?6, end_epoch = ?7, saved_at = ?8, json = ?9",
                path_)
                .bind(1, id)
                .bind(2, text_field(alert, "camera"))
                .bind(3, text_field(alert, "type"))
                .bind(4, status)
                .bind(5, text_field(alert, "start_time"))
                .bind(6, end_time)
                .bind(7, end_epoch)
                .bind(8, now)
                .bind(9, body)
                .run();
            int64_t rowid = 0;
            {
                Statement find(db_, "SELECT rowid FROM alerts WHERE id = ?", path_);
                find.bind(1, id);
                if (find.step()) rowid = find.integer(0);
            }
            Statement(db_, "DELETE FROM alerts_fts WHERE rowid = ?", path_).bind(1, rowid).run();
            Statement(db_,
                      "INSERT INTO alerts_fts(rowid, title, summary, description, probable_cause, location, camera) "
                      "VALUES(?, ?, ?, ?, ?, ?, ?)",
                      path_)
                .bind(1, rowid)
                .bind(2, text_field(alert, "title"))
                .bind(3, text_field(alert, "summary"))
                .bind(4, text_field(alert, "description"))
                .bind(5, text_field(alert, "probable_cause"))
                .bind(6, text_field(alert, "location"))
                .bind(7, text_field(alert, "camera"))
                .run();
            {
                // The caller names the sinks that get this version: none for an
                // alert that was never sent, all of them for a retraction.
                for (const auto& sink : sinks) {
                    // An update supersedes the queued older version; a delivered row stays as history.
                    Statement(db_, "DELETE FROM outbox WHERE alert_id = ? AND sink = ? AND delivered_at IS NULL", path_)
                        .bind(1, id)
                        .bind(2, sink)
                        .run();
                    Statement(db_,
                              "INSERT INTO outbox(alert_id, sink, alert_json, attempts, next_attempt_at, created_at) "
                              "VALUES(?, ?, ?, 0, ?, ?)",
                              path_)
                        .bind(1, id)
                        .bind(2, sink)
                        .bind(3, body)
                        .bind(4, now)
                        .bind(5, now)
                        .run();
                    queued = true;
                }
            }
            tx.commit();
        }
        if (queued) notify_listeners();
    }

    std::optional<fs::path> write_evidence(const std::string& alert_id, const std::string& name,
                                           const std::string& bytes) override {
        if (!safe_component(alert_id) || !safe_component(name)) {
            spdlog::error("evidence name '{}/{}' is not a plain file name; not written", alert_id, name);
            return std::nullopt;
        }
        const fs::path dir = evidence_dir_ / alert_id;
        const fs::path target = dir / name;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            spdlog::warn("cannot create evidence folder {}: {}", dir.string(), ec.message());
            return std::nullopt;
        }
        // A reader (or a crash) must never see half an image: write aside, then rename.
        static std::atomic<unsigned> counter{0};
        const fs::path temp =
            dir / ("." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            spdlog::warn("cannot write evidence {}: {}", temp.string(), std::strerror(errno));
            return std::nullopt;
        }
        bool ok = write_all_and_sync(fd, bytes);
        int saved_errno = errno;
        ok = (::close(fd) == 0) && ok;
        if (ok && std::rename(temp.c_str(), target.c_str()) != 0) {
            ok = false;
            saved_errno = errno;
        }
        if (!ok) {
            spdlog::warn("cannot write evidence {}: {}", target.string(), std::strerror(saved_errno));
            ::unlink(temp.c_str());
            return std::nullopt;
        }
        return target;
    }

    std::optional<json> get_alert(const std::string& id) override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT json FROM alerts WHERE id = ?", path_);
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return json::parse(q.text(0));
    }

    std::optional<std::string> alert_status(const std::string& id) override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT status FROM alerts WHERE id = ?", path_);
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return q.text(0);
    }

    std::vector<json> list_alerts(const AlertQuery& query) override {
        std::lock_guard lock(mutex_);
        Statement q(db_,
                    "SELECT json FROM alerts WHERE (?1 = '' OR camera = ?1) AND (?2 = '' OR type = ?2) "
                    "AND (?3 = '' OR status = ?3) ORDER BY end_epoch DESC, rowid DESC LIMIT ?4",
                    path_);
        q.bind(1, query.camera).bind(2, query.type).bind(3, query.status).bind(4, query.limit < 0 ? -1 : query.limit);
        std::vector<json> out;
        while (q.step()) out.push_back(json::parse(q.text(0)));
        return out;
    }

    std::vector<json> search_alerts(const std::string& text, int limit) override {
        const std::string match = fts_query(text);
        if (match.empty()) throw vigil::Error("search text \"" + text + "\" has no words to look for");
        std::lock_guard lock(mutex_);
        Statement q(db_,
                    "SELECT a.json FROM alerts_fts JOIN alerts a ON a.rowid = alerts_fts.rowid "
                    "WHERE alerts_fts MATCH ? ORDER BY rank LIMIT ?",
                    path_);
        q.bind(1, match).bind(2, limit < 0 ? -1 : limit);
        std::vector<json> out;
        while (q.step()) out.push_back(json::parse(q.text(0)));
        return out;
    }

    void add_feedback(const std::string& alert_id, const std::string& verdict, const std::string& note) override {
        if (verdict != "confirm" && verdict != "dismiss")
            throw vigil::Error("feedback verdict \"" + verdict + "\" is not one of: confirm, dismiss");
        std::lock_guard lock(mutex_);
        {
            Statement q(db_, "SELECT 1 FROM alerts WHERE id = ?", path_);
            q.bind(1, alert_id);
            if (!q.step()) throw vigil::Error("no alert with id \"" + alert_id + "\" in " + path_.string());
        }
        Statement(db_, "INSERT INTO feedback(alert_id, verdict, note, created_at) VALUES(?, ?, ?, ?)", path_)
            .bind(1, alert_id)
            .bind(2, verdict)
            .bind(3, note)
            .bind(4, now_seconds())
            .run();
    }

    std::vector<json> feedback_for(const std::string& alert_id) override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT verdict, note, created_at FROM feedback WHERE alert_id = ? ORDER BY id", path_);
        q.bind(1, alert_id);
        std::vector<json> out;
        while (q.step())
            out.push_back({{"verdict", q.text(0)}, {"note", q.text(1)}, {"time", format_rfc3339(q.real(2))}});
        return out;
    }

    std::vector<json> reviewed_alerts() override {
        std::lock_guard lock(mutex_);
        // The latest verdict is the label; earlier ones were corrected by the operator.
        Statement q(db_,
                    "SELECT a.json, f.verdict, f.note, f.created_at, (SELECT COUNT(*) FROM feedback g WHERE "
                    "g.alert_id = a.id) FROM alerts a JOIN feedback f ON f.alert_id = a.id WHERE f.id = "
                    "(SELECT MAX(id) FROM feedback h WHERE h.alert_id = a.id) ORDER BY a.end_epoch, a.rowid",
                    path_);
        std::vector<json> out;
        while (q.step()) {
            json alert = json::parse(q.text(0));
            alert["feedback"] = {{"verdict", q.text(1)},
                                 {"note", q.text(2)},
                                 {"time", format_rfc3339(q.real(3))},
                                 {"count", q.integer(4)}};
            out.push_back(std::move(alert));
        }
        return out;
    }

    std::vector<OutboxItem> due_deliveries(int limit) override {
        std::lock_guard lock(mutex_);
        Statement q(db_,
                    "SELECT id, alert_id, sink, attempts, alert_json FROM outbox WHERE delivered_at IS NULL "
                    "AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                    path_);
        q.bind(1, now_seconds()).bind(2, limit);
        std::vector<OutboxItem> out;
        while (q.step()) {
            OutboxItem item;
            item.id = q.integer(0);
            item.alert_id = q.text(1);
            item.sink = q.text(2);
            item.attempts = static_cast<int>(q.integer(3));
            item.alert = json::parse(q.text(4));
            out.push_back(std::move(item));
        }
        return out;
    }

    void mark_delivered(int64_t outbox_id) override {
        std::lock_guard lock(mutex_);
        Statement(db_, "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                  path_)
            .bind(1, now_seconds())
            .bind(2, outbox_id)
            .run();
    }

    void mark_failed(int64_t outbox_id, const std::string& error) override {
        std::lock_guard lock(mutex_);
        int attempts = 0;
        {
            Statement q(db_, "SELECT attempts FROM outbox WHERE id = ?", path_);
            q.bind(1, outbox_id);
            if (!q.step()) return;
            attempts = static_cast<int>(q.integer(0)) + 1;
        }
        const double initial = std::chrono::duration<double>(backoff_initial_).count();
        const double cap = std::chrono::duration<double>(backoff_max_).count();
        const double delay = std::min(cap, initial * std::ldexp(1.0, std::min(attempts - 1, 30)));
        Statement(db_, "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?", path_)
            .bind(1, attempts)
            .bind(2, now_seconds() + delay)
            .bind(3, error)
            .bind(4, outbox_id)
            .run();
    }

    int64_t retry_pending_now() override {
        std::lock_guard lock(mutex_);
        const double now = now_seconds();
        Statement(db_, "UPDATE outbox SET next_attempt_at = ? WHERE delivered_at IS NULL AND next_attempt_at > ?",
                  path_)
            .bind(1, now)
            .bind(2, now)
            .run();
        return sqlite3_changes(db_);
    }

    int64_t pending_deliveries() override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL", path_);
        q.step();
        return q.integer(0);
    }

    int64_t pending_deliveries_for(const std::string& sink) override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND sink = ?", path_);
        q.bind(1, sink);
        q.step();
        return q.integer(0);
    }

    std::optional<std::chrono::system_clock::time_point> next_delivery_time() override {
        std::lock_guard lock(mutex_);
        Statement q(db_, "SELECT MIN(next_attempt_at) FROM outbox WHERE delivered_at IS NULL", path_);
        if (!q.step() || q.is_null(0)) return std::nullopt;
        auto since_epoch =
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(q.real(0)));
        return std::chrono::system_clock::time_point(since_epoch);
    }

    void set_retry_backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max) override {
        if (initial.count() <= 0 || max < initial)
            throw vigil::Error("retry backoff needs 0 < initial <= max (got " + std::to_string(initial.count()) +
                               " ms, " + std::to_string(max.count()) + " ms)");
        std::lock_guard lock(mutex_);
        backoff_initial_ = initial;
        backoff_max_ = max;
    }

    int apply_retention(std::chrono::hours max_age) override {
        const double cutoff = now_seconds() - std::chrono::duration<double>(max_age).count();
        std::map<std::string, double> alert_end;  // id -> end time, for every alert
        {
            std::lock_guard lock(mutex_);
            Statement(db_, "DELETE FROM events WHERE recorded_at < ?", path_).bind(1, cutoff).run();
            Statement q(db_, "SELECT id, end_epoch FROM alerts", path_);
            while (q.step()) alert_end[q.text(0)] = q.real(1);
        }
        int removed = 0;
        std::error_code ec;
        if (!fs::is_directory(evidence_dir_, ec)) return 0;
        for (const auto& entry : fs::directory_iterator(evidence_dir_, ec)) {
            if (!entry.is_directory(ec)) continue;
            const std::string id = entry.path().filename().string();
            double age_reference = 0;
            if (auto it = alert_end.find(id); it != alert_end.end()) {
                age_reference = it->second;
            } else {
                // Evidence whose alert was never saved (crash in between): age by the folder itself.
                auto written = fs::last_write_time(entry.path(), ec);
                if (ec) continue;
                auto system_time = std::chrono::file_clock::to_sys(written);
                age_reference = std::chrono::duration<double>(system_time.time_since_epoch()).count();
            }
            if (age_reference >= cutoff) continue;
            if (fs::remove_all(entry.path(), ec) != static_cast<std::uintmax_t>(-1) && !ec) ++removed;
        }
        return removed;
    }

    int delete_alerts_older_than(std::chrono::hours max_age) override {
        const double cutoff = now_seconds() - std::chrono::duration<double>(max_age).count();
        std::vector<std::string> ids;
        {
            std::lock_guard lock(mutex_);
            Transaction tx(*this);
            {
                Statement q(db_, "SELECT id FROM alerts WHERE end_epoch < ?", path_);
                q.bind(1, cutoff);
                while (q.step()) ids.push_back(q.text(0));
            }
            const char* deletes[] = {
                "DELETE FROM alerts_fts WHERE rowid IN (SELECT rowid FROM alerts WHERE end_epoch < ?1)",
                "DELETE FROM feedback WHERE alert_id IN (SELECT id FROM alerts WHERE end_epoch < ?1)",
                "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE end_epoch < ?1)",
                "DELETE FROM alerts WHERE end_epoch < ?1",
                "DELETE FROM events WHERE recorded_at < ?1",
            };
            for (const char* sql : deletes) Statement(db_, sql, path_).bind(1, cutoff).run();
            tx.commit();
        }
        std::error_code ec;
        for (const auto& id : ids)
            if (safe_component(id)) fs::remove_all(evidence_dir_ / id, ec);
        return static_cast<int>(ids.size());
    }

    int add_save_listener(std::function<void()> listener) override {
        std::lock_guard lock(listeners_mutex_);
        int handle = next_listener_++;
        listeners_[handle] = std::move(listener);
        return handle;
    }

    void remove_save_listener(int handle) override {
        std::lock_guard lock(listeners_mutex_);
        listeners_.erase(handle);
    }

private:
    // BEGIN IMMEDIATE takes the write lock up front, so a busy database waits
    // (busy timeout) instead of failing halfway through a transaction.
    class Transaction {
    public:
        explicit Transaction(SqliteAlertStore& store) : store_(store) { store_.exec("BEGIN IMMEDIATE"); }
        ~Transaction() {
            if (!done_) sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
        void commit() {
            store_.exec("COMMIT");
            done_ = true;
        }

    private:
        SqliteAlertStore& store_;
        bool done_ = false;
    };

    void exec(const char* sql) {
        char* message = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
            std::string text = message ? message : sqlite3_errmsg(db_);
            sqlite3_free(message);
            throw vigil::Error("alert store " + path_.string() + ": " + text);
        }
    }

    void migrate() {
        // Version read inside the write transaction: two processes opening a new
        // database at once must not both run the same migration.
        for (;;) {
            Transaction tx(*this);
            int version = 0;
            {
                Statement q(db_, "PRAGMA user_version", path_);
                if (q.step()) version = static_cast<int>(q.integer(0));
            }
            if (version > kSchemaVersion)
                throw vigil::Error("alert store " + path_.string() + " has schema version " + std::to_string(version) +
                                   ", newer than this vigil understands (" + std::to_string(kSchemaVersion) + ")");
            if (version == kSchemaVersion) return;
            exec(kMigrations[version]);
            exec(("PRAGMA user_version = " + std::to_string(version + 1)).c_str());
            tx.commit();
        }
    }

    // Called under listeners_mutex_ so remove_save_listener returning means the
    // listener will not run again (its owner may be destroyed next).
    void notify_listeners() {
        std::lock_guard lock(listeners_mutex_);
        for (const auto& [handle, listener] : listeners_) listener();
    }

    fs::path path_;
    sqlite3* db_ = nullptr;
    std::mutex mutex_;
    std::chrono::milliseconds backoff_initial_{1000};
    std::chrono::milliseconds backoff_max_{60000};
    std::mutex listeners_mutex_;
    std::map<int, std::function<void()>> listeners_;
    int next_listener_ = 1;
};

}  // namespace

std::unique_ptr<AlertStore> AlertStore::open(const fs::path& path, const fs::path& evidence_dir) {
    return std::make_unique<SqliteAlertStore>(path, evidence_dir);
}

}  // namespace vigil::store
