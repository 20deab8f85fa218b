// `vigil bench ...`: speed measurements that print a table people can paste
// into an issue (or JSON for scripts such as bench/vlm_vs_mtmd_cli.sh).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_app.h"
#include "contextualize/contextualizer.h"
#include "core/error.h"
#include "core/image_io.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_json_stream.h"
#include "vlm/vlm_llama_runtime.h"

namespace vigil::cli {
namespace {

constexpr const char* kBenchPrompt = "Describe this image in detail.";

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

struct BenchVlmArgs {
    std::string model_path;
    std::string mmproj_path;
    std::string image;
    std::string prompt = kBenchPrompt;
    int tokens = 64;
    int threads = 0;
    int runs = 3;
    int context_size = 4096;
    int max_tiles = 1;
    bool json_output = false;
};

struct RunResult {
    vlm::VlmTimings timings;
    double encode_ms() const { return timings.image_encode_ms; }
    double prefill_tps() const { return timings.prefill_tokens_per_s(); }
    double decode_tps() const { return timings.decode_tokens_per_s(); }
};

nlohmann::json run_to_json(const RunResult& run) {
    const auto& t = run.timings;
    return {{"image_encode_ms", t.image_encode_ms},
            {"prefill_ms", t.prefill_ms},
            {"prompt_tokens", t.prompt_tokens},
            {"image_tokens", t.image_tokens},
            {"prefill_tokens_per_s", t.prefill_tokens_per_s()},
            {"decode_ms", t.decode_ms},
            {"generated_tokens", t.generated_tokens},
            {"decode_tokens_per_s", t.decode_tokens_per_s()},
            {"total_ms", t.total_ms}};
}

void bench_vlm(const BenchVlmArgs& args) {
    vlm::EmbeddedConfig config;
    config.model_path = args.model_path;
    config.mmproj_path = args.mmproj_path;
    config.threads = args.threads;
    config.context_size = args.context_size;

    const auto t_load = std::chrono::steady_clock::now();
    auto engine = vlm::make_embedded_engine(config);
    const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

    // Fixed seed, greedy and no end-of-generation: every run does the same work.
    vlm::VlmRequest request;
    request.prompt = args.prompt;
    request.images.push_back(vlm::VlmImage::from_file(args.image));
    request.max_tokens = args.tokens;
    request.temperature = 0.0f;
    request.seed = 42;
    request.ignore_eos = true;
    request.image_budget.max_tiles = args.max_tiles;

    engine->generate(request);  // warm-up: first-use allocations and page faults
    std::vector<RunResult> runs;
    for (int i = 0; i < args.runs; ++i) {
        runs.push_back({engine->generate(request).timings});
    }

    auto column = [&](double (RunResult::*field)() const) {
        std::vector<double> values;
        for (const auto& run : runs) values.push_back((run.*field)());
        return median(std::move(values));
    };
    const double encode_ms = column(&RunResult::encode_ms);
    const double prefill_tps = column(&RunResult::prefill_tps);
    const double decode_tps = column(&RunResult::decode_tps);
    const double rss_mib = peak_rss_mib();
    const int threads = args.threads > 0 ? args.threads : static_cast<int>(std::thread::hardware_concurrency());

    if (args.json_output) {
        nlohmann::json out;
        out["backend"] = engine->name();
        out["model"] = args.model_path;
        out["mmproj"] = args.mmproj_path;
        out["image"] = args.image;
        out["threads"] = threads;
        out["tokens"] = args.tokens;
        out["load_ms"] = load_ms;
        out["runs"] = nlohmann::json::array();
        for (const auto& run : runs) out["runs"].push_back(run_to_json(run));
        out["median"] = {{"image_encode_ms", encode_ms},
                         {"prefill_tokens_per_s", prefill_tps},
                         {"decode_tokens_per_s", decode_tps}};
        out["peak_rss_mib"] = rss_mib;
        std::cout << out.dump(2) << "\n";
        return;
    }

    std::cout << fmt::format("vigil bench vlm: {} | {} threads | {} tokens | load {:.0f} ms\n", engine->name(),
                             threads, args.tokens, load_ms);
    std::cout << fmt::format("| {:>4} | {:>12} | {:>13} | {:>14} | {:>13} |\n", "run", "encode ms", "prompt tokens",
                             "prefill tok/s", "decode tok/s");
    std::cout << "| ---: | -----------: | ------------: | -------------: | ------------: |\n";
    for (size_t i = 0; i < runs.size(); ++i) {
        const auto& t = runs[i].timings;
        std::cout << fmt::format("| {:>4} | {:>12.1f} | {:>13} | {:>14.1f} | {:>13.2f} |\n", i + 1,
                                 t.image_encode_ms, t.prompt_tokens, t.prefill_tokens_per_s(),
                                 t.decode_tokens_per_s());
    }
    std::cout << fmt::format("| {:>4} | {:>12.1f} | {:>13} | {:>14.1f} | {:>13.2f} |\n", "med", encode_ms,
                             runs.empty() ? 0 : runs.front().timings.prompt_tokens, prefill_tps, decode_tps);
    std::cout << fmt::format("peak RSS {:.0f} MiB\n", rss_mib);
}

// ---- bench vlm-alert ----------------------------------------------------------

struct BenchAlertArgs {
    std::string model_path;
    std::string mmproj_path;
    std::vector<std::string> frames;  // before, trigger, after (image files or clip.mp4@12.5s)
    int tokens = 120;
    int threads = 2;
    int runs = 5;
    int tiles = 2;
    bool baseline = false;
    bool json_output = false;
};

// Sums a range with the widest vector loads this CPU has (chosen at run
// time), so the read rate is the memory's, not the loop's.
__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t sum_words(const uint64_t* p, size_t n) {
    uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        a += p[i];
        b += p[i + 1];
        c += p[i + 2];
        d += p[i + 3];
        e += p[i + 4];
        f += p[i + 5];
        g += p[i + 6];
        h += p[i + 7];
    }
    return a + b + c + d + e + f + g + h;
}

// Read bandwidth with `threads` threads over a buffer far larger than any
// cache: the bound on decode speed is this over the bytes read per token.
double read_bandwidth_gb_s(int threads) {
    const size_t bytes = size_t(1) << 30;
    std::vector<uint64_t> buffer(bytes / sizeof(uint64_t), 1);
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
        std::atomic<uint64_t> sink{0};
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        const size_t per = buffer.size() / size_t(threads);
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] { sink += sum_words(buffer.data() + per * size_t(t), per); });
        }
        for (auto& w : workers) w.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, double(bytes) / s / 1e9);
        if (sink.load() == 42) std::cerr << "";  // keep the reads
    }
    return best;
}

