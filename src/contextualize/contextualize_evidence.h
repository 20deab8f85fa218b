#pragma once
// Evidence for one event: which frames show it (before / trigger / after),
// the trigger drawn with the involved tracks' numbered boxes, a crop around
// them, and how to pack all that into the VLM's image-token budget.
//
// Why a budget: a tiling projector (SmolVLM) spends about 1.6 s of two CPU
// cores per 512 px tile, and a full-resolution frame would be cut into 17 of
// them (about 28 s). So every image sent is at most one tile, and when there
// are more views than tiles the extra ones share a 2x2 mosaic tile.
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "analyze/analyze_event.h"
#include "contextualize/contextualizer.h"

namespace vigil::contextualize {

inline constexpr int kTileSide = 512;

// One view of the event at full resolution (BGR), kept for the store.
struct EvidenceView {
    std::string role;   // before | trigger | annotated | crop | after
    cv::Mat bgr;
    double time_s = 0;
};

struct Evidence {
    std::vector<EvidenceView> views;   // full resolution, for ContextReport.evidence_images
    std::vector<Track> tracks;         // the event's tracks, as on the trigger frame when seen there
    std::vector<cv::Mat> tiles_rgb;    // what the VLM gets: each image fits one 512x512 tile
    std::string layout;                // prompt text saying which image shows what
};

// The event's tracks as drawn: from the trigger frame, else the nearest frame
// that has them. Order follows event.track_ids.
// Index of the frame whose time is closest to time_s (0 for an empty list).
size_t nearest_frame(const std::vector<EvidenceFrame>& frames, double time_s);

std::vector<Track> involved_tracks(const analyze::Event& event, const std::vector<EvidenceFrame>& frames);

// Draws numbered boxes ("#12 car") on a copy of `bgr`.
cv::Mat draw_track_boxes(const cv::Mat& bgr, const std::vector<Track>& tracks);

// Scales `bgr` down (never up) to fit a side x side square, keeping aspect ratio.
cv::Mat fit_within(const cv::Mat& bgr, int side);

// 2x2 mosaic (side x side) of up to four views, each captioned with its role
// and its time relative to the trigger; empty cells stay dark.
cv::Mat make_mosaic(const std::vector<EvidenceView>& views, int side, double trigger_time_s);

// Picks before / trigger / after among `frames` (trigger: nearest to
// event.time_s; before: the earliest frame before it; after: the latest frame
// after it), draws, crops and packs them into at most `max_tiles` tiles.
// Throws vigil::Error when max_tiles < 1.
Evidence compose_evidence(const analyze::Event& event, const std::vector<EvidenceFrame>& frames, int max_tiles);

}  // namespace vigil::contextualize
