// JSON Schema -> grammar. The grammar admits a subset of the documents the
// schema allows, chosen so that every sentence validates and generation stays
// bounded:
//  - objects list only declared properties, required ones always, optional
//    ones maybe; order: the "required" array's order, then the remaining
//    properties by name (nlohmann::json keeps object keys sorted, so the
//    schema's own property order is not available);
//  - strings without maxLength stop at kDefaultMaxStringLength characters;
//    "pattern" is not expressed (the string is plain) and is enforced by
//    parse_and_validate afterwards;
//  - numbers are plain decimals (no exponent) within the bounds, with up to 6
//    fractional digits; an open side of a range is capped near 1e9 and all
//    bounds at +/-1e15 so every sentence stays exact in a double;
//  - oneOf is written like anyOf: a sentence matching two branches would fail
//    validation, so oneOf branches should be disjoint (parse_and_validate
//    still enforces exactly one);
//  - compact: no whitespace between tokens. A model cannot loop on
//    whitespace, and every character the schema fixes (punctuation, keys, the
//    rest of an enum value once its first letter is out) is known in advance,
//    so the embedded backend inserts such runs without sampling them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>

#include "core/error.h"
#include "vlm/vlm_grammar.h"
#include "vlm/vlm_json_schema.h"
#include "vlm/vlm_json_schema_detail.h"

