#pragma once
// What the analyze stage emits: one self-describing record per thing that
// happened, ready for the alert pipeline to turn into a VLM request or alert.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vigil::analyze {

// instant: a moment (a line crossing, a zone entry). start / end: the two
// edges of an episode (congestion forming, then clearing); each episode fires
// one start, so a persistent condition never spams.
enum class EventPhase { instant, start, end };

const char* to_string(EventPhase phase);

struct Event {
    std::string rule;          // rule instance name from the config, e.g. "north_lane_jam"
    std::string type;          // zone_enter, zone_exit, line_cross, dwell, loitering, stationary_object,
                               // congestion, gathering, wrong_way, scene_change
    EventPhase phase = EventPhase::instant;
    std::string zone;          // zone or line name; empty for frame-wide rules
    double time_s = 0;         // stream time at which the rule decided
    double start_s = 0;        // when the condition began (the visit, the episode)
    std::vector<int> track_ids;
    std::string direction;     // line_cross: left_to_right / right_to_left
    nlohmann::json metrics = nlohmann::json::object();  // the measured values that fired it
    std::string summary;       // one factual sentence
};

void to_json(nlohmann::json& out, const Event& event);

}  // namespace vigil::analyze
