// Why the special keys and tokens exist (what llama.cpp/libmtmd's idefics3 path needs):
// - clip.projector_type=idefics3: SigLIP + pixel shuffle (scale_factor 4) + mm.model.fc -> 64 tokens per 512 px tile.
// - clip.vision.preproc_image_size=2048 is the longest edge before 512 px tiling (<=4x4 tiles + overview, as SmolVLM).
// - "\n\n" <fake_token_around_image> <global-img> <row_R_col_C> "\n": mtmd frames overview/tiles/rows with them.
// - <|im_start|> BOS + <end_of_utterance> EOS/EOG in the template select llama.cpp's built-in SmolVLM chat format.
#include "models/model_synth.h"

#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "core/error.h"
#include "core/paths.h"

#ifndef VIGIL_LLAMA_VOCAB_DIR
#define VIGIL_LLAMA_VOCAB_DIR ""
#endif

namespace vigil::models {
namespace {

struct TextShape {
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ff;
    uint32_t n_ctx;
    float rope_theta;
    float rms_eps;
};

struct VisionShape {
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_ff;
    uint32_t image_size;          // tile side in pixels
    uint32_t preproc_image_size;  // longest edge before tiling
    uint32_t patch_size;
    uint32_t scale_factor;        // pixel-shuffle factor per side
    float eps;
};

struct Shape {
    const char* name;
    const char* description;
    TextShape text;
    VisionShape vision;
    ggml_type matrix_type;  // how the released model stores its matrix weights
};

// SmolVLM-500M-Instruct: SmolLM2-360M text, SigLIP-B/16 @512 vision, 64 tokens per tile.
constexpr std::array<Shape, 2> kShapes{{
    {"tiny", "random-weight SmolVLM-style pair, a few MB, for tests",
     {64, 2, 4, 2, 128, 8192, 100000.0f, 1e-5f},
     {64, 2, 2, 96, 512, 2048, 16, 4, 1e-6f},
     GGML_TYPE_F16},
    {"smolvlm-500m", "random weights with SmolVLM-500M-Instruct's exact dimensions, for speed measurements",
     {960, 32, 15, 5, 2560, 8192, 100000.0f, 1e-5f},
     {768, 12, 12, 3072, 512, 2048, 16, 4, 1e-6f},
     GGML_TYPE_Q8_0},
}};

constexpr float kWeightStd = 0.02f;
// A real byte-level BPE vocabulary (50257 tokens, close to SmolLM2's 49152) so
// prompts tokenize as they would for a real model; add_bos is off because the
// chat template already starts with <|im_start|>.
constexpr const char* kVocabFile = "ggml-vocab-gpt-2.gguf";
constexpr int32_t kTokenTypeControl = 3;  // LLAMA_TOKEN_TYPE_CONTROL

// Written so that a template-string match and the Jinja engine (llama-server
// --jinja) produce the same prompt as llama.cpp's built-in SmolVLM format.
constexpr const char* kChatTemplate =
    "<|im_start|>{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}<end_of_utterance>\n"
    "{% else %}Assistant: {{ message['content'] }}<end_of_utterance>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}";

const Shape& find_shape(const std::string& name) {
    for (const auto& shape : kShapes) {
        if (name == shape.name) return shape;
    }
    std::string known;
    for (const auto& shape : kShapes) known += (known.empty() ? "" : ", ") + std::string(shape.name);
    throw Error("unknown synthetic model shape '" + name + "' (known shapes: " + known + ")");
}

// splitmix64: tiny, fast and identical on every platform, unlike std:: distributions.
uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& text) {
    uint64_t hash = 0xCBF29CE484222325ull;
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001B3ull;
    return hash;
}

// How a tensor's values are drawn; each tensor has its own stream seeded from
// (seed, name) so contents do not depend on write order.
enum class Fill { Random, Ones, SmallRandom };

struct TensorSpec {
    ggml_tensor* tensor;
    Fill fill;
};

class GgufBuilder {
public:
    explicit GgufBuilder(size_t max_tensors) : gguf_(gguf_init_empty()) {
        ggml_init_params params{max_tensors * ggml_tensor_overhead(), nullptr, true};
        ggml_ = ggml_init(params);
        if (!ggml_ || !gguf_) throw Error("synth: cannot allocate GGUF contexts");
    }
    ~GgufBuilder() {
        if (gguf_) gguf_free(gguf_);
        if (ggml_) ggml_free(ggml_);
    }
    GgufBuilder(const GgufBuilder&) = delete;
    GgufBuilder& operator=(const GgufBuilder&) = delete;

