// ByteTrack (Zhang et al., ECCV 2022): associate every detection box, not only
// the confident ones. High-score detections are matched first against all
// tracks; the leftover tracks then try the low-score detections, which often
// are the same objects partly occluded or blurred.
#include <algorithm>

#include "track/track_association.h"
#include "track/track_common.h"
#include "track/track_kalman.h"

namespace vigil::track {
namespace {

enum class TrackState { tracked, lost };

struct Tracklet {
    vigil::Track track;
    XyahKalmanFilter filter;
    TrackMotion motion;
    TrackState state = TrackState::tracked;
    int hits = 0;
    int start_frame = 0;
    int last_matched_frame = 0;
    bool removed = false;
};

class ByteTracker final : public Tracker {
public:
    explicit ByteTracker(const TrackerConfig& config) : config_(config), motion_(config) {}

    std::vector<vigil::Track> update(const std::vector<vigil::Detection>& detections, double time_s) override {
        clock_.advance(time_s, name());
        const int frame = clock_.frame_index();

        std::vector<int> high, low;
        for (size_t i = 0; i < detections.size(); ++i) {
            const vigil::Detection& d = detections[i];
            if (!is_usable_detection(d)) continue;
            if (d.score >= config_.high_threshold)
                high.push_back(int(i));
            else if (d.score > config_.low_threshold)
                low.push_back(int(i));
        }

        // Tracks are predicted (a lost one without its height rate, so its
        // box keeps its size while unseen), except those born last frame:
        // they have no velocity yet, and the reference matches them on their
        // birth state.
        std::vector<int> pool, unconfirmed;
        for (size_t i = 0; i < tracks_.size(); ++i) {
            Tracklet& t = tracks_[i];
            const bool tentative = t.state == TrackState::tracked && !t.track.confirmed;
            (tentative ? unconfirmed : pool).push_back(int(i));
            if (tentative && t.hits == 1) continue;
            if (t.state == TrackState::lost) t.filter.freeze_height_velocity();
            t.filter.predict();
        }

        // First association: confident detections against every tracked and lost track.
        const Assignment first = associate(pool, detections, high, config_.match_iou_threshold, config_.fuse_score);
        for (const auto& [row, col] : first.matches)
            apply_match(tracks_[size_t(pool[size_t(row)])], detections[size_t(high[size_t(col)])], frame, time_s);

        // Second association: low-score detections can only continue tracks
        // that were matched last frame; they never revive lost ones.
        std::vector<int> still_tracked;
        for (int row : first.unmatched_rows)
            if (tracks_[size_t(pool[size_t(row)])].state == TrackState::tracked)
                still_tracked.push_back(pool[size_t(row)]);
        const Assignment second = associate(still_tracked, detections, low, config_.low_match_iou_threshold, false);
        for (const auto& [row, col] : second.matches)
            apply_match(tracks_[size_t(still_tracked[size_t(row)])], detections[size_t(low[size_t(col)])], frame,
                        time_s);
        for (int row : second.unmatched_rows) tracks_[size_t(still_tracked[size_t(row)])].state = TrackState::lost;

        // Tentative tracks (born last frame) get the confident leftovers; a
        // tentative track that misses a frame is dropped.
        std::vector<int> leftover_high;
        for (int col : first.unmatched_cols) leftover_high.push_back(high[size_t(col)]);
        const Assignment tentative = associate(unconfirmed, detections, leftover_high,
                                               config_.unconfirmed_match_iou_threshold, config_.fuse_score);
        for (const auto& [row, col] : tentative.matches) {
            Tracklet& t = tracks_[size_t(unconfirmed[size_t(row)])];
            apply_match(t, detections[size_t(leftover_high[size_t(col)])], frame, time_s);
            if (t.hits >= config_.min_hits) t.track.confirmed = true;
        }
        for (int row : tentative.unmatched_rows) tracks_[size_t(unconfirmed[size_t(row)])].removed = true;

        for (int col : tentative.unmatched_cols) {
            const vigil::Detection& d = detections[size_t(leftover_high[size_t(col)])];
            if (d.score >= config_.new_track_threshold) start_track(d, frame, time_s);
        }

        const int max_lost = config_.max_lost_frames_scaled();
        for (Tracklet& t : tracks_)
            if (t.state == TrackState::lost && frame - t.last_matched_frame > max_lost) t.removed = true;
        remove_duplicates();
        std::erase_if(tracks_, [](const Tracklet& t) { return t.removed; });

        std::vector<vigil::Track> out;
        for (Tracklet& t : tracks_) {
            if (!t.track.confirmed) continue;
            if (t.state == TrackState::lost && !config_.output_lost_tracks) continue;
            t.track.box = t.filter.box();
            t.track.frames_since_seen = frame - t.last_matched_frame;
            out.push_back(t.track);
        }
        return out;
    }

