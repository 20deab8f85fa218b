// The embedded backend against the tiny random-weight SmolVLM-style pair:
// real llama.cpp + libmtmd runs (nonsense text, real timings, real grammar),
// bad inputs, budgets, deadlines and cancellation.
#include <ggml.h>
#include <gguf.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "models/model_synth.h"
#include "testing/test_support.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_image_prep.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::vlm {
namespace {

namespace fs = std::filesystem;
using vigil::testing::TempDir;
using vigil::testing::write_file;

// A colourful test picture so the encoder sees more than a flat field.
cv::Mat test_frame(int width, int height) {
    cv::Mat rgb(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 255 / width),
                                                static_cast<uint8_t>(y * 255 / height),
                                                static_cast<uint8_t>((x + y) % 256));
        }
    }
    cv::circle(rgb, {width / 2, height / 2}, std::min(width, height) / 4, {255, 255, 255}, -1);
    return rgb;
}

void write_rgb_image(const fs::path& path, const cv::Mat& rgb) {
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    ASSERT_TRUE(cv::imwrite(path.string(), bgr)) << path;
}

void copy_prefix(const fs::path& from, const fs::path& to, double fraction) {
    std::ifstream in(from, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(static_cast<size_t>(bytes.size() * fraction));
    write_file(to, bytes);
}

// Copy of `mmproj` whose projector writes `n_embd_out`-dim embeddings (the
// mm.model.fc.weight output side), i.e. an mmproj made for another text model.
// `rewrite_key` also updates clip.vision.projection_dim to agree.
void write_mismatched_mmproj(const fs::path& mmproj, const fs::path& out, int64_t n_embd_out, bool rewrite_key) {
    ggml_context* data_ctx = nullptr;
    gguf_init_params params{/*no_alloc=*/false, &data_ctx};
    gguf_context* in = gguf_init_from_file(mmproj.string().c_str(), params);
    ASSERT_NE(in, nullptr);
    gguf_context* dst = gguf_init_empty();
    gguf_set_kv(dst, in);
    if (rewrite_key) {
        gguf_set_val_u32(dst, "clip.vision.projection_dim", static_cast<uint32_t>(n_embd_out));
    }
    ggml_init_params extra_params{/*mem_size=*/64 * 1024 * 1024, /*mem_buffer=*/nullptr, /*no_alloc=*/false};
    ggml_context* extra = ggml_init(extra_params);
    bool replaced = false;
    for (int64_t i = 0; i < gguf_get_n_tensors(in); ++i) {
        const char* name = gguf_get_tensor_name(in, i);
        ggml_tensor* tensor = ggml_get_tensor(data_ctx, name);
        if (std::string(name) == "mm.model.fc.weight") {
            ggml_tensor* other = ggml_new_tensor_2d(extra, tensor->type, tensor->ne[0], n_embd_out);
            ggml_set_name(other, name);
            std::memset(other->data, 0, ggml_nbytes(other));
            tensor = other;
            replaced = true;
        }
        gguf_add_tensor(dst, tensor);
    }
    EXPECT_TRUE(replaced) << "the synthetic mmproj has no mm.model.fc.weight";
    EXPECT_TRUE(gguf_write_to_file(dst, out.string().c_str(), false));
    gguf_free(dst);
    gguf_free(in);
    ggml_free(extra);
    ggml_free(data_ctx);
}

// A LoRA adapter for the synthetic llama-architecture text model touching
// every layer's attn_q; `b_scale` 0 makes it a no-op.
void write_lora(const fs::path& text_model, const fs::path& out, float b_scale, int64_t n_in_override = 0) {
    gguf_init_params meta_params{/*no_alloc=*/true, /*ctx=*/nullptr};
    gguf_context* meta = gguf_init_from_file(text_model.string().c_str(), meta_params);
    ASSERT_NE(meta, nullptr);
    const int64_t n_embd = gguf_get_val_u32(meta, gguf_find_key(meta, "llama.embedding_length"));
    const int64_t n_layer = gguf_get_val_u32(meta, gguf_find_key(meta, "llama.block_count"));
    gguf_free(meta);
    const int64_t n_in = n_in_override > 0 ? n_in_override : n_embd;
    constexpr int64_t rank = 4;

    ggml_init_params params{/*mem_size=*/16 * 1024 * 1024, /*mem_buffer=*/nullptr, /*no_alloc=*/false};
    ggml_context* ctx = ggml_init(params);
    gguf_context* lora = gguf_init_empty();
    gguf_set_val_str(lora, "general.type", "adapter");
    gguf_set_val_str(lora, "general.architecture", "llama");
    gguf_set_val_str(lora, "adapter.type", "lora");
    gguf_set_val_f32(lora, "adapter.lora.alpha", static_cast<float>(rank));
    for (int64_t il = 0; il < n_layer; ++il) {
        const std::string base = "blk." + std::to_string(il) + ".attn_q.weight";
        ggml_tensor* a = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_in, rank);
        ggml_tensor* b = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, rank, n_embd);
        ggml_set_name(a, (base + ".lora_a").c_str());
        ggml_set_name(b, (base + ".lora_b").c_str());
        for (int64_t i = 0; i < ggml_nelements(a); ++i) {
            static_cast<float*>(a->data)[i] = static_cast<float>((i * 7919) % 13 - 6) / 3.0f;
        }
        for (int64_t i = 0; i < ggml_nelements(b); ++i) {
            static_cast<float*>(b->data)[i] = b_scale * static_cast<float>((i * 104729) % 11 - 5) / 2.0f;
        }
        gguf_add_tensor(lora, a);
        gguf_add_tensor(lora, b);
    }
    EXPECT_TRUE(gguf_write_to_file(lora, out.string().c_str(), false));
    gguf_free(lora);
    ggml_free(ctx);
}

class EmbeddedVlmTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir();
        models_ = models::synth_vlm("tiny", dir_->path() / "tiny");
        frame_640_ = dir_->path() / "frame_640x480.jpg";
        square_512_ = dir_->path() / "square_512.png";
        write_rgb_image(frame_640_, test_frame(640, 480));
        write_rgb_image(square_512_, test_frame(512, 512));
        engine_ = make_embedded_engine(config()).release();
    }

    static void TearDownTestSuite() {
        delete engine_;
        engine_ = nullptr;
        delete dir_;
        dir_ = nullptr;
    }

    static EmbeddedConfig config() {
        EmbeddedConfig c;
        c.model_path = models_.text_model.string();
        c.mmproj_path = models_.mmproj.string();
        // One thread: CI machines are small and shared, and spinning ggml
        // worker threads on an oversubscribed CPU make every test slower.
        c.threads = 1;
        c.context_size = 2048;
        return c;
    }

    static VlmRequest describe(std::vector<VlmImage> images, int max_tokens = 8) {
        VlmRequest r;
        r.prompt = "Describe the scene.";
        r.images = std::move(images);
        r.max_tokens = max_tokens;
        r.temperature = 0.0f;
        return r;
    }

    static const fs::path& tmp() { return dir_->path(); }

    static TempDir* dir_;
    static models::SynthResult models_;
    static fs::path frame_640_;
    static fs::path square_512_;
    static VlmEngine* engine_;
};

TempDir* EmbeddedVlmTest::dir_ = nullptr;
models::SynthResult EmbeddedVlmTest::models_;
fs::path EmbeddedVlmTest::frame_640_;
fs::path EmbeddedVlmTest::square_512_;
VlmEngine* EmbeddedVlmTest::engine_ = nullptr;

// Also the guard against CPU-feature crashes (SIGILL on AMX/AVX-512 builds):
// this runs the vision encoder and the text model on this machine's CPU.
TEST_F(EmbeddedVlmTest, DescribesOneImageFromFileWithTimings) {
    VlmRequest request = describe({VlmImage::from_file(frame_640_.string())});
    request.ignore_eos = true;  // random weights: do not let an early EOG make the text empty
    const VlmResponse response = engine_->generate(request);
    EXPECT_FALSE(response.text.empty());
    EXPECT_EQ(response.finish_reason, "length");
    EXPECT_EQ(response.model, engine_->name());
    EXPECT_NE(response.model.find("text.gguf"), std::string::npos);
    const VlmTimings& t = response.timings;
    EXPECT_GT(t.image_encode_ms, 0.0);
    EXPECT_GT(t.prefill_ms, 0.0);
    EXPECT_GT(t.decode_ms, 0.0);
    EXPECT_GE(t.total_ms, t.image_encode_ms + t.prefill_ms + t.decode_ms);
    EXPECT_GT(t.image_tokens, 0);
    EXPECT_GT(t.prompt_tokens, t.image_tokens);
    EXPECT_EQ(t.generated_tokens, 8);
    EXPECT_GT(t.prefill_tokens_per_s(), 0.0);
    EXPECT_GT(t.decode_tokens_per_s(), 0.0);
}

TEST_F(EmbeddedVlmTest, StopsAtEndOfGenerationOrLength) {
    const VlmResponse response = engine_->generate(describe({VlmImage::from_file(frame_640_.string())}, 4));
    EXPECT_TRUE(response.finish_reason == "stop" || response.finish_reason == "length") << response.finish_reason;
    EXPECT_LE(response.timings.generated_tokens, 4);
    if (response.finish_reason == "length") {
        EXPECT_EQ(response.timings.generated_tokens, 4);
    }
}

TEST_F(EmbeddedVlmTest, GreedyOutputIsRepeatableAcrossRequests) {
    VlmRequest request = describe({VlmImage::from_file(square_512_.string())}, 6);
    request.ignore_eos = true;
    const VlmResponse first = engine_->generate(request);
    const VlmResponse second = engine_->generate(request);
    // Same text proves the KV cache was cleared between requests.
    EXPECT_EQ(first.text, second.text);
    EXPECT_EQ(first.timings.prompt_tokens, second.timings.prompt_tokens);
}

