// The JSON Schema subset Vigil supports: schema checking, validation and
// parsing model output. The grammar side is in vlm_json_schema_grammar.cpp.
#include "vlm/vlm_json_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "core/error.h"
#include "vlm/vlm_grammar.h"
#include "vlm/vlm_json_schema_detail.h"

namespace vigil::vlm {

using nlohmann::json;

namespace detail {

namespace {

const std::set<std::string>& constraint_keywords() {
    static const std::set<std::string> keywords = {
        "type",      "properties", "required",         "additionalProperties", "enum",    "const",
        "items",     "minItems",   "maxItems",         "minimum",              "maximum", "exclusiveMinimum",
        "exclusiveMaximum",        "minLength",        "maxLength",            "pattern", "anyOf",
        "oneOf",     "$ref"};
    return keywords;
}

// Annotations and containers: accepted, no effect on validation.
const std::set<std::string>& annotation_keywords() {
    static const std::set<std::string> keywords = {
        "$defs",   "definitions", "description", "title",    "$schema",  "$id",
        "$comment", "default",    "examples",    "format",   "deprecated", "readOnly",
        "writeOnly", "contentMediaType", "contentEncoding", "$anchor"};
    return keywords;
}

const std::set<std::string>& type_names() {
    static const std::set<std::string> names = {"null", "boolean", "object", "array", "string", "number", "integer"};
    return names;
}

bool is_integral(const json& value) {
    if (value.is_number_integer()) return true;
    if (!value.is_number_float()) return false;
    double v = value.get<double>();
    return std::isfinite(v) && std::floor(v) == v;
}

bool matches_type(const std::string& type, const json& value) {
    if (type == "null") return value.is_null();
    if (type == "boolean") return value.is_boolean();
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer") return is_integral(value);
    return false;
}

std::string type_of(const json& value) {
    if (value.is_number()) return is_integral(value) ? "integer" : "number";
    return value.type_name();
}

size_t utf8_length(const std::string& text) {
    size_t count = 0;
    for (char ch : text)
        if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++count;
    return count;
}

std::string short_dump(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
}

std::string join_types(const json& type) {
    if (type.is_string()) return type.get<std::string>();
    std::string out;
    for (const auto& t : type) out += (out.empty() ? "" : " or ") + t.get<std::string>();
    return out;
}

}  // namespace

bool is_constraint_keyword(const std::string& keyword) { return constraint_keywords().count(keyword) > 0; }
bool is_annotation_keyword(const std::string& keyword) { return annotation_keywords().count(keyword) > 0; }
bool is_type_name(const std::string& name) { return type_names().count(name) > 0; }

std::string pointer_append(const std::string& pointer, const std::string& token) {
    std::string escaped;
    for (char ch : token) {
        if (ch == '~') escaped += "~0";
        else if (ch == '/') escaped += "~1";
        else escaped += ch;
    }
    return pointer + "/" + escaped;
}

std::string pointer_for_message(const std::string& pointer) { return pointer.empty() ? "(root)" : pointer; }

const json* resolve_ref(const json& root, const std::string& ref) {
    if (ref.empty() || ref[0] != '#') return nullptr;
    if (ref == "#") return &root;
    try {
        json::json_pointer pointer(ref.substr(1));
        if (!root.contains(pointer)) return nullptr;
        return &root.at(pointer);
    } catch (const json::exception&) {
        return nullptr;
    }
}

NumericBounds NumericBounds::of(const json& schema) {
    NumericBounds bounds;
    auto tighten = [](std::optional<double>& bound, bool& exclusive, double value, bool value_exclusive, bool lower) {
        bool tighter = !bound || (lower ? value > *bound : value < *bound);
        if (tighter) {
            bound = value;
            exclusive = value_exclusive;
        } else if (value == *bound && value_exclusive) {
            exclusive = true;
        }
    };
    if (!schema.is_object()) return bounds;
    if (auto it = schema.find("minimum"); it != schema.end() && it->is_number())
        tighten(bounds.lower, bounds.lower_exclusive, it->get<double>(), false, true);
    if (auto it = schema.find("exclusiveMinimum"); it != schema.end() && it->is_number())
        tighten(bounds.lower, bounds.lower_exclusive, it->get<double>(), true, true);
    if (auto it = schema.find("maximum"); it != schema.end() && it->is_number())
        tighten(bounds.upper, bounds.upper_exclusive, it->get<double>(), false, false);
    if (auto it = schema.find("exclusiveMaximum"); it != schema.end() && it->is_number())
        tighten(bounds.upper, bounds.upper_exclusive, it->get<double>(), true, false);
    return bounds;
}

bool NumericBounds::admits(double value) const {
    if (lower && (lower_exclusive ? !(value > *lower) : !(value >= *lower))) return false;
    if (upper && (upper_exclusive ? !(value < *upper) : !(value <= *upper))) return false;
    return true;
}

bool NumericBounds::empty() const {
    if (!lower || !upper) return false;
    if (*lower > *upper) return true;
    return *lower == *upper && (lower_exclusive || upper_exclusive);
}

void validate_node(const json& root, const json& schema, const json& instance, const std::string& pointer,
                   std::vector<std::string>& errors, int depth) {
    const std::string where = pointer_for_message(pointer);
    if (depth > 200) {
        errors.push_back(where + ": schema nesting is too deep (a $ref cycle?)");
        return;
    }
    if (schema.is_boolean()) {
        if (!schema.get<bool>()) errors.push_back(where + ": no value is allowed here (schema false)");
        return;
    }
    if (!schema.is_object()) return;

    if (auto it = schema.find("$ref"); it != schema.end() && it->is_string()) {
        const json* target = resolve_ref(root, it->get<std::string>());
        if (!target) errors.push_back(where + ": $ref " + it->get<std::string>() + " does not resolve");
        else validate_node(root, *target, instance, pointer, errors, depth + 1);
    }

    if (auto it = schema.find("type"); it != schema.end()) {
        bool ok = false;
        if (it->is_string()) ok = matches_type(it->get<std::string>(), instance);
        else if (it->is_array())
            ok = std::any_of(it->begin(), it->end(),
                             [&](const json& t) { return t.is_string() && matches_type(t.get<std::string>(), instance); });
        if (!ok) {
            errors.push_back(fmt::format("{}: expected {}, got {}", where, join_types(*it), type_of(instance)));
            return;  // the remaining keywords would only repeat the mismatch
        }
    }

    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
        if (std::find(it->begin(), it->end(), instance) == it->end())
            errors.push_back(fmt::format("{}: {} is not one of {}", where, short_dump(instance), short_dump(*it)));
    }
    if (auto it = schema.find("const"); it != schema.end() && *it != instance)
        errors.push_back(fmt::format("{}: expected {}, got {}", where, short_dump(*it), short_dump(instance)));

