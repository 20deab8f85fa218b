#pragma once
// `vigil run`: every camera of a config in one process. Cameras feed analytics
// events into a bounded VLM queue served by a pool of workers; what the queue
// cannot take, and whatever the VLM fails or is late on, gets rule-based
// context instead and is counted, never dropped. Reports become alerts
// (dedup, merge, cooldown), evidence JPEGs and store rows, and the store's
// outbox is delivered to the sinks.
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/pipeline_config.h"
#include "vlm/vlm_engine.h"

namespace vigil::pipeline {

struct RunOptions {
    // End once every file camera has finished (then drain the VLM queue and
    // the outbox). Without it a run lasts until stopped; live cameras never end.
    bool until_eof = false;
    double max_seconds = 0;                // wall-clock limit (0 = none); ends like a stop request
    const std::atomic<bool>* stop = nullptr;  // set (e.g. by a signal handler) to end the run
    bool progress = true;                  // live progress line on stderr
    double drain_timeout_s = 10;           // longest wait for the outbox after the cameras stop
};

struct CameraSummary {
    std::string name;
    std::string state;
    std::string last_error;
    int64_t frames_analysed = 0;
    int64_t frames_dropped = 0;
    int64_t events = 0;
    int64_t alerts = 0;
    double detection_fps = 0;  // frames analysed per second of processing wall time
};

struct RunSummary {
    std::vector<CameraSummary> cameras;
    int64_t events = 0;
    int64_t alerts_sent = 0;       // alerts sent (new, or a dismissed one an update made sent)
    int64_t alerts_dismissed = 0;  // alerts stored dismissed (VLM rejected) and still so
    int64_t alerts_updated = 0;    // events merged into an existing alert
    int64_t reports_completed = 0; // later reports of one event (the VLM's report after its verdict or the rules')
    int64_t alerts_retracted = 0;  // sent alerts a VLM report then dismissed (the update is delivered)
    int64_t alerts_suppressed = 0; // events inside a cooldown
    int64_t vlm_requests = 0;      // events handed to the VLM
    int64_t vlm_answers = 0;       // ... that came back with a valid report
    int64_t vlm_shed = 0;          // events the full VLM queue could not take
    int64_t vlm_timeouts = 0;
    int64_t vlm_errors = 0;        // failed or invalid answers
    int64_t rules_reports = 0;     // alerts whose context came from the rules
    int64_t scene_checks_without_vlm = 0;  // periodic scene checks recorded, not alerted: no VLM answer
    int64_t evidence_missing = 0;  // evidence images that could not be written
    int64_t invalid_alerts = 0;    // alerts failing the schema (a bug; logged)
    int64_t deliveries_done = 0;
    int64_t delivery_failures = 0;
    int64_t deliveries_pending = 0;  // still in the outbox when the run ended
    double wall_s = 0;
    std::string vlm;               // engine name, or empty when alerts used rules only
};

nlohmann::json to_json(const RunSummary& summary);

// Runs the pipeline until the options say stop. `engine` may be null: every
// alert then gets rule-based context. Throws vigil::Error for problems found
// before cameras start (models, store, sinks, prompts) and when every camera
// failed before delivering a frame.
RunSummary run_pipeline(const PipelineConfig& config, std::shared_ptr<vlm::VlmEngine> engine,
                        const RunOptions& options);

}  // namespace vigil::pipeline
