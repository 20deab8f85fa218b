// Alerts from contextualized events: the document (valid against
// schemas/alert.schema.json every time), sent vs dismissed, the rules
// fallback, merging inside the window, cooldown, and the type mapping.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "alert/alert_builder.h"
#include "contextualize/contextualize_test_scenes.h"
#include "contextualize/contextualizer.h"
#include "core/error.h"

namespace vigil::alert {
namespace {

using nlohmann::json;
using namespace vigil::contextualize;
using namespace vigil::contextualize::testing;

constexpr double kT0 = 1714564803.25;  // 2024-05-01T12:00:03.250Z

const json kModels = {{"detector", "yolox-nano"}, {"tracker", "bytetrack"}};

#define EXPECT_VALID_ALERT(alert)                                         \
    do {                                                                  \
        const auto violations_ = validate_alert(alert);                   \
        EXPECT_TRUE(violations_.empty()) << violations_.front() << "\n" << (alert).dump(2); \
    } while (0)

// Contextualizes `event` with a scripted VLM and builds its alert.
class AlertPipeline {
public:
    explicit AlertPipeline(AlertPolicy policy = {}) : builder(policy), contextualizer(options(), &engine) {}

    std::optional<AlertDecision> run(const analyze::Event& event, double wall_time_s) {
        ContextReport report = contextualizer.contextualize(event, main_street_camera(), road_frames());
        auto decision = builder.on_event("cam_main", main_street_camera(), event, report, wall_time_s, kModels);
        if (decision) EXPECT_VALID_ALERT(decision->alert);
        return decision;
    }

