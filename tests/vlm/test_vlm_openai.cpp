// The OpenAI-compatible backend against a scripted server on loopback (request
// shape, retries, timeouts, cancellation, bad replies) and against a real
// llama-server running the tiny random-weight VLM pair.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "core/error.h"
#include "models/model_synth.h"
#include "testing/test_support.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_json_schema.h"

extern char** environ;

namespace vigil::vlm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const json kAlertSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "alert": {"type": "boolean"},
    "severity": {"enum": ["low", "medium", "high"]}
  },
  "required": ["alert", "severity"],
  "additionalProperties": false
})");

json chat_reply(const std::string& content, const std::string& finish_reason = "stop") {
    return {{"id", "chatcmpl-1"},
            {"object", "chat.completion"},
            {"model", "scripted"},
            {"choices", {{{"index", 0}, {"finish_reason", finish_reason}, {"message", {{"role", "assistant"}, {"content", content}}}}}},
            {"usage", {{"prompt_tokens", 77}, {"completion_tokens", 9}, {"total_tokens", 86}}}};
}

// An OpenAI-compatible server on an ephemeral loopback port whose replies the
// test scripts. The socket listens from construction on, so requests queue in
// the backlog even before the accept thread runs.
class ScriptedServer {
public:
    // Reply to the n-th request (0-based).
    using Script = std::function<void(int n, const httplib::Request&, httplib::Response&)>;

    explicit ScriptedServer(Script script) : script_(std::move(script)) {
        auto handler = [this](const httplib::Request& request, httplib::Response& response) {
            int n = 0;
            {
                std::lock_guard lock(mutex_);
                n = static_cast<int>(bodies_.size());
                bodies_.push_back(request.body);
                paths_.push_back(request.path);
                authorization_ = request.get_header_value("Authorization");
            }
            received_.notify_all();
            script_(n, request, response);
        };
        server_.Post("/v1/chat/completions", handler);
        server_.Post("/custom/v1/chat/completions", handler);
        port_ = server_.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
        thread_ = std::thread([this] {
            server_.listen_after_bind();
            listen_returned_ = true;
        });
    }

    ~ScriptedServer() {
        release();
        // stop() is a no-op until the accept loop runs, so wait for it to start.
        while (!server_.is_running() && !listen_returned_) std::this_thread::yield();
        server_.stop();
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int requests() const {
        std::lock_guard lock(mutex_);
        return static_cast<int>(bodies_.size());
    }
    json request_body(int n) const {
        std::lock_guard lock(mutex_);
        return json::parse(bodies_.at(static_cast<size_t>(n)));
    }
    std::string path(int n) const {
        std::lock_guard lock(mutex_);
        return paths_.at(static_cast<size_t>(n));
    }
    std::string authorization() const {
        std::lock_guard lock(mutex_);
        return authorization_;
    }

    // For handlers that must stall: block until release() (or 10 s pass).
    void hold() {
        std::unique_lock lock(mutex_);
        released_cv_.wait_for(lock, 10s, [this] { return released_; });
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            released_ = true;
        }
        released_cv_.notify_all();
    }
    void wait_for_requests(int count) {
        std::unique_lock lock(mutex_);
        received_.wait_for(lock, 10s, [&] { return static_cast<int>(bodies_.size()) >= count; });
    }

private:
    Script script_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> listen_returned_{false};
    mutable std::mutex mutex_;
    std::condition_variable received_, released_cv_;
    bool released_ = false;
    std::vector<std::string> bodies_, paths_;
    std::string authorization_;
};

using vigil::testing::free_loopback_port;

void reply_json(httplib::Response& response, const json& body, int status = 200) {
    response.status = status;
    response.set_content(body.dump(), "application/json");
}

OpenAiConfig fast_config(const std::string& url) {
    OpenAiConfig config;
    config.base_url = url;
    config.connect_timeout = 1000ms;
    config.request_timeout = 5000ms;
    config.max_retries = 2;
    config.retry_backoff = 10ms;
    return config;
}

VlmRequest alert_request() {
    VlmRequest request;
    request.system_prompt = "You watch a camera.";
    request.prompt = "Is there an intruder?";
    request.json_schema = kAlertSchema;
    request.max_tokens = 64;
    request.seed = 7;
    return request;
}

