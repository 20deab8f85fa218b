#include "analyze/analyze_zone.h"

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "analyze/analyze_config.h"
#include "analyze/analyze_geometry.h"
#include "core/error.h"

namespace vigil::analyze {

static cv::Point2f to_pixels(cv::Point2f p, Units units, cv::Size frame, const std::string& where) {
    if (units == Units::pixels) return p;
    if (p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1) {
        throw Error(fmt::format("{}: normalized point ({}, {}) is outside 0..1", where, p.x, p.y));
    }
    return {p.x * frame.width, p.y * frame.height};
}

Zone parse_zone(const nlohmann::json& config, Units units, cv::Size frame, const std::string& where) {
    ConfigReader reader(config, where);
    Zone zone;
    zone.name = reader.string("name");
    std::string what = fmt::format("zone \"{}\"", zone.name);
    const nlohmann::json& points = reader.required("points");
    if (!points.is_array()) reader.fail("points", "expected a list of [x, y] points, got " + points.dump());
    for (size_t i = 0; i < points.size(); ++i) {
        std::string point_where = fmt::format("{}: points[{}]", what, i);
        zone.polygon.push_back(to_pixels(parse_point(points[i], point_where), units, frame, point_where));
    }
    zone.inertia_frames = reader.integer_or("inertia_frames", zone.inertia_frames, 1, 1000);
    reader.finish();
    validate_polygon(zone.polygon, frame, what);
    zone.bounds = cv::boundingRect(zone.polygon);
    return zone;
}

bool Zone::contains(cv::Point2f p) const {
    if (p.x < bounds.x || p.y < bounds.y || p.x > bounds.x + bounds.width || p.y > bounds.y + bounds.height) {
        return false;
    }
    return polygon_contains(polygon, p);
}

Line parse_line(const nlohmann::json& config, Units units, cv::Size frame, const std::string& where) {
    ConfigReader reader(config, where);
    Line line;
    line.name = reader.string("name");
    std::string what = fmt::format("line \"{}\"", line.name);
    line.a = to_pixels(reader.point("a"), units, frame, what + ": a");
    line.b = to_pixels(reader.point("b"), units, frame, what + ": b");
    line.inertia_frames = reader.integer_or("inertia_frames", line.inertia_frames, 1, 1000);
    reader.finish();
    for (cv::Point2f p : {line.a, line.b}) {
        if (p.x < 0 || p.y < 0 || p.x > frame.width || p.y > frame.height) {
            throw Error(fmt::format("{}: end point ({}, {}) lies outside the {}x{} frame", what, p.x, p.y,
                                    frame.width, frame.height));
        }
    }
    if (distance(line.a, line.b) < 1.0) {
        throw Error(fmt::format("{}: a and b are the same point; a line needs two distinct ends", what));
    }
    return line;
}

void ZonePresence::observe(bool raw_inside, cv::Point2f anchor, double time_s, int inertia_frames) {
    entered = exited = false;
    if (raw_inside == inside) {
        streak = 0;
        if (inside) last_in_s = time_s;
        return;
    }
    if (streak == 0) {
        streak_start_s = time_s;
        streak_anchor = anchor;
    }
    if (++streak < inertia_frames) return;
    inside = raw_inside;
    streak = 0;
    if (inside) {
        entered = true;
        enter_s = streak_start_s;
        enter_anchor = streak_anchor;
        last_in_s = time_s;
    } else {
        exited = true;
    }
}

}  // namespace vigil::analyze
