// Hand-built tracking cases whose metric values are derived in the comments.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "eval/eval_mot_metrics.h"

namespace {

using vigil::eval::ClearConvention;
using vigil::eval::MotEvalData;
using vigil::eval::MotPreprocessing;
using vigil::eval::MotRow;

MotRow row(int frame, int id, double x, double y = 0, double w = 10, double h = 10, double conf = 1, int cls = 1) {
    MotRow r;
    r.frame = frame;
    r.id = id;
    r.x = x;
    r.y = y;
    r.w = w;
    r.h = h;
    r.confidence = conf;
    r.class_id = cls;
    return r;
}

MotEvalData prepare(const std::vector<MotRow>& gt, const std::vector<MotRow>& tracker, int frames,
                    MotPreprocessing preprocessing = MotPreprocessing::mot_challenge) {
    return vigil::eval::prepare_mot_eval_data(gt, tracker, frames, preprocessing, "gt.txt", "results.txt");
}

TEST(MotMetrics, PerfectTrackingScoresOne) {
    std::vector<MotRow> gt;
    for (int f = 1; f <= 5; ++f) {
        gt.push_back(row(f, 1, 10.0 * f));
        gt.push_back(row(f, 2, 200, 50, 20, 40));
    }
    std::vector<MotRow> tracker = gt;
    for (MotRow& r : tracker) r.id += 100;  // ids need not agree, only be consistent
    for (auto convention : {ClearConvention::trackeval, ClearConvention::py_motmetrics}) {
        const auto m = vigil::eval::compute_mot_metrics(prepare(gt, tracker, 5), convention);
        EXPECT_DOUBLE_EQ(m.hota.hota_mean(), 1.0);
        EXPECT_DOUBLE_EQ(m.hota.loc_a_mean(), 1.0);
        EXPECT_DOUBLE_EQ(m.clear.mota(), 1.0);
        EXPECT_DOUBLE_EQ(m.identity.idf1(), 1.0);
        EXPECT_EQ(m.clear.tp, 10);
        EXPECT_EQ(m.clear.idsw, 0);
        EXPECT_EQ(m.clear.mt, 2);
        EXPECT_EQ(m.clear.frag, 0);
    }
}

TEST(MotMetrics, OneIdSwitchHalvesAssociation) {
    // One object over 4 frames; the tracker calls it 1 in frames 1-2, 2 in 3-4.
    std::vector<MotRow> gt, tracker;
    for (int f = 1; f <= 4; ++f) {
        gt.push_back(row(f, 7, 0));
        tracker.push_back(row(f, f <= 2 ? 1 : 2, 0));
    }
    const auto m = vigil::eval::compute_mot_metrics(prepare(gt, tracker, 4));
    // CLEAR: 4 TP, 1 IDSW -> MOTA (4 - 0 - 1) / 4.
    EXPECT_EQ(m.clear.idsw, 1);
    EXPECT_DOUBLE_EQ(m.clear.mota(), 0.75);
    // Identity: gt 7 pairs with one tracker id for 2 frames: IDTP 2, IDFN 2,
    // IDFP 2 -> IDF1 2 / (2 + 1 + 1).
    EXPECT_EQ(m.identity.idtp, 2);
    EXPECT_DOUBLE_EQ(m.identity.idf1(), 0.5);
    // HOTA: DetA 1; each (gt, tracker) pair has 2 matches, A = 2 / (4 + 2 - 2)
    // = 0.5, so AssA = 0.5 and HOTA = sqrt(0.5).
    EXPECT_DOUBLE_EQ(m.hota.det_a_mean(), 1.0);
    EXPECT_NEAR(m.hota.ass_a_mean(), 0.5, 1e-12);
    EXPECT_NEAR(m.hota.hota_mean(), std::sqrt(0.5), 1e-12);
}

TEST(MotMetrics, ConventionsDifferOnReacquisitionAfterAMiss) {
    // Frame 1: gt 1 matched by tracker 1. Frame 2: gt 1 missed (tracker 2
    // elsewhere). Frame 3: trackers 1 and 2 both cover gt 1, tracker 2 better.
    const std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0), row(3, 1, 0)};
    const std::vector<MotRow> tracker = {row(1, 1, 0), row(2, 2, 500), row(3, 1, 2), row(3, 2, 0)};
    const auto data = prepare(gt, tracker, 3);
    // TrackEval only prefers the previous frame's match (none here): it takes
    // the best IoU, tracker 2, and counts a switch.
    const auto trackeval = vigil::eval::compute_clear(data, ClearConvention::trackeval);
    EXPECT_EQ(trackeval.idsw, 1);
    EXPECT_EQ(trackeval.frag, 1);
    // py-motmetrics keeps the last match ever, tracker 1: no switch.
    const auto motmetrics = vigil::eval::compute_clear(data, ClearConvention::py_motmetrics);
    EXPECT_EQ(motmetrics.idsw, 0);
    EXPECT_EQ(motmetrics.frag, 1);
    for (const auto& clear : {trackeval, motmetrics}) {
        EXPECT_EQ(clear.tp, 2);
        EXPECT_EQ(clear.fn, 1);
        EXPECT_EQ(clear.fp, 2);
    }
}