    gguf_context* gguf() { return gguf_; }

    void add(const std::string& name, ggml_type type, std::initializer_list<int64_t> ne, Fill fill = Fill::Random) {
        if (type == GGML_TYPE_Q8_0 && *ne.begin() % ggml_blck_size(type) != 0) {
            throw Error("synth: tensor " + name + " has rows of " + std::to_string(*ne.begin()) +
                        " values, not a multiple of q8_0's block of 32");
        }
        std::array<int64_t, 4> dims{1, 1, 1, 1};
        std::copy(ne.begin(), ne.end(), dims.begin());
        ggml_tensor* tensor = ggml_new_tensor(ggml_, type, static_cast<int>(ne.size()), dims.data());
        ggml_set_name(tensor, name.c_str());
        gguf_add_tensor(gguf_, tensor);
        specs_.push_back({tensor, fill});
    }

    // Metadata first, then each tensor's data streamed in chunks so the 500M
    // shape never needs its ~1 GB of weights in memory at once.
    void write(const std::filesystem::path& path, uint64_t seed) const {
        const auto partial = std::filesystem::path(path.string() + ".partial");
        try {
            write_partial(partial, seed);
        } catch (...) {
            std::error_code ignored;
            std::filesystem::remove(partial, ignored);
            throw;
        }
        std::error_code ec;
        std::filesystem::rename(partial, path, ec);
        if (ec) throw Error("synth: cannot rename " + partial.string() + " to " + path.string() + ": " + ec.message());
    }

private:
    void write_partial(const std::filesystem::path& partial, uint64_t seed) const {
        std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(partial.c_str(), "wb"), &std::fclose);
        if (!file) throw Error("synth: cannot create " + partial.string() + ": " + std::strerror(errno));
        if (!gguf_write_to_file_ptr(gguf_, file.get(), /*only_meta=*/true)) {
            throw Error("synth: cannot write GGUF metadata to " + partial.string());
        }
        size_t written = 0;
        std::vector<float> values;
        std::vector<ggml_fp16_t> halfs;
        std::vector<char> quantized;
        std::vector<char> zeros(gguf_get_alignment(gguf_), 0);
        for (int64_t i = 0; i < gguf_get_n_tensors(gguf_); ++i) {
            const auto& spec = specs_[static_cast<size_t>(i)];
            const size_t offset = gguf_get_tensor_offset(gguf_, i);
            if (offset < written || offset - written > zeros.size()) {
                throw Error("synth: unexpected GGUF tensor layout in " + partial.string());
            }
            write_bytes(file.get(), zeros.data(), offset - written, partial);
            written = offset;

            uint64_t state = seed ^ fnv1a(ggml_get_name(spec.tensor));
            const int64_t total = ggml_nelements(spec.tensor);
            constexpr int64_t kChunk = 1 << 16;
            for (int64_t begin = 0; begin < total; begin += kChunk) {
                const int64_t n = std::min(kChunk, total - begin);
                values.resize(static_cast<size_t>(n));
                fill_values(spec.fill, state, values);
                if (spec.tensor->type == GGML_TYPE_F16) {
                    halfs.resize(values.size());
                    ggml_fp32_to_fp16_row(values.data(), halfs.data(), n);
                    write_bytes(file.get(), halfs.data(), halfs.size() * sizeof(ggml_fp16_t), partial);
                } else if (spec.tensor->type == GGML_TYPE_BF16) {
                    halfs.resize(values.size());
                    ggml_fp32_to_bf16_row(values.data(), reinterpret_cast<ggml_bf16_t*>(halfs.data()), n);
                    write_bytes(file.get(), halfs.data(), halfs.size() * sizeof(ggml_bf16_t), partial);
                } else if (spec.tensor->type == GGML_TYPE_Q8_0) {
                    // Blocks of 32 never straddle a chunk: chunks and rows are multiples of 32.
                    quantized.resize(ggml_row_size(GGML_TYPE_Q8_0, n));
                    ggml_quantize_chunk(GGML_TYPE_Q8_0, values.data(), quantized.data(), 0, 1, n, nullptr);
                    write_bytes(file.get(), quantized.data(), quantized.size(), partial);
                } else {
                    write_bytes(file.get(), values.data(), values.size() * sizeof(float), partial);
                }
            }
            written += ggml_nbytes(spec.tensor);
        }
        if (std::fflush(file.get()) != 0) throw Error("synth: cannot write " + partial.string());
    }

