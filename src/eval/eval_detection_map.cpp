#include "eval/eval_detection_map.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace vigil::eval {

namespace {

constexpr int kRecallPoints = 101;

double box_iou(const cv::Rect2f& a, const cv::Rect2f& b) {
    const double ix = std::min<double>(a.x + a.width, b.x + b.width) - std::max<double>(a.x, b.x);
    const double iy = std::min<double>(a.y + a.height, b.y + b.height) - std::max<double>(a.y, b.y);
    if (ix <= 0 || iy <= 0) return 0;
    const double inter = ix * iy;
    const double uni = double(a.width) * a.height + double(b.width) * b.height - inter;
    return uni > 0 ? inter / uni : 0;
}

// One detection after matching in its image: its score and, per IoU
// threshold, whether it found a gt.
struct RankedDetection {
    float score;
    std::array<bool, kCocoIouThresholdCount> matched;
};

// Greedy matching within one image and class, COCO's evaluateImg.
void match_image_class(const std::vector<const Detection*>& detections, const std::vector<const GroundTruthBox*>& gts,
                       std::vector<RankedDetection>& out) {
    std::vector<std::vector<double>> iou(detections.size(), std::vector<double>(gts.size()));
    for (size_t d = 0; d < detections.size(); ++d)
        for (size_t g = 0; g < gts.size(); ++g) iou[d][g] = box_iou(detections[d]->box, gts[g]->box);
    std::vector<RankedDetection> ranked(detections.size());
    for (size_t d = 0; d < detections.size(); ++d) ranked[d].score = detections[d]->score;
    for (int t = 0; t < kCocoIouThresholdCount; ++t) {
        std::vector<char> gt_taken(gts.size(), 0);
        for (size_t d = 0; d < detections.size(); ++d) {
            double best = std::min(coco_iou_threshold(t), 1 - 1e-10);
            int best_gt = -1;
            for (size_t g = 0; g < gts.size(); ++g) {
                if (gt_taken[g] || iou[d][g] < best) continue;
                best = iou[d][g];
                best_gt = static_cast<int>(g);
            }
            ranked[d].matched[t] = best_gt >= 0;
            if (best_gt >= 0) gt_taken[best_gt] = 1;
        }
    }
    out.insert(out.end(), ranked.begin(), ranked.end());
}

// COCO's accumulate for one class and threshold: 101-point interpolated AP.
double average_precision(const std::vector<RankedDetection>& ranked, int threshold_index, int num_gt) {
    const size_t n = ranked.size();
    std::vector<double> recall(n), precision(n);
    double tp = 0, fp = 0;
    for (size_t i = 0; i < n; ++i) {
        if (ranked[i].matched[threshold_index]) tp += 1;
        else fp += 1;
        recall[i] = tp / num_gt;
        precision[i] = tp / (tp + fp + std::numeric_limits<double>::epsilon());
    }
    for (size_t i = n; i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
    double sum = 0;
    for (int r = 0; r < kRecallPoints; ++r) {
        const double recall_threshold = r * 0.01;
        const auto it = std::lower_bound(recall.begin(), recall.end(), recall_threshold);
        if (it == recall.end()) break;  // higher recall never reached: precision 0
        sum += precision[static_cast<size_t>(it - recall.begin())];
    }
    return sum / kRecallPoints;
}

}  // namespace

double coco_iou_threshold(int i) { return 0.5 + i * ((0.95 - 0.5) / 9); }

double ClassAp::ap50_95() const { return std::accumulate(ap.begin(), ap.end(), 0.0) / kCocoIouThresholdCount; }

std::vector<GroundTruthBox> read_yolo_labels(const std::filesystem::path& label_file, cv::Size image_size) {
    std::vector<GroundTruthBox> boxes;
    if (!std::filesystem::exists(label_file)) return boxes;
    std::ifstream in(label_file);
    if (!in) throw Error(fmt::format("cannot read label file {}", label_file.string()));
    std::string line;
    int line_number = 0;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::istringstream fields(line);
        double cls = 0, cx = 0, cy = 0, w = 0, h = 0;
        std::string extra;
        if (!(fields >> cls >> cx >> cy >> w >> h) || cls < 0 || cls != std::floor(cls) || w < 0 || h < 0)
            throw Error(fmt::format("{}:{}: expected 'class cx cy w h' (class a non-negative integer, box "
                                    "normalised to 0..1), got '{}'",
                                    label_file.string(), line_number, line));
        GroundTruthBox box;
        box.class_id = static_cast<int>(cls);
        box.box = cv::Rect2f(static_cast<float>((cx - w / 2) * image_size.width),
                             static_cast<float>((cy - h / 2) * image_size.height),
                             static_cast<float>(w * image_size.width), static_cast<float>(h * image_size.height));
        boxes.push_back(box);
    }
    return boxes;
}

DetectionMapResult compute_detection_map(const std::vector<ImageDetections>& images, int max_detections_per_image) {
    std::map<int, std::vector<RankedDetection>> ranked_by_class;
    std::map<int, int> gt_count, det_count;
    for (const ImageDetections& image : images) {
        std::map<int, std::vector<const GroundTruthBox*>> gts;
        std::map<int, std::vector<const Detection*>> dets;
        for (const GroundTruthBox& g : image.ground_truth) gts[g.class_id].push_back(&g);
        for (const Detection& d : image.detections)
            if (d.class_id >= 0) dets[d.class_id].push_back(&d);
        for (auto& [cls, list] : dets) {
            std::stable_sort(list.begin(), list.end(),
                             [](const Detection* a, const Detection* b) { return a->score > b->score; });
            if (static_cast<int>(list.size()) > max_detections_per_image) list.resize(max_detections_per_image);
        }
        for (const auto& [cls, list] : gts) gt_count[cls] += static_cast<int>(list.size());
        for (const auto& [cls, list] : dets) {
            det_count[cls] += static_cast<int>(list.size());
            static const std::vector<const GroundTruthBox*> none;
            const auto it = gts.find(cls);
            match_image_class(list, it == gts.end() ? none : it->second, ranked_by_class[cls]);
        }
    }
    DetectionMapResult result;
    result.images = static_cast<int>(images.size());
    for (const auto& [cls, num_gt] : gt_count) {
        ClassAp ap;
        ap.class_id = cls;
        ap.num_ground_truth = num_gt;
        ap.num_detections = det_count[cls];
        std::vector<RankedDetection>& ranked = ranked_by_class[cls];
        // Across images, ties keep image order, as COCO's mergesort does.
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](const RankedDetection& a, const RankedDetection& b) { return a.score > b.score; });
        for (int t = 0; t < kCocoIouThresholdCount; ++t) ap.ap[t] = average_precision(ranked, t, num_gt);
        result.per_class.push_back(ap);
    }
    if (!result.per_class.empty()) {
        for (const ClassAp& ap : result.per_class) {
            result.map50 += ap.ap50();
            result.map50_95 += ap.ap50_95();
        }
        result.map50 /= static_cast<double>(result.per_class.size());
        result.map50_95 /= static_cast<double>(result.per_class.size());
    }
    return result;
}

}  // namespace vigil::eval
