// `vigil run CONFIG.yaml`: the whole alert pipeline over every configured camera.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>

#include "cli/cli_app.h"
#include "cli/cli_vlm_options.h"
#include "core/error.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"

namespace vigil::cli {
namespace {

std::atomic<bool> g_stop_requested{false};

// First signal: stop cleanly (drain with rule-based context, flush the
// outbox). A second one falls through to the default action.
extern "C" void on_stop_signal(int signal_number) {
    g_stop_requested = true;
    std::signal(signal_number, SIG_DFL);
}

struct RunArgs {
    std::string config_path;
    std::vector<std::string> sources;
    std::string vlm_name, vlm_model, vlm_mmproj, vlm_lora, vlm_server, vlm_server_model;
    int vlm_threads = -1;
    std::string alerts_jsonl;
    std::string db;
    std::string evidence_dir;
    bool until_eof = false;
    double max_seconds = 0;
    bool no_progress = false;
    bool no_vlm = false;
    bool summary_json = false;
};

// The command line's VLM choice wins over the config's; with neither, the
// default catalog VLM is used when installed, and rules otherwise.
std::shared_ptr<vlm::VlmEngine> open_engine(const RunArgs& args, const pipeline::VlmConfig& config) {
    VlmSelection selection;
    const bool from_cli = !args.vlm_name.empty() || !args.vlm_model.empty() || !args.vlm_mmproj.empty() ||
                          !args.vlm_server.empty();
    if (from_cli) {
        selection.vlm_name = args.vlm_name;
        selection.model_path = args.vlm_model;
        selection.mmproj_path = args.vlm_mmproj;
        selection.server_url = args.vlm_server;
        selection.server_model = args.vlm_server_model;
    } else if (config.configured()) {
        selection.vlm_name = config.name;
        selection.model_path = config.model;
        selection.mmproj_path = config.mmproj;
        selection.server_url = config.server;
        selection.server_model = config.server_model;
        selection.lora_path = config.lora;
    }
    if (!args.vlm_lora.empty()) selection.lora_path = args.vlm_lora;
    selection.threads = args.vlm_threads >= 0 ? args.vlm_threads : config.threads;
    selection.parallel = std::min(config.parallel, config.workers);
    selection.prefix_cache_mb = config.prefix_cache_mb;
    if (from_cli || config.configured()) return open_vlm_engine(selection);
    try {
        return open_vlm_engine(selection);
    } catch (const Error& e) {
        std::cerr << "vigil: no VLM weights installed (" << e.what() << "); alerts use rule-based context\n";
        return nullptr;
    }
}

void print_summary(const pipeline::RunSummary& summary) {
    std::cerr << fmt::format("run finished after {:.1f} s: {} events, {} alerts sent, {} dismissed ({} of them after "
                             "being sent), {} merged updates, {} reports completed, {} suppressed\n",
                             summary.wall_s, summary.events, summary.alerts_sent, summary.alerts_dismissed,
                             summary.alerts_retracted, summary.alerts_updated, summary.reports_completed,
                             summary.alerts_suppressed);
    std::cerr << fmt::format("context: VLM {} ({} requests, {} answered, {} shed, {} timeouts, {} errors), {} from rules\n",
                             summary.vlm.empty() ? "none" : summary.vlm, summary.vlm_requests, summary.vlm_answers,
                             summary.vlm_shed, summary.vlm_timeouts, summary.vlm_errors, summary.rules_reports);
    if (summary.scene_checks_without_vlm > 0)
        std::cerr << fmt::format("scene checks without a VLM answer (recorded, not alerted): {}\n",
                                 summary.scene_checks_without_vlm);
    std::cerr << fmt::format("delivery: {} delivered, {} failed attempts, {} pending; evidence images missing: {}\n",
                             summary.deliveries_done, summary.delivery_failures, summary.deliveries_pending,
                             summary.evidence_missing);
    for (const auto& camera : summary.cameras) {
        std::cerr << fmt::format("  {}: {}, {} frames ({:.1f} fps), {} dropped, {} events, {} alerts{}\n", camera.name,
                                 camera.state, camera.frames_analysed, camera.detection_fps, camera.frames_dropped,
                                 camera.events, camera.alerts,
                                 camera.last_error.empty() ? "" : " (" + camera.last_error + ")");
    }
}

}  // namespace

void add_run_commands(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    auto* run = app.add_subcommand("run", "Run the alert pipeline over every camera of a YAML config");
    run->add_option("config", args->config_path, "Pipeline config (YAML), e.g. configs/demo.yaml")
        ->required()
        ->check(CLI::ExistingFile);
    run->add_option("--source", args->sources,
                    "Replace a camera's source: URL (one-camera configs) or CAMERA=URL; repeatable");
    run->add_option("--vlm", args->vlm_name, "Installed catalog VLM (see `vigil models list`)");
    run->add_option("--vlm-model", args->vlm_model, "Text model GGUF (with --vlm-mmproj)");
    run->add_option("--vlm-mmproj", args->vlm_mmproj, "Vision projector GGUF (with --vlm-model)");
    run->add_option("--vlm-lora", args->vlm_lora, "LoRA adapter GGUF for the embedded VLM; overrides vlm.lora");
    run->add_option("--vlm-server", args->vlm_server, "OpenAI-compatible server base URL");
    run->add_option("--vlm-server-model", args->vlm_server_model, "Model name to ask the server for");
    run->add_option("--vlm-threads", args->vlm_threads, "CPU threads for the embedded VLM (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
    run->add_option("--alerts-jsonl", args->alerts_jsonl, "Also append every sent alert to this JSON-lines file");
    run->add_option("--db", args->db, "Alert store (SQLite file); overrides store.db");
    run->add_option("--evidence-dir", args->evidence_dir, "Evidence folder; overrides store.evidence_dir");
    run->add_flag("--until-eof", args->until_eof,
                  "End when every file source is finished, after the VLM queue and the outbox drain");
    run->add_option("--max-seconds", args->max_seconds, "Stop after this many seconds of wall time")
        ->check(CLI::NonNegativeNumber);
    run->add_flag("--no-progress", args->no_progress, "No live progress line on stderr");
    run->add_flag("--no-vlm", args->no_vlm, "Rule-based context only, even when a VLM is configured or installed");
    run->add_flag("--summary-json", args->summary_json, "Print the run's counters as JSON on stdout at the end");

    run->callback([args] {
        pipeline::PipelineConfig config = pipeline::load_pipeline_config(args->config_path, args->sources);
        if (!args->db.empty()) config.store.db = args->db;
        if (!args->evidence_dir.empty()) config.store.evidence_dir = args->evidence_dir;
        if (!args->alerts_jsonl.empty()) {
            config.sinks.push_back({{"type", "jsonl"}, {"name", "cli-jsonl"}, {"path", args->alerts_jsonl}});
        }
        std::shared_ptr<vlm::VlmEngine> engine = args->no_vlm ? nullptr : open_engine(*args, config.vlm);

        pipeline::RunOptions options;
        options.until_eof = args->until_eof;
        options.max_seconds = args->max_seconds;
        options.progress = !args->no_progress;
        options.stop = &g_stop_requested;
        g_stop_requested = false;
        std::signal(SIGINT, on_stop_signal);
        std::signal(SIGTERM, on_stop_signal);
        pipeline::RunSummary summary;
        try {
            summary = pipeline::run_pipeline(config, engine, options);
        } catch (...) {
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
            throw;
        }
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        print_summary(summary);
        if (args->summary_json) std::cout << pipeline::to_json(summary).dump(2) << "\n";
    });
}

}  // namespace vigil::cli
