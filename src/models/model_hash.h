#pragma once
// SHA-256 of model files, and a small on-disk memo of hashes already computed
// so `vigil models list` can say "verified" for multi-GB files without
// re-reading them. The memo is keyed by absolute path, size and mtime: any
// rewrite of the file invalidates its entry.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace vigil::models {

// Lowercase hex SHA-256 of a file's bytes (OpenSSL EVP); throws vigil::Error
// naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);
std::string sha256_bytes(const std::string& bytes);

class HashMemo {
public:
    // A memo stored in `file` (JSON). A missing or unreadable file is an empty
    // memo; saving failures are ignored, the memo only saves time.
    explicit HashMemo(std::filesystem::path file);

    // <cache_dir>/model-hashes.json
    static std::filesystem::path default_file();

    // The remembered hash when the file still has the size and mtime it had
    // when hashed; nullopt otherwise.
    std::optional<std::string> lookup(const std::filesystem::path& path) const;
    void remember(const std::filesystem::path& path, const std::string& sha256);

    // lookup(), else hash now and remember.
    std::string hash(const std::filesystem::path& path);

private:
    std::filesystem::path file_;
};

}  // namespace vigil::models
