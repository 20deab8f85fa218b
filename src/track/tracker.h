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

// Marks a TrackerConfig field that takes its algorithm's published default.
inline constexpr int kAlgorithmDefault = -1;

struct TrackerConfig {
    std::string algorithm = "bytetrack";  // "bytetrack" or "sort"

    // Fields left at kAlgorithmDefault take the defaults of the algorithm's
    // reference (resolve_defaults() fills them), so a plain {"sort"} is the
    // SORT of the paper rather than ByteTrack with one association:
    //                        bytetrack (MOT17)      sort (Bewley et al. 2016)
    //   high_threshold       0.6 (track_thresh)     0.5 (public-detection cut)
    //   new_track_threshold  high + 0.1 (det_thresh)  high
    //   min_hits             2                      4 (the paper's 3 + the birth)
    //   max_lost_frames      30 (track_buffer)      1 (max_age)
    //
    // Detections scoring at least high_threshold take part in the first
    // association (and are SORT's only input); ByteTrack's second association
    // uses those in (low_threshold, high_threshold).
    float high_threshold = kAlgorithmDefault;
    float low_threshold = 0.1f;
    // A new track starts only from an unmatched detection at least this confident.
    float new_track_threshold = kAlgorithmDefault;

    // ByteTrack association gates, as similarities (1 - ByteTrack's costs):
    // first stage on IoU x detection score (match_thresh 0.8), second stage on
    // plain IoU (0.5), unconfirmed tracks on fused IoU (0.7). A pair matches
    // only when its similarity exceeds the gate, and the assignment maximises
    // the summed margins over the gates, as lapjv with cost_limit does.
    float match_iou_threshold = 0.2f;
    float low_match_iou_threshold = 0.5f;
    float unconfirmed_match_iou_threshold = 0.3f;
    bool fuse_score = true;                 // MOT17 setting; MOT20 turns it off
    float duplicate_iou_threshold = 0.85f;  // a tracked and a lost track this alike are one object
    float sort_iou_threshold = 0.3f;        // SORT's IoU_min: assignments below it are rejected

    // A track unmatched for more than this many frames is dropped. ByteTrack
    // counts them at 30 fps and scales by frame_rate; SORT's max_age is in
    // frames of the stream.
    int max_lost_frames = kAlgorithmDefault;
    double frame_rate = 30;
    // Consecutive frames with a detection, the birth included, before a track
    // is reported: ByteTrack confirms on its first match after the birth,
    // SORT after three. Tracks born in the stream's first frame(s) are
    // reported at once, as both references do.
    int min_hits = kAlgorithmDefault;
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

    // A copy with every kAlgorithmDefault field set for algorithm (unknown
    // algorithms are left as they are; make_tracker rejects them).
    TrackerConfig resolve_defaults() const;
    // max_lost_frames in frames of this stream (ByteTrack's track buffer
    // scaled from 30 fps; SORT's max_age as is). Call on a resolved config.
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
