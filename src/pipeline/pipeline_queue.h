#pragma once
// A bounded multi-producer, multi-consumer queue joining two pipeline stages.
// Producers choose what happens when it is full: drop the oldest item (live
// capture, which must never block), refuse the new one (the VLM queue, whose
// refusals fall back to rule-based context), or wait for room (file sources,
// where every sampled frame should be processed).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace vigil::pipeline {

template <typename T>
class BoundedQueue {
public:
    explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    // Always succeeds; returns true when an older item was dropped for room.
    bool push_drop_oldest(T item) {
        bool dropped = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return false;
            if (items_.size() >= capacity_) {
                items_.pop_front();
                dropped = true;
            }
            items_.push_back(std::move(item));
        }
        not_empty_.notify_one();
        return dropped;
    }

    // False (item untouched) when full or closed.
    bool try_push(T& item) {
        {
            std::lock_guard lock(mutex_);
            if (closed_ || items_.size() >= capacity_) return false;
            items_.push_back(std::move(item));
        }
        not_empty_.notify_one();
        return true;
    }

    // Waits for room; false when the queue was closed meanwhile.
    bool push_wait(T item) {
        {
            std::unique_lock lock(mutex_);
            not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
            if (closed_) return false;
            items_.push_back(std::move(item));
        }
        not_empty_.notify_one();
        return true;
    }

    // Waits up to `timeout` for an item. After close() the remaining items are
    // still handed out; nullopt then means closed and empty (or timed out).
    std::optional<T> pop(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) return std::nullopt;
        return take_front(lock);
    }

    // Blocks until an item arrives or the queue is closed and empty.
    std::optional<T> pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
        return take_front(lock);
    }

    // Wakes every waiter; pushes fail from now on, pops drain what is left.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        not_empty_.notify_all();
        not_full_.notify_all();
    }

    bool closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }
    size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }
    size_t capacity() const { return capacity_; }

private:
    // The front item, if any; releases `lock` before waking a waiting producer.
    std::optional<T> take_front(std::unique_lock<std::mutex>& lock) {
        if (items_.empty()) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        lock.unlock();
        not_full_.notify_one();
        return item;
    }

    const size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable not_empty_, not_full_;
    std::deque<T> items_;
    bool closed_ = false;
};

}  // namespace vigil::pipeline
