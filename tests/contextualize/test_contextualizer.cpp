// Contextualizer against a scripted VLM: what the request carries (filled
// template, schema, evidence within the tile budget) and how answers,
// timeouts and bad replies become reports.
#include <gtest/gtest.h>

#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <regex>

#include "contextualize/contextualize_prompt.h"
#include "contextualize/contextualizer.h"
#include "contextualize_test_scenes.h"
#include "core/error.h"
#include "testing/test_support.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::contextualize {
namespace {

using nlohmann::json;
using namespace vigil::contextualize::testing;

std::filesystem::path data_dir_prompts() { return std::filesystem::path(VIGIL_SOURCE_DIR) / "prompts"; }

ContextualizerOptions options_with_tiles(int tiles) {
    ContextualizerOptions options;
    options.max_tiles_per_request = tiles;
    options.vlm_deadline = std::chrono::milliseconds(5000);
    return options;
}

std::vector<std::string> roles(const ContextReport& report) {
    std::vector<std::string> out;
    for (const auto& [role, image] : report.evidence_images) out.push_back(role);
    return out;
}

TEST(Contextualizer, RequestCarriesFilledTemplateSchemaAndDeadline) {
    ScriptedVlmEngine engine;
    engine.reply(confirmed_answer());
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    const auto before = std::chrono::steady_clock::now();
    contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());

    ASSERT_EQ(engine.requests.size(), 1u);
    const vlm::VlmRequest& request = engine.requests[0];
    // The camera's fixed text comes before the images, the event's facts after.
    for (const char* expected : {"cam_main", "5th Ave and Main St", "Four-lane arterial", "rear-end collision"})
        EXPECT_NE(request.instructions.find(expected), std::string::npos) << "missing \"" << expected << "\" in:\n"
                                                                          << request.instructions;
    for (const char* expected : {"north_lane_jam", "north_lane", "count: 7", "mean_speed: 1.25", "speed_unit: km/h",
                                 "#3 car", "#5 car", "7 slow vehicles", "14.0 s"})
        EXPECT_NE(request.prompt.find(expected), std::string::npos) << "missing \"" << expected << "\" in:\n"
                                                                    << request.prompt;
    // Every placeholder was filled.
    const std::string whole = request.instructions + request.prompt;
    EXPECT_FALSE(std::regex_search(whole, std::regex(R"(\{[a-z_]+\})"))) << whole;
    ASSERT_TRUE(request.json_schema.has_value());
    EXPECT_EQ(request.json_schema->at("properties").at("verdict").at("enum"),
              json::array({"confirmed", "rejected", "uncertain"}));
    ASSERT_TRUE(request.deadline.has_value());
    EXPECT_GE(*request.deadline, before + std::chrono::milliseconds(5000));
    EXPECT_LE(*request.deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(5000));
    EXPECT_GT(request.max_tokens, 0);
}

class ContextualizerTileBudget : public ::testing::TestWithParam<int> {};

