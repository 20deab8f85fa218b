#pragma once
// Reconnection for live sources: capped exponential backoff, and a close
// signal that wakes any wait so close() from another thread is prompt.
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vigil::ingest {

class ReconnectBackoff {
public:
    ReconnectBackoff(int initial_ms, int max_ms);

    // The delay before the next attempt; each call doubles the following one up to the cap.
    std::chrono::milliseconds next_delay();
    // Called after a successful connection: the next loss starts over at the initial delay.
    void reset();
    int failed_attempts() const { return failed_attempts_; }

private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds current_;
    int failed_attempts_ = 0;
};

class CloseSignal {
public:
    void close();
    bool closed() const;
    // Sleeps until the deadline; false if close() came first.
    bool sleep_until(std::chrono::steady_clock::time_point deadline);

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool closed_ = false;
};

}  // namespace vigil::ingest
