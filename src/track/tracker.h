#pragma once
// The track stage: turns each frame's detections into tracks with stable ids,
// velocities and how long each object has stood still. One interface, one
// file per algorithm (track_bytetrack.cpp, track_sort.cpp).
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/detection.h"

namespace vigil::track {

// Four image points (pixels) and where they lie on the ground (metres, any
// planar frame); enough for the image-to-ground homography. No three of
// either set may be collinear.
struct GroundPlaneCalibration {
    std::array<cv::Point2f, 4> image_px;
    std::array<cv::Point2f, 4> ground_m;
};

struct TrackerConfig {
    std::string algorithm = "bytetrack";  // "bytetrack" or "sort"

    // Detections scoring at least high_threshold take part in the first
    // association (and are SORT's only input); ByteTrack's second association
    // uses those in (low_threshold, high_threshold).
    float high_threshold = 0.5f;
    float low_threshold = 0.1f;
    // A new track starts only from an unmatched detection at least this
    // confident (ByteTrack's det_thresh = track_thresh + 0.1).
    float new_track_threshold = 0.6f;

    // ByteTrack association gates, as similarities (1 - ByteTrack's costs):
    // first stage on IoU x detection score (match_thresh 0.8), second stage on
    // plain IoU (0.5), unconfirmed tracks on fused IoU (0.7).
    float match_iou_threshold = 0.2f;
    float low_match_iou_threshold = 0.5f;
    float unconfirmed_match_iou_threshold = 0.3f;
    bool fuse_score = true;                 // MOT17 setting; MOT20 turns it off
    float duplicate_iou_threshold = 0.85f;  // a tracked and a lost track this alike are one object
    float sort_iou_threshold = 0.3f;        // SORT's single association gate

    // A track unmatched for more than this many frames (at 30 fps; scaled by
    // frame_rate) is dropped.
    int max_lost_frames = 30;
    double frame_rate = 30;
    // Matches needed before a track is reported. ByteTrack confirms on the
    // second consecutive match; the SORT paper uses 3. Tracks born in the
    // stream's first frame(s) are confirmed at once, as both references do.
    int min_hits = 2;
    bool class_aware = true;          // never match across known, different classes
    bool output_lost_tracks = false;  // also report confirmed tracks currently unmatched

    size_t history_length = 64;      // TrackPoints kept per track
    double velocity_window_s = 1.0;  // velocity is the least-squares slope over this span

    std::optional<GroundPlaneCalibration> ground_plane;
    // The bottom-centre counts as still while it stays within this radius of
    // where it settled: a fraction of the box height in the image, or metres
    // when the ground plane is calibrated.
    float stationary_radius_fraction = 0.2f;
    float stationary_radius_m = 0.5f;

    int max_lost_frames_scaled() const;
};

class Tracker {
public:
    virtual ~Tracker() = default;
    // Detections of one frame at stream time time_s (non-decreasing; a time
    // earlier than the previous frame's throws vigil::Error: call reset() when
    // a stream restarts). Returns confirmed tracks matched in this frame
    // (plus confirmed lost ones when output_lost_tracks), ordered by id.
    // Detections with a non-finite or non-positive box are ignored.
    virtual std::vector<vigil::Track> update(const std::vector<vigil::Detection>& detections, double time_s) = 0;
    // Forget every track; ids keep increasing so none is ever reused.
    virtual void reset() = 0;
    virtual std::string name() const = 0;
};

// Validates config (vigil::Error naming the bad field) and builds the tracker.
std::unique_ptr<Tracker> make_tracker(const TrackerConfig& config);

}  // namespace vigil::track
