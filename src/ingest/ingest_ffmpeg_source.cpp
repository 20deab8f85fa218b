// Video files, RTSP, HTTP(S) and V4L2 through libavformat/libavcodec, with
// BGR conversion by libswscale. Blocking FFmpeg calls are bounded by an
// interrupt callback that checks a deadline and the close flag, so neither a
// silent camera nor close() from another thread can leave read() hanging.
#include "core/error.h"
#include "ingest/ingest_backends.h"
#include "ingest/ingest_frame_sampler.h"
#include "ingest/ingest_reconnect.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace vigil::ingest {

namespace {

using SteadyClock = std::chrono::steady_clock;

// FFmpeg's own logging would repeat on stderr what the counters and
// last_error() already report (a truncated file prints hundreds of lines);
// VIGIL_FFMPEG_LOGLEVEL (an av_log level number, e.g. 32 for info) brings it back.
void init_ffmpeg_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char* level = std::getenv("VIGIL_FFMPEG_LOGLEVEL");
        av_log_set_level(level && *level ? std::atoi(level) : AV_LOG_QUIET);
        avdevice_register_all();
        avformat_network_init();
    });
}

std::string av_error_text(int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, text, sizeof text);
    return text;
}

int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

const char* input_kind_name(FfmpegInput kind) {
    switch (kind) {
        case FfmpegInput::file:
            return "video file";
        case FfmpegInput::rtsp:
            return "rtsp stream";
        case FfmpegInput::http:
            return "http stream";
        case FfmpegInput::v4l2:
            return "camera";
    }
    return "source";
}

class FfmpegSource final : public StatusReportingSource {
public:
    FfmpegSource(const SourceConfig& config, FfmpegInput kind, std::string location)
        : config_(config),
          kind_(kind),
          location_(std::move(location)),
          live_(kind != FfmpegInput::file),
          sampler_(config.target_fps),
          backoff_(config.reconnect_initial_ms, config.reconnect_max_ms) {
        init_ffmpeg_once();
        packet_ = av_packet_alloc();
        frame_ = av_frame_alloc();
        if (!packet_ || !frame_) throw Error(describe() + ": out of memory allocating FFmpeg buffers");
        if (kind_ == FfmpegInput::file) {
            std::string error;
            if (!connect(error)) {
                release_media();
                av_packet_free(&packet_);
                av_frame_free(&frame_);
                throw Error(std::string(input_kind_name(kind_)) + " " + location_ + ": " + error);
            }
            state_ = SourceState::streaming;
        }
    }

    ~FfmpegSource() override {
        close();
        av_packet_free(&packet_);
        av_frame_free(&frame_);
    }

    std::optional<Frame> read() override {
        std::lock_guard io(io_mutex_);
        if (closed_) return finish(SourceState::ended);
        if (source_finished(state())) return std::nullopt;
        if (!format_ && !ensure_connected()) return std::nullopt;
        int receive_errors = 0;
        for (;;) {
            if (closed_) return finish(SourceState::ended);
            int rc = avcodec_receive_frame(codec_, frame_);
            if (rc == 0) {
                std::optional<Frame> out = take_frame();
                av_frame_unref(frame_);
                if (!out) continue;
                if (config_.realtime && !live_ &&
                    !pacer_.wait_for_stream_time(
                        out->stream_time_s, [this](SteadyClock::time_point t) { return close_signal_.sleep_until(t); }))
                    return finish(SourceState::ended);
                out->wall_time = std::chrono::system_clock::now();
                update([](SourceStats& s) { ++s.frames_delivered; });
                return out;
            }
            if (rc == AVERROR_EOF) {
                if (restart_after_end()) continue;
                return std::nullopt;
            }
            if (rc != AVERROR(EAGAIN)) {
                // The decoder failed on input it had accepted: count it like a rejected packet and go on.
                update([](SourceStats& s) { ++s.packets_corrupt; });
                if (++receive_errors > 1000)
                    return finish(SourceState::failed, "decoder keeps failing: " + av_error_text(rc));
                continue;
            }
            if (draining_) {
                // A drained decoder answers EOF, never EAGAIN; treat it as the end all the same.
                if (restart_after_end()) continue;
                return std::nullopt;
            }
            if (!feed_decoder()) return std::nullopt;
        }
    }

    std::string describe() const override { return redact_url(config_.url); }

    void close() override {
        closed_ = true;
        close_signal_.close();
        std::lock_guard io(io_mutex_);  // a read() in progress returns promptly: the interrupt callback aborts its I/O
        release_media();
        std::lock_guard lock(status_mutex_);
        if (!source_finished(state_)) state_ = SourceState::ended;
    }

private:
    static int interrupt_callback(void* opaque) {
        auto* self = static_cast<FfmpegSource*>(opaque);
        if (self->closed_) return 1;
        const int64_t deadline = self->deadline_ns_.load();
        if (deadline != 0 && steady_now_ns() > deadline) {
            self->deadline_passed_ = true;
            return 1;
        }
        return 0;
    }

