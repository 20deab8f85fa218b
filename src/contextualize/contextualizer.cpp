// The contextualize stage: event + evidence -> VLM request -> report, with a
// report from the rules alone whenever the VLM cannot answer in time.
#include "contextualize/contextualizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>

#include "contextualize/contextualize_evidence.h"
#include "contextualize/contextualize_prompt.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/paths.h"
#include "core/text.h"
#include "vlm/vlm_json_schema.h"
#include "vlm/vlm_json_stream.h"

namespace vigil::contextualize {

using nlohmann::json;

namespace {

std::string format_value(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_float()) return fmt::format("{:g}", value.get<double>());
    return value.dump();
}

std::string format_metrics(const json& metrics) {
    if (!metrics.is_object() || metrics.empty()) return "none";
    std::vector<std::string> parts;
    for (const auto& [key, value] : metrics.items()) parts.push_back(fmt::format("{}: {}", key, format_value(value)));
    return fmt::format("{}", fmt::join(parts, ", "));
}

std::string describe_track(const Track& track) {
    std::string text = fmt::format("#{}", track.id);
    if (!track.label.empty()) text += " " + track.label;
    else if (track.class_id < 0) text += " unknown object";
    if (track.score > 0) text += fmt::format(" ({:.2f})", track.score);
    return text;
}

std::string format_tracks(const analyze::Event& event, const std::vector<Track>& tracks) {
    std::vector<std::string> parts;
    for (int id : event.track_ids) {
        auto it = std::find_if(tracks.begin(), tracks.end(), [&](const Track& t) { return t.id == id; });
        parts.push_back(it != tracks.end() ? describe_track(*it) : fmt::format("#{}", id));
    }
    return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string format_time(const analyze::Event& event) {
    std::string text = fmt::format("{:.1f} s into the stream", event.time_s);
    if (event.start_s < event.time_s - 0.05)
        text += fmt::format(" (the condition began at {:.1f} s, {:.1f} s earlier)", event.start_s,
                            event.time_s - event.start_s);
    return text;
}

// The answer's keys in the order the grammar makes the model write them, so
// an example reads like the answer expected.
std::string in_schema_order(const json& answer, const json& schema) {
    if (!answer.is_object()) return answer.dump();
    nlohmann::ordered_json ordered;
    for (const json& key : schema.value("required", json::array()))
        if (answer.contains(key.get<std::string>())) ordered[key.get<std::string>()] = answer[key.get<std::string>()];
    for (const auto& [key, value] : answer.items())
        if (!ordered.contains(key)) ordered[key] = value;
    return ordered.dump();
}

std::string zone_name(const analyze::Event& event) { return event.zone.empty() ? "whole frame" : event.zone; }

// ---- the rules' own report --------------------------------------------------

std::string rules_severity(const analyze::Event& event) {
    if (event.phase == analyze::EventPhase::end) return "info";
    static const std::map<std::string, std::string> by_type = {
        {"congestion", "medium"}, {"stationary_object", "medium"}, {"gathering", "medium"},
        {"wrong_way", "high"},    {"loitering", "low"},            {"dwell", "low"},
        {"zone_enter", "low"},    {"zone_exit", "info"},           {"line_cross", "info"},
        {"scene_change", "low"}};
    auto it = by_type.find(event.type);
    return it == by_type.end() ? "low" : it->second;
}

// How far past its threshold the rule fired: a rule that barely fired is
// less sure than one far beyond it. Rules alone never claim certainty.
double rules_confidence(const analyze::Event& event) {
    static const std::vector<std::pair<const char*, const char*>> measure_threshold = {
        {"count", "min_count"}, {"stationary_s", "min_s"}, {"dwell_s", "min_s"}, {"score", "threshold"}};
    const json& m = event.metrics;
    for (const auto& [measure, threshold] : measure_threshold) {
        if (!m.is_object() || !m.contains(measure) || !m.contains(threshold)) continue;
        if (!m[measure].is_number() || !m[threshold].is_number()) continue;
        double limit = m[threshold].get<double>();
        if (limit <= 0) continue;
        double strength = m[measure].get<double>() / limit;
        return std::round(std::clamp(0.4 + 0.2 * (strength - 1.0), 0.4, 0.75) * 100) / 100;
    }
    return 0.5;
}

std::string rules_title(const analyze::Event& event, const std::vector<Track>& tracks, const std::string& camera) {
    const std::string zone = event.zone.empty() ? "" : fmt::format(" in {}", event.zone);
    const bool ended = event.phase == analyze::EventPhase::end;
    std::string object = "object";
    if (!tracks.empty() && !tracks.front().label.empty()) object = tracks.front().label;
    if (event.type == "congestion") return fmt::format("Congestion{}{}", ended ? " cleared" : "", zone);
    if (event.type == "stationary_object")
        return ended ? fmt::format("Stationary {} moved{}", object, zone) : fmt::format("Stationary {}{}", object, zone);
    if (event.type == "gathering") return fmt::format("Gathering{}{}", ended ? " dispersed" : "", zone);
    if (event.type == "scene_change") return fmt::format("Scene check on {}", camera);
    if (event.type == "wrong_way") return fmt::format("Wrong-way {}{}", object, zone);
    std::string type = event.type;
    std::replace(type.begin(), type.end(), '_', ' ');
    if (!type.empty()) type[0] = char(std::toupper(static_cast<unsigned char>(type[0])));
    return fmt::format("{}{}", type.empty() ? "Event" : type, zone);
}

std::vector<std::string> rules_actions(const analyze::Event& event, const std::string& camera) {
    std::vector<std::string> actions = {fmt::format("Review the evidence images and the live view of {}.", camera)};
    if (event.type == "congestion") actions.push_back("Check the road beyond the zone for a collision or obstruction.");
    if (event.type == "stationary_object") actions.push_back("Check whether the object blocks a lane.");
    if (event.type == "gathering") actions.push_back("Check whether anyone needs help.");
    if (event.type == "scene_change") actions.push_back("Check that the camera is still aimed and unobstructed.");
    if (event.type == "wrong_way") actions.push_back("Warn oncoming traffic if the vehicle is still moving.");
    for (auto& action : actions) action = truncate_utf8(action, 100);
    return actions;
}

ContextReport rules_report(const analyze::Event& event, const CameraContext& camera, Evidence evidence,
                           const std::string& reason) {
    ContextReport out;
    const std::string title = truncate_utf8(rules_title(event, evidence.tracks, camera.camera), 80);
    const std::string summary = truncate_utf8(event.summary.empty() ? title + "." : event.summary, 400);
    std::string where = camera.location.empty() ? "" : fmt::format(" at {}", camera.location);
    std::string rule = fmt::format("rule \"{}\" ({})", event.rule, event.type);
    if (!event.zone.empty()) rule += fmt::format(" in zone \"{}\"", event.zone);
    std::string description = fmt::format(
        "{} Camera {}{}: {} at {}. Tracks: {}. Measured: {}. Not reviewed by a vision-language model ({}); the cause "
        "is unknown.",
        summary, camera.camera, where, rule, format_time(event), format_tracks(event, evidence.tracks),
        format_metrics(event.metrics), reason);
    out.report = {{"title", title},
                  {"summary", summary},
                  {"description", truncate_utf8(description, 2000)},
                  {"probable_cause", "Unknown: only the analytics rule has assessed this event."},
                  {"hazards", json::array()},
                  {"people_at_risk", false},
                  {"emergency_services_seen", false},
                  {"recommended_actions", rules_actions(event, camera.camera)},
                  {"severity", rules_severity(event)},
                  {"confidence", rules_confidence(event)}};
    out.verdict = "uncertain";
    out.reasoning = truncate_utf8("Rules only: " + reason, 2000);
    out.source = "rules";
    out.fallback_reason = reason;
    out.tracks = std::move(evidence.tracks);
    for (EvidenceView& view : evidence.views) {
        out.evidence_images.emplace_back(view.role, std::move(view.bgr));
        out.evidence_times_s.push_back(view.time_s);
    }
    return out;
}

// The answer fields that decide the alert, in the schema's own order: they
// come first in the answer, so the alert can go before the rest is written.
std::vector<std::string> decision_fields(const json& schema) {
    static const std::vector<std::string> deciding = {"hazard_found", "hazard_type", "verdict", "severity"};
    std::vector<std::string> out;
    for (const json& key : schema.value("required", json::array()))
        if (key.is_string() && std::find(deciding.begin(), deciding.end(), key.get<std::string>()) != deciding.end())
            out.push_back(key.get<std::string>());
    return out;
}

// The verdict an answer gives: a scene check that found no hazard has
// nothing to alert on, whatever its verdict field says.
std::string verdict_of(const json& answer) {
    std::string verdict = answer.value("verdict", "uncertain");
    if (answer.contains("hazard_found") && answer["hazard_found"] == false && verdict == "confirmed") verdict = "rejected";
    return verdict;
}

// A report with the VLM's decision and the rules' words: sent while the VLM
// is still writing (or after it failed half way).
ContextReport decision_report(const analyze::Event& event, const CameraContext& camera, Evidence evidence,
                              const json& decided, const std::string& fallback_reason) {
    ContextReport out = rules_report(event, camera, std::move(evidence), fallback_reason);
    out.verdict = verdict_of(decided);
    for (const auto& [key, value] : decided.items())
        if (key != "verdict") out.report[key] = value;
    out.reasoning = fallback_reason.empty()
                        ? "Verdict from the vision-language model; its full report follows as an update."
                        : truncate_utf8("Verdict from the vision-language model; its report did not complete: " +
                                            fallback_reason,
                                        2000);
    out.source = "vlm";
    out.fallback_reason = fallback_reason;
    out.complete = false;
    return out;
}

}  // namespace

const char* to_string(VlmOutcome outcome) {
    switch (outcome) {
        case VlmOutcome::not_asked: return "not_asked";
        case VlmOutcome::answered: return "answered";
        case VlmOutcome::timed_out: return "timed_out";
        case VlmOutcome::failed: return "failed";
    }
    return "failed";
}

struct Contextualizer::Library {
    PromptLibrary prompts;
};

struct Contextualizer::Prepared {
    const PromptTemplate* prompt = nullptr;
    Evidence evidence;
    vlm::VlmRequest request;
};

Contextualizer::Contextualizer(ContextualizerOptions options, vlm::VlmEngine* engine)
    : options_(std::move(options)), engine_(engine) {
    if (options_.prompts_dir.empty()) options_.prompts_dir = data_dir() / "prompts";
    if (options_.max_tiles_per_request < 1)
        throw Error(fmt::format("contextualize: max_tiles_per_request must be at least 1, got {}",
                                options_.max_tiles_per_request));
    if (options_.max_tokens < 16)
        throw Error(fmt::format("contextualize: max_tokens must be at least 16, got {}", options_.max_tokens));
    library_ = std::make_unique<Library>(Library{PromptLibrary::load(options_.prompts_dir)});
}

Contextualizer::~Contextualizer() = default;
Contextualizer::Contextualizer(Contextualizer&&) noexcept = default;
Contextualizer& Contextualizer::operator=(Contextualizer&&) noexcept = default;

Contextualizer::Prepared Contextualizer::prepare(const analyze::Event& event, const CameraContext& camera,
                                                 const std::vector<EvidenceFrame>& frames) const {
    Prepared prepared;
    prepared.prompt = &library_->prompts.for_event_type(event.type);
    prepared.evidence = compose_evidence(event, frames, options_.max_tiles_per_request);

    vlm::VlmRequest& request = prepared.request;
    for (const cv::Mat& tile : prepared.evidence.tiles_rgb) request.images.push_back(vlm::VlmImage::from_rgb(tile));

    // Few-shot answers go in as text, in the fixed instructions; their
    // pictures only when tiles are left, named with the evidence (after the
    // images) so the instructions stay the same from one event to the next.
    std::string examples;
    std::string example_pictures;
    for (size_t i = 0; i < camera.examples.size(); ++i) {
        const FewShotExample& example = camera.examples[i];
        if (!example.image_path.empty() && int(request.images.size()) < options_.max_tiles_per_request) {
            try {
                cv::Mat rgb = fit_within(load_image_rgb(example.image_path), kTileSide);
                request.images.push_back(vlm::VlmImage::from_rgb(rgb));
                example_pictures += fmt::format(" Image {} is the picture of example {}.", request.images.size(), i + 1);
            } catch (const Error& e) {
                spdlog::warn("camera {}: few-shot example image skipped: {}", camera.camera, e.what());
            }
        }
        examples += fmt::format("Example {} of a correct answer for this camera: {}\n", i + 1,
                                in_schema_order(example.expected, prepared.prompt->schema));
    }
    if (!examples.empty()) examples = "\n" + examples;

    const std::map<std::string, std::string> values = {
        {"camera", camera.camera},
        {"location", camera.location.empty() ? "an unspecified location" : camera.location},
        {"site_context", camera.site_context},
        {"rule", event.rule},
        {"event_type", event.type},
        {"zone", zone_name(event)},
        {"metrics", format_metrics(event.metrics)},
        {"summary", event.summary.empty() ? "no summary was given." : event.summary},
        {"track_list", format_tracks(event, prepared.evidence.tracks)},
        {"time", format_time(event)},
        {"evidence", prepared.evidence.layout + example_pictures},
        {"examples", examples}};
    request.instructions = fill_template(prepared.prompt->instructions, values);
    request.prompt = fill_template(prepared.prompt->facts, values);
    request.json_schema = prepared.prompt->schema;
    request.max_tokens = options_.max_tokens;
    request.temperature = options_.temperature;
    request.image_budget.max_tiles = 1;  // every image was already fitted into one tile
    request.deadline = std::chrono::steady_clock::now() + options_.vlm_deadline;
    return prepared;
}

vlm::VlmRequest Contextualizer::build_request(const analyze::Event& event, const CameraContext& camera,
                                              const std::vector<EvidenceFrame>& frames) const {
    return prepare(event, camera, frames).request;
}

ContextReport Contextualizer::from_rules(const analyze::Event& event, const CameraContext& camera,
                                         const std::vector<EvidenceFrame>& frames, const std::string& reason) const {
    return rules_report(event, camera, compose_evidence(event, frames, options_.max_tiles_per_request), reason);
}

ContextReport Contextualizer::contextualize(const analyze::Event& event, const CameraContext& camera,
                                            const std::vector<EvidenceFrame>& frames,
                                            const VerdictCallback& on_verdict) {
    Prepared prepared = prepare(event, camera, frames);
    if (engine_ == nullptr) return rules_report(event, camera, std::move(prepared.evidence), "no VLM is configured");

    const auto started = std::chrono::steady_clock::now();
    auto elapsed_ms = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    };
    // Verdict first: watch the answer as it streams and hand the decision on
    // the moment its fields are complete.
    const std::vector<std::string> deciding = decision_fields(prepared.prompt->schema);
    vlm::JsonMemberStream stream;
    bool decided = false;
    double verdict_ms = 0;
    std::atomic<bool> background{false};  // once decided, newer events go first
    auto decided_fields = [&] {
        json fields = json::object();
        for (const std::string& key : deciding) fields[key] = stream.members().at(key);
        return fields;
    };
    if (on_verdict && engine_->streams() && !deciding.empty()) {
        prepared.request.background = &background;
        prepared.request.on_text = [&](std::string_view piece) {
            if (decided) return;
            stream.feed(piece);
            for (const std::string& key : deciding)
                if (!stream.members().contains(key)) return;
            decided = true;
            background = true;
            verdict_ms = elapsed_ms();
            ContextReport early = decision_report(event, camera, prepared.evidence, decided_fields(), "");
            early.vlm_ms = verdict_ms;
            early.vlm_verdict_ms = verdict_ms;
            early.vlm_model = engine_->name();
            early.prompt_name = prepared.prompt->name;
            on_verdict(std::move(early));
        };
    }