// Each image fits one 512 px tile and the images never outnumber the budget,
// so the request costs at most max_tiles tiles whatever the frames' size.
TEST_P(ContextualizerTileBudget, ImagesStayWithinTheTileBudget) {
    const int max_tiles = GetParam();
    ScriptedVlmEngine engine;
    engine.reply(confirmed_answer());
    Contextualizer contextualizer(options_with_tiles(max_tiles), &engine);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());

    const vlm::VlmRequest& request = engine.requests.at(0);
    EXPECT_EQ(request.image_budget.max_tiles, 1);
    EXPECT_GE(request.images.size(), 1u);
    EXPECT_LE(int(request.images.size()) * request.image_budget.max_tiles, max_tiles);
    for (const vlm::VlmImage& image : request.images) {
        ASSERT_FALSE(image.rgb.empty());
        EXPECT_TRUE(image.path.empty());
        EXPECT_EQ(image.rgb.type(), CV_8UC3);
        EXPECT_LE(image.rgb.cols, 512);
        EXPECT_LE(image.rgb.rows, 512);
    }
    // Four views (annotated trigger, crop, before, after): with fewer tiles
    // than views, the rest share one mosaic tile; the prompt says which is which.
    EXPECT_EQ(int(request.images.size()), std::min(max_tiles, 4));
    const bool mosaic = request.prompt.find("mosaic") != std::string::npos;
    EXPECT_EQ(mosaic, max_tiles < 4) << request.prompt;

    // The store still gets every view at full resolution.
    EXPECT_EQ(roles(report), (std::vector<std::string>{"trigger", "annotated", "crop", "before", "after"}));
    EXPECT_EQ(report.evidence_images[0].second.size(), cv::Size(kFrameWidth, kFrameHeight));
    EXPECT_EQ(report.evidence_images[1].second.size(), cv::Size(kFrameWidth, kFrameHeight));
    EXPECT_EQ(report.evidence_times_s, (std::vector<double>{14.0, 14.0, 14.0, 10.0, 18.0}));
}

INSTANTIATE_TEST_SUITE_P(Tiles, ContextualizerTileBudget, ::testing::Values(1, 2, 3, 4, 6));

TEST(Contextualizer, ConfirmedAnswerBecomesAVlmReport) {
    ScriptedVlmEngine engine;
    engine.reply(confirmed_answer());
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());

    EXPECT_EQ(report.source, "vlm");
    EXPECT_EQ(report.fallback_reason, "");
    EXPECT_EQ(report.verdict, "confirmed");
    EXPECT_EQ(report.reasoning, confirmed_answer()["reasoning"]);
    EXPECT_EQ(report.report["severity"], "high");
    EXPECT_EQ(report.report["description"], confirmed_answer()["description"]);
    EXPECT_FALSE(report.report.contains("verdict"));
    EXPECT_EQ(report.vlm_model, "scripted:fake.gguf");
    EXPECT_EQ(report.prompt_name, "congestion");
    ASSERT_EQ(report.tracks.size(), 2u);
    EXPECT_EQ(report.tracks[0].id, 3);
    EXPECT_FLOAT_EQ(report.tracks[0].box.x, 320.f);  // as on the trigger frame (t = 14 s)
}

TEST(Contextualizer, TimeoutFallsBackToTheRulesWithTheReason) {
    ScriptedVlmEngine engine;
    engine.time_out();
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());

    EXPECT_EQ(report.source, "rules");
    EXPECT_EQ(report.verdict, "uncertain");
    EXPECT_NE(report.fallback_reason.find("timed out"), std::string::npos) << report.fallback_reason;
    EXPECT_NE(report.fallback_reason.find("deadline passed"), std::string::npos) << report.fallback_reason;
    const std::string description = report.report["description"];
    for (const char* fact : {"5th Ave and Main St", "north_lane_jam", "north_lane", "#3 car", "#5 car", "count: 7",
                             "mean_speed: 1.25", "timed out"})
        EXPECT_NE(description.find(fact), std::string::npos) << "missing \"" << fact << "\" in: " << description;
    EXPECT_EQ(report.report["severity"], "medium");
    // Evidence is kept for the store even without the VLM.
    EXPECT_EQ(roles(report).size(), 5u);
}

TEST(Contextualizer, ReplyFailingTheSchemaFallsBack) {
    ScriptedVlmEngine engine;
    json bad = confirmed_answer();
    bad["verdict"] = "probably";
    engine.reply(bad);
    engine.reply_text("The scene shows a traffic jam.");  // not JSON at all
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    for (int i = 0; i < 2; ++i) {
        ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());
        EXPECT_EQ(report.source, "rules") << i;
        EXPECT_NE(report.fallback_reason.find("VLM failed"), std::string::npos) << report.fallback_reason;
    }
    EXPECT_EQ(engine.requests.size(), 2u);
}

