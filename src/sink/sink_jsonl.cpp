// One alert per line appended to a file, synced before delivery counts, so a
// tail -f consumer or a log shipper sees whole lines only.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "sink/sink_backends.h"

namespace vigil::sink {

namespace {

class JsonlSink final : public AlertSink {
public:
    JsonlSink(std::string name, std::filesystem::path path) : name_(std::move(name)), path_(std::move(path)) {}

    std::string name() const override { return name_; }

    void deliver(const nlohmann::json& alert) override {
        const std::string line = alert.dump() + "\n";
        std::lock_guard lock(mutex_);
        // Opened per alert: log rotation (rename + new file) needs no signal.
        int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) fail("open");
        size_t written = 0;
        while (written < line.size()) {
            ssize_t n = ::write(fd, line.data() + written, line.size() - written);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int saved = errno;
                ::close(fd);
                errno = saved;
                fail("write");
            }
            written += static_cast<size_t>(n);
        }
        if (::fsync(fd) != 0) {
            int saved = errno;
            ::close(fd);
            errno = saved;
            fail("fsync");
        }
        if (::close(fd) != 0) fail("close");
    }

private:
    [[noreturn]] void fail(const char* what) {
        throw vigil::Error("jsonl sink " + path_.string() + ": " + what + " failed: " + std::strerror(errno));
    }

    std::string name_;
    std::filesystem::path path_;
    std::mutex mutex_;
};

}  // namespace

std::unique_ptr<AlertSink> make_jsonl_sink(const nlohmann::json& config) {
    const std::string path = config_required_string(config, "path");
    return std::make_unique<JsonlSink>(config_sink_name(config, path), path);
}

}  // namespace vigil::sink
