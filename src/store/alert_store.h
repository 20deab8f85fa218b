#pragma once
// The embedded event and alert store (SQLite, WAL): events, alerts, feedback,
// full-text search over alert text (FTS5), evidence files on disk with a
// retention policy, and the durable delivery outbox. Every method is
// thread-safe.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vigil::store {

struct OutboxItem {
    int64_t id = 0;
    std::string alert_id;
    std::string sink;  // AlertSink::name()
    int attempts = 0;
    nlohmann::json alert;  // the alert as it was when queued (latest version)
};

struct AlertQuery {
    std::string camera;  // empty: any
    std::string type;    // empty: any
    std::string status;  // "sent" | "dismissed" | empty: any
    int limit = 50;
};

class AlertStore {
public:
    // Opens or creates <path> (a .sqlite file); evidence files go under
    // `evidence_dir`. Throws vigil::Error naming the path.
    static std::unique_ptr<AlertStore> open(const std::filesystem::path& path,
                                            const std::filesystem::path& evidence_dir);
    virtual ~AlertStore() = default;

    // Records a raw analytics event (JSON from analyze::to_json) for audit.
    virtual void record_event(const std::string& camera, const nlohmann::json& event) = 0;

    // Inserts or replaces an alert (by "id") and, in the same transaction,
    // queues one outbox row per sink in `sinks` (replacing undelivered rows
    // for the same alert and sink). status: "sent" or "dismissed" (the VLM
    // rejected it); a dismissed alert is delivered only when the caller names
    // sinks, to retract what was sent before.
    virtual void save_alert(const nlohmann::json& alert, const std::string& status,
                            const std::vector<std::string>& sinks) = 0;

    // Writes evidence bytes to <evidence_dir>/<alert_id>/<name>; returns the
    // path, or nullopt when the write failed (disk full): the caller marks the
    // evidence missing and still saves the alert.
    virtual std::optional<std::filesystem::path> write_evidence(const std::string& alert_id, const std::string& name,
                                                                const std::string& bytes) = 0;

    virtual std::optional<nlohmann::json> get_alert(const std::string& id) = 0;
    virtual std::vector<nlohmann::json> list_alerts(const AlertQuery& query) = 0;
    virtual std::vector<nlohmann::json> search_alerts(const std::string& text, int limit = 50) = 0;

    // Operator feedback: verdict "confirm" | "dismiss", optional note.
    virtual void add_feedback(const std::string& alert_id, const std::string& verdict, const std::string& note) = 0;
    // Alerts with feedback, with it attached under "feedback" (for dataset export).
    virtual std::vector<nlohmann::json> reviewed_alerts() = 0;

    // Outbox: rows due now (not delivered, next attempt time passed), oldest first.
    virtual std::vector<OutboxItem> due_deliveries(int limit) = 0;
    virtual void mark_delivered(int64_t outbox_id) = 0;
    // Schedules the next attempt with exponential backoff and records the error.
    virtual void mark_failed(int64_t outbox_id, const std::string& error) = 0;
    virtual int64_t pending_deliveries() = 0;
    // Makes every undelivered row due now, whatever its backoff said; returns
    // how many were rescheduled. A process starting calls it: receivers may have
    // come back while nothing was running, and a restart should not sit out a
    // backoff planned by the process it replaces.
    virtual int64_t retry_pending_now() = 0;

    // Deletes evidence folders of alerts that ended more than max_age ago (a
    // folder without an alert ages by its mtime) and events recorded before
    // then; alert records stay (see delete_alerts_older_than). Returns the
    // number of evidence folders deleted.
    virtual int apply_retention(std::chrono::hours max_age) = 0;

    // "sent" | "dismissed", or nullopt for an unknown id.
    virtual std::optional<std::string> alert_status(const std::string& id) = 0;
    // Feedback rows for one alert, oldest first: {"verdict", "note", "time"}.
    virtual std::vector<nlohmann::json> feedback_for(const std::string& alert_id) = 0;

    // Undelivered rows for one sink (a worker drains only the sinks it has).
    virtual int64_t pending_deliveries_for(const std::string& sink) = 0;
    // When the earliest undelivered row becomes due; nullopt when none is pending.
    virtual std::optional<std::chrono::system_clock::time_point> next_delivery_time() = 0;
    // mark_failed waits `initial`, doubling per attempt up to `max` (default 1 s .. 60 s).
    virtual void set_retry_backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max) = 0;
    // Deletes events and alerts (with their feedback, outbox rows and evidence)
    // older than max_age; apply_retention only deletes evidence and events.
    virtual int delete_alerts_older_than(std::chrono::hours max_age) = 0;

    // Called after each save_alert that queued deliveries (outside the
    // database lock; keep it short, e.g. notify a condition variable), so a
    // delivery worker wakes at once. Returns a handle for remove_save_listener.
    virtual int add_save_listener(std::function<void()> listener) = 0;
    virtual void remove_save_listener(int handle) = 0;

    const std::filesystem::path& evidence_dir() const { return evidence_dir_; }

protected:
    std::filesystem::path evidence_dir_;
};

}  // namespace vigil::store