TEST(Contextualizer, EngineErrorFallsBack) {
    ScriptedVlmEngine engine;
    engine.fail("cannot connect to http://127.0.0.1:9/v1/chat/completions");
    Contextualizer contextualizer(options_with_tiles(1), &engine);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());
    EXPECT_EQ(report.source, "rules");
    EXPECT_NE(report.fallback_reason.find("cannot connect"), std::string::npos) << report.fallback_reason;
    EXPECT_EQ(report.vlm_model, "scripted:fake.gguf");
}

TEST(Contextualizer, WithoutAnEngineEveryReportComesFromTheRules) {
    Contextualizer contextualizer(options_with_tiles(2), nullptr);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());
    EXPECT_EQ(report.source, "rules");
    EXPECT_EQ(report.fallback_reason, "no VLM is configured");
    EXPECT_EQ(report.reasoning, "Rules only: no VLM is configured");
}

TEST(Contextualizer, RulesConfidenceFollowsHowFarPastItsThresholdTheRuleFired) {
    Contextualizer contextualizer(options_with_tiles(1), nullptr);
    auto confidence = [&](const json& metrics) {
        analyze::Event event = congestion_event();
        event.metrics = metrics;
        return contextualizer.from_rules(event, main_street_camera(), {}, "test").report["confidence"].get<double>();
    };
    const double barely = confidence({{"count", 5}, {"min_count", 5}});
    const double far = confidence({{"count", 10}, {"min_count", 5}});
    const double unmeasured = confidence(json::object());
    EXPECT_LT(barely, far);
    EXPECT_GE(barely, 0.3);
    EXPECT_LE(far, 0.8);  // rules alone never claim certainty
    EXPECT_GT(unmeasured, 0.0);
    EXPECT_LT(unmeasured, far);
}

struct RulesCase {
    const char* type;
    analyze::EventPhase phase;
    const char* severity;
    const char* title_word;
};

void PrintTo(const RulesCase& c, std::ostream* os) { *os << c.type << "/" << analyze::to_string(c.phase); }

class ContextualizerRulesReport : public ::testing::TestWithParam<RulesCase> {};

