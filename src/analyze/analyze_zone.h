#pragma once
// Zones (polygons) and lines (directed segments) of one camera view, and the
// debounced per-track presence in a zone that every zone rule reads.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace vigil::analyze {

// Config coordinates: pixels of the frame, or fractions 0..1 of its width and
// height (so one config fits every resolution of a camera).
enum class Units { pixels, normalized };

struct Zone {
    std::string name;
    std::vector<cv::Point2f> polygon;  // pixels, validated
    cv::Rect2f bounds;                 // of the polygon: a cheap reject before the polygon test
    // Consecutive frames an anchor must be inside (or outside) before the
    // track counts as in (or out): one noisy box does not enter and leave.
    int inertia_frames = 2;

    bool contains(cv::Point2f p) const;
};

struct Line {
    std::string name;
    cv::Point2f a, b;  // pixels; the crossing direction is named looking from a to b
    int inertia_frames = 2;
};

// Reads {"name", "points": [[x,y],...], "inertia_frames"} and validates it.
Zone parse_zone(const nlohmann::json& config, Units units, cv::Size frame, const std::string& where);
// Reads {"name", "a": [x,y], "b": [x,y], "inertia_frames"}.
Line parse_line(const nlohmann::json& config, Units units, cv::Size frame, const std::string& where);

// One track's debounced membership of one zone.
struct ZonePresence {
    bool inside = false;          // debounced
    bool entered = false;         // became inside on this frame
    bool exited = false;          // became outside on this frame
    int streak = 0;               // consecutive frames disagreeing with `inside`
    double streak_start_s = 0;
    cv::Point2f streak_anchor;
    double enter_s = 0;           // first frame of the current (or last) visit
    double last_in_s = 0;         // last frame the anchor was seen inside in this visit
    cv::Point2f enter_anchor;

    // Seconds inside so far in this visit (last visit once it has ended).
    double dwell_s() const { return last_in_s - enter_s; }

    // Feeds one observed frame; `raw_inside` is the undebounced test.
    void observe(bool raw_inside, cv::Point2f anchor, double time_s, int inertia_frames);
    // A frame where the track was not matched (lost): keep state, no transitions.
    void hold() { entered = exited = false; }
};

}  // namespace vigil::analyze
