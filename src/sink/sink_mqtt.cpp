// Publish each alert at QoS 1 to <prefix>/<camera>/<type>. Delivery counts only
// once the broker's PUBACK arrived: a message merely queued in libmosquitto
// would be lost with the process, and the outbox would never retry it.
#include <mosquitto.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "sink/sink_backends.h"

namespace vigil::sink {

namespace {

void init_mosquitto_once() {
    static std::once_flag once;
    std::call_once(once, [] { mosquitto_lib_init(); });
}

// A camera or type name is one topic level: no separators or wildcards.
std::string topic_level(const std::string& text) {
    if (text.empty()) return "unknown";
    std::string out = text;
    for (char& c : out)
        if (c == '/' || c == '+' || c == '#') c = '_';
    return out;
}

struct MqttSettings {
    std::string host;
    int port = 1883;
    std::string prefix;
    std::string client_id;
    std::string username;
    std::string password;
    int keepalive_s = 30;
    std::chrono::milliseconds publish_timeout{10000};
    std::chrono::milliseconds connect_timeout{3000};
};

class MqttSink final : public AlertSink {
public:
    MqttSink(std::string name, MqttSettings settings) : name_(std::move(name)), settings_(std::move(settings)) {
        init_mosquitto_once();
        mosq_ = mosquitto_new(settings_.client_id.empty() ? nullptr : settings_.client_id.c_str(), true, this);
        if (!mosq_) throw vigil::Error("mqtt sink " + endpoint() + ": cannot create a client");
        mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        // Publishing happens on the delivery thread, the network on ours.
        mosquitto_threaded_set(mosq_, true);
        if (!settings_.username.empty())
            mosquitto_username_pw_set(mosq_, settings_.username.c_str(),
                                      settings_.password.empty() ? nullptr : settings_.password.c_str());
        mosquitto_connect_callback_set(mosq_, on_connect);
        mosquitto_disconnect_callback_set(mosq_, on_disconnect);
        mosquitto_publish_callback_set(mosq_, on_publish);
        network_ = std::thread([this] { network_loop(); });
    }

    ~MqttSink() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        network_.join();
        mosquitto_disconnect(mosq_);
        mosquitto_destroy(mosq_);
    }

    std::string name() const override { return name_; }

    void deliver(const nlohmann::json& alert) override {
        std::lock_guard deliver_lock(deliver_mutex_);
        const std::string topic = settings_.prefix + "/" + topic_level(alert.value("camera", std::string())) + "/" +
                                  topic_level(alert.value("type", std::string()));
        const std::string payload = alert.dump();
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, settings_.connect_timeout, [&] { return connected_; }))
            throw vigil::Error("mqtt sink " + endpoint() + ": not connected to the broker" +
                               (last_error_.empty() ? "" : " (" + last_error_ + ")"));
        lock.unlock();
        int mid = 0;
        int rc =
            mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
        if (rc != MOSQ_ERR_SUCCESS)
            throw vigil::Error("mqtt sink " + endpoint() + ": publish to " + topic +
                               " failed: " + mosquitto_strerror(rc));
        lock.lock();
        if (!changed_.wait_for(lock, settings_.publish_timeout, [&] { return acked_.count(mid) > 0; })) {
            // A late PUBACK for this id must not be taken for a future message's.
            abandoned_.insert(mid);
            throw vigil::Error("mqtt sink " + endpoint() + ": no PUBACK for " + topic + " within " +
                               std::to_string(settings_.publish_timeout.count()) + " ms");
        }
        acked_.erase(mid);
    }