std::string expect_error(const std::function<void()>& call) {
    try {
        call();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no vigil::Error thrown";
    return "";
}

cv::Mat decode_data_uri(const std::string& uri) {
    const std::string prefix = "data:image/jpeg;base64,";
    if (uri.rfind(prefix, 0) != 0) return {};
    std::string b64 = uri.substr(prefix.size());
    std::vector<unsigned char> bytes(b64.size());
    int n = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (n <= 0) return {};
    bytes.resize(static_cast<size_t>(n));
    return cv::imdecode(bytes, cv::IMREAD_COLOR);
}

cv::Mat gradient_rgb(int width, int height) {
    cv::Mat rgb(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(x % 256, y % 256, (x + y) % 256);
    return rgb;
}

TEST(OpenAiEngine, SendsImagesAndSchemaAndValidatesTheReply) {
    ScriptedServer server([](int, const httplib::Request&, httplib::Response& response) {
        reply_json(response, chat_reply("```json\n{\"alert\": true, \"severity\": \"high\"}\n```"));
    });
    testing::TempDir dir;
    ASSERT_TRUE(cv::imwrite((dir / "frame.png").string(), gradient_rgb(300, 200)));
    OpenAiConfig config = fast_config(server.url() + "/");
    config.model = "smolvlm";
    config.api_key = "secret-key";
    auto engine = make_openai_engine(config);
    VlmRequest request = alert_request();
    request.images = {VlmImage::from_rgb(gradient_rgb(1024, 768)), VlmImage::from_file((dir / "frame.png").string())};

    VlmResponse response = engine->generate(request);
    ASSERT_TRUE(response.json);
    EXPECT_EQ((*response.json)["severity"], "high");
    EXPECT_EQ(response.finish_reason, "stop");
    EXPECT_EQ(response.model, "scripted");
    EXPECT_EQ(response.timings.prompt_tokens, 77);
    EXPECT_EQ(response.timings.generated_tokens, 9);
    EXPECT_GT(response.timings.total_ms, 0);

    ASSERT_EQ(server.requests(), 1);
    EXPECT_EQ(server.path(0), "/v1/chat/completions");
    EXPECT_EQ(server.authorization(), "Bearer secret-key");
    json body = server.request_body(0);
    EXPECT_EQ(body["model"], "smolvlm");
    EXPECT_EQ(body["max_tokens"], 64);
    EXPECT_EQ(body["seed"], 7);
    EXPECT_EQ(body["messages"][0]["role"], "system");
    EXPECT_EQ(body["messages"][0]["content"], "You watch a camera.");
    const json& parts = body["messages"][1]["content"];
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[2]["type"], "text");
    EXPECT_EQ(parts[2]["text"], "Is there an intruder?");
    cv::Mat big = decode_data_uri(parts[0]["image_url"]["url"].get<std::string>());
    ASSERT_FALSE(big.empty()) << "image 0 is not a JPEG data URI";
    EXPECT_EQ(big.cols, 512) << "downscaled to one 512 px tile";
    EXPECT_EQ(big.rows, 384);
    cv::Mat small = decode_data_uri(parts[1]["image_url"]["url"].get<std::string>());
    ASSERT_FALSE(small.empty()) << "image 1 is not a JPEG data URI";
    EXPECT_EQ(small.cols, 300) << "small images keep their size";
    EXPECT_EQ(body["response_format"]["type"], "json_schema");
    EXPECT_EQ(body["response_format"]["json_schema"]["schema"], kAlertSchema);
    EXPECT_EQ(body["response_format"]["json_schema"]["strict"], true);
}

TEST(OpenAiEngine, PlainRequestsHaveNoResponseFormatAndAcceptV1BaseUrls) {
    ScriptedServer server([](int, const httplib::Request&, httplib::Response& response) {
        reply_json(response, chat_reply("A person walks by.", "length"));
    });
    auto engine = make_openai_engine(fast_config(server.url() + "/custom/v1"));
    VlmRequest request;
    request.prompt = "Describe.";
    VlmResponse response = engine->generate(request);
    EXPECT_EQ(response.text, "A person walks by.");
    EXPECT_EQ(response.finish_reason, "length");
    EXPECT_FALSE(response.json);
    EXPECT_EQ(server.path(0), "/custom/v1/chat/completions");
    json body = server.request_body(0);
    EXPECT_FALSE(body.contains("response_format"));
    EXPECT_FALSE(body.contains("model"));
    EXPECT_EQ(body["messages"].size(), 1u) << "no system message when none is given";
}

TEST(OpenAiEngine, UnreachableServerFailsFastWithAClearError) {
    int port = free_loopback_port();
    ASSERT_GT(port, 0);
    std::string url = "http://127.0.0.1:" + std::to_string(port);
    auto engine = make_openai_engine(fast_config(url));
    auto started = Clock::now();
    std::string message = expect_error([&] { engine->generate(alert_request()); });
    EXPECT_LT(Clock::now() - started, 2s);
    EXPECT_NE(message.find("VLM server " + url + " is not reachable"), std::string::npos) << message;
}

TEST(OpenAiEngine, SlowServerPastTheDeadlineTimesOut) {
    ScriptedServer* self = nullptr;  // the handler stalls on its own server's hold()
    ScriptedServer stalling([&](int, const httplib::Request&, httplib::Response& response) {
        self->hold();
        reply_json(response, chat_reply("{\"alert\": false, \"severity\": \"low\"}"));
    });
    self = &stalling;
    auto engine = make_openai_engine(fast_config(stalling.url()));
    VlmRequest request = alert_request();
    request.deadline = Clock::now() + 300ms;
    auto started = Clock::now();
    EXPECT_THROW(engine->generate(request), TimeoutError);
    auto elapsed = Clock::now() - started;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 1500ms);
    EXPECT_EQ(stalling.requests(), 1) << "no retry after a timeout";

    request.deadline = Clock::now() - 1ms;
    EXPECT_THROW(engine->generate(request), TimeoutError);
    EXPECT_EQ(stalling.requests(), 1) << "a passed deadline sends nothing";
}

