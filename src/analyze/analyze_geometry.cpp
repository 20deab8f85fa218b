#include "analyze/analyze_geometry.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/error.h"

namespace vigil::analyze {

Anchor anchor_from_string(const std::string& name, const std::string& where) {
    if (name == "bottom_centre" || name == "bottom_center") return Anchor::bottom_centre;
    if (name == "centre" || name == "center") return Anchor::centre;
    throw Error(fmt::format("{}: anchor \"{}\" is not known (expected \"bottom_centre\" or \"centre\")", where, name));
}

const char* to_string(Anchor anchor) {
    return anchor == Anchor::centre ? "centre" : "bottom_centre";
}

cv::Point2f anchor_point(const cv::Rect2f& box, Anchor anchor) {
    float y = anchor == Anchor::centre ? box.y + box.height * 0.5f : box.y + box.height;
    return {box.x + box.width * 0.5f, y};
}

bool polygon_contains(const std::vector<cv::Point2f>& polygon, cv::Point2f point) {
    bool inside = false;
    size_t n = polygon.size();
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        const cv::Point2f& a = polygon[i];
        const cv::Point2f& b = polygon[j];
        if ((a.y > point.y) != (b.y > point.y)) {
            float x_cross = a.x + (point.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if (point.x < x_cross) inside = !inside;
        }
    }
    return inside;
}

double side_of_line(cv::Point2f a, cv::Point2f b, cv::Point2f p) {
    return double(b.x - a.x) * double(p.y - a.y) - double(b.y - a.y) * double(p.x - a.x);
}

static int sign_of(double v) {
    return (v > 0) - (v < 0);
}

static bool on_segment(cv::Point2f a, cv::Point2f b, cv::Point2f p) {
    return std::min(a.x, b.x) <= p.x && p.x <= std::max(a.x, b.x) && std::min(a.y, b.y) <= p.y &&
           p.y <= std::max(a.y, b.y);
}

bool segments_intersect(cv::Point2f p1, cv::Point2f p2, cv::Point2f q1, cv::Point2f q2) {
    int d1 = sign_of(side_of_line(q1, q2, p1));
    int d2 = sign_of(side_of_line(q1, q2, p2));
    int d3 = sign_of(side_of_line(p1, p2, q1));
    int d4 = sign_of(side_of_line(p1, p2, q2));
    if (d1 * d2 < 0 && d3 * d4 < 0) return true;
    if (d1 == 0 && on_segment(q1, q2, p1)) return true;
    if (d2 == 0 && on_segment(q1, q2, p2)) return true;
    if (d3 == 0 && on_segment(p1, p2, q1)) return true;
    if (d4 == 0 && on_segment(p1, p2, q2)) return true;
    return false;
}

double angle_between_deg(cv::Point2f u, cv::Point2f v) {
    double nu = std::hypot(u.x, u.y);
    double nv = std::hypot(v.x, v.y);
    if (nu == 0 || nv == 0) return 0;
    double c = (double(u.x) * v.x + double(u.y) * v.y) / (nu * nv);
    return std::acos(std::clamp(c, -1.0, 1.0)) * 180.0 / CV_PI;
}

double distance(cv::Point2f a, cv::Point2f b) {
    return std::hypot(double(a.x) - b.x, double(a.y) - b.y);
}

void validate_polygon(const std::vector<cv::Point2f>& polygon, cv::Size frame, const std::string& what) {
    size_t n = polygon.size();
    if (n < 3) {
        throw Error(fmt::format("{}: a polygon needs at least 3 points, got {}", what, n));
    }
    for (size_t i = 0; i < n; ++i) {
        const cv::Point2f& p = polygon[i];
        if (!std::isfinite(p.x) || !std::isfinite(p.y) || p.x < 0 || p.y < 0 || p.x > frame.width ||
            p.y > frame.height) {
            throw Error(fmt::format("{}: point {} ({}, {}) lies outside the {}x{} frame", what, i, p.x, p.y,
                                    frame.width, frame.height));
        }
    }
    // Edges i and k cross when they are not neighbours and intersect; neighbours
    // share a vertex by construction.
    for (size_t i = 0; i < n; ++i) {
        cv::Point2f a1 = polygon[i], a2 = polygon[(i + 1) % n];
        if (a1 == a2) {
            throw Error(fmt::format("{}: points {} and {} are the same", what, i, (i + 1) % n));
        }
        for (size_t k = i + 1; k < n; ++k) {
            if (k == i + 1 || (i == 0 && k == n - 1)) continue;
            cv::Point2f b1 = polygon[k], b2 = polygon[(k + 1) % n];
            if (segments_intersect(a1, a2, b1, b2)) {
                throw Error(fmt::format("{}: the polygon intersects itself (edge {}-{} crosses edge {}-{})", what,
                                        i, (i + 1) % n, k, (k + 1) % n));
            }
        }
    }
    double twice_area = 0;
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        twice_area += double(polygon[j].x) * polygon[i].y - double(polygon[i].x) * polygon[j].y;
    }
    if (std::abs(twice_area) < 1e-6) {
        throw Error(fmt::format("{}: the polygon has no area (its points are collinear or repeated)", what));
    }
}

}  // namespace vigil::analyze
