#pragma once
// Shared by the contextualize and alert suites: a scripted VlmEngine that
// answers like a real backend (validating against the request's schema),
// and a synthetic road scene with tracked vehicles.
#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "analyze/analyze_event.h"
#include "contextualize/contextualizer.h"
#include "core/error.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::contextualize::testing {

// Answers each request with the next scripted step and records the requests.
class ScriptedVlmEngine : public vlm::VlmEngine {
public:
    enum class Kind { reply, timeout, error };
    struct Step {
        Kind kind = Kind::reply;
        std::string text;  // reply: raw model output; error: the message
    };

    void reply(const nlohmann::json& answer) { steps_.push_back({Kind::reply, answer.dump()}); }
    void reply_text(std::string text) { steps_.push_back({Kind::reply, std::move(text)}); }
    void time_out() { steps_.push_back({Kind::timeout, "deadline passed after 60000 ms"}); }
    void fail(std::string message) { steps_.push_back({Kind::error, std::move(message)}); }

    vlm::VlmResponse generate(const vlm::VlmRequest& request) override {
        std::lock_guard lock(mutex_);
        requests.push_back(request);
        Step step;
        if (answer_for) {
            step.text = answer_for(request);
        } else {
            if (steps_.empty()) throw Error("scripted engine: no reply left for this request");
            step = steps_.front();
            steps_.pop_front();
        }
        if (step.kind == Kind::timeout) throw TimeoutError(step.text);
        if (step.kind == Kind::error) throw Error(step.text);
        vlm::VlmResponse response;
        response.text = streaming ? in_answer_order(step.text, request) : step.text;
        response.model = name();
        response.finish_reason = "stop";
        if (streaming && request.on_text) {
            // As a model writes it: a few bytes at a time, keys in the schema's order.
            for (size_t at = 0; at < response.text.size(); at += 5) request.on_text(response.text.substr(at, 5));
        }
        // What every backend does with a schema: the JSON validated, or vigil::Error.
        if (request.json_schema) response.json = vlm::parse_and_validate(*request.json_schema, step.text);
        return response;
    }
    std::string name() const override { return "scripted:fake.gguf"; }
    bool streams() const override { return streaming; }

    // Streams each reply through VlmRequest::on_text before returning it.
    bool streaming = false;
    // When set, computes every reply from the request instead of the queue.
    std::function<std::string(const vlm::VlmRequest&)> answer_for;

    std::vector<vlm::VlmRequest> requests;

private:
    // The reply with its keys in the order of the schema's "required" list,
    // the order the grammar makes a real model write them.
    static std::string in_answer_order(const std::string& text, const vlm::VlmRequest& request) {
        nlohmann::json answer = nlohmann::json::parse(text, nullptr, false);
        if (!answer.is_object() || !request.json_schema) return text;
        std::string out = "{";
        auto add = [&](const std::string& key) {
            out += (out.size() > 1 ? "," : "") + nlohmann::json(key).dump() + ":" + answer[key].dump();
        };
        std::vector<std::string> order;
        for (const auto& key : request.json_schema->value("required", nlohmann::json::array()))
            if (key.is_string() && answer.contains(key.get<std::string>())) order.push_back(key.get<std::string>());
        for (const auto& [key, value] : answer.items())
            if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
        for (const std::string& key : order) add(key);
        return out + "}";
    }

    std::mutex mutex_;
    std::deque<Step> steps_;
};

// A good answer to report.schema.json.
inline nlohmann::json confirmed_answer() {
    return {{"verdict", "confirmed"},
            {"reasoning", "Vehicles 3 and 5 are queued behind a stopped car in the right lane."},
            {"title", "Congestion behind a collision"},
            {"summary", "Traffic congestion at 5th Ave and Main St."},
            {"description", "Traffic congestion at 5th Ave and Main St. A minor rear-end collision appears to be the "
                            "cause. No visible injuries. Emergency vehicles are not present."},
            {"probable_cause", "Minor rear-end collision in the right lane."},
            {"hazards", {"Stopped vehicles in the right lane"}},
            {"people_at_risk", false},
            {"emergency_services_seen", false},
            {"recommended_actions", {"Dispatch a patrol to clear the lane."}},
            {"severity", "high"},
            {"confidence", 0.82}};
}

inline nlohmann::json answer_with_verdict(const std::string& verdict) {
    nlohmann::json answer = confirmed_answer();
    answer["verdict"] = verdict;
    return answer;
}

constexpr int kFrameWidth = 1280;
constexpr int kFrameHeight = 720;

// A road with cars drawn at their track boxes; `shift` moves them along.
inline EvidenceFrame road_frame(double time_s, float shift, const std::vector<int>& ids = {3, 5}) {
    EvidenceFrame frame;
    frame.time_s = time_s;
    frame.bgr = cv::Mat(kFrameHeight, kFrameWidth, CV_8UC3, cv::Scalar(90, 110, 100));
    cv::rectangle(frame.bgr, cv::Rect(0, 300, kFrameWidth, 300), cv::Scalar(70, 70, 70), cv::FILLED);
    for (size_t i = 0; i < ids.size(); ++i) {
        Track track;
        track.id = ids[i];
        track.class_id = 2;
        track.label = "car";
        track.score = 0.9f - 0.1f * float(i);
        track.box = cv::Rect2f(300.f + 180.f * float(i) + shift, 380.f, 140.f, 90.f);
        cv::rectangle(frame.bgr, cv::Rect(track.box), cv::Scalar(40, 40, 200), cv::FILLED);
        frame.tracks.push_back(track);
    }
    return frame;
}

inline std::vector<EvidenceFrame> road_frames() {
    return {road_frame(10.0, 0.f), road_frame(14.0, 20.f), road_frame(18.0, 25.f)};
}

inline analyze::Event congestion_event() {
    analyze::Event event;
    event.rule = "north_lane_jam";
    event.type = "congestion";
    event.phase = analyze::EventPhase::start;
    event.zone = "north_lane";
    event.time_s = 14.0;
    event.start_s = 6.0;
    event.track_ids = {3, 5};
    event.metrics = {{"count", 7}, {"mean_speed", 1.25}, {"speed_unit", "km/h"}, {"duration_s", 8.0},
                     {"min_count", 5}};
    event.summary = "7 slow vehicles (mean speed 1.2 km/h) in zone \"north_lane\" for 8.0 s.";
    return event;
}

inline CameraContext main_street_camera() {
    CameraContext camera;
    camera.camera = "cam_main";
    camera.location = "5th Ave and Main St";
    camera.site_context = "Four-lane arterial road with a bus stop on the north side.";
    return camera;
}

}  // namespace vigil::contextualize::testing