    if (instance.is_number()) {
        double value = instance.get<double>();
        auto bounds = NumericBounds::of(schema);
        if (bounds.lower && !(bounds.lower_exclusive ? value > *bounds.lower : value >= *bounds.lower))
            errors.push_back(fmt::format("{}: {} is {} {}", where, short_dump(instance),
                                         bounds.lower_exclusive ? "not greater than" : "less than", *bounds.lower));
        if (bounds.upper && !(bounds.upper_exclusive ? value < *bounds.upper : value <= *bounds.upper))
            errors.push_back(fmt::format("{}: {} is {} {}", where, short_dump(instance),
                                         bounds.upper_exclusive ? "not less than" : "greater than", *bounds.upper));
    }

    if (instance.is_string()) {
        const auto& text = instance.get_ref<const std::string&>();
        size_t length = utf8_length(text);
        if (auto it = schema.find("minLength"); it != schema.end() && it->is_number() && length < it->get<double>())
            errors.push_back(fmt::format("{}: string of {} characters is shorter than minLength {}", where, length, it->dump()));
        if (auto it = schema.find("maxLength"); it != schema.end() && it->is_number() && length > it->get<double>())
            errors.push_back(fmt::format("{}: string of {} characters is longer than maxLength {}", where, length, it->dump()));
        if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
            try {
                if (!std::regex_search(text, std::regex(it->get<std::string>(), std::regex::ECMAScript)))
                    errors.push_back(fmt::format("{}: {} does not match pattern {}", where, short_dump(instance), it->dump()));
            } catch (const std::regex_error&) {
                errors.push_back(fmt::format("{}: schema pattern {} is not a valid regular expression", where, it->dump()));
            }
        }
    }

