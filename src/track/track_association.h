#pragma once
// Matching tracks to detections: IoU between box sets and a gated minimum-cost
// assignment that stays fast with thousands of boxes by only looking at
// overlapping pairs and solving each cluster of them on its own.
#include <opencv2/core.hpp>
#include <utility>
#include <vector>

namespace vigil::track {

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b);

struct BoxPair {
    int row = 0;  // index into the first set (tracks)
    int col = 0;  // index into the second set (detections)
    float iou = 0;
};

// Every pair whose IoU exceeds min_iou (>= 0); found by sweeping the boxes in
// x order, so sparse scenes cost far less than rows x cols.
std::vector<BoxPair> overlapping_pairs(const std::vector<cv::Rect2f>& rows, const std::vector<cv::Rect2f>& cols,
                                       float min_iou = 0.f);

struct GatedCost {
    int row = 0;
    int col = 0;
    double cost = 0;  // only pairs allowed to match are listed
};

struct Assignment {
    std::vector<std::pair<int, int>> matches;  // (row, col)
    std::vector<int> unmatched_rows;
    std::vector<int> unmatched_cols;
};

// Matches as many allowed pairs as possible, then at minimum total cost.
// Pairs not listed in allowed can never match.
Assignment assign_gated(int rows, int cols, const std::vector<GatedCost>& allowed);

}  // namespace vigil::track
