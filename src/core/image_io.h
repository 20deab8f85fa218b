#pragma once
// Loading still images for the VLM and detectors: JPEG, PNG, BMP, or one
// frame of a video given as "path@12.5s" (seconds) or "path@#120" (frame index).
#include <opencv2/core.hpp>
#include <string>

namespace vigil {

// What kind of file the first bytes say it is; "" when not a known image.
std::string sniff_image_format(const std::string& path);

// Loads an image spec as 8-bit RGB (3 channels). Throws vigil::Error naming the
// path and the problem (missing, not an image, truncated, frame out of range).
cv::Mat load_image_rgb(const std::string& spec);

// Same, but keeps OpenCV's BGR channel order (what detectors expect).
cv::Mat load_image_bgr(const std::string& spec);

// Encodes an RGB image to JPEG bytes (quality 0..100).
std::string encode_jpeg_rgb(const cv::Mat& rgb, int quality = 90);

}  // namespace vigil
