#pragma once
// The delivery worker: one thread that drains the store's outbox into the
// configured sinks. A delivery that fails stays in the outbox with exponential
// backoff (store::AlertStore::mark_failed), so alerts survive a receiver that
// is down and a process that is killed (at-least-once; receivers dedupe by id).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sink/alert_sink.h"
#include "store/alert_store.h"

namespace vigil::sink {

struct DeliveryOptions {
    int batch = 32;                             // outbox rows fetched per round
    std::chrono::milliseconds idle_poll{1000};  // re-check for rows written by other processes
};

struct SinkCounters {
    int64_t delivered = 0;
    int64_t failed_attempts = 0;
    std::string last_error;
};

class DeliveryWorker {
public:
    DeliveryWorker(store::AlertStore& store, std::vector<std::shared_ptr<AlertSink>> sinks,
                   DeliveryOptions options = {});
    ~DeliveryWorker();
    DeliveryWorker(const DeliveryWorker&) = delete;
    DeliveryWorker& operator=(const DeliveryWorker&) = delete;

    void start();
    // Finishes the delivery in progress, then joins; undelivered rows stay queued.
    void stop();
    // Wakes the worker now (the store's save listener calls this too).
    void notify();
    // Blocks until no delivery is pending for this worker's sinks (true) or
    // the timeout passed (false). Rows waiting out a backoff count as pending.
    bool drain(std::chrono::milliseconds timeout);
    // One synchronous round over the rows due now; returns how many it tried.
    int deliver_due();

    std::vector<std::string> sink_names() const;
    std::map<std::string, SinkCounters> counters() const;
    int64_t pending() const;

private:
    void run();

    store::AlertStore& store_;
    std::map<std::string, std::shared_ptr<AlertSink>> sinks_;
    DeliveryOptions options_;
    int listener_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable wake_;      // worker waits here
    std::condition_variable progress_;  // drain waits here
    bool wake_requested_ = false;
    bool stopping_ = false;
    std::map<std::string, SinkCounters> counters_;
    std::mutex round_mutex_;  // one delivery round at a time (thread or deliver_due)
    std::thread thread_;
};

}  // namespace vigil::sink
