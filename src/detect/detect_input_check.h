#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "detect/detect_model_zoo.h"

namespace vigil::detect {

// Throws vigil::Error when a model's declared NCHW input (dims; -1 =
// symbolic, accepted) is not 3 x spec.input_size.
void check_declared_input(const std::vector<int64_t>& nchw, const std::filesystem::path& path,
                          const ModelSpec& spec);

// [net] width/height of a Darknet .cfg as 1x3xHxW dims.
std::vector<int64_t> darknet_input_shape(const std::filesystem::path& cfg);

}  // namespace vigil::detect
