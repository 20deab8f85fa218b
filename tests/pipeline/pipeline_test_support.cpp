#include "pipeline_test_support.h"

#include <gtest/gtest.h>

#include <fstream>

#include "alert/alert_builder.h"

namespace vigil::pipeline::testing {
using json = nlohmann::json;

ScriptedVlmServer::ScriptedVlmServer(Script script) : script_(std::move(script)) {
    server_.server().Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
        {
            std::lock_guard lock(mutex_);
            ++requests_;
        }
        // The prompt text is wherever the client put it among the messages.
        const std::string content = script_(request.body, *this);
        json reply = {{"id", "chatcmpl-1"},
                      {"object", "chat.completion"},
                      {"model", "scripted-vlm"},
                      {"choices",
                       {{{"index", 0},
                         {"finish_reason", "stop"},
                         {"message", {{"role", "assistant"}, {"content", content}}}}}},
                      {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 50}, {"total_tokens", 150}}}};
        response.set_content(reply.dump(), "application/json");
    });
    server_.start();
}

ScriptedVlmServer::~ScriptedVlmServer() {
    {
        std::lock_guard lock(mutex_);
        released_ = true;
    }
    released_cv_.notify_all();
}

int ScriptedVlmServer::requests() {
    std::lock_guard lock(mutex_);
    return requests_;
}

void ScriptedVlmServer::hold() {
    std::unique_lock lock(mutex_);
    released_cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
}

PipelineConfig write_config(const vigil::testing::TempDir& dir, const std::string& yaml) {
    const auto path = dir / "run.yaml";
    vigil::testing::write_file(path, yaml);
    return load_pipeline_config(path);
}

RunOptions until_eof() {
    RunOptions options;
    options.until_eof = true;
    options.progress = false;
    options.drain_timeout_s = 10;
    return options;
}

std::vector<json> read_jsonl(const std::filesystem::path& path) {
    std::vector<json> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(json::parse(line));
    }
    return lines;
}

void expect_valid(const json& alert) {
    const auto violations = alert::validate_alert(alert);
    EXPECT_TRUE(violations.empty()) << violations.front() << "\n" << alert.dump(2);
}

json scripted_report(const std::string& verdict, const std::string& title) {
    return {{"verdict", verdict},
            {"reasoning", "Scripted answer for the test."},
            {"title", title},
            {"summary", title + " seen on the camera."},
            {"description", "Several vehicles are queued in the zone."},
            {"probable_cause", "Heavy volume."},
            {"hazards", json::array({"queue"})},
            {"people_at_risk", false},
            {"emergency_services_seen", false},
            {"recommended_actions", json::array({"Watch the queue"})},
            {"severity", "low"},
            {"confidence", 0.8}};
}

}  // namespace vigil::pipeline::testing