namespace vigil::vlm {

using nlohmann::json;

namespace {

using detail::pointer_append;
using Node = GrammarNode;
using Range = std::pair<char32_t, char32_t>;

constexpr double kNumberCap = 1e15;        // |bound| beyond this is clamped
constexpr double kOpenRangeSpan = 1e9;     // an open side reaches this far
constexpr int kSignificantDigits = 15;     // decimals with <= 15 digits are exact in a double
constexpr int kMaxFractionDigits = 6;

[[noreturn]] void grammar_error(const std::string& pointer, const std::string& problem) {
    throw Error("cannot build a grammar for the JSON schema at #" + pointer + ": " + problem);
}

Node digit() { return Node::chars({{'0', '9'}}); }

std::string padded(int64_t value, int width) { return fmt::format("{:0{}}", value, width); }

int decimal_digits(int64_t value) {
    int digits = 1;
    while (value >= 10) {
        value /= 10;
        ++digits;
    }
    return digits;
}

// Digit strings of equal length between `low` and `high` inclusive
// (leading zeros are ordinary digits here).
Node same_length_range(const std::string& low, const std::string& high) {
    if (low.empty()) return Node::empty();
    if (low == high) return Node::literal(low);
    size_t common = 0;
    while (low[common] == high[common]) ++common;
    if (common > 0)
        return Node::sequence({Node::literal(low.substr(0, common)), same_length_range(low.substr(common), high.substr(common))});
    const size_t rest = low.size() - 1;
    const std::string low_rest = low.substr(1), high_rest = high.substr(1);
    const bool low_rest_zero = low_rest.find_first_not_of('0') == std::string::npos;
    const bool high_rest_nine = high_rest.find_first_not_of('9') == std::string::npos;
    std::vector<Node> alternatives;
    if (!low_rest_zero)
        alternatives.push_back(Node::sequence({Node::literal(std::string(1, low[0])), same_length_range(low_rest, std::string(rest, '9'))}));
    char first = static_cast<char>(low[0] + (low_rest_zero ? 0 : 1));
    char last = static_cast<char>(high[0] - (high_rest_nine ? 0 : 1));
    if (first <= last) {
        Node lead = Node::chars({{static_cast<char32_t>(first), static_cast<char32_t>(last)}});
        alternatives.push_back(rest == 0 ? lead : Node::sequence({lead, Node::repeat(digit(), static_cast<int>(rest), static_cast<int>(rest))}));
    }
    if (!high_rest_nine)
        alternatives.push_back(Node::sequence({Node::literal(std::string(1, high[0])), same_length_range(std::string(rest, '0'), high_rest)}));
    return Node::choice(std::move(alternatives));
}

// Decimal integers in [low, high] (both >= 0) without leading zeros.
Node unsigned_range(int64_t low, int64_t high) {
    std::vector<Node> alternatives;
    int64_t length_start = 0;
    int64_t length_end = 9;
    for (int length = 1; length <= 17 && length_start <= high; ++length) {  // bounds stay below 1e16
        int64_t from = std::max(low, length_start), to = std::min(high, length_end);
        if (from <= to) alternatives.push_back(same_length_range(std::to_string(from), std::to_string(to)));
        length_start = length_end + 1;
        length_end = length_end * 10 + 9;
    }
    return Node::choice(std::move(alternatives));
}

// Bounds on the magnitude of a number written without its sign.
struct MagnitudeBounds {
    double low;
    bool low_exclusive;
    double high;
    bool high_exclusive;
    bool above_low(double m) const { return low_exclusive ? m > low : m >= low; }
    bool below_high(double m) const { return high_exclusive ? m < high : m <= high; }
};

// Unsigned decimals whose value lies within `bounds`: integers, whole unit
// intervals with any fraction, and the two edge intervals digit by digit.
// Every candidate edge is checked by parsing its text, as the validator will.
std::optional<Node> magnitude_node(const MagnitudeBounds& bounds, bool integer_only) {
    std::vector<Node> alternatives;
    auto value_of = [](const std::string& text) { return std::strtod(text.c_str(), nullptr); };

    auto first_int = static_cast<int64_t>(std::ceil(bounds.low));
    if (!bounds.above_low(static_cast<double>(first_int))) ++first_int;
    auto last_int = static_cast<int64_t>(std::floor(bounds.high));
    if (!bounds.below_high(static_cast<double>(last_int))) --last_int;
    if (first_int <= last_int) alternatives.push_back(unsigned_range(first_int, last_int));

    if (!integer_only) {
        auto low_whole = static_cast<int64_t>(std::floor(bounds.low));
        auto high_whole = static_cast<int64_t>(std::floor(bounds.high));
        int fraction_digits = std::clamp(kSignificantDigits - decimal_digits(high_whole), 0, kMaxFractionDigits);
        if (fraction_digits > 0) {
            if (low_whole + 1 <= high_whole - 1)
                alternatives.push_back(Node::sequence(
                    {unsigned_range(low_whole + 1, high_whole - 1), Node::literal("."), Node::repeat(digit(), 1, fraction_digits)}));
            for (int64_t whole : {low_whole, high_whole}) {
                std::vector<Node> fractions;
                for (int d = 1; d <= fraction_digits; ++d) {
                    int64_t count = 1;
                    for (int i = 0; i < d; ++i) count *= 10;
                    auto magnitude = [&](int64_t f) { return value_of(fmt::format("{}.{}", whole, padded(f, d))); };
                    // Values grow with f: bisect for the first f above `low`
                    // and the last f below `high`.
                    int64_t lo = 0, hi = count;
                    while (lo < hi) {
                        int64_t mid = (lo + hi) / 2;
                        if (bounds.above_low(magnitude(mid))) hi = mid;
                        else lo = mid + 1;
                    }
                    int64_t first_fraction = lo;
                    lo = -1, hi = count - 1;
                    while (lo < hi) {
                        int64_t mid = (lo + hi + 1) / 2;
                        if (bounds.below_high(magnitude(mid))) lo = mid;
                        else hi = mid - 1;
                    }
                    int64_t last_fraction = lo;
                    if (first_fraction <= last_fraction)
                        fractions.push_back(same_length_range(padded(first_fraction, d), padded(last_fraction, d)));
                }
                if (!fractions.empty())
                    alternatives.push_back(
                        Node::sequence({Node::literal(std::to_string(whole)), Node::literal("."), Node::choice(std::move(fractions))}));
                if (low_whole == high_whole) break;
            }
        }
    }
    if (alternatives.empty()) return std::nullopt;
    return Node::choice(std::move(alternatives));
}

class SchemaGrammarBuilder {
public:
    explicit SchemaGrammarBuilder(const json& root) : root_(root) {}

