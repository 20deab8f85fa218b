#include <CLI/CLI.hpp>

#include "cli/cli_app.h"

namespace vigil::cli {

void add_run_commands(CLI::App& /*app*/) {}

}  // namespace vigil::cli
