// JSON Schema subset: validator, schema checks, and the schema -> GBNF
// grammar. Cases live in tests/vlm/schemas/*.json: a schema with instances
// that must validate and instances that must not; every grammar is sampled
// many times and each sentence must parse and validate, and llama.cpp's own
// grammar engine must accept the printed GBNF and those sentences.
#include <gtest/gtest.h>
#include <llama.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>

#include "core/error.h"
#include "testing/test_support.h"
#include "vlm/vlm_grammar.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::vlm {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path schema_case_dir() { return fs::path(VIGIL_SOURCE_DIR) / "tests/vlm/schemas"; }

json load_json(const fs::path& path) { return json::parse(testing::read_file(path)); }

struct SchemaCase {
    std::string name;
    json spec;
};

// Every tests/vlm/schemas/*.json that holds one case (an object with "schema").
std::vector<SchemaCase> schema_cases() {
    std::vector<SchemaCase> cases;
    for (const auto& entry : fs::directory_iterator(schema_case_dir())) {
        if (entry.path().extension() != ".json") continue;
        json spec = load_json(entry.path());
        if (spec.is_object() && spec.contains("schema")) cases.push_back({entry.path().stem().string(), spec});
    }
    std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return cases;
}

bool grammar_is_exact(const json& spec) { return spec.value("grammar", "exact") == "exact"; }

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += "\n  " + line;
    return out;
}

TEST(JsonSchemaCases, FoundCaseFiles) { EXPECT_GE(schema_cases().size(), 12u) << schema_case_dir(); }

TEST(JsonSchemaCases, ValidInstancesValidateAndInvalidOnesDoNot) {
    for (const auto& c : schema_cases()) {
        SCOPED_TRACE(c.name);
        const json& schema = c.spec["schema"];
        ASSERT_NO_THROW(check_schema(schema));
        ASSERT_FALSE(c.spec["valid"].empty());
        ASSERT_FALSE(c.spec["invalid"].empty());
        for (const auto& instance : c.spec["valid"]) {
            auto errors = validate_json(schema, instance);
            EXPECT_TRUE(errors.empty()) << instance.dump() << join(errors);
        }
        for (const auto& instance : c.spec["invalid"]) {
            auto errors = validate_json(schema, instance);
            EXPECT_FALSE(errors.empty()) << "accepted: " << instance.dump();
            for (const auto& error : errors) EXPECT_TRUE(error.rfind("/", 0) == 0 || error.rfind("(root)", 0) == 0) << error;
        }
    }
}

TEST(JsonSchemaCases, EverySampledSentenceParsesAndValidates) {
    std::mt19937_64 rng(1234);
    for (const auto& c : schema_cases()) {
        SCOPED_TRACE(c.name);
        const json& schema = c.spec["schema"];
        Grammar grammar = schema_to_grammar(schema);
        EXPECT_FALSE(schema_to_gbnf(schema).empty());
        if (!grammar_is_exact(c.spec)) continue;
        std::set<std::string> distinct;
        for (int i = 0; i < 400; ++i) {
            std::string sentence = grammar.sample(rng);
            distinct.insert(sentence);
            json document;
            try {
                document = json::parse(sentence);
            } catch (const json::parse_error& e) {
                FAIL() << "grammar sentence is not JSON: " << sentence << "\n" << e.what();
            }
            auto errors = validate_json(schema, document);
            ASSERT_TRUE(errors.empty()) << sentence << join(errors);
        }
        // A schema with few documents (compact JSON has one spelling each)
        // says how many; the sampler must reach all of them.
        if (c.spec.contains("sentences")) EXPECT_EQ(distinct.size(), c.spec["sentences"].get<size_t>());
        else EXPECT_GT(distinct.size(), 50u) << "the sampler should explore the grammar";
    }
}

