#include "pipeline/pipeline_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "analyze/analyze_engine.h"
#include "core/error.h"

namespace vigil::pipeline {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSinkTypes = {"jsonl", "webhook", "mqtt", "stdout"};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

int line_of(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

// Where in the file a value sits, so every message can name file, line,
// camera and key.
struct Place {
    std::string file;
    std::string camera;  // empty outside cameras

    [[noreturn]] void fail(int line, const std::string& key, const std::string& what) const {
        std::string message = file;
        if (line > 0) message += fmt::format(":{}", line);
        message += ": ";
        if (!camera.empty()) message += fmt::format("camera \"{}\": ", camera);
        if (!key.empty()) message += fmt::format("key \"{}\": ", key);
        throw Error(message + what);
    }
    [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
        fail(line_of(node), key, what);
    }
};

std::string describe_node(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null: return "nothing";
        case YAML::NodeType::Scalar: return fmt::format("\"{}\"", node.Scalar());
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a mapping";
        default: return "an undefined value";
    }
}

bool is_plain(const YAML::Node& node) { return node.Tag() != "!"; }

std::optional<double> scalar_number(const YAML::Node& node) {
    if (!node.IsScalar() || !is_plain(node)) return std::nullopt;
    const std::string& text = node.Scalar();
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::optional<bool> scalar_bool(const YAML::Node& node) {
    if (!node.IsScalar() || !is_plain(node)) return std::nullopt;
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "FALSE" || text == "no") return false;
    return std::nullopt;
}

// YAML to JSON for the stage configs (analytics, sinks, few-shot answers):
// plain scalars become numbers, booleans or null where they read as such;
// quoted scalars always stay strings.
nlohmann::json to_json(const YAML::Node& node, const Place& place, const std::string& key) {
    switch (node.Type()) {
        case YAML::NodeType::Null: return nullptr;
        case YAML::NodeType::Scalar: {
            if (!is_plain(node)) return node.Scalar();
            const std::string& text = node.Scalar();
            if (text == "~" || text == "null") return nullptr;
            if (auto flag = scalar_bool(node)) return *flag;
            int64_t integer = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
            if (ec == std::errc() && end == text.data() + text.size()) return integer;
            if (auto number = scalar_number(node)) return *number;
            return text;
        }
        case YAML::NodeType::Sequence: {
            nlohmann::json array = nlohmann::json::array();
            for (size_t i = 0; i < node.size(); ++i) array.push_back(to_json(node[i], place, fmt::format("{}[{}]", key, i)));
            return array;
        }
        case YAML::NodeType::Map: {
            nlohmann::json object = nlohmann::json::object();
            for (const auto& entry : node) {
                std::string name = entry.first.Scalar();
                std::string sub = key.empty() ? name : key + "." + name;
                if (object.contains(name)) place.fail(entry.first, sub, "appears twice in the same mapping");
                object[name] = to_json(entry.second, place, sub);
            }
            return object;
        }
        default: return nullptr;
    }
}

// The keys of one YAML mapping, read by name; finish() rejects any key that
// nobody asked for.
class MapReader {
public:
    MapReader(const YAML::Node& node, const Place& place, std::string prefix, std::vector<std::string> allowed)
        : node_(node), place_(place), prefix_(std::move(prefix)), allowed_(std::move(allowed)) {
        if (!node_.IsMap()) {
            place_.fail(node_, prefix_.empty() ? "" : prefix_,
                        fmt::format("expected a mapping of keys, got {}", describe_node(node_)));
        }
        for (const auto& entry : node_) {
            const std::string name = entry.first.Scalar();
            if (std::find(allowed_.begin(), allowed_.end(), name) == allowed_.end()) {
                place_.fail(entry.first, key(name), fmt::format("unknown key; expected one of: {}", join(allowed_)));
            }
            if (!seen_.insert(name).second) place_.fail(entry.first, key(name), "appears twice");
        }
    }