    if (instance.is_array()) {
        double count = static_cast<double>(instance.size());
        if (auto it = schema.find("minItems"); it != schema.end() && it->is_number() && count < it->get<double>())
            errors.push_back(fmt::format("{}: array of {} items has fewer than minItems {}", where, instance.size(), it->dump()));
        if (auto it = schema.find("maxItems"); it != schema.end() && it->is_number() && count > it->get<double>())
            errors.push_back(fmt::format("{}: array of {} items has more than maxItems {}", where, instance.size(), it->dump()));
        if (auto it = schema.find("items"); it != schema.end() && (it->is_object() || it->is_boolean()))
            for (size_t i = 0; i < instance.size(); ++i)
                validate_node(root, *it, instance[i], pointer_append(pointer, std::to_string(i)), errors, depth + 1);
    }

    if (instance.is_object()) {
        if (auto it = schema.find("required"); it != schema.end() && it->is_array())
            for (const auto& key : *it)
                if (key.is_string() && !instance.contains(key.get<std::string>()))
                    errors.push_back(fmt::format("{}: missing required property \"{}\"", where, key.get<std::string>()));
        const json* properties = nullptr;
        if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) properties = &*it;
        bool closed = schema.value("additionalProperties", true) == false;
        for (const auto& [key, value] : instance.items()) {
            if (properties && properties->contains(key))
                validate_node(root, properties->at(key), value, pointer_append(pointer, key), errors, depth + 1);
            else if (closed)
                errors.push_back(fmt::format("{}: property \"{}\" is not allowed (additionalProperties is false)", where, key));
        }
    }

    for (const char* keyword : {"anyOf", "oneOf"}) {
        auto it = schema.find(keyword);
        if (it == schema.end() || !it->is_array()) continue;
        int matched = 0;
        std::vector<std::string> first_branch_errors;
        for (size_t i = 0; i < it->size(); ++i) {
            std::vector<std::string> branch_errors;
            validate_node(root, (*it)[i], instance, pointer, branch_errors, depth + 1);
            if (branch_errors.empty()) ++matched;
            else if (i == 0) first_branch_errors = branch_errors;
        }
        bool one_of = std::string(keyword) == "oneOf";
        if (matched == 0) {
            std::string detail = first_branch_errors.empty() ? "" : " (first alternative: " + first_branch_errors.front() + ")";
            errors.push_back(fmt::format("{}: matches none of the {} alternatives{}", where, keyword, detail));
        } else if (one_of && matched > 1) {
            errors.push_back(fmt::format("{}: matches {} of the oneOf alternatives, expected exactly one", where, matched));
        }
    }
}

}  // namespace detail

namespace {

using detail::pointer_append;

[[noreturn]] void schema_error(const std::string& pointer, const std::string& problem) {
    throw Error("unsupported or invalid JSON schema at #" + pointer + ": " + problem);
}

bool is_non_negative_integer(const json& value) {
    return (value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0) ||
            (value.is_number_float() && value.get<double>() >= 0 && std::floor(value.get<double>()) == value.get<double>()));
}

class SchemaChecker {
public:
    explicit SchemaChecker(const json& root) : root_(root) {}

