#include "models/model_synth.h"

#include <gguf.h>
#include <gtest/gtest.h>
#include <llama.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "testing/test_support.h"

namespace vigil::models {
namespace {

using vigil::testing::TempDir;

// One GGUF file opened for reading metadata and tensor shapes.
class GgufFile {
public:
    explicit GgufFile(const std::filesystem::path& path) {
        gguf_init_params params{true, &meta_};
        ctx_ = gguf_init_from_file(path.c_str(), params);
        if (!ctx_) throw std::runtime_error("cannot read " + path.string());
    }
    ~GgufFile() {
        gguf_free(ctx_);
        ggml_free(meta_);
    }
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    int64_t key(const std::string& name) const {
        const int64_t id = gguf_find_key(ctx_, name.c_str());
        if (id < 0) ADD_FAILURE() << "missing key " << name;
        return id;
    }
    std::string str(const std::string& name) const {
        const int64_t id = key(name);
        return id < 0 ? "" : gguf_get_val_str(ctx_, id);
    }
    uint32_t u32(const std::string& name) const {
        const int64_t id = key(name);
        return id < 0 ? 0 : gguf_get_val_u32(ctx_, id);
    }
    std::vector<std::string> strings(const std::string& name) const {
        const int64_t id = key(name);
        std::vector<std::string> out;
        for (size_t i = 0; id >= 0 && i < gguf_get_arr_n(ctx_, id); ++i) {
            out.emplace_back(gguf_get_arr_str(ctx_, id, i));
        }
        return out;
    }
    std::vector<int64_t> shape(const std::string& tensor) const {
        const ggml_tensor* t = ggml_get_tensor(meta_, tensor.c_str());
        if (!t) {
            ADD_FAILURE() << "missing tensor " << tensor;
            return {};
        }
        std::vector<int64_t> ne(t->ne, t->ne + ggml_n_dims(t));
        return ne;
    }
    ggml_type type(const std::string& tensor) const {
        const ggml_tensor* t = ggml_get_tensor(meta_, tensor.c_str());
        return t ? t->type : GGML_TYPE_COUNT;
    }

private:
    gguf_context* ctx_ = nullptr;
    ggml_context* meta_ = nullptr;
};

TEST(ModelSynth, ListsTinyAndSmolvlmShapes) {
    const auto shapes = synth_shapes();
    EXPECT_NE(std::find(shapes.begin(), shapes.end(), "tiny"), shapes.end());
    EXPECT_NE(std::find(shapes.begin(), shapes.end(), "smolvlm-500m"), shapes.end());
}

TEST(ModelSynth, TinyTextModelHasLlamaMetadataAndSmolvlmTokens) {
    TempDir dir;
    const auto pair = synth_vlm("tiny", dir.path());
    ASSERT_EQ(pair.text_model, dir / "text.gguf");
    ASSERT_LT(std::filesystem::file_size(pair.text_model), 16u << 20) << "tiny should stay a few MB";

    GgufFile text(pair.text_model);
    EXPECT_EQ(text.str("general.architecture"), "llama");
    EXPECT_EQ(text.u32("llama.embedding_length"), 64u);
    EXPECT_EQ(text.u32("llama.block_count"), 2u);
    const auto tokens = text.strings("tokenizer.ggml.tokens");
    EXPECT_EQ(text.u32("llama.vocab_size"), tokens.size());
    EXPECT_EQ(text.shape("token_embd.weight"), (std::vector<int64_t>{64, static_cast<int64_t>(tokens.size())}));
    EXPECT_EQ(text.shape("blk.1.attn_k.weight"), (std::vector<int64_t>{64, 32}));  // 2 kv heads of 16
    EXPECT_EQ(text.shape("blk.1.ffn_down.weight"), (std::vector<int64_t>{128, 64}));
    EXPECT_EQ(text.type("blk.0.attn_q.weight"), GGML_TYPE_F16);
    EXPECT_EQ(text.type("blk.0.attn_norm.weight"), GGML_TYPE_F32);
    for (const char* special : {"<fake_token_around_image>", "<global-img>", "<row_4_col_4>", "<end_of_utterance>"}) {
        EXPECT_NE(std::find(tokens.begin(), tokens.end(), special), tokens.end()) << special;
    }
    EXPECT_EQ(tokens.at(text.u32("tokenizer.ggml.bos_token_id")), "<|im_start|>");
    EXPECT_EQ(tokens.at(text.u32("tokenizer.ggml.eos_token_id")), "<end_of_utterance>");
}

TEST(ModelSynth, TinyMmprojIsIdefics3WithSmolvlmTiling) {
    TempDir dir;
    const auto pair = synth_vlm("tiny", dir.path());
    GgufFile mmproj(pair.mmproj);
    EXPECT_EQ(mmproj.str("general.architecture"), "clip");
    EXPECT_EQ(mmproj.str("clip.projector_type"), "idefics3");
    EXPECT_EQ(mmproj.u32("clip.vision.image_size"), 512u);
    EXPECT_EQ(mmproj.u32("clip.vision.preproc_image_size"), 2048u);
    EXPECT_EQ(mmproj.u32("clip.vision.patch_size"), 16u);
    EXPECT_EQ(mmproj.u32("clip.vision.projector.scale_factor"), 4u);
    EXPECT_EQ(mmproj.u32("clip.vision.projection_dim"), 64u);
    EXPECT_EQ(mmproj.shape("v.position_embd.weight"), (std::vector<int64_t>{64, 1024}));  // (512/16)^2 patches
    // Pixel shuffle stacks 4x4 patches: 16 * vision width in, text width out.
    EXPECT_EQ(mmproj.shape("mm.model.fc.weight"), (std::vector<int64_t>{64 * 16, 64}));
    EXPECT_EQ(mmproj.shape("v.patch_embd.weight"), (std::vector<int64_t>{16, 16, 3, 64}));
}

TEST(ModelSynth, LlamaCppReadsVocabAndDetectsSmolvlmTemplate) {
    TempDir dir;
    const auto pair = synth_vlm("tiny", dir.path());
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);  // keep test output readable
    auto params = llama_model_default_params();
    params.vocab_only = true;
    std::unique_ptr<llama_model, void (*)(llama_model*)> model(
        llama_model_load_from_file(pair.text_model.c_str(), params), &llama_model_free);
    ASSERT_TRUE(model);
    const llama_vocab* vocab = llama_model_get_vocab(model.get());

