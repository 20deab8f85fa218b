#pragma once
// Turns raw gt and tracker rows into what the metrics score: per frame, the
// gt and tracker ids (relabelled 0..n-1 in order of original id) and their
// IoU matrix, after the benchmark's filtering.
#include <string>
#include <vector>

#include "eval/eval_mot_io.h"

namespace vigil::eval {

enum class MotPreprocessing {
    // TrackEval's MotChallenge2DBox for MOT16/17/20: tracker boxes matched
    // (Hungarian, IoU >= 0.5) to a gt box of a distractor class (person on
    // vehicle 2, static person 7, distractor 8, reflection 12) are dropped;
    // then only gt of class 1 (pedestrian) with consider != 0 is kept.
    mot_challenge,
    // MOT15 (no classes): only gt rows with consider == 0 are dropped;
    // every tracker box is kept.
    none,
};

struct MotEvalData {
    std::string name;
    int num_frames = 0;
    std::vector<std::vector<int>> gt_ids;       // per frame, contiguous 0..num_gt_ids-1
    std::vector<std::vector<int>> tracker_ids;  // per frame, contiguous 0..num_tracker_ids-1
    // per frame, row-major gt_ids[t].size() x tracker_ids[t].size() IoU
    std::vector<std::vector<double>> similarity;
    int num_gt_ids = 0;
    int num_tracker_ids = 0;
    long num_gt_dets = 0;
    long num_tracker_dets = 0;
};

// IoU of two x,y,w,h boxes (corners x and x + w, as TrackEval and
// py-motmetrics compute it); 0 when either box or the union is empty.
double mot_box_iou(const MotRow& a, const MotRow& b);

// gt_rows / tracker_rows in any order; frames outside 1..num_frames and ids
// repeated within one frame throw vigil::Error naming gt_source or
// tracker_source. Tracker rows of a class other than -1/0/1 are rejected
// under mot_challenge (TrackEval scores pedestrians only).
MotEvalData prepare_mot_eval_data(const std::vector<MotRow>& gt_rows, const std::vector<MotRow>& tracker_rows,
                                  int num_frames, MotPreprocessing preprocessing, const std::string& gt_source,
                                  const std::string& tracker_source);

}  // namespace vigil::eval
