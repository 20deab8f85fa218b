// A directory of still images played as a video: files sorted by name, stream
// time stamped at image_fps. Files that do not decode are skipped and counted,
// so one bad upload does not stop a batch.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <vector>

#include "core/error.h"
#include "ingest/ingest_backends.h"
#include "ingest/ingest_frame_sampler.h"
#include "ingest/ingest_reconnect.h"

namespace vigil::ingest {

namespace {

bool is_image_name(const std::filesystem::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

class ImageFolderSource final : public StatusReportingSource {
public:
    explicit ImageFolderSource(const SourceConfig& config) : config_(config), sampler_(config.target_fps) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(config.url, ec))
            if (entry.is_regular_file(ec) && is_image_name(entry.path())) files_.push_back(entry.path());
        if (ec) throw Error("image folder " + config.url + ": cannot list: " + ec.message());
        if (files_.empty()) throw Error("image folder " + config.url + ": no JPEG/PNG/BMP images in it");
        std::sort(files_.begin(), files_.end());
        info_.nominal_fps = config.image_fps;
        info_.frame_count = int64_t(files_.size());
        info_.duration_s = double(files_.size()) / config.image_fps;
        info_.codec = "images";
        state_ = SourceState::streaming;
    }

    ~ImageFolderSource() override { close(); }

    std::optional<Frame> read() override {
        std::lock_guard io(io_mutex_);
        while (!closed_) {
            if (next_ >= files_.size()) {
                if (!config_.loop || decoded_this_pass_ == 0) break;
                next_ = 0;
                ++pass_;
                decoded_this_pass_ = 0;
            }
            const size_t position = next_++;
            const int64_t index = int64_t(pass_ * files_.size() + position);
            const double t = double(index) / config_.image_fps;
            cv::Mat image = cv::imread(files_[position].string(), cv::IMREAD_COLOR);
            std::unique_lock lock(status_mutex_);
            ++stats_.frames_decoded;
            if (image.empty()) {
                ++stats_.frames_corrupt;
                last_error_ = "image folder " + config_.url + ": cannot decode " + files_[position].filename().string();
                continue;
            }
            ++decoded_this_pass_;
            if (info_.width == 0) {
                info_.width = image.cols;
                info_.height = image.rows;
            }
            if (!sampler_.keep(t)) continue;
            if (config_.realtime) {
                lock.unlock();  // stats stay readable while the frame waits for its time
                const bool on_time = pacer_.wait_for_stream_time(
                    t, [this](std::chrono::steady_clock::time_point at) { return close_signal_.sleep_until(at); });
                lock.lock();
                if (!on_time) break;
            }
            ++stats_.frames_delivered;
            return Frame{std::move(image), index, t, std::chrono::system_clock::now()};
        }
        std::lock_guard lock(status_mutex_);
        state_ = SourceState::ended;
        return std::nullopt;
    }

    std::string describe() const override { return config_.url; }

    void close() override {
        closed_ = true;
        close_signal_.close();
        std::lock_guard lock(status_mutex_);
        state_ = SourceState::ended;
    }

private:
    const SourceConfig config_;
    std::vector<std::filesystem::path> files_;
    size_t next_ = 0;
    size_t pass_ = 0;
    size_t decoded_this_pass_ = 0;  // a looping folder where nothing decodes must still end
    FrameSampler sampler_;
    RealtimePacer pacer_;
    CloseSignal close_signal_;
    std::atomic<bool> closed_{false};
    std::mutex io_mutex_;

};

}  // namespace

std::unique_ptr<VideoSource> make_image_folder_source(const SourceConfig& config) {
    return std::make_unique<ImageFolderSource>(config);
}

}  // namespace vigil::ingest
