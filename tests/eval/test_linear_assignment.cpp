#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/linear_assignment.h"

namespace {

double assignment_cost(const std::vector<double>& cost, int cols, const std::vector<int>& col_of_row) {
    double total = 0;
    for (size_t r = 0; r < col_of_row.size(); ++r)
        if (col_of_row[r] >= 0) total += cost[r * cols + col_of_row[r]];
    return total;
}

// Enumerates every injective map of the smaller side into the larger one.
double brute_force_min(const std::vector<double>& cost, int rows, int cols) {
    const int small = std::min(rows, cols), large = std::max(rows, cols);
    std::vector<int> perm(large);
    std::iota(perm.begin(), perm.end(), 0);
    double best = std::numeric_limits<double>::infinity();
    do {
        double total = 0;
        for (int k = 0; k < small; ++k)
            total += rows <= cols ? cost[k * cols + perm[k]] : cost[perm[k] * cols + k];
        best = std::min(best, total);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

TEST(LinearAssignment, MatchesBruteForceOnRandomRectangularMatrices) {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> size(1, 6);
    std::uniform_real_distribution<double> value(-5.0, 10.0);
    std::uniform_int_distribution<int> small_int(0, 3);  // many ties
    for (int trial = 0; trial < 600; ++trial) {
        const int rows = size(rng), cols = size(rng);
        std::vector<double> cost(rows * cols);
        for (double& c : cost) c = trial % 2 ? value(rng) : small_int(rng);
        const std::vector<int> col_of_row = vigil::solve_linear_assignment(cost, rows, cols);
        ASSERT_EQ(static_cast<int>(col_of_row.size()), rows);
        std::vector<int> seen(cols, 0);
        int assigned = 0;
        for (int c : col_of_row) {
            if (c < 0) continue;
            ASSERT_LT(c, cols);
            ASSERT_EQ(seen[c]++, 0) << "column used twice";
            ++assigned;
        }
        ASSERT_EQ(assigned, std::min(rows, cols));
        EXPECT_NEAR(assignment_cost(cost, cols, col_of_row), brute_force_min(cost, rows, cols), 1e-9)
            << "trial " << trial << " (" << rows << "x" << cols << ")";
    }
}

TEST(LinearAssignment, KnownThreeByThree) {
    // Optimal is 0->1, 1->0, 2->2 with cost 1 + 2 + 2 = 5.
    const std::vector<double> cost = {4, 1, 3,  //
                                      2, 0, 5,  //
                                      3, 2, 2};
    EXPECT_EQ(vigil::solve_linear_assignment(cost, 3, 3), (std::vector<int>{1, 0, 2}));
}

TEST(LinearAssignment, EmptyAndTallMatrices) {
    EXPECT_EQ(vigil::solve_linear_assignment({}, 3, 0), (std::vector<int>{-1, -1, -1}));
    EXPECT_TRUE(vigil::solve_linear_assignment({}, 0, 4).empty());
    // Three rows, one column: only the cheapest row gets it.
    EXPECT_EQ(vigil::solve_linear_assignment({5, 1, 3}, 3, 1), (std::vector<int>{-1, 0, -1}));
}

TEST(LinearAssignment, RejectsBadInput) {
    EXPECT_THROW(vigil::solve_linear_assignment({1, 2, 3}, 2, 2), vigil::Error);
    EXPECT_THROW(vigil::solve_linear_assignment({1, std::numeric_limits<double>::infinity()}, 1, 2), vigil::Error);
}

}  // namespace
