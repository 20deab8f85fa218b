#include "analyze/analyze_scenario.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>

#include "analyze/analyze_engine.h"
#include "analyze/analyze_geometry.h"
#include "core/error.h"

namespace vigil::analyze {

namespace {

constexpr double epsilon = 1e-6;

std::vector<std::string> split_words(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    std::string word;
    while (in >> word) words.push_back(word);
    return words;
}

// The COCO ids of the names scenarios use; any other class is given by id.
const std::map<std::string, int>& coco_ids() {
    static const std::map<std::string, int> ids = {
        {"person", 0},   {"bicycle", 1},   {"car", 2},      {"motorcycle", 3}, {"bus", 5},
        {"truck", 7},    {"backpack", 24}, {"umbrella", 25}, {"handbag", 26},  {"suitcase", 28},
    };
    return ids;
}

class Parser {
public:
    explicit Parser(const std::filesystem::path& file) : file_(file) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(fmt::format("{}:{}: {}", file_.string(), line_, what));
    }

    double number(const std::string& text) const {
        try {
            size_t used = 0;
            double v = std::stod(text, &used);
            if (used == text.size() && std::isfinite(v)) return v;
        } catch (const std::exception&) {
        }
        fail(fmt::format("\"{}\" is not a number", text));
    }

    int integer(const std::string& text) const {
        double v = number(text);
        if (v != std::floor(v)) fail(fmt::format("\"{}\" is not a whole number", text));
        return int(v);
    }

    cv::Point2f point(const std::string& text) const {
        auto comma = text.find(',');
        if (comma == std::string::npos) fail(fmt::format("\"{}\" is not a point x,y", text));
        return {float(number(text.substr(0, comma))), float(number(text.substr(comma + 1)))};
    }

    Scenario parse() {
        std::ifstream in(file_);
        if (!in) throw Error(fmt::format("{}: cannot open scenario file", file_.string()));
        Scenario scenario;
        scenario.file = file_;
        scenario.name = file_.stem().string();
        bool has_time = false, has_config = false;
        std::string raw;
        while (std::getline(in, raw)) {
            ++line_;
            std::string text = raw.substr(0, raw.find('#'));
            std::vector<std::string> words = split_words(text);
            if (words.empty()) continue;
            const std::string& head = words[0];
            if (head == "name") {
                scenario.name = text.substr(text.find("name") + 4);
                scenario.name.erase(0, scenario.name.find_first_not_of(" \t"));
            } else if (head == "frame") {
                if (words.size() != 3) fail("expected: frame <width> <height>");
                scenario.frame_size = {integer(words[1]), integer(words[2])};
            } else if (head == "fps") {
                if (words.size() != 2 || number(words[1]) <= 0) fail("expected: fps <frames per second above 0>");
                scenario.fps = number(words[1]);
            } else if (head == "time") {
                if (words.size() != 3) fail("expected: time <start_s> <end_s>");
                scenario.start_s = number(words[1]);
                scenario.end_s = number(words[2]);
                if (scenario.end_s < scenario.start_s) fail("the end time is before the start time");
                has_time = true;
            } else if (head == "config") {
                scenario.config = read_config(in);
                has_config = true;
            } else if (head == "track") {
                scenario.tracks.push_back(parse_track(words));
            } else if (head == "lost") {
                if (scenario.tracks.empty()) fail("\"lost\" before any \"track\"");
                if (words.size() != 3) fail("expected: lost <t0> <t1>");
                scenario.tracks.back().lost.emplace_back(number(words[1]), number(words[2]));
            } else if (head == "ignore") {
                scenario.ignored_types.insert(scenario.ignored_types.end(), words.begin() + 1, words.end());
            } else if (head == "expect") {
                scenario.expected.push_back(parse_expectation(words, text));
            } else if (std::isdigit(static_cast<unsigned char>(head[0])) || head[0] == '.') {
                if (scenario.tracks.empty()) fail("a keyframe before any \"track\"");
                if (words.size() != 2) fail("expected a keyframe: <t> <x>,<y>");
                auto& keyframes = scenario.tracks.back().keyframes;
                double t = number(words[0]);
                if (!keyframes.empty() && t <= keyframes.back().time_s) fail("keyframe times must increase");
                keyframes.push_back({t, point(words[1])});
            } else {
                fail(fmt::format("unknown directive \"{}\"", head));
            }
        }
        if (!has_time) throw Error(fmt::format("{}: no \"time <start_s> <end_s>\" line", file_.string()));
        if (!has_config) throw Error(fmt::format("{}: no \"config\" block", file_.string()));
        for (const auto& track : scenario.tracks) {
            if (track.keyframes.empty()) {
                throw Error(fmt::format("{}: track {} has no keyframes", file_.string(), track.id));
            }
        }
        return scenario;
    }

private:
    nlohmann::json read_config(std::ifstream& in) {
        int start_line = line_;
        std::string json_text, raw;
        while (std::getline(in, raw)) {
            ++line_;
            if (split_words(raw) == std::vector<std::string>{"end"}) {
                try {
                    return nlohmann::json::parse(json_text);
                } catch (const nlohmann::json::parse_error& e) {
                    throw Error(fmt::format("{}:{}: the config block is not valid JSON: {}", file_.string(),
                                            start_line, e.what()));
                }
            }
            json_text += raw + "\n";
        }
        fail("the config block has no closing \"end\" line");
    }

