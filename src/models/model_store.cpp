#include "models/model_store.h"

#include <system_error>

#include "core/error.h"
#include "models/model_hash.h"

namespace vigil::models {

namespace {

// Small files are hashed on every look; above this only the memo is trusted,
// so `vigil models list` stays instant with multi-GB VLMs installed.
constexpr uint64_t kHashOnSightLimit = 64ull << 20;

std::optional<uint64_t> regular_file_size(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    return size;
}

}  // namespace

const char* to_string(FileState state) {
    switch (state) {
        case FileState::missing:
            return "missing";
        case FileState::wrong_size:
            return "wrong size";
        case FileState::unchecked:
            return "unchecked";
        case FileState::unpinned:
            return "no pinned hash";
        case FileState::verified:
            return "verified";
        case FileState::corrupt:
            return "checksum mismatch";
    }
    return "?";
}

std::vector<FileStatus> check_model(const ModelEntry& entry, const std::filesystem::path& models_dir, CheckDepth depth,
                                    HashMemo* memo) {
    std::vector<FileStatus> out;
    for (const auto& file : entry.files) {
        FileStatus status;
        status.file = &file;
        status.path = models_dir / file.path;
        status.actual_size = regular_file_size(status.path);
        if (!status.actual_size) {
            status.state = FileState::missing;
        } else if (file.size && *status.actual_size != *file.size) {
            status.state = FileState::wrong_size;
        } else {
            std::optional<std::string> sha;
            if (depth == CheckDepth::full) {
                sha = sha256_file(status.path);
                if (memo) memo->remember(status.path, *sha);
            } else if (depth == CheckDepth::memo) {
                if (memo) sha = memo->lookup(status.path);
                if (!sha && *status.actual_size <= kHashOnSightLimit) {
                    sha = sha256_file(status.path);
                    if (memo) memo->remember(status.path, *sha);
                }
            }
            if (!sha) {
                status.state = FileState::unchecked;
            } else {
                status.actual_sha256 = *sha;
                if (!file.sha256)
                    status.state = FileState::unpinned;
                else
                    status.state = (*sha == *file.sha256) ? FileState::verified : FileState::corrupt;
            }
        }
        out.push_back(std::move(status));
    }
    return out;
}

bool is_installed(const std::vector<FileStatus>& files) {
    for (const auto& file : files)
        if (file.state == FileState::missing || file.state == FileState::wrong_size) return false;
    return !files.empty();
}

bool is_verified(const std::vector<FileStatus>& files) {
    for (const auto& file : files)
        if (file.state != FileState::verified && file.state != FileState::unpinned) return false;
    return !files.empty();
}

std::optional<std::filesystem::path> find_in_folder(const ModelFile& file, const std::filesystem::path& from_dir) {
    // detectors/yolox-nano/yolox_nano.onnx is looked for as
    // DIR/detectors/yolox-nano/yolox_nano.onnx, DIR/yolox-nano/yolox_nano.onnx,
    // DIR/yolox_nano.onnx: a copy of a models dir, of its detectors/ folder,
    // or a flat folder of downloads all work.
    const std::filesystem::path relative(file.path);
    const std::vector<std::filesystem::path> parts(relative.begin(), relative.end());
    for (size_t skip = 0; skip < parts.size(); ++skip) {
        std::filesystem::path candidate = from_dir;
        for (size_t i = skip; i < parts.size(); ++i) candidate /= parts[i];
        if (regular_file_size(candidate)) return candidate;
    }
    return std::nullopt;
}

std::vector<PulledFile> pull_model(const ModelEntry& entry, const std::filesystem::path& models_dir,
                                   const PullOptions& options) {
    auto report = [&](const std::string& line) {
        if (options.report) options.report(line);
    };
    std::vector<PulledFile> pulled;
    for (const auto& file : entry.files) {
        PulledFile result;
        result.path = models_dir / file.path;
        const ExpectedFile expected{file.size, file.sha256};

        if (auto size = regular_file_size(result.path); size && (!file.size || *size == *file.size)) {
            const auto sha = options.memo ? options.memo->hash(result.path) : sha256_file(result.path);
            if (!file.sha256 || sha == *file.sha256) {
                result.sha256 = sha;
                result.already_present = true;
                report(file.file_name() + ": already installed" + (file.sha256 ? ", verified" : ""));
                pulled.push_back(std::move(result));
                continue;
            }
            report(file.file_name() + ": installed copy does not match the catalog hash; fetching it again");
        }

        FetchResult fetched;
        if (options.from_dir) {
            auto source = find_in_folder(file, *options.from_dir);
            if (!source) {
                throw Error("model " + entry.name + ": " + file.file_name() + " not found in " +
                            options.from_dir->string() + " (looked for " + file.path + " and " + file.file_name() +
                            " there and in the folders between)");
            }
            fetched = copy_verified(*source, result.path, expected);
            report(file.file_name() + ": copied from " + source->string());
        } else {
            auto download = options.download;
            if (download.label.empty()) download.label = file.file_name();
            fetched = download_file(file.url, result.path, expected, download);
            report(file.file_name() + ": downloaded" + (fetched.resumed ? " (resumed)" : ""));
        }
        result.sha256 = fetched.sha256;
        if (options.memo) options.memo->remember(result.path, fetched.sha256);
        if (!file.sha256) {
            report(file.file_name() + ": sha256 " + fetched.sha256 + ", size " + std::to_string(fetched.size) +
                   " (not pinned in the catalog: add them to pin this file)");
        }
        pulled.push_back(std::move(result));
    }
    return pulled;
}

}  // namespace vigil::models
