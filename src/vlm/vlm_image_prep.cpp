#include "vlm/vlm_image_prep.h"

#include <gguf.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace vigil::vlm {

namespace {

struct GgufDeleter {
    void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;

// Integer metadata written as any integer GGUF type; `fallback` when absent.
int gguf_int(const gguf_context* ctx, const char* key, int fallback) {
    const int64_t id = gguf_find_key(ctx, key);
    if (id < 0) {
        return fallback;
    }
    switch (gguf_get_kv_type(ctx, id)) {
        case GGUF_TYPE_UINT8: return gguf_get_val_u8(ctx, id);
        case GGUF_TYPE_INT8: return gguf_get_val_i8(ctx, id);
        case GGUF_TYPE_UINT16: return gguf_get_val_u16(ctx, id);
        case GGUF_TYPE_INT16: return gguf_get_val_i16(ctx, id);
        case GGUF_TYPE_UINT32: return static_cast<int>(gguf_get_val_u32(ctx, id));
        case GGUF_TYPE_INT32: return gguf_get_val_i32(ctx, id);
        case GGUF_TYPE_UINT64: return static_cast<int>(gguf_get_val_u64(ctx, id));
        case GGUF_TYPE_INT64: return static_cast<int>(gguf_get_val_i64(ctx, id));
        default: return fallback;
    }
}

std::string gguf_string(const gguf_context* ctx, const char* key) {
    const int64_t id = gguf_find_key(ctx, key);
    if (id < 0 || gguf_get_kv_type(ctx, id) != GGUF_TYPE_STRING) {
        return {};
    }
    return gguf_get_val_str(ctx, id);
}

}  // namespace

bool ProjectorInfo::tiling() const { return type == "idefics3"; }

int ProjectorInfo::tokens_per_tile() const {
    const int side = patch_size * std::max(1, scale_factor);
    if (side <= 0 || image_size <= 0) {
        return 0;
    }
    const int per_side = image_size / side;
    return per_side * per_side;
}

ProjectorInfo read_projector_info(const std::string& mmproj_path) {
    if (!std::filesystem::is_regular_file(mmproj_path)) {
        throw Error(fmt::format("vision projector '{}' does not exist (expected an mmproj GGUF file)", mmproj_path));
    }
    gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
    GgufPtr ctx(gguf_init_from_file(mmproj_path.c_str(), params));
    if (!ctx) {
        throw Error(fmt::format("vision projector '{}' is not a readable GGUF file (corrupt or truncated header)",
                                mmproj_path));
    }
    ProjectorInfo info;
    info.type = gguf_string(ctx.get(), "clip.projector_type");
    if (info.type.empty()) {
        info.type = gguf_string(ctx.get(), "clip.vision.projector_type");
    }
    if (info.type.empty() && gguf_find_key(ctx.get(), "clip.has_vision_encoder") < 0) {
        const std::string arch = gguf_string(ctx.get(), "general.architecture");
        throw Error(fmt::format("'{}' is not a vision projector (general.architecture '{}', no clip.* keys); "
                                "expected the mmproj GGUF that belongs to the text model",
                                mmproj_path, arch));
    }
    info.image_size = gguf_int(ctx.get(), "clip.vision.image_size", 0);
    info.patch_size = gguf_int(ctx.get(), "clip.vision.patch_size", 0);
    info.scale_factor = gguf_int(ctx.get(), "clip.vision.projector.scale_factor", 1);
    info.projection_dim = gguf_int(ctx.get(), "clip.vision.projection_dim", 0);
    return info;
}

ImageTokenLimits image_token_limits(const ProjectorInfo& projector, const ImageBudget& budget) {
    if (budget.min_tokens > 0 && budget.max_tokens > 0 && budget.min_tokens > budget.max_tokens) {
        throw Error(fmt::format("image budget: min_tokens ({}) is greater than max_tokens ({})", budget.min_tokens,
                                budget.max_tokens));
    }
    ImageTokenLimits limits{budget.min_tokens > 0 ? budget.min_tokens : -1,
                            budget.max_tokens > 0 ? budget.max_tokens : -1};
    if (!projector.tiling()) {
        return limits;
    }
    if (budget.max_tiles < 1) {
        throw Error(fmt::format("image budget: max_tiles must be at least 1 (got {})", budget.max_tiles));
    }
    const int per_tile = projector.tokens_per_tile();
    if (per_tile <= 0) {
        return limits;
    }
    // libmtmd turns max_tokens into a pixel budget and fits a whole grid of
    // tiles into it, so a multiple of one tile's tokens is a tile count.
    int tiles = budget.max_tiles;
    if (limits.max_tokens > 0) {
        tiles = std::clamp(limits.max_tokens / per_tile, 1, tiles);
    }
    limits.max_tokens = tiles * per_tile;
    if (limits.min_tokens > limits.max_tokens) {
        limits.min_tokens = limits.max_tokens;
    }
    return limits;
}

cv::Size budget_image_size(const cv::Size& size, const ProjectorInfo& projector, const ImageBudget& budget) {
    if (!projector.tiling() || projector.image_size <= 0 || size.width <= 0 || size.height <= 0) {
        return size;
    }
    const int tiles = std::max(1, budget.max_tiles);
    const double tile = projector.image_size;
    // Best grid of at most `tiles` tiles: the one that lets the image stay largest.
    double best_scale = 0;
    for (int cols = 1; cols <= tiles; ++cols) {
        const int rows = tiles / cols;
        const double scale = std::min(cols * tile / size.width, rows * tile / size.height);
        best_scale = std::max(best_scale, scale);
    }
    if (best_scale >= 1.0) {
        return size;
    }
    return {std::max(1, static_cast<int>(std::floor(size.width * best_scale + 1e-6))),
            std::max(1, static_cast<int>(std::floor(size.height * best_scale + 1e-6)))};
}

cv::Mat fit_image_to_budget(const cv::Mat& rgb, const ProjectorInfo& projector, const ImageBudget& budget) {
    const cv::Size target = budget_image_size(rgb.size(), projector, budget);
    if (target == rgb.size()) {
        return rgb;
    }
    cv::Mat resized;
    cv::resize(rgb, resized, target, 0, 0, cv::INTER_AREA);
    return resized;
}

}  // namespace vigil::vlm
