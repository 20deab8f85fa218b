#pragma once
// A small context-free grammar model that prints as llama.cpp GBNF and can be
// sampled at random. schema_to_grammar() builds one from a JSON Schema; tests
// sample thousands of sentences from it to prove every one validates.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace vigil::vlm {

struct GrammarNode {
    enum class Kind { literal, char_set, sequence, choice, repeat, rule_ref };
    Kind kind = Kind::sequence;
    std::string text;                                  // literal: UTF-8; rule_ref: rule name
    std::vector<std::pair<char32_t, char32_t>> ranges; // char_set: inclusive code point ranges
    bool negated = false;                              // char_set: any code point outside `ranges`
    std::vector<GrammarNode> children;                 // sequence, choice; repeat: exactly one
    int min_count = 0;                                 // repeat
    int max_count = -1;                                // repeat; -1: unbounded

    static GrammarNode literal(std::string text);
    static GrammarNode chars(std::vector<std::pair<char32_t, char32_t>> ranges, bool negated = false);
    static GrammarNode sequence(std::vector<GrammarNode> children);
    static GrammarNode choice(std::vector<GrammarNode> children);
    static GrammarNode repeat(GrammarNode child, int min_count, int max_count);
    static GrammarNode optional(GrammarNode child) { return repeat(std::move(child), 0, 1); }
    static GrammarNode ref(std::string rule_name);
    static GrammarNode empty() { return sequence({}); }
};

// Largest {m,n} bound llama.cpp's grammar parser honours; above it the parser
// silently turns the repetition into an unbounded one.
inline constexpr int kGbnfMaxRepetition = 2000;

class Grammar {
public:
    // Adds a rule named after `name_hint` (sanitised to [a-z0-9-], made
    // unique) and returns its name; a rule with the same body is reused.
    std::string add_rule(const std::string& name_hint, GrammarNode body);
    // Two-step definition for recursive rules: reserve the name, define later.
    std::string reserve_rule(const std::string& name_hint);
    void define_rule(const std::string& name, GrammarNode body);

    const GrammarNode& rule(const std::string& name) const;
    bool has_rule(const std::string& name) const { return rules_.count(name) > 0; }

    // GBNF text, "root" first. Repetitions of anything but a single symbol are
    // hoisted into their own rules so llama.cpp's repetition limits hold.
    std::string to_gbnf() const;

    // One random sentence derived from "root". Unbounded repetitions stop
    // after a few items; derivations nested deeper than `max_depth` rules are
    // abandoned and retried. Throws vigil::Error when no attempt finishes.
    std::string sample(std::mt19937_64& rng, int max_depth = 40) const;

private:
    std::string unique_name(const std::string& name_hint);

    std::vector<std::string> order_;
    std::map<std::string, GrammarNode> rules_;
    std::map<std::string, std::string> body_to_name_;  // printed body -> rule, for reuse
};

// The grammar behind schema_to_gbnf(); see vlm_json_schema.h.
Grammar schema_to_grammar(const nlohmann::json& schema);

}  // namespace vigil::vlm