    std::string key(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
    const Place& place() const { return place_; }
    const YAML::Node& node() const { return node_; }

    YAML::Node get(const std::string& name) const {
        for (const auto& entry : node_) {
            if (entry.first.Scalar() == name) return entry.second;
        }
        return YAML::Node(YAML::NodeType::Undefined);
    }
    bool has(const std::string& name) const { return seen_.count(name) > 0; }

    [[noreturn]] void fail(const std::string& name, const std::string& what) const {
        YAML::Node value = get(name);
        place_.fail(value.IsDefined() ? value : node_, key(name), what);
    }

    std::string string_or(const std::string& name, const std::string& fallback) const {
        if (!has(name)) return fallback;
        YAML::Node value = get(name);
        if (!value.IsScalar()) fail(name, fmt::format("expected text, got {}", describe_node(value)));
        return value.Scalar();
    }
    double number_or(const std::string& name, double fallback, double min, double max) const {
        if (!has(name)) return fallback;
        YAML::Node value = get(name);
        auto number = scalar_number(value);
        if (!number) fail(name, fmt::format("expected a number, got {}", describe_node(value)));
        if (*number < min || *number > max) fail(name, fmt::format("{} is outside {}..{}", *number, min, max));
        return *number;
    }
    int integer_or(const std::string& name, int fallback, int min, int max) const {
        if (!has(name)) return fallback;
        double number = number_or(name, fallback, min, max);
        if (number != std::floor(number)) fail(name, fmt::format("expected a whole number, got {}", number));
        return static_cast<int>(number);
    }
    bool bool_or(const std::string& name, bool fallback) const {
        if (!has(name)) return fallback;
        YAML::Node value = get(name);
        auto flag = scalar_bool(value);
        if (!flag) fail(name, fmt::format("expected true or false, got {}", describe_node(value)));
        return *flag;
    }
    std::vector<std::string> string_list(const std::string& name) const {
        std::vector<std::string> out;
        if (!has(name)) return out;
        YAML::Node value = get(name);
        if (!value.IsSequence()) fail(name, fmt::format("expected a list of names, got {}", describe_node(value)));
        for (const auto& item : value) {
            if (!item.IsScalar()) place_.fail(item, key(name), "expected a list of names");
            out.push_back(item.Scalar());
        }
        return out;
    }

private:
    YAML::Node node_;
    const Place& place_;
    std::string prefix_;
    std::vector<std::string> allowed_;
    std::set<std::string> seen_;
};

cv::Point2f read_point(const YAML::Node& node, const Place& place, const std::string& key) {
    if (!node.IsSequence() || node.size() != 2) place.fail(node, key, "expected a point [x, y]");
    auto x = scalar_number(node[0]);
    auto y = scalar_number(node[1]);
    if (!x || !y) place.fail(node, key, "expected a point [x, y] of numbers");
    return {static_cast<float>(*x), static_cast<float>(*y)};
}

bool is_absolute_url(const std::string& source) { return source.find("://") != std::string::npos; }

std::string resolve_relative(const std::string& path, const fs::path& base_dir) {
    if (path.empty() || fs::path(path).is_absolute() || is_absolute_url(path)) return path;
    return (base_dir / path).lexically_normal().string();
}

detect::DetectorConfig read_detector(const MapReader& reader) {
    detect::DetectorConfig config;
    MapReader detector(reader.get("detector"), reader.place(), "detector",
                       {"name", "threshold", "classes", "class_thresholds", "threads", "backend", "nms_iou",
                        "models_dir"});
    config.name = detector.string_or("name", config.name);
    const auto known = detect::detector_names();
    if (std::find(known.begin(), known.end(), config.name) == known.end()) {
        detector.fail("name", fmt::format("unknown detector \"{}\"; known: {}", config.name, join(known)));
    }
    config.score_threshold = static_cast<float>(detector.number_or("threshold", config.score_threshold, 0, 1));
    config.classes = detector.string_list("classes");
    config.threads = detector.integer_or("threads", config.threads, 1, 64);
    config.backend = detector.string_or("backend", config.backend);
    if (config.backend != "auto" && config.backend != "onnxruntime" && config.backend != "opencv") {
        detector.fail("backend", fmt::format("unknown backend \"{}\"; expected auto, onnxruntime or opencv",
                                             config.backend));
    }
    config.nms_iou = static_cast<float>(detector.number_or("nms_iou", config.nms_iou, 0, 1));
    config.models_dir = detector.string_or("models_dir", "");
    if (detector.has("class_thresholds")) {
        YAML::Node thresholds = detector.get("class_thresholds");
        if (!thresholds.IsMap()) detector.fail("class_thresholds", "expected a mapping of class name to threshold");
        for (const auto& entry : thresholds) {
            auto value = scalar_number(entry.second);
            std::string key = "detector.class_thresholds." + entry.first.Scalar();
            if (!value || *value < 0 || *value > 1) reader.place().fail(entry.second, key, "expected a number in 0..1");
            config.class_thresholds[entry.first.Scalar()] = static_cast<float>(*value);
        }
    }
    return config;
}

track::TrackerConfig read_tracker(const MapReader& reader, double fps) {
    track::TrackerConfig config;
    if (fps > 0) config.frame_rate = fps;
    if (!reader.has("tracker")) return config;
    MapReader tracker(reader.get("tracker"), reader.place(), "tracker",
                      {"algorithm", "high_threshold", "low_threshold", "new_track_threshold", "match_iou_threshold",
                       "max_lost_frames", "min_hits", "stationary_radius_fraction", "stationary_radius_m",
                       "output_lost_tracks", "class_aware"});
    config.algorithm = tracker.string_or("algorithm", config.algorithm);
    if (config.algorithm != "bytetrack" && config.algorithm != "sort") {
        tracker.fail("algorithm", fmt::format("unknown tracker \"{}\"; known: bytetrack, sort", config.algorithm));
    }
    auto threshold = [&](const char* key, float fallback) {
        return static_cast<float>(tracker.number_or(key, fallback, 0, 1));
    };
    config.high_threshold = threshold("high_threshold", config.high_threshold);
    config.low_threshold = threshold("low_threshold", config.low_threshold);
    config.new_track_threshold = threshold("new_track_threshold", config.new_track_threshold);
    config.match_iou_threshold = threshold("match_iou_threshold", config.match_iou_threshold);
    config.max_lost_frames = tracker.integer_or("max_lost_frames", config.max_lost_frames, 1, 100000);
    config.min_hits = tracker.integer_or("min_hits", config.min_hits, 1, 1000);
    config.stationary_radius_fraction =
        static_cast<float>(tracker.number_or("stationary_radius_fraction", config.stationary_radius_fraction, 0, 10));
    config.stationary_radius_m =
        static_cast<float>(tracker.number_or("stationary_radius_m", config.stationary_radius_m, 0, 1000));
    config.output_lost_tracks = tracker.bool_or("output_lost_tracks", config.output_lost_tracks);
    config.class_aware = tracker.bool_or("class_aware", config.class_aware);
    return config;
}

void read_calibration(const MapReader& reader, track::TrackerConfig& tracker) {
    if (!reader.has("calibration")) return;
    MapReader calibration(reader.get("calibration"), reader.place(), "calibration", {"image_px", "ground_m"});
    track::GroundPlaneCalibration plane;
    for (const char* name : {"image_px", "ground_m"}) {
        YAML::Node points = calibration.get(name);
        if (!points.IsSequence() || points.size() != 4) {
            calibration.fail(name, "expected four points [[x, y], [x, y], [x, y], [x, y]]");
        }
        auto& target = std::string(name) == "image_px" ? plane.image_px : plane.ground_m;
        for (size_t i = 0; i < 4; ++i) {
            target[i] = read_point(points[i], reader.place(), fmt::format("calibration.{}[{}]", name, i));
        }
    }
    tracker.ground_plane = plane;
}

std::vector<contextualize::FewShotExample> read_few_shot(const MapReader& reader, const fs::path& base_dir) {
    std::vector<contextualize::FewShotExample> examples;
    if (!reader.has("few_shot")) return examples;
    YAML::Node list = reader.get("few_shot");
    if (!list.IsSequence()) reader.fail("few_shot", "expected a list of {image, expected} examples");
    for (size_t i = 0; i < list.size(); ++i) {
        std::string prefix = fmt::format("few_shot[{}]", i);
        MapReader example(list[i], reader.place(), prefix, {"image", "expected"});
        contextualize::FewShotExample shot;
        shot.image_path = resolve_relative(example.string_or("image", ""), base_dir);
        if (shot.image_path.empty()) example.fail("image", "missing: each example needs an image path");
        if (!fs::exists(shot.image_path)) example.fail("image", fmt::format("file not found: {}", shot.image_path));
        if (!example.has("expected")) example.fail("expected", "missing: the answer the model should give");
        shot.expected = to_json(example.get("expected"), reader.place(), example.key("expected"));
        examples.push_back(std::move(shot));
    }
    return examples;
}

// The analytics engine validates its own config; its messages are re-homed to
// the line of the zone, line or rule they name when one can be found.
void validate_analytics(const nlohmann::json& analytics, const YAML::Node& node, const Place& place) {
    const bool normalized = analytics.value("units", std::string("pixels")) == "normalized";
    // Pixel zones cannot be checked against a frame size before the camera
    // opens; a generous frame lets every other check run now.
    cv::Size frame = normalized ? cv::Size(1920, 1080) : cv::Size(100000, 100000);
    try {
        analyze::AnalyticsEngine engine(analytics, frame);
    } catch (const Error& e) {
        const std::string message = e.what();
        YAML::Node where = node;
        std::string key = "analytics";
        for (const char* list : {"zones", "lines", "rules"}) {
            YAML::Node items = node[list];
            if (!items || !items.IsSequence()) continue;
            for (size_t i = 0; i < items.size(); ++i) {
                YAML::Node name = items[i]["name"];
                if (!name || !name.IsScalar()) continue;
                if (message.find("\"" + name.Scalar() + "\"") != std::string::npos) {
                    where = items[i];
                    key = fmt::format("analytics.{}[{}]", list, i);
                }
            }
        }
        place.fail(where, key, message);
    }
}

alert::SendMode read_send_mode(const YAML::Node& node, const Place& place, const std::string& key) {
    if (!node.IsScalar()) place.fail(node, key, "expected on_verdict or on_event");
    try {
        return alert::parse_send_mode(node.Scalar());
    } catch (const Error& e) {
        place.fail(node, key, e.what());
    }
}

// `send` on a rule is the pipeline's, not the analytics engine's: read it and
// take it out before the engine checks the rule.
void read_rule_send_modes(const YAML::Node& analytics, const Place& place, CameraConfig& camera) {
    YAML::Node rules = analytics["rules"];
    nlohmann::json* rules_json = camera.analytics.contains("rules") ? &camera.analytics["rules"] : nullptr;
    if (!rules || !rules.IsSequence() || rules_json == nullptr || !rules_json->is_array()) return;
    for (size_t i = 0; i < rules.size() && i < rules_json->size(); ++i) {
        nlohmann::json& rule = (*rules_json)[i];
        if (!rule.is_object() || !rule.contains("send")) continue;
        const std::string key = fmt::format("analytics.rules[{}].send", i);
        const alert::SendMode mode = read_send_mode(rules[i]["send"], place, key);
        if (!rule.contains("name") || !rule["name"].is_string())
            place.fail(rules[i], key, "a rule with its own send mode needs a name");
        camera.send_by_rule[rule["name"].get<std::string>()] = mode;
        rule.erase("send");
    }
}

CameraConfig read_camera(const YAML::Node& node, size_t index, const fs::path& base_dir, const std::string& file) {
    Place place{file, ""};
    if (!node.IsMap()) place.fail(node, fmt::format("cameras[{}]", index), "expected a camera mapping");
    YAML::Node name = node["name"];
    if (!name || !name.IsScalar() || name.Scalar().empty()) {
        place.fail(node, fmt::format("cameras[{}].name", index), "missing: every camera needs a unique name");
    }
    place.camera = name.Scalar();
    MapReader reader(node, place, "",
                     {"name", "location", "site_context", "source", "fps", "realtime", "loop", "max_stream_s",
                      "detector", "tracker", "analytics", "calibration", "few_shot", "enabled", "send"});
    CameraConfig camera;
    camera.name = place.camera;
    camera.line = line_of(node);
    camera.location = reader.string_or("location", "");
    camera.site_context = reader.string_or("site_context", "");
    camera.source = resolve_relative(reader.string_or("source", ""), base_dir);
    camera.fps = reader.number_or("fps", 0, 0, 1000);
    camera.realtime = reader.bool_or("realtime", false);
    camera.loop = reader.bool_or("loop", false);
    camera.max_stream_s = reader.number_or("max_stream_s", 0, 0, 1e9);
    camera.enabled = reader.bool_or("enabled", true);
    if (reader.has("send")) camera.send = read_send_mode(reader.get("send"), place, "send");
    if (reader.has("detector")) camera.detector = read_detector(reader);
    else place.fail(node, "detector", "missing: name a detector, e.g. detector: {name: yolox-nano}");
    camera.tracker = read_tracker(reader, camera.fps);
    read_calibration(reader, camera.tracker);
    try {
        (void)track::make_tracker(camera.tracker);
    } catch (const Error& e) {
        place.fail(reader.has("tracker") ? reader.get("tracker") : node, "tracker", e.what());
    }
    if (reader.has("analytics")) {
        YAML::Node analytics = reader.get("analytics");
        if (!analytics.IsMap()) reader.fail("analytics", "expected a mapping with zones, lines and rules");
        camera.analytics = to_json(analytics, place, "analytics");
        read_rule_send_modes(analytics, place, camera);
        validate_analytics(camera.analytics, analytics, place);
    }
    camera.examples = read_few_shot(reader, base_dir);
    return camera;
}

void read_vlm(const MapReader& top, PipelineConfig& config) {
    if (!top.has("vlm")) return;
    MapReader vlm(top.get("vlm"), top.place(), "vlm",
                  {"name", "model", "mmproj", "lora", "server", "server_model", "threads", "deadline_s", "max_queue",
                   "workers", "parallel", "max_tiles", "prefix_cache_mb"});
    const fs::path base = config.file.parent_path();
    auto& out = config.vlm;
    out.name = vlm.string_or("name", "");
    out.model = resolve_relative(vlm.string_or("model", ""), base);
    out.mmproj = resolve_relative(vlm.string_or("mmproj", ""), base);
    out.lora = resolve_relative(vlm.string_or("lora", ""), base);
    out.server = vlm.string_or("server", "");
    out.server_model = vlm.string_or("server_model", "");
    out.threads = vlm.integer_or("threads", 0, 0, 256);
    out.deadline_s = vlm.number_or("deadline_s", out.deadline_s, 0.1, 3600);
    out.max_queue = vlm.integer_or("max_queue", out.max_queue, 1, 10000);
    out.workers = vlm.integer_or("workers", out.workers, 1, 64);
    out.parallel = vlm.integer_or("parallel", out.parallel, 1, 16);
    out.prefix_cache_mb = vlm.integer_or("prefix_cache_mb", out.prefix_cache_mb, 0, 65536);
    out.max_tiles = vlm.integer_or("max_tiles", out.max_tiles, 1, 16);
    if (out.model.empty() != out.mmproj.empty()) {
        vlm.fail(out.model.empty() ? "model" : "mmproj",
                 "model and mmproj go together: give the text GGUF and the vision projector GGUF");
    }
    const int chosen = (out.model.empty() ? 0 : 1) + (out.server.empty() ? 0 : 1) + (out.name.empty() ? 0 : 1);
    if (chosen > 1) vlm.fail(!out.server.empty() ? "server" : "name", "choose one of name, model+mmproj or server");
    if (!out.lora.empty() && !out.server.empty())
        vlm.fail("lora", "a LoRA adapter applies to the embedded model (name or model+mmproj); a server loads its own");
}

void read_sinks(const MapReader& top, PipelineConfig& config) {
    if (!top.has("sinks")) return;
    YAML::Node list = top.get("sinks");
    if (!list.IsSequence()) top.fail("sinks", "expected a list of sinks, each with a type");
    std::map<std::string, int> names;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string key = fmt::format("sinks[{}]", i);
        if (!list[i].IsMap()) top.place().fail(list[i], key, "expected a mapping with a type");
        nlohmann::json sink = to_json(list[i], top.place(), key);
        YAML::Node type = list[i]["type"];
        if (!sink.contains("type") || !sink["type"].is_string()) {
            top.place().fail(list[i], key + ".type", "missing: one of " + join(kSinkTypes));
        }
        const std::string type_name = sink["type"];
        if (std::find(kSinkTypes.begin(), kSinkTypes.end(), type_name) == kSinkTypes.end()) {
            top.place().fail(type, key + ".type",
                             fmt::format("unknown sink type \"{}\"; known: {}", type_name, join(kSinkTypes)));
        }
        if (sink.contains("name")) {
            if (!sink["name"].is_string()) top.place().fail(list[i]["name"], key + ".name", "expected text");
            // The outbox keys deliveries on the sink's name, so two sinks may not share one.
            const std::string name = sink["name"];
            if (auto [it, fresh] = names.emplace(name, line_of(list[i])); !fresh) {
                top.place().fail(list[i]["name"], key + ".name",
                                 fmt::format("sink name \"{}\" is used twice (first at line {})", name, it->second));
            }
        }
        config.sinks.push_back(std::move(sink));
    }
}

void apply_source_overrides(PipelineConfig& config, const std::vector<std::string>& overrides) {
    std::vector<std::string> names;
    for (const auto& camera : config.cameras) names.push_back(camera.name);
    for (const auto& spec : overrides) {
        const size_t equals = spec.find('=');
        const bool named = equals != std::string::npos && !is_absolute_url(spec.substr(0, equals)) &&
                           spec.substr(0, equals).find('/') == std::string::npos;
        if (!named) {
            size_t enabled = 0;
            for (const auto& camera : config.cameras) enabled += camera.enabled ? 1 : 0;
            if (enabled != 1) {
                throw Error(fmt::format("--source {}: the config has {} enabled cameras; say which one with "
                                        "--source CAMERA=URL (cameras: {})", spec, enabled, join(names)));
            }
            for (auto& camera : config.cameras) {
                if (camera.enabled) camera.source = spec;
            }
            continue;
        }
        const std::string name = spec.substr(0, equals);
        auto it = std::find_if(config.cameras.begin(), config.cameras.end(),
                               [&](const CameraConfig& camera) { return camera.name == name; });
        if (it == config.cameras.end()) {
            throw Error(fmt::format("--source {}: no camera named \"{}\" in {}; cameras: {}", spec, name,
                                    config.file.string(), join(names)));
        }
        it->source = spec.substr(equals + 1);
        if (it->source.empty()) throw Error(fmt::format("--source {}: the URL after '=' is empty", spec));
    }
}

}  // namespace

