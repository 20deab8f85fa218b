// Sink configs and the jsonl, stdout and webhook backends against real files
// and a real HTTP receiver on loopback.
#include "sink/sink_backends.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "sink/alert_sink.h"
#include "testing/test_receivers.h"
#include "store/store_test_alerts.h"

namespace vigil::sink {
namespace {

using nlohmann::json;
using testing::make_test_alert;

struct BadConfig {
    std::string config;
    std::string message_part;  // the error must name this
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.config; }

class SinkConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(SinkConfigTest, BadConfigNamesTheKey) {
    try {
        make_sink(json::parse(GetParam().config));
        ADD_FAILURE() << "accepted " << GetParam().config;
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find(GetParam().message_part), std::string::npos) << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, SinkConfigTest,
    ::testing::Values(BadConfig{R"([])", "\"type\""}, BadConfig{R"({})", "\"type\""},
                      BadConfig{R"({"type": "carrier-pigeon"})", "carrier-pigeon"},
                      BadConfig{R"({"type": "jsonl"})", "\"path\""},
                      BadConfig{R"({"type": "jsonl", "path": 7})", "\"path\""},
                      BadConfig{R"({"type": "webhook", "name": "ops"})", "\"url\""},
                      BadConfig{R"({"type": "webhook", "url": "ftp://x"})", "http://"},
                      BadConfig{R"({"type": "webhook", "url": "http://x", "timeout_s": "soon"})", "\"timeout_s\""},
                      BadConfig{R"({"type": "webhook", "url": "http://x", "secret_env": "VIGIL_TEST_UNSET_SECRET"})",
                                "VIGIL_TEST_UNSET_SECRET"},
                      BadConfig{R"({"type": "mqtt", "port": 70000})", "\"port\""},
                      BadConfig{R"({"type": "mqtt", "topic_prefix": "a/#"})", "\"topic_prefix\""}));

TEST(SinkConfig, NamesDefaultToTypeAndTarget) {
    EXPECT_EQ(make_sink({{"type", "stdout"}})->name(), "stdout");
    EXPECT_EQ(make_sink({{"type", "jsonl"}, {"path", "/tmp/a.jsonl"}})->name(), "jsonl:/tmp/a.jsonl");
    EXPECT_EQ(make_sink({{"type", "webhook"}, {"url", "http://h/x"}})->name(), "webhook:http://h/x");
    EXPECT_EQ(make_sink({{"type", "webhook"}, {"url", "http://h/x"}, {"name", "ops"}})->name(), "ops");
}

TEST(SinkJsonl, AppendsOneParseableLinePerAlert) {
    testing::TempDir dir;
    auto sink = make_sink({{"type", "jsonl"}, {"path", (dir / "alerts.jsonl").string()}});
    sink->deliver(make_test_alert("alert-j001"));
    sink->deliver(make_test_alert("alert-j002"));
    std::istringstream lines(testing::read_file(dir / "alerts.jsonl"));
    std::vector<std::string> ids;
    for (std::string line; std::getline(lines, line);) ids.push_back(json::parse(line)["id"]);
    EXPECT_EQ(ids, (std::vector<std::string>{"alert-j001", "alert-j002"}));
}

TEST(SinkJsonl, UnwritablePathThrowsNamingIt) {
    testing::TempDir dir;
    testing::write_file(dir / "file", "x");
    const auto path = dir / "file" / "alerts.jsonl";  // ENOTDIR, even for root
    auto sink = make_sink({{"type", "jsonl"}, {"path", path.string()}});
    try {
        sink->deliver(make_test_alert("alert-j003"));
        ADD_FAILURE() << "wrote under a regular file";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
}

TEST(SinkStdout, PrintsOneLine) {
    auto sink = make_sink({{"type", "stdout"}});
    ::testing::internal::CaptureStdout();
    sink->deliver(make_test_alert("alert-s001"));
    std::string out = ::testing::internal::GetCapturedStdout();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    EXPECT_EQ(out.find('\n'), out.size() - 1);
    EXPECT_EQ(json::parse(out)["id"], "alert-s001");
}

TEST(SinkWebhook, HmacMatchesRfc4231) {
    // RFC 4231, test case 2.
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SinkWebhook, PostsASignedAlert) {
    testing::WebhookReceiver receiver;
    auto sink = make_sink({{"type", "webhook"}, {"url", receiver.url()}, {"secret", "s3cret"}});
    auto alert = make_test_alert("alert-w001");
    sink->deliver(alert);
    auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_TRUE(requests[0].signed_with("s3cret"));
    EXPECT_EQ(requests[0].alert_id_header, "alert-w001");
    EXPECT_EQ(json::parse(requests[0].body), alert);
}

TEST(SinkWebhook, SecretFromTheEnvironment) {
    ::setenv("VIGIL_TEST_WEBHOOK_SECRET", "from-env", 1);
    testing::WebhookReceiver receiver;
    auto sink = make_sink({{"type", "webhook"}, {"url", receiver.url()}, {"secret_env", "VIGIL_TEST_WEBHOOK_SECRET"}});
    sink->deliver(make_test_alert("alert-w002"));
    ASSERT_EQ(receiver.requests().size(), 1u);
    EXPECT_TRUE(receiver.requests()[0].signed_with("from-env"));
    ::unsetenv("VIGIL_TEST_WEBHOOK_SECRET");
}

TEST(SinkWebhook, WrongSecretIsDetectedByTheReceiver) {
    testing::WebhookReceiver receiver;
    make_sink({{"type", "webhook"}, {"url", receiver.url()}, {"secret", "wrong"}})
        ->deliver(make_test_alert("alert-w003"));
    ASSERT_EQ(receiver.requests().size(), 1u);
    EXPECT_FALSE(receiver.requests()[0].signed_with("right"));
    EXPECT_TRUE(receiver.requests()[0].signed_with("wrong"));
}

TEST(SinkWebhook, NonSuccessStatusThrows) {
    testing::WebhookReceiver receiver({503});
    auto sink = make_sink({{"type", "webhook"}, {"url", receiver.url()}, {"secret", "k"}});
    try {
        sink->deliver(make_test_alert("alert-w004"));
        ADD_FAILURE() << "a 503 counted as delivered";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("503"), std::string::npos) << e.what();
    }
    sink->deliver(make_test_alert("alert-w004"));  // the script's next answer is 200
    EXPECT_EQ(receiver.requests().size(), 2u);
}

TEST(SinkWebhook, ConnectionRefusedThrows) {
    int port = testing::free_loopback_port();
    auto sink = make_sink(
        {{"type", "webhook"}, {"url", "http://127.0.0.1:" + std::to_string(port) + "/hook"}, {"timeout_s", 2}});
    EXPECT_THROW(sink->deliver(make_test_alert("alert-w005")), vigil::Error);
}

}  // namespace
}  // namespace vigil::sink
