#pragma once
// MOTChallenge text formats: gt/gt.txt, det/det.txt, tracker results and
// seqinfo.ini. Rows are kept as read; grouping by frame and the benchmark's
// filtering happen in eval_mot_preprocess.h.
#include <filesystem>
#include <string>
#include <vector>

#include "core/detection.h"

namespace vigil::eval {

// One line of a MOTChallenge file: frame,id,x,y,w,h[,conf,class,visibility].
// Columns a file does not have keep the defaults below.
struct MotRow {
    int frame = 0;              // 1-based
    int id = -1;                // -1 in det.txt
    double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, pixels
    double confidence = 1;      // gt: the "consider" flag (0 = ignore); det/results: score
    int class_id = -1;          // gt: 1 pedestrian, 2 person on vehicle, 7 static person, ...
    double visibility = -1;     // gt only
};

struct MotSeqInfo {
    std::string name;
    int length = 0;             // number of frames (seqLength)
    double frame_rate = 0;
    int width = 0, height = 0;
    std::string image_dir = "img1";
    std::string image_ext = ".jpg";
};

// Throws vigil::Error naming the file and the missing or malformed key.
MotSeqInfo read_seqinfo(const std::filesystem::path& ini_path);

// Reads every row, in file order (which need not be sorted by frame). Lines
// may be comma- or whitespace-separated; blank lines are skipped. Throws
// vigil::Error naming file:line for fewer than 6 columns, non-numeric
// fields or a frame number below 1.
std::vector<MotRow> read_mot_rows(const std::filesystem::path& path);

// Rows grouped by frame: result[f - 1] holds the rows of frame f, in file
// order. Throws vigil::Error (naming `source`) when a row's frame is outside
// 1..num_frames.
std::vector<std::vector<MotRow>> group_rows_by_frame(const std::vector<MotRow>& rows, int num_frames,
                                                     const std::string& source);

// Writes tracks in the MOTChallenge result format
// (frame,id,x,y,w,h,score,-1,-1,-1), one line per track, frames ascending.
// tracks_per_frame[i] belongs to frame first_frame + i.
void write_mot_results(const std::filesystem::path& path, const std::vector<std::vector<Track>>& tracks_per_frame,
                       int first_frame = 1);

}  // namespace vigil::eval