    Grammar build() {
        std::string root_rule = grammar_.reserve_rule("root");
        ref_rules_["#"] = root_rule;
        grammar_.define_rule(root_rule, value_body(root_, "", "root"));
        return std::move(grammar_);
    }

private:
    // The value as a single symbol: a literal, or a reference to a rule.
    Node value_symbol(const json& schema, const std::string& pointer, const std::string& name_hint) {
        Node body = value_body(schema, pointer, name_hint);
        if (body.kind == Node::Kind::literal || body.kind == Node::Kind::rule_ref) return body;
        return Node::ref(grammar_.add_rule(name_hint, std::move(body)));
    }

    Node value_body(const json& schema, const std::string& pointer, const std::string& name_hint) {
        if (schema.is_boolean()) {
            if (schema.get<bool>()) return any_value();
            grammar_error(pointer, "schema false admits no value");
        }
        bool constrained = false;
        for (const auto& [keyword, value] : schema.items())
            if (detail::is_constraint_keyword(keyword)) constrained = true;
        if (!constrained) return any_value();

        if (auto it = schema.find("$ref"); it != schema.end()) {
            require_alone(schema, pointer, "$ref");
            return ref_symbol(it->get<std::string>());
        }
        for (const char* keyword : {"anyOf", "oneOf"}) {
            auto it = schema.find(keyword);
            if (it == schema.end()) continue;
            require_alone(schema, pointer, keyword);
            std::vector<Node> branches;
            for (size_t i = 0; i < it->size(); ++i)
                branches.push_back(value_symbol((*it)[i], pointer_append(pointer_append(pointer, keyword), std::to_string(i)),
                                                fmt::format("{}-{}", name_hint, i + 1)));
            return Node::choice(std::move(branches));
        }
        if (schema.contains("enum") || schema.contains("const")) return enum_body(schema, pointer);

        std::vector<std::string> types;
        if (auto it = schema.find("type"); it != schema.end()) {
            if (it->is_string()) types.push_back(it->get<std::string>());
            else
                for (const auto& t : *it) types.push_back(t.get<std::string>());
        } else {
            // No "type": the other keywords constrain only values of their kind.
            types = {"object", "array", "string", "number", "boolean", "null"};
        }
        std::vector<Node> alternatives;
        for (const auto& type : types) alternatives.push_back(type_body(type, schema, pointer, name_hint));
        return Node::choice(std::move(alternatives));
    }

    void require_alone(const json& schema, const std::string& pointer, const std::string& keyword) {
        for (const auto& [other, value] : schema.items())
            if (other != keyword && detail::is_constraint_keyword(other))
                grammar_error(pointer, "\"" + keyword + "\" next to \"" + other +
                                           "\" is not supported for grammars; move \"" + other + "\" into the referenced schemas");
    }

    Node ref_symbol(const std::string& ref) {
        if (auto it = ref_rules_.find(ref); it != ref_rules_.end()) return Node::ref(it->second);
        const json* target = detail::resolve_ref(root_, ref);
        if (!target) grammar_error("", "$ref " + ref + " does not resolve");
        std::string hint = ref.substr(ref.find_last_of('/') + 1);
        std::string name = grammar_.reserve_rule(hint);
        ref_rules_[ref] = name;  // before building: the target may refer back to itself
        grammar_.define_rule(name, value_body(*target, ref.substr(1), hint));
        return Node::ref(name);
    }

    Node enum_body(const json& schema, const std::string& pointer) {
        json candidates = schema.contains("const") ? json::array({schema["const"]}) : schema["enum"];
        std::vector<Node> alternatives;
        for (const auto& value : candidates) {
            std::vector<std::string> errors;
            detail::validate_node(root_, schema, value, "", errors);
            if (errors.empty()) alternatives.push_back(Node::literal(value.dump()));
        }
        if (alternatives.empty()) grammar_error(pointer, "no enum/const value satisfies the rest of the schema");
        return Node::choice(std::move(alternatives));
    }

