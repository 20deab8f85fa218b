#include "testing/test_receivers.h"

#include <fcntl.h>
#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <stdexcept>

extern char** environ;

namespace vigil::testing {

MosquittoBroker::MosquittoBroker(const std::filesystem::path& work_dir, int port)
    : port_(port > 0 ? port : free_loopback_port()) {
    const std::string stem = (work_dir / ("mosquitto-" + std::to_string(port_))).string();
    write_file(stem + ".conf", "listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n"
                               "persistence false\n");
    std::string binary = "/usr/sbin/mosquitto", flag = "-c", conf = stem + ".conf";
    char* argv[] = {binary.data(), flag.data(), conf.data(), nullptr};
    // The broker's log goes to a file beside its config, not into the test output.
    const std::string log = stem + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int spawned = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw std::runtime_error("cannot start " + binary);
    // Ready when the listener accepts; the process exiting means it failed.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!port_accepts(port_)) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("mosquitto exited before listening on port " + std::to_string(port_) +
                                     "; see " + log);
        }
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("mosquitto did not listen on port " + std::to_string(port_));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval, not a sync point
    }
}

MosquittoBroker::~MosquittoBroker() { stop(); }

void MosquittoBroker::stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

MqttSubscriber::MqttSubscriber(int port) {
    mosquitto_lib_init();
    client_ = mosquitto_new(nullptr, true, this);
    if (!client_) throw std::runtime_error("mosquitto_new failed");
    // Subscribing on every connect keeps the subscription across reconnects.
    mosquitto_connect_callback_set(client_, [](mosquitto* client, void*, int rc) {
        if (rc == 0) mosquitto_subscribe(client, nullptr, "#", 1);
    });
    mosquitto_subscribe_callback_set(client_, [](mosquitto*, void* user, int, int, const int*) {
        auto* self = static_cast<MqttSubscriber*>(user);
        std::lock_guard lock(self->mutex_);
        self->subscribed_ = true;
        self->changed_.notify_all();
    });
    mosquitto_message_callback_set(client_, [](mosquitto*, void* user, const mosquitto_message* message) {
        auto* self = static_cast<MqttSubscriber*>(user);
        std::lock_guard lock(self->mutex_);
        self->messages_.emplace_back(message->topic, std::string(static_cast<const char*>(message->payload),
                                                                 static_cast<size_t>(message->payloadlen)));
        self->changed_.notify_all();
    });
    if (mosquitto_connect(client_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(client_);
        throw std::runtime_error("the test subscriber cannot connect to port " + std::to_string(port));
    }
    mosquitto_loop_start(client_);
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(5), [&] { return subscribed_; })) {
        lock.unlock();
        mosquitto_disconnect(client_);
        mosquitto_loop_stop(client_, true);
        mosquitto_destroy(client_);
        throw std::runtime_error("the broker did not acknowledge the test subscription");
    }
}

MqttSubscriber::~MqttSubscriber() {
    mosquitto_disconnect(client_);
    mosquitto_loop_stop(client_, true);
    mosquitto_destroy(client_);
}

std::vector<std::pair<std::string, std::string>> MqttSubscriber::wait_for(size_t count,
                                                                          std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
    return messages_;
}

LoopbackServer::LoopbackServer(int port) {
    if (port == 0) {
        port_ = server_.bind_to_any_port("127.0.0.1");
    } else if (server_.bind_to_port("127.0.0.1", port)) {
        port_ = port;
    }
    if (port_ <= 0) throw std::runtime_error("cannot bind loopback port " + std::to_string(port));
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

bool ReceivedRequest::signed_with(const std::string& secret) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string expected = "sha256=";
    for (unsigned int i = 0; i < length; ++i) {
        expected += kHex[digest[i] >> 4];
        expected += kHex[digest[i] & 15];
    }
    return signature_header == expected;
}

WebhookReceiver::WebhookReceiver(std::vector<int> script, int port) : script_(std::move(script)), server_(port) {
    server_.server().Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
        ReceivedRequest received{request.get_header_value("X-Vigil-Alert-Id"),
                                 request.get_header_value("X-Vigil-Signature"), request.body};
        int status = 200;
        {
            std::lock_guard lock(mutex_);
            if (next_ < script_.size()) status = script_[next_++];
            requests_.push_back(received);
            if (status == 200) accepted_.push_back(nlohmann::json::parse(request.body, nullptr, false));
        }
        changed_.notify_all();
        response.status = status;
        response.set_content(status == 200 ? "ok" : "try later", "text/plain");
    });
    server_.start();
}

std::vector<ReceivedRequest> WebhookReceiver::requests() {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::vector<nlohmann::json> WebhookReceiver::bodies() {
    std::lock_guard lock(mutex_);
    return accepted_;
}

std::vector<nlohmann::json> WebhookReceiver::wait_for_bodies(size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return accepted_.size() >= count; });
    return accepted_;
}

}  // namespace vigil::testing
