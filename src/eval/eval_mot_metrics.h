#pragma once
// Tracking metrics over MotEvalData: HOTA (Luiten et al. 2020), CLEAR MOT
// (Bernardin & Stiefelhagen 2008) and Identity (Ristani et al. 2016),
// defined as TrackEval computes them; CLEAR can also follow py-motmetrics,
// whose MOT15 numbers mmtracking and the MOTChallenge devkit report.
#include <array>
#include <string>
#include <vector>

#include "eval/eval_mot_preprocess.h"

namespace vigil::eval {

constexpr int kHotaAlphaCount = 19;  // localisation thresholds 0.05, 0.10, ..., 0.95

// Threshold alpha of index a, exactly as numpy.arange(0.05, 0.99, 0.05) gives it.
double hota_alpha(int a);

struct HotaResult {
    using PerAlpha = std::array<double, kHotaAlphaCount>;
    // Counts and association sums per alpha; the scores below derive from them.
    PerAlpha tp{}, fn{}, fp{};
    PerAlpha ass_a{}, ass_re{}, ass_pr{}, loc_a{};
    PerAlpha det_a{}, det_re{}, det_pr{}, hota{};

    // Averages over the 19 alphas (TrackEval's "___AUC" columns).
    double hota_mean() const;
    double det_a_mean() const;
    double ass_a_mean() const;
    double loc_a_mean() const;
    double det_re_mean() const;
    double det_pr_mean() const;
    double ass_re_mean() const;
    double ass_pr_mean() const;
};

enum class ClearConvention {
    // TrackEval: a gt keeps its match of the previous frame where possible
    // (+1000 bonus in one Hungarian maximising IoU); MT > 80 %, PT >= 20 %;
    // a fragment starts whenever a gt becomes tracked after a frame in which
    // it was not (absent gt frames count as untracked).
    trackeval,
    // py-motmetrics: a gt first keeps its last match ever (any earlier
    // frame), then a Hungarian maximising the number of pairs and then
    // minimising 1 - IoU; MT >= 80 %, PT >= 20 %; fragments count
    // tracked -> missed transitions over the frames where the gt is present.
    py_motmetrics,
};

struct ClearResult {
    long tp = 0, fn = 0, fp = 0, idsw = 0;
    long mt = 0, pt = 0, ml = 0, frag = 0;
    long frames = 0;
    double iou_sum = 0;  // summed IoU of matched pairs

    double mota() const;    // (TP - FP - IDSW) / (TP + FN)
    double moda() const;
    double motp() const;    // mean IoU of matches (py-motmetrics reports 1 - this)
    double recall() const;
    double precision() const;
};

struct IdentityResult {
    long idtp = 0, idfn = 0, idfp = 0;
    double idf1() const;
    double idp() const;
    double idr() const;
};

struct MotMetrics {
    std::string name;
    HotaResult hota;
    ClearResult clear;
    IdentityResult identity;
    long gt_dets = 0, tracker_dets = 0;
    long gt_ids = 0, tracker_ids = 0;
};

HotaResult compute_hota(const MotEvalData& data);
ClearResult compute_clear(const MotEvalData& data, ClearConvention convention = ClearConvention::trackeval,
                          double iou_threshold = 0.5);
// Global min-cost assignment of gt ids to tracker ids over the whole
// sequence; a pair counts for a frame when IoU >= iou_threshold.
IdentityResult compute_identity(const MotEvalData& data, double iou_threshold = 0.5);

MotMetrics compute_mot_metrics(const MotEvalData& data, ClearConvention convention = ClearConvention::trackeval);

// Combines sequences as TrackEval's COMBINED_SEQ row (and py-motmetrics'
// OVERALL row) do: counts summed, HOTA association scores weighted by TP.
MotMetrics combine_mot_metrics(const std::vector<MotMetrics>& sequences, const std::string& name = "COMBINED");

}  // namespace vigil::eval
