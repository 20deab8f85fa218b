#pragma once
// The `vigil` command line: a thin layer over the stage libraries. Each
// cli_*_commands.cpp registers one group of subcommands on the app.
namespace CLI {
class App;
}

namespace vigil::cli {

int run_cli(int argc, char** argv);

// Registration hooks, one per command group (each in its own file).
void add_vlm_commands(CLI::App& app);      // describe, ask          (cli_vlm_commands.cpp)
void add_models_commands(CLI::App& app);   // models list|pull|verify|synth (cli_models_commands.cpp)
void add_bench_commands(CLI::App& app);    // bench vlm|detect|track  (cli_bench_commands.cpp)
void add_vision_commands(CLI::App& app);   // detect, track           (cli_vision_commands.cpp)
void add_eval_commands(CLI::App& app);     // eval detect|track       (cli_eval_commands.cpp)
void add_run_commands(CLI::App& app);      // run CONFIG.yaml          (cli_run_commands.cpp)
void add_alerts_commands(CLI::App& app);   // alerts list|show|search, feedback, export dataset (cli_alerts_commands.cpp)

}  // namespace vigil::cli