TEST(JsonSchemaCheck, BadSchemasGiveErrorsNamingThePointer) {
    for (const auto& bad : load_json(schema_case_dir() / "bad_schemas.json")) {
        SCOPED_TRACE(bad["schema"].dump());
        try {
            check_schema(bad["schema"]);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            for (const auto& expected : bad["error"])
                EXPECT_NE(std::string(e.what()).find(expected.get<std::string>()), std::string::npos)
                    << "message: " << e.what() << "\nexpected to contain: " << expected.get<std::string>();
        }
        EXPECT_THROW(validate_json(bad["schema"], json(1)), Error);
        EXPECT_THROW(schema_to_gbnf(bad["schema"]), Error);
    }
}

TEST(JsonSchemaGrammar, SchemasTheGrammarCannotExpressGiveErrors) {
    for (const auto& bad : load_json(schema_case_dir() / "bad_grammar_schemas.json")) {
        SCOPED_TRACE(bad["schema"].dump());
        EXPECT_NO_THROW(check_schema(bad["schema"]));
        try {
            schema_to_gbnf(bad["schema"]);
            ADD_FAILURE() << "built a grammar";
        } catch (const Error& e) {
            for (const auto& expected : bad["error"])
                EXPECT_NE(std::string(e.what()).find(expected.get<std::string>()), std::string::npos)
                    << "message: " << e.what() << "\nexpected to contain: " << expected.get<std::string>();
        }
    }
}

// Sampled values of an integer range cover exactly the range: the digit-range
// rules neither leak outside nor leave holes.
TEST(JsonSchemaGrammar, IntegerRangesAreExact) {
    struct Range {
        json schema;
        int64_t low, high;
    };
    std::vector<Range> ranges = {
        {{{"type", "integer"}, {"minimum", -3}, {"maximum", 12}}, -3, 12},
        {{{"type", "integer"}, {"exclusiveMinimum", 95}, {"exclusiveMaximum", 105}}, 96, 104},
        {{{"type", "integer"}, {"minimum", -120}, {"maximum", -97}}, -120, -97},
        {{{"type", "integer"}, {"minimum", 0}, {"maximum", 0}}, 0, 0},
        {{{"type", "integer"}, {"minimum", 7.5}, {"maximum", 30.2}}, 8, 30},
        {{{"type", "integer"}, {"minimum", 398}, {"maximum", 412}}, 398, 412},
    };
    std::mt19937_64 rng(7);
    for (const auto& range : ranges) {
        SCOPED_TRACE(range.schema.dump());
        Grammar grammar = schema_to_grammar(range.schema);
        std::set<int64_t> seen;
        for (int i = 0; i < 3000; ++i) {
            std::string sentence = grammar.sample(rng);
            json value = json::parse(sentence);
            ASSERT_TRUE(value.is_number_integer()) << sentence;
            EXPECT_EQ(value.dump(), sentence) << "no leading zeros or '-0'";
            seen.insert(value.get<int64_t>());
        }
        EXPECT_EQ(*seen.begin(), range.low);
        EXPECT_EQ(*seen.rbegin(), range.high);
        EXPECT_EQ(static_cast<int64_t>(seen.size()), range.high - range.low + 1);
    }
}

// Number grammars reach close to their bounds, not just somewhere inside.
TEST(JsonSchemaGrammar, NumberRangesReachTheirBounds) {
    struct Range {
        json schema;
        double low, high;
    };
    std::vector<Range> ranges = {
        {{{"type", "number"}, {"minimum", 0}, {"maximum", 1}}, 0, 1},
        {{{"type", "number"}, {"exclusiveMinimum", 0.1}, {"exclusiveMaximum", 0.2}}, 0.1, 0.2},
        {{{"type", "number"}, {"minimum", -2.5}, {"maximum", 3.75}}, -2.5, 3.75},
    };
    std::mt19937_64 rng(11);
    for (const auto& range : ranges) {
        SCOPED_TRACE(range.schema.dump());
        Grammar grammar = schema_to_grammar(range.schema);
        double lowest = 1e300, highest = -1e300;
        for (int i = 0; i < 4000; ++i) {
            double value = json::parse(grammar.sample(rng)).get<double>();
            ASSERT_TRUE(validate_json(range.schema, value).empty()) << value;
            lowest = std::min(lowest, value);
            highest = std::max(highest, value);
        }
        double span = range.high - range.low;
        EXPECT_LT(lowest - range.low, span * 0.02);
        EXPECT_LT(range.high - highest, span * 0.02);
    }
}

