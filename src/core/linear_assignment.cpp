#include "core/linear_assignment.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"

namespace vigil {

namespace {

// Shortest augmenting paths with dual potentials (Jonker-Volgenant style
// Hungarian), O(n^2 m) for n <= m. Each row is added in turn and the
// cheapest reduced-cost path to a free column is found Dijkstra-style, so
// the potentials stay feasible and the final assignment is optimal.
std::vector<int> solve_wide(const std::vector<double>& cost, int rows, int cols, bool transposed) {
    const double inf = std::numeric_limits<double>::infinity();
    auto at = [&](int r, int c) {  // r, c are 0-based in the wide (rows <= cols) view
        return transposed ? cost[static_cast<size_t>(c) * rows + r] : cost[static_cast<size_t>(r) * cols + c];
    };
    std::vector<double> u(rows + 1, 0.0), v(cols + 1, 0.0);
    std::vector<int> row_of_col(cols + 1, 0);  // 1-based row, 0 = free; index 0 is the virtual start
    std::vector<int> way(cols + 1, 0);
    std::vector<double> min_reduced(cols + 1);
    std::vector<char> used(cols + 1);
    for (int i = 1; i <= rows; ++i) {
        row_of_col[0] = i;
        int j0 = 0;
        std::fill(min_reduced.begin(), min_reduced.end(), inf);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[j0] = 1;
            const int i0 = row_of_col[j0];
            double delta = inf;
            int j1 = 0;
            for (int j = 1; j <= cols; ++j) {
                if (used[j]) continue;
                const double reduced = at(i0 - 1, j - 1) - u[i0] - v[j];
                if (reduced < min_reduced[j]) {
                    min_reduced[j] = reduced;
                    way[j] = j0;
                }
                if (min_reduced[j] < delta) {
                    delta = min_reduced[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= cols; ++j) {
                if (used[j]) {
                    u[row_of_col[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_reduced[j] -= delta;
                }
            }
            j0 = j1;
        } while (row_of_col[j0] != 0);
        do {
            const int j1 = way[j0];
            row_of_col[j0] = row_of_col[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int> col_of_row(rows, -1);
    for (int j = 1; j <= cols; ++j)
        if (row_of_col[j] != 0) col_of_row[row_of_col[j] - 1] = j - 1;
    return col_of_row;
}

}  // namespace

std::vector<int> solve_linear_assignment(const std::vector<double>& cost, int rows, int cols) {
    if (rows < 0 || cols < 0 || cost.size() != static_cast<size_t>(rows) * static_cast<size_t>(cols))
        throw Error("solve_linear_assignment: cost has " + std::to_string(cost.size()) + " entries, expected rows x cols = " +
                    std::to_string(rows) + " x " + std::to_string(cols));
    for (double c : cost)
        if (!std::isfinite(c))
            throw Error("solve_linear_assignment: costs must be finite (use a large finite value for forbidden pairs)");
    if (rows == 0 || cols == 0) return std::vector<int>(rows, -1);
    if (rows <= cols) return solve_wide(cost, rows, cols, false);
    // More rows than columns: solve the transpose, then invert the matching.
    const std::vector<int> row_of_col = solve_wide(cost, cols, rows, true);
    std::vector<int> col_of_row(rows, -1);
    for (int c = 0; c < cols; ++c)
        if (row_of_col[c] >= 0) col_of_row[row_of_col[c]] = c;
    return col_of_row;
}

}  // namespace vigil