TEST_F(EmbeddedVlmTest, TwoImagesInOneRequestCostTwiceTheImageTokens) {
    const VlmResponse one = engine_->generate(describe({VlmImage::from_file(frame_640_.string())}, 2));
    const VlmResponse two = engine_->generate(
        describe({VlmImage::from_file(frame_640_.string()), VlmImage::from_file(square_512_.string())}, 2));
    EXPECT_EQ(two.timings.image_tokens, 2 * one.timings.image_tokens);
    EXPECT_GE(two.timings.prompt_tokens, one.timings.prompt_tokens + one.timings.image_tokens);
}

TEST_F(EmbeddedVlmTest, InMemoryRgbFrameMatchesTheSameImageFromFile) {
    const cv::Mat frame = test_frame(640, 480);
    VlmRequest request = describe({VlmImage::from_rgb(frame)}, 3);
    request.ignore_eos = true;
    const VlmResponse from_memory = engine_->generate(request);
    EXPECT_EQ(from_memory.timings.generated_tokens, 3);
    const VlmResponse from_file = engine_->generate(describe({VlmImage::from_file(frame_640_.string())}, 1));
    EXPECT_EQ(from_memory.timings.image_tokens, from_file.timings.image_tokens);

    // A view into a bigger frame (not continuous in memory) works too.
    const cv::Mat big = test_frame(800, 600);
    VlmRequest roi_request = describe({VlmImage::from_rgb(big(cv::Rect(10, 10, 640, 480)))}, 1);
    EXPECT_EQ(engine_->generate(roi_request).timings.image_tokens, from_file.timings.image_tokens);
}

TEST_F(EmbeddedVlmTest, DefaultBudgetKeepsA640x480FrameToOneTile) {
    const ProjectorInfo projector = read_projector_info(models_.mmproj.string());
    ASSERT_TRUE(projector.tiling());
    const VlmResponse frame = engine_->generate(describe({VlmImage::from_file(frame_640_.string())}, 1));
    const VlmResponse square = engine_->generate(describe({VlmImage::from_file(square_512_.string())}, 1));
    EXPECT_LE(frame.timings.image_tokens, 2 * square.timings.image_tokens);
    // One encoder pass: an image that fits one tile is not tiled again next
    // to its identical overview (Vigil's libmtmd patch, as HF's processor does).
    EXPECT_EQ(frame.timings.image_tokens, projector.tokens_per_tile());

    // A bigger budget buys more tiles for the same frame: the budget is what limits it.
    VlmRequest wide = describe({VlmImage::from_file(frame_640_.string())}, 1);
    wide.image_budget.max_tiles = 4;
    EXPECT_GT(engine_->generate(wide).timings.image_tokens, frame.timings.image_tokens);
}

TEST_F(EmbeddedVlmTest, ModelIsLoadedOnceAndReused) {
    // A private copy that disappears after loading: a reload would fail.
    TempDir own;
    fs::copy_file(models_.text_model, own / "text.gguf");
    fs::copy_file(models_.mmproj, own / "mmproj.gguf");
    EmbeddedConfig c = config();
    c.model_path = (own / "text.gguf").string();
    c.mmproj_path = (own / "mmproj.gguf").string();
    auto engine = make_embedded_engine(c);
    fs::remove(own / "text.gguf");
    fs::remove(own / "mmproj.gguf");
    for (int i = 0; i < 2; ++i) {
        const VlmResponse r = engine->generate(describe({VlmImage::from_file(frame_640_.string())}, 2));
        EXPECT_GT(r.timings.image_tokens, 0) << "request " << i;
    }
}

struct SchemaCase {
    const char* name;
    const char* schema;
    friend void PrintTo(const SchemaCase& c, std::ostream* out) { *out << c.name; }
};

class EmbeddedVlmSchemaTest : public EmbeddedVlmTest, public ::testing::WithParamInterface<SchemaCase> {};