TEST_P(ContextualizerRulesReport, SeverityAndTitleFollowTheEventType) {
    Contextualizer contextualizer(options_with_tiles(2), nullptr);
    analyze::Event event = congestion_event();
    event.type = GetParam().type;
    event.phase = GetParam().phase;
    ContextReport report = contextualizer.from_rules(event, main_street_camera(), road_frames(), "VLM overloaded");
    EXPECT_EQ(report.report["severity"], GetParam().severity);
    const std::string title = report.report["title"];
    EXPECT_NE(title.find(GetParam().title_word), std::string::npos) << title;
    EXPECT_EQ(report.verdict, "uncertain");
    EXPECT_EQ(report.fallback_reason, "VLM overloaded");
    // The answer schema's fields are all there, so the alert can be built.
    for (const std::string& field : report_fields()) {
        if (field != "verdict" && field != "reasoning") {
            EXPECT_TRUE(report.report.contains(field)) << field;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Types, ContextualizerRulesReport,
    ::testing::Values(RulesCase{"congestion", analyze::EventPhase::start, "medium", "Congestion"},
                      RulesCase{"congestion", analyze::EventPhase::end, "info", "cleared"},
                      RulesCase{"stationary_object", analyze::EventPhase::start, "medium", "Stationary car"},
                      RulesCase{"gathering", analyze::EventPhase::start, "medium", "Gathering"},
                      RulesCase{"wrong_way", analyze::EventPhase::instant, "high", "Wrong-way"},
                      RulesCase{"scene_change", analyze::EventPhase::instant, "low", "Scene check"},
                      RulesCase{"line_cross", analyze::EventPhase::instant, "info", "Line cross"}),
    [](const auto& param_info) {
        return std::string(param_info.param.type) + "_" + analyze::to_string(param_info.param.phase);
    });

struct PromptCase {
    const char* event_type;
    const char* prompt_name;
    const char* schema_file;
};

void PrintTo(const PromptCase& c, std::ostream* os) { *os << c.event_type; }

class ContextualizerPromptChoice : public ::testing::TestWithParam<PromptCase> {};

TEST_P(ContextualizerPromptChoice, EventTypePicksTemplateAndSchema) {
    ScriptedVlmEngine engine;
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    analyze::Event event = congestion_event();
    event.type = GetParam().event_type;
    vlm::VlmRequest request = contextualizer.build_request(event, main_street_camera(), road_frames());
    const json expected_schema =
        json::parse(vigil::testing::read_file(data_dir_prompts() / GetParam().schema_file));
    ASSERT_TRUE(request.json_schema.has_value());
    EXPECT_EQ(*request.json_schema, expected_schema);
    const std::string template_text =
        vigil::testing::read_file(data_dir_prompts() / (std::string(GetParam().prompt_name) + ".prompt.txt"));
    // The first line of the template has no placeholder: it appears verbatim.
    EXPECT_EQ(request.instructions.substr(0, request.instructions.find('\n')),
              template_text.substr(0, template_text.find('\n')));
    // The facts after {images} are the request's own prompt.
    EXPECT_NE(request.prompt.find("at 14.0 s into the stream"), std::string::npos) << request.prompt;
}

// The reusable prefix: two events of one type on one camera share their
// instructions word for word (so the VLM evaluates them once), whatever their
// rule, zone, time, tracks or evidence.
TEST_P(ContextualizerPromptChoice, InstructionsAreTheSameForEveryEventOfATypeOnACamera) {
    ScriptedVlmEngine engine;
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    CameraContext camera = main_street_camera();
    camera.examples.push_back({"", confirmed_answer()});
    analyze::Event first = congestion_event();
    first.type = GetParam().event_type;
    analyze::Event second = first;
    second.rule = "south_lane_jam";
    second.zone = "south_lane";
    second.time_s = 97.5;
    second.start_s = 90.0;
    second.track_ids = {5};
    second.metrics = {{"count", 3}};
    second.summary = "3 slow vehicles.";
    auto frames = road_frames();
    const vlm::VlmRequest a = contextualizer.build_request(first, camera, frames);
    frames.pop_back();
    const vlm::VlmRequest b = contextualizer.build_request(second, camera, frames);
    EXPECT_FALSE(a.instructions.empty());
    EXPECT_EQ(a.instructions, b.instructions);
    EXPECT_NE(a.prompt, b.prompt);
}

INSTANTIATE_TEST_SUITE_P(
    Types, ContextualizerPromptChoice,
    ::testing::Values(PromptCase{"congestion", "congestion", "report.schema.json"},
                      PromptCase{"stationary_object", "stationary_object", "report.schema.json"},
                      PromptCase{"gathering", "gathering", "report.schema.json"},
                      PromptCase{"scene_change", "scene_check", "scene_check.schema.json"},
                      PromptCase{"wrong_way", "default", "report.schema.json"},
                      PromptCase{"line_cross", "default", "report.schema.json"}),
    [](const auto& param_info) { return std::string(param_info.param.event_type); });

TEST(Contextualizer, SceneCheckWithoutHazardIsRejected) {
    ScriptedVlmEngine engine;
    json answer = confirmed_answer();
    answer["hazard_found"] = false;
    answer["hazard_type"] = "none";
    engine.reply(answer);
    answer["hazard_found"] = true;
    answer["hazard_type"] = "flood";
    engine.reply(answer);
    Contextualizer contextualizer(options_with_tiles(1), &engine);
    analyze::Event event;
    event.rule = "scene_watch";
    event.type = "scene_change";
    event.time_s = event.start_s = 14.0;
    event.metrics = {{"score", 0.42}, {"threshold", 0.3}, {"reason", "change"}};
    event.summary = "The scene changed: score 0.42 is above 0.3.";
    EXPECT_EQ(contextualizer.contextualize(event, main_street_camera(), road_frames()).verdict, "rejected");
    ContextReport hazard = contextualizer.contextualize(event, main_street_camera(), road_frames());
    EXPECT_EQ(hazard.verdict, "confirmed");
    EXPECT_EQ(hazard.report["hazard_type"], "flood");
    // No tracks on a scene check: the plain trigger frame, no boxes, no crop.
    EXPECT_EQ(roles(hazard), (std::vector<std::string>{"trigger", "before", "after"}));
}

TEST(Contextualizer, FewShotExamplesGoInAsTextAndAsImagesWhileTilesRemain) {
    vigil::testing::TempDir dir;
    const auto example_path = dir / "example.png";
    ASSERT_TRUE(cv::imwrite(example_path.string(), road_frame(0, 0).bgr));
    CameraContext camera = main_street_camera();
    json expected = confirmed_answer();
    expected["title"] = "Known example title";
    camera.examples.push_back({example_path.string(), expected});

    ScriptedVlmEngine engine;
    // Four evidence views fill four tiles; a fifth tile is left for the example.
    Contextualizer roomy(options_with_tiles(5), &engine);
    vlm::VlmRequest with_image = roomy.build_request(congestion_event(), camera, road_frames());
    EXPECT_NE(with_image.instructions.find("Known example title"), std::string::npos);
    EXPECT_NE(with_image.prompt.find("Image 5 is the picture of example 1."), std::string::npos) << with_image.prompt;
    EXPECT_EQ(with_image.images.size(), 5u);
    EXPECT_LE(with_image.images.back().rgb.cols, 512);

    Contextualizer tight(options_with_tiles(2), &engine);
    vlm::VlmRequest text_only = tight.build_request(congestion_event(), camera, road_frames());
    EXPECT_NE(text_only.instructions.find("Known example title"), std::string::npos);
    EXPECT_EQ(text_only.prompt.find("picture of example"), std::string::npos);
    EXPECT_EQ(text_only.images.size(), 2u);

    // A missing example picture costs the picture, not the request.
    camera.examples[0].image_path = (dir / "missing.png").string();
    vlm::VlmRequest missing = roomy.build_request(congestion_event(), camera, road_frames());
    EXPECT_EQ(missing.images.size(), 4u);
    EXPECT_NE(missing.instructions.find("Known example title"), std::string::npos);
}

TEST(Contextualizer, NoFramesStillGivesARequestAndAReport) {
    ScriptedVlmEngine engine;
    engine.reply(confirmed_answer());
    Contextualizer contextualizer(options_with_tiles(2), &engine);
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), {});
    EXPECT_TRUE(engine.requests.at(0).images.empty());
    EXPECT_EQ(report.source, "vlm");
    EXPECT_TRUE(report.evidence_images.empty());
    EXPECT_TRUE(report.tracks.empty());
}

