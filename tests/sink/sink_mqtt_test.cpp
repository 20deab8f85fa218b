// The MQTT sink against a real mosquitto broker and a libmosquitto subscriber.
#include <gtest/gtest.h>
#include <mosquitto.h>

#include <condition_variable>

#include "core/error.h"
#include "sink/alert_sink.h"
#include "sink/sink_test_support.h"
#include "store/store_test_alerts.h"

namespace vigil::sink {
namespace {

using nlohmann::json;
using testing::make_test_alert;

// Subscribes to "#" and collects (topic, payload) pairs.
class Subscriber {
public:
    explicit Subscriber(int port) {
        mosquitto_lib_init();
        mosq_ = mosquitto_new(nullptr, true, this);
        mosquitto_connect_callback_set(mosq_, [](mosquitto* m, void*, int rc) {
            if (rc == 0) mosquitto_subscribe(m, nullptr, "#", 1);
        });
        mosquitto_subscribe_callback_set(mosq_, [](mosquitto*, void* user, int, int, const int*) {
            auto* self = static_cast<Subscriber*>(user);
            std::lock_guard lock(self->mutex_);
            self->subscribed_ = true;
            self->changed_.notify_all();
        });
        mosquitto_message_callback_set(mosq_, [](mosquitto*, void* user, const mosquitto_message* message) {
            auto* self = static_cast<Subscriber*>(user);
            std::lock_guard lock(self->mutex_);
            self->messages_.emplace_back(message->topic, std::string(static_cast<const char*>(message->payload),
                                                                     static_cast<size_t>(message->payloadlen)));
            self->changed_.notify_all();
        });
        if (mosquitto_connect(mosq_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
            throw std::runtime_error("subscriber cannot connect");
        mosquitto_loop_start(mosq_);
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, std::chrono::seconds(5), [&] { return subscribed_; }))
            throw std::runtime_error("subscription not acknowledged");
    }
    ~Subscriber() {
        mosquitto_disconnect(mosq_);
        mosquitto_loop_stop(mosq_, false);
        mosquitto_destroy(mosq_);
    }
    std::vector<std::pair<std::string, std::string>> wait_for(size_t count) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(5), [&] { return messages_.size() >= count; });
        return messages_;
    }

private:
    mosquitto* mosq_ = nullptr;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool subscribed_ = false;
    std::vector<std::pair<std::string, std::string>> messages_;
};

TEST(SinkMqtt, PublishesToCameraAndTypeTopic) {
    testing::TempDir dir;
    testing::MosquittoBroker broker(testing::free_loopback_port(), dir.path());
    Subscriber subscriber(broker.port());
    auto sink = make_sink({{"type", "mqtt"}, {"host", "127.0.0.1"}, {"port", broker.port()}});
    EXPECT_EQ(sink->name(), "mqtt:127.0.0.1:" + std::to_string(broker.port()));
    auto alert = make_test_alert("alert-m001", "dock/1", "obstruction");
    sink->deliver(alert);  // returns only after the broker's PUBACK
    sink->deliver(make_test_alert("alert-m002", "gate", "loitering"));
    auto messages = subscriber.wait_for(2);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].first, "vigil/alerts/dock_1/obstruction");  // '/' in a camera name is not a level
    EXPECT_EQ(json::parse(messages[0].second), alert);
    EXPECT_EQ(messages[1].first, "vigil/alerts/gate/loitering");
}

TEST(SinkMqtt, CustomPrefix) {
    testing::TempDir dir;
    testing::MosquittoBroker broker(testing::free_loopback_port(), dir.path());
    Subscriber subscriber(broker.port());
    auto sink = make_sink(
        {{"type", "mqtt"}, {"host", "127.0.0.1"}, {"port", broker.port()}, {"topic_prefix", "site7/alerts/"}});
    sink->deliver(make_test_alert("alert-m003", "gate", "wrong_way"));
    auto messages = subscriber.wait_for(1);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].first, "site7/alerts/gate/wrong_way");
}

TEST(SinkMqtt, FailsWhileTheBrokerIsDownAndRecoversWhenItComesBack) {
    testing::TempDir dir;
    const int port = testing::free_loopback_port();
    auto sink = make_sink(
        {{"type", "mqtt"}, {"host", "127.0.0.1"}, {"port", port}, {"connect_timeout_s", 0.2}, {"timeout_s", 2}});
    EXPECT_THROW(sink->deliver(make_test_alert("alert-m004")), vigil::Error);

    testing::MosquittoBroker broker(port, dir.path());
    Subscriber subscriber(port);
    // libmosquitto reconnects on its own (1 s backoff); retry as the outbox would.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    bool delivered = false;
    while (!delivered && std::chrono::steady_clock::now() < deadline) {
        try {
            sink->deliver(make_test_alert("alert-m004"));
            delivered = true;
        } catch (const vigil::Error&) {
        }
    }
    ASSERT_TRUE(delivered);
    auto messages = subscriber.wait_for(1);
    ASSERT_GE(messages.size(), 1u);
    EXPECT_EQ(json::parse(messages.back().second)["id"], "alert-m004");
}

// Retries as the outbox would until the sink accepts or the deadline passes.
bool deliver_within(AlertSink& sink, const json& alert, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            sink.deliver(alert);
            return true;
        } catch (const vigil::Error&) {
        }
    }
    return false;
}

TEST(SinkMqtt, ReconnectsAfterTheBrokerRestarts) {
    testing::TempDir dir;
    const int port = testing::free_loopback_port();
    auto sink = make_sink(
        {{"type", "mqtt"}, {"host", "127.0.0.1"}, {"port", port}, {"connect_timeout_s", 0.2}, {"timeout_s", 2}});
    {
        testing::MosquittoBroker broker(port, dir.path());
        ASSERT_TRUE(deliver_within(*sink, make_test_alert("alert-m005"), std::chrono::seconds(5)));
    }  // broker stopped: the connection is lost
    testing::MosquittoBroker restarted(port, dir.path());
    Subscriber subscriber(port);
    ASSERT_TRUE(deliver_within(*sink, make_test_alert("alert-m006"), std::chrono::seconds(8)));
    auto messages = subscriber.wait_for(1);
    ASSERT_GE(messages.size(), 1u);
    EXPECT_EQ(json::parse(messages.back().second)["id"], "alert-m006");
}

TEST(SinkMqtt, DestroyingASinkThatNeverConnectedReturns) {
    auto sink = make_sink({{"type", "mqtt"}, {"host", "127.0.0.1"}, {"port", testing::free_loopback_port()}});
    sink.reset();  // must not hang on the reconnect loop
    SUCCEED();
}

}  // namespace
}  // namespace vigil::sink
