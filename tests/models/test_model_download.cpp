// download_file and pull_model against a loopback HTTP server that can resume
// (Range), refuse (404), drop a connection halfway, ignore Range, fail once
// with 503 and serve wrong bytes. Nothing here reaches the internet.

// Debian builds libcpp-httplib with these; the Request layout depends on them.
#define CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "models/model_catalog.h"
#include "models/model_download.h"
#include "models/model_hash.h"
#include "models/model_store.h"
#include "testing/test_support.h"

namespace vigil::models {
namespace {

using vigil::testing::read_file;
using vigil::testing::TempDir;
using vigil::testing::write_file;

std::string random_bytes(size_t size, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

// "bytes=N-" -> N. Vigil only ever asks for an open-ended range.
std::optional<size_t> range_start(const httplib::Request& req) {
    const auto header = req.get_header_value("Range");
    const std::string prefix = "bytes=";
    if (header.rfind(prefix, 0) != 0 || header.back() != '-') return std::nullopt;
    return std::stoull(header.substr(prefix.size(), header.size() - prefix.size() - 1));
}

class TestServer {
public:
    // Content served under /files/NAME, /flaky/NAME, /norange/NAME, /wrong/NAME,
    // /redirect/NAME, /busy-once/NAME.
    std::map<std::string, std::string> files;

    TestServer() {
        server_.Get(R"(/files/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            serve_ranged(req, res, content(req));
        });
        // First answer without a Range: promise the whole file, send half,
        // then drop the connection. With a Range: behave.
        server_.Get(R"(/flaky/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            const auto body = content(req);
            if (range_start(req)) return serve_ranged(req, res, body);
            res.set_content_provider(body.size(), "application/octet-stream",
                                     [body](size_t offset, size_t, httplib::DataSink& sink) {
                                         const size_t half = body.size() / 2;
                                         if (offset >= half) return false;  // drop the connection
                                         sink.write(body.data() + offset, half - offset);
                                         return true;
                                     });
        });
        server_.Get(R"(/norange/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.status = 200;
            send_unranged(res, content(req));
        });
        server_.Get(R"(/wrong/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            auto body = content(req);
            body[body.size() / 3] ^= 0x5a;
            serve_ranged(req, res, body);
        });
        server_.Get(R"(/redirect/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            res.set_redirect("/files/" + std::string(req.matches[1]));
        });
        server_.Get(R"(/busy-once/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            record(req);
            if (busy_answered_.exchange(true)) return serve_ranged(req, res, content(req));
            res.status = 503;
            res.set_content("busy", "text/plain");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        // The socket listens from here on; early clients wait in the backlog.
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }

    ~TestServer() {
        server_.stop();
        thread_.join();
    }

    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

    std::vector<std::string> range_headers() {
        std::lock_guard<std::mutex> lock(mutex_);
        return ranges_;
    }
    int requests() {
        std::lock_guard<std::mutex> lock(mutex_);
        return static_cast<int>(ranges_.size());
    }

private:
    std::string content(const httplib::Request& req) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = files.find(req.matches[1]);
        return it == files.end() ? std::string() : it->second;
    }

    void record(const httplib::Request& req) {
        std::lock_guard<std::mutex> lock(mutex_);
        ranges_.push_back(req.get_header_value("Range"));
    }

    // httplib slices bodies by the request's Range on its own; a chunked
    // provider is left alone, so these handlers decide what is sent.
    static void send_unranged(httplib::Response& res, std::string body) {
        res.set_chunked_content_provider("application/octet-stream",
                                         [body = std::move(body)](size_t offset, httplib::DataSink& sink) {
                                             if (offset < body.size())
                                                 sink.write(body.data() + offset, body.size() - offset);
                                             else
                                                 sink.done();
                                             return true;
                                         });
    }

    static void serve_ranged(const httplib::Request& req, httplib::Response& res, const std::string& body) {
        if (body.empty()) {
            res.status = 404;
            return;
        }
        const auto start = range_start(req);
        if (!start) {
            res.status = 200;
            send_unranged(res, body);
            return;
        }
        if (*start >= body.size()) {
            res.status = 416;
            res.set_header("Content-Range", "bytes */" + std::to_string(body.size()));
            return;
        }
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(*start) + "-" + std::to_string(body.size() - 1) +
                                            "/" + std::to_string(body.size()));
        send_unranged(res, body.substr(*start));
    }

    httplib::Server server_;
    int port_ = -1;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> ranges_;
    std::atomic<bool> busy_answered_{false};
};

