#pragma once
// How a command picks its VLM: a catalog name, an explicit GGUF pair, or an
// OpenAI-compatible server. Shared by describe, ask, and later run.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "vlm/vlm_engine.h"

namespace vigil::cli {

struct VlmSelection {
    std::string vlm_name;        // --vlm NAME (catalog)
    std::string model_path;      // --model F
    std::string mmproj_path;     // --mmproj F
    std::string lora_path;       // --lora F
    std::string server_url;      // --server URL
    std::string server_model;    // --server-model NAME
    int threads = 0;
    int context_size = 4096;
    int parallel = 1;            // embedded: requests decoded together
    int prefix_cache_mb = 256;   // embedded: reused prompt prefixes
    bool verbose_llama = false;
};

void add_vlm_selection_options(CLI::App& command, VlmSelection& selection);

// Builds the engine the options name; throws vigil::Error saying what to pass
// when the selection is empty, contradictory or names a missing model.
std::unique_ptr<vlm::VlmEngine> open_vlm_engine(const VlmSelection& selection);

}  // namespace vigil::cli