// Bytes the text model reads for each token: about the whole file (the
// output layer of a tied-embedding model such as SmolLM2 reads the embedding
// table too; the vocabulary and metadata are a few MB).
double text_weight_bytes(const std::string& path) { return double(std::filesystem::file_size(path)); }

struct AlertRun {
    vlm::VlmTimings timings;
    double verdict_ms = 0;  // call -> verdict and severity decoded
    double report_ms = 0;   // call -> the last of `tokens` tokens
};

// One congestion event like the demo's, with evidence from the given frames
// and two tracked vehicles on each; `variant` changes the facts (time,
// metrics) the way consecutive events on one camera differ.
analyze::Event bench_event(int variant) {
    analyze::Event event;
    event.rule = "road_congestion";
    event.type = "congestion";
    event.zone = "road";
    event.time_s = 12.0 + 7.5 * variant;
    event.start_s = event.time_s - 2.5;
    event.track_ids = {3, 5};
    event.metrics = {{"count", 2 + variant % 4}, {"min_count", 2}, {"mean_speed_px_s", 31.5 + variant},
                     {"duration_s", 2.5}};
    event.summary = fmt::format("{} slow vehicles in zone \"road\" for 2.5 s.", 2 + variant % 4);
    return event;
}

std::vector<contextualize::EvidenceFrame> bench_frames(const std::vector<std::string>& specs, double trigger_s) {
    std::vector<contextualize::EvidenceFrame> frames;
    for (size_t i = 0; i < specs.size(); ++i) {
        cv::Mat bgr;
        cv::cvtColor(load_image_rgb(specs[i]), bgr, cv::COLOR_RGB2BGR);
        contextualize::EvidenceFrame frame;
        frame.bgr = bgr;
        frame.time_s = trigger_s + 2.0 * (double(i) - double(specs.size() / 2));
        for (int id : {3, 5}) {
            Track track;
            track.id = id;
            track.class_id = 2;
            track.label = "car";
            track.score = 0.8f;
            track.box = cv::Rect2f(float(bgr.cols) * (id == 3 ? 0.25f : 0.55f), float(bgr.rows) * 0.55f,
                                   float(bgr.cols) * 0.15f, float(bgr.rows) * 0.12f);
            frame.tracks.push_back(track);
        }
        frames.push_back(std::move(frame));
    }
    return frames;
}

