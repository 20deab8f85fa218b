#pragma once
// Servers the end-to-end pipeline tests run against, on loopback ports: the
// shared receivers (mosquitto, webhook) and a scripted OpenAI-compatible VLM.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/pipeline_config.h"
#include "pipeline/pipeline_runner.h"
#include "testing/test_receivers.h"
#include "testing/test_support.h"

namespace vigil::pipeline::testing {

using vigil::testing::free_loopback_port;
using vigil::testing::LoopbackServer;
using vigil::testing::MosquittoBroker;
using vigil::testing::MqttSubscriber;
using vigil::testing::WebhookReceiver;

// An OpenAI-compatible /v1/chat/completions whose answer the test computes
// from the request's prompt text. `hold()` lets a handler stall until the
// server is destroyed (a VLM slower than any deadline).
class ScriptedVlmServer {
public:
    // Returns the assistant message content for a prompt.
    using Script = std::function<std::string(const std::string& prompt, ScriptedVlmServer& self)>;
    explicit ScriptedVlmServer(Script script);
    ~ScriptedVlmServer();
    std::string url() const { return server_.url(); }
    int requests();
    void hold();

private:
    Script script_;
    std::mutex mutex_;
    std::condition_variable released_cv_;
    bool released_ = false;
    int requests_ = 0;
    LoopbackServer server_;
};

// Writes `yaml` as run.yaml in `dir` and loads it.
PipelineConfig write_config(const vigil::testing::TempDir& dir, const std::string& yaml);
// Run options for tests: end at the end of the files, no progress line.
RunOptions until_eof();
// One JSON document per non-empty line.
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);
// Fails the test with the first violation when `alert` breaks the alert schema.
void expect_valid(const nlohmann::json& alert);

// A report matching prompts/report.schema.json with the given verdict.
nlohmann::json scripted_report(const std::string& verdict, const std::string& title);

}  // namespace vigil::pipeline::testing
