#pragma once
// Scenario files: data-driven tests of the analyze stage (tracks in,
// expected events out), in the spirit of DuckDB's .test files. Anyone can add
// a case without writing C++. Format, one directive per line, '#' comments:
//
//   name  <free text>
//   frame <width> <height>
//   fps   <frames per second>
//   time  <start_s> <end_s>                 simulated span, both ends included
//   config                                  analytics config JSON until a line "end"
//   { ... }
//   end
//   track <id> class=<label|id> [size=<w>x<h>] [mpp=<metres per pixel>] [tentative_until=<s>]
//   <t> <x>,<y>                             anchor keyframes of the last track; linear in
//                                           between, the track exists from its first to last
//   lost <t0> <t1>                          frames in (t0, t1] unmatched (frames_since_seen > 0)
//   ignore <event type>...                  event types this scenario does not check
//   expect <type> [key=value]...            one expected event; keys: rule zone phase direction
//                                           track=<id> tracks=<id,id> time=<s>[+-tol] start=<s>[+-tol]
//                                           m.<metric><op><value>[+-tol] with op = < > <= >= =
//
// Every event not ignored must match one expectation and every expectation
// one event.
#include <filesystem>
#include <string>
#include <vector>

#include "analyze/analyze_event.h"
#include "core/detection.h"

namespace vigil::analyze {

struct ScenarioTrack {
    int id = 0;
    int class_id = -1;
    std::string label;
    cv::Size2f size{20, 40};
    double metres_per_px = 0;   // > 0: tracks carry ground velocities
    double tentative_until = -1;
    struct Keyframe {
        double time_s;
        cv::Point2f anchor;
    };
    std::vector<Keyframe> keyframes;
    std::vector<std::pair<double, double>> lost;
};

struct ScenarioCheck {
    std::string key;   // "rule", "time", "m.count", ...
    std::string op;    // "=", "<", ">", "<=", ">="
    std::string value;
    double tolerance = -1;  // -1: the default for the key
};

struct ScenarioExpectation {
    int line = 0;
    std::string text;
    std::string type;
    std::vector<ScenarioCheck> checks;
};

struct Scenario {
    std::filesystem::path file;
    std::string name;
    cv::Size frame_size{1280, 720};
    double fps = 10;
    double start_s = 0, end_s = 0;
    nlohmann::json config;
    std::vector<ScenarioTrack> tracks;
    std::vector<ScenarioExpectation> expected;
    std::vector<std::string> ignored_types;
};

// Throws vigil::Error naming the file and line of a malformed directive.
Scenario load_scenario(const std::filesystem::path& file);

struct ScenarioResult {
    std::vector<Event> events;          // everything the engine emitted
    std::vector<std::string> failures;  // empty = the scenario passed
    int frames = 0;
};

// Simulates the tracker output frame by frame, runs an AnalyticsEngine over
// it and matches the events against the expectations.
ScenarioResult run_scenario(const Scenario& scenario);

// The tracker output of every simulated frame (exposed for benchmarks).
std::vector<std::pair<double, std::vector<Track>>> simulate_tracks(const Scenario& scenario);

}  // namespace vigil::analyze
