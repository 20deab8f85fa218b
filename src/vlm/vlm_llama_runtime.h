#pragma once
// Process-wide llama.cpp set-up for the embedded backend: its log routed to
// spdlog, and ggml's CPU backend loaded once from the folder that holds
// Vigil's llama.cpp libraries (one libggml-cpu-<variant>.so per x86-64
// feature level; ggml picks the best this CPU can run).
#include <filesystem>
#include <string>
#include <vector>

namespace vigil::vlm {

// Idempotent and thread-safe. `verbose` lets llama.cpp log to stderr.
// Throws vigil::Error when no CPU backend can be loaded, naming the folder
// searched.
void init_llama(bool verbose = false);

// Error lines llama.cpp, ggml and libmtmd logged on this thread since the last
// call, as one line (for an Error message that says why a call failed).
std::string take_llama_errors();

// What ggml runs on: the CPU backend library it loaded (e.g.
// "libggml-cpu-zen4.so", or "built in" for a build without loadable
// variants) and the CPU features that backend uses ("AVX512", "AMX_INT8", ...).
struct CpuBackendInfo {
    std::string library;
    std::vector<std::string> features;
};
CpuBackendInfo cpu_backend_info();

// The folder of the libggml this process runs (where its CPU variants are).
std::filesystem::path llama_library_dir();

}  // namespace vigil::vlm
