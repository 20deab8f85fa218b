// `vigil detect`: run a detector on an image or a video, print what it finds
// (text or JSON Lines) and optionally write an annotated copy.
// `vigil track`: ingest -> detect -> track over a video, writing MOTChallenge
// rows and optionally a video annotated with ids and trails.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>

#include "cli/cli_app.h"
#include "core/error.h"
#include "core/image_io.h"
#include "detect/detector.h"
#include "ingest/ingest_source.h"
#include "track/tracker.h"

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
        dets.push_back(
            {{"label", d.label},
             {"class_id", d.class_id},
             {"score", rounded(d.score, 1000)},
             {"box",
              {rounded(d.box.x, 10), rounded(d.box.y, 10), rounded(d.box.width, 10), rounded(d.box.height, 10)}}});
    }
    return {
        {"frame", index}, {"time_s", rounded(time_s, 1000)}, {"inference_ms", rounded(ms, 100)}, {"detections", dets}};
}

void print_text(const std::vector<Detection>& detections, int index, double time_s, double ms, bool video) {
    if (video)
        std::cout << fmt::format("frame {} ({:.2f} s, {:.1f} ms):", index, time_s, ms);
    else
        std::cout << fmt::format("{} detections ({:.1f} ms):", detections.size(), ms);
    std::cout << (detections.empty() ? " none\n" : "\n");
    for (const auto& d : detections) {
        std::cout << fmt::format("  {} {:.2f} [x={:.0f} y={:.0f} w={:.0f} h={:.0f}]\n", d.label, d.score, d.box.x,
                                 d.box.y, d.box.width, d.box.height);
    }
}

// A box with its caption on a filled tab above it (inside the frame at the top edge).
void draw_labelled_box(cv::Mat& frame, const cv::Rect& box, const cv::Scalar& colour, const std::string& text) {
    cv::rectangle(frame, box, colour, 2);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &baseline);
    const cv::Point origin(box.x, std::max(size.height + 2, box.y - 2));
    cv::rectangle(frame, origin + cv::Point(0, baseline), origin + cv::Point(size.width, -size.height - 2), colour,
                  cv::FILLED);
    cv::putText(frame, text, origin, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
}

void annotate(cv::Mat& frame, const std::vector<Detection>& detections) {
    for (const auto& d : detections) {
        // Stable colour per label so the same class looks the same across frames.
        const size_t h = std::hash<std::string>{}(d.label);
        const cv::Scalar colour(60 + h % 196, 60 + (h / 196) % 196, 60 + (h / 38416) % 196);
        draw_labelled_box(frame, cv::Rect(d.box), colour,
                          d.label + " " + std::to_string(static_cast<int>(std::lround(d.score * 100))) + "%");
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
        if (!written)
            throw Error("cannot write " + options.output +
                        " (expected a .jpg, .png or .bmp path in a writable folder)");
    }
}

void detect_video(const DetectOptions& options, detect::Detector& detector) {
    cv::VideoCapture video(options.input);
    if (!video.isOpened()) {
        throw Error("cannot open " + options.input +
                    ": expected an image (JPEG, PNG, BMP, video@SECONDSs) or a video file");
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
                if (!writer.isOpened())
                    throw Error("cannot write video " + options.output +
                                " (expected an .mp4 path in a writable folder)");
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

// ---- vigil track ----

struct TrackOptions {
    std::string input;
    std::string tracker = "bytetrack";
    double fps = 0;      // 0: every frame the video has
    int max_frames = 0;  // 0: the whole video
    std::string mot_output;
    std::string video_output;
    bool json_output = false;
    detect::DetectorConfig detector;
};

// A colour per id that stays put over the video and differs between
// neighbouring ids (golden-ratio steps around the hue circle).
cv::Scalar id_colour(int id) {
    const double hue = std::fmod(id * 0.618033988749895, 1.0) * 180.0;
    cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 200, 255)), bgr;
    cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
    const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
    return {double(c[0]), double(c[1]), double(c[2])};
}

