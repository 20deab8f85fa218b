// The parts every rule shares: events, episodes, speed limits, and building
// rules from their config.
#include "analyze/analyze_rules.h"

#include <cmath>
#include <fmt/format.h>

#include "core/error.h"

namespace vigil::analyze {

Event Rule::make_event(const char* type, double time_s, double start_s, EventPhase phase) const {
    Event event;
    event.rule = name_;
    event.type = type;
    event.phase = phase;
    event.time_s = time_s;
    event.start_s = start_s;
    return event;
}

std::string describe_track(const TrackView& view) {
    if (!view.label.empty()) return fmt::format("{} #{}", view.label, view.id);
    if (view.class_id < 0) return fmt::format("unknown object #{}", view.id);
    return fmt::format("class {} object #{}", view.class_id, view.id);
}

Episode::Change Episode::update(bool holds, double time_s, const EpisodeTiming& timing, bool may_start) {
    if (!active_) {
        if (!holds) {
            holding_since_ = std::numeric_limits<double>::quiet_NaN();
            return Change::none;
        }
        if (std::isnan(holding_since_)) holding_since_ = time_s;
        if (may_start && time_s - holding_since_ + time_slack >= timing.hold_s &&
            time_s - last_end_s_ + time_slack >= timing.cooldown_s) {
            active_ = true;
            start_s_ = holding_since_;
            clear_since_ = std::numeric_limits<double>::quiet_NaN();
            return Change::started;
        }
        return Change::none;
    }
    if (holds) {
        clear_since_ = std::numeric_limits<double>::quiet_NaN();
        return Change::none;
    }
    if (std::isnan(clear_since_)) clear_since_ = time_s;
    if (time_s - clear_since_ + time_slack < timing.clear_s) return Change::none;
    active_ = false;
    last_end_s_ = time_s;
    holding_since_ = std::numeric_limits<double>::quiet_NaN();
    return Change::ended;
}

bool Episode::force_end(double time_s) {
    if (!active_) return false;
    active_ = false;
    if (std::isnan(clear_since_)) clear_since_ = time_s;
    last_end_s_ = time_s;
    holding_since_ = std::numeric_limits<double>::quiet_NaN();
    return true;
}

double SpeedLimit::speed(const Track& track) const {
    if (!std::isnan(max_m_s) && track.has_ground_velocity) {
        return std::hypot(track.velocity_m_s.x, track.velocity_m_s.y);
    }
    return std::hypot(track.velocity_px_s.x, track.velocity_px_s.y);
}

const char* SpeedLimit::unit(const Track& track) const {
    return !std::isnan(max_m_s) && track.has_ground_velocity ? "m/s" : "px/s";
}

bool SpeedLimit::slow(const Track& track) const {
    if (!std::isnan(max_m_s) && track.has_ground_velocity) return speed(track) <= max_m_s;
    return speed(track) <= max_px_s;
}

// ---- building rules from config -------------------------------------------

namespace {

constexpr double max_seconds = 1e7;

ZoneRef read_zone(ConfigReader& reader, const Layout& layout, bool required) {
    ZoneRef ref;
    if (!required && !reader.has("zone")) return ref;
    ref.name = reader.string("zone");
    for (size_t i = 0; i < layout.zones.size(); ++i) {
        if (layout.zones[i].name == ref.name) {
            ref.index = int(i);
            return ref;
        }
    }
    std::string known;
    for (const auto& zone : layout.zones) known += (known.empty() ? "" : ", ") + zone.name;
    reader.fail("zone", fmt::format("no zone named \"{}\" (zones: {})", ref.name, known.empty() ? "none" : known));
}

ClassFilter read_classes(ConfigReader& reader, ClassFilter fallback) {
    const nlohmann::json* value = reader.optional("classes");
    if (value == nullptr) return fallback;
    return ClassFilter(*value, reader.where() + ": key \"classes\"");
}

EpisodeTiming read_timing(ConfigReader& reader, const char* hold_key, bool hold_required, double hold_default,
                          double clear_default) {
    EpisodeTiming timing;
    timing.hold_s = hold_required ? reader.number(hold_key) : reader.number_or(hold_key, hold_default, 0, max_seconds);
    if (timing.hold_s < 0 || !std::isfinite(timing.hold_s)) reader.fail(hold_key, "must be a number of seconds >= 0");
    timing.clear_s = reader.number_or("clear_s", clear_default, 0, max_seconds);
    timing.cooldown_s = reader.number_or("cooldown_s", 0, 0, max_seconds);
    return timing;
}

double read_positive(ConfigReader& reader, const char* key) {
    double v = reader.number(key);
    if (!(v > 0) || !std::isfinite(v)) reader.fail(key, fmt::format("{} must be greater than 0", v));
    return v;
}

// Both spellings: Darknet's coco.names says "motorbike", COCO's own list "motorcycle".
ClassFilter vehicles() {
    return ClassFilter::labels({"car", "motorbike", "motorcycle", "bus", "truck"});
}

ClassFilter people() {
    return ClassFilter::labels({"person"});
}

std::unique_ptr<Rule> make_zone_presence(std::string name, ConfigReader& reader, const Layout& layout) {
    ZonePresenceConfig config;
    config.zone = read_zone(reader, layout, true);
    config.classes = read_classes(reader, {});
    config.enter = reader.boolean_or("enter", true);
    config.exit = reader.boolean_or("exit", true);
    return std::make_unique<ZonePresenceRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_dwell(std::string name, ConfigReader& reader, const Layout& layout) {
    DwellConfig config;
    config.zone = read_zone(reader, layout, true);
    config.classes = read_classes(reader, {});
    config.min_s = read_positive(reader, "min_s");
    config.emit_end = reader.boolean_or("emit_end", false);
    return std::make_unique<DwellRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_loitering(std::string name, ConfigReader& reader, const Layout& layout) {
    LoiteringConfig config;
    config.zone = read_zone(reader, layout, true);
    config.classes = read_classes(reader, people());
    config.min_s = read_positive(reader, "min_s");
    config.window_s = reader.number_or("window_s", config.min_s, 0.1, max_seconds);
    config.max_displacement_px = read_positive(reader, "max_displacement_px");
    return std::make_unique<LoiteringRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_stationary_object(std::string name, ConfigReader& reader, const Layout& layout) {
    StationaryObjectConfig config;
    config.zone = read_zone(reader, layout, false);
    config.classes = read_classes(reader, {});
    config.min_s = read_positive(reader, "min_s");
    config.timing = read_timing(reader, "hold_s", false, 0, 1);
    config.emit_end = reader.boolean_or("emit_end", false);
    return std::make_unique<StationaryObjectRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_line_crossing(std::string name, ConfigReader& reader, const Layout& layout) {
    LineCrossingConfig config;
    std::string line = reader.string("line");
    for (size_t i = 0; i < layout.lines.size(); ++i) {
        if (layout.lines[i].name == line) config.line = int(i);
    }
    if (config.line < 0) {
        std::string known;
        for (const auto& l : layout.lines) known += (known.empty() ? "" : ", ") + l.name;
        reader.fail("line", fmt::format("no line named \"{}\" (lines: {})", line, known.empty() ? "none" : known));
    }
    config.geometry = layout.lines[size_t(config.line)];
    std::string direction = reader.string_or("direction", "any");
    if (direction == "any") {
        config.direction = CrossingDirection::any;
    } else if (direction == "left_to_right") {
        config.direction = CrossingDirection::left_to_right;
    } else if (direction == "right_to_left") {
        config.direction = CrossingDirection::right_to_left;
    } else {
        reader.fail("direction",
                    fmt::format("\"{}\" is not one of any, left_to_right, right_to_left (sides as seen looking "
                                "from a to b)",
                                direction));
    }
    config.classes = read_classes(reader, {});
    config.cooldown_s = reader.number_or("cooldown_s", 0, 0, max_seconds);
    return std::make_unique<LineCrossingRule>(std::move(name), std::move(config));
}

SpeedLimit read_speed_limit(ConfigReader& reader, bool required) {
    SpeedLimit limit;
    if (required && !reader.has("max_speed_px_s") && !reader.has("max_speed_m_s")) {
        reader.fail("max_speed_px_s", "is required (or max_speed_m_s for cameras with a ground calibration)");
    }
    limit.max_px_s = reader.number_or("max_speed_px_s", limit.max_px_s, 0, 1e9);
    if (reader.has("max_speed_m_s")) limit.max_m_s = reader.number_or("max_speed_m_s", 0, 0, 1e6);
    return limit;
}

std::unique_ptr<Rule> make_congestion(std::string name, ConfigReader& reader, const Layout& layout) {
    CongestionConfig config;
    config.zone = read_zone(reader, layout, true);
    config.classes = read_classes(reader, vehicles());
    config.min_count = reader.integer_or("min_count", 0, 1, 100000);
    if (config.min_count == 0) reader.fail("min_count", "is required (vehicles needed to call it congestion)");
    config.speed = read_speed_limit(reader, true);
    config.timing = read_timing(reader, "min_s", true, 0, 2);
    config.emit_end = reader.boolean_or("emit_end", true);
    return std::make_unique<CongestionRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_gathering(std::string name, ConfigReader& reader, const Layout& layout) {
    GatheringConfig config;
    config.zone = read_zone(reader, layout, false);
    config.classes = read_classes(reader, people());
    config.min_count = reader.integer_or("min_count", 0, 2, 100000);
    if (config.min_count == 0) reader.fail("min_count", "is required (people needed to call it a gathering)");
    config.radius_px = reader.number_or("radius_px", 0, 0, 1e6);
    config.radius_m = reader.number_or("radius_m", 0, 0, 1e4);
    if (config.radius_px <= 0 && config.radius_m <= 0) {
        reader.fail("radius_px", "is required (or radius_m for cameras with a ground calibration)");
    }
    config.window_s = reader.number_or("window_s", config.window_s, 0.1, max_seconds);
    config.min_growth_per_s = reader.number_or("min_growth_per_s", 0, 0, 1e6);
    config.max_speed_px_s = reader.number_or("max_speed_px_s", config.max_speed_px_s, 0, 1e9);
    config.timing = read_timing(reader, "min_s", false, 1, 2);
    config.emit_end = reader.boolean_or("emit_end", true);
    return std::make_unique<GatheringRule>(std::move(name), std::move(config));
}

std::unique_ptr<Rule> make_wrong_way(std::string name, ConfigReader& reader, const Layout& layout) {
    WrongWayConfig config;
    config.zone = read_zone(reader, layout, true);
    config.classes = read_classes(reader, {});
    config.direction = reader.point("direction");
    if (std::hypot(config.direction.x, config.direction.y) < 1e-6) {
        reader.fail("direction", "must be a non-zero vector [dx, dy] (the allowed direction of travel)");
    }
    config.min_angle_deg = reader.number_or("min_angle_deg", config.min_angle_deg, 1, 180);
    config.min_speed_px_s = reader.number_or("min_speed_px_s", config.min_speed_px_s, 0, 1e9);
    config.timing = read_timing(reader, "min_s", false, 1, 1);
    config.emit_end = reader.boolean_or("emit_end", false);
    return std::make_unique<WrongWayRule>(std::move(name), std::move(config));
}

}  // namespace

std::unique_ptr<Rule> make_rule(const nlohmann::json& config, const Layout& layout, const std::string& where) {
    ConfigReader head(config, where);
    std::string name = head.string("name");
    std::string type = head.string("type");
    ConfigReader reader(config, fmt::format("analytics rule \"{}\" ({})", name, type));
    reader.string("name");
    reader.string("type");
    std::unique_ptr<Rule> rule;
    if (type == "zone_presence") {
        rule = make_zone_presence(name, reader, layout);
    } else if (type == "dwell") {
        rule = make_dwell(name, reader, layout);
    } else if (type == "loitering") {
        rule = make_loitering(name, reader, layout);
    } else if (type == "stationary_object") {
        rule = make_stationary_object(name, reader, layout);
    } else if (type == "line_crossing") {
        rule = make_line_crossing(name, reader, layout);
    } else if (type == "congestion") {
        rule = make_congestion(name, reader, layout);
    } else if (type == "gathering") {
        rule = make_gathering(name, reader, layout);
    } else if (type == "wrong_way") {
        rule = make_wrong_way(name, reader, layout);
    } else {
        head.fail("type", fmt::format("\"{}\" is not a rule type (expected zone_presence, line_crossing, dwell, "
                                      "loitering, stationary_object, congestion, gathering or wrong_way)",
                                      type));
    }
    reader.finish();
    return rule;
}

}  // namespace vigil::analyze
