#pragma once
// Real receivers for sink tests on loopback: a cpp-httplib webhook server that
// checks signatures, and a mosquitto broker process on a free port.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sink/sink_backends.h"
#include "testing/test_support.h"

extern char** environ;

namespace vigil::testing {


// The broker binary as a child process; stopped (SIGTERM, reaped) on destruction.
class MosquittoBroker {
public:
    MosquittoBroker(int port, const std::filesystem::path& dir) : port_(port) {
        const auto config = dir / ("mosquitto-" + std::to_string(port) + ".conf");
        write_file(config, "listener " + std::to_string(port) + " 127.0.0.1\nallow_anonymous true\n");
        std::string exe = "/usr/sbin/mosquitto";
        std::string flag = "-c";
        std::string config_arg = config.string();
        char* argv[] = {exe.data(), flag.data(), config_arg.data(), nullptr};
        // The broker's log goes to a file beside its config, not into the test output.
        const std::string log = (dir / ("mosquitto-" + std::to_string(port) + ".log")).string();
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        int spawn_rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        if (spawn_rc != 0) throw std::runtime_error("cannot start " + exe);
        // Ready when the port accepts a connection; the process exiting means it failed.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!port_accepts(port)) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("mosquitto exited before listening on port " + std::to_string(port));
            }
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("mosquitto did not listen on port " + std::to_string(port));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval, not a sync point
        }
    }
    ~MosquittoBroker() { stop(); }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    int port() const { return port_; }

private:
    int port_;
    pid_t pid_ = -1;
};

struct ReceivedRequest {
    std::string alert_id_header;
    std::string body;
    bool signature_ok = false;
};

// Webhook receiver: answers statuses from `script` in turn (then 200),
// records every request and whether its signature matched `secret`.
class WebhookReceiver {
public:
    explicit WebhookReceiver(std::string secret, std::vector<int> script = {}, int port = 0)
        : secret_(std::move(secret)), script_(std::move(script)) {
        server_.Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
            ReceivedRequest received;
            received.alert_id_header = request.get_header_value("X-Vigil-Alert-Id");
            received.body = request.body;
            received.signature_ok = request.get_header_value("X-Vigil-Signature") ==
                                    "sha256=" + vigil::sink::hmac_sha256_hex(secret_, request.body);
            int status = 200;
            {
                std::lock_guard lock(mutex_);
                if (next_ < script_.size()) status = script_[next_++];
                requests_.push_back(received);
            }
            response.status = status;
            response.set_content(status == 200 ? "ok" : "try later", "text/plain");
        });
        if (port == 0) {
            port_ = server_.bind_to_any_port("127.0.0.1");
        } else if (server_.bind_to_port("127.0.0.1", port)) {
            port_ = port;
        }
        if (port_ <= 0) throw std::runtime_error("webhook receiver cannot bind");
        // The socket listens from bind on; clients may connect before the accept loop runs.
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~WebhookReceiver() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
    int port() const { return port_; }
    std::vector<ReceivedRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    std::string secret_;
    std::vector<int> script_;
    size_t next_ = 0;
    httplib::Server server_;
    int port_ = -1;
    mutable std::mutex mutex_;
    std::vector<ReceivedRequest> requests_;
    std::thread thread_;
};

}  // namespace vigil::testing
