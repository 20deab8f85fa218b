// The gated assignment and the overlap search against brute force on random
// small problems.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

#include "track/track_association.h"

namespace {

using vigil::track::GatedCost;

// Best (most matches, then least cost) over every injective row -> col map.
std::pair<int, double> brute_force(int rows, int cols, const std::vector<GatedCost>& allowed) {
    std::vector<std::vector<double>> cost(size_t(rows), std::vector<double>(size_t(cols), -1));
    for (const auto& a : allowed) cost[size_t(a.row)][size_t(a.col)] = a.cost;
    std::pair<int, double> best{0, 0};
    std::vector<int> choice(size_t(rows), -1);
    std::vector<bool> used(size_t(cols), false);
    std::function<void(int, int, double)> go = [&](int r, int matched, double total) {
        if (r == rows) {
            if (matched > best.first || (matched == best.first && total < best.second - 1e-9)) best = {matched, total};
            return;
        }
        go(r + 1, matched, total);
        for (int c = 0; c < cols; ++c) {
            if (used[size_t(c)] || cost[size_t(r)][size_t(c)] < 0) continue;
            used[size_t(c)] = true;
            go(r + 1, matched + 1, total + cost[size_t(r)][size_t(c)]);
            used[size_t(c)] = false;
        }
    };
    go(0, 0, 0);
    return best;
}

TEST(AssignGated, MatchesBruteForceOnRandomProblems) {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 300; ++trial) {
        const int rows = int(rng() % 6), cols = int(rng() % 6);
        std::vector<GatedCost> allowed;
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c)
                if (rng() % 3 == 0) allowed.push_back({r, c, double(rng() % 100) / 100.0});
        const auto result = vigil::track::assign_gated(rows, cols, allowed);
        double total = 0;
        for (const auto& [r, c] : result.matches) {
            const auto it = std::find_if(allowed.begin(), allowed.end(),
                                         [&](const GatedCost& a) { return a.row == r && a.col == c; });
            ASSERT_NE(it, allowed.end()) << "matched a pair that was not allowed";
            total += it->cost;
        }
        const auto [best_matched, best_total] = brute_force(rows, cols, allowed);
        EXPECT_EQ(int(result.matches.size()), best_matched) << "trial " << trial;
        EXPECT_NEAR(total, best_total, 1e-9) << "trial " << trial;
        EXPECT_EQ(result.matches.size() + result.unmatched_rows.size(), size_t(rows));
        EXPECT_EQ(result.matches.size() + result.unmatched_cols.size(), size_t(cols));
    }
}

TEST(OverlappingPairs, FindsEveryOverlapOfRandomBoxes) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> pos(0, 500), size(-5, 80);
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<cv::Rect2f> a(60), b(70);
        for (auto& r : a) r = cv::Rect2f(pos(rng), pos(rng), size(rng), size(rng));
        for (auto& r : b) r = cv::Rect2f(pos(rng), pos(rng), size(rng), size(rng));
        const auto pairs = vigil::track::overlapping_pairs(a, b, 0.05f);
        size_t expected = 0;
        for (size_t i = 0; i < a.size(); ++i)
            for (size_t j = 0; j < b.size(); ++j)
                if (vigil::track::box_iou(a[i], b[j]) > 0.05f) ++expected;
        EXPECT_EQ(pairs.size(), expected);
        for (const auto& p : pairs) EXPECT_FLOAT_EQ(p.iou, vigil::track::box_iou(a[size_t(p.row)], b[size_t(p.col)]));
    }
}

TEST(BoxIou, DegenerateBoxesHaveNoOverlap) {
    EXPECT_FLOAT_EQ(vigil::track::box_iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.f);
    EXPECT_FLOAT_EQ(vigil::track::box_iou({0, 0, 10, 10}, {5, 0, 10, 10}), 1.f / 3.f);
    EXPECT_FLOAT_EQ(vigil::track::box_iou({0, 0, 0, 10}, {0, 0, 10, 10}), 0.f);
    EXPECT_FLOAT_EQ(vigil::track::box_iou({0, 0, -5, 10}, {-5, 0, 10, 10}), 0.f);
}

}  // namespace
