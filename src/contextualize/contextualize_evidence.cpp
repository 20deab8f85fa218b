// Choosing, drawing and packing evidence frames for the VLM and the store.
#include "contextualize/contextualize_evidence.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace vigil::contextualize {

namespace {

// A crop only adds detail when the tracks cover a small part of the frame.
constexpr double kCropMaxAreaFraction = 0.35;
constexpr int kCropMinSide = 160;

const cv::Scalar& box_colour(size_t index) {
    static const cv::Scalar palette[] = {{0, 215, 255}, {255, 128, 0}, {60, 220, 60}, {255, 0, 255},
                                         {0, 128, 255}, {255, 255, 0}, {128, 0, 255}, {0, 0, 255}};
    return palette[index % (sizeof(palette) / sizeof(palette[0]))];
}

void draw_label(cv::Mat& image, const std::string& text, cv::Point origin, const cv::Scalar& background,
                double font_scale, int thickness) {
    int baseline = 0;
    cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
    origin.x = std::clamp(origin.x, 0, std::max(0, image.cols - size.width - 4));
    origin.y = std::clamp(origin.y, size.height + 4, std::max(size.height + 4, image.rows));
    cv::rectangle(image, {origin.x, origin.y - size.height - 4}, {origin.x + size.width + 4, origin.y + baseline},
                  background, cv::FILLED);
    cv::putText(image, text, {origin.x + 2, origin.y - 2}, cv::FONT_HERSHEY_SIMPLEX, font_scale, {0, 0, 0}, thickness,
                cv::LINE_AA);
}


const Track* find_track(const EvidenceFrame& frame, int id) {
    for (const Track& track : frame.tracks)
        if (track.id == id) return &track;
    return nullptr;
}

cv::Rect union_box(const std::vector<Track>& tracks, const cv::Size& frame_size) {
    cv::Rect2f all;
    for (const Track& track : tracks) all = all.area() > 0 ? (all | track.box) : track.box;
    cv::Rect box(cv::Point(int(std::floor(all.x)), int(std::floor(all.y))),
                 cv::Point(int(std::ceil(all.x + all.width)), int(std::ceil(all.y + all.height))));
    return box & cv::Rect({0, 0}, frame_size);
}

// The union box grown by half its size on every side (context around the
// objects), at least kCropMinSide, kept inside the frame.
cv::Rect crop_rect(const cv::Rect& box, const cv::Size& frame_size) {
    int width = std::max(kCropMinSide, box.width * 2);
    int height = std::max(kCropMinSide, box.height * 2);
    cv::Point centre(box.x + box.width / 2, box.y + box.height / 2);
    cv::Rect rect(centre.x - width / 2, centre.y - height / 2, width, height);
    rect.x = std::clamp(rect.x, 0, std::max(0, frame_size.width - rect.width));
    rect.y = std::clamp(rect.y, 0, std::max(0, frame_size.height - rect.height));
    return rect & cv::Rect({0, 0}, frame_size);
}

std::string view_caption(const EvidenceView& view, double trigger_time_s) {
    if (view.role == "before" || view.role == "after")
        return fmt::format("{} ({:+.1f} s)", view.role, view.time_s - trigger_time_s);
    if (view.role == "annotated") return "trigger";
    return view.role;
}

std::string view_description(const EvidenceView& view, double trigger_time_s) {
    if (view.role == "annotated") return "the trigger frame with the involved objects in numbered boxes";
    if (view.role == "trigger") return "the trigger frame";
    if (view.role == "crop") return "a close-up around the involved objects";
    return fmt::format("the scene {:.1f} s {} the trigger", std::abs(view.time_s - trigger_time_s), view.role);
}

cv::Mat to_rgb(const cv::Mat& bgr) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace

size_t nearest_frame(const std::vector<EvidenceFrame>& frames, double time_s) {
    size_t best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < frames.size(); ++i) {
        double distance = std::abs(frames[i].time_s - time_s);
        if (distance < best_distance) {
            best = i;
            best_distance = distance;
        }
    }
    return best;
}

