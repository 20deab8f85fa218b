#include "eval/eval_mot_io.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace vigil::eval {

namespace {

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    const auto end = s.find_last_not_of(" \t\r\n");
    return s.substr(begin, end - begin + 1);
}

bool parse_double(const std::string& text, double& value) {
    errno = 0;
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return end != text.c_str() && *end == '\0' && errno != ERANGE && std::isfinite(value);
}

}  // namespace

MotSeqInfo read_seqinfo(const std::filesystem::path& ini_path) {
    std::ifstream in(ini_path);
    if (!in) throw Error(fmt::format("cannot open {} (expected a MOTChallenge seqinfo.ini)", ini_path.string()));
    std::map<std::string, std::string> keys;
    std::string line, section;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == ';' || line[0] == '#') continue;
        if (line.front() == '[' && line.back() == ']') {
            section = line.substr(1, line.size() - 2);
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos || section != "Sequence") continue;
        keys[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
    }
    auto get = [&](const std::string& key) -> const std::string* {
        auto it = keys.find(key);
        return it == keys.end() ? nullptr : &it->second;
    };
    auto get_number = [&](const std::string& key, bool required) -> double {
        const std::string* text = get(key);
        if (!text) {
            if (required)
                throw Error(fmt::format("{}: missing key '{}' in section [Sequence]", ini_path.string(), key));
            return 0;
        }
        double value = 0;
        if (!parse_double(*text, value))
            throw Error(fmt::format("{}: key '{}' = '{}' is not a number", ini_path.string(), key, *text));
        return value;
    };
    MotSeqInfo info;
    info.name = get("name") ? *get("name") : ini_path.parent_path().filename().string();
    const double length = get_number("seqLength", true);
    if (length < 1 || length != std::floor(length))
        throw Error(fmt::format("{}: seqLength must be a positive integer, got {}", ini_path.string(), length));
    info.length = static_cast<int>(length);
    info.frame_rate = get_number("frameRate", false);
    info.width = static_cast<int>(get_number("imWidth", false));
    info.height = static_cast<int>(get_number("imHeight", false));
    if (get("imDir")) info.image_dir = *get("imDir");
    if (get("imExt")) info.image_ext = *get("imExt");
    return info;
}

std::vector<MotRow> read_mot_rows(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot open {} (expected a MOTChallenge text file)", path.string()));
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();

    std::vector<MotRow> rows;
    rows.reserve(text.size() / 40);
    int line_number = 0;
    size_t line_start = 0;
    while (line_start < text.size()) {
        size_t line_end = text.find('\n', line_start);
        if (line_end == std::string::npos) line_end = text.size();
        ++line_number;
        const std::string line = text.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        if (trim(line).empty()) continue;
        auto malformed = [&](const std::string& why) {
            return Error(fmt::format("{}:{}: {} (expected frame,id,x,y,w,h[,conf,class,visibility]), got '{}'",
                                     path.string(), line_number, why, trim(line)));
        };
        // Fields separated by one comma and/or whitespace.
        double values[9] = {0, -1, 0, 0, 0, 0, 1, -1, -1};
        int count = 0;
        const char* p = line.c_str();
        while (true) {
            while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
            if (*p == '\0') break;
            char* end = nullptr;
            errno = 0;
            const double value = std::strtod(p, &end);
            if (end == p || errno == ERANGE || !std::isfinite(value))
                throw malformed(fmt::format("column {} is not a number", count + 1));
            if (count < 9) values[count] = value;
            ++count;
            p = end;
            while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
            if (*p == ',') {
                ++p;
                while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
                if (*p == '\0' || *p == ',') throw malformed(fmt::format("column {} is empty", count + 1));
            } else if (*p != '\0' && !std::isdigit(static_cast<unsigned char>(*p)) && *p != '-' && *p != '+' &&
                       *p != '.') {
                throw malformed(fmt::format("unexpected character '{}' after column {}", *p, count));
            }
        }
        if (count < 6) throw malformed(fmt::format("only {} columns", count));
        if (values[0] < 1 || values[0] != std::floor(values[0]))
            throw malformed(fmt::format("frame must be an integer >= 1, not {}", values[0]));
        if (values[1] != std::floor(values[1])) throw malformed(fmt::format("id must be an integer, not {}", values[1]));
        MotRow row;
        row.frame = static_cast<int>(values[0]);
        row.id = static_cast<int>(values[1]);
        row.x = values[2];
        row.y = values[3];
        row.w = values[4];
        row.h = values[5];
        row.confidence = values[6];
        row.class_id = static_cast<int>(values[7]);
        row.visibility = values[8];
        rows.push_back(row);
    }
    return rows;
}

std::vector<std::vector<MotRow>> group_rows_by_frame(const std::vector<MotRow>& rows, int num_frames,
                                                     const std::string& source) {
    std::vector<std::vector<MotRow>> frames(static_cast<size_t>(std::max(num_frames, 0)));
    for (const MotRow& row : rows) {
        if (row.frame < 1 || row.frame > num_frames)
            throw Error(fmt::format("{}: frame {} is outside the sequence (frames 1..{} per seqinfo.ini)", source,
                                    row.frame, num_frames));
        frames[row.frame - 1].push_back(row);
    }
    return frames;
}

void write_mot_results(const std::filesystem::path& path, const std::vector<std::vector<Track>>& tracks_per_frame,
                       int first_frame) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path);
    if (!out) throw Error(fmt::format("cannot write MOT results to {}", path.string()));
    for (size_t i = 0; i < tracks_per_frame.size(); ++i) {
        const int frame = first_frame + static_cast<int>(i);
        for (const Track& track : tracks_per_frame[i])
            out << fmt::format("{},{},{:.2f},{:.2f},{:.2f},{:.2f},{:.3f},-1,-1,-1\n", frame, track.id, track.box.x,
                               track.box.y, track.box.width, track.box.height, track.score);
    }
    if (!out) throw Error(fmt::format("failed while writing {}", path.string()));
}

}  // namespace vigil::eval
