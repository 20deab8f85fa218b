#pragma once
// The `vigil run` configuration: one YAML file describing every camera and the
// shared VLM, alert policy, store and sinks. Loading validates everything it
// can before any camera opens; every error names the file, the line, the
// camera and the key, e.g.
//   configs/x.yaml:14: camera "north": key "detector.name": unknown detector "yolo9"; known: ...
// Unknown keys are errors, so a typo never silently falls back to a default.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alert/alert_builder.h"
#include "contextualize/contextualizer.h"
#include "detect/detector.h"
#include "track/tracker.h"

namespace vigil::pipeline {

struct CameraConfig {
    std::string name;
    std::string location;       // human description of the place, goes into prompts and alerts
    std::string site_context;   // free text about the site for the VLM
    std::string source;         // URL or path; relative paths are resolved against the config file
    double fps = 0;             // frames analysed per second of stream time; 0 = every frame
    bool realtime = false;      // files: pace frames at stream speed (as a live camera would)
    bool loop = false;          // files: start again at the end
    double max_stream_s = 0;    // stop this camera after this much stream time (0 = no limit)
    detect::DetectorConfig detector;
    track::TrackerConfig tracker;
    nlohmann::json analytics = nlohmann::json::object();  // AnalyticsEngine config
    std::vector<contextualize::FewShotExample> examples;
    // When an alert goes out for events the VLM reviews: the camera's `send`,
    // and `send` on a rule for that rule's events.
    alert::SendMode send = alert::SendMode::on_verdict;
    std::map<std::string, alert::SendMode> send_by_rule;
    alert::SendMode send_mode_for(const std::string& rule) const {
        auto it = send_by_rule.find(rule);
        return it == send_by_rule.end() ? send : it->second;
    }
    bool enabled = true;
    int line = 0;               // where the camera is defined, for runtime messages
};

struct VlmConfig {
    std::string name;           // catalog name
    std::string model;          // text GGUF
    std::string mmproj;         // vision projector GGUF
    std::string lora;           // LoRA adapter GGUF for the embedded model (site fine-tune)
    std::string server;         // OpenAI-compatible base URL
    std::string server_model;
    int threads = 0;
    double deadline_s = 60;     // per request, from the moment a worker takes the event
    int max_queue = 4;          // events waiting for a VLM verdict beyond `parallel`; more get the rules' report
    // Events under review at once (a thread each). The embedded model decodes
    // `parallel` of them together in one context; one whose verdict is out
    // steps aside for a newer event, so a new verdict does not wait for
    // another event's report. Reports left behind finish when the VLM has
    // time, or fall back to the rules' words at their deadline.
    int workers = 16;
    int parallel = 2;
    int prefix_cache_mb = 256;  // embedded model: memory for reused prompt prefixes (0: off)
    int max_tiles = 2;          // image-token budget per request
    bool configured() const { return !name.empty() || !model.empty() || !mmproj.empty() || !server.empty(); }
};

struct StoreConfig {
    std::filesystem::path db = "vigil.sqlite";
    std::filesystem::path evidence_dir = "evidence";
    int retention_days = 30;    // 0 keeps everything
};

struct SceneCheckConfig {
    double period_s = 0;        // ask for a scene check this often (0 = only on change)
    double threshold = 0;       // scene-change score that fires a check (0 = scene checks off)
    bool enabled() const { return period_s > 0 || threshold > 0; }
};

struct PipelineConfig {
    std::filesystem::path file;  // where it was loaded from (messages, relative paths)
    std::vector<CameraConfig> cameras;
    VlmConfig vlm;
    std::filesystem::path prompts_dir;  // empty: the built-in prompts/ folder
    alert::AlertPolicy alert;
    StoreConfig store;
    std::vector<nlohmann::json> sinks;  // make_sink configs, each with "type" and "name"
    SceneCheckConfig scene_check;
};

// Reads and validates `path`. `source_overrides` come from the command line:
// "URL" replaces the source of a one-camera config, "CAMERA=URL" the named
// camera's (relative paths there are relative to the working directory).
// Throws vigil::Error as described above.
PipelineConfig load_pipeline_config(const std::filesystem::path& path,
                                    const std::vector<std::string>& source_overrides = {});

// Same, from text; `file` names it in messages and anchors relative paths.
PipelineConfig parse_pipeline_config(const std::string& yaml_text, const std::filesystem::path& file,
                                     const std::vector<std::string>& source_overrides = {});

// True when `source` is a file or folder (ends), false for live URLs and devices.
bool is_file_source(const std::string& source);

}  // namespace vigil::pipeline
