// ByteTrack against the plain SORT baseline on every MOT17 train sequence in
// shared/ (public FRCNN detections), each tracker with its published
// defaults: ByteTrack must come out ahead on HOTA and IDF1 combined, which is
// the point of associating the low-score boxes and keeping lost tracks.
// The FRCNN det.txt scores are already confidences in [0.05, 1] (about 90 %
// of boxes at >= 0.9, 1-3 % in each band below), so they go in as they are;
// only DPM's unbounded scores, not in shared/, would need normalising.
#include <gtest/gtest.h>

#include <cstdio>

#include "eval/eval_mot_io.h"
#include "eval/eval_mot_runner.h"
#include "testing/test_support.h"
#include "track/tracker.h"

namespace {

const char* const kSequences[] = {"MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-05-FRCNN", "MOT17-09-FRCNN",
                                  "MOT17-10-FRCNN"};

vigil::eval::MotMetrics track_sequence(const std::string& algorithm, const std::string& name,
                                       const vigil::testing::TempDir& dir) {
    const auto sequence = vigil::eval::open_mot_sequence(vigil::testing::shared_path("eval/mot/MOT17/train/" + name));
    const auto frames = vigil::eval::load_mot_detections(sequence);
    vigil::track::TrackerConfig config;
    config.algorithm = algorithm;
    config.frame_rate = sequence.info.frame_rate;
    auto tracker = vigil::track::make_tracker(config);
    std::vector<std::vector<vigil::Track>> tracks_per_frame;
    for (size_t i = 0; i < frames.size(); ++i)
        tracks_per_frame.push_back(tracker->update(frames[i], double(i) / sequence.info.frame_rate));
    const auto results = dir / (algorithm + "-" + name + ".txt");
    vigil::eval::write_mot_results(results, tracks_per_frame);
    auto metrics =
        vigil::eval::evaluate_mot_results(sequence, results, vigil::eval::mot_eval_options_for(sequence.dir));
    metrics.name = name;
    return metrics;
}

void print_row(const std::string& algorithm, const vigil::eval::MotMetrics& m) {
    std::printf("[ MOT17 ] %-9s %-15s HOTA %.3f  MOTA %.3f  IDF1 %.3f  IDSW %5ld  IDs %4ld\n", algorithm.c_str(),
                m.name.c_str(), m.hota.hota_mean(), m.clear.mota(), m.identity.idf1(), m.clear.idsw, m.tracker_ids);
}

vigil::eval::MotMetrics track_all(const std::string& algorithm, const vigil::testing::TempDir& dir) {
    std::vector<vigil::eval::MotMetrics> per_sequence;
    for (const char* name : kSequences) {
        per_sequence.push_back(track_sequence(algorithm, name, dir));
        print_row(algorithm, per_sequence.back());
    }
    const auto combined = vigil::eval::combine_mot_metrics(per_sequence);
    print_row(algorithm, combined);
    return combined;
}

TEST(Mot17Train, ByteTrackBeatsSortOnHotaAndIdf1) {
    vigil::testing::TempDir dir;
    const auto bytetrack = track_all("bytetrack", dir);
    const auto sort = track_all("sort", dir);
    EXPECT_GT(bytetrack.hota.hota_mean(), sort.hota.hota_mean());
    EXPECT_GT(bytetrack.identity.idf1(), sort.identity.idf1());
}

}  // namespace
