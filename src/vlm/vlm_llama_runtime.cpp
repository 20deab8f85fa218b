// llama.cpp's process-wide set-up: logging and the CPU backend.
#include "vlm/vlm_llama_runtime.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <ggml-backend.h>
#include <ggml.h>
#include <link.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"

namespace vigil::vlm {
namespace {

std::atomic<bool> g_llama_verbose{false};
// Error lines llama.cpp/ggml/mtmd logged on this thread, so a failed call can
// say why instead of "returned null".
thread_local std::string t_llama_errors;
thread_local ggml_log_level t_last_level = GGML_LOG_LEVEL_INFO;

void llama_log_to_spdlog(ggml_log_level level, const char* text, void* /*user_data*/) {
    if (level == GGML_LOG_LEVEL_CONT) {
        level = t_last_level;
    } else {
        t_last_level = level;
    }
    if (level == GGML_LOG_LEVEL_ERROR && text != nullptr) {
        t_llama_errors += text;
        if (t_llama_errors.size() > 4000) {
            t_llama_errors.erase(0, t_llama_errors.size() - 4000);
        }
    }
    if (g_llama_verbose.load(std::memory_order_relaxed)) {
        std::fputs(text, stderr);
        return;
    }
    std::string line = text != nullptr ? text : "";
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.pop_back();
    }
    if (!line.empty()) {
        spdlog::debug("llama.cpp: {}", line);
    }
}

// The folder of the libggml this process runs: ggml looks for its CPU
// variants beside the executable or in the working directory, and Vigil's
// executables live elsewhere.
std::filesystem::path library_dir_of_ggml() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<const void*>(&ggml_backend_load_all_from_path), &info) == 0 ||
        info.dli_fname == nullptr) {
        return {};
    }
    std::error_code ec;
    const auto path = std::filesystem::canonical(info.dli_fname, ec);
    return ec ? std::filesystem::path(info.dli_fname).parent_path() : path.parent_path();
}

std::string loaded_cpu_library() {
    std::string found;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
            const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
            if (name.find("libggml-cpu") != std::string::npos) {
                *static_cast<std::string*>(data) = std::filesystem::path(name).filename().string();
                return 1;
            }
            return 0;
        },
        &found);
    return found;
}

}  // namespace

void init_llama(bool verbose) {
    if (verbose) g_llama_verbose = true;
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        llama_log_set(llama_log_to_spdlog, nullptr);
        mtmd_helper_log_set(llama_log_to_spdlog, nullptr);
        const auto dir = library_dir_of_ggml();
        // VIGIL_GGML_CPU_VARIANT=x64 (or haswell, zen4, ...) forces one CPU
        // backend instead of the best: for comparing kernels, or a CPU that
        // misreports a feature.
        if (const char* variant = std::getenv("VIGIL_GGML_CPU_VARIANT"); variant != nullptr && *variant != '\0') {
            const auto path = dir / fmt::format("libggml-cpu-{}.so", variant);
            if (ggml_backend_load(path.c_str()) == nullptr) {
                failure = fmt::format("VIGIL_GGML_CPU_VARIANT={}: cannot load {} (missing, or this CPU cannot run it)",
                                      variant, path.string());
                return;
            }
        }
        if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == nullptr && !dir.empty()) {
            ggml_backend_load_all_from_path(dir.c_str());
        }
        if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == nullptr) {
            ggml_backend_load_all();  // beside the executable, or the working directory
        }
        if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == nullptr) {
            failure = fmt::format(
                "llama.cpp has no CPU backend: no libggml-cpu-*.so that this CPU can run was found in {} (reinstall "
                "llama.cpp with scripts/install-deps.sh){}",
                dir.empty() ? std::string("the library folder") : dir.string(),
                t_llama_errors.empty() ? "" : ": " + take_llama_errors());
            return;
        }
        llama_backend_init();
        spdlog::debug("llama.cpp CPU backend: {}", cpu_backend_info().library);
    });
    if (!failure.empty()) throw Error(failure);
}

std::string take_llama_errors() {
    std::string text;
    text.swap(t_llama_errors);
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (text.size() > 600) {
        text = "..." + text.substr(text.size() - 600);
    }
    return text;
}

std::filesystem::path llama_library_dir() { return library_dir_of_ggml(); }

CpuBackendInfo cpu_backend_info() {
    CpuBackendInfo info;
    info.library = loaded_cpu_library();
    if (info.library.empty()) info.library = "built in";
    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu == nullptr) return info;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
    auto get_features = reinterpret_cast<ggml_backend_get_features_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features"));
    if (get_features == nullptr) return info;
    for (const ggml_backend_feature* f = get_features(reg); f != nullptr && f->name != nullptr; ++f) {
        const std::string value = f->value != nullptr ? f->value : "";
        if (value == "1") info.features.emplace_back(f->name);
    }
    return info;
}

}  // namespace vigil::vlm