    static void write_bytes(FILE* file, const void* data, size_t size, const std::filesystem::path& path) {
        if (size > 0 && std::fwrite(data, 1, size, file) != size) {
            throw Error("synth: cannot write " + path.string() + ": " + std::strerror(errno));
        }
    }

    // Uniform with the requested standard deviation: as good as a normal for
    // keeping random activations bounded, and far cheaper for 400M values.
    static void fill_values(Fill fill, uint64_t& state, std::vector<float>& out) {
        if (fill == Fill::Ones) {
            std::fill(out.begin(), out.end(), 1.0f);
            return;
        }
        const float std_dev = fill == Fill::Random ? kWeightStd : kWeightStd / 4;
        const float half_width = std_dev * std::sqrt(3.0f);
        for (auto& v : out) {
            const float unit = static_cast<float>(splitmix64(state) >> 40) * (1.0f / 16777216.0f);  // [0, 1)
            v = (2.0f * unit - 1.0f) * half_width;
        }
    }

    gguf_context* gguf_ = nullptr;
    ggml_context* ggml_ = nullptr;
    std::vector<TensorSpec> specs_;
};

std::filesystem::path vocab_path() {
    const std::string dir = env_or("VIGIL_LLAMA_VOCAB_DIR", VIGIL_LLAMA_VOCAB_DIR);
    const auto path = std::filesystem::path(dir) / kVocabFile;
    if (dir.empty() || !std::filesystem::exists(path)) {
        throw Error("synth: tokenizer vocabulary " + path.string() +
                    " not found (set VIGIL_LLAMA_VOCAB_DIR to llama.cpp's share/vocab folder)");
    }
    return path;
}

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges;
    std::string model;
    std::string pre;
    uint32_t bos = 0;
    uint32_t eos = 0;
    uint32_t pad = 0;

    int32_t find(const std::string& text) const {
        auto it = std::find(tokens.begin(), tokens.end(), text);
        return it == tokens.end() ? -1 : static_cast<int32_t>(it - tokens.begin());
    }
    uint32_t add_control(const std::string& text) {
        if (const int32_t id = find(text); id >= 0) return static_cast<uint32_t>(id);
        tokens.push_back(text);
        types.push_back(kTokenTypeControl);
        return static_cast<uint32_t>(tokens.size() - 1);
    }
};

Vocab load_vocab() {
    const auto path = vocab_path();
    gguf_init_params params{true, nullptr};
    std::unique_ptr<gguf_context, void (*)(gguf_context*)> ctx(gguf_init_from_file(path.c_str(), params), &gguf_free);
    if (!ctx) throw Error("synth: cannot read GGUF vocabulary " + path.string());

    auto key = [&](const char* name, gguf_type type) {
        const int64_t id = gguf_find_key(ctx.get(), name);
        if (id < 0 || gguf_get_kv_type(ctx.get(), id) != type) {
            throw Error("synth: " + path.string() + " lacks key '" + name + "' of the expected type");
        }
        return id;
    };
    auto strings = [&](const char* name) {
        const int64_t id = key(name, GGUF_TYPE_ARRAY);
        std::vector<std::string> out(gguf_get_arr_n(ctx.get(), id));
        for (size_t i = 0; i < out.size(); ++i) out[i] = gguf_get_arr_str(ctx.get(), id, i);
        return out;
    };

    Vocab vocab;
    vocab.tokens = strings("tokenizer.ggml.tokens");
    vocab.merges = strings("tokenizer.ggml.merges");
    const int64_t types_id = key("tokenizer.ggml.token_type", GGUF_TYPE_ARRAY);
    if (gguf_get_arr_type(ctx.get(), types_id) != GGUF_TYPE_INT32 ||
        gguf_get_arr_n(ctx.get(), types_id) != vocab.tokens.size()) {
        throw Error("synth: " + path.string() + ": tokenizer.ggml.token_type must be int32, one per token");
    }
    const auto* types = static_cast<const int32_t*>(gguf_get_arr_data(ctx.get(), types_id));
    vocab.types.assign(types, types + vocab.tokens.size());
    vocab.model = gguf_get_val_str(ctx.get(), key("tokenizer.ggml.model", GGUF_TYPE_STRING));
    vocab.pre = gguf_get_val_str(ctx.get(), key("tokenizer.ggml.pre", GGUF_TYPE_STRING));
    return vocab;
}