void bench_vlm_alert(const BenchAlertArgs& args) {
    vlm::EmbeddedConfig config;
    config.model_path = args.model_path;
    config.mmproj_path = args.mmproj_path;
    config.threads = args.threads;
    config.prefix_cache_mb = args.baseline ? 0 : 256;
    config.insert_forced_text = !args.baseline;
    auto engine = vlm::make_embedded_engine(config);
    contextualize::ContextualizerOptions options;
    options.max_tiles_per_request = args.tiles;
    options.vlm_deadline = std::chrono::minutes(10);
    options.temperature = 0;
    contextualize::Contextualizer contextualizer(options, engine.get());
    contextualize::CameraContext camera{"bench", "Sample urban road", "Multi-lane urban road seen from above.", {}};

    auto run_once = [&](int variant) {
        const analyze::Event event = bench_event(variant);
        vlm::VlmRequest request = contextualizer.build_request(event, camera, bench_frames(args.frames, event.time_s));
        if (args.baseline) {
            // Today's path: the images first, then the whole text, nothing reused.
            request.prompt = request.instructions + request.prompt;
            request.instructions.clear();
        }
        // Random weights never end early: a fixed length stands in for a report.
        request.max_tokens = args.tokens;
        request.validate_output = false;
        vlm::JsonMemberStream stream;
        AlertRun run;
        const auto t0 = std::chrono::steady_clock::now();
        request.on_text = [&](std::string_view piece) {
            if (run.verdict_ms > 0) return;
            stream.feed(piece);
            if (stream.members().contains("verdict") && stream.members().contains("severity"))
                run.verdict_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        };
        run.timings = engine->generate(request).timings;
        run.report_ms = run.timings.total_ms;
        // Today's alert waited for the whole report.
        if (args.baseline || run.verdict_ms == 0) run.verdict_ms = run.report_ms;
        return run;
    };

    const AlertRun cold = run_once(0);  // also the warm-up: evaluates and keeps the prefix
    std::vector<AlertRun> runs;
    for (int i = 1; i <= args.runs; ++i) runs.push_back(run_once(i));
    auto med = [&](auto field) {
        std::vector<double> v;
        for (const AlertRun& r : runs) v.push_back(field(r));
        return median(std::move(v));
    };
    const int passes = std::max(1, cold.timings.image_tokens / 64);
    const double encode_pass_ms = med([&](const AlertRun& r) { return r.timings.image_encode_ms / passes; });
    const double prefill_reused_ms = med([](const AlertRun& r) { return r.timings.prefill_ms; });
    const double verdict_ms = med([](const AlertRun& r) { return r.verdict_ms; });
    const double report_ms = med([](const AlertRun& r) { return r.report_ms; });
    const double decode_tps = med([](const AlertRun& r) { return r.timings.decode_tokens_per_s(); });
    const double steps_ps = med([](const AlertRun& r) { return r.timings.decode_steps_per_s(); });
    const double bandwidth = read_bandwidth_gb_s(args.threads);
    const double bound_tps = bandwidth * 1e9 / text_weight_bytes(args.model_path);
    const vlm::CpuBackendInfo cpu = vlm::cpu_backend_info();

    nlohmann::json out = {{"path", args.baseline ? "before" : "after"},
                          {"cpu_backend", cpu.library},
                          {"threads", args.threads},
                          {"tokens", args.tokens},
                          {"encoder_passes_per_request", passes},
                          {"image_tokens", cold.timings.image_tokens},
                          {"prompt_tokens", cold.timings.prompt_tokens},
                          {"cached_prompt_tokens", runs.empty() ? 0 : runs.back().timings.cached_prompt_tokens},
                          {"encode_ms_per_pass", encode_pass_ms},
                          {"prompt_eval_cold_ms", cold.timings.prefill_ms},
                          {"prompt_eval_reused_ms", prefill_reused_ms},
                          {"verdict_ms", verdict_ms},
                          {"report_ms", report_ms},
                          {"decode_tokens_per_s", decode_tps},
                          {"decode_steps_per_s", steps_ps},
                          {"read_bandwidth_gb_s", bandwidth},
                          {"decode_bound_tokens_per_s", bound_tps},
                          {"runs", nlohmann::json::array()}};
    for (const AlertRun& r : runs)
        out["runs"].push_back({{"verdict_ms", r.verdict_ms}, {"report_ms", r.report_ms}, {"timings", run_to_json({r.timings})}});
    if (args.json_output) {
        std::cout << out.dump(2) << "\n";
        return;
    }
    std::cout << fmt::format("vigil bench vlm-alert ({} path): {} | {} threads | CPU backend {} | {} runs after a cold one\n",
                             args.baseline ? "before" : "after", engine->name(), args.threads, cpu.library, runs.size());
    std::cout << fmt::format("  request: {} prompt tokens ({} image tokens, {} encoder passes), {} generated\n",
                             cold.timings.prompt_tokens, cold.timings.image_tokens, passes, args.tokens);
    std::cout << fmt::format("  encode {:.2f} s/pass | prompt eval {:.0f} ms cold, {:.0f} ms reused | verdict {:.2f} s | "
                             "report {:.2f} s | decode {:.1f} tok/s ({:.1f} model steps/s = {:.0f}% of the {:.1f} "
                             "bound at {:.1f} GB/s)\n",
                             encode_pass_ms / 1000, cold.timings.prefill_ms, prefill_reused_ms, verdict_ms / 1000,
                             report_ms / 1000, decode_tps, steps_ps, 100 * steps_ps / bound_tps, bound_tps, bandwidth);
}

}  // namespace

