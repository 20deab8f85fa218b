// Frame sampling on stream time and the reconnect backoff, without media.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "ingest/ingest_frame_sampler.h"
#include "ingest/ingest_reconnect.h"

namespace {

using namespace vigil::ingest;

int kept_count(FrameSampler& sampler, const std::vector<double>& times) {
    int kept = 0;
    for (double t : times) kept += sampler.keep(t) ? 1 : 0;
    return kept;
}

std::vector<double> constant_rate(double fps, int frames) {
    std::vector<double> times;
    for (int i = 0; i < frames; ++i) times.push_back(i / fps);
    return times;
}

TEST(FrameSampler, ZeroTargetKeepsEverything) {
    FrameSampler sampler(0);
    EXPECT_EQ(kept_count(sampler, constant_rate(30, 90)), 90);
}

TEST(FrameSampler, TwentyFiveToFiveKeepsEveryFifthFrame) {
    FrameSampler sampler(5);
    std::vector<int> kept;
    const auto times = constant_rate(25, 250);
    for (int i = 0; i < 250; ++i)
        if (sampler.keep(times[size_t(i)])) kept.push_back(i);
    ASSERT_EQ(kept.size(), 50u);
    for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], int(i) * 5);
}

TEST(FrameSampler, NonIntegerRatioHoldsTheTargetRateWithoutDrift) {
    FrameSampler sampler(10);
    // 29.97 fps for 60 s: 1798 frames -> 600 slots.
    EXPECT_NEAR(kept_count(sampler, constant_rate(29.97, 1798)), 600, 1);
}

TEST(FrameSampler, VariableFrameRateFollowsStreamTimeNotFrameCount) {
    // 10 s at 30 fps, then 10 s at 7.5 fps: a count-based sampler would keep far
    // fewer frames in the second half; a time-based one keeps 2 per second throughout.
    std::vector<double> times = constant_rate(30, 300);
    for (int i = 0; i < 75; ++i) times.push_back(10 + i / 7.5);
    FrameSampler sampler(2);
    int first_half = 0, second_half = 0;
    for (double t : times)
        if (sampler.keep(t)) (t < 10 ? first_half : second_half) += 1;
    EXPECT_EQ(first_half, 20);
    EXPECT_NEAR(second_half, 20, 1);
}

TEST(FrameSampler, JitteredTimestampsStillFillEverySlot) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> jitter(-0.004, 0.004);
    std::vector<double> times;
    for (int i = 0; i < 300; ++i) times.push_back(std::max(0.0, i / 30.0 + jitter(rng)));
    FrameSampler sampler(30);
    EXPECT_GE(kept_count(sampler, times), 298);
}

TEST(FrameSampler, GapDoesNotCauseABurst) {
    FrameSampler sampler(5);
    std::vector<double> times = constant_rate(25, 25);            // 0 .. 0.96 s
    for (int i = 0; i < 25; ++i) times.push_back(10 + i / 25.0);  // resumes 9 s later
    int kept_after_gap = 0;
    for (double t : times)
        if (sampler.keep(t) && t >= 10) ++kept_after_gap;
    EXPECT_EQ(kept_after_gap, 5);
}

TEST(ReconnectBackoff, DoublesUpToTheCapAndResets) {
    ReconnectBackoff backoff(100, 700);
    EXPECT_EQ(backoff.next_delay().count(), 100);
    EXPECT_EQ(backoff.next_delay().count(), 200);
    EXPECT_EQ(backoff.next_delay().count(), 400);
    EXPECT_EQ(backoff.next_delay().count(), 700);
    EXPECT_EQ(backoff.next_delay().count(), 700);
    backoff.reset();
    EXPECT_EQ(backoff.next_delay().count(), 100);
}

TEST(CloseSignal, CloseWakesASleeperEarly) {
    CloseSignal signal;
    const auto start = std::chrono::steady_clock::now();
    std::thread closer([&] { signal.close(); });
    const bool slept_fully = signal.sleep_until(start + std::chrono::seconds(30));
    closer.join();
    EXPECT_FALSE(slept_fully);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_TRUE(signal.closed());
}

}  // namespace
