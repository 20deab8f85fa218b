#include "detect/detect_motion.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include "core/error.h"
#include "detect/detect_nms.h"
#include "detect/detect_postprocess.h"

namespace vigil::detect {

namespace {

const std::vector<std::string> kMotionLabels = {"motion", "static_object"};

struct BlobTrack {
    cv::Rect2f box;
    cv::Rect2f anchor;  // where the current still run began: slow drift adds up against it
    int still_frames = 0;
    int missing_frames = 0;
    bool is_static = false;
};

cv::Point2f centre(const cv::Rect2f& r) { return {r.x + r.width * 0.5f, r.y + r.height * 0.5f}; }

class MotionDetector : public Detector {
public:
    MotionDetector(const DetectorConfig& config, const MotionConfig& motion)
        : motion_(motion), post_(config, kMotionLabels) {
        if (motion.history < 1 || motion.static_frames < 1) {
            throw Error("motion detector: history and static_frames must be >= 1");
        }
        subtractor_ = cv::createBackgroundSubtractorMOG2(motion.history, motion.var_threshold, true);
    }

    std::vector<Detection> detect(const cv::Mat& frame) override {
        if (frame.empty() || frame.depth() != CV_8U || (frame.channels() != 3 && frame.channels() != 1)) {
            throw Error("motion detector: expected a non-empty 8-bit BGR or grey frame");
        }
        if (frame_size_.area() > 0 && frame.size() != frame_size_) {
            throw Error("motion detector: frame size changed mid-stream (" + std::to_string(frame.cols) + "x" +
                        std::to_string(frame.rows) + "), expected one camera's frames");
        }
        frame_size_ = frame.size();
        // Blobs need no detail: a smaller frame keeps MOG2 cheap at 1080p.
        scale_ = motion_.process_width > 0 && frame.cols > motion_.process_width
                     ? static_cast<double>(motion_.process_width) / frame.cols
                     : 1.0;
        const cv::Mat* src = &frame;
        if (scale_ < 1.0) {
            cv::resize(frame, resized_, cv::Size(), scale_, scale_, cv::INTER_AREA);
            src = &resized_;
        }
        if (src->channels() == 3) {
            bgr_ = *src;
        } else {
            cv::cvtColor(*src, bgr_, cv::COLOR_GRAY2BGR);
        }
        subtractor_->apply(bgr_, foreground_);
        // MOG2 marks shadows 127: they are not objects.
        cv::threshold(foreground_, foreground_, 200, 255, cv::THRESH_BINARY);
        const int k = std::max(3, (std::min(bgr_.cols, bgr_.rows) / 120) | 1);
        cv::morphologyEx(foreground_, foreground_, cv::MORPH_OPEN,
                         cv::getStructuringElement(cv::MORPH_ELLIPSE, {3, 3}));
        cv::morphologyEx(foreground_, foreground_, cv::MORPH_CLOSE,
                         cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * k + 1, 2 * k + 1}));

        if (reference_.empty()) bgr_.convertTo(reference_, CV_32FC3);

        const auto blobs = find_blobs(bgr_.size());
        update_tracks(blobs);
        update_reference();
        ++frame_index_;

        std::vector<Detection> out;
        for (const auto& t : tracks_) {
            if (t.missing_frames > 0 && !t.is_static) continue;
            Detection d;
            const float inv = static_cast<float>(1.0 / scale_);
            d.box = cv::Rect2f(t.box.x * inv, t.box.y * inv, t.box.width * inv, t.box.height * inv) &
                    cv::Rect2f(0.f, 0.f, static_cast<float>(frame.cols), static_cast<float>(frame.rows));
            d.class_id = -1;
            d.label = t.is_static ? "static_object" : "motion";
            d.score = 1.f;
            out.push_back(std::move(d));
        }
        return post_.finish_labelled(std::move(out), frame.size());
    }

    const std::vector<std::string>& class_names() const override { return kMotionLabels; }
    std::string name() const override { return "motion (opencv mog2)"; }
    cv::Size input_size() const override { return {0, 0}; }

private:
    std::vector<cv::Rect2f> find_blobs(cv::Size size) {
        cv::Mat labels, stats, centroids;
        const int n = cv::connectedComponentsWithStats(foreground_, labels, stats, centroids, 8, CV_32S);
        const double min_area = std::max<double>(motion_.min_area_px, motion_.min_area_fraction * size.area());
        std::vector<cv::Rect2f> blobs;
        for (int i = 1; i < n; ++i) {
            if (stats.at<int>(i, cv::CC_STAT_AREA) < min_area) continue;
            const cv::Rect2f box(static_cast<float>(stats.at<int>(i, cv::CC_STAT_LEFT)),
                                 static_cast<float>(stats.at<int>(i, cv::CC_STAT_TOP)),
                                 static_cast<float>(stats.at<int>(i, cv::CC_STAT_WIDTH)),
                                 static_cast<float>(stats.at<int>(i, cv::CC_STAT_HEIGHT)));
            // A blob where the frame looks like the reference is a ghost: the
            // background model still remembers something that has left.
            if (differs_from_reference(box)) blobs.push_back(box);
        }
        return blobs;
    }

