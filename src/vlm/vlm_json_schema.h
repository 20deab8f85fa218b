#pragma once
// JSON Schema support for structured VLM output: a subset validator (what
// Vigil's alert and answer schemas use) and a converter to a llama.cpp GBNF
// grammar so the embedded backend can only produce documents that validate.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vigil::vlm {

// Throws vigil::Error naming the JSON pointer and the problem when `schema`
// is not a schema Vigil supports (unknown type, bad enum, min > max, ...).
void check_schema(const nlohmann::json& schema);

// Empty when `instance` validates; otherwise one message per violation,
// each starting with the JSON pointer of the offending value.
std::vector<std::string> validate_json(const nlohmann::json& schema, const nlohmann::json& instance);

// GBNF grammar (root rule "root") whose every sentence is a JSON document
// that validates against `schema`. Throws vigil::Error like check_schema, and
// for schemas a grammar cannot express (see vlm_json_schema_grammar.cpp for
// the subset it writes: declared properties only, bounded strings, plain
// decimals; "pattern" is left to parse_and_validate, and oneOf branches are
// assumed disjoint).
std::string schema_to_gbnf(const nlohmann::json& schema);

// Parses model/server output as JSON and validates it; throws vigil::Error
// quoting (a prefix of) the text and the first violations when it fails.
nlohmann::json parse_and_validate(const nlohmann::json& schema, const std::string& text);

}  // namespace vigil::vlm
