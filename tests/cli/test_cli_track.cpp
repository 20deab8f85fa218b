// `vigil track` end to end through the built executable: a real detector on
// the first seconds of a pedestrian video, tracks out as MOTChallenge rows,
// JSON Lines and an annotated video; bad input exits 1 with a message.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>

#include "testing/test_support.h"

namespace {

using vigil::testing::run_vigil;
using vigil::testing::shared_path;
using vigil::testing::TempDir;

struct MotRow {
    int frame = 0, id = 0;
    double x = 0, y = 0, w = 0, h = 0, score = 0;
    std::string tail;  // the three -1 columns
};

std::vector<MotRow> read_mot(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<MotRow> rows;
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        MotRow r;
        char comma = 0;
        fields >> r.frame >> comma >> r.id >> comma >> r.x >> comma >> r.y >> comma >> r.w >> comma >> r.h >> comma >>
            r.score >> comma;
        std::getline(fields, r.tail);
        EXPECT_TRUE(fields.eof() && !fields.bad()) << "malformed row: " << line;
        rows.push_back(r);
    }
    return rows;
}

class VigilTrackCli : public ::testing::Test {
protected:
    void SetUp() override { ::setenv("VIGIL_MODELS_DIR", shared_path("models").c_str(), 1); }
    std::string video() const { return shared_path("media/videos/opencv_vtest.avi").string(); }
};

TEST_F(VigilTrackCli, TracksPedestriansIntoMotRowsJsonAndVideo) {
    TempDir dir;
    const auto mot = dir / "tracks.txt";
    const auto annotated = dir / "tracks.avi";
    constexpr int kFrames = 40;
    const auto r = run_vigil("track " + video() + " --max-frames " + std::to_string(kFrames) + " --json --out " +
                             mot.string() + " --out-video " + annotated.string() + " 2>/dev/null");
    ASSERT_EQ(r.exit_code, 0) << r.output;

    const auto rows = read_mot(mot);
    ASSERT_GT(rows.size(), 100u) << "a hall full of walkers over " << kFrames << " frames";
    std::map<int, std::set<int>> frames_of_id;
    std::map<int, std::set<int>> ids_in_frame;
    for (const auto& row : rows) {
        EXPECT_GE(row.frame, 1);
        EXPECT_LE(row.frame, kFrames);
        EXPECT_GT(row.id, 0);
        EXPECT_GT(row.w, 0);
        EXPECT_GT(row.h, 0);
        EXPECT_EQ(row.tail, "-1,-1,-1");
        EXPECT_TRUE(ids_in_frame[row.frame].insert(row.id).second)
            << "id " << row.id << " twice in frame " << row.frame;
        frames_of_id[row.id].insert(row.frame);
    }
    // Ids persist: most rows continue an id reported on the previous frame,
    // and some walkers keep theirs for most of the clip.
    size_t continued = 0, long_lived = 0;
    for (const auto& row : rows) continued += frames_of_id[row.id].count(row.frame - 1);
    for (const auto& [id, frames] : frames_of_id) long_lived += frames.size() >= kFrames * 3 / 4;
    EXPECT_GT(double(continued) / double(rows.size()), 0.8);
    EXPECT_GE(long_lived, 3u);

    // One JSON line per frame agreeing with the MOT rows, then the summary.
    std::istringstream lines(r.output);
    std::string line;
    int frame_lines = 0;
    nlohmann::json summary;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        if (j.contains("summary")) {
            summary = j["summary"];
            continue;
        }
        EXPECT_EQ(j["frame"], frame_lines);
        std::set<int> ids;
        for (const auto& t : j["tracks"]) ids.insert(t["id"].get<int>());
        EXPECT_EQ(ids, ids_in_frame[frame_lines + 1]) << "frame " << frame_lines;
        ++frame_lines;
    }
    EXPECT_EQ(frame_lines, kFrames);
    ASSERT_FALSE(summary.is_null()) << r.output;
    EXPECT_EQ(summary["frames"], kFrames);
    EXPECT_EQ(summary["unique_tracks"], frames_of_id.size());
    EXPECT_GT(summary["mean_fps"].get<double>(), 0);
    EXPECT_EQ(summary["tracker"], "bytetrack");

    cv::VideoCapture written(annotated.string());
    ASSERT_TRUE(written.isOpened());
    EXPECT_EQ(int(written.get(cv::CAP_PROP_FRAME_COUNT)), kFrames);
    EXPECT_EQ(int(written.get(cv::CAP_PROP_FRAME_WIDTH)), 768);
    EXPECT_EQ(int(written.get(cv::CAP_PROP_FRAME_HEIGHT)), 576);
}

TEST_F(VigilTrackCli, SortAtAReducedRateNumbersRowsByVideoFrame) {
    TempDir dir;
    const auto mot = dir / "tracks.txt";
    // vtest.avi runs at 10 fps: --fps 5 keeps every other frame.
    const auto r = run_vigil("track " + video() + " --tracker sort --fps 5 --max-frames 12 --out " + mot.string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("12 frames"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("unique tracks"), std::string::npos) << r.output;
    const auto rows = read_mot(mot);
    ASSERT_FALSE(rows.empty());
    std::set<int> frames;
    for (const auto& row : rows) frames.insert(row.frame);
    for (int f : frames) EXPECT_EQ(f % 2, 1) << "frame " << f << " was not among those kept";
    EXPECT_LE(*frames.rbegin(), 23);
}

struct BadInput {
    std::string name;
    std::string args;     // after "track"; VIDEO and TRUNCATED are replaced
    std::string message;  // expected in the error
    friend void PrintTo(const BadInput& input, std::ostream* out) { *out << input.name; }
};

class VigilTrackCliErrors : public VigilTrackCli, public ::testing::WithParamInterface<BadInput> {};

TEST_P(VigilTrackCliErrors, ExitOneWithAClearMessage) {
    TempDir dir;
    // The first 64 KiB of the video: a header promising frames that never come.
    const auto truncated = dir / "truncated.avi";
    {
        std::ifstream in(video(), std::ios::binary);
        std::string head(64 * 1024, '\0');
        in.read(head.data(), std::streamsize(head.size()));
        vigil::testing::write_file(truncated, head);
    }
    std::string args = GetParam().args;
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"TRUNCATED", truncated.string()}, {"VIDEO", video()}})
        if (const auto at = args.find(key); at != std::string::npos) args.replace(at, key.size(), value);
    const auto r = run_vigil("track " + args);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("vigil: error:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(BadInputs, VigilTrackCliErrors,
                         ::testing::Values(BadInput{"missing_video", "/nonexistent/walkers.avi",
                                                    "/nonexistent/walkers.avi"},
                                           BadInput{"truncated_video", "TRUNCATED --max-frames 5", "looks truncated"},
                                           BadInput{"unknown_detector", "VIDEO --detector nope", "yolox-nano"},
                                           BadInput{"unknown_tracker", "VIDEO --tracker deepsort", "bytetrack"}),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
