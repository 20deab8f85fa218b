#include "cli/cli_app.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "core/error.h"
#include "vigil/version.h"
#include "vlm/vlm_llama_runtime.h"

namespace vigil::cli {

int run_cli(int argc, char** argv) {
    // Logs go to stderr: stdout carries results (--json, --summary-json, the
    // stdout alert sink) that other programs read.
    if (!spdlog::get("vigil")) spdlog::set_default_logger(spdlog::stderr_color_mt("vigil"));
    CLI::App app{"Vigil: on-premises Vision AI engine (detect, track, trigger, contextualize, alert)"};
    app.set_version_flag("--version", [] {
        // Which of llama.cpp's CPU backends this machine runs, and on what.
        std::string cpu;
        try {
            vlm::init_llama();
            const vlm::CpuBackendInfo info = vlm::cpu_backend_info();
            cpu = "\nllama.cpp CPU backend: " + info.library + " (";
            for (size_t i = 0; i < info.features.size(); ++i) cpu += (i ? " " : "") + info.features[i];
            cpu += ")";
        } catch (const vigil::Error& e) {
            cpu = std::string("\nllama.cpp CPU backend: none (") + e.what() + ")";
        }
        return std::string("vigil ") + VIGIL_VERSION + cpu;
    });
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Debug logging");
    app.parse_complete_callback([&] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info); });

    add_vlm_commands(app);
    add_models_commands(app);
    add_bench_commands(app);
    add_vision_commands(app);
    add_eval_commands(app);
    add_run_commands(app);
    add_alerts_commands(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const vigil::Error& e) {
        std::cerr << "vigil: error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "vigil: unexpected error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace vigil::cli
