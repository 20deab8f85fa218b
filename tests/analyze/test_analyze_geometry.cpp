#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "analyze/analyze_geometry.h"
#include "analyze/analyze_zone.h"
#include "core/error.h"

namespace vigil::analyze {
namespace {

using ::testing::HasSubstr;

std::string zone_error(const nlohmann::json& zone, Units units = Units::pixels) {
    try {
        parse_zone(zone, units, cv::Size(640, 480), "analytics config: zones[0]");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(AnalyzeGeometry, PolygonContainsInsideAndOutsidePoints) {
    std::vector<cv::Point2f> l_shape = {{0, 0}, {100, 0}, {100, 40}, {40, 40}, {40, 100}, {0, 100}};
    EXPECT_TRUE(polygon_contains(l_shape, {20, 20}));
    EXPECT_TRUE(polygon_contains(l_shape, {20, 80}));
    EXPECT_FALSE(polygon_contains(l_shape, {80, 80}));  // the notch of the L
    EXPECT_FALSE(polygon_contains(l_shape, {120, 20}));
}

TEST(AnalyzeGeometry, SideOfLineFollowsScreenOrientation) {
    // Looking from a to b (east), south (larger y) is on the right.
    EXPECT_GT(side_of_line({0, 0}, {10, 0}, {5, 5}), 0);
    EXPECT_LT(side_of_line({0, 0}, {10, 0}, {5, -5}), 0);
    EXPECT_EQ(side_of_line({0, 0}, {10, 0}, {5, 0}), 0);
}

TEST(AnalyzeGeometry, SegmentsIntersect) {
    EXPECT_TRUE(segments_intersect({0, 0}, {10, 10}, {0, 10}, {10, 0}));
    EXPECT_FALSE(segments_intersect({0, 0}, {10, 0}, {0, 5}, {10, 5}));
    EXPECT_TRUE(segments_intersect({5, 0}, {5, 10}, {0, 10}, {10, 10}));  // touching end
    EXPECT_FALSE(segments_intersect({20, -5}, {20, 5}, {0, 0}, {10, 0}));  // beyond the end
}

TEST(AnalyzeGeometry, AngleBetween) {
    EXPECT_NEAR(angle_between_deg({0, 1}, {0, -1}), 180, 1e-6);
    EXPECT_NEAR(angle_between_deg({1, 0}, {0, -1}), 90, 1e-6);
    EXPECT_NEAR(angle_between_deg({1, -1}, {0, -1}), 45, 1e-4);
}

TEST(AnalyzeGeometry, ValidZoneParses) {
    Zone zone = parse_zone({{"name", "lobby"}, {"points", {{10, 10}, {200, 10}, {200, 100}}}, {"inertia_frames", 4}},
                           Units::pixels, cv::Size(640, 480), "zones[0]");
    EXPECT_EQ(zone.name, "lobby");
    EXPECT_EQ(zone.inertia_frames, 4);
    EXPECT_TRUE(zone.contains({150, 30}));
    EXPECT_FALSE(zone.contains({20, 90}));
}

TEST(AnalyzeGeometry, NormalizedZoneScalesToFrame) {
    Zone zone = parse_zone({{"name", "half"}, {"points", {{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}}}, Units::normalized,
                           cv::Size(640, 480), "zones[0]");
    EXPECT_EQ(zone.polygon[1], cv::Point2f(320, 0));
    EXPECT_EQ(zone.polygon[2], cv::Point2f(320, 480));
    EXPECT_THAT(zone_error({{"name", "big"}, {"points", {{0, 0}, {1.5, 0}, {1, 1}}}}, Units::normalized),
                HasSubstr("outside 0..1"));
}

TEST(AnalyzeGeometry, TooFewPointsIsAnError) {
    std::string error = zone_error({{"name", "tiny"}, {"points", {{10, 10}, {100, 10}}}});
    EXPECT_THAT(error, HasSubstr("zone \"tiny\""));
    EXPECT_THAT(error, HasSubstr("at least 3 points, got 2"));
}

TEST(AnalyzeGeometry, SelfIntersectingPolygonIsAnError) {
    // A bow tie: edges 0-1 and 2-3 cross.
    std::string error = zone_error({{"name", "bowtie"}, {"points", {{10, 10}, {100, 100}, {100, 10}, {10, 100}}}});
    EXPECT_THAT(error, HasSubstr("zone \"bowtie\""));
    EXPECT_THAT(error, HasSubstr("intersects itself"));
}

TEST(AnalyzeGeometry, ZoneOutsideFrameIsAnError) {
    std::string error = zone_error({{"name", "offscreen"}, {"points", {{600, 10}, {700, 10}, {650, 100}}}});
    EXPECT_THAT(error, HasSubstr("zone \"offscreen\""));
    EXPECT_THAT(error, HasSubstr("point 1 (700, 10) lies outside the 640x480 frame"));
}

TEST(AnalyzeGeometry, CollinearPolygonIsAnError) {
    EXPECT_THAT(zone_error({{"name", "flat"}, {"points", {{10, 10}, {50, 10}, {100, 10}}}}), HasSubstr("no area"));
}

TEST(AnalyzeGeometry, MalformedPointsAreErrors) {
    EXPECT_THAT(zone_error({{"name", "bad"}, {"points", {{10, 10}, {50}, {100, 10}}}}),
                HasSubstr("zone \"bad\": points[1]: expected a point [x, y]"));
    EXPECT_THAT(zone_error({{"name", "bad"}, {"points", "square"}}), HasSubstr("key \"points\""));
    EXPECT_THAT(zone_error({{"points", {{10, 10}, {50, 10}, {100, 100}}}}), HasSubstr("key \"name\""));
    EXPECT_THAT(zone_error({{"name", "typo"}, {"points", {{10, 10}, {50, 10}, {100, 100}}}, {"inertia", 3}}),
                HasSubstr("unknown key \"inertia\""));
}

TEST(AnalyzeGeometry, LineValidation) {
    auto line_error = [](const nlohmann::json& line) -> std::string {
        try {
            parse_line(line, Units::pixels, cv::Size(640, 480), "lines[0]");
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(line_error({{"name", "ok"}, {"a", {0, 0}}, {"b", {640, 480}}}), "");
    EXPECT_THAT(line_error({{"name", "dot"}, {"a", {5, 5}}, {"b", {5, 5}}}), HasSubstr("line \"dot\""));
    EXPECT_THAT(line_error({{"name", "far"}, {"a", {5, 5}}, {"b", {900, 5}}}), HasSubstr("outside the 640x480"));
}

TEST(AnalyzeGeometry, ZonePresenceNeedsInertiaFramesToFlip) {
    ZonePresence presence;
    presence.observe(true, {1, 1}, 0.0, 3);
    presence.observe(true, {1, 1}, 0.1, 3);
    EXPECT_FALSE(presence.inside);
    presence.observe(true, {1, 1}, 0.2, 3);
    EXPECT_TRUE(presence.inside);
    EXPECT_TRUE(presence.entered);
    EXPECT_DOUBLE_EQ(presence.enter_s, 0.0);
    presence.observe(false, {1, 1}, 0.3, 3);
    presence.observe(true, {1, 1}, 0.4, 3);  // one frame out: stays in
    EXPECT_TRUE(presence.inside);
    EXPECT_FALSE(presence.exited);
}

}  // namespace
}  // namespace vigil::analyze
