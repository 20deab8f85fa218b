// `vigil eval track|detect`: benchmark trackers on MOTChallenge sequences
// (HOTA / CLEAR / Identity, as TrackEval and py-motmetrics compute them) and
// detectors on YOLO-labelled images (COCO-style mAP). A thin layer over
// src/eval.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <unistd.h>

#include "cli/cli_app.h"
#include "core/error.h"
#include "core/image_io.h"
#include "detect/detector.h"
#include "eval/eval_detection_map.h"
#include "eval/eval_mot_runner.h"
#include "track/tracker.h"

namespace vigil::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) items.push_back(item);
    }
    return items;
}

struct EvalTrackArgs {
    std::string mot_dir;
    std::string seqs;
    std::string results_dir;
    std::string trackers;
    std::string benchmark = "auto";
    bool json = false;
};

// One row of the tracking table: a tracker's metrics on one sequence or combined.
struct TrackRow {
    std::string tracker;
    eval::MotMetrics metrics;
    double frames_per_s = 0;  // tracker speed; 0 when scoring existing results
};

eval::MotEvalOptions options_for(const EvalTrackArgs& args, const eval::MotSequence& sequence) {
    if (args.benchmark == "auto") return eval::mot_eval_options_for(sequence.dir);
    eval::MotEvalOptions options;
    if (args.benchmark == "mot15") {
        options.preprocessing = eval::MotPreprocessing::none;
        options.clear_convention = eval::ClearConvention::py_motmetrics;
    }
    return options;
}

fs::path existing_results_file(const fs::path& dir, const std::string& seq) {
    for (const fs::path& candidate : {dir / (seq + ".txt"), dir / "data" / (seq + ".txt")})
        if (fs::is_regular_file(candidate)) return candidate;
    throw Error(fmt::format("no results for sequence {}: expected {} (or {})", seq, (dir / (seq + ".txt")).string(),
                            (dir / "data" / (seq + ".txt")).string()));
}

// Runs one tracker over a sequence's public detections and writes its results.
double run_tracker_on_sequence(const std::string& algorithm, const eval::MotSequence& sequence,
                               const fs::path& results_file) {
    track::TrackerConfig config;
    config.algorithm = algorithm;
    if (sequence.info.frame_rate > 0) config.frame_rate = sequence.info.frame_rate;
    const auto tracker = track::make_tracker(config);
    const auto frames = eval::load_mot_detections(sequence);
    const double fps = config.frame_rate;
    std::vector<std::vector<Track>> tracks(frames.size());
    const auto start = Clock::now();
    for (size_t i = 0; i < frames.size(); ++i) tracks[i] = tracker->update(frames[i], static_cast<double>(i) / fps);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    eval::write_mot_results(results_file, tracks);
    return seconds > 0 ? static_cast<double>(frames.size()) / seconds : 0;
}

nlohmann::json metrics_json(const TrackRow& row) {
    const auto& m = row.metrics;
    nlohmann::json j = {
        {"tracker", row.tracker},   {"sequence", m.name},
        {"HOTA", m.hota.hota_mean()}, {"DetA", m.hota.det_a_mean()},
        {"AssA", m.hota.ass_a_mean()}, {"LocA", m.hota.loc_a_mean()},
        {"DetRe", m.hota.det_re_mean()}, {"DetPr", m.hota.det_pr_mean()},
        {"AssRe", m.hota.ass_re_mean()}, {"AssPr", m.hota.ass_pr_mean()},
        {"MOTA", m.clear.mota()},   {"MOTP", m.clear.motp()},
        {"CLR_TP", m.clear.tp},     {"CLR_FN", m.clear.fn},
        {"CLR_FP", m.clear.fp},     {"IDSW", m.clear.idsw},
        {"MT", m.clear.mt},         {"PT", m.clear.pt},
        {"ML", m.clear.ml},         {"Frag", m.clear.frag},
        {"IDF1", m.identity.idf1()}, {"IDP", m.identity.idp()},
        {"IDR", m.identity.idr()},  {"IDTP", m.identity.idtp},
        {"IDFN", m.identity.idfn},  {"IDFP", m.identity.idfp},
        {"GT_IDs", m.gt_ids},       {"IDs", m.tracker_ids},
    };
    if (row.frames_per_s > 0) j["tracker_fps"] = row.frames_per_s;
    return j;
}

