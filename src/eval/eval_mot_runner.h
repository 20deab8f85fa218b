#pragma once
// Scoring trackers on MOTChallenge sequences: find a sequence, read its
// public detections frame by frame, score a results file against its gt.
#include <filesystem>
#include <string>
#include <vector>

#include "core/detection.h"
#include "eval/eval_mot_io.h"
#include "eval/eval_mot_metrics.h"

namespace vigil::eval {

struct MotSequence {
    std::string name;
    std::filesystem::path dir;  // holds seqinfo.ini, gt/gt.txt, det/det.txt
    MotSeqInfo info;
};

// How a benchmark is scored. MOT16/17/20 use TrackEval's MotChallenge2DBox;
// MOT15 results are conventionally reported with py-motmetrics (mmtracking,
// the MOTChallenge devkit) and TrackEval's HOTA without preprocessing.
struct MotEvalOptions {
    MotPreprocessing preprocessing = MotPreprocessing::mot_challenge;
    ClearConvention clear_convention = ClearConvention::trackeval;
};

// MOT15 conventions when the sequence lives under a path naming MOT15 (as
// TrackEval and mmtracking decide), else MOT17's.
MotEvalOptions mot_eval_options_for(const std::filesystem::path& sequence_dir);

// dir must hold seqinfo.ini; throws vigil::Error otherwise.
MotSequence open_mot_sequence(const std::filesystem::path& dir);

// Sequences named in names, looked up as mot_dir/NAME, mot_dir/train/NAME and
// mot_dir/test/NAME; an empty names list takes every sequence directly under
// mot_dir or mot_dir/train. Throws vigil::Error naming what is missing.
std::vector<MotSequence> find_mot_sequences(const std::filesystem::path& mot_dir,
                                            const std::vector<std::string>& names);

// det/det.txt as per-frame detections: element i holds frame i + 1 (every
// frame of the sequence, possibly empty), in file order within a frame,
// whatever order the file's frames come in. Class is "person" (COCO id 0);
// score is the file's confidence column.
std::vector<std::vector<Detection>> load_mot_detections(const MotSequence& sequence);

// Scores results_file (MOTChallenge result format) against the sequence's gt.
MotMetrics evaluate_mot_results(const MotSequence& sequence, const std::filesystem::path& results_file,
                                const MotEvalOptions& options);

}  // namespace vigil::eval