    Node type_body(const std::string& type, const json& schema, const std::string& pointer, const std::string& name_hint) {
        if (type == "null") return Node::literal("null");
        if (type == "boolean") return Node::choice({Node::literal("true"), Node::literal("false")});
        if (type == "string") return string_symbol(schema, pointer);
        if (type == "integer" || type == "number") return number_body(schema, pointer, type == "integer");
        if (type == "array") return array_body(schema, pointer, name_hint);
        if (type == "object") return object_body(schema, pointer, name_hint);
        grammar_error(pointer, "unknown type \"" + type + "\"");
    }

    Node string_symbol(const json& schema, const std::string& pointer) {
        int min_length = static_cast<int>(std::min(schema.value("minLength", 0.0), 1e9));
        double max_length = schema.value("maxLength", static_cast<double>(std::max(min_length, detail::kDefaultMaxStringLength)));
        if (min_length > kGbnfMaxRepetition)
            grammar_error(pointer, fmt::format("minLength {} exceeds the grammar limit of {}", min_length, kGbnfMaxRepetition));
        int max_count = static_cast<int>(std::min(max_length, static_cast<double>(kGbnfMaxRepetition)));
        Node body = Node::sequence({Node::literal("\""), Node::repeat(Node::ref(string_char()), min_length, max_count), Node::literal("\"")});
        return Node::ref(grammar_.add_rule("string", std::move(body)));
    }

    Node number_body(const json& schema, const std::string& pointer, bool integer_only) {
        auto bounds = detail::NumericBounds::of(schema);
        if (!bounds.lower && !bounds.upper) return Node::ref(integer_only ? any_integer() : any_number());
        double low = bounds.lower.value_or(0), high = bounds.upper.value_or(0);
        bool low_exclusive = bounds.lower_exclusive, high_exclusive = bounds.upper_exclusive;
        if (!bounds.upper) {
            high = std::min(std::max(kOpenRangeSpan, low * 10), kNumberCap);
            high_exclusive = false;
        }
        if (!bounds.lower) {
            low = -std::min(std::max(kOpenRangeSpan, -high * 10), kNumberCap);
            low_exclusive = false;
        }
        if (low < -kNumberCap) low = -kNumberCap, low_exclusive = false;
        if (high > kNumberCap) high = kNumberCap, high_exclusive = false;
        if (low > high)
            grammar_error(pointer, fmt::format("numeric bounds beyond +/-{} are not supported", kNumberCap));

        std::vector<Node> alternatives;
        if (high > 0 || (high == 0 && !high_exclusive)) {
            MagnitudeBounds positive{low >= 0 ? low : 0, low >= 0 && low_exclusive, high, high_exclusive};
            if (auto node = magnitude_node(positive, integer_only)) alternatives.push_back(std::move(*node));
        }
        if (low < 0) {
            // Zero is written without a sign, so the negative side excludes it.
            MagnitudeBounds negative{high < 0 ? -high : 0, high < 0 ? high_exclusive : true, -low, low_exclusive};
            if (auto node = magnitude_node(negative, integer_only))
                alternatives.push_back(Node::sequence({Node::literal("-"), std::move(*node)}));
        }
        if (alternatives.empty())
            grammar_error(pointer, fmt::format("no {} with at most {} fractional digits lies within the bounds",
                                               integer_only ? "integer" : "decimal", kMaxFractionDigits));
        return Node::choice(std::move(alternatives));
    }

