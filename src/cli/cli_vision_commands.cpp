// `vigil detect`: run a detector on an image or a video, print what it finds
// (text or JSON Lines) and optionally write an annotated copy.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "cli/cli_app.h"
#include "core/error.h"
#include "core/image_io.h"
#include "detect/detector.h"

namespace vigil::cli {
namespace {

namespace fs = std::filesystem;

struct DetectOptions {
    std::string input;
    std::string output;
    bool json_output = false;
    int max_frames = 0;  // 0: the whole video
    detect::DetectorConfig config;
};

// Rounded so the JSON reads like the numbers mean: 0.1 px, 0.001 score.
double rounded(double value, double per_unit) { return std::round(value * per_unit) / per_unit; }

nlohmann::json frame_json(const std::vector<Detection>& detections, int index, double time_s, double ms) {
    nlohmann::json dets = nlohmann::json::array();
    for (const auto& d : detections) {
        dets.push_back({{"label", d.label},
                        {"class_id", d.class_id},
                        {"score", rounded(d.score, 1000)},
                        {"box", {rounded(d.box.x, 10), rounded(d.box.y, 10), rounded(d.box.width, 10),
                                 rounded(d.box.height, 10)}}});
    }
    return {{"frame", index}, {"time_s", rounded(time_s, 1000)}, {"inference_ms", rounded(ms, 100)},
            {"detections", dets}};
}

void print_text(const std::vector<Detection>& detections, int index, double time_s, double ms, bool video) {
    if (video) std::cout << fmt::format("frame {} ({:.2f} s, {:.1f} ms):", index, time_s, ms);
    else std::cout << fmt::format("{} detections ({:.1f} ms):", detections.size(), ms);
    std::cout << (detections.empty() ? " none\n" : "\n");
    for (const auto& d : detections) {
        std::cout << fmt::format("  {} {:.2f} [x={:.0f} y={:.0f} w={:.0f} h={:.0f}]\n", d.label, d.score, d.box.x,
                                 d.box.y, d.box.width, d.box.height);
    }
}

void annotate(cv::Mat& frame, const std::vector<Detection>& detections) {
    for (const auto& d : detections) {
        // Stable colour per label so the same class looks the same across frames.
        const size_t h = std::hash<std::string>{}(d.label);
        const cv::Scalar colour(60 + h % 196, 60 + (h / 196) % 196, 60 + (h / 38416) % 196);
        const cv::Rect box(d.box);
        cv::rectangle(frame, box, colour, 2);
        const std::string text = d.label + " " + std::to_string(static_cast<int>(std::lround(d.score * 100))) + "%";
        int baseline = 0;
        const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &baseline);
        const cv::Point origin(box.x, std::max(size.height + 2, box.y - 2));
        cv::rectangle(frame, origin + cv::Point(0, baseline), origin + cv::Point(size.width, -size.height - 2), colour,
                      cv::FILLED);
        cv::putText(frame, text, origin, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
}

bool is_image_input(const std::string& input) {
    return input.find('@') != std::string::npos || !sniff_image_format(input).empty();
}

void detect_image(const DetectOptions& options, detect::Detector& detector) {
    cv::Mat frame = load_image_bgr(options.input);
    const auto t0 = std::chrono::steady_clock::now();
    const auto detections = detector.detect(frame);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (options.json_output) {
        auto j = frame_json(detections, 0, 0.0, ms);
        j["detector"] = detector.name();
        j["input"] = options.input;
        j["width"] = frame.cols;
        j["height"] = frame.rows;
        std::cout << j.dump() << "\n";
    } else {
        std::cout << detector.name() << " on " << options.input << " (" << frame.cols << "x" << frame.rows << "): ";
        print_text(detections, 0, 0.0, ms, false);
    }
    if (!options.output.empty()) {
        annotate(frame, detections);
        bool written = false;
        try {
            written = cv::imwrite(options.output, frame);
        } catch (const cv::Exception&) {
        }
        if (!written) throw Error("cannot write " + options.output + " (expected a .jpg, .png or .bmp path in a writable folder)");
    }
}

void detect_video(const DetectOptions& options, detect::Detector& detector) {
    cv::VideoCapture video(options.input);
    if (!video.isOpened()) {
        throw Error("cannot open " + options.input + ": expected an image (JPEG, PNG, BMP, video@SECONDSs) or a video file");
    }
    const double fps = video.get(cv::CAP_PROP_FPS) > 0 ? video.get(cv::CAP_PROP_FPS) : 25.0;
    cv::VideoWriter writer;
    cv::Mat frame;
    int index = 0;
    if (!options.json_output) std::cout << detector.name() << " on " << options.input << "\n";
    while ((options.max_frames <= 0 || index < options.max_frames) && video.read(frame)) {
        const double time_s = index / fps;
        const auto t0 = std::chrono::steady_clock::now();
        const auto detections = detector.detect(frame);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (options.json_output) {
            std::cout << frame_json(detections, index, time_s, ms).dump() << "\n";
        } else {
            print_text(detections, index, time_s, ms, true);
        }
        if (!options.output.empty()) {
            if (!writer.isOpened()) {
                writer.open(options.output, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, frame.size());
                if (!writer.isOpened()) throw Error("cannot write video " + options.output + " (expected an .mp4 path in a writable folder)");
            }
            annotate(frame, detections);
            writer.write(frame);
        }
        ++index;
    }
    if (index == 0) throw Error("no frames could be read from " + options.input);
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> items;
    std::string item;
    std::istringstream in(list);
    while (std::getline(in, item, ',')) {
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

}  // namespace

void add_vision_commands(CLI::App& app) {
    auto options = std::make_shared<DetectOptions>();
    auto classes = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("detect", "Run an object detector on an image or a video");
    cmd->add_option("INPUT", options->input, "Image (JPEG, PNG, BMP, video@SECONDSs) or video file")->required();
    std::string names;
    for (const auto& n : detect::detector_names()) {
        if (!names.empty()) names += ", ";
        names += n;
    }
    cmd->add_option("-d,--detector", options->config.name, "Detector: " + names)->capture_default_str();
    cmd->add_option("--backend", options->config.backend, "auto | onnxruntime | opencv")->capture_default_str();
    cmd->add_option("--threads", options->config.threads, "Inference threads")->check(CLI::Range(1, 256))->capture_default_str();
    cmd->add_option("--score", options->config.score_threshold, "Minimum score")->check(CLI::Range(0.0, 1.0))->capture_default_str();
    cmd->add_option("--classes", *classes, "Keep only these classes (comma-separated, e.g. person,car)");
    cmd->add_option("--models-dir", options->config.models_dir, "Folder holding detectors/ (default: $VIGIL_MODELS_DIR)");
    cmd->add_option("--max-frames", options->max_frames, "Video: stop after this many frames (0 = all)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--json", options->json_output, "One JSON object per frame (JSON Lines)");
    cmd->add_option("-o,--out", options->output, "Write an annotated copy (.jpg/.png for images, .mp4 for videos)");
    cmd->callback([options, classes] {
        options->config.classes = split_list(*classes);
        auto detector = detect::make_detector(options->config);
        if (is_image_input(options->input)) {
            detect_image(*options, *detector);
        } else {
            std::error_code ec;
            if (!fs::exists(options->input, ec)) throw Error("input not found: " + options->input);
            detect_video(*options, *detector);
        }
    });
}

}  // namespace vigil::cli
