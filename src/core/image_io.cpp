#include "core/image_io.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace vigil {
namespace {

struct VideoFrameSpec {
    std::string path;
    bool by_index = false;
    double seconds = 0.0;
    long index = 0;
};

// "clip.mp4@12.5s" or "clip.mp4@#120"; returns false when spec names a plain file.
bool parse_video_frame_spec(const std::string& spec, VideoFrameSpec& out) {
    const auto at = spec.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 >= spec.size()) return false;
    if (std::filesystem::exists(spec)) return false;  // a file whose name contains '@'
    std::string suffix = spec.substr(at + 1);
    out.path = spec.substr(0, at);
    if (suffix[0] == '#') {
        const char* begin = suffix.data() + 1;
        const char* end = suffix.data() + suffix.size();
        auto [ptr, ec] = std::from_chars(begin, end, out.index);
        if (ec != std::errc() || ptr != end || out.index < 0)
            throw Error("image '" + spec + "': expected a frame index after '@#', e.g. clip.mp4@#120");
        out.by_index = true;
        return true;
    }
    if (suffix.back() == 's') suffix.pop_back();
    try {
        size_t used = 0;
        out.seconds = std::stod(suffix, &used);
        if (used != suffix.size() || out.seconds < 0) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
        throw Error("image '" + spec + "': expected a time after '@', e.g. clip.mp4@12.5s");
    }
    return true;
}

cv::Mat read_video_frame_bgr(const VideoFrameSpec& spec, const std::string& original) {
    if (!std::filesystem::exists(spec.path)) throw Error("image '" + original + "': video file not found: " + spec.path);
    cv::VideoCapture cap(spec.path, cv::CAP_FFMPEG);
    if (!cap.isOpened()) throw Error("image '" + original + "': cannot open as a video: " + spec.path);
    const double fps = cap.get(cv::CAP_PROP_FPS);
    const double frames = cap.get(cv::CAP_PROP_FRAME_COUNT);
    if (spec.by_index) {
        cap.set(cv::CAP_PROP_POS_FRAMES, static_cast<double>(spec.index));
    } else {
        cap.set(cv::CAP_PROP_POS_MSEC, spec.seconds * 1000.0);
    }
    cv::Mat frame;
    if (!cap.read(frame) || frame.empty()) {
        std::string length = (fps > 0 && frames > 0) ? " (video is " + std::to_string(frames / fps) + " s, " +
                                                           std::to_string(static_cast<long>(frames)) + " frames)"
                                                     : "";
        throw Error("image '" + original + "': no frame at that position" + length);
    }
    return frame;
}

}  // namespace

std::string sniff_image_format(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::array<unsigned char, 12> head{};
    in.read(reinterpret_cast<char*>(head.data()), head.size());
    const auto n = in.gcount();
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return "jpeg";
    if (n >= 8 && head[0] == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') return "png";
    if (n >= 2 && head[0] == 'B' && head[1] == 'M') return "bmp";
    if (n >= 12 && head[0] == 'R' && head[1] == 'I' && head[2] == 'F' && head[3] == 'F' && head[8] == 'W' &&
        head[9] == 'E' && head[10] == 'B' && head[11] == 'P')
        return "webp";
    return "";
}

cv::Mat load_image_bgr(const std::string& spec) {
    VideoFrameSpec video;
    if (parse_video_frame_spec(spec, video)) return read_video_frame_bgr(video, spec);

    std::error_code ec;
    if (!std::filesystem::exists(spec, ec)) throw Error("image '" + spec + "': file not found");
    if (std::filesystem::is_directory(spec, ec)) throw Error("image '" + spec + "': is a directory, expected an image file");
    const auto size = std::filesystem::file_size(spec, ec);
    if (ec || size == 0) throw Error("image '" + spec + "': file is empty");
    const std::string format = sniff_image_format(spec);
    if (format.empty())
        throw Error("image '" + spec + "': not a JPEG, PNG or BMP image (unrecognised file header); "
                    "for a video frame use FILE@SECONDSs, e.g. clip.mp4@12.5s");
    std::ifstream in(spec, std::ios::binary);
    std::vector<unsigned char> bytes(size);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    // A truncated JPEG still decodes partially in libjpeg (grey fill); reject it
    // by its missing end-of-image marker so evidence is never silently half-grey.
    if (format == "jpeg") {
        bool has_eoi = false;
        for (size_t i = bytes.size(); i >= 2 && i + 64 > bytes.size(); --i) {
            if (bytes[i - 2] == 0xFF && bytes[i - 1] == 0xD9) { has_eoi = true; break; }
        }
        if (!has_eoi) throw Error("image '" + spec + "': JPEG is truncated (no end-of-image marker)");
    }
    cv::Mat image;
    try {
        image = cv::imdecode(bytes, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        throw Error("image '" + spec + "': cannot decode " + format + ": " + e.what());
    }
    if (image.empty()) throw Error("image '" + spec + "': cannot decode " + format + " (corrupt or truncated)");
    return image;
}

cv::Mat load_image_rgb(const std::string& spec) {
    cv::Mat bgr = load_image_bgr(spec);
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

std::string encode_jpeg_rgb(const cv::Mat& rgb, int quality) {
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<unsigned char> out;
    if (!cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, quality})) throw Error("JPEG encoding failed");
    return std::string(out.begin(), out.end());
}

}  // namespace vigil
