#include "core/paths.h"

#include <cstdlib>

namespace vigil {

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return (value && *value) ? std::string(value) : fallback;
}

std::filesystem::path cache_dir() {
    if (auto dir = env_or("VIGIL_CACHE_DIR", ""); !dir.empty()) return dir;
    if (auto xdg = env_or("XDG_CACHE_HOME", ""); !xdg.empty()) return std::filesystem::path(xdg) / "vigil";
    return std::filesystem::path(env_or("HOME", "/tmp")) / ".cache" / "vigil";
}

std::filesystem::path data_dir() {
    if (auto dir = env_or("VIGIL_DATA_DIR", ""); !dir.empty()) return dir;
    return VIGIL_DEFAULT_DATA_DIR;
}

std::filesystem::path models_dir() {
    if (auto dir = env_or("VIGIL_MODELS_DIR", ""); !dir.empty()) return dir;
    return cache_dir() / "models";
}

}  // namespace vigil