    ScriptedVlmEngine engine;
    AlertBuilder builder;
    Contextualizer contextualizer;

private:
    static ContextualizerOptions options() {
        ContextualizerOptions o;
        o.max_tiles_per_request = 2;
        return o;
    }
};

TEST(AlertBuilder, ConfirmedEventIsSentAsACompleteValidAlert) {
    AlertPipeline pipeline;
    pipeline.engine.reply(confirmed_answer());
    auto decision = pipeline.run(congestion_event(), kT0);
    ASSERT_TRUE(decision.has_value());
    EXPECT_EQ(decision->status, "sent");
    EXPECT_FALSE(decision->is_update);
    const json& alert = decision->alert;
    EXPECT_EQ(alert["schema_version"], 1);
    EXPECT_TRUE(std::regex_match(alert["id"].get<std::string>(), std::regex("[0-9a-f]{16,64}"))) << alert["id"];
    EXPECT_EQ(alert["camera"], "cam_main");
    EXPECT_EQ(alert["location"], "5th Ave and Main St");
    EXPECT_EQ(alert["start_time"], "2024-05-01T12:00:03.250Z");
    EXPECT_EQ(alert["end_time"], alert["start_time"]);
    EXPECT_EQ(alert["type"], "congestion");
    EXPECT_EQ(alert["verdict"], "confirmed");
    EXPECT_EQ(alert["severity"], "high");
    EXPECT_EQ(alert["description"], confirmed_answer()["description"]);
    EXPECT_EQ(alert["confidence"], 0.82);
    EXPECT_EQ(alert["context"], json({{"source", "vlm"}, {"complete", true}}));
    EXPECT_EQ(alert["related_events"], 1);
    EXPECT_EQ(alert["updated_count"], 0);
    EXPECT_EQ(alert["models"]["detector"], "yolox-nano");
    EXPECT_EQ(alert["models"]["vlm"], "scripted:fake.gguf");
    EXPECT_TRUE(alert["timings"]["vlm_ms"].is_number());

    const json& evidence = alert["evidence"];
    EXPECT_EQ(evidence["rule"], "north_lane_jam");
    EXPECT_EQ(evidence["zone"], "north_lane");
    EXPECT_EQ(evidence["metrics"]["count"], 7);
    ASSERT_EQ(evidence["detections"].size(), 2u);
    EXPECT_EQ(evidence["detections"][0]["track_id"], 3);
    EXPECT_EQ(evidence["detections"][0]["label"], "car");
    EXPECT_EQ(evidence["detections"][0]["box"], json({320.0, 380.0, 140.0, 90.0}));
    std::vector<std::string> roles;
    for (const json& image : evidence["images"]) {
        roles.push_back(image["role"]);
        EXPECT_TRUE(image["path"].is_null());  // filled once the store has written it
    }
    EXPECT_EQ(roles, (std::vector<std::string>{"trigger", "annotated", "crop", "before", "after"}));
    EXPECT_EQ(evidence["images"][3]["time"], "2024-05-01T11:59:59.250Z");  // 4 s before the trigger
}

TEST(AlertBuilder, RejectedTriggerIsDismissedUnlessPolicySendsIt) {
    for (bool send_rejected : {false, true}) {
        AlertPolicy policy;
        policy.send_rejected = send_rejected;
        AlertPipeline pipeline(policy);
        pipeline.engine.reply(answer_with_verdict("rejected"));
        auto decision = pipeline.run(congestion_event(), kT0);
        ASSERT_TRUE(decision.has_value());
        EXPECT_EQ(decision->status, send_rejected ? "sent" : "dismissed");
        EXPECT_EQ(decision->alert["verdict"], "rejected");
    }
}

TEST(AlertBuilder, UncertainVerdictIsSent) {
    AlertPipeline pipeline;
    pipeline.engine.reply(answer_with_verdict("uncertain"));
    EXPECT_EQ(pipeline.run(congestion_event(), kT0)->status, "sent");
}

TEST(AlertBuilder, VlmTimeoutGivesARulesAlertWithTheReason) {
    AlertPipeline pipeline;
    pipeline.engine.time_out();
    auto decision = pipeline.run(congestion_event(), kT0);
    ASSERT_TRUE(decision.has_value());
    EXPECT_EQ(decision->status, "sent");
    const json& alert = decision->alert;
    EXPECT_EQ(alert["context"]["source"], "rules");
    EXPECT_NE(alert["context"]["fallback_reason"].get<std::string>().find("timed out"), std::string::npos);
    EXPECT_EQ(alert["verdict"], "uncertain");
    EXPECT_EQ(alert["severity"], "medium");
    EXPECT_NE(alert["description"].get<std::string>().find("5th Ave and Main St"), std::string::npos);
    EXPECT_EQ(alert["evidence"]["detections"].size(), 2u);
}

TEST(AlertBuilder, ReplyFailingTheSchemaGivesARulesAlert) {
    AlertPipeline pipeline;
    json bad = confirmed_answer();
    bad.erase("severity");
    pipeline.engine.reply(bad);
    auto decision = pipeline.run(congestion_event(), kT0);
    ASSERT_TRUE(decision.has_value());
    EXPECT_EQ(decision->alert["context"]["source"], "rules");
    EXPECT_NE(decision->alert["context"]["fallback_reason"].get<std::string>().find("severity"), std::string::npos)
        << decision->alert["context"];
}

TEST(AlertBuilder, EventsInsideTheMergeWindowUpdateOneAlertThenCooldownThenANewAlert) {
    AlertPolicy policy;
    policy.merge_window_s = 60;
    policy.cooldown_s = 300;
    AlertPipeline pipeline(policy);
    for (int i = 0; i < 5; ++i) pipeline.engine.reply(confirmed_answer());

    auto first = pipeline.run(congestion_event(), kT0);
    auto second = pipeline.run(congestion_event(), kT0 + 45);
    ASSERT_TRUE(first && second);
    EXPECT_TRUE(second->is_update);
    EXPECT_EQ(second->alert["id"], first->alert["id"]);
    EXPECT_EQ(second->alert["related_events"], 2);
    EXPECT_EQ(second->alert["updated_count"], 1);
    EXPECT_EQ(second->alert["start_time"], first->alert["start_time"]);
    EXPECT_EQ(second->alert["end_time"], "2024-05-01T12:00:48.250Z");

    // The window runs from the latest merged event: closed at +105 s, quiet until +405 s.
    EXPECT_FALSE(pipeline.run(congestion_event(), kT0 + 106).has_value());
    EXPECT_FALSE(pipeline.run(congestion_event(), kT0 + 404).has_value());
    EXPECT_EQ(pipeline.builder.suppressed(), 2);

    auto after_cooldown = pipeline.run(congestion_event(), kT0 + 406);
    ASSERT_TRUE(after_cooldown.has_value());
    EXPECT_FALSE(after_cooldown->is_update);
    EXPECT_NE(after_cooldown->alert["id"], first->alert["id"]);
    EXPECT_EQ(after_cooldown->alert["related_events"], 1);
}

TEST(AlertBuilder, DifferentZoneRuleOrCameraAreSeparateAlerts) {
    AlertPolicy policy;
    AlertBuilder builder(policy);
    Contextualizer contextualizer(ContextualizerOptions{}, nullptr);
    std::set<std::string> ids;
    auto alert_for = [&](const std::string& camera, const std::string& zone, const std::string& rule) {
        analyze::Event event = congestion_event();
        event.zone = zone;
        event.rule = rule;
        ContextReport report = contextualizer.contextualize(event, main_street_camera(), road_frames());
        auto decision = builder.on_event(camera, main_street_camera(), event, report, kT0, kModels);
        EXPECT_TRUE(decision.has_value());
        EXPECT_VALID_ALERT(decision->alert);
        return decision->alert["id"].get<std::string>();
    };
    const std::string first = alert_for("cam_main", "north_lane", "north_lane_jam");
    ids.insert(first);
    ids.insert(alert_for("cam_main", "south_lane", "north_lane_jam"));
    ids.insert(alert_for("cam_main", "north_lane", "other_rule"));
    ids.insert(alert_for("cam_side", "north_lane", "north_lane_jam"));
    ids.insert(alert_for("cam_main", "", "north_lane_jam"));
    EXPECT_EQ(ids.size(), 5u);
    EXPECT_EQ(alert_for("cam_main", "north_lane", "north_lane_jam"), first);  // the same key merges
}

TEST(AlertBuilder, MergingKeepsTheStrongestVerdict) {
    AlertPipeline pipeline;
    json first_answer = confirmed_answer();
    first_answer["severity"] = "critical";
    pipeline.engine.reply(first_answer);
    json rejected = answer_with_verdict("rejected");
    rejected["description"] = "Traffic flows normally.";
    pipeline.engine.reply(rejected);
    auto first = pipeline.run(congestion_event(), kT0);
    auto second = pipeline.run(congestion_event(), kT0 + 10);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(second->status, "sent");
    EXPECT_TRUE(first->first_sent);
    EXPECT_FALSE(second->first_sent) << "already sent: an update, not a first delivery";
    EXPECT_EQ(second->alert["verdict"], "confirmed");
    EXPECT_EQ(second->alert["description"], confirmed_answer()["description"]);
    EXPECT_EQ(second->alert["related_events"], 2);

    // Dismissed first, confirmed later: the same alert is now sent.
    AlertPipeline later;
    later.engine.reply(answer_with_verdict("rejected"));
    json confirmed = confirmed_answer();
    confirmed["severity"] = "low";
    later.engine.reply(confirmed);
    auto dismissed = later.run(congestion_event(), kT0);
    auto promoted = later.run(congestion_event(), kT0 + 10);
    ASSERT_TRUE(dismissed && promoted);
    EXPECT_EQ(dismissed->status, "dismissed");
    EXPECT_EQ(promoted->status, "sent");
    EXPECT_TRUE(promoted->is_update);
    EXPECT_FALSE(dismissed->first_sent);
    EXPECT_TRUE(promoted->first_sent) << "the dismissed alert's first delivery";
    EXPECT_EQ(promoted->alert["id"], dismissed->alert["id"]);
    EXPECT_EQ(promoted->alert["verdict"], "confirmed");
    EXPECT_EQ(promoted->alert["severity"], "high");  // the highest seen is kept
}

// Scene checks on one camera merge per hazard the VLM names: "nothing
// wrong" never updates (or re-sends) an open hazard alert.
TEST(AlertBuilder, SceneChecksMergePerHazard) {
    AlertBuilder builder(AlertPolicy{});  // default merge window: minutes
    analyze::Event check;
    check.type = "scene_change";
    check.rule = "scene";
    check.metrics = {{"reason", "periodic"}, {"score", 0.01}};
    check.summary = "Periodic scene check.";
    auto answer = [](const std::string& hazard) {
        ContextReport report;
        report.source = "vlm";
        report.verdict = hazard == "none" ? "rejected" : "confirmed";
        report.reasoning = "scripted";
        report.report = {{"hazard_found", hazard != "none"}, {"hazard_type", hazard},
                         {"title", hazard},        {"summary", "Scene check: " + hazard},
                         {"severity", "high"},     {"confidence", 0.9}};
        return report;
    };
    auto decide = [&](const std::string& hazard, double t) {
        auto decision = builder.on_event("cam_main", main_street_camera(), check, answer(hazard), kT0 + t, kModels);
        EXPECT_TRUE(decision.has_value());
        EXPECT_VALID_ALERT(decision->alert);
        return *decision;
    };
    const auto flood = decide("flood", 0);
    const auto quiet = decide("none", 30);
    const auto quiet_again = decide("none", 60);
    const auto flood_again = decide("flood", 90);
    const auto fire = decide("fire", 120);

    EXPECT_EQ(flood.status, "sent");
    EXPECT_TRUE(flood.first_sent);
    EXPECT_EQ(quiet.status, "dismissed");
    EXPECT_FALSE(quiet.is_update) << "a quiet check must not update the flood alert";
    EXPECT_NE(quiet.alert["id"], flood.alert["id"]);
    EXPECT_TRUE(quiet_again.is_update);
    EXPECT_EQ(quiet_again.alert["id"], quiet.alert["id"]);
    EXPECT_TRUE(flood_again.is_update);
    EXPECT_EQ(flood_again.alert["id"], flood.alert["id"]);
    EXPECT_FALSE(flood_again.first_sent);
    EXPECT_FALSE(fire.is_update) << "another hazard is another alert";
    EXPECT_TRUE(fire.first_sent);
}

// ---- several reports for one event -------------------------------------------

// What the contextualizer hands over when the VLM's decision is decoded: its
// verdict and severity, the rules' text.
ContextReport verdict_only(const std::string& verdict, const std::string& severity) {
    Contextualizer rules(ContextualizerOptions{}, nullptr);
    ContextReport report = rules.from_rules(congestion_event(), main_street_camera(), road_frames(), "");
    report.source = "vlm";
    report.verdict = verdict;
    report.report["severity"] = severity;
    report.complete = false;
    report.vlm_verdict_ms = 900;
    return report;
}

ContextReport full_report(const std::string& verdict, const std::string& severity) {
    ScriptedVlmEngine engine;
    json answer = answer_with_verdict(verdict);
    answer["severity"] = severity;
    engine.reply(answer);
    Contextualizer contextualizer(ContextualizerOptions{}, &engine);
    return contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());
}

ReportInfo info(uint64_t token, bool partial, double since_detection_ms) {
    ReportInfo i;
    i.event_token = token;
    i.partial = partial;
    i.since_detection_ms = since_detection_ms;
    i.queue_wait_ms = 5;
    return i;
}

TEST(AlertBuilderReports, TheVerdictIsSentAndTheReportUpdatesTheSameAlert) {
    AlertBuilder builder(AlertPolicy{});
    auto verdict = builder.on_event("cam_main", main_street_camera(), congestion_event(),
                                    verdict_only("confirmed", "high"), kT0, kModels, info(7, true, 1400));
    ASSERT_TRUE(verdict);
    EXPECT_VALID_ALERT(verdict->alert);
    EXPECT_EQ(verdict->status, "sent");
    EXPECT_TRUE(verdict->deliver);
    EXPECT_EQ(verdict->alert["context"], json({{"source", "vlm"}, {"complete", false}}));
    EXPECT_EQ(verdict->alert["timings"]["event_to_alert_ms"], 1400);
    EXPECT_EQ(verdict->alert["timings"]["event_to_verdict_ms"], 1400);
    EXPECT_FALSE(verdict->alert["timings"].contains("event_to_report_ms"));
    EXPECT_EQ(builder.awaiting_reports(), 1u);

    const std::string id = verdict->alert["id"];
    auto report = builder.on_report(id, congestion_event(), full_report("confirmed", "high"), kModels,
                                    info(7, false, 5200));
    ASSERT_TRUE(report);
    EXPECT_VALID_ALERT(report->alert);
    EXPECT_TRUE(report->is_update);
    EXPECT_FALSE(report->first_sent) << "sent already, at its verdict";
    EXPECT_TRUE(report->deliver);
    EXPECT_EQ(report->alert["id"], id);
    EXPECT_EQ(report->alert["related_events"], 1) << "the same event, not a new one";
    EXPECT_EQ(report->alert["updated_count"], 1);
    EXPECT_EQ(report->alert["context"], json({{"source", "vlm"}, {"complete", true}}));
    EXPECT_EQ(report->alert["description"], confirmed_answer()["description"]);
    EXPECT_EQ(report->alert["timings"]["event_to_alert_ms"], 1400);
    EXPECT_EQ(report->alert["timings"]["event_to_verdict_ms"], 1400);
    EXPECT_EQ(report->alert["timings"]["event_to_report_ms"], 5200);
    EXPECT_EQ(builder.awaiting_reports(), 0u);

    // Nothing is left open for that event.
    EXPECT_FALSE(builder.on_report(id, congestion_event(), full_report("confirmed", "high"), kModels,
                                   info(7, false, 6000)));
    EXPECT_FALSE(builder.on_report("no-such-alert", congestion_event(), full_report("confirmed", "high"), kModels,
                                   info(7, false, 6000)));
}

TEST(AlertBuilderReports, ARejectedVerdictIsStoredNotSent) {
    AlertBuilder builder(AlertPolicy{});
    auto verdict = builder.on_event("cam_main", main_street_camera(), congestion_event(),
                                    verdict_only("rejected", "info"), kT0, kModels, info(1, true, 1000));
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->status, "dismissed");
    EXPECT_FALSE(verdict->deliver);
    auto report = builder.on_report(verdict->alert["id"], congestion_event(), full_report("rejected", "info"),
                                    kModels, info(1, false, 4000));
    ASSERT_TRUE(report);
    EXPECT_EQ(report->status, "dismissed");
    EXPECT_FALSE(report->deliver);
}

