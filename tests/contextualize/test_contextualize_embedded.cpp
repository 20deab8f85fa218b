// The whole stage on a real llama.cpp run: the tiny random-weight VLM pair,
// the repository's prompts and schemas, evidence frames in memory. The
// weights are random, so a report that validates is the grammar's doing.
#include <gtest/gtest.h>

#include <chrono>
#include <fmt/format.h>
#include <iostream>

#include "contextualize/contextualize_prompt.h"
#include "contextualize/contextualizer.h"
#include "contextualize_test_scenes.h"
#include "models/model_synth.h"
#include "testing/test_support.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::contextualize {
namespace {

using nlohmann::json;
using namespace vigil::contextualize::testing;

TEST(ContextualizeEmbedded, TinyModelAnswersWithAReportThatValidates) {
    vigil::testing::TempDir dir;
    const models::SynthResult pair = models::synth_vlm("tiny", dir / "tiny");
    vlm::EmbeddedConfig config;
    config.model_path = pair.text_model.string();
    config.mmproj_path = pair.mmproj.string();
    config.threads = 1;  // small shared CI machines: spinning workers only slow things down
    config.context_size = 4096;
    std::unique_ptr<vlm::VlmEngine> engine = vlm::make_embedded_engine(config);

    ContextualizerOptions options;
    options.max_tiles_per_request = 1;
    options.vlm_deadline = std::chrono::seconds(60);
    options.temperature = 0.0f;
    Contextualizer contextualizer(options, engine.get());
    ContextReport report = contextualizer.contextualize(congestion_event(), main_street_camera(), road_frames());

    ASSERT_EQ(report.source, "vlm") << report.fallback_reason;
    EXPECT_NE(report.vlm_model.find("text.gguf"), std::string::npos) << report.vlm_model;
    EXPECT_GT(report.vlm_ms, 0.0);
    const vlm::VlmTimings& t = report.vlm_timings;
    EXPECT_GT(t.image_tokens, 0);  // the evidence mosaic went in
    std::cout << fmt::format("tiny VLM report: {} prompt tokens ({} image), {} generated; encode {:.0f} ms, "
                             "prefill {:.0f} ms, decode {:.0f} ms\n",
                             t.prompt_tokens, t.image_tokens, t.generated_tokens, t.image_encode_ms, t.prefill_ms,
                             t.decode_ms);
    json answer = report.report;
    answer["verdict"] = report.verdict;
    answer["reasoning"] = report.reasoning;
    const json schema = PromptLibrary::load(std::filesystem::path(VIGIL_SOURCE_DIR) / "prompts")
                            .for_event_type("congestion")
                            .schema;
    const auto violations = vlm::validate_json(schema, answer);
    EXPECT_TRUE(violations.empty()) << violations.front() << "\n" << answer.dump(2);
}

}  // namespace
}  // namespace vigil::contextualize
