#pragma once
// Pieces both tracker algorithms share; not part of the public interface.
#include <memory>
#include <optional>

#include "core/detection.h"
#include "track/track_ground_plane.h"
#include "track/track_motion.h"
#include "track/tracker.h"

namespace vigil::track {

std::unique_ptr<Tracker> make_bytetrack_tracker(const TrackerConfig& config);
std::unique_ptr<Tracker> make_sort_tracker(const TrackerConfig& config);

// Stream time bookkeeping: throws vigil::Error naming tracker_name when time
// runs backwards or is not finite.
class StreamClock {
public:
    void advance(double time_s, const std::string& tracker_name);
    void reset() {
        last_time_s_.reset();
        frame_index_ = 0;
    }
    int frame_index() const { return frame_index_; }  // 1 for the first frame after reset

private:
    std::optional<double> last_time_s_;
    int frame_index_ = 0;
};

// Finite, positive-size box and a finite score.
bool is_usable_detection(const vigil::Detection& detection);

// Unknown classes (-1) match anything.
bool classes_compatible(int track_class, int detection_class, bool class_aware);

// The ground plane a config asks for (null when uncalibrated) and the motion
// settings pointing at it; kept together so the pointer stays valid.
struct MotionContext {
    explicit MotionContext(const TrackerConfig& config);
    std::unique_ptr<GroundPlane> ground;
    MotionSettings settings;
};

}  // namespace vigil::track