    void reset() override {
        tracks_.clear();
        clock_.reset();
    }

    std::string name() const override { return "bytetrack"; }

private:
    // Assignment between tracks_[track_ids] and detections[det_ids] on IoU
    // (times the detection score when fuse): pairs must exceed
    // min_similarity, and the matching maximises the summed excess, which is
    // what the reference's lapjv with cost_limit = 1 - min_similarity solves.
    Assignment associate(const std::vector<int>& track_ids, const std::vector<vigil::Detection>& detections,
                         const std::vector<int>& det_ids, float min_similarity, bool fuse) const {
        std::vector<cv::Rect2f> track_boxes, det_boxes;
        track_boxes.reserve(track_ids.size());
        det_boxes.reserve(det_ids.size());
        for (int i : track_ids) track_boxes.push_back(tracks_[size_t(i)].filter.box());
        for (int i : det_ids) det_boxes.push_back(detections[size_t(i)].box);
        std::vector<WeightedPair> candidates;
        for (const BoxPair& pair : overlapping_pairs(track_boxes, det_boxes)) {
            const vigil::Detection& d = detections[size_t(det_ids[size_t(pair.col)])];
            if (!classes_compatible(tracks_[size_t(track_ids[size_t(pair.row)])].track.class_id, d.class_id,
                                    config_.class_aware))
                continue;
            const float similarity = fuse ? pair.iou * d.score : pair.iou;
            if (similarity > min_similarity)
                candidates.push_back({pair.row, pair.col, double(similarity - min_similarity)});
        }
        return assign_max_weight(int(track_ids.size()), int(det_ids.size()), candidates);
    }

    void apply_match(Tracklet& t, const vigil::Detection& d, int frame, double time_s) {
        t.filter.update(d.box);
        t.state = TrackState::tracked;
        record_observation(t, d, frame, time_s);
    }

    void record_observation(Tracklet& t, const vigil::Detection& d, int frame, double time_s) {
        ++t.hits;
        t.last_matched_frame = frame;
        t.track.score = d.score;
        if (d.class_id >= 0 || t.track.class_id < 0) {
            t.track.class_id = d.class_id;
            t.track.label = d.label;
        }
        t.motion.observe(t.track, time_s, t.filter.box(), motion_.settings);
    }

    void start_track(const vigil::Detection& d, int frame, double time_s) {
        Tracklet& t = tracks_.emplace_back();
        t.track.id = next_id_++;
        t.track.first_seen_s = time_s;
        // Tracks from the stream's first frame are confirmed at once, as in
        // the reference: there is no earlier frame they could have missed.
        t.track.confirmed = frame == 1 || config_.min_hits <= 1;
        t.filter.initiate(d.box);
        t.start_frame = frame;
        record_observation(t, d, frame, time_s);
    }

    // A tracked and a lost track covering the same box are one object seen
    // twice; keep the one followed longer.
    void remove_duplicates() {
        std::vector<int> tracked, lost;
        for (size_t i = 0; i < tracks_.size(); ++i) {
            if (tracks_[i].removed) continue;
            (tracks_[i].state == TrackState::tracked ? tracked : lost).push_back(int(i));
        }
        std::vector<cv::Rect2f> tracked_boxes, lost_boxes;
        for (int i : tracked) tracked_boxes.push_back(tracks_[size_t(i)].filter.box());
        for (int i : lost) lost_boxes.push_back(tracks_[size_t(i)].filter.box());
        for (const BoxPair& pair : overlapping_pairs(tracked_boxes, lost_boxes, config_.duplicate_iou_threshold)) {
            Tracklet& a = tracks_[size_t(tracked[size_t(pair.row)])];
            Tracklet& b = tracks_[size_t(lost[size_t(pair.col)])];
            if (!classes_compatible(a.track.class_id, b.track.class_id, config_.class_aware)) continue;
            const int age_a = a.last_matched_frame - a.start_frame;
            const int age_b = b.last_matched_frame - b.start_frame;
            (age_a > age_b ? b : a).removed = true;
        }
    }

    TrackerConfig config_;
    MotionContext motion_;
    StreamClock clock_;
    std::vector<Tracklet> tracks_;
    int next_id_ = 1;
};

}  // namespace

std::unique_ptr<Tracker> make_bytetrack_tracker(const TrackerConfig& config) {
    return std::make_unique<ByteTracker>(config);
}

}  // namespace vigil::track
