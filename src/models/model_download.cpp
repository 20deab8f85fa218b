#include "models/model_download.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "models/model_hash.h"
#include "vigil/version.h"

namespace vigil::models {

namespace {

void ensure_curl_initialised() {
    struct CurlGlobal {
        CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
        ~CurlGlobal() { curl_global_cleanup(); }
    };
    static CurlGlobal global;
}

std::string human_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
    return text;
}

bool is_terminal(const std::ostream* out) {
    if (out == &std::cerr || out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
    if (out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
    return false;
}

// A bar redrawn in place on a terminal; in logs, one line per tenth so a CI
// log shows progress without thousands of lines.
class ProgressPrinter {
public:
    ProgressPrinter(std::ostream* out, std::string label)
        : out_(out), label_(std::move(label)), terminal_(is_terminal(out)), start_(Clock::now()) {}

    void update(uint64_t have, std::optional<uint64_t> total) {
        if (!out_) return;
        const auto now = Clock::now();
        if (!first_have_) first_have_ = have;  // resumed bytes do not count toward the rate
        if (terminal_) {
            if (now - last_draw_ < std::chrono::milliseconds(100)) return;
            last_draw_ = now;
            draw_bar(have, total, now);
            return;
        }
        if (total && *total > 0) {
            const int tenth = static_cast<int>(10 * have / *total);
            if (tenth <= last_tenth_) return;
            last_tenth_ = tenth;
            *out_ << label_ << ": " << tenth * 10 << "% (" << human_bytes(static_cast<double>(have)) << " of "
                  << human_bytes(static_cast<double>(*total)) << ")\n";
        } else {
            constexpr uint64_t step = 50ull << 20;
            if (have / step <= last_step_) return;
            last_step_ = have / step;
            *out_ << label_ << ": " << human_bytes(static_cast<double>(have)) << "\n";
        }
        out_->flush();
    }

    void finish(uint64_t have, std::optional<uint64_t> total) {
        if (!out_) return;
        if (terminal_) {
            draw_bar(have, total ? total : std::optional<uint64_t>(have), Clock::now());
            *out_ << "\n";
        } else if (last_tenth_ < 10) {
            *out_ << label_ << ": 100% (" << human_bytes(static_cast<double>(have)) << ")\n";
        }
        out_->flush();
    }

private:
    using Clock = std::chrono::steady_clock;

    void draw_bar(uint64_t have, std::optional<uint64_t> total, Clock::time_point now) {
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const uint64_t fresh = have - std::min(have, first_have_.value_or(0));
        const double rate = seconds > 0 ? static_cast<double>(fresh) / seconds : 0.0;
        std::ostringstream line;
        line << "\r" << label_ << " ";
        if (total && *total > 0) {
            constexpr int width = 30;
            const double fraction = std::min(1.0, static_cast<double>(have) / static_cast<double>(*total));
            const int filled = static_cast<int>(fraction * width);
            line << "[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] "
                 << static_cast<int>(fraction * 100) << "% " << human_bytes(static_cast<double>(have)) << " / "
                 << human_bytes(static_cast<double>(*total));
        } else {
            line << human_bytes(static_cast<double>(have));
        }
        line << "  " << human_bytes(rate) << "/s   ";
        *out_ << line.str();
        out_->flush();
    }

    std::ostream* out_;
    std::string label_;
    bool terminal_;
    Clock::time_point start_;
    Clock::time_point last_draw_{};
    std::optional<uint64_t> first_have_;
    int last_tenth_ = -1;
    uint64_t last_step_ = 0;
};

// State one HTTP request shares with libcurl's callbacks.
struct Transfer {
    CURL* curl = nullptr;
    std::filesystem::path part;
    FILE* file = nullptr;
    uint64_t offset = 0;  // bytes the .part held when this request started
    uint64_t received = 0;
    bool body_started = false;
    std::optional<uint64_t> range_start;  // from Content-Range of the last response
    std::optional<uint64_t> range_total;
    std::optional<uint64_t> expected_total;
    std::string abort_reason;  // set when a callback stops the transfer
    bool local_failure = false;
    bool restarted = false;
    ProgressPrinter* progress = nullptr;
};

std::optional<uint64_t> parse_u64(const std::string& text) {
    if (text.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    std::string line(data, size * count);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (e.g. after a redirect)
        transfer.range_start.reset();
        transfer.range_total.reset();
        return size * count;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) return size * count;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name != "content-range") return size * count;
    // "bytes START-END/TOTAL"
    std::string value = line.substr(colon + 1);
    const auto bytes = value.find("bytes");
    const auto dash = value.find('-');
    const auto slash = value.find('/');
    if (bytes == std::string::npos || dash == std::string::npos) return size * count;
    auto trim = [](std::string s) {
        const auto first = s.find_first_not_of(' ');
        const auto last = s.find_last_not_of(' ');
        return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    };
    transfer.range_start = parse_u64(trim(value.substr(bytes + 5, dash - bytes - 5)));
    if (slash != std::string::npos) transfer.range_total = parse_u64(trim(value.substr(slash + 1)));
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto& transfer = *static_cast<Transfer*>(user);
    const size_t bytes = size * count;
    if (!transfer.body_started) {
        transfer.body_started = true;
        long status = 0;
        curl_easy_getinfo(transfer.curl, CURLINFO_RESPONSE_CODE, &status);
        if (transfer.offset > 0 && status == 200) {
            // The server ignored our Range: its body starts at byte 0. The
            // file is in append mode, so writes follow the truncation.
            if (std::fflush(transfer.file) != 0 || ::ftruncate(::fileno(transfer.file), 0) != 0) {
                transfer.local_failure = true;
                transfer.abort_reason = "cannot truncate " + transfer.part.string() + ": " + std::strerror(errno);
                return 0;
            }
            transfer.offset = 0;
            transfer.restarted = true;
        } else if (status == 206 && transfer.range_start.value_or(transfer.offset) != transfer.offset) {
            transfer.abort_reason = "server resumed at byte " + std::to_string(*transfer.range_start) +
                                    " but the partial file holds " + std::to_string(transfer.offset);
            return 0;
        }
    }
    if (std::fwrite(data, 1, bytes, transfer.file) != bytes) {
        transfer.local_failure = true;
        transfer.abort_reason = "cannot write " + transfer.part.string() + ": " + std::strerror(errno);
        return 0;
    }
    transfer.received += bytes;
    return bytes;
}

int on_progress(void* user, curl_off_t download_total, curl_off_t downloaded, curl_off_t, curl_off_t) {
    auto& transfer = *static_cast<Transfer*>(user);
    if (!transfer.progress || !transfer.body_started) return 0;
    std::optional<uint64_t> total = transfer.expected_total;
    if (!total && download_total > 0) total = transfer.offset + static_cast<uint64_t>(download_total);
    transfer.progress->update(transfer.offset + static_cast<uint64_t>(downloaded), total);
    return 0;
}

bool is_retryable_status(long status) { return status >= 500 || status == 408 || status == 429; }

uint64_t file_size_or_zero(const std::filesystem::path& path) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    return ec ? 0 : size;
}

struct AttemptOutcome {
    enum class Kind { complete, retry, range_rejected } kind = Kind::complete;
    std::string problem;  // for retry: what went wrong
};

AttemptOutcome attempt_download(const std::string& url, Transfer& transfer, const DownloadOptions& options) {
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) throw Error("libcurl: cannot create a transfer handle");
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(transfer.part.c_str(), transfer.offset > 0 ? "ab" : "wb"),
                                               &std::fclose);
    if (!file) throw Error("cannot open " + transfer.part.string() + " for writing: " + std::strerror(errno));
    transfer.curl = curl.get();
    transfer.file = file.get();
    transfer.body_started = false;
    transfer.received = 0;
    transfer.abort_reason.clear();
    transfer.local_failure = false;

    char error_text[CURL_ERROR_SIZE] = {};
    const std::string range = std::to_string(transfer.offset) + "-";
    const std::string user_agent = std::string("vigil/") + VIGIL_VERSION;
    CURL* handle = curl.get();
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
    if (transfer.offset > 0) curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());

    const CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    transfer.file = nullptr;
    if (std::fclose(file.release()) != 0 && code == CURLE_OK)
        throw Error("cannot write " + transfer.part.string() + ": " + std::strerror(errno));

    if (code == CURLE_OK) {
        if (status != 200 && status != 206)
            throw Error("download of " + url + " failed: unexpected HTTP status " + std::to_string(status));
        // A full (200) answer with an empty body never reached on_body's reset.
        if (status == 200 && !transfer.body_started && transfer.offset > 0) {
            std::filesystem::resize_file(transfer.part, 0);
            transfer.restarted = true;
        }
        return {};
    }
    if (transfer.local_failure) throw Error("download of " + url + " failed: " + transfer.abort_reason);
    if (code == CURLE_HTTP_RETURNED_ERROR) {
        if (status == 416 && transfer.offset > 0) return {AttemptOutcome::Kind::range_rejected, "HTTP 416"};
        if (is_retryable_status(status)) return {AttemptOutcome::Kind::retry, "HTTP " + std::to_string(status)};
        throw Error("download of " + url + " failed: HTTP " + std::to_string(status) +
                    (status == 404 ? " (not found: the catalog URL may be out of date)" : ""));
    }
    if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT)
        throw Error("download of " + url + " failed: " + (error_text[0] ? error_text : curl_easy_strerror(code)));
    if (!transfer.abort_reason.empty()) return {AttemptOutcome::Kind::range_rejected, transfer.abort_reason};
    return {AttemptOutcome::Kind::retry, error_text[0] ? error_text : curl_easy_strerror(code)};
}

}  // namespace

