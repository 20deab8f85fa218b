#pragma once
// Minimum-cost assignment (the Hungarian problem) for rectangular cost
// matrices; shared by the tracker's association and the MOT metrics.
#include <vector>

namespace vigil {

// cost is row-major, rows x cols. Returns, for each row, the column it is
// assigned to, or -1 when rows > cols left it out. Minimises the total cost
// over all complete assignments of min(rows, cols) pairs.
std::vector<int> solve_linear_assignment(const std::vector<double>& cost, int rows, int cols);

}  // namespace vigil
