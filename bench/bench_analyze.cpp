// Per-frame cost of the analytics engine: what a busy camera pays on every
// frame (200 tracks, 10 zones, 20 rules).
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "analyze/analyze_engine.h"
#include "core/detection.h"

namespace {

void BM_AnalyticsUpdate(benchmark::State& state) {
    const int track_count = static_cast<int>(state.range(0));
    nlohmann::json zones = nlohmann::json::array();
    nlohmann::json rules = nlohmann::json::array();
    for (int z = 0; z < 10; ++z) {
        const float x = 60.f * static_cast<float>(z);
        const std::string name = "z" + std::to_string(z);
        zones.push_back({{"name", name}, {"points", {{x, 0}, {x + 60, 0}, {x + 60, 480}, {x, 480}}}});
        rules.push_back({{"name", "presence_" + name}, {"type", "zone_presence"}, {"zone", name}});
        rules.push_back({{"name", "jam_" + name}, {"type", "congestion"}, {"zone", name}, {"min_count", 5},
                         {"max_speed_px_s", 5}, {"min_s", 5}, {"classes", nlohmann::json::array()}});
    }
    vigil::analyze::AnalyticsEngine engine({{"zones", zones}, {"rules", rules}}, cv::Size(640, 480));
    std::vector<vigil::Track> tracks(static_cast<size_t>(track_count));
    for (int i = 0; i < track_count; ++i) {
        auto& t = tracks[static_cast<size_t>(i)];
        t.id = i + 1;
        t.class_id = 0;
        t.label = "person";
        t.confirmed = true;
        t.box = cv::Rect2f(static_cast<float>(i * 3 % 600), static_cast<float>(100 + i % 300), 20, 50);
    }
    std::vector<vigil::analyze::Event> events;
    int frame = 0;
    for (auto _ : state) {
        for (auto& t : tracks) t.box.x = static_cast<float>(static_cast<int>(t.box.x + 1 + frame % 3) % 600);
        events.clear();
        engine.update(tracks, frame * 0.04, events);
        benchmark::DoNotOptimize(events.data());
        ++frame;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AnalyticsUpdate)->Arg(20)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