std::vector<Track> involved_tracks(const analyze::Event& event, const std::vector<EvidenceFrame>& frames) {
    std::vector<Track> tracks;
    if (frames.empty()) return tracks;
    const size_t trigger = nearest_frame(frames, event.time_s);
    for (int id : event.track_ids) {
        const Track* found = find_track(frames[trigger], id);
        // Not on the trigger frame (a missed detection): the nearest frame that has it.
        double best_distance = std::numeric_limits<double>::infinity();
        for (size_t i = 0; found == nullptr && i < frames.size(); ++i) {
            const Track* candidate = find_track(frames[i], id);
            double distance = std::abs(frames[i].time_s - event.time_s);
            if (candidate != nullptr && distance < best_distance) best_distance = distance;
        }
        for (size_t i = 0; found == nullptr && i < frames.size(); ++i)
            if (std::abs(frames[i].time_s - event.time_s) == best_distance) found = find_track(frames[i], id);
        if (found != nullptr) tracks.push_back(*found);
    }
    return tracks;
}

cv::Mat draw_track_boxes(const cv::Mat& bgr, const std::vector<Track>& tracks) {
    cv::Mat out = bgr.clone();
    const int side = std::max(out.cols, out.rows);
    const int thickness = std::max(2, side / 400);
    const double font_scale = std::max(0.5, side / 1000.0);
    const int text_thickness = std::max(1, side / 600);
    for (size_t i = 0; i < tracks.size(); ++i) {
        const Track& track = tracks[i];
        cv::Rect box(cv::Point(int(std::lround(track.box.x)), int(std::lround(track.box.y))),
                     cv::Point(int(std::lround(track.box.x + track.box.width)),
                               int(std::lround(track.box.y + track.box.height))));
        cv::rectangle(out, box, box_colour(i), thickness);
        std::string text = track.label.empty() ? fmt::format("#{}", track.id) : fmt::format("#{} {}", track.id, track.label);
        draw_label(out, text, {box.x, box.y}, box_colour(i), font_scale, text_thickness);
    }
    return out;
}

cv::Mat fit_within(const cv::Mat& bgr, int side) {
    if (bgr.empty() || (bgr.cols <= side && bgr.rows <= side)) return bgr;
    double scale = std::min(double(side) / bgr.cols, double(side) / bgr.rows);
    cv::Size size(std::clamp(int(std::lround(bgr.cols * scale)), 1, side),
                  std::clamp(int(std::lround(bgr.rows * scale)), 1, side));
    cv::Mat out;
    cv::resize(bgr, out, size, 0, 0, cv::INTER_AREA);
    return out;
}

cv::Mat make_mosaic(const std::vector<EvidenceView>& views, int side, double trigger_time_s) {
    cv::Mat mosaic(side, side, CV_8UC3, cv::Scalar(32, 32, 32));
    const int cell = side / 2;
    for (size_t i = 0; i < views.size() && i < 4; ++i) {
        cv::Mat scaled = fit_within(views[i].bgr, cell);
        if (scaled.cols < cell && scaled.rows < cell && !scaled.empty()) {
            // A small crop is scaled up to use its cell.
            double scale = std::min(double(cell) / scaled.cols, double(cell) / scaled.rows);
            cv::resize(scaled, scaled, {std::min(cell, int(scaled.cols * scale)), std::min(cell, int(scaled.rows * scale))},
                       0, 0, cv::INTER_LINEAR);
        }
        cv::Rect cell_rect(int(i % 2) * cell, int(i / 2) * cell, cell, cell);
        cv::Rect target(cell_rect.x + (cell - scaled.cols) / 2, cell_rect.y + (cell - scaled.rows) / 2, scaled.cols,
                        scaled.rows);
        scaled.copyTo(mosaic(target));
        cv::Mat cell_view = mosaic(cell_rect);
        draw_label(cell_view, view_caption(views[i], trigger_time_s), {0, 0}, {255, 255, 255}, 0.45, 1);
    }
    return mosaic;
}

