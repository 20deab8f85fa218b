#pragma once
// Timing shared by every source: which frames to keep for a target rate, and
// pacing a file to the wall clock.
#include <chrono>
#include <functional>

namespace vigil::ingest {

// Keeps frames so that the kept rate follows target_fps on stream time, not on
// frame counts, so variable-frame-rate input and gaps are handled: a frame is
// kept once its time reaches the next due slot (less half an input interval,
// so a frame jittering slightly early still fills its slot), and slots advance
// by exactly one period so the kept rate does not drift.
class FrameSampler {
public:
    explicit FrameSampler(double target_fps);  // <= 0 keeps everything

    bool keep(double stream_time_s);
    void reset();

private:
    double period_s_ = 0;
    double next_due_s_ = 0;
    double last_time_s_ = 0;
    double last_interval_s_ = 0;
    bool started_ = false;
};

// Maps stream time to the wall clock from the first frame on. wait_until() is
// given a function that sleeps until a deadline and returns false if it was
// interrupted (the source closed).
class RealtimePacer {
public:
    using Clock = std::chrono::steady_clock;
    using SleepUntil = std::function<bool(Clock::time_point)>;

    // False if the sleep was interrupted.
    bool wait_for_stream_time(double stream_time_s, const SleepUntil& sleep_until);
    void reset() { started_ = false; }

private:
    bool started_ = false;
    Clock::time_point wall_origin_{};
    double stream_origin_s_ = 0;
};

}  // namespace vigil::ingest
