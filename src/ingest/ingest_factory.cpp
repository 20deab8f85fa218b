#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "ingest/ingest_backends.h"

namespace vigil::ingest {

namespace {

constexpr const char* kSupported =
    "supported: a video file path, a directory of JPEG/PNG/BMP images, rtsp://, rtsps://, rtsp+udp://, "
    "http://, https://, /dev/videoN or v4l2:///dev/videoN";

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// Removes "transport=udp|tcp" from the query string; returns the transport or "".
std::string take_transport_parameter(std::string& url) {
    const auto query = url.find('?');
    if (query == std::string::npos) return "";
    std::string kept, transport;
    size_t start = query + 1;
    while (start <= url.size()) {
        size_t end = url.find('&', start);
        if (end == std::string::npos) end = url.size();
        const std::string param = url.substr(start, end - start);
        if (param.rfind("transport=", 0) == 0)
            transport = lower(param.substr(10));
        else if (!param.empty())
            kept += (kept.empty() ? "" : "&") + param;
        start = end + 1;
    }
    url = url.substr(0, query) + (kept.empty() ? "" : "?" + kept);
    return transport;
}

void check_positive(const SourceConfig& config, const char* key, double value, bool zero_allowed) {
    if (value > 0 || (zero_allowed && value == 0)) return;
    throw Error("video source " + redact_url(config.url) + ": " + key + " must be " + (zero_allowed ? ">= 0" : "> 0") +
                " (got " + std::to_string(value) + ")");
}

void check_config(const SourceConfig& config) {
    check_positive(config, "target_fps", config.target_fps, true);
    check_positive(config, "image_fps", config.image_fps, false);
    check_positive(config, "open_timeout_ms", config.open_timeout_ms, false);
    check_positive(config, "read_timeout_ms", config.read_timeout_ms, false);
    check_positive(config, "reconnect_initial_ms", config.reconnect_initial_ms, false);
    check_positive(config, "reconnect_max_ms", config.reconnect_max_ms, false);
}

}  // namespace

const char* source_state_name(SourceState state) {
    switch (state) {
        case SourceState::connecting:
            return "connecting";
        case SourceState::streaming:
            return "streaming";
        case SourceState::reconnecting:
            return "reconnecting";
        case SourceState::ended:
            return "ended";
        case SourceState::failed:
            return "failed";
    }
    return "unknown";
}

std::string redact_url(const std::string& url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return url;
    const auto host_start = scheme_end + 3;
    const auto path_start = url.find('/', host_start);
    const auto at = url.rfind('@', path_start == std::string::npos ? url.size() : path_start);
    if (at == std::string::npos || at < host_start) return url;
    return url.substr(0, host_start) + "***@" + url.substr(at + 1);
}

std::unique_ptr<VideoSource> open_source(const SourceConfig& config) {
    const std::string& url = config.url;
    check_config(config);
    if (url.empty()) throw Error(std::string("video source: empty URL (") + kSupported + ")");
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
        const std::filesystem::path path(url);
        std::error_code ec;
        if (url.rfind("/dev/video", 0) == 0) return make_ffmpeg_source(config, FfmpegInput::v4l2, url);
        if (std::filesystem::is_directory(path, ec)) return make_image_folder_source(config);
        if (!std::filesystem::exists(path, ec))
            throw Error("video source: file not found: " + url + " (expected a video file or image directory)");
        return make_ffmpeg_source(config, FfmpegInput::file, url);
    }
    const std::string scheme = lower(url.substr(0, scheme_end));
    std::string location = url;
    if (scheme == "file") {
        SourceConfig local = config;
        local.url = url.substr(scheme_end + 3);
        return open_source(local);
    }
    if (scheme == "rtsp" || scheme == "rtsps" || scheme == "rtsp+udp" || scheme == "rtsp+tcp") {
        SourceConfig live = config;
        const std::string transport = take_transport_parameter(location);
        if (scheme == "rtsp+udp") live.rtsp_transport = "udp";
        if (scheme == "rtsp+tcp") live.rtsp_transport = "tcp";
        if (!transport.empty()) live.rtsp_transport = transport;
        if (live.rtsp_transport != "tcp" && live.rtsp_transport != "udp")
            throw Error("video source " + redact_url(url) + ": rtsp transport '" + live.rtsp_transport +
                        "' is not supported (expected tcp or udp)");
        if (scheme.rfind("rtsp+", 0) == 0) location = "rtsp" + location.substr(scheme_end);
        return make_ffmpeg_source(live, FfmpegInput::rtsp, location);
    }
    if (scheme == "http" || scheme == "https") return make_ffmpeg_source(config, FfmpegInput::http, url);
    if (scheme == "v4l2") return make_ffmpeg_source(config, FfmpegInput::v4l2, url.substr(scheme_end + 3));
    throw Error("video source " + redact_url(url) + ": unsupported URL scheme '" + scheme + "://' (" + kSupported +
                ")");
}

}  // namespace vigil::ingest