// Adds SmolVLM's special tokens and checks the byte-level pieces mtmd looks up.
void add_smolvlm_tokens(Vocab& vocab) {
    // Byte-level BPE spells "\n" as "Ċ"; mtmd needs both "\n" and "\n\n" as single tokens.
    for (const char* piece : {"\xC4\x8A", "\xC4\x8A\xC4\x8A"}) {
        if (vocab.find(piece) < 0) {
            throw Error("synth: " + std::string(kVocabFile) + " lacks the single-token newline piece '" + piece + "'");
        }
    }
    vocab.bos = vocab.add_control("<|im_start|>");
    vocab.pad = vocab.add_control("<|im_end|>");
    vocab.eos = vocab.add_control("<end_of_utterance>");
    vocab.add_control("<fake_token_around_image>");
    vocab.add_control("<image>");
    vocab.add_control("<global-img>");
    for (int row = 1; row <= 6; ++row) {
        for (int col = 1; col <= 6; ++col) {
            vocab.add_control("<row_" + std::to_string(row) + "_col_" + std::to_string(col) + ">");
        }
    }
}

void set_string_array(gguf_context* ctx, const char* key, const std::vector<std::string>& values) {
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& v : values) pointers.push_back(v.c_str());
    gguf_set_arr_str(ctx, key, pointers.data(), pointers.size());
}

void set_provenance(gguf_context* ctx, const Shape& shape, const std::string& part, uint64_t seed,
                    ggml_type matrix_type) {
    gguf_set_val_str(ctx, "general.name", ("vigil-synth-" + std::string(shape.name) + "-" + part).c_str());
    gguf_set_val_str(ctx, "general.description", shape.description);
    gguf_set_val_str(ctx, "vigil.synth.shape", shape.name);
    gguf_set_val_u64(ctx, "vigil.synth.seed", seed);
    // llama_ftype: 1 mostly f16, 7 mostly q8_0
    gguf_set_val_u32(ctx, "general.file_type", matrix_type == GGML_TYPE_Q8_0 ? 7 : 1);
}