std::filesystem::path part_path(const std::filesystem::path& dest) {
    auto part = dest;
    part += ".part";
    return part;
}

FetchResult finish_part_file(const std::filesystem::path& part, const std::filesystem::path& dest,
                             const ExpectedFile& expected, const std::string& what) {
    FetchResult result;
    result.size = file_size_or_zero(part);
    if (expected.size && result.size != *expected.size) {
        std::filesystem::remove(part);
        throw Error("size mismatch for " + what + ": expected " + std::to_string(*expected.size) + " bytes, got " +
                    std::to_string(result.size) + "; deleted " + part.string());
    }
    result.sha256 = sha256_file(part);
    if (expected.sha256 && result.sha256 != *expected.sha256) {
        std::filesystem::remove(part);
        throw Error("checksum mismatch for " + what + ": expected sha256 " + *expected.sha256 + ", got " +
                    result.sha256 + "; deleted " + part.string());
    }
    std::error_code ec;
    std::filesystem::rename(part, dest, ec);
    if (ec) throw Error("cannot move " + part.string() + " to " + dest.string() + ": " + ec.message());
    return result;
}

FetchResult download_file(const std::string& url, const std::filesystem::path& dest, const ExpectedFile& expected,
                          const DownloadOptions& options) {
    ensure_curl_initialised();
    if (dest.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(dest.parent_path(), ec);
        if (ec) throw Error("cannot create " + dest.parent_path().string() + ": " + ec.message());
    }
    const auto part = part_path(dest);
    ProgressPrinter progress(options.progress, options.label.empty() ? dest.filename().string() : options.label);

    Transfer transfer;
    transfer.part = part;
    transfer.expected_total = expected.size;
    transfer.progress = &progress;

    bool resumed = false;
    int attempts = 0;
    auto delay = options.retry_delay;
    std::string last_problem;
    // Bytes a previous run left in the .part may belong to an older version of
    // the file; if the result does not verify, they get one fresh try.
    bool holds_earlier_bytes = file_size_or_zero(part) > 0;
    while (true) {
        while (true) {
            uint64_t offset = file_size_or_zero(part);
            if (expected.size && offset > *expected.size) {
                std::filesystem::remove(part);  // longer than the file can be: not ours
                holds_earlier_bytes = false;
                offset = 0;
            }
            if (expected.size && offset == *expected.size && offset > 0) break;  // an earlier run got it all

            if (attempts >= options.max_attempts) {
                throw Error("download of " + url + " failed after " + std::to_string(attempts) +
                            " attempts: " + last_problem + "; " + std::to_string(offset) + " bytes kept in " +
                            part.string() + ", run the command again to resume");
            }
            ++attempts;
            transfer.offset = offset;
            transfer.restarted = false;
            if (offset > 0) resumed = true;
            auto outcome = attempt_download(url, transfer, options);
            if (transfer.restarted) resumed = holds_earlier_bytes = false;
            if (outcome.kind == AttemptOutcome::Kind::complete) break;
            last_problem = outcome.problem;
            if (outcome.kind == AttemptOutcome::Kind::range_rejected) {
                // The server cannot continue this .part: start over, no wait.
                std::filesystem::remove(part);
                holds_earlier_bytes = false;
                continue;
            }
            // Only wait when the attempt made no progress: a dropped connection
            // that delivered bytes is worth resuming at once.
            if (transfer.received == 0 && delay.count() > 0) {
                std::this_thread::sleep_for(delay);
                delay *= 2;
            }
        }
        progress.finish(file_size_or_zero(part), expected.size);
        try {
            auto result = finish_part_file(part, dest, expected, dest.filename().string() + " (from " + url + ")");
            result.attempts = attempts;
            result.resumed = resumed;
            return result;
        } catch (const Error&) {
            if (!holds_earlier_bytes) throw;
            holds_earlier_bytes = resumed = false;  // finish_part_file deleted the .part
        }
    }
}

FetchResult copy_verified(const std::filesystem::path& source, const std::filesystem::path& dest,
                          const ExpectedFile& expected) {
    std::error_code ec;
    if (dest.has_parent_path()) {
        std::filesystem::create_directories(dest.parent_path(), ec);
        if (ec) throw Error("cannot create " + dest.parent_path().string() + ": " + ec.message());
    }
    const auto part = part_path(dest);
    std::filesystem::copy_file(source, part, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
        std::filesystem::remove(part, ec);
        throw Error("cannot copy " + source.string() + " to " + part.string() + ": " + ec.message());
    }
    auto result = finish_part_file(part, dest, expected, source.string());
    result.attempts = 1;
    return result;
}

}  // namespace vigil::models