TEST(MotMetrics, MostlyTrackedBoundaryFollowsEachConvention) {
    // Tracked in 4 of 5 frames: exactly 80 %.
    std::vector<MotRow> gt, tracker;
    for (int f = 1; f <= 5; ++f) {
        gt.push_back(row(f, 1, 0));
        if (f != 3) tracker.push_back(row(f, 1, 0));
    }
    const auto data = prepare(gt, tracker, 5);
    const auto trackeval = vigil::eval::compute_clear(data, ClearConvention::trackeval);
    EXPECT_EQ(trackeval.mt, 0);  // TrackEval needs more than 80 %
    EXPECT_EQ(trackeval.pt, 1);
    const auto motmetrics = vigil::eval::compute_clear(data, ClearConvention::py_motmetrics);
    EXPECT_EQ(motmetrics.mt, 1);  // py-motmetrics: at least 80 %
    EXPECT_EQ(motmetrics.pt, 0);
}

TEST(MotMetrics, MotChallengePreprocessingDropsDistractorsAndZeroMarkedGt) {
    const std::vector<MotRow> gt = {
        row(1, 1, 0),                         // pedestrian
        row(1, 2, 100, 0, 10, 10, 1, 7),      // static person (distractor class)
        row(1, 3, 200, 0, 10, 10, 0, 1),      // pedestrian marked "do not consider"
        row(1, 4, 300, 0, 10, 10, 1, 3),      // car
    };
    const std::vector<MotRow> tracker = {row(1, 1, 0), row(1, 2, 100), row(1, 3, 200), row(1, 4, 300),
                                         row(1, 5, 400)};
    // MOTChallenge: the box on the static person is removed; gt keeps only
    // pedestrian 1; boxes on the ignored pedestrian, the car and nothing are FP.
    const auto mot = vigil::eval::compute_clear(prepare(gt, tracker, 1, MotPreprocessing::mot_challenge));
    EXPECT_EQ(mot.tp, 1);
    EXPECT_EQ(mot.fn, 0);
    EXPECT_EQ(mot.fp, 3);
    // MOT15-style: classes ignored, only "consider == 0" gt dropped: 3 gt
    // matched, the boxes on the ignored pedestrian and on nothing are FP.
    const auto none = vigil::eval::compute_clear(prepare(gt, tracker, 1, MotPreprocessing::none));
    EXPECT_EQ(none.tp, 3);
    EXPECT_EQ(none.fn, 0);
    EXPECT_EQ(none.fp, 2);
}

