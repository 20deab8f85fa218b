#pragma once
// Constructors of the concrete sources, for the factory (ingest_factory.cpp)
// that parses URLs. Not part of the public interface.
#include "ingest/ingest_source.h"

namespace vigil::ingest {

enum class FfmpegInput { file, rtsp, http, v4l2 };

// `location` is what libavformat opens: a path, a URL with the Vigil-only parts
// (rtsp+udp, ?transport=) removed, or a device node.
std::unique_ptr<VideoSource> make_ffmpeg_source(const SourceConfig& config, FfmpegInput kind,
                                                const std::string& location);

std::unique_ptr<VideoSource> make_image_folder_source(const SourceConfig& config);

// The URL without user:password@, for logs and error messages.
std::string redact_url(const std::string& url);

}  // namespace vigil::ingest