void add_bench_commands(CLI::App& app) {
    auto* bench = app.add_subcommand("bench", "Measure speed: bench vlm");
    bench->require_subcommand(1);

    auto args = std::make_shared<BenchVlmArgs>();
    auto* vlm = bench->add_subcommand("vlm", "Time image encode, prefill and decode of the embedded VLM");
    vlm->add_option("--model", args->model_path, "Text model GGUF")->required();
    vlm->add_option("--mmproj", args->mmproj_path, "Vision projector GGUF")->required();
    vlm->add_option("--image", args->image, "Image to describe (JPEG, PNG, BMP)")->required();
    vlm->add_option("--prompt", args->prompt, "Instruction to the model");
    vlm->add_option("--tokens", args->tokens, "Tokens to generate per run (end-of-generation is ignored)")
        ->check(CLI::Range(1, 8192));
    vlm->add_option("--threads", args->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
    vlm->add_option("--runs", args->runs, "Timed runs after one warm-up")->check(CLI::Range(1, 100));
    vlm->add_option("--ctx", args->context_size, "Context size in tokens")->check(CLI::Range(256, 131072));
    vlm->add_option("--tiles", args->max_tiles, "Most 512-px tiles the image may cost")->check(CLI::Range(1, 64));
    vlm->add_flag("--json", args->json_output, "Print JSON instead of a table");
    vlm->callback([args] { bench_vlm(*args); });

    auto alert_args = std::make_shared<BenchAlertArgs>();
    auto* alert = bench->add_subcommand(
        "vlm-alert", "Time one alert's VLM request as `vigil run` makes it: verdict, report, prompt reuse");
    alert->add_option("--model", alert_args->model_path, "Text model GGUF")->required();
    alert->add_option("--mmproj", alert_args->mmproj_path, "Vision projector GGUF")->required();
    alert->add_option("--frame", alert_args->frames,
                      "Evidence frames, oldest first: image files or clip.mp4@12.5s (repeat; 3 = before, trigger, after)")
        ->required();
    alert->add_option("--tokens", alert_args->tokens, "Tokens to generate (a fixed report length)")
        ->check(CLI::Range(1, 4096));
    alert->add_option("--threads", alert_args->threads, "CPU threads")->check(CLI::Range(1, 256));
    alert->add_option("--runs", alert_args->runs, "Timed runs after one cold run")->check(CLI::Range(1, 100));
    alert->add_option("--tiles", alert_args->tiles, "Evidence image budget (vlm.max_tiles)")->check(CLI::Range(1, 16));
    alert->add_flag("--baseline", alert_args->baseline,
                    "The request path before real-time work: images first, no prompt reuse, every token sampled, the "
                    "alert waits for the whole report (run it on the old llama.cpp build for the old kernels)");
    alert->add_flag("--json", alert_args->json_output, "Print JSON instead of a summary");
    alert->callback([alert_args] { bench_vlm_alert(*alert_args); });
}

}  // namespace vigil::cli
