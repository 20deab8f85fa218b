// The MQTT sink against a real mosquitto broker and a libmosquitto subscriber.
#include <gtest/gtest.h>

#include "core/error.h"
#include "sink/alert_sink.h"
#include "testing/test_receivers.h"
#include "store/store_test_alerts.h"

namespace vigil::sink {
namespace {

using nlohmann::json;
using testing::make_test_alert;

TEST(SinkMqtt, PublishesToCameraAndTypeTopic) {
    testing::TempDir dir;
    testing::MosquittoBroker broker(dir.path());
    testing::MqttSubscriber subscriber(broker.port());
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
    testing::MosquittoBroker broker(dir.path());
    testing::MqttSubscriber subscriber(broker.port());
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

    testing::MosquittoBroker broker(dir.path(), port);
    testing::MqttSubscriber subscriber(port);
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
        testing::MosquittoBroker broker(dir.path(), port);
        ASSERT_TRUE(deliver_within(*sink, make_test_alert("alert-m005"), std::chrono::seconds(5)));
    }  // broker stopped: the connection is lost
    testing::MosquittoBroker restarted(dir.path(), port);
    testing::MqttSubscriber subscriber(port);
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