TEST(OpenAiEngine, CancellingStopsAWaitingRequest) {
    ScriptedServer* self = nullptr;  // the handler stalls on its own server's hold()
    ScriptedServer stalling([&](int, const httplib::Request&, httplib::Response& response) {
        self->hold();
        reply_json(response, chat_reply("{}"));
    });
    self = &stalling;
    auto engine = make_openai_engine(fast_config(stalling.url()));
    std::atomic<bool> cancel{false};
    VlmRequest request = alert_request();
    request.cancel = &cancel;
    auto result = std::async(std::launch::async, [&] { engine->generate(request); });
    stalling.wait_for_requests(1);
    auto cancelled_at = Clock::now();
    cancel = true;
    EXPECT_THROW(result.get(), CancelledError);
    EXPECT_LT(Clock::now() - cancelled_at, 1s);
}

TEST(OpenAiEngine, BadRepliesNameTheServerAndTheProblem) {
    struct Case {
        std::string content;
        std::string expected;
    };
    std::vector<Case> cases = {
        {"I think there is an intruder.", "not valid JSON"},
        {"{\"alert\": \"yes\", \"severity\": \"high\"}", "/alert: expected boolean"},
        {"{\"alert\": true, \"severity\": \"critical\"}", "/severity: \"critical\" is not one of"},
    };
    for (const auto& c : cases) {
        ScriptedServer server([&](int, const httplib::Request&, httplib::Response& response) { reply_json(response, chat_reply(c.content)); });
        auto engine = make_openai_engine(fast_config(server.url()));
        std::string message = expect_error([&] { engine->generate(alert_request()); });
        EXPECT_NE(message.find(server.url()), std::string::npos) << message;
        EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    }
    ScriptedServer garbage([](int, const httplib::Request&, httplib::Response& response) {
        response.set_content("<html>proxy error</html>", "text/html");
    });
    auto engine = make_openai_engine(fast_config(garbage.url()));
    EXPECT_NE(expect_error([&] { engine->generate(alert_request()); }).find("not JSON: <html>proxy error"), std::string::npos);
}

TEST(OpenAiEngine, RetriesServerErrorsButNotClientErrors) {
    ScriptedServer flaky([](int n, const httplib::Request&, httplib::Response& response) {
        if (n == 0) reply_json(response, {{"error", {{"message", "loading model"}}}}, 503);
        else if (n == 1) reply_json(response, {{"error", {{"message", "slow down"}}}}, 429);
        else reply_json(response, chat_reply("{\"alert\": false, \"severity\": \"low\"}"));
    });
    auto engine = make_openai_engine(fast_config(flaky.url()));
    VlmResponse recovered = engine->generate(alert_request());
    EXPECT_EQ((*recovered.json)["severity"], "low");
    EXPECT_EQ(flaky.requests(), 3);

    ScriptedServer always_500([](int, const httplib::Request&, httplib::Response& response) {
        reply_json(response, {{"error", {{"message", "out of memory"}}}}, 500);
    });
    engine = make_openai_engine(fast_config(always_500.url()));
    std::string message = expect_error([&] { engine->generate(alert_request()); });
    EXPECT_NE(message.find("HTTP 500: out of memory"), std::string::npos) << message;
    EXPECT_EQ(always_500.requests(), 3) << "first try + max_retries";

    ScriptedServer rejecting([](int, const httplib::Request&, httplib::Response& response) {
        reply_json(response, {{"error", {{"message", "response_format is not supported"}}}}, 400);
    });
    engine = make_openai_engine(fast_config(rejecting.url()));
    message = expect_error([&] { engine->generate(alert_request()); });
    EXPECT_NE(message.find("HTTP 400: response_format is not supported"), std::string::npos) << message;
    EXPECT_EQ(rejecting.requests(), 1) << "4xx is not retried";
}