void annotate_tracks(cv::Mat& frame, const std::vector<Track>& tracks) {
    for (const auto& t : tracks) {
        const cv::Scalar colour = id_colour(t.id);
        // The trail runs through the bottom-centre points the track was matched at.
        std::vector<cv::Point> trail;
        for (const auto& p : t.history)
            trail.emplace_back(cvRound(p.box.x + p.box.width * 0.5f), cvRound(p.box.y + p.box.height));
        if (trail.size() >= 2) cv::polylines(frame, trail, false, colour, 2, cv::LINE_AA);
        draw_labelled_box(frame, cv::Rect(t.box), colour, fmt::format("#{} {}", t.id, t.label));
    }
}

nlohmann::json tracks_json(const std::vector<Track>& tracks, int64_t frame, double time_s) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& t : tracks) {
        items.push_back(
            {{"id", t.id},
             {"label", t.label},
             {"class_id", t.class_id},
             {"score", rounded(t.score, 1000)},
             {"box", {rounded(t.box.x, 10), rounded(t.box.y, 10), rounded(t.box.width, 10), rounded(t.box.height, 10)}},
             {"velocity_px_s", {rounded(t.velocity_px_s.x, 10), rounded(t.velocity_px_s.y, 10)}},
             {"stationary_s", rounded(t.stationary_s, 100)}});
    }
    return {{"frame", frame}, {"time_s", rounded(time_s, 1000)}, {"tracks", items}};
}

// One status line on stderr: rewritten in place on a terminal, a plain line
// every few seconds when stderr goes to a file or a pipe.
class ProgressLine {
public:
    ProgressLine() : terminal_(isatty(fileno(stderr)) != 0), last_(std::chrono::steady_clock::now()) {}

    void update(int64_t frames, double fps, size_t live_tracks) {
        const auto now = std::chrono::steady_clock::now();
        const auto interval = terminal_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
        if (now - last_ < interval) return;
        last_ = now;
        const std::string text = fmt::format("frames {} | {:.1f} fps | {} live tracks", frames, fps, live_tracks);
        if (terminal_) {
            std::cerr << "\r" << text << "\033[K" << std::flush;
            dirty_ = true;
        } else {
            std::cerr << text << "\n";
        }
    }

    void finish() {
        if (dirty_) std::cerr << "\n";
        dirty_ = false;
    }

private:
    bool terminal_;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point last_;
};

cv::VideoWriter open_video_writer(const std::string& path, double fps, cv::Size size) {
    const std::string ext = fs::path(path).extension().string();
    const int fourcc =
        ext == ".avi" ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G') : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
    cv::VideoWriter writer;
    try {
        writer.open(path, fourcc, fps, size);
    } catch (const cv::Exception&) {
    }
    if (!writer.isOpened())
        throw Error("cannot write video " + path + " (expected an .mp4 or .avi path in a writable folder)");
    return writer;
}