// Compact JSON: no whitespace outside strings (a model cannot loop on it, and
// the schema's fixed text can be inserted without sampling); free text is bounded.
TEST(JsonSchemaGrammar, DocumentsAreCompactAndFreeTextIsBounded) {
    json schema = {{"type", "object"},
                   {"properties", {{"note", {{"type", "string"}}}, {"list", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}},
                   {"required", {"note", "list"}}};
    std::string gbnf = schema_to_gbnf(schema);
    EXPECT_NE(gbnf.find("{0,512}"), std::string::npos) << gbnf;
    std::mt19937_64 rng(3);
    Grammar grammar = schema_to_grammar(schema);
    for (int i = 0; i < 300; ++i) {
        std::string sentence = grammar.sample(rng);
        bool in_string = false, escaped = false;
        for (char ch : sentence) {
            if (in_string) {
                if (escaped) escaped = false;
                else if (ch == '\\') escaped = true;
                else if (ch == '"') in_string = false;
                continue;
            }
            in_string = ch == '"';
            EXPECT_TRUE(ch != ' ' && ch != '\n' && ch != '\t') << sentence;
        }
        EXPECT_LE(json::parse(sentence)["note"].get<std::string>().size(), 512u * 4);
    }
}

TEST(JsonSchemaGrammar, RequiredOrderComesFirst) {
    json schema = {{"type", "object"},
                   {"properties", {{"a", {{"type", "null"}}}, {"b", {{"type", "null"}}}, {"c", {{"type", "null"}}}}},
                   {"required", {"c", "a"}},
                   {"additionalProperties", false}};
    std::mt19937_64 rng(5);
    Grammar grammar = schema_to_grammar(schema);
    for (int i = 0; i < 50; ++i) {
        std::string sentence = grammar.sample(rng);
        EXPECT_LT(sentence.find("\"c\""), sentence.find("\"a\"")) << sentence;
    }
}

TEST(JsonSchemaParse, AcceptsFencesAndWhitespace) {
    json schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}, {"required", {"n"}}};
    EXPECT_EQ(parse_and_validate(schema, "  {\"n\": 3}\n")["n"], 3);
    EXPECT_EQ(parse_and_validate(schema, "```json\n{\"n\": 4}\n```")["n"], 4);
    EXPECT_EQ(parse_and_validate(schema, "\n```\n{\"n\": 5}\n```\n")["n"], 5);
}

TEST(JsonSchemaParse, ErrorsQuoteTheTextAndTheViolations) {
    json schema = {{"type", "object"},
                   {"properties", {{"n", {{"type", "integer"}, {"maximum", 3}}}, {"s", {{"type", "string"}}}}},
                   {"required", {"n", "s"}}};
    try {
        parse_and_validate(schema, "{\"n\": 9, \"s\": 1}");
        FAIL() << "accepted";
    } catch (const Error& e) {
        std::string message = e.what();
        EXPECT_NE(message.find("does not match the JSON schema"), std::string::npos) << message;
        EXPECT_NE(message.find("/n: 9 is greater than 3"), std::string::npos) << message;
        EXPECT_NE(message.find("/s: expected string, got integer"), std::string::npos) << message;
        EXPECT_NE(message.find("{\"n\": 9, \"s\": 1}"), std::string::npos) << message;
    }
    std::string rambling = "Sure! Here is the answer: {\"n\": 1" + std::string(500, '.');
    try {
        parse_and_validate(schema, rambling);
        FAIL() << "accepted";
    } catch (const Error& e) {
        std::string message = e.what();
        EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
        EXPECT_NE(message.find("Sure! Here is the answer"), std::string::npos) << message;
        EXPECT_LT(message.size(), 400u) << "quotes only a prefix";
    }
}

// ---- llama.cpp's grammar engine on the printed GBNF ----------------------

