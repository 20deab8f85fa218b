// Per-camera history of recent frames for evidence.
#include <algorithm>

#include "contextualize/contextualize_evidence.h"
#include "contextualize/contextualizer.h"

namespace vigil::contextualize {

FrameRing::FrameRing(double seconds, size_t max_frames) : seconds_(seconds), max_frames_(std::max<size_t>(1, max_frames)) {}

void FrameRing::push(EvidenceFrame frame) {
    // Time going backwards means the stream restarted (a looped file, a
    // reconnect with a new clock): the old frames no longer line up with events.
    if (!frames_.empty() && frame.time_s < frames_.back().time_s) frames_.clear();
    frames_.push_back(std::move(frame));
    const double oldest_kept = frames_.back().time_s - seconds_;
    size_t drop = 0;
    while (drop + 1 < frames_.size() && frames_[drop].time_s < oldest_kept) ++drop;
    if (frames_.size() - drop > max_frames_) drop = frames_.size() - max_frames_;
    frames_.erase(frames_.begin(), frames_.begin() + long(drop));
}

std::vector<EvidenceFrame> FrameRing::frames_near(const std::vector<double>& times_s) const {
    std::vector<size_t> picked;
    if (frames_.empty()) return {};
    for (double time_s : times_s) picked.push_back(nearest_frame(frames_, time_s));
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    std::vector<EvidenceFrame> out;
    out.reserve(picked.size());
    for (size_t index : picked) out.push_back(frames_[index]);
    return out;
}

const EvidenceFrame* FrameRing::latest() const { return frames_.empty() ? nullptr : &frames_.back(); }

}  // namespace vigil::contextualize