    ScenarioTrack parse_track(const std::vector<std::string>& words) const {
        if (words.size() < 2) fail("expected: track <id> class=<label|id> ...");
        ScenarioTrack track;
        track.id = integer(words[1]);
        for (size_t i = 2; i < words.size(); ++i) {
            auto eq = words[i].find('=');
            if (eq == std::string::npos) fail(fmt::format("expected key=value, got \"{}\"", words[i]));
            std::string key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
            if (key == "class") {
                auto it = coco_ids().find(value);
                if (it != coco_ids().end()) {
                    track.class_id = it->second;
                    track.label = value;
                } else {
                    track.class_id = integer(value);
                    for (const auto& [name, id] : coco_ids()) {
                        if (id == track.class_id) track.label = name;
                    }
                }
            } else if (key == "size") {
                auto x = value.find('x');
                if (x == std::string::npos) fail("expected size=<w>x<h>");
                track.size = {float(number(value.substr(0, x))), float(number(value.substr(x + 1)))};
            } else if (key == "mpp") {
                track.metres_per_px = number(value);
            } else if (key == "tentative_until") {
                track.tentative_until = number(value);
            } else {
                fail(fmt::format("unknown track key \"{}\" (expected class, size, mpp, tentative_until)", key));
            }
        }
        return track;
    }

    ScenarioExpectation parse_expectation(const std::vector<std::string>& words, const std::string& text) const {
        if (words.size() < 2) fail("expected: expect <event type> [key=value]...");
        ScenarioExpectation expectation;
        expectation.line = line_;
        expectation.text = text.substr(text.find_first_not_of(" \t"));
        while (!expectation.text.empty() && std::isspace(static_cast<unsigned char>(expectation.text.back()))) {
            expectation.text.pop_back();
        }
        expectation.type = words[1];
        for (size_t i = 2; i < words.size(); ++i) {
            const std::string& word = words[i];
            auto op_at = word.find_first_of("<>=");
            if (op_at == std::string::npos || op_at == 0) fail(fmt::format("expected key=value, got \"{}\"", word));
            ScenarioCheck check;
            check.key = word.substr(0, op_at);
            size_t op_len = (word[op_at] != '=' && op_at + 1 < word.size() && word[op_at + 1] == '=') ? 2 : 1;
            check.op = word.substr(op_at, op_len);
            check.value = word.substr(op_at + op_len);
            auto pm = check.value.find("+-");
            if (pm != std::string::npos) {
                check.tolerance = number(check.value.substr(pm + 2));
                check.value = check.value.substr(0, pm);
            }
            static const char* keys[] = {"rule", "zone", "phase", "direction", "track", "tracks", "time", "start"};
            bool known = check.key.rfind("m.", 0) == 0 ||
                         std::find(std::begin(keys), std::end(keys), check.key) != std::end(keys);
            if (!known) fail(fmt::format("unknown expectation key \"{}\"", check.key));
            expectation.checks.push_back(std::move(check));
        }
        return expectation;
    }