    json answer;
    vlm::VlmResponse response;
    std::string failure;
    VlmOutcome outcome = VlmOutcome::failed;
    try {
        response = engine_->generate(prepared.request);
        answer = response.json ? *response.json : vlm::parse_and_validate(prepared.prompt->schema, response.text);
        // A backend that skipped validation must not slip a bad report through.
        auto violations = vlm::validate_json(prepared.prompt->schema, answer);
        if (!violations.empty())
            throw Error(fmt::format("answer does not match {}: {}", prepared.prompt->schema_path.filename().string(),
                                    violations.front()));
        // A model can emit bytes that are not UTF-8 (a multi-byte character
        // cut between tokens); such a report cannot be stored or sent.
        (void)answer.dump();
    } catch (const TimeoutError& e) {
        failure = fmt::format("VLM timed out after {:.0f} ms: {}", elapsed_ms(), e.what());
        outcome = VlmOutcome::timed_out;
    } catch (const CancelledError& e) {
        failure = fmt::format("VLM request cancelled: {}", e.what());
    } catch (const Error& e) {
        failure = fmt::format("VLM failed after {:.0f} ms: {}", elapsed_ms(), e.what());
    } catch (const json::exception& e) {
        failure = fmt::format("VLM failed: unusable answer ({})", e.what());
    } catch (const std::exception& e) {
        failure = fmt::format("VLM failed after {:.0f} ms (unexpected error): {}", elapsed_ms(), e.what());
    }
    if (!failure.empty()) {
        spdlog::warn("camera {}: event {} ({}): {}; using the rules' report{}", camera.camera, event.rule, event.type,
                     failure, decided ? " with the VLM's verdict" : "");
        ContextReport out = decided ? decision_report(event, camera, std::move(prepared.evidence), decided_fields(),
                                                      failure)
                                    : rules_report(event, camera, std::move(prepared.evidence), failure);
        out.vlm_outcome = outcome;
        out.vlm_ms = elapsed_ms();
        out.vlm_verdict_ms = verdict_ms;
        out.vlm_model = engine_->name();
        return out;
    }

    ContextReport out;
    out.verdict = verdict_of(answer);
    out.reasoning = answer.at("reasoning").get<std::string>();
    out.report = answer;
    out.report.erase("verdict");
    out.report.erase("reasoning");
    out.source = "vlm";
    out.vlm_outcome = VlmOutcome::answered;
    out.vlm_ms = elapsed_ms();
    out.vlm_verdict_ms = decided ? verdict_ms : out.vlm_ms;
    out.vlm_timings = response.timings;
    out.vlm_model = response.model.empty() ? engine_->name() : response.model;
    out.prompt_name = prepared.prompt->name;
    out.tracks = std::move(prepared.evidence.tracks);
    for (EvidenceView& view : prepared.evidence.views) {
        out.evidence_images.emplace_back(view.role, std::move(view.bgr));
        out.evidence_times_s.push_back(view.time_s);
    }
    return out;
}

}  // namespace vigil::contextualize