void write_text_model(const Shape& shape, const Vocab& vocab, const std::filesystem::path& path, uint64_t seed,
                      ggml_type matrix) {
    const TextShape& t = shape.text;
    const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
    const int64_t head_dim = t.n_embd / t.n_head;
    const int64_t kv_dim = head_dim * t.n_head_kv;

    GgufBuilder out(3 + 9 * t.n_layer);
    gguf_context* ctx = out.gguf();
    gguf_set_val_str(ctx, "general.architecture", "llama");
    set_provenance(ctx, shape, "text", seed, matrix);
    gguf_set_val_u32(ctx, "llama.vocab_size", static_cast<uint32_t>(n_vocab));
    gguf_set_val_u32(ctx, "llama.context_length", t.n_ctx);
    gguf_set_val_u32(ctx, "llama.embedding_length", t.n_embd);
    gguf_set_val_u32(ctx, "llama.block_count", t.n_layer);
    gguf_set_val_u32(ctx, "llama.feed_forward_length", t.n_ff);
    gguf_set_val_u32(ctx, "llama.attention.head_count", t.n_head);
    gguf_set_val_u32(ctx, "llama.attention.head_count_kv", t.n_head_kv);
    gguf_set_val_u32(ctx, "llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
    gguf_set_val_f32(ctx, "llama.rope.freq_base", t.rope_theta);
    gguf_set_val_f32(ctx, "llama.attention.layer_norm_rms_epsilon", t.rms_eps);

    gguf_set_val_str(ctx, "tokenizer.ggml.model", vocab.model.c_str());
    gguf_set_val_str(ctx, "tokenizer.ggml.pre", vocab.pre.c_str());
    set_string_array(ctx, "tokenizer.ggml.tokens", vocab.tokens);
    gguf_set_arr_data(ctx, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, vocab.types.data(), vocab.types.size());
    set_string_array(ctx, "tokenizer.ggml.merges", vocab.merges);
    gguf_set_val_u32(ctx, "tokenizer.ggml.bos_token_id", vocab.bos);
    gguf_set_val_u32(ctx, "tokenizer.ggml.eos_token_id", vocab.eos);
    gguf_set_val_u32(ctx, "tokenizer.ggml.padding_token_id", vocab.pad);
    gguf_set_val_bool(ctx, "tokenizer.ggml.add_bos_token", false);
    gguf_set_val_bool(ctx, "tokenizer.ggml.add_eos_token", false);
    gguf_set_val_str(ctx, "tokenizer.chat_template", kChatTemplate);

    // Tied embeddings (no output.weight), as in SmolLM2.
    out.add("token_embd.weight", matrix, {t.n_embd, n_vocab});
    out.add("output_norm.weight", GGML_TYPE_F32, {t.n_embd}, Fill::Ones);
    for (uint32_t il = 0; il < t.n_layer; ++il) {
        const std::string blk = "blk." + std::to_string(il) + ".";
        out.add(blk + "attn_norm.weight", GGML_TYPE_F32, {t.n_embd}, Fill::Ones);
        out.add(blk + "attn_q.weight", matrix, {t.n_embd, t.n_embd});
        out.add(blk + "attn_k.weight", matrix, {t.n_embd, kv_dim});
        out.add(blk + "attn_v.weight", matrix, {t.n_embd, kv_dim});
        out.add(blk + "attn_output.weight", matrix, {t.n_embd, t.n_embd});
        out.add(blk + "ffn_norm.weight", GGML_TYPE_F32, {t.n_embd}, Fill::Ones);
        out.add(blk + "ffn_gate.weight", matrix, {t.n_embd, t.n_ff});
        out.add(blk + "ffn_up.weight", matrix, {t.n_embd, t.n_ff});
        out.add(blk + "ffn_down.weight", matrix, {t.n_ff, t.n_embd});
    }
    out.write(path, seed);
}

void write_mmproj(const Shape& shape, const std::filesystem::path& path, uint64_t seed, ggml_type matrix) {
    const VisionShape& v = shape.vision;
    const int64_t n_patches = static_cast<int64_t>(v.image_size / v.patch_size) * (v.image_size / v.patch_size);

    GgufBuilder out(6 + 16 * v.n_layer);
    gguf_context* ctx = out.gguf();
    gguf_set_val_str(ctx, "general.architecture", "clip");
    set_provenance(ctx, shape, "mmproj", seed, matrix);
    gguf_set_val_str(ctx, "clip.projector_type", "idefics3");
    gguf_set_val_bool(ctx, "clip.has_vision_encoder", true);
    gguf_set_val_bool(ctx, "clip.has_text_encoder", false);
    gguf_set_val_bool(ctx, "clip.use_gelu", true);  // SigLIP's gelu_pytorch_tanh
    gguf_set_val_u32(ctx, "clip.vision.image_size", v.image_size);
    gguf_set_val_u32(ctx, "clip.vision.preproc_image_size", v.preproc_image_size);
    gguf_set_val_u32(ctx, "clip.vision.patch_size", v.patch_size);
    gguf_set_val_u32(ctx, "clip.vision.embedding_length", v.n_embd);
    gguf_set_val_u32(ctx, "clip.vision.feed_forward_length", v.n_ff);
    gguf_set_val_u32(ctx, "clip.vision.block_count", v.n_layer);
    gguf_set_val_u32(ctx, "clip.vision.attention.head_count", v.n_head);
    gguf_set_val_f32(ctx, "clip.vision.attention.layer_norm_epsilon", v.eps);
    gguf_set_val_u32(ctx, "clip.vision.projection_dim", shape.text.n_embd);
    gguf_set_val_u32(ctx, "clip.vision.projector.scale_factor", v.scale_factor);
    const std::array<float, 3> half{0.5f, 0.5f, 0.5f};  // SmolVLM normalises to [-1, 1]
    gguf_set_arr_data(ctx, "clip.vision.image_mean", GGUF_TYPE_FLOAT32, half.data(), half.size());
    gguf_set_arr_data(ctx, "clip.vision.image_std", GGUF_TYPE_FLOAT32, half.data(), half.size());

    out.add("v.patch_embd.weight", GGML_TYPE_F16, {v.patch_size, v.patch_size, 3, v.n_embd});
    out.add("v.patch_embd.bias", GGML_TYPE_F32, {v.n_embd}, Fill::SmallRandom);
    out.add("v.position_embd.weight", GGML_TYPE_F32, {v.n_embd, n_patches});
    for (uint32_t il = 0; il < v.n_layer; ++il) {
        const std::string blk = "v.blk." + std::to_string(il) + ".";
        for (const char* proj : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
            out.add(blk + proj + ".weight", matrix, {v.n_embd, v.n_embd});
            out.add(blk + proj + ".bias", GGML_TYPE_F32, {v.n_embd}, Fill::SmallRandom);
        }
        for (const char* norm : {"ln1", "ln2"}) {
            out.add(blk + norm + ".weight", GGML_TYPE_F32, {v.n_embd}, Fill::Ones);
            out.add(blk + norm + ".bias", GGML_TYPE_F32, {v.n_embd}, Fill::SmallRandom);
        }
        out.add(blk + "ffn_up.weight", matrix, {v.n_embd, v.n_ff});
        out.add(blk + "ffn_up.bias", GGML_TYPE_F32, {v.n_ff}, Fill::SmallRandom);
        out.add(blk + "ffn_down.weight", matrix, {v.n_ff, v.n_embd});
        out.add(blk + "ffn_down.bias", GGML_TYPE_F32, {v.n_embd}, Fill::SmallRandom);
    }
    out.add("v.post_ln.weight", GGML_TYPE_F32, {v.n_embd}, Fill::Ones);
    out.add("v.post_ln.bias", GGML_TYPE_F32, {v.n_embd}, Fill::SmallRandom);
    const int64_t shuffled = static_cast<int64_t>(v.n_embd) * v.scale_factor * v.scale_factor;
    out.add("mm.model.fc.weight", matrix, {shuffled, shape.text.n_embd});
    out.write(path, seed);
}

}  // namespace

