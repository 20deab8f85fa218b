#pragma once
// Real receivers the sink and pipeline tests deliver to, all on loopback: a
// mosquitto broker process with a subscriber, and HTTP servers (a webhook
// receiver and a base for scripted servers).
#include <httplib.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/test_support.h"

struct mosquitto;

namespace vigil::testing {

// /usr/sbin/mosquitto listening on 127.0.0.1:`port` (0: a free port), its
// config and log in `work_dir`. Ready when constructed; stopped (SIGTERM,
// reaped) by stop() or destruction.
class MosquittoBroker {
public:
    explicit MosquittoBroker(const std::filesystem::path& work_dir, int port = 0);
    ~MosquittoBroker();
    MosquittoBroker(const MosquittoBroker&) = delete;
    MosquittoBroker& operator=(const MosquittoBroker&) = delete;
    int port() const { return port_; }
    void stop();

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

// Subscribes to every topic at QoS 1; constructed once the broker has
// acknowledged the subscription, so nothing published afterwards is missed.
class MqttSubscriber {
public:
    explicit MqttSubscriber(int port);
    ~MqttSubscriber();
    MqttSubscriber(const MqttSubscriber&) = delete;
    MqttSubscriber& operator=(const MqttSubscriber&) = delete;
    // Waits until at least `count` messages arrived (or the timeout); returns
    // every (topic, payload) so far.
    std::vector<std::pair<std::string, std::string>> wait_for(size_t count,
                                                               std::chrono::seconds timeout = std::chrono::seconds(5));

private:
    struct mosquitto* client_ = nullptr;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool subscribed_ = false;
    std::vector<std::pair<std::string, std::string>> messages_;
};

// An httplib server bound to a loopback port (`port` 0: any free one) from
// construction on, so clients may connect before start() runs the accept loop.
class LoopbackServer {
public:
    explicit LoopbackServer(int port = 0);
    ~LoopbackServer();
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;
    httplib::Server& server() { return server_; }
    void start();
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> listen_returned_{false};
};

struct ReceivedRequest {
    std::string alert_id_header;  // X-Vigil-Alert-Id
    std::string signature_header; // X-Vigil-Signature
    std::string body;
    // True when the signature header is "sha256=" + hex HMAC-SHA256(secret,
    // body), checked with OpenSSL here rather than with the code under test.
    bool signed_with(const std::string& secret) const;
};

// Receives webhook POSTs on /hook. Answers the statuses of `script` in turn,
// then 200, and records every request, accepted or not.
class WebhookReceiver {
public:
    explicit WebhookReceiver(std::vector<int> script = {}, int port = 0);
    std::string url() const { return server_.url() + "/hook"; }
    int port() const { return server_.port(); }
    std::vector<ReceivedRequest> requests();
    // The parsed bodies of the requests answered 200.
    std::vector<nlohmann::json> bodies();
    // Waits until at least `count` requests were answered 200; returns their bodies.
    std::vector<nlohmann::json> wait_for_bodies(size_t count, std::chrono::seconds timeout);

private:
    std::vector<int> script_;
    size_t next_ = 0;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ReceivedRequest> requests_;
    std::vector<nlohmann::json> accepted_;
    LoopbackServer server_;  // last: stops before the members its handler uses go
};

}  // namespace vigil::testing
