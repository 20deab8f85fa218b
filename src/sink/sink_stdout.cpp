// One alert per line on standard output, for piping `vigil run` into jq.
#include <cstdio>
#include <mutex>

#include "core/error.h"
#include "sink/sink_backends.h"

namespace vigil::sink {

namespace {

class StdoutSink final : public AlertSink {
public:
    explicit StdoutSink(std::string name) : name_(std::move(name)) {}
    std::string name() const override { return name_; }

    void deliver(const nlohmann::json& alert) override {
        const std::string line = alert.dump() + "\n";
        std::lock_guard lock(mutex_);
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0)
            throw vigil::Error("stdout sink: cannot write to standard output");
    }

private:
    std::string name_;
    std::mutex mutex_;
};

}  // namespace

std::unique_ptr<AlertSink> make_stdout_sink(const nlohmann::json& config) {
    return std::make_unique<StdoutSink>(config_sink_name(config, ""));
}

}  // namespace vigil::sink
