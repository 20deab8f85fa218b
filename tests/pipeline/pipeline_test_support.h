#pragma once
// Receivers and servers the end-to-end pipeline tests run against: a real
// mosquitto broker with a subscriber, a webhook receiver, and a scripted
// OpenAI-compatible VLM server, all on loopback ports.
#include <httplib.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "testing/test_support.h"
#include <thread>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace vigil::pipeline::testing {

// A port nobody listens on (bound by the kernel's choice, then released).
using vigil::testing::free_loopback_port;

// /usr/sbin/mosquitto on a free loopback port, stopped on destruction.
class MosquittoBroker {
public:
    explicit MosquittoBroker(const std::filesystem::path& work_dir);
    ~MosquittoBroker();
    int port() const { return port_; }

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

// Subscribes to every topic and keeps the messages.
class MqttSubscriber {
public:
    explicit MqttSubscriber(int port);
    ~MqttSubscriber();
    // Waits until at least `count` messages arrived; returns them all.
    std::vector<std::pair<std::string, std::string>> wait_for(size_t count, std::chrono::seconds timeout);

private:
    static void on_message(struct mosquitto*, void* self, const struct mosquitto_message* message);
    struct mosquitto* client_ = nullptr;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<std::pair<std::string, std::string>> messages_;
};

// An HTTP server on a loopback port with handlers the test sets up; the socket
// listens from construction on.
class LoopbackServer {
public:
    LoopbackServer();
    ~LoopbackServer();
    httplib::Server& server() { return server_; }
    void start();
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> listen_returned_{false};
};

// Collects the JSON bodies POSTed to /hook.
class WebhookReceiver {
public:
    WebhookReceiver();
    std::string url() const { return server_.url() + "/hook"; }
    std::vector<nlohmann::json> bodies();

private:
    LoopbackServer server_;
    std::mutex mutex_;
    std::vector<nlohmann::json> bodies_;
};

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

// A report matching prompts/report.schema.json with the given verdict.
nlohmann::json scripted_report(const std::string& verdict, const std::string& title);

}  // namespace vigil::pipeline::testing
