#include "pipeline/pipeline_camera.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace vigil::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

// Evidence frames are kept at most this wide: enough for a VLM tile and an
// annotated snapshot, small enough for many cameras' rings.
constexpr int kEvidenceMaxWidth = 960;
// Stream seconds between frames kept in the ring when nothing fires.
constexpr double kRingPeriodS = 0.2;
constexpr double kSceneCheckPeriodS = 0.5;

Track scaled(const Track& track, float scale) {
    Track out = track;
    auto scale_box = [scale](cv::Rect2f box) {
        return cv::Rect2f(box.x * scale, box.y * scale, box.width * scale, box.height * scale);
    };
    out.box = scale_box(track.box);
    out.velocity_px_s *= scale;
    for (auto& point : out.history) point.box = scale_box(point.box);
    return out;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

CameraPipeline::CameraPipeline(CameraConfig config, size_t index, const SceneCheckConfig& scene_check,
                               EventHandler on_event)
    : config_(std::move(config)),
      index_(index),
      on_event_(std::move(on_event)),
      is_file_(is_file_source(config_.source)),
      ring_(10.0, 48) {
    try {
        detector_ = detect::make_detector(config_.detector);
    } catch (const Error& e) {
        throw Error(fmt::format("camera \"{}\": detector: {}", config_.name, e.what()));
    }
    tracker_ = track::make_tracker(config_.tracker);
    detector_name_ = detector_->name();
    tracker_name_ = tracker_->name();
    if (scene_check.enabled() && !config_.analytics.contains("scene_change")) {
        config_.analytics["scene_change"] = {{"threshold", scene_check.threshold > 0 ? scene_check.threshold : 1.0},
                                             {"period_s", scene_check.period_s}};
    }
    scene_checks_ = config_.analytics.contains("scene_change");
}

CameraPipeline::~CameraPipeline() {
    stop();
    join();
}

void CameraPipeline::start() {
    capture_thread_ = std::thread([this] { capture_loop(); });
    processing_thread_ = std::thread([this] { processing_loop(); });
}

void CameraPipeline::stop() {
    stopping_ = true;
    {
        std::lock_guard lock(mutex_);
        if (source_) source_->close();
    }
    frames_.close();
}

void CameraPipeline::join() {
    if (capture_thread_.joinable()) capture_thread_.join();
    if (processing_thread_.joinable()) processing_thread_.join();
}

bool CameraPipeline::failed_without_frames() const {
    std::lock_guard lock(mutex_);
    return capture_done_ && !delivered_any_ && (state_ == "failed" || state_ == "error");
}

void CameraPipeline::set_error(const std::string& state, const std::string& message) {
    {
        std::lock_guard lock(mutex_);
        state_ = state;
        last_error_ = message;
    }
    spdlog::error("camera \"{}\": {}", config_.name, message);
}

CameraStats CameraPipeline::stats() const {
    std::lock_guard lock(mutex_);
    CameraStats stats;
    stats.state = state_;
    if (source_ && state_ != "failed" && state_ != "error") stats.state = ingest::source_state_name(source_->state());
    stats.last_error = last_error_;
    if (source_ && last_error_.empty()) stats.last_error = source_->last_error();
    stats.fps = frames_analysed_ > 0 && seconds_since(last_frame_at_) < 2.0 ? fps_ : 0.0;
    stats.frames_analysed = frames_analysed_;
    stats.frames_dropped = frames_dropped_;
    stats.events = events_;
    stats.tracks = tracks_;
    stats.busy_s = busy_s_;
    stats.active_s = frames_analysed_ > 0 ? std::chrono::duration<double>(last_frame_at_ - first_frame_at_).count() : 0;
    return stats;
}

void CameraPipeline::capture_loop() {
    ingest::SourceConfig source_config;
    source_config.url = config_.source;
    source_config.target_fps = config_.fps;
    source_config.realtime = config_.realtime;
    source_config.loop = config_.loop;
    try {
        auto source = ingest::open_source(source_config);
        std::lock_guard lock(mutex_);
        source_ = std::move(source);
        if (stopping_) source_->close();
    } catch (const Error& e) {
        set_error("failed", e.what());
        frames_.close();
        capture_done_ = true;
        return;
    }
    // Files not paced in real time wait for the processing thread, so every
    // sampled frame is analysed; live sources (and paced files) never wait:
    // the oldest queued frame makes room.
    const bool wait_for_room = is_file_ && !config_.realtime;
    try {
        while (!stopping_) {
            std::optional<ingest::Frame> frame = source_->read();
            if (!frame) {
                if (ingest::source_finished(source_->state())) break;
                continue;
            }
            if (config_.max_stream_s > 0 && frame->stream_time_s > config_.max_stream_s) break;
            {
                std::lock_guard lock(mutex_);
                delivered_any_ = true;
            }
            if (wait_for_room) {
                if (!frames_.push_wait(std::move(*frame))) break;
            } else if (frames_.push_drop_oldest(std::move(*frame))) {
                std::lock_guard lock(mutex_);
                ++frames_dropped_;
            }
        }
        if (source_->state() == ingest::SourceState::failed) set_error("failed", source_->last_error());
    } catch (const std::exception& e) {
        set_error("failed", fmt::format("capture: {}", e.what()));
    }
    frames_.close();
    capture_done_ = true;
}

void CameraPipeline::processing_loop() {
    try {
        while (auto frame = frames_.pop()) analyse(*frame);
    } catch (const std::exception& e) {
        set_error("error", fmt::format("processing: {}", e.what()));
        stop();
        // Let capture see the closed queue; nothing else will take its frames.
    }
    processing_done_ = true;
}

void CameraPipeline::analyse(ingest::Frame& frame) {
    const auto started = Clock::now();
    if (!analytics_) {
        try {
            analytics_ = std::make_unique<analyze::AnalyticsEngine>(config_.analytics, frame.bgr.size());
        } catch (const Error& e) {
            throw Error(fmt::format("camera \"{}\": key \"analytics\": {} (frame size {}x{})", config_.name,
                                    e.what(), frame.bgr.cols, frame.bgr.rows));
        }
    }
    const double t = frame.stream_time_s;
    std::vector<Detection> detections = detector_->detect(frame.bgr);
    std::vector<Track> tracks = tracker_->update(detections, t);
    std::vector<analyze::Event> events = analytics_->update(tracks, t);
    if (scene_checks_ && t - last_scene_check_s_ >= kSceneCheckPeriodS) {
        last_scene_check_s_ = t;
        auto scene = analytics_->update_frame(frame.bgr, t);
        events.insert(events.end(), scene.begin(), scene.end());
    }

    if (!events.empty() || t - last_ring_push_s_ >= kRingPeriodS) {
        last_ring_push_s_ = t;
        contextualize::EvidenceFrame evidence;
        evidence.time_s = t;
        const float scale = frame.bgr.cols > kEvidenceMaxWidth ? float(kEvidenceMaxWidth) / frame.bgr.cols : 1.f;
        if (scale < 1.f) {
            cv::resize(frame.bgr, evidence.bgr, cv::Size(), scale, scale, cv::INTER_AREA);
            evidence.tracks.reserve(tracks.size());
            for (const auto& track : tracks) evidence.tracks.push_back(scaled(track, scale));
        } else {
            evidence.bgr = frame.bgr;  // the frame is ours; no copy needed
            evidence.tracks = tracks;
        }
        ring_.push(std::move(evidence));
    }

    const auto finished = Clock::now();
    const double wall_s = std::chrono::duration<double>(frame.wall_time.time_since_epoch()).count();
    for (auto& event : events) {
        CameraEvent out;
        out.camera = index_;
        out.frames = ring_.frames_near({event.start_s, (event.start_s + event.time_s) / 2, event.time_s});
        out.wall_time_s = wall_s;
        out.detected_at = finished;
        out.event = std::move(event);
        on_event_(std::move(out));
    }

    std::lock_guard lock(mutex_);
    if (frames_analysed_ == 0) {
        first_frame_at_ = started;
        fps_window_start_ = started;
    }
    ++frames_analysed_;
    last_frame_at_ = finished;
    busy_s_ += std::chrono::duration<double>(finished - started).count();
    events_ += static_cast<int64_t>(events.size());
    tracks_ = static_cast<int>(tracks.size());
    ++fps_window_frames_;
    const double window = seconds_since(fps_window_start_);
    if (window >= 1.0) {
        fps_ = fps_window_frames_ / window;
        fps_window_frames_ = 0;
        fps_window_start_ = finished;
    }
}

}  // namespace vigil::pipeline
