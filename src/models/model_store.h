#pragma once
// The models directory as a store of catalog models: what is installed,
// whether it still hashes right, and installing (pull) from the network or
// from a local folder. Loaders want resolve_vlm / resolve_detector, which live
// in model_catalog.h.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/model_catalog.h"
#include "models/model_download.h"

namespace vigil::models {

class HashMemo;

// ---- Inspecting what is installed ------------------------------------------

enum class FileState {
    missing,     // no file
    wrong_size,  // present, size differs from the pinned one
    unchecked,   // present, hash not computed (cheap check only)
    unpinned,    // present and hashed, but the catalog has no sha256 to compare
    verified,    // sha256 matches the catalog
    corrupt,     // sha256 differs from the catalog
};
const char* to_string(FileState state);

struct FileStatus {
    const ModelFile* file = nullptr;
    std::filesystem::path path;  // absolute location in the models directory
    FileState state = FileState::missing;
    std::optional<uint64_t> actual_size;
    std::string actual_sha256;  // set when hashed
};

enum class CheckDepth {
    presence,  // existence and pinned size only: instant
    memo,      // plus hashes already in the memo, and files under 64 MiB hashed now
    full,      // hash every present file (what `vigil models verify` does)
};

// One status per file of `entry`. `memo` may be null (no memo read or written).
std::vector<FileStatus> check_model(const ModelEntry& entry, const std::filesystem::path& models_dir, CheckDepth depth,
                                    HashMemo* memo = nullptr);

// True when every file is present with its pinned size.
bool is_installed(const std::vector<FileStatus>& files);
// True when every file is verified, or unpinned (nothing to compare with).
bool is_verified(const std::vector<FileStatus>& files);

// ---- Installing -----------------------------------------------------------

struct PullOptions {
    // Local folder to install from instead of the network (air-gapped sites):
    // a file is looked up as <from>/<catalog path>, then <from>/ with leading
    // folders of the catalog path dropped one by one, down to <from>/<name>.
    std::optional<std::filesystem::path> from_dir;
    DownloadOptions download;
    HashMemo* memo = nullptr;
    // One line per file: "yolox_nano.onnx: downloaded (sha256 ...)".
    std::function<void(const std::string&)> report;
};

struct PulledFile {
    std::filesystem::path path;
    std::string sha256;
    bool already_present = false;  // verified in place, nothing fetched
};

// Installs every file of `entry` into `models_dir`; files already present and
// matching are kept. Throws vigil::Error on the first file that cannot be
// fetched or does not verify (nothing half-written is left at its path).
std::vector<PulledFile> pull_model(const ModelEntry& entry, const std::filesystem::path& models_dir,
                                   const PullOptions& options);

// Where pull_model would take `file` from in `from_dir`, or nullopt.
std::optional<std::filesystem::path> find_in_folder(const ModelFile& file, const std::filesystem::path& from_dir);

}  // namespace vigil::models
