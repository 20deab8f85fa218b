#pragma once
// Maximum-score matching for the per-frame problems of the MOT metrics, where
// most gt/tracker pairs do not overlap at all.
#include <vector>

namespace vigil::eval {

// score is row-major rows x cols, entries >= 0. Returns each row's column
// maximising the total score, or -1. Rows and columns without a positive
// score are left out before solving (they cannot change the optimum), which
// keeps the Hungarian small in crowded frames.
std::vector<int> maximise_assignment(const std::vector<double>& score, int rows, int cols);

}  // namespace vigil::eval