// send: on_event. The rules' alert goes out at once; the VLM's rejection
// then dismisses it, and the receivers get that update too.
TEST(AlertBuilderReports, AVlmRejectionRetractsTheRulesAlert) {
    AlertBuilder builder(AlertPolicy{});
    Contextualizer rules(ContextualizerOptions{}, nullptr);
    ContextReport at_once = rules.from_rules(congestion_event(), main_street_camera(), road_frames(),
                                             "sent before the VLM's verdict (send: on_event)");
    auto sent = builder.on_event("cam_main", main_street_camera(), congestion_event(), at_once, kT0, kModels,
                                 info(3, true, 12));
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->status, "sent");
    EXPECT_EQ(sent->alert["severity"], "medium");  // the rules' guess for congestion
    EXPECT_EQ(sent->alert["context"]["source"], "rules");
    EXPECT_FALSE(sent->alert["timings"].contains("event_to_verdict_ms"));
    const std::string id = sent->alert["id"];

    auto rejected = builder.on_report(id, congestion_event(), verdict_only("rejected", "low"), kModels,
                                      info(3, true, 2100));
    ASSERT_TRUE(rejected);
    EXPECT_VALID_ALERT(rejected->alert);
    EXPECT_EQ(rejected->status, "dismissed");
    EXPECT_EQ(rejected->previous_status, "sent");
    EXPECT_TRUE(rejected->deliver) << "receivers must learn the alert was a false trigger";
    EXPECT_EQ(rejected->alert["verdict"], "rejected");
    EXPECT_EQ(rejected->alert["severity"], "low") << "the VLM's judgement replaces the rules' guess";
    EXPECT_EQ(rejected->alert["timings"]["event_to_verdict_ms"], 2100);

    auto final_report = builder.on_report(id, congestion_event(), full_report("rejected", "low"), kModels,
                                          info(3, false, 6100));
    ASSERT_TRUE(final_report);
    EXPECT_EQ(final_report->status, "dismissed");
    EXPECT_EQ(final_report->previous_status, "dismissed");
    EXPECT_TRUE(final_report->deliver);
    EXPECT_EQ(final_report->alert["context"]["source"], "vlm");
    EXPECT_EQ(final_report->alert["context"]["complete"], true);
}