DownloadOptions quick_options() {
    DownloadOptions options;
    options.retry_delay = std::chrono::milliseconds(0);
    options.connect_timeout = std::chrono::seconds(5);
    options.stall_timeout = std::chrono::seconds(5);
    return options;
}

class DownloadTest : public ::testing::Test {
protected:
    void SetUp() override {
        // A proxy from the environment must not intercept loopback requests.
        ::setenv("no_proxy", "127.0.0.1,localhost", 1);
        ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);
        content = random_bytes(300000, 7);
        server.files["model.bin"] = content;
        expected = {content.size(), sha256_bytes(content)};
        dest = dir / "sub" / "model.bin";
    }

    TestServer server;
    TempDir dir;
    std::string content;
    ExpectedFile expected;
    std::filesystem::path dest;
};

TEST_F(DownloadTest, DownloadsVerifiesAndRenames) {
    auto result = download_file(server.url("/files/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_EQ(result.sha256, *expected.sha256);
    EXPECT_EQ(result.size, content.size());
    EXPECT_EQ(result.attempts, 1);
    EXPECT_FALSE(result.resumed);
    EXPECT_FALSE(std::filesystem::exists(part_path(dest)));
}

TEST_F(DownloadTest, NotFoundNamesUrlAndStatus) {
    const auto url = server.url("/files/absent.bin");
    try {
        download_file(url, dest, expected, quick_options());
        FAIL() << "expected vigil::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("404"), std::string::npos) << e.what();
    }
    EXPECT_EQ(server.requests(), 1) << "a 404 must not be retried";
    EXPECT_FALSE(std::filesystem::exists(dest));
}

TEST_F(DownloadTest, DroppedConnectionIsResumedWithRange) {
    auto result = download_file(server.url("/flaky/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_TRUE(result.resumed);
    EXPECT_EQ(result.attempts, 2);
    const auto ranges = server.range_headers();
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[0], "");
    EXPECT_EQ(ranges[1], "bytes=" + std::to_string(content.size() / 2) + "-");
}

TEST_F(DownloadTest, LeftoverPartIsResumed) {
    std::filesystem::create_directories(dest.parent_path());
    write_file(part_path(dest), content.substr(0, 123456));
    auto result = download_file(server.url("/files/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_TRUE(result.resumed);
    EXPECT_EQ(server.range_headers(), std::vector<std::string>{"bytes=123456-"});
}

TEST_F(DownloadTest, ServerIgnoringRangeRestartsFromZero) {
    std::filesystem::create_directories(dest.parent_path());
    write_file(part_path(dest), content.substr(0, 5000));
    auto result = download_file(server.url("/norange/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content) << "the 200 body must replace the partial file, not extend it";
    EXPECT_FALSE(result.resumed);
    EXPECT_EQ(server.range_headers(), std::vector<std::string>{"bytes=5000-"});
}

TEST_F(DownloadTest, CompletePartNeedsNoRequest) {
    std::filesystem::create_directories(dest.parent_path());
    write_file(part_path(dest), content);
    download_file(server.url("/files/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_EQ(server.requests(), 0);
}

TEST_F(DownloadTest, UnpinnedSizeWithCompletePartGets416AndRestarts) {
    std::filesystem::create_directories(dest.parent_path());
    write_file(part_path(dest), content);
    auto result = download_file(server.url("/files/model.bin"), dest, {std::nullopt, expected.sha256}, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_EQ(result.attempts, 2);
}

TEST_F(DownloadTest, StalePartFromAnOlderFileIsReplaced) {
    std::filesystem::create_directories(dest.parent_path());
    write_file(part_path(dest), std::string(1000, 'z'));  // not a prefix of the file
    auto result = download_file(server.url("/files/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_EQ(result.attempts, 2);
    EXPECT_EQ(server.range_headers(), (std::vector<std::string>{"bytes=1000-", ""}));
}

TEST_F(DownloadTest, ChecksumMismatchDeletesPartAndNamesHashes) {
    try {
        download_file(server.url("/wrong/model.bin"), dest, expected, quick_options());
        FAIL() << "expected vigil::Error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
        EXPECT_NE(message.find("model.bin"), std::string::npos) << message;
        EXPECT_NE(message.find(*expected.sha256), std::string::npos) << message;
        auto corrupted = content;
        corrupted[corrupted.size() / 3] ^= 0x5a;
        EXPECT_NE(message.find(sha256_bytes(corrupted)), std::string::npos) << message;
    }
    EXPECT_FALSE(std::filesystem::exists(dest));
    EXPECT_FALSE(std::filesystem::exists(part_path(dest)));
}

TEST_F(DownloadTest, SizeMismatchIsAnError) {
    ExpectedFile wrong_size{content.size() + 1, std::nullopt};
    EXPECT_THROW(download_file(server.url("/files/model.bin"), dest, wrong_size, quick_options()), Error);
    EXPECT_FALSE(std::filesystem::exists(dest));
}

TEST_F(DownloadTest, FollowsRedirects) {
    download_file(server.url("/redirect/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
}

TEST_F(DownloadTest, RetriesServiceUnavailable) {
    auto result = download_file(server.url("/busy-once/model.bin"), dest, expected, quick_options());
    EXPECT_EQ(read_file(dest), content);
    EXPECT_EQ(result.attempts, 2);
}

TEST_F(DownloadTest, GivesUpAfterMaxAttemptsKeepingThePart) {
    auto options = quick_options();
    options.max_attempts = 1;
    try {
        download_file(server.url("/flaky/model.bin"), dest, expected, options);
        FAIL() << "expected vigil::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("run the command again to resume"), std::string::npos) << e.what();
    }
    EXPECT_EQ(std::filesystem::file_size(part_path(dest)), content.size() / 2);
    // The next run resumes where this one stopped.
    auto result = download_file(server.url("/flaky/model.bin"), dest, expected, quick_options());
    EXPECT_TRUE(result.resumed);
    EXPECT_EQ(read_file(dest), content);
}

TEST_F(DownloadTest, ProgressIsReportedPerTenthOffTerminal) {
    std::ostringstream progress;
    auto options = quick_options();
    options.progress = &progress;
    options.label = "model.bin";
    download_file(server.url("/files/model.bin"), dest, expected, options);
    const auto text = progress.str();
    EXPECT_NE(text.find("model.bin: 100%"), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << "no bar redraws off a terminal";
}

// pull_model end to end over HTTP with a catalog made here.
TEST_F(DownloadTest, PullModelDownloadsEveryFileThenKeepsThem) {
    const auto labels = std::string("person\nbus\n");
    server.files["labels.txt"] = labels;
    ModelEntry entry;
    entry.name = "test-detector";
    entry.kind = ModelKind::detector;
    entry.licence = "test";
    entry.detector = DetectorFacts{DetectorFormat::onnx, 64, 64};
    entry.files = {
        {"model", "detectors/test/model.onnx", server.url("/files/model.bin"), content.size(), sha256_bytes(content)},
        {"labels", "detectors/labels.txt", server.url("/files/labels.txt"), std::nullopt, std::nullopt}};
    Catalog catalog({entry});

    PullOptions options;
    options.download = quick_options();
    std::vector<std::string> lines;
    options.report = [&](const std::string& line) { lines.push_back(line); };
    auto pulled = pull_model(catalog.at("test-detector"), dir.path(), options);
    ASSERT_EQ(pulled.size(), 2u);
    EXPECT_FALSE(pulled[0].already_present);
    EXPECT_EQ(pulled[1].sha256, sha256_bytes(labels));
    // The unpinned file's hash is printed so it can be pinned.
    bool hash_reported = false;
    for (const auto& line : lines) hash_reported |= line.find(sha256_bytes(labels)) != std::string::npos;
    EXPECT_TRUE(hash_reported);

    auto files = resolve_detector("test-detector", dir.path(), catalog);
    EXPECT_EQ(read_file(files.model), content);
    EXPECT_EQ(read_file(files.labels), labels);
    EXPECT_TRUE(files.config.empty());

    const int requests_before = server.requests();
    pulled = pull_model(catalog.at("test-detector"), dir.path(), options);
    EXPECT_TRUE(pulled[0].already_present);
    EXPECT_TRUE(pulled[1].already_present);
    EXPECT_EQ(server.requests(), requests_before) << "installed files must not be fetched again";

    // A damaged install is fetched again.
    write_file(dir / "detectors/test/model.onnx", content.substr(0, content.size() - 1) + "x");
    pulled = pull_model(catalog.at("test-detector"), dir.path(), options);
    EXPECT_FALSE(pulled[0].already_present);
    EXPECT_EQ(read_file(files.model), content);
}

}  // namespace
}  // namespace vigil::models
