#include "track/track_association.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "core/linear_assignment.h"

namespace vigil::track {
namespace {

bool usable(const cv::Rect2f& box) { return box.width > 0 && box.height > 0; }

class DisjointSets {
public:
    explicit DisjointSets(int count) : parent_(size_t(count)) { std::iota(parent_.begin(), parent_.end(), 0); }
    int find(int i) {
        while (parent_[size_t(i)] != i) {
            parent_[size_t(i)] = parent_[size_t(parent_[size_t(i)])];
            i = parent_[size_t(i)];
        }
        return i;
    }
    void join(int a, int b) { parent_[size_t(find(a))] = find(b); }

private:
    std::vector<int> parent_;
};

}  // namespace

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b) {
    if (!usable(a) || !usable(b)) return 0.f;
    const float ix = std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x);
    const float iy = std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y);
    if (ix <= 0 || iy <= 0) return 0.f;
    const float inter = ix * iy;
    return inter / (a.area() + b.area() - inter);
}

std::vector<BoxPair> overlapping_pairs(const std::vector<cv::Rect2f>& rows, const std::vector<cv::Rect2f>& cols,
                                       float min_iou) {
    std::vector<BoxPair> pairs;
    if (rows.empty() || cols.empty()) return pairs;
    std::vector<int> col_order;
    col_order.reserve(cols.size());
    float widest = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
        if (!usable(cols[c])) continue;
        col_order.push_back(int(c));
        widest = std::max(widest, cols[c].width);
    }
    std::sort(col_order.begin(), col_order.end(), [&](int a, int b) { return cols[size_t(a)].x < cols[size_t(b)].x; });
    std::vector<float> col_x(col_order.size());
    for (size_t i = 0; i < col_order.size(); ++i) col_x[i] = cols[size_t(col_order[i])].x;

    for (size_t r = 0; r < rows.size(); ++r) {
        const cv::Rect2f& box = rows[r];
        if (!usable(box)) continue;
        // Only columns starting within (box.x - widest, box.x + box.width) can overlap.
        auto first = std::upper_bound(col_x.begin(), col_x.end(), box.x - widest);
        auto last = std::lower_bound(first, col_x.end(), box.x + box.width);
        for (auto it = first; it != last; ++it) {
            const int c = col_order[size_t(it - col_x.begin())];
            const float iou = box_iou(box, cols[size_t(c)]);
            if (iou > min_iou) pairs.push_back({int(r), c, iou});
        }
    }
    return pairs;
}

Assignment assign_max_weight(int rows, int cols, const std::vector<WeightedPair>& pairs) {
    Assignment result;
    std::vector<bool> row_matched(size_t(rows), false), col_matched(size_t(cols), false);

    // Rows are nodes [0, rows), columns [rows, rows + cols); clusters of
    // listed pairs are independent problems.
    DisjointSets sets(rows + cols);
    for (const WeightedPair& pair : pairs)
        if (pair.weight > 0) sets.join(pair.row, rows + pair.col);
    std::unordered_map<int, std::vector<const WeightedPair*>> clusters;
    for (const WeightedPair& pair : pairs)
        if (pair.weight > 0) clusters[sets.find(pair.row)].push_back(&pair);

    std::vector<int> cluster_roots;
    cluster_roots.reserve(clusters.size());
    for (const auto& [root, members] : clusters) cluster_roots.push_back(root);
    std::sort(cluster_roots.begin(), cluster_roots.end());  // deterministic output order

    std::unordered_map<int, int> local_row, local_col;
    std::vector<int> global_row, global_col;
    std::vector<double> cost;
    for (int root : cluster_roots) {
        const auto& members = clusters[root];
        if (members.size() == 1) {
            result.matches.emplace_back(members[0]->row, members[0]->col);
            continue;
        }
        local_row.clear();
        local_col.clear();
        global_row.clear();
        global_col.clear();
        for (const WeightedPair* pair : members) {
            if (local_row.emplace(pair->row, int(global_row.size())).second) global_row.push_back(pair->row);
            if (local_col.emplace(pair->col, int(global_col.size())).second) global_col.push_back(pair->col);
        }
        const int n_rows = int(global_row.size());
        const int n_cols = int(global_col.size());
        // Unlisted pairs cost 0, the same as leaving both sides unmatched, so
        // the minimum-cost complete assignment is the maximum-weight matching
        // once its zero-cost pairs are dropped.
        cost.assign(size_t(n_rows) * size_t(n_cols), 0.0);
        for (const WeightedPair* pair : members) {
            double& entry = cost[size_t(local_row[pair->row]) * size_t(n_cols) + size_t(local_col[pair->col])];
            entry = std::min(entry, -pair->weight);
        }
        const std::vector<int> assigned = vigil::solve_linear_assignment(cost, n_rows, n_cols);
        for (int r = 0; r < n_rows; ++r) {
            const int c = assigned[size_t(r)];
            if (c < 0 || cost[size_t(r) * size_t(n_cols) + size_t(c)] >= 0) continue;
            result.matches.emplace_back(global_row[size_t(r)], global_col[size_t(c)]);
        }
    }
    std::sort(result.matches.begin(), result.matches.end());
    for (const auto& [r, c] : result.matches) {
        row_matched[size_t(r)] = true;
        col_matched[size_t(c)] = true;
    }
    for (int r = 0; r < rows; ++r)
        if (!row_matched[size_t(r)]) result.unmatched_rows.push_back(r);
    for (int c = 0; c < cols; ++c)
        if (!col_matched[size_t(c)]) result.unmatched_cols.push_back(c);
    return result;
}

}  // namespace vigil::track