// Another event merging into the alert while one event's report is still
// coming: each event keeps its own say, the strongest wins.
TEST(AlertBuilderReports, AMergedEventKeepsItsSayWhileAnotherEventsReportArrives) {
    AlertBuilder builder(AlertPolicy{});
    auto first = builder.on_event("cam_main", main_street_camera(), congestion_event(),
                                  verdict_only("confirmed", "high"), kT0, kModels, info(1, true, 1000));
    auto second = builder.on_event("cam_main", main_street_camera(), congestion_event(),
                                   full_report("uncertain", "low"), kT0 + 20, kModels, info(2, false, 3000));
    ASSERT_TRUE(first && second);
    EXPECT_EQ(second->alert["id"], first->alert["id"]);
    EXPECT_EQ(second->alert["verdict"], "confirmed");
    // Event 1's VLM report turns out weaker: the alert drops to what the
    // events now say together.
    auto report = builder.on_report(first->alert["id"], congestion_event(), full_report("rejected", "low"), kModels,
                                    info(1, false, 5000));
    ASSERT_TRUE(report);
    EXPECT_EQ(report->alert["verdict"], "uncertain");
    EXPECT_EQ(report->status, "sent");
    EXPECT_EQ(report->alert["related_events"], 2);
}

TEST(AlertBuilder, EpisodeEndUpdatesAnOpenAlertAndIsIgnoredOtherwise) {
    AlertPolicy policy;
    policy.merge_window_s = 60;
    policy.cooldown_s = 0;
    AlertBuilder builder(policy);
    Contextualizer contextualizer(ContextualizerOptions{}, nullptr);
    analyze::Event start = congestion_event();
    analyze::Event end = congestion_event();
    end.phase = analyze::EventPhase::end;
    end.summary = "Congestion in zone \"north_lane\" cleared after 40.0 s (peak 9 vehicles).";
    auto report_for = [&](const analyze::Event& e) { return contextualizer.contextualize(e, main_street_camera(), {}); };

    auto opened = builder.on_event("cam_main", main_street_camera(), start, report_for(start), kT0, kModels);
    auto updated = builder.on_event("cam_main", main_street_camera(), end, report_for(end), kT0 + 40, kModels);
    ASSERT_TRUE(opened && updated);
    EXPECT_EQ(updated->alert["id"], opened->alert["id"]);
    EXPECT_EQ(updated->alert["end_time"], "2024-05-01T12:00:43.250Z");
    EXPECT_VALID_ALERT(updated->alert);

    EXPECT_FALSE(builder.on_event("cam_main", main_street_camera(), end, report_for(end), kT0 + 1000, kModels));
    EXPECT_EQ(builder.ignored_end_events(), 1);
    EXPECT_EQ(builder.suppressed(), 0);
}