// The weights are random, so every valid document below is the grammar's doing.
TEST_P(EmbeddedVlmSchemaTest, OutputValidatesAgainstSchema) {
    const nlohmann::json schema = nlohmann::json::parse(GetParam().schema);
    for (float temperature : {0.0f, 0.8f}) {
        VlmRequest request = describe({VlmImage::from_file(frame_640_.string())}, 400);
        request.prompt = "Report what you see as JSON.";
        request.json_schema = schema;
        request.temperature = temperature;
        request.seed = 7;
        const VlmResponse response = engine_->generate(request);
        ASSERT_TRUE(response.json.has_value()) << response.text;
        EXPECT_TRUE(validate_json(schema, *response.json).empty()) << response.text;
        EXPECT_EQ(response.finish_reason, "stop");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Schemas, EmbeddedVlmSchemaTest,
    ::testing::Values(
        SchemaCase{"enum_and_bounded_number",
                   R"({"type":"object","properties":{
                         "alert":{"type":"string","enum":["none","low","high"]},
                         "confidence":{"type":"number","minimum":0,"maximum":1}},
                       "required":["alert","confidence"],"additionalProperties":false})"},
        SchemaCase{"nested_objects",
                   R"({"type":"object","properties":{
                         "scene":{"type":"object","properties":{
                             "place":{"type":"string","maxLength":12},
                             "people":{"type":"integer","minimum":0,"maximum":50}},
                           "required":["place","people"],"additionalProperties":false},
                         "night":{"type":"boolean"}},
                       "required":["scene","night"],"additionalProperties":false})"},
        SchemaCase{"array_of_objects",
                   R"({"type":"object","properties":{
                         "objects":{"type":"array","maxItems":3,"items":{
                             "type":"object","properties":{
                               "label":{"type":"string","enum":["person","car","bus","bag"]},
                               "count":{"type":"integer","minimum":1,"maximum":9}},
                             "required":["label","count"],"additionalProperties":false}}},
                       "required":["objects"],"additionalProperties":false})"},
        SchemaCase{"bounded_strings_and_numbers",
                   R"({"type":"object","properties":{
                         "summary":{"type":"string","minLength":1,"maxLength":20},
                         "speed_kmh":{"type":"number","minimum":-5,"maximum":120},
                         "tags":{"type":"array","minItems":1,"maxItems":2,
                                 "items":{"type":"string","maxLength":6}}},
                       "required":["summary","speed_kmh","tags"],"additionalProperties":false})"}),
    [](const ::testing::TestParamInfo<SchemaCase>& param_info) { return std::string(param_info.param.name); });

// A document of about two hundred tokens: long enough that the sampled token is
// often one the grammar forbids, so both the one-token check and the
// whole-vocabulary resample run many times, and a grammar state that advanced
// twice (or not at all) for a token would show as an invalid document.
TEST_F(EmbeddedVlmTest, LongSchemaGenerationValidatesAcrossSeeds) {
    const nlohmann::json schema = nlohmann::json::parse(R"({
        "type":"object","properties":{
          "events":{"type":"array","minItems":6,"maxItems":6,"items":{
            "type":"object","properties":{
              "label":{"type":"string","enum":["person","car","bus","bag"]},
              "count":{"type":"integer","minimum":1,"maximum":99},
              "note":{"type":"string","minLength":3,"maxLength":10}},
            "required":["label","count","note"],"additionalProperties":false}},
          "night":{"type":"boolean"}},
        "required":["events","night"],"additionalProperties":false})");
    for (uint32_t seed : {1u, 2u, 3u}) {
        VlmRequest request = describe({}, 600);
        request.prompt = "List the events as JSON.";
        request.json_schema = schema;
        request.temperature = 1.0f;
        request.seed = seed;
        const VlmResponse response = engine_->generate(request);
        ASSERT_TRUE(response.json.has_value()) << response.text;
        EXPECT_TRUE(validate_json(schema, *response.json).empty()) << response.text;
        EXPECT_EQ(response.finish_reason, "stop");
        EXPECT_EQ((*response.json)["events"].size(), 6u);
        if (seed == 1u) {
            // A fixed seed gives the same document again.
            EXPECT_EQ(engine_->generate(request).text, response.text);
        }
    }
}

// Long free-text strings from a byte-level vocabulary: random weights pick
// stray bytes, and an ill-formed byte sequence llama.cpp's grammar counted as
// one character came out as several replacement characters, past the
// schema's bounds (seed 35 of these did, before the sampler kept UTF-8
// well-formed).
TEST_F(EmbeddedVlmTest, FreeTextStaysWellFormedUtf8WithinItsLength) {
    const nlohmann::json schema = nlohmann::json::parse(R"({
        "type":"object","properties":{
          "title":{"type":"string","minLength":70,"maxLength":80},
          "summary":{"type":"string","minLength":70,"maxLength":80}},
        "required":["title","summary"],"additionalProperties":false})");
    for (uint32_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        VlmRequest request = describe({VlmImage::from_file(frame_640_.string())}, 400);
        request.prompt = "Title and summary as JSON.";
        request.json_schema = schema;
        request.temperature = 1.0f;
        request.seed = seed;
        VlmResponse response;
        try {
            response = engine_->generate(request);  // it validates the document itself
        } catch (const Error& e) {
            FAIL() << e.what();
        }
        ASSERT_TRUE(response.json.has_value()) << response.text;
        EXPECT_TRUE(validate_json(schema, *response.json).empty()) << response.text;
        EXPECT_EQ(response.text.find("\xEF\xBF\xBD"), std::string::npos) << "replacement characters: " << response.text;
    }
}

// ---- bad input -------------------------------------------------------------

