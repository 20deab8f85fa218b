#pragma once
// Random-weight VLM pairs (text.gguf + mmproj.gguf) for tests and benchmarks:
// real GGUF files that llama.cpp and libmtmd load and run, producing nonsense
// text. `tiny` is a few MB; `smolvlm-500m` has SmolVLM-500M-Instruct's exact
// dimensions so speed measurements are honest.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vigil::models {

struct SynthResult {
    std::filesystem::path text_model;  // <out>/text.gguf
    std::filesystem::path mmproj;      // <out>/mmproj.gguf
};

// Shapes known to synth_vlm.
std::vector<std::string> synth_shapes();

// How the matrix weights are stored. "default" is the shape's own: f16 for
// `tiny`, q8_0 for `smolvlm-500m` (as ggml-org's released SmolVLM-500M GGUF
// pair, so a benchmark reads as many bytes per token as the real model).
// Norms, biases and position embeddings stay f32 and the patch convolution
// f16, as in the released files.
enum class SynthWeights { shape_default, f16, q8_0, bf16, f32 };
SynthWeights parse_synth_weights(const std::string& name);  // "default" | "f16" | "q8_0" | "bf16" | "f32"; throws vigil::Error

// Writes the pair for `shape` into `out_dir` (created). Deterministic for a
// given seed. Throws vigil::Error on an unknown shape or an I/O failure.
SynthResult synth_vlm(const std::string& shape, const std::filesystem::path& out_dir, uint64_t seed = 1,
                      SynthWeights weights = SynthWeights::shape_default);

}  // namespace vigil::models
