#pragma once
// Matching tracks to detections: IoU between box sets and a maximum-weight
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

struct WeightedPair {
    int row = 0;
    int col = 0;
    double weight = 0;  // > 0; only listed pairs may match
};

struct Assignment {
    std::vector<std::pair<int, int>> matches;  // (row, col), sorted
    std::vector<int> unmatched_rows;
    std::vector<int> unmatched_cols;
};

// The matching of listed pairs with the largest total weight (each row and
// column used at most once). With weight = gate - cost this is the Hungarian
// assignment with a cost limit that SORT and ByteTrack solve (lapjv with
// cost_limit): a pair is taken only where it beats leaving both unmatched,
// never merely to match more pairs.
Assignment assign_max_weight(int rows, int cols, const std::vector<WeightedPair>& pairs);

}  // namespace vigil::track
