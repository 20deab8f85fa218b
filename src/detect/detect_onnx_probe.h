#pragma once
// Reads just enough of an ONNX file (protobuf ModelProto) to say whether it
// is one and what input shape its graph declares, so both runtimes can check
// a model before handing it over (and fail with a message, not a crash).
#include <cstdint>
#include <filesystem>
#include <vector>

namespace vigil::detect {

// Dims of the graph's first 4-D input; -1 for a symbolic dimension. Throws
// vigil::Error naming the path when the file is not an ONNX model.
std::vector<int64_t> onnx_input_shape(const std::filesystem::path& path);

}  // namespace vigil::detect
