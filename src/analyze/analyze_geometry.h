#pragma once
// Plane geometry for zones and lines, in frame pixels (y grows downwards).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace vigil::analyze {

// Which point of a track's box stands for the object: its feet (bottom
// centre, the default: that is where an object touches the ground a zone is
// drawn on) or the box centre (for top-down cameras).
enum class Anchor { bottom_centre, centre };

Anchor anchor_from_string(const std::string& name, const std::string& where);
const char* to_string(Anchor anchor);
cv::Point2f anchor_point(const cv::Rect2f& box, Anchor anchor);

// Even-odd ray test; points exactly on an edge may fall either way.
bool polygon_contains(const std::vector<cv::Point2f>& polygon, cv::Point2f point);

// Throws vigil::Error naming `what` (e.g. `zone "lane"`) when the polygon has
// fewer than 3 points, repeated or collinear points (no area), crossing
// edges, or a point outside [0, frame.width] x [0, frame.height].
void validate_polygon(const std::vector<cv::Point2f>& polygon, cv::Size frame, const std::string& what);

// > 0 when `p` is on the right of the ray a->b as seen on screen (y down),
// < 0 on its left, 0 on the line.
double side_of_line(cv::Point2f a, cv::Point2f b, cv::Point2f p);

// Whether segments p1-p2 and q1-q2 share a point (touching counts).
bool segments_intersect(cv::Point2f p1, cv::Point2f p2, cv::Point2f q1, cv::Point2f q2);

// Angle between two vectors in degrees, 0..180; 0 when either is zero.
double angle_between_deg(cv::Point2f u, cv::Point2f v);

double distance(cv::Point2f a, cv::Point2f b);

}  // namespace vigil::analyze
