#include <CLI/CLI.hpp>

#include "cli/cli_app.h"

namespace vigil::cli {

void add_alerts_commands(CLI::App& /*app*/) {}

}  // namespace vigil::cli
