// Tracker throughput: updates per second with N live tracks of synthetic
// pedestrians (circling, jittered boxes, a fifth of them scored low as if
// partly occluded).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "track/tracker.h"

namespace {

constexpr int kLoopFrames = 240;  // the motion repeats exactly, so the stream can loop forever

std::vector<std::vector<vigil::Detection>> synthetic_frames(int objects) {
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> jitter(-1.5f, 1.5f), phase(0, 6.2831853f), high(0.6f, 1.f), low(0.2f, 0.5f);
    std::uniform_int_distribution<int> laps(1, 3);
    const int columns = int(std::ceil(std::sqrt(double(objects))));
    struct Path {
        float cx, cy, radius, phase, turns_per_loop, score_high, score_low;
        bool often_low;
    };
    std::vector<Path> paths;
    for (int i = 0; i < objects; ++i)
        paths.push_back({float(i % columns) * 110.f, float(i / columns) * 150.f, 35.f, phase(rng), float(laps(rng)),
                         high(rng), low(rng), i % 5 == 0});
    std::vector<std::vector<vigil::Detection>> frames(kLoopFrames);
    for (int f = 0; f < kLoopFrames; ++f)
        for (const Path& p : paths) {
            const float angle = p.phase + 6.2831853f * p.turns_per_loop * float(f) / kLoopFrames;
            vigil::Detection d;
            d.box = cv::Rect2f(p.cx + p.radius * std::cos(angle) + jitter(rng),
                               p.cy + p.radius * std::sin(angle) + jitter(rng), 32 + jitter(rng), 80 + jitter(rng));
            d.score = p.often_low && f % 40 < 10 ? p.score_low : p.score_high;
            d.class_id = 0;
            frames[size_t(f)].push_back(d);
        }
    return frames;
}

void run_tracker(benchmark::State& state, const char* algorithm) {
    const auto frames = synthetic_frames(int(state.range(0)));
    vigil::track::TrackerConfig config;
    config.algorithm = algorithm;
    auto tracker = vigil::track::make_tracker(config);
    const double fps = 30;
    long frame = 0;
    size_t reported = 0;
    for (; frame < kLoopFrames; ++frame) tracker->update(frames[size_t(frame % kLoopFrames)], double(frame) / fps);
    for (auto _ : state) {
        const auto tracks = tracker->update(frames[size_t(frame % kLoopFrames)], double(frame) / fps);
        reported = tracks.size();
        benchmark::DoNotOptimize(tracks.data());
        ++frame;
    }
    state.SetItemsProcessed(state.iterations());  // items = frame updates
    state.counters["reported_tracks"] = double(reported);
}

void BM_ByteTrackUpdate(benchmark::State& state) { run_tracker(state, "bytetrack"); }
void BM_SortUpdate(benchmark::State& state) { run_tracker(state, "sort"); }

BENCHMARK(BM_ByteTrackUpdate)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SortUpdate)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
