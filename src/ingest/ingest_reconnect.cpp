#include "ingest/ingest_reconnect.h"

#include <algorithm>

namespace vigil::ingest {

ReconnectBackoff::ReconnectBackoff(int initial_ms, int max_ms)
    : initial_(std::max(1, initial_ms)), max_(std::max(std::max(1, initial_ms), max_ms)), current_(initial_) {}

std::chrono::milliseconds ReconnectBackoff::next_delay() {
    const auto delay = current_;
    current_ = std::min(max_, current_ * 2);
    ++failed_attempts_;
    return delay;
}

void ReconnectBackoff::reset() {
    current_ = initial_;
    failed_attempts_ = 0;
}

void CloseSignal::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    changed_.notify_all();
}

bool CloseSignal::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

bool CloseSignal::sleep_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_until(lock, deadline, [this] { return closed_; });
}

}  // namespace vigil::ingest