    // Per pixel, the largest channel difference: colour, not grey, since a
    // red object on a grey road can have the road's brightness.
    bool differs_from_reference(const cv::Rect2f& box) {
        const cv::Rect r = cv::Rect(box) & cv::Rect(0, 0, bgr_.cols, bgr_.rows);
        if (r.area() == 0) return false;
        bgr_(r).convertTo(roi_float_, CV_32FC3);
        cv::absdiff(roi_float_, reference_(r), roi_float_);
        cv::split(roi_float_, roi_channels_);
        cv::max(roi_channels_[0], roi_channels_[1], roi_channels_[0]);
        cv::max(roi_channels_[0], roi_channels_[2], roi_channels_[0]);
        const int differing = cv::countNonZero(roi_channels_[0] > motion_.reference_diff);
        return differing >= motion_.reference_fraction * r.area();
    }

    void update_tracks(const std::vector<cv::Rect2f>& blobs) {
        std::vector<bool> used(blobs.size(), false);
        for (auto& t : tracks_) {
            int best = -1;
            float best_overlap = 0.f;
            for (size_t i = 0; i < blobs.size(); ++i) {
                if (used[i]) continue;
                // Overlap relative to the smaller box: a static object being
                // absorbed shrinks or splits but stays inside its old box.
                const float inter = (t.box & blobs[i]).area();
                const float overlap = inter / std::max(1.f, std::min(t.box.area(), blobs[i].area()));
                if (overlap > best_overlap) {
                    best_overlap = overlap;
                    best = static_cast<int>(i);
                }
            }
            if (best >= 0 && best_overlap > 0.3f) {
                used[best] = true;
                const cv::Rect2f& b = blobs[best];
                const cv::Point2f shift = centre(b) - centre(t.anchor);
                const float size = std::sqrt(std::max(1.f, t.anchor.area()));
                const bool still = std::hypot(shift.x, shift.y) < motion_.still_shift * size &&
                                   std::abs(b.area() - t.anchor.area()) < 0.3f * t.anchor.area();
                // A static box stays put: absorption erodes the blob, not the object.
                if (!t.is_static) {
                    if (still) {
                        ++t.still_frames;
                    } else {
                        t.still_frames = 0;
                        t.anchor = b;
                    }
                    t.box = b;
                }
                t.missing_frames = 0;
            } else {
                ++t.missing_frames;
            }
            if (!t.is_static && t.still_frames >= motion_.static_frames && frame_index_ >= motion_.warmup_frames) {
                t.is_static = true;
            }
        }
        // A static object stays as long as the scene there still differs from
        // the reference background; the short-term model forgets it first.
        std::erase_if(tracks_, [&](BlobTrack& t) {
            if (t.is_static) return !differs_from_reference(t.box);
            return t.missing_frames > motion_.max_missing_frames;
        });
        for (size_t i = 0; i < blobs.size(); ++i) {
            if (!used[i]) tracks_.push_back({blobs[i], blobs[i], 0, 0, false});
        }
    }

    void update_reference() {
        if (frame_index_ < motion_.warmup_frames) {
            cv::accumulateWeighted(bgr_, reference_, motion_.warmup_alpha);
            return;
        }
        update_mask_.create(bgr_.size(), CV_8U);
        update_mask_.setTo(255);
        update_mask_.setTo(0, foreground_);
        for (const auto& t : tracks_) {
            cv::Rect r = cv::Rect(t.box) & cv::Rect(0, 0, bgr_.cols, bgr_.rows);
            update_mask_(r).setTo(0);
        }
        cv::accumulateWeighted(bgr_, reference_, motion_.reference_alpha, update_mask_);
    }

    MotionConfig motion_;
    PostProcessor post_;
    cv::Ptr<cv::BackgroundSubtractorMOG2> subtractor_;
    cv::Size frame_size_;
    double scale_ = 1.0;
    cv::Mat resized_, bgr_, foreground_, reference_, roi_float_, update_mask_;
    std::vector<cv::Mat> roi_channels_;
    std::vector<BlobTrack> tracks_;
    int frame_index_ = 0;
};

}  // namespace

std::unique_ptr<Detector> make_motion_detector(const DetectorConfig& config, const MotionConfig& motion) {
    return std::make_unique<MotionDetector>(config, motion);
}

}  // namespace vigil::detect
