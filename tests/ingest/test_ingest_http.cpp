// HTTP sources against a minimal loopback HTTP server: a finite file over
// HTTP ends like a file; a server that stops sending mid-body is a lost live
// connection that the read timeout detects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "ingest/ingest_source.h"
#include "ingest_test_net.h"
#include "testing/test_support.h"

namespace {

using namespace vigil::ingest;
using namespace vigil::ingest::test_net;

bool send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

// Answers one GET with `body` (declaring its full length) but sends only the
// first `send_bytes` of it, then holds the connection open until `release`.
void serve_once(Listener& listener, const std::string& body, size_t send_bytes, std::future<void> release) {
    const int client = listener.accept_one(10000);
    if (client < 0) return;
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) return;
        request.append(buffer, size_t(n));
    }
    const std::string header =
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n";
    if (!send_all(client, header.data(), header.size())) return;
    send_all(client, body.data(), std::min(send_bytes, body.size()));
    release.wait();
}

TEST(IngestHttp, FiniteFileOverHttpDecodesToTheEnd) {
    // moov before mdat, so the file streams without range requests.
    const std::string body =
        vigil::testing::read_file(vigil::testing::shared_path("media/videos/yolov4tflite_road_dashcam.mp4"));
    Listener listener;
    std::promise<void> release;
    release.set_value();
    auto server = std::async(std::launch::async, serve_once, std::ref(listener), std::cref(body), body.size(),
                             release.get_future());
    SourceConfig config;
    config.url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/clip.mp4";
    config.open_timeout_ms = 5000;
    auto source = open_source(config);
    int frames = 0;
    while (!source_finished(source->state()) && frames < 100)
        if (source->read()) ++frames;
    EXPECT_EQ(source->state(), SourceState::ended) << source->last_error();
    EXPECT_NEAR(frames, 38, 1);
    EXPECT_FALSE(source->info().live) << "a declared duration makes it a file, not a stream";
    EXPECT_EQ(source->info().width, 1280);
    server.get();
}

TEST(IngestHttp, StalledServerIsDetectedByTheReadTimeout) {
    const std::string body =
        vigil::testing::read_file(vigil::testing::shared_path("media/videos/intel_car-detection.mp4"));
    Listener listener;
    std::promise<void> release;
    auto server = std::async(std::launch::async, serve_once, std::ref(listener), std::cref(body), body.size() / 3,
                             release.get_future());
    SourceConfig config;
    config.url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/clip.mp4";
    config.read_timeout_ms = 500;
    config.max_reconnect_attempts = 0;
    auto source = open_source(config);
    int frames = 0;
    const auto start = std::chrono::steady_clock::now();
    while (!source_finished(source->state()) && frames < 1000)
        if (source->read()) ++frames;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    release.set_value();
    server.get();
    EXPECT_GT(frames, 20) << "frames before the stall are delivered";
    EXPECT_LT(frames, 377);
    EXPECT_LT(elapsed, 10.0);
    EXPECT_GE(source->stats().read_errors, 1);
    EXPECT_FALSE(source->last_error().empty());
}

}  // namespace