struct ModelDeleter {
    void operator()(llama_model* model) const { llama_model_free(model); }
};
struct SamplerDeleter {
    void operator()(llama_sampler* sampler) const { llama_sampler_free(sampler); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

class LlamaGrammarTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        llama_log_get(&saved_log_, &saved_log_data_);
        llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
        llama_backend_init();
        fs::path vocab_path = testing::llama_bin_dir().parent_path() / "share/vocab/ggml-vocab-gpt-2.gguf";
        if (!fs::exists(vocab_path)) return;
        llama_model_params params = llama_model_default_params();
        params.vocab_only = true;
        model_.reset(llama_model_load_from_file(vocab_path.c_str(), params));
    }
    static void TearDownTestSuite() {
        model_.reset();
        llama_log_set(saved_log_, saved_log_data_);  // other suites keep their logger
    }

    void SetUp() override {
        ASSERT_TRUE(model_) << "cannot load the llama.cpp vocabulary under " << testing::llama_bin_dir().parent_path()
                            << "/share/vocab (is llama.cpp installed?)";
        vocab_ = llama_model_get_vocab(model_.get());
    }

    SamplerPtr grammar_sampler(const std::string& gbnf) const {
        return SamplerPtr(llama_sampler_init_grammar(vocab_, gbnf.c_str(), "root"));
    }

    std::vector<llama_token> tokenize(const std::string& text) const {
        std::vector<llama_token> tokens(text.size() + 8);
        int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                   static_cast<int32_t>(tokens.size()), false, false);
        tokens.resize(n < 0 ? 0 : n);
        return tokens;
    }

    // Whether the grammar lets `token` come next (llama.cpp masks the logit).
    static bool allows(llama_sampler* sampler, llama_token token) {
        llama_token_data candidate{token, 0.0f, 0.0f};
        llama_token_data_array candidates{&candidate, 1, -1, false};
        llama_sampler_apply(sampler, &candidates);
        return std::isfinite(candidate.logit);
    }

    // Feeds `text` token by token; returns the empty string when llama.cpp's
    // grammar accepts every token and then end-of-text, else what failed.
    std::string walk(const std::string& gbnf, const std::string& text) const {
        SamplerPtr sampler = grammar_sampler(gbnf);
        if (!sampler) return "grammar rejected";
        std::string consumed;
        for (llama_token token : tokenize(text)) {
            if (!allows(sampler.get(), token)) return "token rejected after \"" + consumed + "\"";
            llama_sampler_accept(sampler.get(), token);
            char piece[256];
            int n = llama_token_to_piece(vocab_, token, piece, sizeof piece, 0, false);
            if (n > 0) consumed.append(piece, static_cast<size_t>(n));
        }
        if (!allows(sampler.get(), llama_vocab_eos(vocab_))) return "end of text rejected after \"" + consumed + "\"";
        return "";
    }

    static inline std::unique_ptr<llama_model, ModelDeleter> model_;
    static inline ggml_log_callback saved_log_ = nullptr;
    static inline void* saved_log_data_ = nullptr;
    const llama_vocab* vocab_ = nullptr;
};

TEST_F(LlamaGrammarTest, RejectsBrokenGbnfSoTheChecksMeanSomething) {
    EXPECT_FALSE(grammar_sampler("root ::= (\"a\""));
    EXPECT_FALSE(grammar_sampler("root ::= undefined-rule"));
    EXPECT_NE(walk("root ::= \"ab\"", "abc"), "");
}

TEST_F(LlamaGrammarTest, AcceptsEveryCaseGrammarAndItsSentences) {
    std::mt19937_64 rng(99);
    for (const auto& c : schema_cases()) {
        SCOPED_TRACE(c.name);
        const json& schema = c.spec["schema"];
        std::string gbnf = schema_to_gbnf(schema);
        ASSERT_TRUE(grammar_sampler(gbnf)) << gbnf;
        Grammar grammar = schema_to_grammar(schema);
        for (int i = 0; i < 15; ++i) {
            std::string sentence = grammar.sample(rng);
            std::string problem = walk(gbnf, sentence);
            ASSERT_EQ(problem, "") << "sentence: " << sentence << "\n" << gbnf;
        }
        EXPECT_NE(walk(gbnf, "not json"), "") << "the walk must be able to fail";
    }
}

}  // namespace
}  // namespace vigil::vlm