TEST_F(EmbeddedVlmTest, BadImagesGiveClearErrorsAndTheEngineKeepsWorking) {
    const fs::path missing = tmp() / "missing.jpg";
    const fs::path truncated = tmp() / "truncated.jpg";
    const fs::path text_as_jpg = tmp() / "notes.jpg";
    {
        std::vector<uchar> jpeg;
        cv::Mat bgr;
        cv::cvtColor(test_frame(640, 480), bgr, cv::COLOR_RGB2BGR);
        ASSERT_TRUE(cv::imencode(".jpg", bgr, jpeg));
        write_file(truncated, std::string(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 3)));
        write_file(text_as_jpg, "these are meeting notes, not a picture\n");
    }
    for (const fs::path& path : {missing, truncated, text_as_jpg}) {
        try {
            engine_->generate(describe({VlmImage::from_file(path.string())}));
            ADD_FAILURE() << "no error for " << path;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(engine_->generate(describe({VlmImage::from_rgb(cv::Mat())})), Error);
    EXPECT_THROW(engine_->generate(describe({VlmImage::from_rgb(cv::Mat(10, 10, CV_8UC1))})), Error);
    EXPECT_GT(engine_->generate(describe({VlmImage::from_file(frame_640_.string())}, 1)).timings.image_tokens, 0);
}

TEST_F(EmbeddedVlmTest, BadRequestsGiveClearErrors) {
    VlmRequest zero = describe({}, 0);
    EXPECT_THROW(engine_->generate(zero), Error);
    VlmRequest marker = describe({});
    marker.prompt = std::string("look at <__media__> please");
    EXPECT_THROW(engine_->generate(marker), Error);
    VlmRequest bad_budget = describe({VlmImage::from_file(frame_640_.string())});
    bad_budget.image_budget.max_tiles = 0;
    EXPECT_THROW(engine_->generate(bad_budget), Error);
}

std::string load_error(const EmbeddedConfig& c) {
    try {
        make_embedded_engine(c);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST_F(EmbeddedVlmTest, MissingCorruptAndTruncatedModelFilesGiveClearErrors) {
    EmbeddedConfig c = config();
    c.model_path = (tmp() / "nope.gguf").string();
    EXPECT_NE(load_error(c).find("does not exist"), std::string::npos) << load_error(c);

    const fs::path truncated = tmp() / "truncated_text.gguf";
    copy_prefix(models_.text_model, truncated, 0.6);
    c.model_path = truncated.string();
    std::string message = load_error(c);
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated_text.gguf"), std::string::npos) << message;

    const fs::path header_only = tmp() / "header_only.gguf";
    copy_prefix(models_.text_model, header_only, 0.001);
    c.model_path = header_only.string();
    message = load_error(c);
    EXPECT_NE(message.find("header_only.gguf"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;

    const fs::path not_gguf = tmp() / "not_a_model.gguf";
    write_file(not_gguf, "<html>404 not found</html>");
    c.model_path = not_gguf.string();
    EXPECT_NE(load_error(c).find("not a GGUF file"), std::string::npos) << load_error(c);

    c = config();
    c.mmproj_path = models_.text_model.string();  // a text model where the projector belongs
    EXPECT_NE(load_error(c).find("not a vision projector"), std::string::npos) << load_error(c);

    c = config();
    c.lora_path = (tmp() / "no_adapter.gguf").string();
    EXPECT_NE(load_error(c).find("LoRA adapter"), std::string::npos) << load_error(c);

    c = config();
    c.context_size = 16;
    EXPECT_NE(load_error(c).find("context_size"), std::string::npos) << load_error(c);
}

TEST_F(EmbeddedVlmTest, LoraAdapterIsAppliedAndAForeignOneIsRejected) {
    VlmRequest request = describe({VlmImage::from_file(square_512_.string())}, 12);
    request.ignore_eos = true;
    const std::string base_text = engine_->generate(request).text;

    const auto text_with = [&](const fs::path& adapter) {
        EmbeddedConfig c = config();
        c.lora_path = adapter.string();
        return make_embedded_engine(c)->generate(request).text;
    };
    const fs::path strong = tmp() / "lora_strong.gguf";
    const fs::path zero = tmp() / "lora_zero.gguf";
    write_lora(models_.text_model, strong, 1.0f);
    write_lora(models_.text_model, zero, 0.0f);
    EXPECT_NE(text_with(strong), base_text);
    EXPECT_EQ(text_with(zero), base_text);  // same path, no effect: the difference above is the adapter's

    const fs::path foreign = tmp() / "lora_foreign.gguf";
    write_lora(models_.text_model, foreign, 1.0f, 32);
    EmbeddedConfig c = config();
    c.lora_path = foreign.string();
    const std::string message = load_error(c);
    EXPECT_NE(message.find("does not fit"), std::string::npos) << message;
    EXPECT_NE(message.find("lora_foreign.gguf"), std::string::npos) << message;
}

TEST_F(EmbeddedVlmTest, MmprojForAnotherTextModelIsRejected) {
    // Both ways a foreign projector shows: metadata that says so, and a
    // projector whose weights disagree while its metadata claims to fit.
    for (bool rewrite_key : {true, false}) {
        const fs::path foreign = tmp() / (rewrite_key ? "foreign_key.gguf" : "foreign_weights.gguf");
        write_mismatched_mmproj(models_.mmproj, foreign, 96, rewrite_key);
        EmbeddedConfig c = config();
        c.mmproj_path = foreign.string();
        const std::string message = load_error(c);
        EXPECT_NE(message.find("does not match"), std::string::npos) << message;
        EXPECT_NE(message.find(foreign.filename().string()), std::string::npos) << message;
    }
}

TEST_F(EmbeddedVlmTest, ContextTooSmallForTheImageIsReported) {
    EmbeddedConfig c = config();
    c.context_size = 128;  // llama.cpp rounds it up to 256
    auto engine = make_embedded_engine(c);
    try {
        // 64 image tokens (one tile) + the text + 200 to generate.
        engine->generate(describe({VlmImage::from_file(frame_640_.string())}, 200));
        ADD_FAILURE() << "no error for a request larger than the context";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("context_size="), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("64 of them for 1 image"), std::string::npos) << e.what();
    }
    // Text alone still fits.
    EXPECT_NO_THROW(engine->generate(describe({}, 2)));
}

// ---- deadlines and cancellation ------------------------------------------------

TEST_F(EmbeddedVlmTest, DeadlineInThePastThrowsTimeoutError) {
    VlmRequest request = describe({VlmImage::from_file(frame_640_.string())});
    request.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    EXPECT_THROW(engine_->generate(request), TimeoutError);
}

TEST_F(EmbeddedVlmTest, DeadlinePassingDuringGenerationThrowsTimeoutError) {
    VlmRequest request = describe({VlmImage::from_file(frame_640_.string())}, 1500);
    request.ignore_eos = true;
    // Far shorter than encoding one image takes.
    request.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    EXPECT_THROW(engine_->generate(request), TimeoutError);
    // The engine is usable afterwards.
    EXPECT_EQ(engine_->generate(describe({}, 1)).timings.image_tokens, 0);
}

TEST_F(EmbeddedVlmTest, CancelFlagThrowsCancelledError) {
    std::atomic<bool> cancel{true};
    VlmRequest request = describe({VlmImage::from_file(frame_640_.string())});
    request.cancel = &cancel;
    EXPECT_THROW(engine_->generate(request), CancelledError);

    // Cancelled from another thread while the request runs (1500 tokens take
    // far longer than starting a thread).
    std::atomic<bool> later{false};
    VlmRequest running = describe({}, 1500);
    running.ignore_eos = true;
    running.cancel = &later;
    std::thread canceller([&] { later = true; });
    EXPECT_THROW(engine_->generate(running), CancelledError);
    canceller.join();
}

TEST_F(EmbeddedVlmTest, ConcurrentRequestsAreSerialisedSafely) {
    std::vector<std::thread> threads;
    std::vector<VlmResponse> responses(3);
    for (size_t i = 0; i < responses.size(); ++i) {
        threads.emplace_back([&, i] {
            VlmRequest r = describe({VlmImage::from_file(square_512_.string())}, 4);
            r.ignore_eos = true;
            responses[i] = engine_->generate(r);
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : responses) {
        EXPECT_EQ(r.text, responses[0].text);
        EXPECT_EQ(r.timings.generated_tokens, 4);
    }
}

// ---- prefix reuse, streaming, several requests at once ------------------------

// Instructions before the images are evaluated once and restored after; the
// answer must not change by a single token.
TEST_F(EmbeddedVlmTest, ReusedInstructionsGiveTheSameAnswerAsAColdEvaluation) {
    auto request_with = [&](const std::string& facts) {
        VlmRequest r = describe({VlmImage::from_file(frame_640_.string())}, 24);
        r.system_prompt = "You review road camera alerts.";
        r.instructions = "Camera north_gate at 5th Ave. Answer with the verdict first, then the report.\n";
        r.prompt = facts;
        r.ignore_eos = true;
        return r;
    };
    EmbeddedConfig cold_config = config();
    cold_config.prefix_cache_mb = 0;
    auto cold = make_embedded_engine(cold_config);
    auto warm = make_embedded_engine(config());
    for (const std::string facts : {"Congestion in zone road at 12.0 s.", "Congestion in zone road at 47.5 s."}) {
        const VlmResponse reference = cold->generate(request_with(facts));
        EXPECT_EQ(reference.timings.cached_prompt_tokens, 0);
        const VlmResponse first = warm->generate(request_with(facts));
        const VlmResponse second = warm->generate(request_with(facts));
        EXPECT_EQ(first.text, reference.text) << facts;
        EXPECT_EQ(second.text, reference.text) << facts;
        EXPECT_GT(second.timings.cached_prompt_tokens, 10) << "the instructions were evaluated again";
        EXPECT_LT(second.timings.cached_prompt_tokens, second.timings.prompt_tokens - second.timings.image_tokens);
    }
    // The cache is keyed by the exact instructions: other ones are evaluated.
    VlmRequest other = request_with("Congestion in zone road at 3.0 s.");
    other.instructions = "Camera south_gate. Verdict first.\n";
    EXPECT_EQ(warm->generate(other).timings.cached_prompt_tokens, 0);
}

TEST_F(EmbeddedVlmTest, StreamsEveryPieceOfTheAnswerInOrder) {
    VlmRequest request = describe({VlmImage::from_file(square_512_.string())}, 40);
    request.json_schema = nlohmann::json::parse(
        R"({"type":"object","properties":{"verdict":{"type":"string","enum":["confirmed","rejected"]},
            "summary":{"type":"string","maxLength":60}},"required":["verdict","summary"],"additionalProperties":false})");
    std::string streamed;
    int pieces = 0;
    request.on_text = [&](std::string_view piece) {
        streamed += piece;
        ++pieces;
    };
    const VlmResponse response = engine_->generate(request);
    EXPECT_EQ(pieces, response.timings.generated_tokens);
    EXPECT_EQ(sanitize_utf8(streamed), response.text);
    EXPECT_GT(response.timings.first_token_ms, 0.0);
    EXPECT_LE(response.timings.first_token_ms, response.timings.total_ms);
}

TEST_F(EmbeddedVlmTest, AnErrorFromTheStreamCallbackEndsOnlyThatRequest) {
    VlmRequest request = describe({}, 20);
    request.ignore_eos = true;
    request.on_text = [](std::string_view) { throw Error("receiver gone"); };
    try {
        engine_->generate(request);
        FAIL() << "the callback's error should end the request";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("receiver gone"), std::string::npos) << e.what();
    }
    EXPECT_EQ(engine_->generate(describe({}, 2)).timings.generated_tokens, 2);
}

// With two sequences, a request that arrives while another is decoding gets
// its first tokens before the other one's last: it does not wait its turn.
TEST_F(EmbeddedVlmTest, ParallelRequestsDecodeTogether) {
    EmbeddedConfig c = config();
    c.parallel = 2;
    auto engine = make_embedded_engine(c);
    using Clock = std::chrono::steady_clock;
    std::atomic<int> long_tokens{0};
    Clock::time_point long_last_token, short_first_token;
    VlmRequest long_request = describe({}, 300);
    long_request.ignore_eos = true;
    long_request.on_text = [&](std::string_view) {
        ++long_tokens;
        long_last_token = Clock::now();
    };
    VlmResponse long_response;
    std::thread long_thread([&] { long_response = engine->generate(long_request); });
    while (long_tokens < 20) std::this_thread::yield();  // the long request is decoding

    VlmRequest short_request = describe({VlmImage::from_file(square_512_.string())}, 8);
    short_request.ignore_eos = true;
    bool first = true;
    short_request.on_text = [&](std::string_view) {
        if (first) short_first_token = Clock::now();
        first = false;
    };
    const VlmResponse short_response = engine->generate(short_request);
    long_thread.join();
    EXPECT_EQ(short_response.timings.generated_tokens, 8);
    EXPECT_EQ(long_response.timings.generated_tokens, 300);
    EXPECT_LT(short_first_token, long_last_token) << "the second request waited for the first to finish";

    // Alone, the same request gives the same tokens: sequences do not leak
    // into each other.
    EXPECT_EQ(engine->generate(short_request).text, short_response.text);
}

// One sequence, two requests: the first says its urgent part is out (the
// background flag), so the second takes the sequence at once; the first is
// paused with its state kept and finishes afterwards, its answer unchanged.
TEST_F(EmbeddedVlmTest, ARequestInTheBackgroundStepsAsideForANewOne) {
    auto engine = make_embedded_engine(config());  // parallel = 1
    VlmRequest alone = describe({}, 200);
    alone.ignore_eos = true;
    const std::string expected = engine->generate(alone).text;

    using Clock = std::chrono::steady_clock;
    std::atomic<bool> background{false};
    std::atomic<int> long_tokens{0};
    Clock::time_point long_last, short_last;
    VlmRequest long_request = alone;
    long_request.background = &background;
    long_request.on_text = [&](std::string_view) {
        if (++long_tokens == 10) background = true;  // "the verdict is out"
        long_last = Clock::now();
    };
    VlmResponse long_response;
    std::thread long_thread([&] { long_response = engine->generate(long_request); });
    while (long_tokens < 12) std::this_thread::yield();

    VlmRequest short_request = describe({VlmImage::from_file(square_512_.string())}, 6);
    short_request.ignore_eos = true;
    short_request.on_text = [&](std::string_view) { short_last = Clock::now(); };
    const VlmResponse short_response = engine->generate(short_request);
    long_thread.join();

    EXPECT_EQ(short_response.timings.generated_tokens, 6);
    EXPECT_LT(short_last, long_last) << "the new request waited for the old one's report";
    EXPECT_EQ(long_response.timings.pauses, 1);
    EXPECT_EQ(long_response.timings.generated_tokens, 200);
    EXPECT_EQ(long_response.text, expected) << "pausing and resuming changed the answer";
}

TEST_F(EmbeddedVlmTest, ARequestWaitingForAFreeSequenceHonoursItsDeadline) {
    VlmRequest busy = describe({}, 400);
    busy.ignore_eos = true;
    std::atomic<bool> started{false};
    busy.on_text = [&](std::string_view) { started = true; };
    std::thread holder([&] { engine_->generate(busy); });
    while (!started) std::this_thread::yield();
    VlmRequest waiting = describe({}, 4);
    waiting.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    EXPECT_THROW(engine_->generate(waiting), TimeoutError);
    holder.join();
}

// ---- image budget arithmetic ------------------------------------------------

TEST(VlmImagePrepTest, ProjectorInfoComesFromTheMmproj) {
    TempDir dir;
    const auto pair = models::synth_vlm("tiny", dir.path());
    const ProjectorInfo info = read_projector_info(pair.mmproj.string());
    EXPECT_EQ(info.type, "idefics3");
    EXPECT_TRUE(info.tiling());
    EXPECT_EQ(info.image_size, 512);
    EXPECT_EQ(info.tokens_per_tile(), 64);
    EXPECT_THROW(read_projector_info(pair.text_model.string()), Error);
    EXPECT_THROW(read_projector_info((dir / "absent.gguf").string()), Error);
}

ProjectorInfo smolvlm_projector() {
    ProjectorInfo p;
    p.type = "idefics3";
    p.image_size = 512;
    p.patch_size = 16;
    p.scale_factor = 4;
    return p;
}

struct BudgetCase {
    cv::Size input;
    int max_tiles;
    cv::Size expected;
    friend void PrintTo(const BudgetCase& c, std::ostream* out) {
        *out << c.input.width << "x" << c.input.height << " in " << c.max_tiles << " tile(s)";
    }
};

class BudgetSizeTest : public ::testing::TestWithParam<BudgetCase> {};

TEST_P(BudgetSizeTest, ShrinksToTheTileBudgetKeepingAspect) {
    const BudgetCase& c = GetParam();
    ImageBudget budget;
    budget.max_tiles = c.max_tiles;
    EXPECT_EQ(budget_image_size(c.input, smolvlm_projector(), budget), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Sizes, BudgetSizeTest,
                         ::testing::Values(BudgetCase{{640, 480}, 1, {512, 384}},
                                           BudgetCase{{480, 640}, 1, {384, 512}},
                                           BudgetCase{{300, 200}, 1, {300, 200}},
                                           BudgetCase{{1920, 1080}, 1, {512, 288}},
                                           BudgetCase{{1920, 1080}, 2, {910, 512}},
                                           BudgetCase{{1920, 1080}, 4, {1024, 576}},
                                           BudgetCase{{640, 480}, 2, {640, 480}}));

TEST(VlmImagePrepTest, TokenLimitsFollowTheBudget) {
    const ProjectorInfo tiles = smolvlm_projector();
    EXPECT_EQ(image_token_limits(tiles, ImageBudget{}), (ImageTokenLimits{-1, 64}));
    EXPECT_EQ(image_token_limits(tiles, ImageBudget{4, -1, -1}), (ImageTokenLimits{-1, 256}));
    EXPECT_EQ(image_token_limits(tiles, ImageBudget{4, -1, 130}), (ImageTokenLimits{-1, 128}));
    EXPECT_THROW(image_token_limits(tiles, ImageBudget{0, -1, -1}), Error);
    EXPECT_THROW(image_token_limits(tiles, ImageBudget{1, 300, 100}), Error);

    ProjectorInfo dynamic;
    dynamic.type = "qwen2.5vl";
    dynamic.image_size = 560;
    dynamic.patch_size = 14;
    EXPECT_FALSE(dynamic.tiling());
    EXPECT_EQ(image_token_limits(dynamic, ImageBudget{1, 64, 256}), (ImageTokenLimits{64, 256}));
    EXPECT_EQ(budget_image_size({1920, 1080}, dynamic, ImageBudget{}), cv::Size(1920, 1080));
}

TEST(VlmImagePrepTest, FitImageToBudgetResizesOnlyWhenNeeded) {
    const cv::Mat small = test_frame(320, 240);
    const cv::Mat kept = fit_image_to_budget(small, smolvlm_projector(), ImageBudget{});
    EXPECT_EQ(kept.data, small.data);
    const cv::Mat shrunk = fit_image_to_budget(test_frame(1280, 960), smolvlm_projector(), ImageBudget{});
    EXPECT_EQ(shrunk.size(), cv::Size(512, 384));
    EXPECT_EQ(shrunk.type(), CV_8UC3);
}

}  // namespace
}  // namespace vigil::vlm
