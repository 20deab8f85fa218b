#pragma once
// The Source stage: one interface over video files, RTSP/HTTP(S) streams, V4L2
// cameras and folders of still images. Every source yields BGR frames stamped
// with their stream time (from the container's timestamps) and the wall-clock
// time they were read, optionally thinned to a target rate.
#include <chrono>
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

namespace vigil::ingest {

struct Frame {
    cv::Mat bgr;               // 8-bit, 3 channels, owned by the frame
    int64_t index = 0;         // position among the frames the source decoded (0-based), not among those kept
    double stream_time_s = 0;  // seconds since the stream's first frame, from pts; never decreases
    std::chrono::system_clock::time_point wall_time;  // when the frame was read
};

enum class SourceState {
    connecting,    // not opened yet, or the first connection is in progress
    streaming,     // frames are flowing
    reconnecting,  // a live source lost its connection (or never got one) and retries with backoff
    ended,         // end of a file or folder, or close() was called
    failed,        // gave up: see last_error()
};

const char* source_state_name(SourceState state);

// True for states in which read() will never return a frame again.
inline bool source_finished(SourceState state) { return state == SourceState::ended || state == SourceState::failed; }

struct SourceStats {
    int64_t frames_decoded = 0;    // pictures out of the decoder (or images loaded)
    int64_t frames_delivered = 0;  // returned by read() after sampling
    int64_t packets_corrupt = 0;   // packets the decoder rejected, skipped
    int64_t frames_corrupt = 0;    // decoded pictures flagged corrupt, or unreadable images, skipped
    int64_t read_errors = 0;       // demuxer/network errors (each one ends or restarts the connection)
    int64_t reconnect_attempts = 0;
    int64_t reconnects = 0;  // connections re-established after a loss
};

// What the container says about the video stream, for checks and display.
struct StreamInfo {
    int width = 0;
    int height = 0;
    double nominal_fps = 0;   // average frame rate the container declares; 0 when unknown
    double duration_s = 0;    // 0 when unknown (live streams)
    int64_t frame_count = 0;  // declared by the container; 0 when unknown
    std::string codec;        // "h264", "mpeg4", "images", ...
    bool live = false;        // reconnects on loss instead of ending
};

struct SourceConfig {
    // A video file; rtsp://host/path (TCP), rtsp+udp://host/path or
    // rtsp://...?transport=udp; http(s)://...; /dev/videoN or v4l2:///dev/videoN;
    // or a directory of JPEG/PNG/BMP images.
    std::string url;
    double target_fps = 0;  // 0 keeps every frame; otherwise thins to this rate using stream time
    bool realtime = false;  // files and folders: deliver frames at their stream time on the wall clock
    bool loop = false;      // files and folders: start again at the end; stream time keeps increasing
    int reconnect_initial_ms = 500;
    int reconnect_max_ms = 10000;
    int max_reconnect_attempts = -1;  // consecutive failed attempts before failed; -1 retries forever
    int open_timeout_ms = 5000;       // connecting and reading stream headers
    int read_timeout_ms = 5000;       // longest silence from a live source before it counts as lost
    std::string rtsp_transport = "tcp";
    double image_fps = 1;  // folders: the rate that stamps stream time on images
};

class VideoSource {
public:
    virtual ~VideoSource() = default;

    // The next frame, or nullopt when there is none in this call. For files and
    // folders nullopt means the end. A live source that lost its connection
    // makes one reconnection attempt per call (after its backoff delay) and
    // returns nullopt if that fails, so a call blocks at most about
    // reconnect_max_ms + open_timeout_ms; keep calling until
    // source_finished(state()).
    virtual std::optional<Frame> read() = 0;

    virtual SourceState state() const = 0;
    virtual SourceStats stats() const = 0;
    virtual StreamInfo info() const = 0;
    // The most recent error, naming the source; empty when there was none.
    virtual std::string last_error() const = 0;
    // Safe from any thread: a read() blocked on the network returns promptly,
    // and later reads return nullopt with state ended.
    virtual void close() = 0;
    // The URL or path with any password removed, for logs.
    virtual std::string describe() const = 0;
};

// Opens (files, folders) or prepares (live sources connect on the first read)
// the source. Throws vigil::Error for a missing file, an unsupported URL
// scheme, a file that is not a decodable video, or an empty image folder.
std::unique_ptr<VideoSource> open_source(const SourceConfig& config);

}  // namespace vigil::ingest
