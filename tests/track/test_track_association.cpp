// The maximum-weight assignment and the overlap search against brute force on random
// small problems.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

#include "track/track_association.h"

namespace {

using vigil::track::WeightedPair;

// Largest total weight over every injective row -> col map of listed pairs.
double brute_force(int rows, int cols, const std::vector<WeightedPair>& pairs) {
    std::vector<std::vector<double>> weight(size_t(rows), std::vector<double>(size_t(cols), 0));
    for (const auto& p : pairs) weight[size_t(p.row)][size_t(p.col)] = p.weight;
    double best = 0;
    std::vector<bool> used(size_t(cols), false);
    std::function<void(int, double)> go = [&](int r, double total) {
        if (r == rows) {
            best = std::max(best, total);
            return;
        }
        go(r + 1, total);
        for (int c = 0; c < cols; ++c) {
            if (used[size_t(c)] || weight[size_t(r)][size_t(c)] <= 0) continue;
            used[size_t(c)] = true;
            go(r + 1, total + weight[size_t(r)][size_t(c)]);
            used[size_t(c)] = false;
        }
    };
    go(0, 0);
    return best;
}

TEST(AssignMaxWeight, MatchesBruteForceOnRandomProblems) {
    std::mt19937 rng(42);
    for (int trial = 0; trial < 300; ++trial) {
        const int rows = int(rng() % 6), cols = int(rng() % 6);
        std::vector<WeightedPair> pairs;
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c)
                if (rng() % 3 == 0) pairs.push_back({r, c, double(1 + rng() % 100) / 100.0});
        const auto result = vigil::track::assign_max_weight(rows, cols, pairs);
        double total = 0;
        for (const auto& [r, c] : result.matches) {
            const auto it = std::find_if(pairs.begin(), pairs.end(),
                                         [&](const WeightedPair& p) { return p.row == r && p.col == c; });
            ASSERT_NE(it, pairs.end()) << "matched a pair that was not listed";
            total += it->weight;
        }
        EXPECT_NEAR(total, brute_force(rows, cols, pairs), 1e-9) << "trial " << trial;
        EXPECT_EQ(result.matches.size() + result.unmatched_rows.size(), size_t(rows));
        EXPECT_EQ(result.matches.size() + result.unmatched_cols.size(), size_t(cols));
    }
}

// The reason for maximum weight rather than most matches: a track that fits
// one detection well must keep it, even if that leaves a weakly overlapping
// track unmatched (which a most-matches assignment would pair crosswise).
TEST(AssignMaxWeight, PrefersOneGoodMatchToTwoPoorOnes) {
    // Weights as ByteTrack's margins over the gate: track 0 fits detection 0
    // (0.7) and barely detection 1 (0.05); track 1 barely detection 0 (0.05).
    const auto result = vigil::track::assign_max_weight(2, 2, {{0, 0, 0.7}, {0, 1, 0.05}, {1, 0, 0.05}});
    ASSERT_EQ(result.matches.size(), 1u);
    EXPECT_EQ(result.matches[0], std::make_pair(0, 0));
    EXPECT_EQ(result.unmatched_rows, std::vector<int>{1});
    EXPECT_EQ(result.unmatched_cols, std::vector<int>{1});
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
