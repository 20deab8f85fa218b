#include "analyze/analyze_event.h"

namespace vigil::analyze {

const char* to_string(EventPhase phase) {
    switch (phase) {
        case EventPhase::start: return "start";
        case EventPhase::end: return "end";
        case EventPhase::instant: break;
    }
    return "instant";
}

void to_json(nlohmann::json& out, const Event& event) {
    out = nlohmann::json{{"rule", event.rule},       {"type", event.type},   {"phase", to_string(event.phase)},
                         {"time_s", event.time_s},   {"start_s", event.start_s},
                         {"track_ids", event.track_ids}, {"metrics", event.metrics},
                         {"summary", event.summary}};
    if (!event.zone.empty()) out["zone"] = event.zone;
    if (!event.direction.empty()) out["direction"] = event.direction;
}

}  // namespace vigil::analyze
