#include "pipeline_test_support.h"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

extern char** environ;

namespace vigil::pipeline::testing {
using json = nlohmann::json;
using vigil::testing::port_accepts;


MosquittoBroker::MosquittoBroker(const std::filesystem::path& work_dir) {
    port_ = free_loopback_port();
    const auto conf = work_dir / "mosquitto.conf";
    std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n";
    std::string binary = "/usr/sbin/mosquitto", flag = "-c", conf_path = conf.string();
    char* argv[] = {binary.data(), flag.data(), conf_path.data(), nullptr};
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv, environ) != 0) {
        throw std::runtime_error("cannot start /usr/sbin/mosquitto");
    }
    // Ready when the listener accepts; give up if the broker exits.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!port_accepts(port_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("mosquitto exited at start");
        }
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("mosquitto did not start listening");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

MosquittoBroker::~MosquittoBroker() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

MqttSubscriber::MqttSubscriber(int port) {
    mosquitto_lib_init();
    client_ = mosquitto_new(nullptr, true, this);
    if (!client_) throw std::runtime_error("mosquitto_new failed");
    mosquitto_message_callback_set(client_, &MqttSubscriber::on_message);
    if (mosquitto_connect(client_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
        throw std::runtime_error("cannot connect the test subscriber");
    if (mosquitto_subscribe(client_, nullptr, "#", 1) != MOSQ_ERR_SUCCESS)
        throw std::runtime_error("cannot subscribe");
    mosquitto_loop_start(client_);
}

MqttSubscriber::~MqttSubscriber() {
    mosquitto_disconnect(client_);
    mosquitto_loop_stop(client_, true);
    mosquitto_destroy(client_);
}

void MqttSubscriber::on_message(struct mosquitto*, void* self, const struct mosquitto_message* message) {
    auto* subscriber = static_cast<MqttSubscriber*>(self);
    {
        std::lock_guard lock(subscriber->mutex_);
        subscriber->messages_.emplace_back(message->topic,
                                           std::string(static_cast<const char*>(message->payload),
                                                       static_cast<size_t>(message->payloadlen)));
    }
    subscriber->arrived_.notify_all();
}

std::vector<std::pair<std::string, std::string>> MqttSubscriber::wait_for(size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
    return messages_;
}

LoopbackServer::LoopbackServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
}

void LoopbackServer::start() {
    thread_ = std::thread([this] {
        server_.listen_after_bind();
        listen_returned_ = true;
    });
}

LoopbackServer::~LoopbackServer() {
    if (!thread_.joinable()) return;
    // stop() does nothing until the accept loop runs, so wait for it to start.
    while (!server_.is_running() && !listen_returned_) std::this_thread::yield();
    server_.stop();
    thread_.join();
}

WebhookReceiver::WebhookReceiver() {
    server_.server().Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
        {
            std::lock_guard lock(mutex_);
            bodies_.push_back(json::parse(request.body, nullptr, false));
        }
        response.set_content("{}", "application/json");
    });
    server_.start();
}

std::vector<json> WebhookReceiver::bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
}

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
