#pragma once
// The analyze stage of one camera: zones, lines and rules applied to the
// tracker's output, frame by frame, producing events.
//
// Config (nlohmann::json; the YAML loader produces the same shape):
//   {
//     "units": "pixels" | "normalized",      coordinates of zones and lines (default pixels)
//     "anchor": "bottom_centre" | "centre",  point of a box that must be in a zone (default bottom_centre)
//     "confirmed_only": true,                ignore tracks the tracker has not confirmed yet
//     "zones": [{"name", "points": [[x, y], ...], "inertia_frames": 2}],
//     "lines": [{"name", "a": [x, y], "b": [x, y], "inertia_frames": 2}],
//     "rules": [{"name", "type", ...}],      see analyze_rules.h for each type's keys
//     "scene_change": {...}                  optional, see analyze_scene_change.h
//   }
#include <memory>
#include <optional>
#include <unordered_map>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_rules.h"
#include "analyze/analyze_scene_change.h"

namespace vigil::analyze {

class AnalyticsEngine {
public:
    // Throws vigil::Error naming the zone, line or rule and the key at fault.
    AnalyticsEngine(const nlohmann::json& config, cv::Size frame_size);

    // One frame of tracker output at stream time `time_s` (non-decreasing).
    // Tracks with frames_since_seen > 0 keep their state without moving it;
    // a track missing from `tracks` has been removed by the tracker, and ends
    // its visits (zone_exit with reason track_removed).
    std::vector<Event> update(const std::vector<Track>& tracks, double time_s);
    // Same, appending to `out` (no allocation when nothing fires).
    void update(const std::vector<Track>& tracks, double time_s, std::vector<Event>& out);

    // Scene-change check of a decoded frame; empty unless the config has
    // "scene_change".
    std::vector<Event> update_frame(const cv::Mat& frame, double time_s);

    const std::vector<Zone>& zones() const { return zones_; }
    const std::vector<Line>& lines() const { return lines_; }
    size_t rule_count() const { return rules_.size(); }
    size_t tracks_in_memory() const { return memory_.size(); }

private:
    struct TrackMemory {
        int class_id = -1;
        std::string label;
        cv::Point2f anchor;
        std::vector<ZonePresence> zones;
        double metres_per_px = 0;
        uint64_t generation = 0;
    };

    cv::Size frame_size_;
    Anchor anchor_ = Anchor::bottom_centre;
    bool confirmed_only_ = true;
    std::vector<Zone> zones_;
    std::vector<Line> lines_;
    std::vector<std::unique_ptr<Rule>> rules_;
    std::optional<SceneChangeScorer> scene_change_;

    std::unordered_map<int, TrackMemory> memory_;
    uint64_t generation_ = 0;
    std::vector<TrackView> views_;   // scratch, reused every frame
    std::vector<int> removed_;       // scratch
};

}  // namespace vigil::analyze