TEST(Contextualizer, BadOptionsAreRejected) {
    EXPECT_THROW(Contextualizer(options_with_tiles(0), nullptr), Error);
    ContextualizerOptions missing = options_with_tiles(1);
    missing.prompts_dir = "/nonexistent/prompts";
    try {
        Contextualizer contextualizer(missing, nullptr);
        FAIL() << "expected vigil::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/prompts"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace vigil::contextualize

namespace vigil::contextualize {
namespace {

using testing::ScriptedVlmEngine;

// ---- verdict first ------------------------------------------------------------

TEST(ContextualizerVerdictFirst, TheDecisionComesOutBeforeTheReport) {
    ScriptedVlmEngine engine;
    engine.streaming = true;
    engine.reply(testing::confirmed_answer());
    Contextualizer contextualizer(ContextualizerOptions{}, &engine);
    std::vector<ContextReport> early;
    const ContextReport full = contextualizer.contextualize(
        testing::congestion_event(), testing::main_street_camera(), testing::road_frames(),
        [&](ContextReport report) { early.push_back(std::move(report)); });

    ASSERT_EQ(early.size(), 1u) << "exactly one verdict-first report";
    const ContextReport& verdict = early[0];
    EXPECT_FALSE(verdict.complete);
    EXPECT_EQ(verdict.source, "vlm");
    EXPECT_EQ(verdict.verdict, "confirmed");
    EXPECT_EQ(verdict.report["severity"], "high");
    // The rest is the rules' text until the VLM's report is in.
    EXPECT_EQ(verdict.report["probable_cause"], "Unknown: only the analytics rule has assessed this event.");
    EXPECT_FALSE(verdict.evidence_images.empty());
    EXPECT_GT(verdict.vlm_verdict_ms, 0.0);

    EXPECT_TRUE(full.complete);
    EXPECT_EQ(full.vlm_outcome, VlmOutcome::answered);
    EXPECT_EQ(full.report["probable_cause"], testing::confirmed_answer()["probable_cause"]);
    EXPECT_GE(full.vlm_ms, verdict.vlm_verdict_ms);
}

TEST(ContextualizerVerdictFirst, ASceneCheckDecidesOnItsHazardFields) {
    ScriptedVlmEngine engine;
    engine.streaming = true;
    nlohmann::json answer = testing::confirmed_answer();
    answer["hazard_found"] = false;
    answer["hazard_type"] = "none";
    engine.reply(answer);
    Contextualizer contextualizer(ContextualizerOptions{}, &engine);
    analyze::Event check;
    check.rule = "scene_watch";
    check.type = "scene_change";
    check.time_s = check.start_s = 14.0;
    check.metrics = {{"reason", "periodic"}, {"score", 0.01}};
    std::vector<ContextReport> early;
    contextualizer.contextualize(check, testing::main_street_camera(), testing::road_frames(),
                                 [&](ContextReport report) { early.push_back(std::move(report)); });
    ASSERT_EQ(early.size(), 1u);
    EXPECT_EQ(early[0].verdict, "rejected") << "no hazard: nothing to alert on, whatever the verdict field says";
    EXPECT_EQ(early[0].report["hazard_found"], false);
    EXPECT_EQ(early[0].report["hazard_type"], "none");
}

TEST(ContextualizerVerdictFirst, AFailureAfterTheVerdictKeepsTheVerdict) {
    ScriptedVlmEngine engine;
    engine.streaming = true;
    nlohmann::json answer = testing::confirmed_answer();
    answer["confidence"] = 7;  // out of the schema's bounds: the answer as a whole is invalid
    engine.reply(answer);
    Contextualizer contextualizer(ContextualizerOptions{}, &engine);
    int verdicts = 0;
    const ContextReport full = contextualizer.contextualize(testing::congestion_event(), testing::main_street_camera(),
                                                            testing::road_frames(),
                                                            [&](ContextReport) { ++verdicts; });
    EXPECT_EQ(verdicts, 1);
    EXPECT_EQ(full.vlm_outcome, VlmOutcome::failed);
    EXPECT_EQ(full.source, "vlm") << "the verdict was the VLM's";
    EXPECT_EQ(full.verdict, "confirmed");
    EXPECT_FALSE(full.complete);
    EXPECT_NE(full.fallback_reason.find("VLM failed"), std::string::npos) << full.fallback_reason;
}

TEST(ContextualizerVerdictFirst, ABackendThatDoesNotStreamGivesOnlyTheFullReport) {
    ScriptedVlmEngine engine;  // not streaming
    engine.reply(testing::confirmed_answer());
    Contextualizer contextualizer(ContextualizerOptions{}, &engine);
    int verdicts = 0;
    const ContextReport full = contextualizer.contextualize(testing::congestion_event(), testing::main_street_camera(),
                                                            testing::road_frames(),
                                                            [&](ContextReport) { ++verdicts; });
    EXPECT_EQ(verdicts, 0);
    EXPECT_TRUE(full.complete);
    EXPECT_EQ(full.vlm_verdict_ms, full.vlm_ms);
}

}  // namespace
}  // namespace vigil::contextualize