std::vector<std::string> synth_shapes() {
    std::vector<std::string> names;
    for (const auto& shape : kShapes) names.emplace_back(shape.name);
    return names;
}

SynthWeights parse_synth_weights(const std::string& name) {
    if (name == "default") return SynthWeights::shape_default;
    if (name == "f16") return SynthWeights::f16;
    if (name == "q8_0") return SynthWeights::q8_0;
    if (name == "bf16") return SynthWeights::bf16;
    if (name == "f32") return SynthWeights::f32;
    throw Error("unknown synthetic weight type '" + name + "' (known: default, f16, q8_0)");
}

SynthResult synth_vlm(const std::string& shape_name, const std::filesystem::path& out_dir, uint64_t seed,
                      SynthWeights weights) {
    const Shape& shape = find_shape(shape_name);
    const ggml_type matrix = weights == SynthWeights::f16    ? GGML_TYPE_F16
                             : weights == SynthWeights::q8_0 ? GGML_TYPE_Q8_0
                             : weights == SynthWeights::bf16 ? GGML_TYPE_BF16
                             : weights == SynthWeights::f32  ? GGML_TYPE_F32
                                                             : shape.matrix_type;
    Vocab vocab = load_vocab();
    add_smolvlm_tokens(vocab);

    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw Error("synth: cannot create output directory " + out_dir.string() + ": " + ec.message());

    SynthResult result{out_dir / "text.gguf", out_dir / "mmproj.gguf"};
    write_text_model(shape, vocab, result.text_model, seed, matrix);
    write_mmproj(shape, result.mmproj, seed, matrix);
    return result;
}

}  // namespace vigil::models