    std::filesystem::path file_;
    int line_ = 0;
};

bool compare(double actual, const std::string& op, double expected, double tolerance) {
    if (op == "=") return std::abs(actual - expected) <= tolerance;
    if (op == "<") return actual < expected;
    if (op == ">") return actual > expected;
    if (op == "<=") return actual <= expected + tolerance;
    if (op == ">=") return actual >= expected - tolerance;
    return false;
}

std::vector<int> parse_ids(const std::string& text) {
    std::vector<int> ids;
    std::istringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) ids.push_back(std::stoi(part));
    std::sort(ids.begin(), ids.end());
    return ids;
}

bool is_number(const std::string& text) {
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    return !text.empty() && end == text.c_str() + text.size();
}

bool matches(const Event& event, const ScenarioExpectation& expectation, double frame_s) {
    if (event.type != expectation.type) return false;
    for (const ScenarioCheck& check : expectation.checks) {
        const std::string& k = check.key;
        double tolerance = check.tolerance >= 0 ? check.tolerance : 1e-6;
        if (k == "rule" && event.rule != check.value) return false;
        if (k == "zone" && event.zone != check.value) return false;
        if (k == "direction" && event.direction != check.value) return false;
        if (k == "phase" && to_string(event.phase) != check.value) return false;
        if (k == "track" && event.track_ids != std::vector<int>{std::stoi(check.value)}) return false;
        if (k == "tracks") {
            std::vector<int> ids = event.track_ids;
            std::sort(ids.begin(), ids.end());
            if (ids != parse_ids(check.value)) return false;
        }
        if (k == "time" || k == "start") {
            double actual = k == "time" ? event.time_s : event.start_s;
            // One frame either way by default: inertia and sampling make exact times brittle.
            double t_tol = check.tolerance >= 0 ? check.tolerance : frame_s * 1.01;
            if (!compare(actual, check.op, std::stod(check.value), t_tol)) return false;
        }
        if (k.rfind("m.", 0) == 0) {
            auto it = event.metrics.find(k.substr(2));
            if (it == event.metrics.end()) return false;
            if (is_number(check.value)) {
                if (!it->is_number() || !compare(it->get<double>(), check.op, std::stod(check.value), tolerance)) {
                    return false;
                }
            } else if (!it->is_string() || check.op != "=" || it->get<std::string>() != check.value) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

Scenario load_scenario(const std::filesystem::path& file) {
    return Parser(file).parse();
}

std::vector<std::pair<double, std::vector<Track>>> simulate_tracks(const Scenario& scenario) {
    Anchor anchor = Anchor::bottom_centre;
    if (scenario.config.is_object() && scenario.config.contains("anchor") && scenario.config["anchor"].is_string()) {
        anchor = anchor_from_string(scenario.config["anchor"].get<std::string>(), scenario.file.string());
    }
    struct Motion {
        cv::Point2f rest;
        double rest_since = 0;
        bool started = false;
        int lost_frames = 0;
        double last_seen_s = 0;
        double first_seen_s = 0;
    };
    std::vector<Motion> motion(scenario.tracks.size());
    std::vector<std::pair<double, std::vector<Track>>> frames;
    int frame_count = int(std::floor((scenario.end_s - scenario.start_s) * scenario.fps + epsilon)) + 1;
    for (int i = 0; i < frame_count; ++i) {
        double t = scenario.start_s + i / scenario.fps;
        std::vector<Track> tracks;
        for (size_t k = 0; k < scenario.tracks.size(); ++k) {
            const ScenarioTrack& spec = scenario.tracks[k];
            const auto& kf = spec.keyframes;
            if (t < kf.front().time_s - epsilon || t > kf.back().time_s + epsilon) continue;
            size_t j = 0;
            while (j + 1 < kf.size() && kf[j + 1].time_s <= t + epsilon) ++j;
            cv::Point2f position = kf[j].anchor, velocity{0, 0};
            if (j + 1 < kf.size()) {
                double span = kf[j + 1].time_s - kf[j].time_s;
                float a = float((t - kf[j].time_s) / span);
                position = kf[j].anchor + (kf[j + 1].anchor - kf[j].anchor) * a;
                velocity = (kf[j + 1].anchor - kf[j].anchor) * float(1.0 / span);
            } else if (j > 0) {
                velocity = (kf[j].anchor - kf[j - 1].anchor) * float(1.0 / (kf[j].time_s - kf[j - 1].time_s));
            }
            bool lost = false;
            for (const auto& [t0, t1] : spec.lost) lost = lost || (t > t0 + epsilon && t <= t1 + epsilon);

            Motion& m = motion[k];
            if (!m.started) m.first_seen_s = t;
            if (!m.started || distance(position, m.rest) > 2.0) {
                m.rest = position;
                m.rest_since = t;
                m.started = true;
            }
            m.lost_frames = lost ? m.lost_frames + 1 : 0;
            if (!lost) m.last_seen_s = t;

            Track track;
            track.id = spec.id;
            track.class_id = spec.class_id;
            track.label = spec.label;
            track.score = 0.9f;
            float top = anchor == Anchor::centre ? position.y - spec.size.height * 0.5f : position.y - spec.size.height;
            track.box = {position.x - spec.size.width * 0.5f, top, spec.size.width, spec.size.height};
            track.velocity_px_s = velocity;
            if (spec.metres_per_px > 0) {
                track.has_ground_velocity = true;
                track.velocity_m_s = velocity * float(spec.metres_per_px);
            }
            track.first_seen_s = m.first_seen_s;
            track.last_seen_s = m.last_seen_s;
            track.stationary_s = t - m.rest_since;
            track.frames_since_seen = m.lost_frames;
            track.confirmed = t > spec.tentative_until;
            tracks.push_back(std::move(track));
        }
        frames.emplace_back(t, std::move(tracks));
    }
    return frames;
}

ScenarioResult run_scenario(const Scenario& scenario) {
    ScenarioResult result;
    AnalyticsEngine engine(scenario.config, scenario.frame_size);
    for (auto& [time_s, tracks] : simulate_tracks(scenario)) {
        engine.update(tracks, time_s, result.events);
        ++result.frames;
    }

    std::vector<bool> used(result.events.size(), false);
    for (const ScenarioExpectation& expectation : scenario.expected) {
        bool found = false;
        for (size_t i = 0; i < result.events.size() && !found; ++i) {
            if (!used[i] && matches(result.events[i], expectation, 1.0 / scenario.fps)) {
                used[i] = found = true;
            }
        }
        if (!found) result.failures.push_back(fmt::format("line {}: no event matches \"{}\"", expectation.line,
                                                          expectation.text));
    }
    for (size_t i = 0; i < result.events.size(); ++i) {
        const Event& event = result.events[i];
        bool ignored = std::find(scenario.ignored_types.begin(), scenario.ignored_types.end(), event.type) !=
                       scenario.ignored_types.end();
        if (!used[i] && !ignored) {
            result.failures.push_back("unexpected event: " + nlohmann::json(event).dump());
        }
    }
    return result;
}

}  // namespace vigil::analyze