    void check(const json& schema, const std::string& pointer) {
        if (schema.is_boolean()) return;
        if (!schema.is_object()) schema_error(pointer, "a schema must be an object or a boolean, got " + std::string(schema.type_name()));
        for (const auto& [keyword, value] : schema.items()) {
            if (detail::is_constraint_keyword(keyword)) continue;
            if (detail::is_annotation_keyword(keyword)) continue;
            if (keyword.rfind("x-", 0) == 0) continue;  // vendor extensions carry no meaning
            schema_error(pointer, "keyword \"" + keyword +
                                      "\" is not supported (supported: type, properties, required, additionalProperties, enum, "
                                      "const, items, minItems, maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, "
                                      "minLength, maxLength, pattern, anyOf, oneOf, $ref, $defs)");
        }
        check_type(schema, pointer);
        check_enum(schema, pointer);
        check_lengths(schema, pointer, "minLength", "maxLength");
        check_lengths(schema, pointer, "minItems", "maxItems");
        check_numbers(schema, pointer);
        check_pattern(schema, pointer);
        check_object(schema, pointer);
        check_ref(schema, pointer);
        if (auto it = schema.find("items"); it != schema.end()) {
            if (it->is_array()) schema_error(pointer_append(pointer, "items"), "tuple form (an array of schemas) is not supported");
            check(*it, pointer_append(pointer, "items"));
        }
        for (const char* keyword : {"anyOf", "oneOf"}) {
            auto it = schema.find(keyword);
            if (it == schema.end()) continue;
            std::string at = pointer_append(pointer, keyword);
            if (!it->is_array() || it->empty()) schema_error(at, "must be a non-empty array of schemas");
            for (size_t i = 0; i < it->size(); ++i) check((*it)[i], pointer_append(at, std::to_string(i)));
        }
        for (const char* keyword : {"$defs", "definitions"}) {
            auto it = schema.find(keyword);
            if (it == schema.end()) continue;
            std::string at = pointer_append(pointer, keyword);
            if (!it->is_object()) schema_error(at, "must be an object of named schemas");
            for (const auto& [name, def] : it->items()) check(def, pointer_append(at, name));
        }
    }

private:
    void check_type(const json& schema, const std::string& pointer) {
        auto it = schema.find("type");
        if (it == schema.end()) return;
        std::string at = pointer_append(pointer, "type");
        auto check_name = [&](const json& name) {
            if (!name.is_string()) schema_error(at, "type names must be strings, got " + name.dump());
            if (!detail::is_type_name(name.get<std::string>()))
                schema_error(at, "unknown type \"" + name.get<std::string>() +
                                     "\" (expected null, boolean, object, array, string, number or integer)");
        };
        if (it->is_array()) {
            if (it->empty()) schema_error(at, "a list of types must not be empty");
            for (const auto& name : *it) check_name(name);
        } else {
            check_name(*it);
        }
    }

    void check_enum(const json& schema, const std::string& pointer) {
        auto it = schema.find("enum");
        if (it == schema.end()) return;
        if (!it->is_array()) schema_error(pointer_append(pointer, "enum"), "must be an array of allowed values, got " + std::string(it->type_name()));
        if (it->empty()) schema_error(pointer_append(pointer, "enum"), "must list at least one value");
    }

    void check_lengths(const json& schema, const std::string& pointer, const char* min_key, const char* max_key) {
        for (const char* key : {min_key, max_key}) {
            auto it = schema.find(key);
            if (it != schema.end() && !is_non_negative_integer(*it))
                schema_error(pointer_append(pointer, key), "must be a non-negative integer, got " + it->dump());
        }
        if (schema.contains(min_key) && schema.contains(max_key) &&
            schema[min_key].get<double>() > schema[max_key].get<double>())
            schema_error(pointer, fmt::format("{} {} is greater than {} {}", min_key, schema[min_key].dump(), max_key,
                                              schema[max_key].dump()));
    }