void print_track_table(const std::vector<TrackRow>& rows, bool show_tracker) {
    size_t name_width = 8;
    for (const TrackRow& row : rows) name_width = std::max(name_width, row.metrics.name.size());
    std::string header = show_tracker ? fmt::format("{:<10} ", "tracker") : "";
    header += fmt::format("{:<{}} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>5} {:>5} {:>6}", "sequence", name_width,
                          "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "MT", "ML", "Frag");
    if (show_tracker) header += fmt::format(" {:>8}", "fps");
    std::cout << header << "\n" << std::string(header.size(), '-') << "\n";
    for (const TrackRow& row : rows) {
        const auto& m = row.metrics;
        std::string line = show_tracker ? fmt::format("{:<10} ", row.tracker) : "";
        line += fmt::format("{:<{}} {:>7.3f} {:>7.3f} {:>7.3f} {:>7.3f} {:>7.3f} {:>6} {:>5} {:>5} {:>6}", m.name,
                            name_width, 100 * m.hota.hota_mean(), 100 * m.hota.det_a_mean(),
                            100 * m.hota.ass_a_mean(), 100 * m.clear.mota(), 100 * m.identity.idf1(), m.clear.idsw,
                            m.clear.mt, m.clear.ml, m.clear.frag);
        if (show_tracker) line += row.frames_per_s > 0 ? fmt::format(" {:>8.0f}", row.frames_per_s) : "         ";
        std::cout << line << "\n";
    }
}

void run_eval_track(const EvalTrackArgs& args) {
    if (args.benchmark != "auto" && args.benchmark != "mot15" && args.benchmark != "mot17")
        throw Error("--benchmark must be auto, mot15 or mot17, got '" + args.benchmark + "'");
    const auto trackers = split_list(args.trackers);
    if (trackers.empty() && args.results_dir.empty())
        throw Error("eval track needs --results DIR (existing tracker outputs, DIR/<sequence>.txt) or "
                    "--tracker NAMES (run trackers on det/det.txt)");
    const auto sequences = eval::find_mot_sequences(args.mot_dir, split_list(args.seqs));

    std::vector<TrackRow> rows;
    auto score_tracker = [&](const std::string& tracker_name, auto results_for) {
        std::vector<eval::MotMetrics> per_sequence;
        double total_frames = 0, total_seconds = 0;
        for (const auto& sequence : sequences) {
            const auto [results_file, fps] = results_for(sequence);
            TrackRow row{tracker_name, eval::evaluate_mot_results(sequence, results_file, options_for(args, sequence)),
                         fps};
            if (fps > 0) {
                total_frames += sequence.info.length;
                total_seconds += sequence.info.length / fps;
            }
            per_sequence.push_back(row.metrics);
            rows.push_back(std::move(row));
        }
        rows.push_back({tracker_name, eval::combine_mot_metrics(per_sequence, "COMBINED"),
                        total_seconds > 0 ? total_frames / total_seconds : 0});
    };

    if (trackers.empty()) {
        const fs::path dir = args.results_dir;
        const std::string name =
            dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
        score_tracker(name, [&](const eval::MotSequence& sequence) {
            return std::pair<fs::path, double>{existing_results_file(dir, sequence.name), 0.0};
        });
    } else {
        // Results go to --results DIR/<tracker>/ when given, else a scratch folder.
        const bool keep = !args.results_dir.empty();
        const fs::path out_root =
            keep ? fs::path(args.results_dir)
                 : fs::temp_directory_path() / fmt::format("vigil-eval-track-{}", static_cast<long>(getpid()));
        try {
            for (const std::string& name : trackers)
                score_tracker(name, [&](const eval::MotSequence& sequence) {
                    const fs::path file = out_root / name / (sequence.name + ".txt");
                    const double fps = run_tracker_on_sequence(name, sequence, file);
                    return std::pair<fs::path, double>{file, fps};
                });
        } catch (...) {
            if (!keep) fs::remove_all(out_root);
            throw;
        }
        if (!keep) fs::remove_all(out_root);
    }

    if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const TrackRow& row : rows) out.push_back(metrics_json(row));
        std::cout << out.dump(2) << "\n";
        return;
    }
    print_track_table(rows, !trackers.empty());
}

struct EvalDetectArgs {
    std::string detector = "yolox-nano";
    std::string images;
    std::string labels;
    std::string models_dir;
    std::string backend = "auto";
    int threads = 1;
    float score_threshold = 0.001f;
    int limit = 0;
    bool json = false;
};

