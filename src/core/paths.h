#pragma once
// Where Vigil keeps and looks for things, each overridable by an environment
// variable so tests and air-gapped sites can point elsewhere.
#include <filesystem>
#include <string>

namespace vigil {

// $VIGIL_CACHE_DIR, else $XDG_CACHE_HOME/vigil, else ~/.cache/vigil.
std::filesystem::path cache_dir();

// $VIGIL_MODELS_DIR, else <cache_dir>/models. Detectors live in
// <models_dir>/detectors/<name>/, VLMs in <models_dir>/vlm/<name>/.
std::filesystem::path models_dir();

// Vigil's data files (schemas/, prompts/, configs/, models/catalog.json):
// $VIGIL_DATA_DIR, else the source tree this binary was built from.
std::filesystem::path data_dir();

// Value of an environment variable, or `fallback` when unset or empty.
std::string env_or(const char* name, const std::string& fallback);

}  // namespace vigil
