// Reproduces published metric values: TrackEval's MOT17 output for the MoTT
// tracker, and mmtracking / py-motmetrics' MOT15 TUD numbers. The data and
// its provenance are in shared/eval/mot (SOURCES.md, REFERENCE_METRICS.md).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "eval/eval_mot_runner.h"
#include "testing/test_support.h"

namespace {

using vigil::eval::ClearConvention;
using vigil::eval::MotEvalOptions;
using vigil::eval::MotMetrics;
using vigil::eval::MotPreprocessing;
using vigil::testing::shared_path;

// "To 3 decimals": the reference prints rounded values.
constexpr double kThreeDecimals = 5e-4 + 1e-9;

MotMetrics score_sequence(const std::string& benchmark_dir, const std::string& seq, const std::string& results_dir) {
    const auto sequence = vigil::eval::open_mot_sequence(shared_path(benchmark_dir + "/train/" + seq));
    const auto results = shared_path(results_dir + "/" + seq + ".txt");
    return vigil::eval::evaluate_mot_results(sequence, results, vigil::eval::mot_eval_options_for(sequence.dir));
}

// ---- MOT15: py-motmetrics rows (IoU 0.5, no preprocessing) ---------------

struct PyMotmetricsRow {
    const char* seq;
    double idf1, idp, idr, recall, precision;
    long mt, pt, ml, fp, fn, ids, fm;
    double mota, motp_distance;
};

const PyMotmetricsRow kMot15Rows[] = {
    {"TUD-Campus", 0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 1, 6, 1, 13, 150, 7, 7, 0.526462, 0.277201},
    {"TUD-Stadtmitte", 0.644619, 0.819760, 0.531142, 0.608997, 0.939920, 5, 4, 1, 45, 452, 7, 6, 0.564014, 0.345904},
    {"OVERALL", 0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 6, 10, 2, 58, 602, 14, 13, 0.555116, 0.330177},
};

void expect_matches_py_motmetrics(const MotMetrics& m, const PyMotmetricsRow& row) {
    SCOPED_TRACE(row.seq);
    EXPECT_NEAR(m.identity.idf1(), row.idf1, 1e-6);
    EXPECT_NEAR(m.identity.idp(), row.idp, 1e-6);
    EXPECT_NEAR(m.identity.idr(), row.idr, 1e-6);
    EXPECT_NEAR(m.clear.recall(), row.recall, 1e-6);
    EXPECT_NEAR(m.clear.precision(), row.precision, 1e-6);
    EXPECT_EQ(m.clear.mt, row.mt);
    EXPECT_EQ(m.clear.pt, row.pt);
    EXPECT_EQ(m.clear.ml, row.ml);
    EXPECT_EQ(m.clear.fp, row.fp);
    EXPECT_EQ(m.clear.fn, row.fn);
    EXPECT_EQ(m.clear.idsw, row.ids);
    EXPECT_EQ(m.clear.frag, row.fm);
    EXPECT_NEAR(m.clear.mota(), row.mota, 1e-6);
    EXPECT_NEAR(1.0 - m.clear.motp(), row.motp_distance, 1e-6);
}

TEST(MotMetricsReference, Mot15SequencesMatchPyMotmetricsRows) {
    for (int i = 0; i < 2; ++i)
        expect_matches_py_motmetrics(
            score_sequence("eval/mot/MOT15", kMot15Rows[i].seq, "eval/mot/MOT15/reference-tracker-results"),
            kMot15Rows[i]);
}

TEST(MotMetricsReference, Mot15OverallMatchesPyMotmetricsAndMmtracking) {
    std::vector<MotMetrics> sequences;
    for (const char* seq : {"TUD-Campus", "TUD-Stadtmitte"})
        sequences.push_back(score_sequence("eval/mot/MOT15", seq, "eval/mot/MOT15/reference-tracker-results"));
    const MotMetrics overall = vigil::eval::combine_mot_metrics(sequences);
    expect_matches_py_motmetrics(overall, kMot15Rows[2]);
    // mmtracking's test_mot15_track_evaluation asserts these, rounded to 3 decimals.
    EXPECT_NEAR(overall.identity.idf1(), 0.624, kThreeDecimals);
    EXPECT_NEAR(overall.identity.idp(), 0.799, kThreeDecimals);
    EXPECT_NEAR(overall.clear.mota(), 0.555, kThreeDecimals);
    EXPECT_EQ(overall.clear.idsw, 14);
    EXPECT_NEAR(overall.hota.hota_mean(), 0.400, kThreeDecimals);
}

// ---- MOT17: TrackEval MotChallenge2DBox ------------------------------------

struct TrackEvalRow {
    const char* seq;
    double hota, det_a, ass_a, mota, idf1;
    long tp, fn, fp, idsw, mt, ml, frag;
    friend void PrintTo(const TrackEvalRow& row, std::ostream* out) { *out << row.seq; }
};

const TrackEvalRow kMot17Rows[] = {
    {"MOT17-02-FRCNN", 0.52538, 0.70161, 0.39743, 0.81072, 0.55124, 15955, 2626, 723, 168, 42, 6, 156},
    {"MOT17-04-FRCNN", 0.90059, 0.91233, 0.88958, 0.98579, 0.96794, 47060, 497, 147, 32, 81, 0, 32},
    {"MOT17-05-FRCNN", 0.70197, 0.73751, 0.67088, 0.85528, 0.82784, 6382, 535, 409, 57, 96, 8, 56},
    {"MOT17-09-FRCNN", 0.65188, 0.77567, 0.54889, 0.88038, 0.73969, 4947, 378, 227, 32, 24, 0, 33},
    {"MOT17-10-FRCNN", 0.54644, 0.65417, 0.45907, 0.78433, 0.63775, 10833, 2006, 626, 137, 41, 0, 195},
};

class Mot17TrackEvalReference : public ::testing::TestWithParam<TrackEvalRow> {};

TEST_P(Mot17TrackEvalReference, MoTTSequenceMatchesTrackEval) {
    const TrackEvalRow& row = GetParam();
    const MotMetrics m = score_sequence("eval/mot/MOT17", row.seq, "eval/mot/MOT17/reference-tracker-MoTT/data");
    EXPECT_NEAR(m.hota.hota_mean(), row.hota, 1e-5);
    EXPECT_NEAR(m.hota.det_a_mean(), row.det_a, 1e-5);
    EXPECT_NEAR(m.hota.ass_a_mean(), row.ass_a, 1e-5);
    EXPECT_NEAR(m.clear.mota(), row.mota, 1e-5);
    EXPECT_NEAR(m.identity.idf1(), row.idf1, 1e-5);
    EXPECT_EQ(m.clear.tp, row.tp);
    EXPECT_EQ(m.clear.fn, row.fn);
    EXPECT_EQ(m.clear.fp, row.fp);
    EXPECT_EQ(m.clear.idsw, row.idsw);
    EXPECT_EQ(m.clear.mt, row.mt);
    EXPECT_EQ(m.clear.ml, row.ml);
    EXPECT_EQ(m.clear.frag, row.frag);
}

INSTANTIATE_TEST_SUITE_P(MotMetricsReference, Mot17TrackEvalReference, ::testing::ValuesIn(kMot17Rows),
                         [](const ::testing::TestParamInfo<TrackEvalRow>& param_info) {
                             std::string name = param_info.param.seq;
                             for (char& c : name)
                                 if (c == '-') c = '_';
                             return name;
                         });

// Every column of TrackEval's pedestrian_detailed.csv we compute, per sequence.
std::map<std::string, std::map<std::string, double>> read_detailed_csv(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    std::stringstream hs(line);
    for (std::string cell; std::getline(hs, cell, ',');) header.push_back(cell);
    std::map<std::string, std::map<std::string, double>> rows;
    while (std::getline(in, line)) {
        std::stringstream ls(line);
        std::string seq, cell;
        std::getline(ls, seq, ',');
        for (size_t col = 1; std::getline(ls, cell, ',') && col < header.size(); ++col)
            rows[seq][header[col]] = std::stod(cell);
    }
    return rows;
}

TEST(MotMetricsReference, Mot17MatchesEveryTrackEvalDetailedColumn) {
    const auto csv = read_detailed_csv(shared_path("eval/mot/MOT17/reference-tracker-MoTT/pedestrian_detailed.csv"));
    for (const TrackEvalRow& row : kMot17Rows) {
        SCOPED_TRACE(row.seq);
        ASSERT_TRUE(csv.count(row.seq));
        const auto& ref = csv.at(row.seq);
        const MotMetrics m = score_sequence("eval/mot/MOT17", row.seq, "eval/mot/MOT17/reference-tracker-MoTT/data");
        const auto& h = m.hota;
        auto expect = [&](const std::string& column, double value) {
            ASSERT_TRUE(ref.count(column)) << column;
            EXPECT_NEAR(value, ref.at(column), 1e-9 + 1e-9 * std::abs(ref.at(column))) << column;
        };
        for (int a = 0; a < vigil::eval::kHotaAlphaCount; ++a) {
            const std::string suffix = "___" + std::to_string(5 * (a + 1));
            expect("HOTA" + suffix, h.hota[a]);
            expect("DetA" + suffix, h.det_a[a]);
            expect("AssA" + suffix, h.ass_a[a]);
            expect("DetRe" + suffix, h.det_re[a]);
            expect("DetPr" + suffix, h.det_pr[a]);
            expect("AssRe" + suffix, h.ass_re[a]);
            expect("AssPr" + suffix, h.ass_pr[a]);
            expect("LocA" + suffix, h.loc_a[a]);
            expect("HOTA_TP" + suffix, h.tp[a]);
            expect("HOTA_FN" + suffix, h.fn[a]);
            expect("HOTA_FP" + suffix, h.fp[a]);
        }
        expect("HOTA___AUC", h.hota_mean());
        expect("DetA___AUC", h.det_a_mean());
        expect("AssA___AUC", h.ass_a_mean());
        expect("LocA___AUC", h.loc_a_mean());
        expect("HOTA(0)", h.hota[0]);
        expect("LocA(0)", h.loc_a[0]);
        expect("MOTA", m.clear.mota());
        expect("MOTP", m.clear.motp());
        expect("MODA", m.clear.moda());
        expect("CLR_Re", m.clear.recall());
        expect("CLR_Pr", m.clear.precision());
        expect("CLR_TP", m.clear.tp);
        expect("CLR_FN", m.clear.fn);
        expect("CLR_FP", m.clear.fp);
        expect("IDSW", m.clear.idsw);
        expect("MT", m.clear.mt);
        expect("PT", m.clear.pt);
        expect("ML", m.clear.ml);
        expect("Frag", m.clear.frag);
        expect("CLR_Frames", m.clear.frames);
        expect("IDF1", m.identity.idf1());
        expect("IDR", m.identity.idr());
        expect("IDP", m.identity.idp());
        expect("IDTP", m.identity.idtp);
        expect("IDFN", m.identity.idfn);
        expect("IDFP", m.identity.idfp);
        expect("Dets", m.tracker_dets);
        expect("GT_Dets", m.gt_dets);
        expect("IDs", m.tracker_ids);
        expect("GT_IDs", m.gt_ids);
    }
}

TEST(MotMetricsReference, FiveMot17SequencesScoreInAFewSeconds) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<MotMetrics> all;
    for (const TrackEvalRow& row : kMot17Rows)
        all.push_back(score_sequence("eval/mot/MOT17", row.seq, "eval/mot/MOT17/reference-tracker-MoTT/data"));
    const MotMetrics combined = vigil::eval::combine_mot_metrics(all);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0);
    // Counts combine by summing.
    long tp = 0;
    for (const TrackEvalRow& row : kMot17Rows) tp += row.tp;
    EXPECT_EQ(combined.clear.tp, tp);
    EXPECT_GT(combined.hota.hota_mean(), 0.5);
}

}  // namespace
