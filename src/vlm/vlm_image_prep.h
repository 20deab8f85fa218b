#pragma once
// Image budget for the embedded backend: how many image tokens one image may
// cost, decided from the projector's GGUF metadata before libmtmd sees it.
//
// Tiling projectors (idefics3 / SmolVLM) cut an image into fixed 512 px tiles
// plus one overview tile; left alone, libmtmd first scales every image up to
// the projector's preprocessing size (2048 px for SmolVLM: 16 tiles + overview,
// over 1000 tokens). Vigil bounds the tile count instead, both by shrinking
// the image and by giving libmtmd a matching image_max_tokens. An image that
// fits one tile is encoded once (Vigil's libmtmd patch 0003): its tile would
// hold the same pixels as its overview.
#include <opencv2/core.hpp>
#include <string>

#include "vlm/vlm_engine.h"

namespace vigil::vlm {

// What the mmproj GGUF says about its vision side.
struct ProjectorInfo {
    std::string type;          // clip.projector_type, e.g. "idefics3", "qwen2.5vl"
    int image_size = 0;        // input side in px (the tile side for tiling projectors)
    int patch_size = 0;        // ViT patch side in px
    int scale_factor = 1;      // pixel-shuffle merge factor (idefics3)
    int projection_dim = 0;    // clip.vision.projection_dim when present, else 0

    // Fixed-size tiles plus an overview tile (idefics3 family).
    bool tiling() const;
    // Image tokens one tile costs (64 for SmolVLM: (512 / 16 / 4)^2).
    int tokens_per_tile() const;
};

// Reads the projector metadata. Throws vigil::Error naming the path when the
// file is missing, is not GGUF, or is not a vision projector (no clip.* keys).
ProjectorInfo read_projector_info(const std::string& mmproj_path);

// Token limits handed to libmtmd (mtmd_context_params image_min/max_tokens);
// -1 keeps the model's default.
struct ImageTokenLimits {
    int min_tokens = -1;
    int max_tokens = -1;
    bool operator==(const ImageTokenLimits&) const = default;
    auto operator<=>(const ImageTokenLimits&) const = default;
};

// Limits that make libmtmd honour `budget` for this projector. For tiling
// projectors max_tokens = max_tiles * tokens_per_tile (tighter when the budget
// also sets max_tokens); for the others the budget's min/max pass through.
// Throws vigil::Error for a budget that cannot be met (max_tiles < 1,
// min_tokens > max_tokens).
ImageTokenLimits image_token_limits(const ProjectorInfo& projector, const ImageBudget& budget);

// The largest size (keeping aspect ratio) that needs at most `budget.max_tiles`
// tiles of projector.image_size px; the input size when it already fits or
// the projector does not tile. A 640x480 frame with one tile: 512x384.
cv::Size budget_image_size(const cv::Size& size, const ProjectorInfo& projector, const ImageBudget& budget);

// Shrinks an 8-bit RGB image to budget_image_size (area interpolation);
// returns it unchanged (no copy) when it already fits.
cv::Mat fit_image_to_budget(const cv::Mat& rgb, const ProjectorInfo& projector, const ImageBudget& budget);

}  // namespace vigil::vlm
