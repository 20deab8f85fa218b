#include "eval/eval_mot_preprocess.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/error.h"
#include "eval/eval_assignment.h"

namespace vigil::eval {

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr int kPedestrian = 1;

bool is_distractor_class(int class_id) {
    return class_id == 2 || class_id == 7 || class_id == 8 || class_id == 12;
}

void check_unique_ids(const std::vector<MotRow>& frame_rows, const std::string& source) {
    std::unordered_set<int> seen;
    for (const MotRow& row : frame_rows)
        if (!seen.insert(row.id).second)
            throw Error(fmt::format("{}: id {} appears more than once in frame {} (ids must be unique per frame)",
                                    source, row.id, row.frame));
}

std::vector<double> iou_matrix(const std::vector<MotRow>& gt, const std::vector<MotRow>& tracker) {
    std::vector<double> sim(gt.size() * tracker.size());
    for (size_t i = 0; i < gt.size(); ++i)
        for (size_t j = 0; j < tracker.size(); ++j) sim[i * tracker.size() + j] = mot_box_iou(gt[i], tracker[j]);
    return sim;
}

// Maps sorted unique original ids to 0..n-1.
std::unordered_map<int, int> contiguous_ids(std::vector<int> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::unordered_map<int, int> map;
    for (size_t i = 0; i < ids.size(); ++i) map[ids[i]] = static_cast<int>(i);
    return map;
}

}  // namespace

double mot_box_iou(const MotRow& a, const MotRow& b) {
    const double ix = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
    const double iy = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
    const double area_a = a.w * a.h, area_b = b.w * b.h;
    if (area_a <= kEps || area_b <= kEps) return 0;
    const double inter = std::max(ix, 0.0) * std::max(iy, 0.0);
    const double uni = area_a + area_b - inter;
    if (uni <= kEps) return 0;
    return inter / uni;
}

MotEvalData prepare_mot_eval_data(const std::vector<MotRow>& gt_rows, const std::vector<MotRow>& tracker_rows,
                                  int num_frames, MotPreprocessing preprocessing, const std::string& gt_source,
                                  const std::string& tracker_source) {
    const auto gt_frames = group_rows_by_frame(gt_rows, num_frames, gt_source);
    const auto tracker_frames = group_rows_by_frame(tracker_rows, num_frames, tracker_source);

    std::vector<std::vector<int>> kept_gt_ids(num_frames), kept_tracker_ids(num_frames);
    std::vector<std::vector<double>> kept_similarity(num_frames);
    std::vector<int> all_gt_ids, all_tracker_ids;
    MotEvalData data;

    for (int t = 0; t < num_frames; ++t) {
        const std::vector<MotRow>& gt = gt_frames[t];
        const std::vector<MotRow>& tracker = tracker_frames[t];
        check_unique_ids(gt, gt_source);
        check_unique_ids(tracker, tracker_source);
        const std::vector<double> sim = iou_matrix(gt, tracker);
        const size_t n_gt = gt.size(), n_tr = tracker.size();

        std::vector<char> keep_tracker(n_tr, 1);
        if (preprocessing == MotPreprocessing::mot_challenge) {
            for (const MotRow& row : tracker)
                if (row.class_id > kPedestrian)
                    throw Error(fmt::format("{}: frame {} has a box of class {}; MOTChallenge scores pedestrians only "
                                            "(class column -1 or 1)",
                                            tracker_source, row.frame, row.class_id));
            const bool has_distractor = std::any_of(gt.begin(), gt.end(),
                                                    [](const MotRow& row) { return is_distractor_class(row.class_id); });
            if (has_distractor && n_tr > 0) {
                // Maximise the summed IoU over pairs with IoU >= 0.5, as TrackEval does.
                std::vector<double> score(n_gt * n_tr);
                for (size_t k = 0; k < score.size(); ++k) score[k] = sim[k] < 0.5 - kEps ? 0.0 : sim[k];
                const std::vector<int> match =
                    maximise_assignment(score, static_cast<int>(n_gt), static_cast<int>(n_tr));
                for (size_t i = 0; i < n_gt; ++i) {
                    const int j = match[i];
                    if (j < 0 || score[i * n_tr + j] <= kEps) continue;
                    if (is_distractor_class(gt[i].class_id)) keep_tracker[j] = 0;
                }
            }
        }
        std::vector<size_t> gt_keep;
        for (size_t i = 0; i < n_gt; ++i) {
            const bool considered = gt[i].confidence != 0;
            const bool right_class = preprocessing == MotPreprocessing::none || gt[i].class_id == kPedestrian;
            if (considered && right_class) gt_keep.push_back(i);
        }
        std::vector<size_t> tracker_keep;
        for (size_t j = 0; j < n_tr; ++j)
            if (keep_tracker[j]) tracker_keep.push_back(j);

        for (size_t i : gt_keep) {
            kept_gt_ids[t].push_back(gt[i].id);
            all_gt_ids.push_back(gt[i].id);
        }
        for (size_t j : tracker_keep) {
            kept_tracker_ids[t].push_back(tracker[j].id);
            all_tracker_ids.push_back(tracker[j].id);
        }
        std::vector<double>& out = kept_similarity[t];
        out.reserve(gt_keep.size() * tracker_keep.size());
        for (size_t i : gt_keep)
            for (size_t j : tracker_keep) out.push_back(sim[i * n_tr + j]);
        data.num_gt_dets += static_cast<long>(gt_keep.size());
        data.num_tracker_dets += static_cast<long>(tracker_keep.size());
    }

    const auto gt_map = contiguous_ids(all_gt_ids);
    const auto tracker_map = contiguous_ids(all_tracker_ids);
    for (auto& ids : kept_gt_ids)
        for (int& id : ids) id = gt_map.at(id);
    for (auto& ids : kept_tracker_ids)
        for (int& id : ids) id = tracker_map.at(id);

    data.num_frames = num_frames;
    data.gt_ids = std::move(kept_gt_ids);
    data.tracker_ids = std::move(kept_tracker_ids);
    data.similarity = std::move(kept_similarity);
    data.num_gt_ids = static_cast<int>(gt_map.size());
    data.num_tracker_ids = static_cast<int>(tracker_map.size());
    return data;
}

}  // namespace vigil::eval
