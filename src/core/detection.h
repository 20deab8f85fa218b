#pragma once
// What flows down the pipeline with each frame: detections from the detect
// stage, then tracks from the track stage. Boxes are in frame pixels
// (x, y = top-left corner).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace vigil {

struct Detection {
    cv::Rect2f box;
    int class_id = -1;      // index into the detector's class names; -1 = unknown (motion blob)
    std::string label;      // class name, e.g. "car"
    float score = 0.f;      // confidence in [0, 1]
};

struct TrackPoint {
    double time_s = 0;      // stream time of the observation
    cv::Rect2f box;
};

struct Track {
    int id = 0;                       // stable over the track's life, never reused in a stream
    cv::Rect2f box;                   // current (filtered) box
    int class_id = -1;
    std::string label;
    float score = 0.f;                // score of the last matched detection
    cv::Point2f velocity_px_s;        // of the bottom-centre point
    bool has_ground_velocity = false; // set when the camera has a ground-plane calibration
    cv::Point2f velocity_m_s;
    double first_seen_s = 0;
    double last_seen_s = 0;           // last time a detection matched
    double stationary_s = 0;          // how long the track has barely moved
    int frames_since_seen = 0;        // 0 = matched this frame
    bool confirmed = false;           // past the tracker's birth threshold
    std::vector<TrackPoint> history;  // recent matched positions, oldest first (bounded)

    cv::Point2f bottom_centre() const { return {box.x + box.width * 0.5f, box.y + box.height}; }
};

}  // namespace vigil
