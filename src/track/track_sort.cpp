// SORT (Bewley et al., ICIP 2016), the plain baseline ByteTrack is measured
// against: a constant-velocity Kalman filter per track, one Hungarian
// association maximising IoU over the confident detections, assignments under
// IoU_min rejected, a track dropped after max_age unmatched frames (1 in the
// paper) and reported once it has been detected min_hits frames in a row
// (4: the paper's min_hits of 3 counts the matches after the birth frame).
#include <algorithm>
#include <utility>

#include "track/track_association.h"
#include "track/track_common.h"
#include "track/track_kalman.h"

namespace vigil::track {
namespace {

struct SortTrack {
    vigil::Track track;
    SortKalmanFilter filter;
    TrackMotion motion;
    int hit_streak = 0;  // consecutive frames with a detection, the birth included
    int frames_since_update = 0;
    bool ever_confirmed = false;
};

class SortTracker final : public Tracker {
public:
    explicit SortTracker(const TrackerConfig& config) : config_(config), motion_(config) {}

    std::vector<vigil::Track> update(const std::vector<vigil::Detection>& detections, double time_s) override {
        clock_.advance(time_s, name());
        const int frame = clock_.frame_index();

        for (SortTrack& t : tracks_) {
            t.filter.predict();
            if (t.frames_since_update > 0) t.hit_streak = 0;
            ++t.frames_since_update;
        }
        std::erase_if(tracks_, [](const SortTrack& t) { return !t.filter.is_finite(); });

        std::vector<int> confident;
        for (size_t i = 0; i < detections.size(); ++i)
            if (is_usable_detection(detections[i]) && detections[i].score >= config_.high_threshold)
                confident.push_back(int(i));

        std::vector<cv::Rect2f> track_boxes, det_boxes;
        for (const SortTrack& t : tracks_) track_boxes.push_back(t.filter.box());
        for (int i : confident) det_boxes.push_back(detections[size_t(i)].box);
        // The reference solves the Hungarian problem on IoU over every pair
        // and only then rejects matches under IoU_min.
        std::vector<WeightedPair> overlaps;
        for (const BoxPair& pair : overlapping_pairs(track_boxes, det_boxes)) {
            if (!classes_compatible(tracks_[size_t(pair.row)].track.class_id,
                                    detections[size_t(confident[size_t(pair.col)])].class_id, config_.class_aware))
                continue;
            overlaps.push_back({pair.row, pair.col, pair.iou});
        }
        Assignment assignment = assign_max_weight(int(tracks_.size()), int(confident.size()), overlaps);
        std::vector<std::pair<int, int>> kept;
        for (const auto& [row, col] : assignment.matches) {
            if (box_iou(track_boxes[size_t(row)], det_boxes[size_t(col)]) >= config_.sort_iou_threshold) {
                kept.emplace_back(row, col);
            } else {
                assignment.unmatched_rows.push_back(row);
                assignment.unmatched_cols.push_back(col);
            }
        }
        assignment.matches = std::move(kept);
        std::sort(assignment.unmatched_cols.begin(), assignment.unmatched_cols.end());

        for (const auto& [row, col] : assignment.matches) {
            SortTrack& t = tracks_[size_t(row)];
            t.filter.update(detections[size_t(confident[size_t(col)])].box);
            record_observation(t, detections[size_t(confident[size_t(col)])], time_s);
        }
        for (int col : assignment.unmatched_cols) {
            const vigil::Detection& d = detections[size_t(confident[size_t(col)])];
            if (d.score < config_.new_track_threshold) continue;
            SortTrack& t = tracks_.emplace_back();
            t.track.id = next_id_++;
            t.track.first_seen_s = time_s;
            t.filter.initiate(d.box);
            record_observation(t, d, time_s);
        }

        const int max_lost = config_.max_lost_frames_scaled();
        std::erase_if(tracks_, [&](const SortTrack& t) { return t.frames_since_update > max_lost; });

        std::vector<vigil::Track> out;
        for (SortTrack& t : tracks_) {
            // SORT reports a track only while its current streak is long
            // enough, except during the stream's first frames (the
            // reference's frame_count <= min_hits, which counts matches
            // after the birth).
            t.track.confirmed =
                t.frames_since_update == 0 && (t.hit_streak >= config_.min_hits || frame < config_.min_hits);
            t.ever_confirmed = t.ever_confirmed || t.track.confirmed;
            const bool lost_but_known = config_.output_lost_tracks && t.frames_since_update > 0 && t.ever_confirmed;
            if (!t.track.confirmed && !lost_but_known) continue;
            t.track.box = t.filter.box();
            t.track.frames_since_seen = t.frames_since_update;
            out.push_back(t.track);
        }
        return out;
    }

    void reset() override {
        tracks_.clear();
        clock_.reset();
    }

    std::string name() const override { return "sort"; }

private:
    void record_observation(SortTrack& t, const vigil::Detection& d, double time_s) {
        t.frames_since_update = 0;
        ++t.hit_streak;
        t.track.score = d.score;
        if (d.class_id >= 0 || t.track.class_id < 0) {
            t.track.class_id = d.class_id;
            t.track.label = d.label;
        }
        t.motion.observe(t.track, time_s, t.filter.box(), motion_.settings);
    }

    TrackerConfig config_;
    MotionContext motion_;
    StreamClock clock_;
    std::vector<SortTrack> tracks_;
    int next_id_ = 1;
};

}  // namespace

std::unique_ptr<Tracker> make_sort_tracker(const TrackerConfig& config) {
    return std::make_unique<SortTracker>(config);
}

}  // namespace vigil::track
