#include "vlm/vlm_grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace vigil::vlm {

GrammarNode GrammarNode::literal(std::string text) {
    GrammarNode node;
    node.kind = Kind::literal;
    node.text = std::move(text);
    return node;
}

GrammarNode GrammarNode::chars(std::vector<std::pair<char32_t, char32_t>> ranges, bool negated) {
    GrammarNode node;
    node.kind = Kind::char_set;
    node.ranges = std::move(ranges);
    node.negated = negated;
    return node;
}

GrammarNode GrammarNode::sequence(std::vector<GrammarNode> children) {
    // A one-item sequence is that item: keeps printed grammars and rule reuse tidy.
    if (children.size() == 1) return std::move(children.front());
    GrammarNode node;
    node.kind = Kind::sequence;
    node.children = std::move(children);
    return node;
}

GrammarNode GrammarNode::choice(std::vector<GrammarNode> children) {
    if (children.size() == 1) return std::move(children.front());
    GrammarNode node;
    node.kind = Kind::choice;
    node.children = std::move(children);
    return node;
}

GrammarNode GrammarNode::repeat(GrammarNode child, int min_count, int max_count) {
    GrammarNode node;
    node.kind = Kind::repeat;
    node.children.push_back(std::move(child));
    node.min_count = min_count;
    node.max_count = max_count;
    return node;
}

GrammarNode GrammarNode::ref(std::string rule_name) {
    GrammarNode node;
    node.kind = Kind::rule_ref;
    node.text = std::move(rule_name);
    return node;
}

namespace {

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string quote_literal(const std::string& text) {
    std::string out = "\"";
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            // Bytes >= 0x80 pass through: the GBNF parser decodes UTF-8 itself.
            if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02X}", c);
            else out += ch;
        }
    }
    return out + "\"";
}

std::string char_set_char(char32_t cp) {
    switch (cp) {
    case '\\': return "\\\\";
    case ']': return "\\]";
    case '[': return "\\[";
    case '-': return "\\-";
    case '"': return "\\\"";
    case '^': return "\\x5E";  // no \^ escape in GBNF
    default: break;
    }
    if (cp < 0x20 || cp == 0x7F) return fmt::format("\\x{:02X}", static_cast<unsigned>(cp));
    if (cp < 0x80) return std::string(1, static_cast<char>(cp));
    if (cp <= 0xFFFF) return fmt::format("\\u{:04X}", static_cast<unsigned>(cp));
    return fmt::format("\\U{:08X}", static_cast<unsigned>(cp));
}

std::string print_char_set(const GrammarNode& node) {
    std::string out = node.negated ? "[^" : "[";
    for (auto [lo, hi] : node.ranges) {
        out += char_set_char(lo);
        if (hi != lo) {
            out += '-';
            out += char_set_char(hi);
        }
    }
    return out + "]";
}

bool is_atom(const GrammarNode& node) {
    using K = GrammarNode::Kind;
    return node.kind == K::literal || node.kind == K::char_set || node.kind == K::rule_ref;
}

std::string repeat_suffix(int min_count, int max_count) {
    if (min_count == 0 && max_count == 1) return "?";
    if (min_count == 0 && max_count < 0) return "*";
    if (min_count == 1 && max_count < 0) return "+";
    if (max_count < 0) return fmt::format("{{{},}}", min_count);
    if (min_count == max_count) return fmt::format("{{{}}}", min_count);
    return fmt::format("{{{},{}}}", min_count, max_count);
}

std::string sanitize_name(const std::string& hint) {
    std::string out;
    for (char ch : hint) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (word) out += c;
        else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.size() > 48) out.resize(48);
    return out.empty() ? "rule" : out;
}

// Prints rule bodies; repetitions of compound items become helper rules
// because llama.cpp limits (rules inside a group) x (repetition count).
class GbnfPrinter {
public:
    explicit GbnfPrinter(const std::map<std::string, GrammarNode>& rules) : rules_(rules) {}

    std::string body(const GrammarNode& node, const std::string& rule_name) {
        return alternatives(node, rule_name);
    }

    const std::vector<std::pair<std::string, std::string>>& helpers() const { return helpers_; }

private:
    std::string alternatives(const GrammarNode& node, const std::string& rule_name) {
        if (node.kind != GrammarNode::Kind::choice) return sequence(node, rule_name);
        if (node.children.empty()) throw Error("internal error: grammar rule " + rule_name + " has no alternatives");
        std::string out;
        for (size_t i = 0; i < node.children.size(); ++i) {
            if (i) out += " | ";
            out += sequence(node.children[i], rule_name);
        }
        return out;
    }

