#pragma once
// Alert documents for store and sink tests: complete per
// schemas/alert.schema.json, with the fields a test varies as parameters.
#include <nlohmann/json.hpp>
#include <string>

namespace vigil::testing {

inline nlohmann::json make_test_alert(const std::string& id, const std::string& camera = "dock-1",
                                      const std::string& type = "obstruction",
                                      const std::string& end_time = "2030-01-01T12:00:00Z",
                                      const std::string& description = "A pallet blocks the fire exit door.") {
    return {
        {"schema_version", 1},
        {"id", id},
        {"camera", camera},
        {"location", "Loading dock, north wall"},
        {"start_time", end_time},
        {"end_time", end_time},
        {"type", type},
        {"severity", "high"},
        {"title", "Exit blocked on " + camera},
        {"summary", "An object has been left in front of an exit."},
        {"description", description},
        {"probable_cause", "Goods staged during unloading"},
        {"hazards", {"blocked evacuation route"}},
        {"people_at_risk", false},
        {"emergency_services_seen", false},
        {"recommended_actions", {"Move the object"}},
        {"confidence", 0.8},
        {"reasoning", "The object stayed in the exit zone for 10 minutes."},
        {"verdict", "confirmed"},
        {"context", {{"source", "rules"}}},
        {"evidence",
         {{"images", nlohmann::json::array({{{"role", "trigger"}, {"path", nullptr}, {"missing", true}}})},
          {"detections", nlohmann::json::array()},
          {"rule", "stationary_object"},
          {"metrics", nlohmann::json::object()}}},
        {"models", {{"detector", "test"}}},
        {"timings", {{"event_to_alert_ms", 12.5}}},
    };
}

}  // namespace vigil::testing