    void check_numbers(const json& schema, const std::string& pointer) {
        for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
            auto it = schema.find(key);
            if (it == schema.end()) continue;
            if (it->is_boolean())
                schema_error(pointer_append(pointer, key), "must be a number (draft 2020 style), not a boolean as in draft 4");
            if (!it->is_number()) schema_error(pointer_append(pointer, key), "must be a number, got " + it->dump());
        }
        if (detail::NumericBounds::of(schema).empty())
            schema_error(pointer, "the numeric bounds (minimum/maximum/exclusiveMinimum/exclusiveMaximum) admit no number");
    }

    void check_pattern(const json& schema, const std::string& pointer) {
        auto it = schema.find("pattern");
        if (it == schema.end()) return;
        std::string at = pointer_append(pointer, "pattern");
        if (!it->is_string()) schema_error(at, "must be a string");
        try {
            std::regex compiled(it->get<std::string>(), std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            schema_error(at, it->dump() + " is not a valid regular expression: " + e.what());
        }
    }

    void check_object(const json& schema, const std::string& pointer) {
        const json* properties = nullptr;
        if (auto it = schema.find("properties"); it != schema.end()) {
            std::string at = pointer_append(pointer, "properties");
            if (!it->is_object()) schema_error(at, "must be an object mapping property names to schemas");
            properties = &*it;
            for (const auto& [name, sub] : it->items()) check(sub, pointer_append(at, name));
        }
        bool closed = false;
        if (auto it = schema.find("additionalProperties"); it != schema.end()) {
            if (!it->is_boolean())
                schema_error(pointer_append(pointer, "additionalProperties"), "must be true or false (schemas here are not supported)");
            closed = !it->get<bool>();
        }
        if (auto it = schema.find("required"); it != schema.end()) {
            std::string at = pointer_append(pointer, "required");
            if (!it->is_array()) schema_error(at, "must be an array of property names");
            for (const auto& name : *it) {
                if (!name.is_string()) schema_error(at, "property names must be strings, got " + name.dump());
                if (closed && !(properties && properties->contains(name.get<std::string>())))
                    schema_error(at, "required property \"" + name.get<std::string>() +
                                         "\" is not in properties and additionalProperties is false");
            }
        }
    }

    void check_ref(const json& schema, const std::string& pointer) {
        auto it = schema.find("$ref");
        if (it == schema.end()) return;
        std::string at = pointer_append(pointer, "$ref");
        if (!it->is_string()) schema_error(at, "must be a string such as \"#/$defs/name\"");
        if (!detail::resolve_ref(root_, it->get<std::string>()))
            schema_error(at, it->dump() + " does not resolve (only local references like \"#/$defs/name\" are supported)");
    }

    const json& root_;
};

std::string quote_text(const std::string& text) {
    constexpr size_t kQuoteChars = 160;
    std::string shown;
    for (char ch : text.substr(0, kQuoteChars)) {
        if (ch == '\n') shown += "\\n";
        else if (ch == '\r') shown += "\\r";
        else shown += ch;
    }
    if (text.size() > kQuoteChars) shown += "...";
    return "\"" + shown + "\"";
}

std::string strip_output(const std::string& text) {
    auto trim = [](std::string s) {
        const char* space = " \t\r\n";
        auto first = s.find_first_not_of(space);
        if (first == std::string::npos) return std::string();
        return s.substr(first, s.find_last_not_of(space) - first + 1);
    };
    std::string body = trim(text);
    // Chat models like to wrap JSON in a Markdown fence: ```json ... ```
    if (body.rfind("```", 0) == 0) {
        auto newline = body.find('\n');
        body = newline == std::string::npos ? body.substr(3) : body.substr(newline + 1);
        if (body.size() >= 3 && body.compare(body.size() - 3, 3, "```") == 0) body.resize(body.size() - 3);
        body = trim(body);
    }
    return body;
}

}  // namespace

void check_schema(const json& schema) { SchemaChecker(schema).check(schema, ""); }

std::vector<std::string> validate_json(const json& schema, const json& instance) {
    check_schema(schema);
    std::vector<std::string> errors;
    detail::validate_node(schema, schema, instance, "", errors);
    return errors;
}

std::string schema_to_gbnf(const json& schema) { return schema_to_grammar(schema).to_gbnf(); }

json parse_and_validate(const json& schema, const std::string& text) {
    std::string body = strip_output(text);
    json document;
    try {
        document = json::parse(body);
    } catch (const json::parse_error& e) {
        std::string reason = e.what();
        if (auto colon = reason.find("syntax error"); colon != std::string::npos) reason = reason.substr(colon);
        throw Error("VLM output is not valid JSON (" + reason + "): " + quote_text(text));
    }
    auto errors = validate_json(schema, document);
    if (!errors.empty()) {
        std::string listed;
        for (size_t i = 0; i < errors.size() && i < 3; ++i) listed += (i ? "; " : "") + errors[i];
        if (errors.size() > 3) listed += fmt::format("; and {} more", errors.size() - 3);
        throw Error("VLM output does not match the JSON schema: " + listed + ": " + quote_text(text));
    }
    return document;
}

}  // namespace vigil::vlm