    Node array_body(const json& schema, const std::string& pointer, const std::string& name_hint) {
        Node item = schema.contains("items")
                        ? value_symbol(schema["items"], pointer_append(pointer, "items"), name_hint + "-item")
                        : Node::ref(any_value_rule());
        int min_items = static_cast<int>(std::min(schema.value("minItems", 0.0), 1e9));
        int max_items = schema.contains("maxItems")
                            ? static_cast<int>(std::min(schema["maxItems"].get<double>(), static_cast<double>(kGbnfMaxRepetition)))
                            : -1;
        if (min_items > kGbnfMaxRepetition)
            grammar_error(pointer, fmt::format("minItems {} exceeds the grammar limit of {}", min_items, kGbnfMaxRepetition));
        if (max_items == 0) return Node::sequence({Node::literal("["), ws(), Node::literal("]")});
        Node more = Node::sequence({ws(), Node::literal(","), ws(), item});
        Node list = Node::sequence({item, Node::repeat(more, std::max(min_items - 1, 0), max_items < 0 ? -1 : max_items - 1)});
        return Node::sequence({Node::literal("["), ws(), min_items == 0 ? Node::optional(std::move(list)) : std::move(list), ws(),
                               Node::literal("]")});
    }

    Node object_body(const json& schema, const std::string& pointer, const std::string& name_hint) {
        const json empty = json::object();
        const json& properties = schema.contains("properties") ? schema["properties"] : empty;
        const json& required = schema.contains("required") ? schema["required"] : json::array();
        const bool closed = schema.value("additionalProperties", true) == false;
        if (properties.empty() && required.empty())
            return closed ? Node::sequence({Node::literal("{"), ws(), Node::literal("}")}) : Node::ref(any_object());

        struct Member {
            Node node;
            bool required;
        };
        std::vector<Member> members;
        std::vector<std::string> order;
        for (const auto& name : required)
            if (std::find(order.begin(), order.end(), name.get<std::string>()) == order.end()) order.push_back(name.get<std::string>());
        const size_t required_count = order.size();
        for (const auto& [name, sub] : properties.items())
            if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
        for (size_t i = 0; i < order.size(); ++i) {
            const std::string& name = order[i];
            Node value = properties.contains(name)
                             ? value_symbol(properties[name], pointer_append(pointer_append(pointer, "properties"), name),
                                            name_hint + "-" + name)
                             : Node::ref(any_value_rule());
            members.push_back({Node::sequence({Node::literal(json(name).dump()), ws(), Node::literal(":"), ws(), std::move(value)}),
                               i < required_count});
        }
        // Members after one already written each need a leading comma;
        // `tail(i)` is members i.. in that position, `head(i)` before any.
        auto tail = [&](size_t from) {
            std::vector<Node> parts;
            for (size_t i = from; i < members.size(); ++i) {
                Node comma_member = Node::sequence({ws(), Node::literal(","), ws(), members[i].node});
                parts.push_back(members[i].required ? std::move(comma_member) : Node::optional(std::move(comma_member)));
            }
            return Node::sequence(std::move(parts));
        };
        std::function<Node(size_t)> head = [&](size_t from) -> Node {
            if (from == members.size()) return Node::empty();
            Node with_first = Node::sequence({members[from].node, tail(from + 1)});
            if (members[from].required) return with_first;
            return Node::choice({std::move(with_first), head(from + 1)});
        };
        return Node::sequence({Node::literal("{"), ws(), head(0), ws(), Node::literal("}")});
    }

    // Between tokens: nothing (see the top of the file).
    static Node ws() { return Node::empty(); }

