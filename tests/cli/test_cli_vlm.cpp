// `vigil describe` and `vigil ask` end to end through the real executable, on
// the tiny random-weight pair: real llama.cpp loading and decoding, nonsense
// text, schema-valid JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/model_synth.h"
#include "testing/test_support.h"
#include "vlm/vlm_json_schema.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using testing::run_vigil;
using testing::shared_path;
using testing::TempDir;

class VlmCliTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        models_ = new TempDir();
        pair_ = models::synth_vlm("tiny", models_->path());
    }
    static void TearDownTestSuite() {
        delete models_;
        models_ = nullptr;
    }
    static std::string model_args() {
        return "--threads 1 --model " + pair_.text_model.string() + " --mmproj " + pair_.mmproj.string();
    }
    static std::string image() { return shared_path("media/images/bus.jpg").string(); }

    static TempDir* models_;
    static models::SynthResult pair_;
};
TempDir* VlmCliTest::models_ = nullptr;
models::SynthResult VlmCliTest::pair_;

TEST_F(VlmCliTest, DescribePrintsTextAndTimingsAsJson) {
    auto result = run_vigil("describe " + model_args() + " --max-tokens 12 --json " + image() + " 2>/dev/null");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    auto out = nlohmann::json::parse(result.output);
    EXPECT_FALSE(out["text"].get<std::string>().empty());
    EXPECT_GT(out["timings"]["image_tokens"].get<int>(), 0);
    EXPECT_GT(out["timings"]["generated_tokens"].get<int>(), 0);
    EXPECT_LE(out["timings"]["generated_tokens"].get<int>(), 12);
}

TEST_F(VlmCliTest, AskWithSchemaPrintsOneValidDocumentForTwoImages) {
    TempDir dir;
    const nlohmann::json schema = {
        {"type", "object"},
        {"required", {"vehicles", "scene", "busy"}},
        {"additionalProperties", false},
        {"properties",
         {{"vehicles", {{"type", "integer"}, {"minimum", 0}, {"maximum", 50}}},
          {"scene", {{"type", "string"}, {"enum", {"street", "highway", "indoor"}}}},
          {"busy", {{"type", "boolean"}}}}}};
    testing::write_file(dir / "schema.json", schema.dump());
    auto result = run_vigil("ask " + model_args() + " --max-tokens 120 --schema " + (dir / "schema.json").string() +
                            " " + image() + " " + shared_path("media/images/people_crosswalk.jpeg").string() +
                            " \"How many vehicles are there?\" 2>/dev/null");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    auto answer = nlohmann::json::parse(result.output);
    EXPECT_THAT(vlm::validate_json(schema, answer), ::testing::IsEmpty()) << answer.dump();
}

TEST_F(VlmCliTest, BadInputExitsOneWithAClearMessage) {
    TempDir dir;
    testing::write_file(dir / "notes.jpg", "not a picture");
    testing::write_file(dir / "bad_schema.json", R"({"type": "objekt"})");
    struct Case {
        std::string args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"describe " + model_args() + " /nonexistent/photo.jpg", "file not found"},
        {"describe " + model_args() + " " + (dir / "notes.jpg").string(), "not a JPEG, PNG or BMP"},
        {"ask " + model_args() + " --schema " + (dir / "bad_schema.json").string() + " " + image() + " \"q?\"",
         "bad_schema.json"},
        {"describe --model " + pair_.text_model.string() + " " + image(), "--model and --mmproj go together"},
        {"describe --model /nonexistent/text.gguf --mmproj /nonexistent/mmproj.gguf " + image(), "text.gguf"},
        {"describe --server http://127.0.0.1:" + std::to_string(testing::free_loopback_port()) + " " + image(),
         "not reachable"},
        {"describe --server http://127.0.0.1:9 --lora " + pair_.mmproj.string() + " " + image(),
         "applies to the embedded model"},
    };
    for (const auto& c : cases) {
        auto result = run_vigil(c.args);
        EXPECT_EQ(result.exit_code, 1) << c.args << "\n" << result.output;
        EXPECT_THAT(result.output, HasSubstr(c.message)) << c.args;
        EXPECT_THAT(result.output, HasSubstr("vigil: error:")) << c.args;
    }
}

}  // namespace
}  // namespace vigil
