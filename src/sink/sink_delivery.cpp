#include "sink/sink_delivery.h"

#include <spdlog/spdlog.h>

#include <set>

#include "core/error.h"

namespace vigil::sink {

DeliveryWorker::DeliveryWorker(store::AlertStore& store, std::vector<std::shared_ptr<AlertSink>> sinks,
                               DeliveryOptions options)
    : store_(store), options_(options) {
    if (options_.batch < 1) throw vigil::Error("delivery batch must be at least 1");
    for (auto& sink : sinks) {
        if (!sink) continue;
        std::string name = sink->name();
        if (!sinks_.emplace(name, std::move(sink)).second)
            throw vigil::Error("two sinks are named \"" + name + "\"; give each a unique \"name\"");
        counters_[name];
    }
    listener_ = store_.add_save_listener([this] { notify(); });
}

DeliveryWorker::~DeliveryWorker() {
    store_.remove_save_listener(listener_);
    stop();
}

void DeliveryWorker::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    // A new worker is a new chance for rows a previous process backed off on.
    store_.retry_pending_now();
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void DeliveryWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    progress_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void DeliveryWorker::notify() {
    {
        std::lock_guard lock(mutex_);
        wake_requested_ = true;
    }
    wake_.notify_all();
}

std::vector<std::string> DeliveryWorker::sink_names() const {
    std::vector<std::string> names;
    for (const auto& [name, sink] : sinks_) names.push_back(name);
    return names;
}

std::map<std::string, SinkCounters> DeliveryWorker::counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
}

int64_t DeliveryWorker::pending() const {
    int64_t total = 0;
    for (const auto& [name, sink] : sinks_) total += store_.pending_deliveries_for(name);
    return total;
}

int DeliveryWorker::deliver_due() {
    std::lock_guard round(round_mutex_);
    auto items = store_.due_deliveries(options_.batch);
    // A sink that failed once this round is not tried again until the next:
    // a dead broker must not cost its timeout once per queued alert.
    std::map<std::string, std::string> failed_this_round;
    for (const auto& item : items) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
        }
        auto sink = sinks_.find(item.sink);
        if (sink == sinks_.end()) {
            // Queued for a sink that is no longer configured: keep it, but slowly.
            store_.mark_failed(item.id, "no sink named \"" + item.sink + "\" is configured");
            continue;
        }
        std::string error;
        if (auto failed = failed_this_round.find(item.sink); failed != failed_this_round.end()) {
            error = failed->second;
        } else {
            try {
                sink->second->deliver(item.alert);
            } catch (const std::exception& e) {
                error = e.what();
                if (error.empty()) error = "delivery failed";
            }
        }
        if (error.empty()) {
            store_.mark_delivered(item.id);
            std::lock_guard lock(mutex_);
            ++counters_[item.sink].delivered;
        } else {
            // Loud on the first failure and then every tenth, so a long outage does not flood the log.
            const int attempt = item.attempts + 1;
            if (!failed_this_round.count(item.sink))
                spdlog::log(attempt == 1 || attempt % 10 == 0 ? spdlog::level::warn : spdlog::level::debug,
                            "alert {} not delivered to {} (attempt {}): {}", item.alert_id, item.sink, attempt, error);
            failed_this_round.emplace(item.sink, error);
            store_.mark_failed(item.id, error);
            std::lock_guard lock(mutex_);
            auto& counters = counters_[item.sink];
            ++counters.failed_attempts;
            counters.last_error = error;
        }
    }
    progress_.notify_all();
    return static_cast<int>(items.size());
}

void DeliveryWorker::run() {
    for (;;) {
        int tried = 0;
        try {
            tried = deliver_due();
        } catch (const std::exception& e) {
            // The store itself failed (disk, lock timeout): try again after a pause.
            spdlog::error("delivery worker: {}", e.what());
        }
        std::unique_lock lock(mutex_);
        if (stopping_) return;
        if (tried >= options_.batch) continue;  // more may be due right now
        auto wake_at = std::chrono::system_clock::now() + options_.idle_poll;
        lock.unlock();
        try {
            if (auto next = store_.next_delivery_time()) wake_at = std::min(wake_at, *next);
        } catch (const std::exception& e) {
            spdlog::error("delivery worker: {}", e.what());
        }
        lock.lock();
        wake_.wait_until(lock, wake_at, [&] { return stopping_ || wake_requested_; });
        wake_requested_ = false;
        if (stopping_) return;
    }
}

bool DeliveryWorker::drain(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    notify();
    for (;;) {
        if (pending() == 0) return true;
        std::unique_lock lock(mutex_);
        if (stopping_ || std::chrono::steady_clock::now() >= deadline) return false;
        // Woken after every round; the short cap covers rows another process delivered.
        progress_.wait_until(lock,
                             std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
}

}  // namespace vigil::sink
