// `vigil eval track|detect` end to end (needs the vigil executable built).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/test_support.h"

namespace {

using vigil::testing::run_vigil;
using vigil::testing::shared_path;

TEST(EvalTrackCli, ScoresExistingResultsLikeTrackEval) {
    const auto mot = shared_path("eval/mot/MOT17");
    const auto results = shared_path("eval/mot/MOT17/reference-tracker-MoTT/data");
    const auto run = run_vigil("eval track --mot " + mot.string() + " --seqs MOT17-05-FRCNN,MOT17-09-FRCNN --results " +
                               results.string() + " --json");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto rows = nlohmann::json::parse(run.output);
    ASSERT_EQ(rows.size(), 3u);  // two sequences and COMBINED
    EXPECT_EQ(rows[0]["sequence"], "MOT17-05-FRCNN");
    EXPECT_NEAR(rows[0]["HOTA"].get<double>(), 0.70197, 1e-5);
    EXPECT_NEAR(rows[1]["IDF1"].get<double>(), 0.73969, 1e-5);
    EXPECT_EQ(rows[2]["sequence"], "COMBINED");
    EXPECT_EQ(rows[2]["CLR_TP"].get<long>(), 6382 + 4947);
    EXPECT_EQ(rows[2]["IDSW"].get<long>(), 57 + 32);
}

TEST(EvalTrackCli, PrintsATableWithTheCombinedRow) {
    const auto run = run_vigil("eval track --mot " + shared_path("eval/mot/MOT15").string() +
                               " --results " + shared_path("eval/mot/MOT15/reference-tracker-results").string());
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("TUD-Stadtmitte"), std::string::npos) << run.output;
    // MOT15 OVERALL as mmtracking reports it: HOTA 40.0, MOTA 55.5, IDF1 62.4, 14 IDSW.
    EXPECT_NE(run.output.find("COMBINED"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("55.512"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("62.430"), std::string::npos) << run.output;
}

TEST(EvalTrackCli, MissingResultsNameTheExpectedFile) {
    vigil::testing::TempDir empty;
    const auto run = run_vigil("eval track --mot " + shared_path("eval/mot/MOT17").string() +
                               " --seqs MOT17-05-FRCNN --results " + empty.path().string());
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("MOT17-05-FRCNN.txt"), std::string::npos) << run.output;
}

TEST(EvalTrackCli, RunsBothTrackersOnPublicDetections) {
    vigil::testing::TempDir out;
    const auto run = run_vigil("eval track --mot " + shared_path("eval/mot/MOT17").string() +
                               " --seqs MOT17-05-FRCNN,MOT17-09-FRCNN --tracker bytetrack,sort --results " +
                               out.path().string() + " --json");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto rows = nlohmann::json::parse(run.output);
    ASSERT_EQ(rows.size(), 6u);  // (2 sequences + COMBINED) x 2 trackers
    for (const auto& row : rows) {
        SCOPED_TRACE(row.dump());
        // Public FRCNN detections give any working tracker well above these floors.
        EXPECT_GT(row["MOTA"].get<double>(), 0.3);
        EXPECT_GT(row["HOTA"].get<double>(), 0.3);
    }
    EXPECT_EQ(rows[0]["tracker"], "bytetrack");
    EXPECT_EQ(rows[3]["tracker"], "sort");
    EXPECT_TRUE(std::filesystem::exists(out / "sort" / "MOT17-09-FRCNN.txt"));
}

TEST(EvalDetectCli, ScoresARealDetectorOnCocoImages) {
    const auto coco = shared_path("eval/coco-val2017-subset");
    const auto run = vigil::testing::run_command(
        "VIGIL_MODELS_DIR=" + shared_path("models").string() + " " + VIGIL_EXE +
        " eval detect --detector yolox-nano --images " + (coco / "images").string() + " --labels " +
        (coco / "labels").string() + " --limit 12 --json");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto out = nlohmann::json::parse(run.output.substr(run.output.find('{')));
    EXPECT_EQ(out["images"].get<int>(), 12);
    // YOLOX-nano scores 25.8 mAP@0.5:0.95 on full COCO val; a working
    // pipeline with correctly scaled labels lands well above these floors.
    EXPECT_GT(out["mAP50"].get<double>(), 0.25);
    EXPECT_GT(out["mAP50_95"].get<double>(), 0.12);
    EXPECT_LE(out["mAP50_95"].get<double>(), out["mAP50"].get<double>());
    EXPECT_GT(out["images_per_s"].get<double>(), 0.0);
    EXPECT_FALSE(out["per_class"].empty());
}

TEST(EvalDetectCli, MissingLabelFolderIsAClearError) {
    const auto run = run_vigil("eval detect --images " + shared_path("eval/coco-val2017-subset/images").string() +
                               " --labels /nonexistent/labels");
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("--labels /nonexistent/labels is not a directory"), std::string::npos) << run.output;
}

}  // namespace