void run_track(const TrackOptions& options) {
    // Configuration errors first, before any model loads or video opens.
    track::TrackerConfig tracker_config;
    tracker_config.algorithm = options.tracker;
    track::make_tracker(tracker_config);  // names the known trackers when this one is not
    std::error_code ec;
    if (!fs::exists(options.input, ec)) throw Error("video not found: " + options.input);

    auto detector = detect::make_detector(options.detector);
    ingest::SourceConfig source_config;
    source_config.url = options.input;
    source_config.target_fps = options.fps;
    auto source = ingest::open_source(source_config);
    // The stream's rate is known once the source has read its headers, at
    // the first frame.
    std::unique_ptr<track::Tracker> tracker;
    double stream_fps = 0;

    std::ofstream mot;
    if (!options.mot_output.empty()) {
        mot.open(options.mot_output);
        if (!mot) throw Error("cannot write " + options.mot_output + " (expected a file path in a writable folder)");
    }
    cv::VideoWriter writer;

    if (!options.json_output)
        std::cout << fmt::format("tracking {} with {} and {}\n", options.input, detector->name(), options.tracker)
                  << std::flush;
    ProgressLine progress;
    std::set<int> ids;
    int64_t frames = 0;
    double last_time_s = 0;
    bool stopped_at_max_frames = false;
    const auto start = std::chrono::steady_clock::now();
    auto elapsed_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    while (true) {
        if (options.max_frames > 0 && frames >= options.max_frames) {
            stopped_at_max_frames = true;
            break;
        }
        std::optional<ingest::Frame> frame = source->read();
        if (!frame) {
            if (ingest::source_finished(source->state())) break;
            continue;
        }
        if (!tracker) {
            const double nominal_fps = source->info().nominal_fps;
            stream_fps = options.fps > 0 ? options.fps : nominal_fps > 0 ? nominal_fps : 25.0;
            tracker_config.frame_rate = stream_fps;
            tracker = track::make_tracker(tracker_config);
        }
        const auto detections = detector->detect(frame->bgr);
        const auto tracks = tracker->update(detections, frame->stream_time_s);
        ++frames;
        last_time_s = frame->stream_time_s;
        for (const auto& t : tracks) ids.insert(t.id);

        if (mot.is_open()) {
            // MOTChallenge frames are 1-based positions in the video, so rows
            // line up with the source even when --fps skips frames.
            for (const auto& t : tracks)
                mot << fmt::format("{},{},{:.2f},{:.2f},{:.2f},{:.2f},{:.3f},-1,-1,-1\n", frame->index + 1, t.id,
                                   t.box.x, t.box.y, t.box.width, t.box.height, t.score);
        }
        if (options.json_output) std::cout << tracks_json(tracks, frame->index, frame->stream_time_s).dump() << "\n";
        if (!options.video_output.empty()) {
            if (!writer.isOpened()) writer = open_video_writer(options.video_output, stream_fps, frame->bgr.size());
            annotate_tracks(frame->bgr, tracks);
            writer.write(frame->bgr);
        }
        progress.update(frames, double(frames) / std::max(elapsed_s(), 1e-9), tracks.size());
    }
    progress.finish();
    if (source->state() == ingest::SourceState::failed)
        throw Error("reading " + options.input + " failed after " + std::to_string(frames) +
                    " frames: " + source->last_error());
    if (frames == 0)
        throw Error("no frames could be read from " + options.input +
                    (source->last_error().empty() ? std::string(" (is it a complete video file?)")
                                                  : ": " + source->last_error()));
    const ingest::StreamInfo info = source->info();
    const ingest::SourceStats stats = source->stats();
    // A file that ends well short of the frames or duration its header
    // declares was cut (an interrupted copy or recording); its tracks would
    // silently stop early.
    if (!stopped_at_max_frames && !info.live) {
        const bool short_of_frames = info.frame_count > 0 && stats.frames_decoded < info.frame_count * 9 / 10;
        const double tolerance_s = std::max({1.0, 0.1 * info.duration_s, options.fps > 0 ? 2.0 / options.fps : 0.0});
        const bool short_of_time = info.duration_s > 0 && last_time_s + tolerance_s < info.duration_s;
        if (short_of_frames || short_of_time)
            throw Error(fmt::format(
                "{} ends after {} of the {} frames ({:.1f} of {:.1f} s) its header declares: the "
                "video looks truncated (tracked {} frames)",
                options.input, stats.frames_decoded, info.frame_count, last_time_s, info.duration_s, frames));
    }
    if (mot.is_open()) {
        mot.flush();
        if (!mot) throw Error("writing " + options.mot_output + " failed (disk full?)");
    }

    const double seconds = elapsed_s();
    const double mean_fps = seconds > 0 ? double(frames) / seconds : 0;
    if (options.json_output) {
        std::cout << nlohmann::json{{"summary",
                                     {{"frames", frames},
                                      {"unique_tracks", ids.size()},
                                      {"mean_fps", rounded(mean_fps, 10)},
                                      {"detector", detector->name()},
                                      {"tracker", tracker->name()},
                                      {"corrupt_frames", stats.frames_corrupt + stats.packets_corrupt}}}}
                         .dump()
                  << "\n";
    } else {
        std::cout << fmt::format("{} frames, {} unique tracks, mean {:.1f} fps\n", frames, ids.size(), mean_fps);
        if (!options.mot_output.empty()) std::cout << "tracks written to " << options.mot_output << "\n";
        if (!options.video_output.empty()) std::cout << "annotated video written to " << options.video_output << "\n";
    }
    if (stats.frames_corrupt + stats.packets_corrupt > 0)
        std::cerr << fmt::format("vigil: warning: {} corrupt packets/frames in {} were skipped\n",
                                 stats.frames_corrupt + stats.packets_corrupt, options.input);
}

