#pragma once
// One camera's chain up to the analytics events: a capture thread reading the
// source into a small bounded queue, and a processing thread running detect ->
// track -> analyze and keeping a ring of recent evidence frames. Events leave
// through a callback that must not block (the runner queues them).
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "analyze/analyze_engine.h"
#include "contextualize/contextualizer.h"
#include "detect/detector.h"
#include "ingest/ingest_source.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_queue.h"
#include "track/tracker.h"

namespace vigil::pipeline {

// An analytics event with what the contextualizer needs, as it leaves a camera.
struct CameraEvent {
    size_t camera = 0;                                  // index into the run's cameras
    analyze::Event event;
    std::vector<contextualize::EvidenceFrame> frames;   // around the event, oldest first
    double wall_time_s = 0;                             // Unix time of the frame that fired it
    std::chrono::steady_clock::time_point detected_at;  // for event-to-alert latency
};

struct CameraStats {
    std::string state;            // source state, or "failed" / "error"
    std::string last_error;
    double fps = 0;               // frames analysed per wall second, recent
    int64_t frames_analysed = 0;
    int64_t frames_dropped = 0;   // dropped by the capture queue (the chain fell behind a live source)
    int64_t events = 0;
    int tracks = 0;               // tracks in the latest frame
    double busy_s = 0;            // processing thread time spent on detect + track + analyze
    double active_s = 0;          // wall time from the first analysed frame to the latest
    double detection_fps() const { return active_s > 0 ? frames_analysed / active_s : 0; }
};

class CameraPipeline {
public:
    using EventHandler = std::function<void(CameraEvent)>;

    // Builds the detector and tracker now, so a missing model fails the run
    // before any thread starts (vigil::Error naming the camera).
    CameraPipeline(CameraConfig config, size_t index, const SceneCheckConfig& scene_check, EventHandler on_event);
    ~CameraPipeline();
    CameraPipeline(const CameraPipeline&) = delete;
    CameraPipeline& operator=(const CameraPipeline&) = delete;

    void start();
    // Ends capture (closing the source so a blocked read returns) and lets the
    // processing thread finish the frames already queued.
    void stop();
    void join();

    // Both threads have finished (end of file, failure, or stop()).
    bool done() const { return capture_done_ && processing_done_; }
    bool is_file() const { return is_file_; }
    // The source failed for good before delivering any frame.
    bool failed_without_frames() const;
    const CameraConfig& config() const { return config_; }
    std::string detector_name() const { return detector_name_; }
    std::string tracker_name() const { return tracker_name_; }
    CameraStats stats() const;

private:
    void capture_loop();
    void processing_loop();
    void analyse(ingest::Frame& frame);
    void set_error(const std::string& state, const std::string& message);

    CameraConfig config_;
    size_t index_;
    EventHandler on_event_;
    bool is_file_;
    std::unique_ptr<detect::Detector> detector_;
    std::unique_ptr<track::Tracker> tracker_;
    std::unique_ptr<analyze::AnalyticsEngine> analytics_;
    std::string detector_name_, tracker_name_;
    contextualize::FrameRing ring_;
    double last_ring_push_s_ = -1e9;
    double last_scene_check_s_ = -1e9;
    bool scene_checks_ = false;

    BoundedQueue<ingest::Frame> frames_{2};
    std::thread capture_thread_, processing_thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> capture_done_{false}, processing_done_{false};

    mutable std::mutex mutex_;  // guards source_ and the stats below
    std::unique_ptr<ingest::VideoSource> source_;
    std::string state_ = "connecting", last_error_;
    int64_t frames_analysed_ = 0, frames_dropped_ = 0, events_ = 0;
    int tracks_ = 0;
    double busy_s_ = 0;
    std::chrono::steady_clock::time_point first_frame_at_, last_frame_at_;
    double fps_ = 0;
    std::chrono::steady_clock::time_point fps_window_start_;
    int64_t fps_window_frames_ = 0;
    bool delivered_any_ = false;
};

}  // namespace vigil::pipeline
