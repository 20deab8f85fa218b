#include "ingest/ingest_frame_sampler.h"

#include <cmath>

namespace vigil::ingest {

FrameSampler::FrameSampler(double target_fps) : period_s_(target_fps > 0 ? 1.0 / target_fps : 0) {}

void FrameSampler::reset() {
    started_ = false;
    last_interval_s_ = 0;
}

bool FrameSampler::keep(double t) {
    if (period_s_ <= 0) return true;
    if (!started_) {
        started_ = true;
        last_time_s_ = t;
        next_due_s_ = t + period_s_;
        return true;
    }
    if (t > last_time_s_) last_interval_s_ = t - last_time_s_;
    last_time_s_ = t;
    const double tolerance = std::min(0.5 * last_interval_s_, 0.5 * period_s_) + 1e-9;
    if (t < next_due_s_ - tolerance) return false;
    next_due_s_ += period_s_;
    // After a gap longer than a period (a stall, a reconnect) restart the grid
    // at this frame instead of keeping a burst of frames to catch up.
    if (next_due_s_ <= t) next_due_s_ = t + period_s_;
    return true;
}

bool RealtimePacer::wait_for_stream_time(double stream_time_s, const SleepUntil& sleep_until) {
    const auto now = Clock::now();
    if (!started_) {
        started_ = true;
        wall_origin_ = now;
        stream_origin_s_ = stream_time_s;
        return true;
    }
    const auto due = wall_origin_ + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(stream_time_s - stream_origin_s_));
    if (due <= now) return true;
    return sleep_until(due);
}

}  // namespace vigil::ingest