private:
    std::string endpoint() const { return settings_.host + ":" + std::to_string(settings_.port); }

    // Our own network loop rather than mosquitto_loop_start: libmosquitto's
    // thread gives up when the very first connect fails (broker not up yet),
    // and this one keeps reconnecting with backoff until the sink is destroyed.
    void network_loop() {
        bool socket_open = false;
        auto retry_delay = std::chrono::milliseconds(250);
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
            }
            int rc = MOSQ_ERR_SUCCESS;
            int saved_errno = 0;
            if (!socket_open) {
                rc = mosquitto_connect_async(mosq_, settings_.host.c_str(), settings_.port, settings_.keepalive_s);
                saved_errno = errno;
                socket_open = rc == MOSQ_ERR_SUCCESS;
            }
            if (socket_open) {
                rc = mosquitto_loop(mosq_, 100, 1);
                saved_errno = errno;
                if (rc == MOSQ_ERR_SUCCESS) {
                    std::lock_guard lock(mutex_);
                    if (connected_) retry_delay = std::chrono::milliseconds(250);
                    continue;
                }
                socket_open = false;
            }
            std::unique_lock lock(mutex_);
            connected_ = false;
            last_error_ = rc == MOSQ_ERR_ERRNO ? std::strerror(saved_errno) : mosquitto_strerror(rc);
            changed_.notify_all();
            changed_.wait_for(lock, retry_delay, [&] { return stopping_; });
            retry_delay = std::min(retry_delay * 2, std::chrono::milliseconds(10000));
        }
    }

    static void on_connect(mosquitto*, void* user, int rc) {
        auto* self = static_cast<MqttSink*>(user);
        std::lock_guard lock(self->mutex_);
        self->connected_ = rc == 0;
        if (rc == 0) {
            // A clean session starts message ids afresh.
            self->acked_.clear();
            self->abandoned_.clear();
            self->last_error_.clear();
        } else {
            self->last_error_ = mosquitto_connack_string(rc);
        }
        self->changed_.notify_all();
    }

    static void on_disconnect(mosquitto*, void* user, int rc) {
        auto* self = static_cast<MqttSink*>(user);
        std::lock_guard lock(self->mutex_);
        self->connected_ = false;
        if (rc != 0) self->last_error_ = "connection lost";
        self->changed_.notify_all();
    }

    static void on_publish(mosquitto*, void* user, int mid) {
        auto* self = static_cast<MqttSink*>(user);
        std::lock_guard lock(self->mutex_);
        if (self->abandoned_.erase(mid) == 0) self->acked_.insert(mid);
        self->changed_.notify_all();
    }

    std::string name_;
    MqttSettings settings_;
    mosquitto* mosq_ = nullptr;
    std::mutex deliver_mutex_;
    std::mutex mutex_;  // guards the fields below, shared with the network thread
    std::condition_variable changed_;
    bool connected_ = false;
    std::string last_error_;
    std::set<int> acked_;
    std::set<int> abandoned_;
    bool stopping_ = false;
    std::thread network_;
};

}  // namespace

std::unique_ptr<AlertSink> make_mqtt_sink(const nlohmann::json& config) {
    MqttSettings settings;
    settings.host = config_string(config, "host", "localhost");
    settings.port = static_cast<int>(config_number(config, "port", 1883, 1, 65535));
    settings.prefix = config_string(config, "topic_prefix", "vigil/alerts");
    while (!settings.prefix.empty() && settings.prefix.back() == '/') settings.prefix.pop_back();
    if (settings.prefix.empty() || settings.prefix.find_first_of("+#") != std::string::npos)
        throw vigil::Error("mqtt sink: key \"topic_prefix\" must be a non-empty topic without + or #");
    settings.client_id = config_string(config, "client_id", "");
    settings.username = config_string(config, "username", "");
    settings.password = config_string(config, "password", "");
    settings.keepalive_s = static_cast<int>(config_number(config, "keepalive_s", 30, 5, 3600));
    settings.publish_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(config_number(config, "timeout_s", 10, 0.05, 600) * 1000));
    settings.connect_timeout = std::chrono::milliseconds(
        static_cast<int64_t>(config_number(config, "connect_timeout_s", 3, 0.01, 600) * 1000));
    const std::string name = config_sink_name(config, settings.host + ":" + std::to_string(settings.port));
    return std::make_unique<MqttSink>(name, std::move(settings));
}

}  // namespace vigil::sink
