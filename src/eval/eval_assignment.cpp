#include "eval/eval_assignment.h"

#include <cstddef>

#include "core/linear_assignment.h"

namespace vigil::eval {

std::vector<int> maximise_assignment(const std::vector<double>& score, int rows, int cols) {
    std::vector<int> active_rows, active_cols;
    std::vector<char> col_active(cols, 0);
    for (int i = 0; i < rows; ++i) {
        bool any = false;
        for (int j = 0; j < cols; ++j)
            if (score[static_cast<size_t>(i) * cols + j] > 0) {
                any = true;
                col_active[j] = 1;
            }
        if (any) active_rows.push_back(i);
    }
    for (int j = 0; j < cols; ++j)
        if (col_active[j]) active_cols.push_back(j);
    std::vector<int> result(rows, -1);
    if (active_rows.empty()) return result;
    const int n = static_cast<int>(active_rows.size()), m = static_cast<int>(active_cols.size());
    std::vector<double> cost(static_cast<size_t>(n) * m);
    for (int a = 0; a < n; ++a)
        for (int b = 0; b < m; ++b)
            cost[static_cast<size_t>(a) * m + b] = -score[static_cast<size_t>(active_rows[a]) * cols + active_cols[b]];
    const std::vector<int> match = solve_linear_assignment(cost, n, m);
    for (int a = 0; a < n; ++a)
        if (match[a] >= 0) result[active_rows[a]] = active_cols[match[a]];
    return result;
}

}  // namespace vigil::eval