Evidence compose_evidence(const analyze::Event& event, const std::vector<EvidenceFrame>& frames, int max_tiles) {
    if (max_tiles < 1)
        throw Error(fmt::format("contextualize: max_tiles_per_request must be at least 1, got {}", max_tiles));
    Evidence evidence;
    std::vector<const EvidenceFrame*> usable;
    for (const EvidenceFrame& frame : frames)
        if (!frame.bgr.empty() && frame.bgr.type() == CV_8UC3) usable.push_back(&frame);
    if (usable.empty()) {
        evidence.layout = "none (no frame was available)";
        return evidence;
    }
    std::vector<EvidenceFrame> kept;
    for (const EvidenceFrame* frame : usable) kept.push_back(*frame);
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.time_s < b.time_s; });

    const size_t trigger = nearest_frame(kept, event.time_s);
    const EvidenceFrame& trigger_frame = kept[trigger];
    evidence.tracks = involved_tracks(event, kept);

    evidence.views.push_back({"trigger", trigger_frame.bgr, trigger_frame.time_s});
    std::vector<EvidenceView> secondary;  // crop, before, after: in that priority
    if (!evidence.tracks.empty()) {
        cv::Mat annotated = draw_track_boxes(trigger_frame.bgr, evidence.tracks);
        evidence.views.push_back({"annotated", annotated, trigger_frame.time_s});
        cv::Rect box = union_box(evidence.tracks, annotated.size());
        double fraction = double(box.area()) / double(annotated.total());
        if (box.area() > 0 && fraction < kCropMaxAreaFraction) {
            cv::Rect rect = crop_rect(box, annotated.size());
            evidence.views.push_back({"crop", annotated(rect).clone(), trigger_frame.time_s});
            secondary.push_back(evidence.views.back());
        }
    }
    if (trigger > 0) {
        evidence.views.push_back({"before", kept.front().bgr, kept.front().time_s});
        secondary.push_back(evidence.views.back());
    }
    if (trigger + 1 < kept.size()) {
        evidence.views.push_back({"after", kept.back().bgr, kept.back().time_s});
        secondary.push_back(evidence.views.back());
    }
    // The annotated trigger when there are tracks to show, else the plain one.
    EvidenceView primary_view = evidence.views.front();
    for (const EvidenceView& view : evidence.views)
        if (view.role == "annotated") primary_view = view;
    const double t0 = primary_view.time_s;

    std::vector<EvidenceView> candidates{primary_view};
    candidates.insert(candidates.end(), secondary.begin(), secondary.end());
    std::vector<std::string> parts;
    if (candidates.size() <= size_t(max_tiles)) {
        for (const EvidenceView& view : candidates) {
            evidence.tiles_rgb.push_back(to_rgb(fit_within(view.bgr, kTileSide)));
            parts.push_back(fmt::format("image {}: {}", parts.size() + 1, view_description(view, t0)));
        }
    } else {
        const size_t alone = size_t(max_tiles) - 1;
        for (size_t i = 0; i < alone; ++i) {
            evidence.tiles_rgb.push_back(to_rgb(fit_within(candidates[i].bgr, kTileSide)));
            parts.push_back(fmt::format("image {}: {}", parts.size() + 1, view_description(candidates[i], t0)));
        }
        // Mosaic cells in reading order follow time: before, trigger, after, crop.
        std::vector<EvidenceView> cells(candidates.begin() + long(alone), candidates.end());
        auto rank = [](const std::string& role) {
            if (role == "before") return 0;
            if (role == "annotated" || role == "trigger") return 1;
            if (role == "after") return 2;
            return 3;
        };
        std::stable_sort(cells.begin(), cells.end(),
                         [&](const auto& a, const auto& b) { return rank(a.role) < rank(b.role); });
        static const char* const corners[] = {"top-left", "top-right", "bottom-left", "bottom-right"};
        std::vector<std::string> cell_parts;
        for (size_t i = 0; i < cells.size(); ++i)
            cell_parts.push_back(fmt::format("{} {}", corners[i], view_description(cells[i], t0)));
        evidence.tiles_rgb.push_back(to_rgb(make_mosaic(cells, kTileSide, t0)));
        parts.push_back(fmt::format("image {}: a 2x2 mosaic ({})", parts.size() + 1, fmt::join(cell_parts, "; ")));
    }
    evidence.layout = fmt::format("{}.", fmt::join(parts, "; "));
    return evidence;
}

}  // namespace vigil::contextualize