bool is_file_source(const std::string& source) {
    if (is_absolute_url(source)) return source.rfind("file://", 0) == 0;
    return source.rfind("/dev/", 0) != 0;
}

PipelineConfig parse_pipeline_config(const std::string& yaml_text, const fs::path& file,
                                     const std::vector<std::string>& source_overrides) {
    const std::string file_name = file.string();
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
        throw Error(fmt::format("{}:{}: YAML syntax error: {}", file_name, line, e.msg));
    }
    Place place{file_name, ""};
    if (!root.IsMap()) place.fail(root, "", "expected a mapping with a cameras list at the top");
    MapReader top(root, place, "", {"cameras", "vlm", "prompts_dir", "alert", "store", "sinks", "scene_check"});

    PipelineConfig config;
    config.file = file;
    const fs::path base = file.parent_path();

    if (!top.has("cameras")) place.fail(root, "cameras", "missing: list at least one camera");
    YAML::Node cameras = top.get("cameras");
    if (!cameras.IsSequence() || cameras.size() == 0) top.fail("cameras", "expected a non-empty list of cameras");
    std::map<std::string, int> seen;
    for (size_t i = 0; i < cameras.size(); ++i) {
        CameraConfig camera = read_camera(cameras[i], i, base, file_name);
        if (auto [it, fresh] = seen.emplace(camera.name, camera.line); !fresh) {
            Place at{file_name, camera.name};
            at.fail(cameras[i]["name"], "name",
                    fmt::format("duplicate camera name (first defined at line {}); names must be unique", it->second));
        }
        config.cameras.push_back(std::move(camera));
    }

    read_vlm(top, config);
    config.prompts_dir = resolve_relative(top.string_or("prompts_dir", ""), base);

    if (top.has("alert")) {
        MapReader alert(top.get("alert"), place, "alert", {"merge_window_s", "cooldown_s", "send_rejected"});
        config.alert.merge_window_s = alert.number_or("merge_window_s", config.alert.merge_window_s, 0, 86400);
        config.alert.cooldown_s = alert.number_or("cooldown_s", config.alert.cooldown_s, 0, 86400);
        config.alert.send_rejected = alert.bool_or("send_rejected", config.alert.send_rejected);
    }
    if (top.has("store")) {
        MapReader store(top.get("store"), place, "store", {"db", "evidence_dir", "retention_days"});
        config.store.db = store.string_or("db", config.store.db.string());
        config.store.evidence_dir = store.string_or("evidence_dir", config.store.evidence_dir.string());
        config.store.retention_days = store.integer_or("retention_days", config.store.retention_days, 0, 36500);
    }
    read_sinks(top, config);
    if (top.has("scene_check")) {
        MapReader scene(top.get("scene_check"), place, "scene_check", {"period_s", "threshold"});
        config.scene_check.period_s = scene.number_or("period_s", 0, 0, 1e6);
        config.scene_check.threshold = scene.number_or("threshold", 0, 0, 1);
    }
    apply_source_overrides(config, source_overrides);
    for (const auto& camera : config.cameras) {
        if (camera.enabled && camera.source.empty()) {
            Place{file_name, camera.name}.fail(camera.line, "source",
                                               "missing: give a video file, stream URL or device, or pass "
                                               "--source " + camera.name + "=URL");
        }
    }
    return config;
}

PipelineConfig load_pipeline_config(const fs::path& path, const std::vector<std::string>& source_overrides) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot read the config file", path.string()));
    std::stringstream text;
    text << in.rdbuf();
    return parse_pipeline_config(text.str(), path, source_overrides);
}

}  // namespace vigil::pipeline
