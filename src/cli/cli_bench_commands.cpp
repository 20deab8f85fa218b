// `vigil bench ...`: speed measurements that print a table people can paste
// into an issue (or JSON for scripts such as bench/vlm_vs_mtmd_cli.sh).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_app.h"
#include "core/error.h"
#include "vlm/vlm_engine.h"

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
}

}  // namespace vigil::cli
