#include <gtest/gtest.h>
#include <gmock/gmock.h>


#include "analyze/analyze_engine.h"
#include "analyze/analyze_scenario.h"
#include "core/error.h"
#include "testing/test_support.h"

namespace vigil::analyze {
namespace {

using ::testing::HasSubstr;

nlohmann::json lobby_config(nlohmann::json rules) {
    return {{"zones", {{{"name", "lobby"}, {"points", {{200, 100}, {440, 100}, {440, 380}, {200, 380}}}}}},
            {"lines", {{{"name", "door"}, {"a", {320, 100}}, {"b", {320, 400}}}}},
            {"rules", std::move(rules)}};
}

std::string engine_error(const nlohmann::json& config) {
    try {
        AnalyticsEngine engine(config, cv::Size(640, 480));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

Track person(int id, cv::Point2f feet, int frames_since_seen = 0) {
    Track t;
    t.id = id;
    t.class_id = 0;
    t.label = "person";
    t.box = {feet.x - 10, feet.y - 40, 20, 40};
    t.confirmed = true;
    t.frames_since_seen = frames_since_seen;
    return t;
}

TEST(AnalyticsEngineConfig, ErrorsNameRuleAndKey) {
    EXPECT_THAT(engine_error(lobby_config({{{"name", "jam"}, {"type", "congestion"}, {"zone", "lobby"},
                                            {"min_count", 5}, {"min_s", 10}}})),
                HasSubstr("analytics rule \"jam\" (congestion): key \"max_speed_px_s\": is required"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "dw"}, {"type", "dwell"}, {"zone", "lobbby"}, {"min_s", 3}}})),
                HasSubstr("rule \"dw\" (dwell): key \"zone\": no zone named \"lobbby\" (zones: lobby)"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "dw"}, {"type", "dwell"}, {"zone", "lobby"}, {"min_s", -3}}})),
                HasSubstr("key \"min_s\": -3 must be greater than 0"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "dw"}, {"type", "dwell"}, {"zone", "lobby"}, {"min_s", "10s"}}})),
                HasSubstr("key \"min_s\": expected a number"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "x"}, {"type", "teleport"}}})),
                HasSubstr("key \"type\": \"teleport\" is not a rule type"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "c"}, {"type", "line_crossing"}, {"line", "door"},
                                            {"direction", "inwards"}}})),
                HasSubstr("rule \"c\" (line_crossing): key \"direction\": \"inwards\""));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "c"}, {"type", "line_crossing"}, {"line", "door"},
                                            {"clases", {0}}}})),
                HasSubstr("rule \"c\" (line_crossing): unknown key \"clases\""));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "w"}, {"type", "wrong_way"}, {"zone", "lobby"},
                                            {"direction", {0, 0}}}})),
                HasSubstr("key \"direction\": must be a non-zero vector"));
    EXPECT_THAT(engine_error(lobby_config({{{"name", "a"}, {"type", "dwell"}, {"zone", "lobby"}, {"min_s", 1}},
                                           {{"name", "a"}, {"type", "dwell"}, {"zone", "lobby"}, {"min_s", 2}}})),
                HasSubstr("rule name \"a\" is used twice"));
    EXPECT_THAT(engine_error({{"units", "inches"}}), HasSubstr("key \"units\""));
    EXPECT_THAT(engine_error({{"zones", {{{"name", "z"}, {"points", {{1, 1}, {2, 1}}}}}}}),
                HasSubstr("zone \"z\": a polygon needs at least 3 points"));
    EXPECT_THAT(engine_error({{"rulez", nlohmann::json::array()}}), HasSubstr("unknown key \"rulez\""));
}

TEST(AnalyticsEngine, TracksLostThenRemovedEndTheirVisit) {
    AnalyticsEngine engine(lobby_config({{{"name", "p"}, {"type", "zone_presence"}, {"zone", "lobby"}}}),
                           cv::Size(640, 480));
    std::vector<Event> events;
    double t = 0;
    auto step = [&](std::vector<Track> tracks) {
        auto out = engine.update(tracks, t);
        events.insert(events.end(), out.begin(), out.end());
        t += 0.1;
    };
    step({person(1, {300, 200})});
    step({person(1, {300, 200})});
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "zone_enter");
    // Lost with a predicted box far outside: held, no exit.
    for (int i = 1; i <= 5; ++i) step({person(1, {50, 450}, i)});
    EXPECT_EQ(events.size(), 1u);
    EXPECT_EQ(engine.tracks_in_memory(), 1u);
    step({});
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].type, "zone_exit");
    EXPECT_EQ(events[1].metrics["reason"], "track_removed");
    EXPECT_EQ(engine.tracks_in_memory(), 0u);
}

