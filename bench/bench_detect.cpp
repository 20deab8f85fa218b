// Detector throughput per model, runtime and thread count, next to the bare
// forward pass of the same runtime on the same preprocessed input, measured
// interleaved in one loop so both see the same machine load. ratio =
// detector images/s / bare forward images/s: how close pre/post-processing
// comes to free (target >= 0.95).
//
//   build/bench/bench_detect [--benchmark_filter=yolox]
// Data: $VIGIL_SHARED_DIR (default <repo>/../shared), models from
// $VIGIL_MODELS_DIR (default <shared>/models).
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/paths.h"
#include "detect/detect_network_detector.h"
#include "detect/detector.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path shared_dir() {
    // This file sits in <repo>/bench/; shared data beside the repository.
    return vigil::env_or("VIGIL_SHARED_DIR", (fs::path(__FILE__).parent_path() / "../../shared").string());
}

std::vector<cv::Mat> load_images() {
    std::vector<cv::Mat> images;
    for (const char* name : {"bus.jpg", "people_crosswalk.jpeg", "street_timessquare.png"}) {
        cv::Mat image = cv::imread((shared_dir() / "media/images" / name).string());
        if (!image.empty()) images.push_back(image);
    }
    if (images.empty()) throw vigil::Error("no images under " + (shared_dir() / "media/images").string());
    return images;
}

void bench_detector(benchmark::State& state, const std::string& model, const std::string& backend) {
    static const std::vector<cv::Mat> images = load_images();
    const int threads = static_cast<int>(state.range(0));
    vigil::detect::DetectorConfig config;
    config.name = model;
    config.backend = backend;
    config.threads = threads;
    config.models_dir = vigil::env_or("VIGIL_MODELS_DIR", (shared_dir() / "models").string());
    std::unique_ptr<vigil::detect::Detector> detector;
    try {
        detector = vigil::detect::make_detector(config);
    } catch (const vigil::Error& e) {
        state.SkipWithError(e.what());
        return;
    }
    // Preprocessing (resize, blob) runs on OpenCV's pool for every backend.
    cv::setNumThreads(threads);
    auto* network = dynamic_cast<vigil::detect::NetworkDetector*>(detector.get());
    std::vector<cv::Mat> blobs;
    for (const auto& image : images) blobs.push_back(network->preprocess(image).clone());
    for (size_t i = 0; i < images.size(); ++i) detector->detect(images[i]);  // warm-up

    double detect_s = 0, bare_s = 0;
    size_t i = 0, detections = 0;
    for (auto _ : state) {
        const size_t k = i++ % images.size();
        const auto t0 = Clock::now();
        auto ds = detector->detect(images[k]);
        const auto t1 = Clock::now();
        benchmark::DoNotOptimize(network->runtime().forward(blobs[k]));
        const auto t2 = Clock::now();
        const double d = std::chrono::duration<double>(t1 - t0).count();
        detect_s += d;
        bare_s += std::chrono::duration<double>(t2 - t1).count();
        detections += ds.size();
        state.SetIterationTime(d);
    }
    const double n = static_cast<double>(state.iterations());
    state.counters["images/s"] = n / detect_s;
    state.counters["bare/s"] = n / bare_s;
    state.counters["ratio"] = bare_s / detect_s;
    state.counters["dets"] = static_cast<double>(detections) / n;
    state.SetLabel(detector->name());
}

}  // namespace

int main(int argc, char** argv) {
    struct Case {
        const char* model;
        const char* backend;
    };
    const Case cases[] = {{"yolox-nano", "onnxruntime"}, {"yolox-nano", "opencv"},
                          {"fastestdet", "onnxruntime"}, {"fastestdet", "opencv"},
                          {"yolo-fastest-1.1", "opencv"}, {"yolo-fastest-1.1-xl", "opencv"}};
    for (const auto& c : cases) {
        const std::string model = c.model, backend = c.backend;
        benchmark::RegisterBenchmark(("detect/" + model + "/" + backend).c_str(),
                                     [model, backend](benchmark::State& s) { bench_detector(s, model, backend); })
            ->Arg(1)
            ->Arg(2)
            ->ArgName("threads")
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(1.0);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
