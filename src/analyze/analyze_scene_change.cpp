#include "analyze/analyze_scene_change.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "analyze/analyze_config.h"
#include "core/error.h"

namespace vigil::analyze {

SceneChangeConfig parse_scene_change_config(const nlohmann::json& config, const std::string& where) {
    ConfigReader reader(config, where);
    SceneChangeConfig out;
    out.name = reader.string_or("name", out.name);
    out.width = reader.integer_or("width", out.width, 8, 1024);
    out.threshold = reader.number_or("threshold", out.threshold, 0.001, 1);
    out.rearm_ratio = reader.number_or("rearm_ratio", out.rearm_ratio, 0, 1);
    out.period_s = reader.number_or("period_s", out.period_s, 0, 1e7);
    out.adapt_rate = reader.number_or("adapt_rate", out.adapt_rate, 0, 1);
    reader.finish();
    return out;
}

SceneChangeScorer::SceneChangeScorer(SceneChangeConfig config) : config_(std::move(config)) {}

const cv::Mat& SceneChangeScorer::downscale(const cv::Mat& frame) {
    if (frame.empty()) throw Error("scene_change_score: the frame is empty");
    if (frame.depth() != CV_8U || (frame.channels() != 1 && frame.channels() != 3 && frame.channels() != 4)) {
        throw Error(fmt::format("scene_change_score: expected an 8-bit gray, BGR or BGRA frame, got type {}",
                                cv::typeToString(frame.type())));
    }
    const cv::Mat* gray = &frame;
    if (frame.channels() != 1) {
        cv::cvtColor(frame, gray_, frame.channels() == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY);
        gray = &gray_;
    }
    int height = std::max(1, int(double(config_.width) * gray->rows / gray->cols + 0.5));
    cv::resize(*gray, small_, cv::Size(config_.width, height), 0, 0, cv::INTER_AREA);
    return small_;
}

SceneChangeScore SceneChangeScorer::compare(const cv::Mat& small) {
    SceneChangeScore out;
    if (reference_.empty()) return out;
    // A new aspect ratio (a swapped camera, a changed stream profile) is
    // compared against the old reference stretched to it, so it can fire
    // rather than quietly becoming the new normal.
    if (reference_.size() != small.size()) cv::resize(reference_, reference_, small.size(), 0, 0, cv::INTER_AREA);
    small.convertTo(small_float_, CV_32F);
    cv::absdiff(small_float_, reference_, diff_);
    out.mean_abs_diff = cv::mean(diff_)[0] / 255.0;

    reference_.convertTo(reference_u8_, CV_8U);
    std::array<int, 256> histogram{}, reference_histogram{};
    for (int y = 0; y < small.rows; ++y) {
        const uint8_t* a = small.ptr<uint8_t>(y);
        const uint8_t* b = reference_u8_.ptr<uint8_t>(y);
        for (int x = 0; x < small.cols; ++x) {
            ++histogram[a[x]];
            ++reference_histogram[b[x]];
        }
    }
    // In 1-D the earth mover's distance is the area between the two cumulative histograms.
    long long cumulative = 0, area = 0;
    for (int level = 0; level < 256; ++level) {
        cumulative += histogram[size_t(level)] - reference_histogram[size_t(level)];
        area += cumulative < 0 ? -cumulative : cumulative;
    }
    out.histogram_distance = double(area) / (double(small.total()) * 255.0);
    out.score = std::max(out.mean_abs_diff, out.histogram_distance);
    return out;
}

SceneChangeScore SceneChangeScorer::score(const cv::Mat& frame) {
    return compare(downscale(frame));
}

std::optional<Event> SceneChangeScorer::update(const cv::Mat& frame, double time_s) {
    const cv::Mat& small = downscale(frame);
    if (reference_.empty()) {
        small.convertTo(reference_, CV_32F);
        last_fired_s_ = time_s;
        armed_ = true;
        return std::nullopt;
    }
    SceneChangeScore s = compare(small);
    cv::accumulateWeighted(small_float_, reference_, config_.adapt_rate);

    const char* reason = nullptr;
    if (armed_ && s.score >= config_.threshold) {
        reason = "change";
        armed_ = false;
    } else if (!armed_ && s.score < config_.threshold * config_.rearm_ratio) {
        armed_ = true;
    }
    if (reason == nullptr && config_.period_s > 0 && time_s - last_fired_s_ + 1e-6 >= config_.period_s) {
        reason = "periodic";
    }
    if (reason == nullptr) return std::nullopt;
    last_fired_s_ = time_s;

    Event event;
    event.rule = config_.name;
    event.type = "scene_change";
    event.time_s = time_s;
    event.start_s = time_s;
    event.metrics = {{"score", std::round(s.score * 1000) / 1000},
                     {"mean_abs_diff", std::round(s.mean_abs_diff * 1000) / 1000},
                     {"histogram_distance", std::round(s.histogram_distance * 1000) / 1000},
                     {"threshold", config_.threshold},
                     {"reason", reason}};
    event.summary = std::string_view(reason) == "change"
                        ? fmt::format("The scene changed: score {:.2f} is above {:g}.", s.score, config_.threshold)
                        : fmt::format("Periodic scene check (change score {:.2f}).", s.score);
    return event;
}

}  // namespace vigil::analyze