TEST(MotMetrics, FileOrderAndMissingTrackerFramesDoNotMatter) {
    std::vector<MotRow> gt, tracker;
    for (int f = 1; f <= 6; ++f) {
        gt.push_back(row(f, 1, 5.0 * f));
        gt.push_back(row(f, 2, 100 + 5.0 * f));
        if (f != 4) {  // the tracker wrote nothing for frame 4
            tracker.push_back(row(f, 11, 5.0 * f + 1));
            tracker.push_back(row(f, 12, 100 + 5.0 * f));
        }
    }
    std::vector<MotRow> shuffled_gt(gt.rbegin(), gt.rend()), shuffled_tracker(tracker.rbegin(), tracker.rend());
    const auto a = vigil::eval::compute_mot_metrics(prepare(gt, tracker, 6));
    const auto b = vigil::eval::compute_mot_metrics(prepare(shuffled_gt, shuffled_tracker, 6));
    EXPECT_EQ(a.clear.fn, 2);  // both objects missed in frame 4
    // TrackEval skips a frame without tracker boxes before updating its
    // "tracked in the previous frame" state, so this gap is no fragment...
    EXPECT_EQ(a.clear.frag, 0);
    // ...while py-motmetrics sees tracked -> missed -> tracked for both.
    EXPECT_EQ(vigil::eval::compute_clear(prepare(gt, tracker, 6), ClearConvention::py_motmetrics).frag, 2);
    EXPECT_EQ(a.clear.idsw, 0);
    EXPECT_DOUBLE_EQ(a.hota.hota_mean(), b.hota.hota_mean());
    EXPECT_DOUBLE_EQ(a.clear.mota(), b.clear.mota());
    EXPECT_DOUBLE_EQ(a.identity.idf1(), b.identity.idf1());
    EXPECT_EQ(a.clear.frag, b.clear.frag);
}

TEST(MotMetrics, EmptyTrackerScoresZero) {
    const std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0), row(2, 2, 50)};
    const auto m = vigil::eval::compute_mot_metrics(prepare(gt, {}, 2));
    EXPECT_EQ(m.clear.fn, 3);
    EXPECT_EQ(m.clear.ml, 2);
    EXPECT_DOUBLE_EQ(m.clear.mota(), 0.0);
    EXPECT_DOUBLE_EQ(m.hota.hota_mean(), 0.0);
    EXPECT_EQ(m.identity.idfn, 3);
    EXPECT_DOUBLE_EQ(m.identity.idf1(), 0.0);
}

TEST(MotMetrics, CombiningSumsCountsAndWeightsAssociationByTp) {
    std::vector<MotRow> gt, good, bad;
    for (int f = 1; f <= 4; ++f) {
        gt.push_back(row(f, 1, 0));
        good.push_back(row(f, 1, 0));
        bad.push_back(row(f, f, 0));  // a new id every frame
    }
    const auto a = vigil::eval::compute_mot_metrics(prepare(gt, good, 4));
    const auto b = vigil::eval::compute_mot_metrics(prepare(gt, bad, 4));
    const auto combined = vigil::eval::combine_mot_metrics({a, b});
    EXPECT_EQ(combined.clear.tp, 8);
    EXPECT_EQ(combined.clear.idsw, 3);
    // AssA: 1 for a; for b each pair has 1 match: 1 / (4 + 1 - 1) = 0.25.
    // Equal TP, so the combined AssA is their mean.
    EXPECT_NEAR(combined.hota.ass_a_mean(), (1.0 + 0.25) / 2, 1e-12);
    EXPECT_NEAR(combined.identity.idf1(), (4.0 + 1.0) / 8.0, 1e-12);
}

TEST(MotMetrics, RejectsDuplicateIdsAndFramesOutsideTheSequence) {
    const std::vector<MotRow> gt = {row(1, 1, 0), row(2, 1, 0)};
    try {
        prepare(gt, {row(1, 3, 0), row(1, 3, 40)}, 2);
        FAIL() << "duplicate id accepted";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("results.txt: id 3 appears more than once in frame 1"), std::string::npos)
            << e.what();
    }
    try {
        prepare(gt, {row(3, 1, 0)}, 2);
        FAIL() << "frame beyond seqLength accepted";
    } catch (const vigil::Error& e) {
        EXPECT_NE(std::string(e.what()).find("frame 3 is outside"), std::string::npos) << e.what();
    }
    EXPECT_THROW(prepare(gt, {row(1, 1, 0, 0, 10, 10, 1, 3)}, 2), vigil::Error);  // non-pedestrian class
}

}  // namespace