    // Each marker mtmd inserts around an image must be one token.
    for (const std::string text : {"<fake_token_around_image>", "<global-img>", "<row_2_col_3>", "\n\n", "\n"}) {
        std::vector<llama_token> ids(8);
        const int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                                     static_cast<int32_t>(ids.size()), /*add_special=*/false, /*parse_special=*/true);
        EXPECT_EQ(n, 1) << "'" << text << "' should be a single token";
    }
    EXPECT_TRUE(llama_vocab_is_eog(vocab, llama_vocab_eos(vocab)));

    const char* tmpl = llama_model_chat_template(model.get(), nullptr);
    ASSERT_NE(tmpl, nullptr);
    llama_chat_message message{"user", "describe"};
    std::vector<char> buf(256);
    const int n = llama_chat_apply_template(tmpl, &message, 1, true, buf.data(), static_cast<int32_t>(buf.size()));
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf.data(), static_cast<size_t>(n)),
              "<|im_start|>User: describe<end_of_utterance>\nAssistant:");
}

TEST(ModelSynth, UnknownShapeErrorListsKnownShapes) {
    TempDir dir;
    try {
        synth_vlm("giant", dir.path());
        FAIL() << "expected vigil::Error";
    } catch (const vigil::Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("giant"), std::string::npos) << message;
        EXPECT_NE(message.find("tiny"), std::string::npos) << message;
        EXPECT_NE(message.find("smolvlm-500m"), std::string::npos) << message;
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "text.gguf"));
}

TEST(ModelSynth, SameSeedGivesIdenticalFilesOtherSeedDiffers) {
    TempDir dir;
    const auto a = synth_vlm("tiny", dir / "a", 7);
    const auto b = synth_vlm("tiny", dir / "b", 7);
    const auto c = synth_vlm("tiny", dir / "c", 8);
    using vigil::testing::read_file;
    EXPECT_TRUE(read_file(a.text_model) == read_file(b.text_model));
    EXPECT_TRUE(read_file(a.mmproj) == read_file(b.mmproj));
    EXPECT_FALSE(read_file(a.text_model) == read_file(c.text_model));
    EXPECT_FALSE(read_file(a.mmproj) == read_file(c.mmproj));
    EXPECT_EQ(std::filesystem::file_size(a.text_model), std::filesystem::file_size(c.text_model));
}

TEST(ModelSynth, LlamaMtmdCliDescribesAnImageWithTheTinyPair) {
    TempDir dir;
    const auto pair = synth_vlm("tiny", dir.path());
    const auto image = vigil::testing::shared_path("media/images/bus.jpg");
    const auto cli = vigil::testing::llama_bin_dir() / "llama-mtmd-cli";
    ASSERT_TRUE(std::filesystem::exists(cli)) << cli;

    const auto generated = dir / "generated.txt";
    // One thread with a passive wait: ggml's OpenMP spin-wait slows ~10x when
    // other jobs share the cores. Greedy decoding keeps the output deterministic.
    const std::string command = "( OMP_WAIT_POLICY=passive '" + cli.string() + "' -m '" +
                                pair.text_model.string() + "' --mmproj '" + pair.mmproj.string() + "' --image '" +
                                image.string() + "' -p describe -n 8 -t 1 --temp 0 --seed 1 > '" +
                                generated.string() + "' )";
    const auto result = vigil::testing::run_command(command);
    ASSERT_EQ(result.exit_code, 0) << result.output;

    // bus.jpg (810x1080) becomes a 3x4 grid of 512 px tiles plus the overview,
    // as SmolVLM tiles it: 13 encoder runs.
    size_t encodes = 0;
    for (size_t at = result.output.find("encoding mtmd batch"); at != std::string::npos;
         at = result.output.find("encoding mtmd batch", at + 1)) {
        ++encodes;
    }
    EXPECT_EQ(encodes, 13u) << result.output;
    const std::string text = vigil::testing::read_file(generated);
    EXPECT_NE(text.find_first_not_of(" \n"), std::string::npos) << "no generated text; log:\n" << result.output;
}

}  // namespace
}  // namespace vigil::models
