#pragma once
// Fetching one model file: over HTTP(S) with libcurl, or by copy from a local
// folder for air-gapped sites. Either way the bytes land in <dest>.part, are
// checked against the catalog's size and sha256, and only then renamed to
// <dest>, so <dest> never holds a partial or wrong file.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace vigil::models {

struct ExpectedFile {
    std::optional<uint64_t> size;
    std::optional<std::string> sha256;
};

struct DownloadOptions {
    // Progress goes here: a redrawn bar when it is a terminal, otherwise one
    // line per ~10%. nullptr: silent.
    std::ostream* progress = nullptr;
    std::string label;  // what the progress line calls the file; default: its name
    std::chrono::seconds connect_timeout{30};
    // Abort an attempt that stays below 1 KiB/s for this long (a stalled
    // server), rather than a total timeout that would cut off slow links.
    std::chrono::seconds stall_timeout{60};
    // Transport failures and 5xx/408/429 are retried, resuming from what the
    // .part already holds; other HTTP errors fail at once.
    int max_attempts = 5;
    std::chrono::milliseconds retry_delay{1000};  // doubles each retry
};

struct FetchResult {
    uint64_t size = 0;
    std::string sha256;    // of the installed file
    int attempts = 0;      // HTTP requests made (1 = no retry)
    bool resumed = false;  // some request continued a .part with a Range request
};

// Downloads `url` to `dest`. A <dest>.part left by an earlier run is resumed
// with "Range: bytes=N-"; a server answering 200 instead of 206 restarts from
// zero. Throws vigil::Error naming the URL and status on HTTP errors, and the
// file with expected and actual hash on a checksum mismatch (the .part is
// deleted then).
FetchResult download_file(const std::string& url, const std::filesystem::path& dest, const ExpectedFile& expected,
                          const DownloadOptions& options = {});

// Copies `source` to `dest` the same way (via <dest>.part, verified, renamed).
FetchResult copy_verified(const std::filesystem::path& source, const std::filesystem::path& dest,
                          const ExpectedFile& expected);

// Checks <part> against `expected` and renames it to <dest>. On mismatch the
// part is deleted and vigil::Error names `what`, expected and actual values.
FetchResult finish_part_file(const std::filesystem::path& part, const std::filesystem::path& dest,
                             const ExpectedFile& expected, const std::string& what);

// <dest>.part
std::filesystem::path part_path(const std::filesystem::path& dest);

}  // namespace vigil::models