TEST(AnalyticsEngine, UnconfirmedTracksAreIgnoredUnlessConfigured) {
    nlohmann::json config = lobby_config({{{"name", "p"}, {"type", "zone_presence"}, {"zone", "lobby"}}});
    Track tentative = person(1, {300, 200});
    tentative.confirmed = false;
    AnalyticsEngine strict(config, cv::Size(640, 480));
    config["confirmed_only"] = false;
    AnalyticsEngine loose(config, cv::Size(640, 480));
    size_t strict_events = 0, loose_events = 0;
    for (int i = 0; i < 3; ++i) {
        strict_events += strict.update({tentative}, i * 0.1).size();
        loose_events += loose.update({tentative}, i * 0.1).size();
    }
    EXPECT_EQ(strict_events, 0u);
    EXPECT_EQ(loose_events, 1u);
}

TEST(AnalyticsEngine, EventJsonIsSelfDescribing) {
    AnalyticsEngine engine(lobby_config({{{"name", "door_count"}, {"type", "line_crossing"}, {"line", "door"}}}),
                           cv::Size(640, 480));
    std::vector<Event> events;
    for (int i = 0; i <= 10; ++i) {
        Track t = person(7, {280.f + 8 * i, 250});
        t.velocity_px_s = {80, 0};
        engine.update({t}, i * 0.1, events);
    }
    ASSERT_EQ(events.size(), 1u);
    nlohmann::json j = events[0];
    EXPECT_EQ(j["rule"], "door_count");
    EXPECT_EQ(j["type"], "line_cross");
    EXPECT_EQ(j["zone"], "door");
    EXPECT_EQ(j["direction"], "right_to_left");
    EXPECT_EQ(j["track_ids"], nlohmann::json::array({7}));
    EXPECT_EQ(j["metrics"]["speed_px_s"], 80);
    EXPECT_EQ(j["summary"], "person #7 crossed line \"door\" right to left.");
}

TEST(ScenarioLoader, ErrorsNameFileAndLine) {
    testing::TempDir dir;
    auto file = dir / "bad.scenario";
    testing::write_file(file, "frame 640 480\ntime 0 1\nconfig\n{}\nend\ntrack 1 class=person\n0.0 10,10\n0.0 20,20\n");
    try {
        load_scenario(file);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("bad.scenario:8: keyframe times must increase"));
    }
    testing::write_file(file, "time 0 1\nconfig\n{\"zones\": [}\nend\n");
    EXPECT_THROW(load_scenario(file), Error);
    testing::write_file(file, "time 0 1\nconfig\n{}\nend\nexpect zone_enter colour=red\n");
    try {
        load_scenario(file);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("bad.scenario:5: unknown expectation key \"colour\""));
    }
}

TEST(ScenarioLoader, MissingExpectedEventFailsTheScenario) {
    testing::TempDir dir;
    auto file = dir / "wrong.scenario";
    testing::write_file(file, R"(time 0 3
config
{"lines": [{"name": "door", "a": [320, 100], "b": [320, 400]}],
 "rules": [{"name": "door_count", "type": "line_crossing", "line": "door"}]}
end
track 1 class=person
0.0 200,250
3.0 440,250
expect line_cross track=1 direction=left_to_right
expect line_cross track=2
)");
    ScenarioResult result = run_scenario(load_scenario(file));
    ASSERT_EQ(result.events.size(), 1u);
    // The crossing is right_to_left, so it matches neither expectation and is unexpected.
    ASSERT_EQ(result.failures.size(), 3u);
    EXPECT_THAT(result.failures[0], HasSubstr("line 9: no event matches"));
    EXPECT_THAT(result.failures[2], HasSubstr("unexpected event"));
}

}  // namespace
}  // namespace vigil::analyze
