#pragma once
// Motion detector for fixed cameras: foreground blobs from a background
// model, tracked frame to frame so a blob that stops and stays ("an object
// dropped on the lane") is told apart from traffic. Finds what no trained
// class covers; no weights.
//
// Labels: "motion" for a moving blob, "static_object" for one that has stayed
// put for static_frames frames and still differs from the reference
// background (a slow average of the scene that never learns tracked blobs).
// class_id is -1 for both; score is 1.
#include <memory>

#include "detect/detector.h"

namespace vigil::detect {

struct MotionConfig {
    int process_width = 640;           // wider frames are downscaled to this first (0: never)
    int history = 500;                 // MOG2 history, frames
    double var_threshold = 16.0;       // MOG2 squared Mahalanobis distance
    double min_area_fraction = 0.0005; // of the frame; smaller blobs are noise
    int min_area_px = 64;
    int static_frames = 25;            // still this long -> static_object
    int warmup_frames = 100;           // no static_object before: the reference is still settling
    float still_shift = 0.08f;         // centre shift (from where it stopped) / blob size: still below
    int max_missing_frames = 5;        // a moving track survives this many frames without a blob
    double reference_alpha = 0.02;     // reference background update rate (non-blob pixels only)
    double warmup_alpha = 0.05;        // during warm-up, everywhere: washes out whatever stood in frame 1
    int reference_diff = 25;           // largest channel difference at which a pixel differs from the reference
    double reference_fraction = 0.3;   // of a box's pixels differing: the object is still there
};

std::unique_ptr<Detector> make_motion_detector(const DetectorConfig& config, const MotionConfig& motion = {});

}  // namespace vigil::detect