struct TypeCase {
    const char* name;
    const char* event_type;
    const char* rule;
    const char* zone;
    int class_id;
    const char* expected;
};

void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.name; }

class AlertTypeMapping : public ::testing::TestWithParam<TypeCase> {};

TEST_P(AlertTypeMapping, EventTypeMapsToTheAlertEnum) {
    const TypeCase& c = GetParam();
    analyze::Event event = congestion_event();
    event.type = c.event_type;
    event.rule = c.rule;
    event.zone = c.zone;
    Track track;
    track.id = 3;
    track.class_id = c.class_id;
    track.label = c.class_id < 0 ? "" : "car";
    EXPECT_EQ(alert_type_for(event, {track}), c.expected);

    // The mapped type is always one the schema accepts.
    AlertBuilder builder(AlertPolicy{});
    Contextualizer contextualizer(ContextualizerOptions{}, nullptr);
    auto decision = builder.on_event("cam_main", main_street_camera(), event,
                                     contextualizer.contextualize(event, main_street_camera(), road_frames()), kT0,
                                     json::object());
    ASSERT_TRUE(decision.has_value());
    EXPECT_VALID_ALERT(decision->alert);
}

INSTANTIATE_TEST_SUITE_P(
    Types, AlertTypeMapping,
    ::testing::Values(TypeCase{"congestion", "congestion", "jam", "north_lane", 2, "congestion"},
                      TypeCase{"unknown_object", "stationary_object", "still", "plaza", -1, "obstruction"},
                      TypeCase{"car_on_lane_rule", "stationary_object", "lane_block", "plaza", 2, "obstruction"},
                      TypeCase{"car_in_road_zone", "stationary_object", "still", "Main_Road", 2, "obstruction"},
                      TypeCase{"parked_car", "stationary_object", "still", "parking", 2, "stationary_object"},
                      TypeCase{"gathering", "gathering", "crowd", "plaza", 0, "gathering"},
                      TypeCase{"scene_change", "scene_change", "scene", "", -1, "scene_check"},
                      TypeCase{"loitering", "loitering", "idle", "door", 0, "loitering"},
                      TypeCase{"wrong_way", "wrong_way", "ww", "ramp", 2, "wrong_way"},
                      TypeCase{"line_cross", "line_cross", "count", "gate", 2, "line_crossing"},
                      TypeCase{"zone_enter", "zone_enter", "intrusion", "track", 0, "zone_intrusion"},
                      TypeCase{"zone_exit", "zone_exit", "leave", "track", 0, "other"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(AlertBuilder, OversizedReportFieldsAreClippedToTheSchema) {
    AlertBuilder builder(AlertPolicy{});
    ContextReport report;
    report.source = "vlm";
    report.verdict = "definitely";  // not a verdict: counts as uncertain
    report.reasoning = std::string(5000, 'r');
    report.report = {{"title", std::string(500, 't')},
                     {"summary", std::string(900, 's')},
                     {"description", std::string(9000, 'd')},
                     {"hazards", json::array()},
                     {"severity", "apocalyptic"},
                     {"confidence", 7.5}};
    for (int i = 0; i < 15; ++i) report.report["hazards"].push_back(std::string(300, 'h'));
    auto decision = builder.on_event("cam_main", main_street_camera(), congestion_event(), report, kT0, kModels);
    ASSERT_TRUE(decision.has_value());
    EXPECT_VALID_ALERT(decision->alert);
    EXPECT_EQ(decision->alert["verdict"], "uncertain");
    EXPECT_EQ(decision->status, "sent");
    EXPECT_EQ(decision->alert["confidence"], 1.0);
    EXPECT_EQ(decision->alert["hazards"].size(), 10u);
}

TEST(AlertBuilder, EvidencePathsAreFilledOrMarkedMissing) {
    AlertPipeline pipeline;
    pipeline.engine.reply(confirmed_answer());
    json alert = pipeline.run(congestion_event(), kT0)->alert;
    EXPECT_TRUE(set_evidence_path(alert, "annotated", std::string("/var/vigil/evidence/x/annotated.jpg")));
    EXPECT_TRUE(set_evidence_path(alert, "crop", std::nullopt));
    EXPECT_FALSE(set_evidence_path(alert, "overview", std::string("/tmp/none.jpg")));
    EXPECT_EQ(alert["evidence"]["images"][1]["path"], "/var/vigil/evidence/x/annotated.jpg");
    EXPECT_EQ(alert["evidence"]["images"][2]["missing"], true);
    EXPECT_VALID_ALERT(alert);
}

TEST(AlertBuilder, ValidatorRejectsBrokenAlerts) {
    AlertPipeline pipeline;
    pipeline.engine.reply(confirmed_answer());
    const json good = pipeline.run(congestion_event(), kT0)->alert;
    json missing = good;
    missing.erase("verdict");
    json bad_enum = good;
    bad_enum["type"] = "earthquake";
    json extra = good;
    extra["status"] = "sent";  // status lives beside the document, not in it
    for (const json& broken : {missing, bad_enum, extra}) EXPECT_FALSE(validate_alert(broken).empty()) << broken.dump();
}

TEST(AlertBuilder, Rfc3339AndIds) {
    EXPECT_EQ(format_rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339_utc(kT0), "2024-05-01T12:00:03.250Z");
    EXPECT_EQ(format_rfc3339_utc(1714564803.9996), "2024-05-01T12:00:04.000Z");
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.insert(make_alert_id(kT0));
    EXPECT_EQ(ids.size(), 1000u);
    EXPECT_LT(make_alert_id(kT0), make_alert_id(kT0 + 1));  // ids sort by time
    EXPECT_EQ(make_alert_id(kT0).size(), 20u);
}

TEST(AlertBuilder, NegativePolicyIsRejected) {
    AlertPolicy policy;
    policy.cooldown_s = -1;
    EXPECT_THROW(AlertBuilder{policy}, Error);
}

}  // namespace
}  // namespace vigil::alert