    std::string sequence(const GrammarNode& node, const std::string& rule_name) {
        if (node.kind != GrammarNode::Kind::sequence) return item(node, rule_name);
        if (node.children.empty()) return "\"\"";
        std::string out;
        for (size_t i = 0; i < node.children.size(); ++i) {
            if (i) out += " ";
            out += item(node.children[i], rule_name);
        }
        return out;
    }

    std::string item(const GrammarNode& node, const std::string& rule_name) {
        using K = GrammarNode::Kind;
        switch (node.kind) {
        case K::literal: return quote_literal(node.text);
        case K::char_set: return print_char_set(node);
        case K::rule_ref: return node.text;
        case K::sequence:
            if (node.children.empty()) return "\"\"";
            return parenthesized(sequence(node, rule_name));
        case K::choice: return parenthesized(alternatives(node, rule_name));
        case K::repeat: {
            if (node.max_count > kGbnfMaxRepetition || node.min_count > kGbnfMaxRepetition)
                throw Error(fmt::format("internal error: repetition {{{},{}}} in rule {} exceeds GBNF's limit of {}",
                                        node.min_count, node.max_count, rule_name, kGbnfMaxRepetition));
            if (node.max_count == 0) return "\"\"";
            const GrammarNode& child = node.children.front();
            // llama.cpp refuses (symbols inside a group) x (repeat count) > 2000,
            // so a group repeated more than once becomes a helper rule.
            bool repeats_group = node.max_count > 1 || (node.max_count < 0 && node.min_count > 1);
            std::string atom = is_atom(child)   ? item(child, rule_name)
                               : repeats_group ? helper_rule(child, rule_name)
                                               : parenthesized(alternatives(child, rule_name));
            if (node.min_count == 1 && node.max_count == 1) return atom;
            return atom + repeat_suffix(node.min_count, node.max_count);
        }
        }
        return "\"\"";
    }

    // Built by appending: g++ 12 -O2 warns falsely (-Wrestrict) on "(" + s.
    static std::string parenthesized(const std::string& text) {
        std::string out;
        out.reserve(text.size() + 2);
        out += '(';
        out += text;
        out += ')';
        return out;
    }

    std::string helper_rule(const GrammarNode& node, const std::string& rule_name) {
        std::string text = alternatives(node, rule_name);
        for (const auto& [name, existing] : helpers_)
            if (existing == text) return name;
        std::string name;
        for (int k = 1;; ++k) {
            name = fmt::format("{}-item{}", rule_name, k);
            bool taken = rules_.count(name) > 0 ||
                         std::any_of(helpers_.begin(), helpers_.end(), [&](const auto& h) { return h.first == name; });
            if (!taken) break;
        }
        helpers_.emplace_back(name, text);
        return name;
    }

    const std::map<std::string, GrammarNode>& rules_;
    std::vector<std::pair<std::string, std::string>> helpers_;
};

struct SampleTooDeep {};

class Sampler {
public:
    Sampler(const std::map<std::string, GrammarNode>& rules, std::mt19937_64& rng, int max_depth)
        : rules_(rules), rng_(rng), max_depth_(max_depth) {}

    void sample(const GrammarNode& node, std::string& out, int depth) {
        using K = GrammarNode::Kind;
        switch (node.kind) {
        case K::literal: out += node.text; return;
        case K::char_set: append_utf8(out, pick_char(node)); return;
        case K::sequence:
            for (const auto& child : node.children) sample(child, out, depth);
            return;
        case K::choice:
            sample(node.children[uniform(0, static_cast<int>(node.children.size()) - 1)], out, depth);
            return;
        case K::repeat: {
            int count = repeat_count(node.min_count, node.max_count);
            for (int i = 0; i < count; ++i) sample(node.children.front(), out, depth);
            return;
        }
        case K::rule_ref: {
            if (depth >= max_depth_) throw SampleTooDeep{};
            auto it = rules_.find(node.text);
            if (it == rules_.end()) throw Error("internal error: grammar references undefined rule " + node.text);
            sample(it->second, out, depth + 1);
            return;
        }
        }
    }

private:
    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

    // Half the time a short run, so nested structures stay small; otherwise
    // anywhere up to the bound, so long strings and arrays get exercised too.
    int repeat_count(int min_count, int max_count) {
        int soft_max = max_count < 0 ? min_count + 3 : max_count;
        if (uniform(0, 1) == 0) return uniform(min_count, std::min(soft_max, min_count + 3));
        return uniform(min_count, soft_max);
    }

