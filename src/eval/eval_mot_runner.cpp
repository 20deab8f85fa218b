#include "eval/eval_mot_runner.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"

namespace vigil::eval {

namespace fs = std::filesystem;

MotEvalOptions mot_eval_options_for(const fs::path& sequence_dir) {
    std::string text = fs::absolute(sequence_dir).lexically_normal().string();
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    MotEvalOptions options;
    if (text.find("MOT15") != std::string::npos) {
        options.preprocessing = MotPreprocessing::none;
        options.clear_convention = ClearConvention::py_motmetrics;
    }
    return options;
}

MotSequence open_mot_sequence(const fs::path& dir) {
    const fs::path ini = dir / "seqinfo.ini";
    if (!fs::is_regular_file(ini))
        throw Error(fmt::format("{} is not a MOTChallenge sequence: {} not found", dir.string(), ini.string()));
    MotSequence sequence;
    sequence.dir = dir;
    sequence.info = read_seqinfo(ini);
    sequence.name = dir.filename().string();
    return sequence;
}

std::vector<MotSequence> find_mot_sequences(const fs::path& mot_dir, const std::vector<std::string>& names) {
    if (!fs::is_directory(mot_dir)) throw Error(fmt::format("MOT directory {} does not exist", mot_dir.string()));
    std::vector<MotSequence> sequences;
    if (names.empty()) {
        for (const fs::path& root : {mot_dir, mot_dir / "train"}) {
            if (!fs::is_directory(root)) continue;
            std::vector<fs::path> dirs;
            for (const auto& entry : fs::directory_iterator(root))
                if (entry.is_directory() && fs::is_regular_file(entry.path() / "seqinfo.ini"))
                    dirs.push_back(entry.path());
            std::sort(dirs.begin(), dirs.end());
            for (const fs::path& d : dirs) sequences.push_back(open_mot_sequence(d));
            if (!sequences.empty()) break;
        }
        if (sequences.empty())
            throw Error(fmt::format("no sequences (folders with seqinfo.ini) under {} or {}/train", mot_dir.string(),
                                    mot_dir.string()));
        return sequences;
    }
    for (const std::string& name : names) {
        bool found = false;
        for (const fs::path& candidate : {mot_dir / name, mot_dir / "train" / name, mot_dir / "test" / name}) {
            if (fs::is_regular_file(candidate / "seqinfo.ini")) {
                sequences.push_back(open_mot_sequence(candidate));
                found = true;
                break;
            }
        }
        if (!found)
            throw Error(fmt::format("sequence '{}' not found under {} (looked in ., train/ and test/ for "
                                    "{}/seqinfo.ini)",
                                    name, mot_dir.string(), name));
    }
    return sequences;
}

std::vector<std::vector<Detection>> load_mot_detections(const MotSequence& sequence) {
    const fs::path det_path = sequence.dir / "det" / "det.txt";
    const auto frames = group_rows_by_frame(read_mot_rows(det_path), sequence.info.length, det_path.string());
    std::vector<std::vector<Detection>> detections(frames.size());
    for (size_t t = 0; t < frames.size(); ++t) {
        detections[t].reserve(frames[t].size());
        for (const MotRow& row : frames[t]) {
            Detection d;
            d.box = cv::Rect2f(static_cast<float>(row.x), static_cast<float>(row.y), static_cast<float>(row.w),
                               static_cast<float>(row.h));
            d.class_id = 0;
            d.label = "person";
            d.score = static_cast<float>(row.confidence);
            detections[t].push_back(std::move(d));
        }
    }
    return detections;
}

MotMetrics evaluate_mot_results(const MotSequence& sequence, const fs::path& results_file,
                                const MotEvalOptions& options) {
    const fs::path gt_path = sequence.dir / "gt" / "gt.txt";
    if (!fs::is_regular_file(gt_path))
        throw Error(fmt::format("sequence {} has no ground truth: {} not found", sequence.name, gt_path.string()));
    if (!fs::is_regular_file(results_file))
        throw Error(fmt::format("tracker results for {} not found: {}", sequence.name, results_file.string()));
    MotEvalData data = prepare_mot_eval_data(read_mot_rows(gt_path), read_mot_rows(results_file),
                                             sequence.info.length, options.preprocessing, gt_path.string(),
                                             results_file.string());
    data.name = sequence.name;
    return compute_mot_metrics(data, options.clear_convention);
}

}  // namespace vigil::eval
