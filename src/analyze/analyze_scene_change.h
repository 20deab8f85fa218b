#pragma once
// scene_change_score: how different a frame looks from a slowly adapting
// reference of the same camera. Drives the periodic VLM scene checks and
// catches a moved, blocked or blinded camera.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "analyze/analyze_event.h"

namespace vigil::analyze {

struct SceneChangeConfig {
    std::string name = "scene_change";  // "name": the rule name in events
    int width = 64;                  // "width": frames are scored at this width (height keeps the aspect)
    double threshold = 0.15;         // "threshold": score that fires a change event
    double rearm_ratio = 0.5;        // "rearm_ratio": after a change fires, the score must fall below
                                     // threshold * rearm_ratio before another can fire
    double period_s = 0;             // "period_s": also fire every period_s (0 = never)
    double adapt_rate = 0.05;        // "adapt_rate": weight of each frame in the running reference
};

SceneChangeConfig parse_scene_change_config(const nlohmann::json& config, const std::string& where);

struct SceneChangeScore {
    double mean_abs_diff = 0;        // 0..1, mean |frame - reference| of the downscaled gray images
    // 0..1, earth mover's distance between their gray-level histograms (in
    // gray levels / 255): robust to noise that nudges flat areas across bin
    // edges, unlike bin-by-bin distances.
    double histogram_distance = 0;
    double score = 0;                // the larger of the two
};

class SceneChangeScorer {
public:
    explicit SceneChangeScorer(SceneChangeConfig config = {});

    // Compares `frame` (8-bit gray or BGR) with the reference without
    // learning it; all zeros before the first update().
    SceneChangeScore score(const cv::Mat& frame);
    // Scores the frame, blends it into the reference and returns a
    // scene_change event when the score crossed the threshold or the period
    // elapsed.
    std::optional<Event> update(const cv::Mat& frame, double time_s);

    bool has_reference() const { return !reference_.empty(); }
    const SceneChangeConfig& config() const { return config_; }

private:
    const cv::Mat& downscale(const cv::Mat& frame);
    SceneChangeScore compare(const cv::Mat& small);

    SceneChangeConfig config_;
    cv::Mat gray_, small_, small_float_, reference_, reference_u8_, diff_;
    bool armed_ = true;
    double last_fired_s_ = 0;
};

}  // namespace vigil::analyze
