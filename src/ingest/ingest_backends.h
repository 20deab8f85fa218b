#pragma once
// Constructors of the concrete sources, for the factory (ingest_factory.cpp)
// that parses URLs. Not part of the public interface.
#include <mutex>

#include "ingest/ingest_source.h"

namespace vigil::ingest {

// The status half every concrete source shares: the reading thread updates
// these fields under status_mutex_, any thread reads them through the getters.
class StatusReportingSource : public VideoSource {
public:
    SourceState state() const override {
        std::lock_guard lock(status_mutex_);
        return state_;
    }
    SourceStats stats() const override {
        std::lock_guard lock(status_mutex_);
        return stats_;
    }
    StreamInfo info() const override {
        std::lock_guard lock(status_mutex_);
        return info_;
    }
    std::string last_error() const override {
        std::lock_guard lock(status_mutex_);
        return last_error_;
    }

protected:
    mutable std::mutex status_mutex_;
    SourceState state_ = SourceState::connecting;
    SourceStats stats_;
    StreamInfo info_;
    std::string last_error_;
};

enum class FfmpegInput { file, rtsp, http, v4l2 };

// `location` is what libavformat opens: a path, a URL with the Vigil-only parts
// (rtsp+udp, ?transport=) removed, or a device node.
std::unique_ptr<VideoSource> make_ffmpeg_source(const SourceConfig& config, FfmpegInput kind,
                                                const std::string& location);

std::unique_ptr<VideoSource> make_image_folder_source(const SourceConfig& config);

// The URL without user:password@, for logs and error messages.
std::string redact_url(const std::string& url);

}  // namespace vigil::ingest