bool is_image_file(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

void run_eval_detect(const EvalDetectArgs& args) {
    if (!fs::is_directory(args.images)) throw Error("--images " + args.images + " is not a directory");
    if (!fs::is_directory(args.labels)) throw Error("--labels " + args.labels + " is not a directory");
    std::vector<fs::path> image_files;
    for (const auto& entry : fs::directory_iterator(args.images))
        if (entry.is_regular_file() && is_image_file(entry.path())) image_files.push_back(entry.path());
    std::sort(image_files.begin(), image_files.end());
    if (args.limit > 0 && static_cast<int>(image_files.size()) > args.limit) image_files.resize(args.limit);
    if (image_files.empty()) throw Error("no .jpg/.png/.bmp images in " + args.images);

    detect::DetectorConfig config;
    config.name = args.detector;
    config.models_dir = args.models_dir;
    config.backend = args.backend;
    config.threads = args.threads;
    config.score_threshold = args.score_threshold;
    const auto detector = detect::make_detector(config);

    std::vector<eval::ImageDetections> images;
    double detect_seconds = 0;
    for (const fs::path& file : image_files) {
        const cv::Mat bgr = load_image_bgr(file.string());
        eval::ImageDetections image;
        image.ground_truth = eval::read_yolo_labels(fs::path(args.labels) / (file.stem().string() + ".txt"), bgr.size());
        const auto start = Clock::now();
        image.detections = detector->detect(bgr);
        detect_seconds += std::chrono::duration<double>(Clock::now() - start).count();
        images.push_back(std::move(image));
    }
    const auto result = eval::compute_detection_map(images);
    const double images_per_s = detect_seconds > 0 ? images.size() / detect_seconds : 0;
    const auto& names = detector->class_names();
    auto class_name = [&](int id) {
        return id >= 0 && id < static_cast<int>(names.size()) ? names[id] : std::to_string(id);
    };

    if (args.json) {
        nlohmann::json per_class = nlohmann::json::array();
        for (const auto& ap : result.per_class)
            per_class.push_back({{"class_id", ap.class_id},
                                 {"class", class_name(ap.class_id)},
                                 {"gt", ap.num_ground_truth},
                                 {"detections", ap.num_detections},
                                 {"AP50", ap.ap50()},
                                 {"AP50_95", ap.ap50_95()}});
        nlohmann::json out = {{"detector", detector->name()}, {"images", result.images},
                              {"mAP50", result.map50},       {"mAP50_95", result.map50_95},
                              {"images_per_s", images_per_s}, {"per_class", per_class}};
        std::cout << out.dump(2) << "\n";
        return;
    }
    std::cout << fmt::format("detector      {}\nimages        {}\nmAP@0.5       {:.4f}\nmAP@0.5:0.95  {:.4f}\n"
                             "images/s      {:.2f}\n\n",
                             detector->name(), result.images, result.map50, result.map50_95, images_per_s);
    std::cout << fmt::format("{:<16} {:>5} {:>6} {:>8} {:>10}\n", "class", "gt", "dets", "AP50", "AP50:95");
    for (const auto& ap : result.per_class)
        std::cout << fmt::format("{:<16} {:>5} {:>6} {:>8.4f} {:>10.4f}\n", class_name(ap.class_id),
                                 ap.num_ground_truth, ap.num_detections, ap.ap50(), ap.ap50_95());
}

}  // namespace

void add_eval_commands(CLI::App& app) {
    auto* eval = app.add_subcommand("eval", "Benchmark trackers (MOTChallenge) and detectors (COCO-style mAP)");
    eval->require_subcommand(1);

    auto track_args = std::make_shared<EvalTrackArgs>();
    auto* track = eval->add_subcommand(
        "track", "Score tracker outputs on MOTChallenge sequences: HOTA, DetA, AssA, MOTA, IDF1, IDSW, MT, ML, Frag");
    track->add_option("--mot", track_args->mot_dir, "MOTChallenge folder (sequences in it or in its train/)")
        ->required();
    track->add_option("--seqs", track_args->seqs, "Comma-separated sequence names (default: all found)");
    track->add_option("--results", track_args->results_dir,
                      "Existing results (DIR/<sequence>.txt); with --tracker, where to write them (DIR/<tracker>/)");
    track->add_option("--tracker", track_args->trackers,
                      "Comma-separated trackers to run on det/det.txt (bytetrack, sort)");
    track->add_option("--benchmark", track_args->benchmark,
                      "Scoring conventions: auto (MOT15 when the path says so), mot15, mot17");
    track->add_flag("--json", track_args->json, "Print JSON instead of a table");
    track->callback([track_args] { run_eval_track(*track_args); });

    auto detect_args = std::make_shared<EvalDetectArgs>();
    auto* detect = eval->add_subcommand("detect", "Score a detector on YOLO-labelled images: mAP@0.5, mAP@0.5:0.95");
    detect->add_option("--detector", detect_args->detector, "Detector name (see `vigil detect --help`)");
    detect->add_option("--images", detect_args->images, "Folder of images")->required();
    detect->add_option("--labels", detect_args->labels, "Folder of YOLO label files (<image stem>.txt)")->required();
    detect->add_option("--models-dir", detect_args->models_dir, "Where detector weights are (default: models dir)");
    detect->add_option("--backend", detect_args->backend, "auto | onnxruntime | opencv");
    detect->add_option("--threads", detect_args->threads, "Inference threads");
    detect->add_option("--score-threshold", detect_args->score_threshold,
                       "Keep detections at least this confident (COCO evaluation uses 0.001)");
    detect->add_option("--limit", detect_args->limit, "Use only the first N images (sorted by name)");
    detect->add_flag("--json", detect_args->json, "Print JSON");
    detect->callback([detect_args] { run_eval_detect(*detect_args); });
}

}  // namespace vigil::cli