TEST(OpenAiEngine, RetriesStopAtTheDeadline) {
    ScriptedServer always_503([](int, const httplib::Request&, httplib::Response& response) {
        reply_json(response, {{"error", "busy"}}, 503);
    });
    OpenAiConfig config = fast_config(always_503.url());
    config.max_retries = 10;
    config.retry_backoff = 100ms;
    auto engine = make_openai_engine(config);
    VlmRequest request = alert_request();
    request.deadline = Clock::now() + 250ms;  // room for the backoffs of 100 ms, not the next 200 ms
    std::string message = expect_error([&] { engine->generate(request); });
    EXPECT_NE(message.find("HTTP 503: busy"), std::string::npos) << message;
    EXPECT_EQ(always_503.requests(), 2);
}

TEST(OpenAiEngine, RejectsBadConfigurationAndSchemasBeforeSending) {
    EXPECT_THROW(make_openai_engine(OpenAiConfig{}), Error);
    OpenAiConfig config;
    config.base_url = "localhost:8080";
    EXPECT_NE(expect_error([&] { make_openai_engine(config); }).find("must start with http://"), std::string::npos);

    ScriptedServer server([](int, const httplib::Request&, httplib::Response& response) { reply_json(response, chat_reply("{}")); });
    auto engine = make_openai_engine(fast_config(server.url()));
    VlmRequest request = alert_request();
    request.json_schema = json{{"type", "strng"}};
    EXPECT_NE(expect_error([&] { engine->generate(request); }).find("unknown type"), std::string::npos);
    request = alert_request();
    request.images = {VlmImage::from_file("/nonexistent/frame.jpg")};
    EXPECT_NE(expect_error([&] { engine->generate(request); }).find("/nonexistent/frame.jpg"), std::string::npos);
    EXPECT_EQ(server.requests(), 0);
}

// ---- a real llama-server ---------------------------------------------------

// Runs llama-server as a child process; kills it when the test ends.
class LlamaServerProcess {
public:
    LlamaServerProcess(const std::vector<std::string>& args, const std::filesystem::path& log) {
        std::vector<char*> argv;
        for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) pid_ = -1;
    }
    ~LlamaServerProcess() {
        if (pid_ <= 0 || exited()) return;
        kill(pid_, SIGTERM);
        auto until = Clock::now() + 3s;
        while (!exited() && Clock::now() < until) std::this_thread::sleep_for(20ms);
        if (!exited()) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    bool started() const { return pid_ > 0; }
    bool exited() {
        if (reaped_) return true;
        int status = 0;
        reaped_ = waitpid(pid_, &status, WNOHANG) == pid_;
        return reaped_;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

TEST(OpenAiEngineLlamaServer, AnswersDescribeAndSchemaRequests) {
    auto server_bin = testing::llama_bin_dir() / "llama-server";
    ASSERT_TRUE(std::filesystem::exists(server_bin)) << server_bin;
    testing::TempDir dir;
    auto pair = models::synth_vlm("tiny", dir.path());

    int port = free_loopback_port();
    ASSERT_GT(port, 0);
    // One thread: on a busy two-core machine two ggml threads spin on each
    // other while descheduled (measured ~50x slower prefill under load 14).
    LlamaServerProcess process({server_bin.string(), "-m", pair.text_model.string(), "--mmproj", pair.mmproj.string(), "-t", "1", "-c",
                                "2048", "-np", "1", "--no-warmup", "--host", "127.0.0.1", "--port", std::to_string(port)},
                               dir / "server.log");
    ASSERT_TRUE(process.started());

    httplib::Client health("127.0.0.1", port);
    health.set_connection_timeout(0, 200000);
    bool ready = false;
    for (auto until = Clock::now() + 20s; Clock::now() < until && !ready;) {
        ASSERT_FALSE(process.exited()) << "llama-server exited:\n" << testing::read_file(dir / "server.log");
        auto result = health.Get("/health");
        ready = result && result->status == 200;
        if (!ready) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(ready) << "llama-server never became healthy:\n" << testing::read_file(dir / "server.log");

    OpenAiConfig config = fast_config("http://127.0.0.1:" + std::to_string(port));
    config.request_timeout = 20000ms;
    auto engine = make_openai_engine(config);

    VlmRequest describe;
    describe.prompt = "Describe the image.";
    describe.images = {VlmImage::from_rgb(gradient_rgb(320, 240))};
    describe.max_tokens = 8;
    VlmResponse described = engine->generate(describe);
    EXPECT_FALSE(described.finish_reason.empty());
    EXPECT_GT(described.timings.prompt_tokens, 5) << "image tokens count as prompt tokens";
    EXPECT_LE(described.timings.generated_tokens, 8);

    VlmRequest structured = alert_request();
    structured.images = describe.images;
    VlmResponse answer = engine->generate(structured);
    ASSERT_TRUE(answer.json) << answer.text;
    EXPECT_TRUE(validate_json(kAlertSchema, *answer.json).empty()) << answer.text;
}

}  // namespace
}  // namespace vigil::vlm
