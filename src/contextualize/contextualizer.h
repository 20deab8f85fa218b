#pragma once
// The contextualize stage: turns an analytics event plus evidence frames into
// a VLM request (prompt template + JSON Schema per event type, kept as data
// files under prompts/), and the VLM's answer into report fields with a
// verdict. When no VLM is configured, or it is down, late or overloaded, the
// report is built from the event's facts (source "rules").
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analyze/analyze_event.h"
#include "core/detection.h"
#include "vlm/vlm_engine.h"

namespace vigil::contextualize {

// One frame kept in a camera's ring buffer, with what the tracker saw on it.
struct EvidenceFrame {
    cv::Mat bgr;
    double time_s = 0;
    std::vector<Track> tracks;
};

// Bounded per-camera history of recent frames (downscaled copies are fine).
class FrameRing {
public:
    explicit FrameRing(double seconds = 10.0, size_t max_frames = 64);
    void push(EvidenceFrame frame);
    // Frames nearest to each requested time (duplicates removed), oldest first.
    std::vector<EvidenceFrame> frames_near(const std::vector<double>& times_s) const;
    const EvidenceFrame* latest() const;
    size_t size() const { return frames_.size(); }

private:
    double seconds_;
    size_t max_frames_;
    std::vector<EvidenceFrame> frames_;  // oldest first
};

struct FewShotExample {
    std::string image_path;
    nlohmann::json expected;   // the JSON the model should answer for it
};

struct CameraContext {
    std::string camera;        // config name
    std::string location;      // "5th Ave and Main St"
    std::string site_context;  // free text about the site
    std::vector<FewShotExample> examples;
};

// How the VLM part of a report went.
enum class VlmOutcome {
    not_asked,   // no VLM, or the event never reached it (queue full, shutting down)
    answered,    // a complete, valid answer
    timed_out,   // its deadline passed
    failed,      // an error, an invalid answer or a cancellation
};
const char* to_string(VlmOutcome outcome);

// What the stage produced for one event.
struct ContextReport {
    nlohmann::json report;           // title, summary, description, probable_cause, hazards, people_at_risk,
                                     // emergency_services_seen, recommended_actions, severity, confidence
    std::string verdict;             // confirmed | rejected | uncertain
    std::string reasoning;
    std::string source;              // "vlm" | "rules": who decided the verdict
    std::string fallback_reason;     // why rules wrote the report (empty when the VLM wrote all of it)
    VlmOutcome vlm_outcome = VlmOutcome::not_asked;
    // False for a verdict-first report: the VLM's decision (verdict, severity,
    // a scene check's hazard) is in, the text is still the rules' while the
    // VLM writes the rest; also false when the VLM failed after its verdict.
    bool complete = true;
    std::vector<std::pair<std::string, cv::Mat>> evidence_images;  // role ("before", "trigger", "after", "annotated", "crop") -> BGR image
    std::vector<double> evidence_times_s;  // stream time of each evidence image, same order
    std::vector<Track> tracks;             // the event's tracks as seen on the trigger frame (alert detections)
    double vlm_ms = 0;                     // wall time of the VLM call, waiting included
    double vlm_verdict_ms = 0;             // wall time until the VLM's decision was decoded (0: not streamed)
    vlm::VlmTimings vlm_timings;           // the backend's own breakdown (zero for rules)
    std::string vlm_model;
    std::string prompt_name;               // which prompts/<name>.prompt.txt was used ("" for rules)
};

struct ContextualizerOptions {
    std::filesystem::path prompts_dir;   // prompts/<event_type>.prompt.txt + <name>.schema.json; empty: data_dir()/prompts
    int max_tiles_per_request = 2;       // image-token budget: 512-px tiles across all evidence images
    std::chrono::milliseconds vlm_deadline{60000};
    int max_tokens = 600;                // the schemas' bounds keep a full answer under this
    float temperature = 0.2f;
};

// Receives a verdict-first report (complete == false) from the VLM's own
// thread the moment the answer's decision fields are decoded; keep it short.
using VerdictCallback = std::function<void(ContextReport)>;

class Contextualizer {
public:
    // engine may be null: every report then comes from the rules. Loads and
    // checks every prompt template and schema now; throws vigil::Error naming
    // the file for a missing folder, an unknown placeholder or a bad schema.
    Contextualizer(ContextualizerOptions options, vlm::VlmEngine* engine);
    ~Contextualizer();
    Contextualizer(Contextualizer&&) noexcept;
    Contextualizer& operator=(Contextualizer&&) noexcept;
    // With `on_verdict` and a backend that streams, the decision is handed
    // over as soon as it is decoded, before this returns the whole report.
    ContextReport contextualize(const analyze::Event& event, const CameraContext& camera,
                                const std::vector<EvidenceFrame>& frames, const VerdictCallback& on_verdict = {});
    // The same report built from the event's facts alone (used on VLM failure).
    ContextReport from_rules(const analyze::Event& event, const CameraContext& camera,
                             const std::vector<EvidenceFrame>& frames, const std::string& reason) const;

    // The request contextualize() would send (prompt filled, schema, images,
    // budget, deadline), for inspection and `vigil` debugging commands.
    vlm::VlmRequest build_request(const analyze::Event& event, const CameraContext& camera,
                                  const std::vector<EvidenceFrame>& frames) const;

private:
    struct Prepared;
    Prepared prepare(const analyze::Event& event, const CameraContext& camera,
                     const std::vector<EvidenceFrame>& frames) const;

    ContextualizerOptions options_;
    vlm::VlmEngine* engine_;
    struct Library;
    std::unique_ptr<Library> library_;
};

}  // namespace vigil::contextualize