    static bool in_ranges(const GrammarNode& node, char32_t cp) {
        for (auto [lo, hi] : node.ranges)
            if (cp >= lo && cp <= hi) return true;
        return false;
    }

    char32_t pick_char(const GrammarNode& node) {
        if (!node.negated) {
            if (node.ranges.empty()) throw Error("internal error: empty character set");
            for (;;) {
                auto [lo, hi] = node.ranges[uniform(0, static_cast<int>(node.ranges.size()) - 1)];
                auto cp = static_cast<char32_t>(
                    std::uniform_int_distribution<uint32_t>(static_cast<uint32_t>(lo), static_cast<uint32_t>(hi))(rng_));
                if (cp < 0xD800 || cp > 0xDFFF) return cp;
            }
        }
        // Candidates for "anything but ...": ASCII plus a few multi-byte code
        // points, including U+2028 which JSON strings may hold unescaped.
        static const std::vector<char32_t> pool = [] {
            std::vector<char32_t> p;
            for (char32_t c = 0; c < 0x80; ++c) p.push_back(c);
            for (char32_t c : {0xA0u, 0xE9u, 0xDFu, 0x3A9u, 0x2028u, 0x4E2Du, 0xFEFFu, 0x1F600u}) p.push_back(c);
            return p;
        }();
        for (int attempt = 0; attempt < 64; ++attempt) {
            char32_t cp = pool[uniform(0, static_cast<int>(pool.size()) - 1)];
            if (!in_ranges(node, cp)) return cp;
        }
        for (char32_t cp : pool)
            if (!in_ranges(node, cp)) return cp;
        throw Error("internal error: negated character set excludes every sample candidate");
    }

    const std::map<std::string, GrammarNode>& rules_;
    std::mt19937_64& rng_;
    int max_depth_;
};

}  // namespace

std::string Grammar::unique_name(const std::string& name_hint) {
    std::string base = sanitize_name(name_hint);
    std::string name = base;
    for (int k = 2; rules_.count(name) > 0; ++k) name = fmt::format("{}-{}", base, k);
    return name;
}

std::string Grammar::reserve_rule(const std::string& name_hint) {
    std::string name = unique_name(name_hint);
    rules_[name] = GrammarNode::empty();
    order_.push_back(name);
    return name;
}

void Grammar::define_rule(const std::string& name, GrammarNode body) {
    auto it = rules_.find(name);
    if (it == rules_.end()) throw Error("internal error: grammar rule " + name + " was not reserved");
    it->second = std::move(body);
}

std::string Grammar::add_rule(const std::string& name_hint, GrammarNode body) {
    // Rule reuse keys on the printed body; helper rules printed for it are
    // named after the rule, so the key uses a fixed placeholder name.
    GbnfPrinter printer(rules_);
    std::string key = printer.body(body, "x");
    for (const auto& [helper, text] : printer.helpers()) key += "\n" + helper + "=" + text;
    if (auto it = body_to_name_.find(key); it != body_to_name_.end()) return it->second;
    std::string name = reserve_rule(name_hint);
    rules_[name] = std::move(body);
    body_to_name_[key] = name;
    return name;
}

const GrammarNode& Grammar::rule(const std::string& name) const {
    auto it = rules_.find(name);
    if (it == rules_.end()) throw Error("internal error: no grammar rule " + name);
    return it->second;
}

std::string Grammar::to_gbnf() const {
    if (!rules_.count("root")) throw Error("internal error: grammar has no root rule");
    std::vector<std::string> names{"root"};
    for (const auto& name : order_)
        if (name != "root") names.push_back(name);
    GbnfPrinter printer(rules_);
    std::string out;
    for (const auto& name : names) out += name + " ::= " + printer.body(rules_.at(name), name) + "\n";
    for (const auto& [name, text] : printer.helpers()) out += name + " ::= " + text + "\n";
    return out;
}

std::string Grammar::sample(std::mt19937_64& rng, int max_depth) const {
    const GrammarNode& root = rule("root");
    Sampler sampler(rules_, rng, max_depth);
    for (int attempt = 0; attempt < 200; ++attempt) {
        std::string out;
        try {
            sampler.sample(root, out, 0);
            return out;
        } catch (const SampleTooDeep&) {
        }
    }
    throw Error(fmt::format("grammar sampling never finished within {} nested rules", max_depth));
}

}  // namespace vigil::vlm
