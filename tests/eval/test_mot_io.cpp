#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "core/error.h"
#include "eval/eval_mot_io.h"
#include "eval/eval_mot_runner.h"
#include "testing/test_support.h"

namespace {

using vigil::testing::TempDir;
using vigil::testing::write_file;

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const vigil::Error& e) {
        return e.what();
    }
    return "";
}

TEST(MotIo, ReadsSeqinfo) {
    const auto info = vigil::eval::read_seqinfo(vigil::testing::shared_path("eval/mot/MOT17/train/MOT17-02-FRCNN/seqinfo.ini"));
    EXPECT_EQ(info.name, "MOT17-02-FRCNN");
    EXPECT_EQ(info.length, 600);
    EXPECT_DOUBLE_EQ(info.frame_rate, 30);
    EXPECT_EQ(info.width, 1920);
    EXPECT_EQ(info.height, 1080);
}

TEST(MotIo, SeqinfoWithoutLengthNamesTheKey) {
    TempDir dir;
    write_file(dir / "seqinfo.ini", "[Sequence]\nname=x\nframeRate=25\n");
    const std::string message = error_of([&] { vigil::eval::read_seqinfo(dir / "seqinfo.ini"); });
    EXPECT_NE(message.find("seqLength"), std::string::npos) << message;
}

TEST(MotIo, ParsesCommaAndSpaceSeparatedRows) {
    TempDir dir;
    write_file(dir / "a.txt", "1,2,10.5,20,30,40,0.9,-1,-1,-1\n\n2 3 1 2 3 4\n3, 4, 1, 2, 3, 4, 1, 7, 0.25\n");
    const auto rows = vigil::eval::read_mot_rows(dir / "a.txt");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].frame, 1);
    EXPECT_EQ(rows[0].id, 2);
    EXPECT_DOUBLE_EQ(rows[0].x, 10.5);
    EXPECT_DOUBLE_EQ(rows[0].confidence, 0.9);
    EXPECT_DOUBLE_EQ(rows[1].confidence, 1.0);  // absent column: default
    EXPECT_EQ(rows[2].class_id, 7);
    EXPECT_DOUBLE_EQ(rows[2].visibility, 0.25);
}

TEST(MotIo, MalformedRowsNameFileAndLine) {
    TempDir dir;
    write_file(dir / "bad.txt", "1,1,0,0,10,10\n1,2,0,0,10\n");
    EXPECT_NE(error_of([&] { vigil::eval::read_mot_rows(dir / "bad.txt"); }).find("bad.txt:2: only 5 columns"),
              std::string::npos);
    write_file(dir / "bad.txt", "1,1,0,zero,10,10\n");
    EXPECT_NE(error_of([&] { vigil::eval::read_mot_rows(dir / "bad.txt"); }).find("bad.txt:1: column 4"),
              std::string::npos);
    write_file(dir / "bad.txt", "0,1,0,0,10,10\n");
    EXPECT_NE(error_of([&] { vigil::eval::read_mot_rows(dir / "bad.txt"); }).find("frame must be an integer >= 1"),
              std::string::npos);
    EXPECT_NE(error_of([&] { vigil::eval::read_mot_rows(dir / "missing.txt"); }).find("cannot open"),
              std::string::npos);
}

TEST(MotIo, WrittenResultsReadBack) {
    TempDir dir;
    vigil::Track a, b;
    a.id = 3;
    a.box = {10, 20, 30, 40};
    a.score = 0.5f;
    b.id = 9;
    b.box = {1.25f, 2.5f, 3, 4};
    b.score = 1;
    vigil::eval::write_mot_results(dir / "out" / "seq.txt", {{a, b}, {}, {a}});
    const auto rows = vigil::eval::read_mot_rows(dir / "out" / "seq.txt");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].frame, 1);
    EXPECT_EQ(rows[1].id, 9);
    EXPECT_DOUBLE_EQ(rows[1].x, 1.25);
    EXPECT_EQ(rows[2].frame, 3);
    EXPECT_DOUBLE_EQ(rows[2].h, 40);
    EXPECT_DOUBLE_EQ(rows[0].confidence, 0.5);
}

TEST(MotRunner, PublicDetectionsComeBackInFrameOrder) {
    // det.txt of MOT17-02 starts at frame 69: its frame groups are not sorted.
    const auto sequence = vigil::eval::open_mot_sequence(vigil::testing::shared_path("eval/mot/MOT17/train/MOT17-02-FRCNN"));
    const auto frames = vigil::eval::load_mot_detections(sequence);
    ASSERT_EQ(frames.size(), 600u);
    const auto rows = vigil::eval::read_mot_rows(sequence.dir / "det" / "det.txt");
    size_t total = 0;
    for (const auto& f : frames) total += f.size();
    EXPECT_EQ(total, rows.size());
    // The first line of the file (frame 69) is the first detection of frame 69.
    ASSERT_FALSE(frames[68].empty());
    EXPECT_FLOAT_EQ(frames[68][0].box.x, static_cast<float>(rows[0].x));
    EXPECT_FLOAT_EQ(frames[68][0].box.width, static_cast<float>(rows[0].w));
    EXPECT_EQ(frames[68][0].label, "person");
    EXPECT_FALSE(frames[0].empty());
}

TEST(MotRunner, FindsSequencesByNameAndReportsMissingOnes) {
    const auto mot17 = vigil::testing::shared_path("eval/mot/MOT17");
    const auto found = vigil::eval::find_mot_sequences(mot17, {"MOT17-05-FRCNN", "MOT17-09-FRCNN"});
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[1].name, "MOT17-09-FRCNN");
    EXPECT_EQ(found[1].info.length, 525);
    EXPECT_GE(vigil::eval::find_mot_sequences(mot17, {}).size(), 5u);
    EXPECT_NE(error_of([&] { vigil::eval::find_mot_sequences(mot17, {"MOT17-99"}); }).find("'MOT17-99' not found"),
              std::string::npos);
}

TEST(MotRunner, BenchmarkConventionsFollowThePath) {
    EXPECT_EQ(vigil::eval::mot_eval_options_for("/data/MOT15/train/TUD-Campus").clear_convention,
              vigil::eval::ClearConvention::py_motmetrics);
    EXPECT_EQ(vigil::eval::mot_eval_options_for("/data/MOT15/train/TUD-Campus").preprocessing,
              vigil::eval::MotPreprocessing::none);
    EXPECT_EQ(vigil::eval::mot_eval_options_for("/data/MOT17/train/MOT17-02").preprocessing,
              vigil::eval::MotPreprocessing::mot_challenge);
}

}  // namespace