std::string detector_name_list() {
    std::string names;
    for (const auto& n : detect::detector_names()) {
        if (!names.empty()) names += ", ";
        names += n;
    }
    return names;
}

void add_track_command(CLI::App& app) {
    auto options = std::make_shared<TrackOptions>();
    auto classes = std::make_shared<std::string>();
    // ByteTrack's second association feeds on boxes down to 0.1; a detector
    // cut at its usual 0.25 would starve it.
    options->detector.score_threshold = 0.1f;
    auto* cmd = app.add_subcommand("track", "Detect and track objects through a video (ingest -> detect -> track)");
    cmd->add_option("VIDEO", options->input, "Video file")->required();
    cmd->add_option("-d,--detector", options->detector.name, "Detector: " + detector_name_list())
        ->capture_default_str();
    cmd->add_option("-t,--tracker", options->tracker, "bytetrack | sort")->capture_default_str();
    cmd->add_option("--fps", options->fps, "Thin the video to this many frames per second (0 = every frame)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--max-frames", options->max_frames, "Stop after this many frames (0 = all)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--score", options->detector.score_threshold, "Minimum detection score")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--classes", *classes, "Track only these classes (comma-separated, e.g. person,car)");
    cmd->add_option("--backend", options->detector.backend, "auto | onnxruntime | opencv")->capture_default_str();
    cmd->add_option("--threads", options->detector.threads, "Inference threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    cmd->add_option("--models-dir", options->detector.models_dir,
                    "Folder holding detectors/ (default: $VIGIL_MODELS_DIR)");
    cmd->add_option("-o,--out", options->mot_output,
                    "Write tracks in MOTChallenge format (frame,id,x,y,w,h,score,-1,-1,-1)");
    cmd->add_option("--out-video", options->video_output, "Write a video annotated with ids and trails (.mp4 or .avi)");
    cmd->add_flag("--json", options->json_output, "One JSON object per frame, then a summary object (JSON Lines)");
    cmd->callback([options, classes] {
        options->detector.classes = split_list(*classes);
        run_track(*options);
    });
}

}  // namespace

void add_vision_commands(CLI::App& app) {
    auto options = std::make_shared<DetectOptions>();
    auto classes = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("detect", "Run an object detector on an image or a video");
    cmd->add_option("INPUT", options->input, "Image (JPEG, PNG, BMP, video@SECONDSs) or video file")->required();
    cmd->add_option("-d,--detector", options->config.name, "Detector: " + detector_name_list())->capture_default_str();
    cmd->add_option("--backend", options->config.backend, "auto | onnxruntime | opencv")->capture_default_str();
    cmd->add_option("--threads", options->config.threads, "Inference threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    cmd->add_option("--score", options->config.score_threshold, "Minimum score")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--classes", *classes, "Keep only these classes (comma-separated, e.g. person,car)");
    cmd->add_option("--models-dir", options->config.models_dir,
                    "Folder holding detectors/ (default: $VIGIL_MODELS_DIR)");
    cmd->add_option("--max-frames", options->max_frames, "Video: stop after this many frames (0 = all)")
        ->check(CLI::NonNegativeNumber);
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
    add_track_command(app);
}

}  // namespace vigil::cli
