#pragma once
// Pieces of the JSON Schema subset shared by the validator and the grammar
// builder, so both read a schema the same way.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vigil::vlm::detail {

// Longest string the grammar lets a model write when the schema sets no
// maxLength: keeps free text (and generation time) bounded.
inline constexpr int kDefaultMaxStringLength = 512;

// "#", "#/$defs/name", "#/definitions/name" or any other local JSON pointer;
// nullptr when it does not resolve.
const nlohmann::json* resolve_ref(const nlohmann::json& root, const std::string& ref);

// minimum/maximum and exclusiveMinimum/exclusiveMaximum folded into one
// lower and one upper bound (the tighter one wins; on a tie, exclusive).
struct NumericBounds {
    std::optional<double> lower;
    bool lower_exclusive = false;
    std::optional<double> upper;
    bool upper_exclusive = false;

    static NumericBounds of(const nlohmann::json& schema);
    bool admits(double value) const;
    bool empty() const;  // no number satisfies both bounds
};

// Validates `instance` against `schema`, a node inside `root` ($refs resolve
// against root). Appends "<instance pointer>: <problem>" messages.
void validate_node(const nlohmann::json& root, const nlohmann::json& schema, const nlohmann::json& instance,
                   const std::string& pointer, std::vector<std::string>& errors, int depth = 0);

// "/a/b" with ~ and / escaped; "(root)" for the document itself in messages.
std::string pointer_append(const std::string& pointer, const std::string& token);
std::string pointer_for_message(const std::string& pointer);

// Keywords that constrain instances (not annotations, not $defs).
bool is_constraint_keyword(const std::string& keyword);
// Annotations ($defs, description, format, ...): accepted and ignored.
bool is_annotation_keyword(const std::string& keyword);
// null, boolean, object, array, string, number, integer.
bool is_type_name(const std::string& name);

}  // namespace vigil::vlm::detail
