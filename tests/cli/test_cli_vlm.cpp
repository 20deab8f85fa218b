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

// One build for every x86-64 machine: on an emulated CPU without AVX (QEMU's
// Nehalem) ggml loads its SSE4.2 backend and the model still runs; with AVX2
// (Haswell) the AVX2 one. The host, with AVX-512, loads a better one still.
TEST_F(VlmCliTest, RunsOnOlderX86CpusWithTheBackendTheyCanExecute) {
    if (testing::run_command("command -v qemu-x86_64").exit_code != 0) GTEST_SKIP() << "qemu-user is not installed";
    const std::string vigil = testing::vigil_executable().string();
    auto host = run_vigil("--version");
    ASSERT_EQ(host.exit_code, 0) << host.output;
    EXPECT_THAT(host.output, HasSubstr("llama.cpp CPU backend: libggml-cpu-"));
    EXPECT_THAT(host.output, ::testing::Not(HasSubstr("libggml-cpu-x64.so")));
    auto haswell = testing::run_command("qemu-x86_64 -cpu Haswell " + vigil + " --version 2>/dev/null");
    ASSERT_EQ(haswell.exit_code, 0) << haswell.output;
    EXPECT_THAT(haswell.output, HasSubstr("libggml-cpu-haswell.so"));
    auto nehalem = testing::run_command("qemu-x86_64 -cpu Nehalem " + vigil + " describe " + model_args() +
                                        " --max-tokens 4 --json " + image() + " 2>/dev/null");
    ASSERT_EQ(nehalem.exit_code, 0) << nehalem.output;
    EXPECT_GT(nlohmann::json::parse(nehalem.output)["timings"]["generated_tokens"].get<int>(), 0);
    auto version = testing::run_command("qemu-x86_64 -cpu Nehalem " + vigil + " --version 2>/dev/null");
    EXPECT_THAT(version.output, HasSubstr("libggml-cpu-sse42.so"));
}

// The real-time benchmark's request, on the tiny pair: the verdict comes
// before the report, the instructions are reused after the cold run, and the
// baseline path (today's before this work) waits for the whole report.
TEST_F(VlmCliTest, BenchVlmAlertTimesVerdictReportAndPrefixReuse) {
    const std::string video = shared_path("media/videos/opencv4nodejs_traffic.mp4").string();
    const std::string args = "bench vlm-alert --model " + pair_.text_model.string() + " --mmproj " +
                             pair_.mmproj.string() + " --frame " + video + "@2s --frame " + video + "@3s --frame " +
                             video + "@4s --threads 1 --tokens 60 --runs 2 --json 2>/dev/null";
    auto after = run_vigil(args);
    ASSERT_EQ(after.exit_code, 0) << after.output;
    const auto a = nlohmann::json::parse(after.output);
    EXPECT_EQ(a["path"], "after");
    EXPECT_GT(a["cached_prompt_tokens"].get<int>(), 50);
    EXPECT_EQ(a["encoder_passes_per_request"], 2);
    EXPECT_LT(a["verdict_ms"].get<double>(), a["report_ms"].get<double>());
    EXPECT_GT(a["decode_bound_tokens_per_s"].get<double>(), 0.0);
    auto before = run_vigil(args + " --baseline");
    ASSERT_EQ(before.exit_code, 0) << before.output;
    const auto b = nlohmann::json::parse(before.output);
    EXPECT_EQ(b["path"], "before");
    EXPECT_EQ(b["cached_prompt_tokens"], 0);
    EXPECT_EQ(b["verdict_ms"], b["report_ms"]);
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