    void arm_deadline(int timeout_ms) {
        deadline_passed_ = false;
        deadline_ns_ = steady_now_ns() + int64_t(std::max(1, timeout_ms)) * 1000000;
    }
    void disarm_deadline() { deadline_ns_ = 0; }

    template <typename F>
    void update(F&& change) {
        std::lock_guard lock(status_mutex_);
        change(stats_);
    }

    void set_state(SourceState state, const std::string& error = {}) {
        std::lock_guard lock(status_mutex_);
        state_ = state;
        if (!error.empty()) last_error_ = describe() + ": " + error;
    }

    std::optional<Frame> finish(SourceState state, const std::string& error = {}) {
        set_state(state, error);
        release_media();
        return std::nullopt;
    }

    // Why a blocking call came back early, in words a user can act on.
    std::string failure_text(int rc, const char* what, int timeout_ms, const char* timeout_key) const {
        if (deadline_passed_)
            return std::string(what) + ": no answer within " + std::to_string(timeout_ms) + " ms (" + timeout_key + ")";
        return std::string(what) + ": " + av_error_text(rc);
    }

    bool connect(std::string& error) {
        release_media();
        format_ = avformat_alloc_context();
        if (!format_) {
            error = "out of memory";
            return false;
        }
        format_->interrupt_callback = {&FfmpegSource::interrupt_callback, this};
        AVDictionary* options = nullptr;
        const AVInputFormat* input_format = nullptr;
        const std::string io_timeout_us = std::to_string(int64_t(config_.read_timeout_ms) * 1000);
        if (kind_ == FfmpegInput::rtsp) {
            av_dict_set(&options, "rtsp_transport", config_.rtsp_transport.c_str(), 0);
            av_dict_set(&options, "timeout", io_timeout_us.c_str(), 0);
            av_dict_set(&options, "allowed_media_types", "video", 0);
        } else if (kind_ == FfmpegInput::http) {
            av_dict_set(&options, "rw_timeout", io_timeout_us.c_str(), 0);
        } else if (kind_ == FfmpegInput::v4l2) {
            input_format = av_find_input_format("video4linux2");
            if (!input_format) {
                error = "this FFmpeg build has no video4linux2 input";
                return false;
            }
        }
        arm_deadline(config_.open_timeout_ms);
        int rc = avformat_open_input(&format_, location_.c_str(), input_format, &options);
        av_dict_free(&options);
        if (rc < 0) {
            disarm_deadline();
            error = failure_text(rc, "cannot open", config_.open_timeout_ms, "open_timeout_ms");
            return false;  // avformat_open_input freed the context
        }
        rc = avformat_find_stream_info(format_, nullptr);
        disarm_deadline();
        if (rc < 0) {
            error = failure_text(rc, "cannot read stream information", config_.open_timeout_ms, "open_timeout_ms");
            return false;
        }
        const AVCodec* decoder = nullptr;
        stream_index_ = av_find_best_stream(format_, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
        if (stream_index_ < 0 || !decoder) {
            error = stream_index_ == AVERROR_DECODER_NOT_FOUND ? "no decoder for its video codec" : "no video stream";
            return false;
        }
        for (unsigned i = 0; i < format_->nb_streams; ++i)
            if (int(i) != stream_index_) format_->streams[i]->discard = AVDISCARD_ALL;
        AVStream* stream = format_->streams[stream_index_];
        codec_ = avcodec_alloc_context3(decoder);
        if (!codec_ || avcodec_parameters_to_context(codec_, stream->codecpar) < 0) {
            error = "cannot set up the decoder";
            return false;
        }
        codec_->pkt_timebase = stream->time_base;
        // Frame threading holds back one frame per thread; live sources want
        // each picture as soon as it arrives, so they use slice threads only.
        codec_->thread_count = 0;
        if (live_) codec_->thread_type = FF_THREAD_SLICE;
        rc = avcodec_open2(codec_, decoder, nullptr);
        if (rc < 0) {
            error = "cannot open the " + std::string(decoder->name) + " decoder: " + av_error_text(rc);
            return false;
        }
        time_base_ = stream->time_base;
        if (kind_ == FfmpegInput::http) live_ = format_->duration == AV_NOPTS_VALUE || format_->duration <= 0;
        fill_info(stream);
        first_pts_ = AV_NOPTS_VALUE;
        draining_ = false;
        sampler_.reset();
        pacer_.reset();
        return true;
    }

    void fill_info(const AVStream* stream) {
        StreamInfo info;
        info.width = stream->codecpar->width;
        info.height = stream->codecpar->height;
        AVRational rate = stream->avg_frame_rate;
        if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
        info.nominal_fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
        if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
            info.duration_s = double(stream->duration) * av_q2d(stream->time_base);
        else if (format_->duration != AV_NOPTS_VALUE && format_->duration > 0)
            info.duration_s = double(format_->duration) / AV_TIME_BASE;
        if (live_) info.duration_s = 0;
        info.frame_count = stream->nb_frames;
        info.codec = avcodec_get_name(stream->codecpar->codec_id);
        info.live = live_;
        frame_duration_s_ = info.nominal_fps > 0 ? 1.0 / info.nominal_fps : 0.04;
        std::lock_guard lock(status_mutex_);
        info_ = info;
    }

    void release_media() {
        sws_freeContext(sws_);
        sws_ = nullptr;
        avcodec_free_context(&codec_);
        if (format_) {
            // Closing an RTSP session sends TEARDOWN; a peer that stopped reading must not hold us.
            arm_deadline(config_.read_timeout_ms);
            avformat_close_input(&format_);
            disarm_deadline();
        }
        draining_ = false;
    }

    // Live sources only: one connection attempt, after the backoff delay when
    // this is a retry. False leaves the state reconnecting, failed or ended.
    bool ensure_connected() {
        const bool retry = state() != SourceState::connecting;
        if (retry) {
            if (!close_signal_.sleep_until(SteadyClock::now() + backoff_.next_delay())) {
                finish(SourceState::ended);
                return false;
            }
            update([](SourceStats& s) { ++s.reconnect_attempts; });
        }
        std::string error;
        if (connect(error)) {
            if (retry) {
                update([](SourceStats& s) { ++s.reconnects; });
                // Stream time carries on across the outage instead of restarting at the new stream's pts.
                if (last_time_s_ >= 0)
                    time_offset_s_ =
                        last_time_s_ + std::chrono::duration<double>(SteadyClock::now() - last_frame_at_).count();
            }
            backoff_.reset();
            consecutive_failures_ = 0;
            set_state(SourceState::streaming);
            return true;
        }
        release_media();
        if (closed_) {
            finish(SourceState::ended);
            return false;
        }
        ++consecutive_failures_;
        const bool give_up =
            config_.max_reconnect_attempts >= 0 && consecutive_failures_ > config_.max_reconnect_attempts;
        set_state(give_up ? SourceState::failed : SourceState::reconnecting, error);
        return false;
    }

    void lose_connection(const std::string& error) {
        update([](SourceStats& s) { ++s.read_errors; });
        release_media();
        set_state(SourceState::reconnecting, error);
    }

    // Reads one packet and sends it to the decoder. False when read() should
    // return nullopt now (connection lost).
    bool feed_decoder() {
        arm_deadline(config_.read_timeout_ms);
        int rc = av_read_frame(format_, packet_);
        disarm_deadline();
        if (rc == AVERROR(EAGAIN)) {
            // Non-blocking devices have nothing yet; a short pause avoids spinning.
            close_signal_.sleep_until(SteadyClock::now() + std::chrono::milliseconds(2));
            return true;
        }
        if (rc < 0) {
            if (closed_) return true;  // the loop in read() notices
            if (live_) {
                lose_connection(rc == AVERROR_EOF
                                    ? std::string("stream ended (the server closed the connection)")
                                    : failure_text(rc, "connection lost", config_.read_timeout_ms, "read_timeout_ms"));
                return false;
            }
            if (rc != AVERROR_EOF) {
                // A damaged or truncated file: keep what decoded, count the error, end.
                update([](SourceStats& s) { ++s.read_errors; });
                set_error(failure_text(rc, "read error", config_.read_timeout_ms, "read_timeout_ms"));
            }
            avcodec_send_packet(codec_, nullptr);  // drain the frames the decoder still holds
            draining_ = true;
            return true;
        }
        if (packet_->stream_index == stream_index_) {
            if (packet_->flags & AV_PKT_FLAG_CORRUPT) {
                update([](SourceStats& s) { ++s.packets_corrupt; });
            } else if ((rc = avcodec_send_packet(codec_, packet_)) < 0 && rc != AVERROR(EAGAIN)) {
                update([](SourceStats& s) { ++s.packets_corrupt; });
                set_error("packet skipped: " + av_error_text(rc));
            }
        }
        av_packet_unref(packet_);
        return true;
    }

    void set_error(const std::string& error) {
        std::lock_guard lock(status_mutex_);
        last_error_ = describe() + ": " + error;
    }

    // The decoder is empty after the last packet. True when reading goes on
    // (a looping file was rewound); otherwise the state says why not.
    bool restart_after_end() {
        if (live_) {
            lose_connection("stream ended (the server closed the connection)");
            return false;
        }
        if (!config_.loop) {
            finish(SourceState::ended);
            return false;
        }
        const AVStream* stream = format_->streams[stream_index_];
        const int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
        if (av_seek_frame(format_, stream_index_, start, AVSEEK_FLAG_BACKWARD) < 0 &&
            avformat_seek_file(format_, -1, INT64_MIN, 0, 0, 0) < 0) {
            finish(SourceState::failed, "cannot rewind to loop the file");
            return false;
        }
        avcodec_flush_buffers(codec_);
        draining_ = false;
        first_pts_ = AV_NOPTS_VALUE;
        if (last_time_s_ >= 0) time_offset_s_ = last_time_s_ + frame_duration_s_;
        return true;
    }

    double stream_time_of(const AVFrame* frame) {
        const int64_t pts = frame->best_effort_timestamp;
        double t;
        if (pts == AV_NOPTS_VALUE) {
            t = last_time_s_ < 0 ? time_offset_s_ : last_time_s_ + frame_duration_s_;
        } else {
            if (first_pts_ == AV_NOPTS_VALUE) first_pts_ = pts;
            t = time_offset_s_ + double(pts - first_pts_) * av_q2d(time_base_);
        }
        // Stream time never goes backwards, whatever the timestamps say: a
        // repeated or reordered pts takes the next nominal slot.
        if (last_time_s_ >= 0 && t <= last_time_s_) t = last_time_s_ + frame_duration_s_;
        return t;
    }

    std::optional<Frame> take_frame() {
        const int64_t index = next_index_++;
        update([](SourceStats& s) { ++s.frames_decoded; });
        if ((frame_->flags & AV_FRAME_FLAG_CORRUPT) || frame_->decode_error_flags) {
            update([](SourceStats& s) { ++s.frames_corrupt; });
            return std::nullopt;
        }
        const double t = stream_time_of(frame_);
        last_time_s_ = t;
        last_frame_at_ = SteadyClock::now();
        if (!sampler_.keep(t)) return std::nullopt;
        const int width = frame_->width, height = frame_->height;
        sws_ = sws_getCachedContext(sws_, width, height, AVPixelFormat(frame_->format), width, height, AV_PIX_FMT_BGR24,
                                    SWS_BILINEAR, nullptr, nullptr, nullptr);
        if (!sws_) {
            update([](SourceStats& s) { ++s.frames_corrupt; });
            set_error("cannot convert pixel format " + std::to_string(frame_->format) + " to BGR");
            return std::nullopt;
        }
        Frame out;
        out.bgr.create(height, width, CV_8UC3);
        uint8_t* planes[4] = {out.bgr.data, nullptr, nullptr, nullptr};
        int strides[4] = {int(out.bgr.step[0]), 0, 0, 0};
        sws_scale(sws_, frame_->data, frame_->linesize, 0, height, planes, strides);
        out.index = index;
        out.stream_time_s = t;
        return out;
    }

    const SourceConfig config_;
    const FfmpegInput kind_;
    const std::string location_;
    bool live_;

    std::mutex io_mutex_;  // held by read() and by close() while it frees the FFmpeg state
    AVFormatContext* format_ = nullptr;
    AVCodecContext* codec_ = nullptr;
    SwsContext* sws_ = nullptr;
    AVPacket* packet_ = nullptr;
    AVFrame* frame_ = nullptr;
    int stream_index_ = -1;
    AVRational time_base_{1, 1};
    bool draining_ = false;

    FrameSampler sampler_;
    RealtimePacer pacer_;
    ReconnectBackoff backoff_;
    CloseSignal close_signal_;
    std::atomic<bool> closed_{false};
    std::atomic<int64_t> deadline_ns_{0};
    std::atomic<bool> deadline_passed_{false};
    int consecutive_failures_ = 0;

    int64_t next_index_ = 0;
    int64_t first_pts_ = AV_NOPTS_VALUE;
    double time_offset_s_ = 0;
    double last_time_s_ = -1;
    double frame_duration_s_ = 0.04;
    SteadyClock::time_point last_frame_at_{};

};

}  // namespace

std::unique_ptr<VideoSource> make_ffmpeg_source(const SourceConfig& config, FfmpegInput kind,
                                                const std::string& location) {
    if (kind == FfmpegInput::v4l2 && !std::filesystem::exists(location))
        throw Error("camera device not found: " + location + " (expected a V4L2 node such as /dev/video0)");
    return std::make_unique<FfmpegSource>(config, kind, location);
}

}  // namespace vigil::ingest
