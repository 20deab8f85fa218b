// Runs every tests/track/scenarios/*.txt: synthetic detections per frame in,
// expectations about which tracks (ids) follow which objects out. The format
// is described in scenarios/README.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "track/track_association.h"
#include "track/tracker.h"

namespace {

namespace fs = std::filesystem;

struct TaggedDetection {
    std::string tag;
    vigil::Detection detection;
};

struct Expectation {
    int line = 0;
    std::set<std::string> algorithms;
    std::string kind;
    std::vector<std::string> args;
};

struct Scenario {
    double fps = 10;
    int frame_count = 0;
    std::map<std::string, std::string> config;  // key -> value for TrackerConfig fields
    std::map<int, std::vector<TaggedDetection>> frames;
    std::vector<Expectation> expectations;
};

[[noreturn]] void fail_parse(const fs::path& path, int line, const std::string& what) {
    throw vigil::Error(path.string() + ":" + std::to_string(line) + ": " + what);
}

Scenario parse_scenario(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw vigil::Error("cannot open " + path.string());
    Scenario s;
    std::string text;
    int line = 0;
    while (std::getline(in, text)) {
        ++line;
        if (auto hash = text.find('#'); hash != std::string::npos) text.resize(hash);
        std::istringstream words(text);
        std::string verb;
        if (!(words >> verb)) continue;
        if (verb == "fps") {
            if (!(words >> s.fps) || s.fps <= 0) fail_parse(path, line, "fps needs a positive number");
        } else if (verb == "config") {
            std::string key, value;
            if (!(words >> key >> value)) fail_parse(path, line, "config needs: key value");
            s.config[key] = value;
        } else if (verb == "move") {
            // move TAG FIRST LAST X Y W H VX VY SCORE [CLASS]: constant velocity in px/frame.
            std::string tag;
            int first = 0, last = 0, class_id = -1;
            float x = 0, y = 0, w = 0, h = 0, vx = 0, vy = 0, score = 0;
            if (!(words >> tag >> first >> last >> x >> y >> w >> h >> vx >> vy >> score))
                fail_parse(path, line, "move needs: tag first last x y w h vx vy score [class]");
            words >> class_id;
            for (int f = first; f <= last; ++f) {
                vigil::Detection d;
                d.box = cv::Rect2f(x + vx * float(f - first), y + vy * float(f - first), w, h);
                d.score = score;
                d.class_id = class_id;
                s.frames[f].push_back({tag, d});
                s.frame_count = std::max(s.frame_count, f);
            }
        } else if (verb == "hide" || verb == "score") {
            // hide TAG FIRST LAST: no detection (occlusion); score TAG FIRST LAST S: detector less sure.
            std::string tag;
            int first = 0, last = 0;
            float score = 0;
            if (!(words >> tag >> first >> last) || (verb == "score" && !(words >> score)))
                fail_parse(path, line, verb + " needs: tag first last" + (verb == "score" ? " score" : ""));
            for (int f = first; f <= last; ++f) {
                auto& dets = s.frames[f];
                if (verb == "hide")
                    std::erase_if(dets, [&](const TaggedDetection& d) { return d.tag == tag; });
                else
                    for (auto& d : dets)
                        if (d.tag == tag) d.detection.score = score;
            }
        } else if (verb == "expect") {
            Expectation e;
            e.line = line;
            std::string algorithms;
            if (!(words >> algorithms >> e.kind)) fail_parse(path, line, "expect needs: algorithms kind args...");
            std::istringstream list(algorithms);
            for (std::string a; std::getline(list, a, ',');) e.algorithms.insert(a);
            for (std::string a; words >> a;) e.args.push_back(a);
            s.expectations.push_back(e);
        } else {
            fail_parse(path, line, "unknown directive '" + verb + "'");
        }
    }
    return s;
}

vigil::track::TrackerConfig make_config(const Scenario& s, const std::string& algorithm) {
    vigil::track::TrackerConfig c;
    c.algorithm = algorithm;
    c.frame_rate = s.fps;
    for (const auto& [key, value] : s.config) {
        if (key == "min_hits")
            c.min_hits = std::stoi(value);
        else if (key == "max_lost_frames")
            c.max_lost_frames = std::stoi(value);
        else if (key == "high_threshold")
            c.high_threshold = std::stof(value);
        else if (key == "low_threshold")
            c.low_threshold = std::stof(value);
        else if (key == "new_track_threshold")
            c.new_track_threshold = std::stof(value);
        else
            throw vigil::Error("unknown scenario config key '" + key + "'");
    }
    return c;
}

// For each frame and tag: the id of the reported track covering the tag's
// detection (IoU >= 0.5), or 0 when none does.
using Assignments = std::map<int, std::map<std::string, int>>;

Assignments run_scenario(const Scenario& s, const std::string& algorithm) {
    auto tracker = vigil::track::make_tracker(make_config(s, algorithm));
    Assignments result;
    for (int f = 1; f <= s.frame_count; ++f) {
        std::vector<vigil::Detection> dets;
        const auto it = s.frames.find(f);
        if (it != s.frames.end())
            for (const auto& d : it->second) dets.push_back(d.detection);
        const std::vector<vigil::Track> tracks = tracker->update(dets, (f - 1) / s.fps);
        if (it == s.frames.end()) continue;
        for (const auto& d : it->second) {
            int best_id = 0;
            float best_iou = 0.5f;
            for (const auto& t : tracks) {
                const float iou = vigil::track::box_iou(t.box, d.detection.box);
                if (iou >= best_iou) {
                    best_iou = iou;
                    best_id = t.id;
                }
            }
            result[f][d.tag] = best_id;
        }
    }
    return result;
}

void check(const Scenario& s, const Expectation& e, const Assignments& got, const std::string& algorithm,
           const std::string& where) {
    const std::string at = where + ":" + std::to_string(e.line) + " [" + algorithm + "] " + e.kind;
    auto ids_of = [&](const std::string& tag, int first, int last) {
        std::vector<std::pair<int, int>> frame_ids;  // frames where the tag was detected
        for (int f = first; f <= last; ++f) {
            const auto fit = got.find(f);
            if (fit == got.end()) continue;
            const auto tit = fit->second.find(tag);
            if (tit != fit->second.end()) frame_ids.emplace_back(f, tit->second);
        }
        return frame_ids;
    };
    if (e.kind == "tracked" || e.kind == "untracked") {
        ASSERT_EQ(e.args.size(), 3u) << at << " needs: tag first last";
        const auto frame_ids = ids_of(e.args[0], std::stoi(e.args[1]), std::stoi(e.args[2]));
        ASSERT_FALSE(frame_ids.empty()) << at << ": tag never detected in range";
        std::set<int> ids;
        for (const auto& [f, id] : frame_ids) {
            if (e.kind == "tracked")
                EXPECT_NE(id, 0) << at << ": " << e.args[0] << " has no reported track at frame " << f;
            else
                EXPECT_EQ(id, 0) << at << ": " << e.args[0] << " reported as track " << id << " at frame " << f;
            if (id) ids.insert(id);
        }
        if (e.kind == "tracked") {
            EXPECT_LE(ids.size(), 1u) << at << ": " << e.args[0] << " changed id";
        }
    } else if (e.kind == "distinct") {
        ASSERT_EQ(e.args.size(), 2u) << at << " needs: tag1 tag2";
        std::set<int> a, b;
        for (const auto& [f, id] : ids_of(e.args[0], 1, s.frame_count))
            if (id) a.insert(id);
        for (const auto& [f, id] : ids_of(e.args[1], 1, s.frame_count))
            if (id) b.insert(id);
        for (int id : a) EXPECT_FALSE(b.count(id)) << at << ": id " << id << " covered both objects";
    } else if (e.kind == "id_count") {
        ASSERT_EQ(e.args.size(), 1u) << at << " needs: count";
        std::set<int> ids;
        for (const auto& [f, tags] : got)
            for (const auto& [tag, id] : tags)
                if (id) ids.insert(id);
        EXPECT_EQ(int(ids.size()), std::stoi(e.args[0])) << at;
    } else {
        FAIL() << at << ": unknown expectation";
    }
}

std::vector<std::string> scenario_files() {
    std::vector<std::string> files;
    const fs::path dir = fs::path(VIGIL_SOURCE_DIR) / "tests/track/scenarios";
    if (fs::is_directory(dir))
        for (const auto& entry : fs::directory_iterator(dir))
            if (entry.path().extension() == ".txt") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

class TrackScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(TrackScenario, MeetsExpectations) {
    const fs::path path = GetParam();
    const Scenario s = parse_scenario(path);
    ASSERT_FALSE(s.expectations.empty()) << path << " has no expect lines";
    for (const std::string algorithm : {"bytetrack", "sort"}) {
        const Assignments got = run_scenario(s, algorithm);
        for (const Expectation& e : s.expectations)
            if (e.algorithms.count(algorithm) || e.algorithms.count("both"))
                check(s, e, got, algorithm, path.filename().string());
    }
}

TEST(TrackScenarioFiles, ArePresent) { EXPECT_GE(scenario_files().size(), 4u); }

INSTANTIATE_TEST_SUITE_P(Files, TrackScenario, ::testing::ValuesIn(scenario_files()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                             std::string name = fs::path(param.param).stem().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

}  // namespace
