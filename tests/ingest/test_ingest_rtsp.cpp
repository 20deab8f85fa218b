// Live RTSP sources against loopback peers: a closed port, a server that
// accepts but never answers, and a real RTSP server (GStreamer) that is killed
// mid-stream and restarted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "ingest/ingest_source.h"
#include "ingest_test_net.h"
#include "testing/test_support.h"

namespace {

using namespace vigil::ingest;
using namespace vigil::ingest::test_net;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string rtsp_url(int port) { return "rtsp://127.0.0.1:" + std::to_string(port) + "/test"; }

TEST(IngestRtsp, ClosedPortFailsWithAClearMessageWithinTheTimeout) {
    const int port = free_port();
    SourceConfig config;
    config.url = "rtsp://admin:secret@127.0.0.1:" + std::to_string(port) + "/test";
    config.open_timeout_ms = 2000;
    config.max_reconnect_attempts = 0;
    auto source = open_source(config);
    EXPECT_EQ(source->state(), SourceState::connecting);
    const auto start = Clock::now();
    EXPECT_FALSE(source->read());
    EXPECT_LT(seconds_since(start), 2.5);
    EXPECT_EQ(source->state(), SourceState::failed);
    EXPECT_THAT(source->last_error(), ::testing::HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(source->last_error(), ::testing::HasSubstr("Connection refused"));
    EXPECT_THAT(source->last_error(), ::testing::Not(::testing::HasSubstr("secret")));
    EXPECT_EQ(source->describe(), "rtsp://***@127.0.0.1:" + std::to_string(port) + "/test");
    EXPECT_FALSE(source->read()) << "a failed source stays failed";
}

TEST(IngestRtsp, ClosedPortKeepsRetryingWithBackoffWhenRetriesAreUnlimited) {
    SourceConfig config;
    config.url = rtsp_url(free_port());
    config.reconnect_initial_ms = 50;
    config.reconnect_max_ms = 100;
    auto source = open_source(config);
    for (int call = 0; call < 4; ++call) {
        const auto start = Clock::now();
        EXPECT_FALSE(source->read());
        EXPECT_LT(seconds_since(start), 1.0) << "each read makes one bounded attempt";
        EXPECT_EQ(source->state(), SourceState::reconnecting);
    }
    EXPECT_EQ(source->stats().reconnect_attempts, 3);
    EXPECT_EQ(source->stats().reconnects, 0);
}

TEST(IngestRtsp, ServerThatNeverAnswersTimesOutAtOpenTimeout) {
    Listener silent;  // the kernel completes the handshake; nobody ever replies
    SourceConfig config;
    config.url = rtsp_url(silent.port());
    config.open_timeout_ms = 600;
    auto source = open_source(config);
    const auto start = Clock::now();
    EXPECT_FALSE(source->read());
    const double elapsed = seconds_since(start);
    EXPECT_GE(elapsed, 0.5);
    EXPECT_LT(elapsed, 2.0);
    EXPECT_EQ(source->state(), SourceState::reconnecting);
    EXPECT_THAT(source->last_error(), ::testing::HasSubstr("open_timeout_ms"));
}

TEST(IngestRtsp, CloseFromAnotherThreadUnblocksARead) {
    Listener silent;
    SourceConfig config;
    config.url = rtsp_url(silent.port());
    config.open_timeout_ms = 60000;
    auto source = open_source(config);
    auto reading = std::async(std::launch::async, [&] { return source->read().has_value(); });
    ASSERT_GE(silent.accept_one(5000), 0) << "the source never connected";  // read() is now blocked on the reply
    const auto start = Clock::now();
    source->close();
    ASSERT_EQ(reading.wait_for(std::chrono::seconds(3)), std::future_status::ready) << "read() still blocked";
    EXPECT_FALSE(reading.get());
    EXPECT_LT(seconds_since(start), 3.0);
    EXPECT_EQ(source->state(), SourceState::ended);
}

#ifdef VIGIL_RTSP_TEST_SERVER

// The GStreamer test server as a child process that dies with the test.
class RtspServer {
public:
    RtspServer(int port, const std::string& file) {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const std::string port_text = std::to_string(port);
            ::execl(VIGIL_RTSP_TEST_SERVER, VIGIL_RTSP_TEST_SERVER, port_text.c_str(), file.c_str(), nullptr);
            ::_exit(127);
        }
    }
    ~RtspServer() { kill(); }
    // Polls until the port accepts connections or the server exits.
    bool wait_ready(int port, double timeout_s) {
        const auto start = Clock::now();
        while (seconds_since(start) < timeout_s) {
            if (port_accepts(port)) return true;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

// Reads until `frames` frames arrived or the deadline passed; returns the frames seen.
std::vector<Frame> read_frames(VideoSource& source, int frames, double deadline_s, double* longest_read_s) {
    std::vector<Frame> got;
    const auto start = Clock::now();
    while (int(got.size()) < frames && seconds_since(start) < deadline_s && !source_finished(source.state())) {
        const auto call = Clock::now();
        auto frame = source.read();
        *longest_read_s = std::max(*longest_read_s, seconds_since(call));
        if (frame) got.push_back(std::move(*frame));
    }
    return got;
}

TEST(IngestRtsp, RecoversAfterTheServerIsKilledAndRestarted) {
    const std::string video = vigil::testing::shared_path("media/videos/opencv4nodejs_traffic.mp4").string();
    const int port = free_port();
    auto server = std::make_unique<RtspServer>(port, video);
    ASSERT_TRUE(server->wait_ready(port, 5)) << "the RTSP test server did not start";

    SourceConfig config;
    config.url = rtsp_url(port);
    config.reconnect_initial_ms = 100;
    config.reconnect_max_ms = 400;
    config.open_timeout_ms = 3000;
    config.read_timeout_ms = 2000;
    auto source = open_source(config);
    double longest_read_s = 0;
    const auto before = read_frames(*source, 8, 8, &longest_read_s);
    ASSERT_EQ(before.size(), 8u) << source->last_error();
    EXPECT_EQ(source->state(), SourceState::streaming);
    EXPECT_TRUE(source->info().live);
    EXPECT_EQ(source->info().codec, "h264");
    EXPECT_EQ(before.back().bgr.size(), cv::Size(640, 360));
    for (size_t i = 1; i < before.size(); ++i) EXPECT_GT(before[i].stream_time_s, before[i - 1].stream_time_s);

    server->kill();
    // Frames already in flight may still come; then the loss is noticed.
    const auto kill_time = Clock::now();
    while (source->state() == SourceState::streaming && seconds_since(kill_time) < 5) source->read();
    EXPECT_EQ(source->state(), SourceState::reconnecting) << source->last_error();
    EXPECT_FALSE(source->last_error().empty());
    // While the server is down, reads return promptly and keep retrying.
    for (int call = 0; call < 2; ++call) {
        const auto start = Clock::now();
        EXPECT_FALSE(source->read());
        EXPECT_LT(seconds_since(start), 2.0);
        EXPECT_EQ(source->state(), SourceState::reconnecting);
    }
    EXPECT_GE(source->stats().reconnect_attempts, 2);

    server = std::make_unique<RtspServer>(port, video);
    ASSERT_TRUE(server->wait_ready(port, 5)) << "the RTSP test server did not restart";
    longest_read_s = 0;
    const auto after = read_frames(*source, 5, 10, &longest_read_s);
    ASSERT_EQ(after.size(), 5u) << source->last_error();
    EXPECT_EQ(source->state(), SourceState::streaming);
    EXPECT_EQ(source->stats().reconnects, 1);
    EXPECT_GT(after.front().stream_time_s, before.back().stream_time_s) << "stream time continues across the outage";
    EXPECT_GT(after.front().index, before.back().index);
    EXPECT_LT(longest_read_s, 4.0) << "no read blocks longer than open timeout plus backoff";
    source->close();
}

TEST(IngestRtsp, StreamsOverUdpTransportWhenAsked) {
    const std::string video = vigil::testing::shared_path("media/videos/opencv4nodejs_traffic.mp4").string();
    const int port = free_port();
    RtspServer server(port, video);
    ASSERT_TRUE(server.wait_ready(port, 5)) << "the RTSP test server did not start";
    SourceConfig config;
    config.url = rtsp_url(port) + "?transport=udp";
    config.open_timeout_ms = 3000;
    auto source = open_source(config);
    EXPECT_THAT(source->describe(), ::testing::HasSubstr("transport=udp"));
    double longest_read_s = 0;
    const auto frames = read_frames(*source, 5, 8, &longest_read_s);
    ASSERT_EQ(frames.size(), 5u) << source->last_error();
    EXPECT_EQ(frames.back().bgr.size(), cv::Size(640, 360));
    EXPECT_EQ(source->state(), SourceState::streaming);
}

#else

TEST(IngestRtsp, RecoversAfterTheServerIsKilledAndRestarted) {
    FAIL() << "the RTSP test server was not built: install libgstrtspserver-1.0-dev, "
              "gstreamer1.0-plugins-good and gstreamer1.0-plugins-bad (scripts/install-deps.sh)";
}

#endif

}  // namespace