    // One character inside a JSON string: a quote, backslash or control
    // character only as an escape. \u escapes exclude UTF-16 surrogates,
    // which JSON parsers reject unless paired.
    std::string string_char() {
        if (!char_rule_.empty()) return char_rule_;
        Node hex = Node::chars({{'0', '9'}, {'a', 'f'}, {'A', 'F'}});
        Node unicode_escape = Node::sequence(
            {Node::literal("u"),
             Node::choice({Node::sequence({Node::chars({{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}), Node::repeat(hex, 3, 3)}),
                           Node::sequence({Node::chars({{'d', 'd'}, {'D', 'D'}}), Node::chars({{'0', '7'}}), Node::repeat(hex, 2, 2)})})});
        Node escape = Node::sequence({Node::literal("\\"), Node::choice({Node::chars({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'},
                                                                                      {'f', 'f'}, {'n', 'n'}, {'r', 'r'}, {'t', 't'}}),
                                                                         unicode_escape})});
        // Raw characters are listed as valid Unicode scalar values rather than
        // "anything but": llama.cpp's grammar would otherwise let a byte-level
        // vocabulary spell UTF-16 surrogates or values past U+10FFFF, which no
        // JSON parser accepts.
        Node raw = Node::chars({{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0xD7FF}, {0xE000, 0xFFFD}, {0x10000, 0x10FFFF}});
        char_rule_ = grammar_.add_rule("char", Node::choice({raw, escape}));
        return char_rule_;
    }

    std::string any_integer() {
        return grammar_.add_rule("integer", Node::choice({Node::literal("0"),
                                                          Node::sequence({Node::optional(Node::literal("-")), Node::chars({{'1', '9'}}),
                                                                          Node::repeat(digit(), 0, 15)})}));
    }

    // Any JSON number a double holds without overflow: at most 16 integer
    // digits, 15 fractional digits and a two-digit exponent.
    std::string any_number() {
        Node integer_part = Node::choice({Node::literal("0"), Node::sequence({Node::chars({{'1', '9'}}), Node::repeat(digit(), 0, 15)})});
        Node fraction = Node::sequence({Node::literal("."), Node::repeat(digit(), 1, 15)});
        Node exponent = Node::sequence({Node::chars({{'e', 'e'}, {'E', 'E'}}), Node::optional(Node::chars({{'+', '+'}, {'-', '-'}})),
                                        Node::repeat(digit(), 1, 2)});
        return grammar_.add_rule("number", Node::sequence({Node::optional(Node::literal("-")), integer_part, Node::optional(fraction),
                                                           Node::optional(exponent)}));
    }

    Node any_value() { return Node::ref(any_value_rule()); }

    std::string any_value_rule() {
        if (!value_rule_.empty()) return value_rule_;
        value_rule_ = grammar_.reserve_rule("value");
        std::string object = any_object();
        std::string array = grammar_.add_rule(
            "array", Node::sequence({Node::literal("["), ws(),
                                     Node::optional(Node::sequence(
                                         {Node::ref(value_rule_),
                                          Node::repeat(Node::sequence({ws(), Node::literal(","), ws(), Node::ref(value_rule_)}), 0, -1)})),
                                     ws(), Node::literal("]")}));
        Node string = string_symbol(json::object(), "");
        grammar_.define_rule(value_rule_, Node::choice({Node::ref(object), Node::ref(array), string, Node::ref(any_number()),
                                                        Node::literal("true"), Node::literal("false"), Node::literal("null")}));
        return value_rule_;
    }

    std::string any_object() {
        if (!object_rule_.empty()) return object_rule_;
        std::string value = any_value_rule();
        if (!object_rule_.empty()) return object_rule_;  // any_value_rule() made it
        Node key = string_symbol(json::object(), "");
        Node member = Node::sequence({key, ws(), Node::literal(":"), ws(), Node::ref(value)});
        object_rule_ = grammar_.add_rule(
            "object",
            Node::sequence({Node::literal("{"), ws(),
                            Node::optional(Node::sequence(
                                {member, Node::repeat(Node::sequence({ws(), Node::literal(","), ws(), member}), 0, -1)})),
                            ws(), Node::literal("}")}));
        return object_rule_;
    }

    const json& root_;
    Grammar grammar_;
    std::map<std::string, std::string> ref_rules_;
    std::string char_rule_, value_rule_, object_rule_;
};

}  // namespace

Grammar schema_to_grammar(const json& schema) {
    check_schema(schema);
    return SchemaGrammarBuilder(schema).build();
}

}  // namespace vigil::vlm
