#pragma once
// Helpers the decoders share for describing an output they cannot read.
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace vigil::detect {

std::string shape_string(const cv::Mat& m);
// Throws vigil::Error naming the model, the shapes it gave and what was expected.
void require_output(bool ok, const char* model, const std::vector<cv::Mat>& outputs, cv::Size input,
                    const std::string& expected);

}  // namespace vigil::detect
