// The prompt templates and answer schemas in prompts/, and what loading
// rejects: unknown placeholders, a missing default, schemas Vigil cannot use.
#include <gtest/gtest.h>

#include "contextualize/contextualize_prompt.h"
#include "core/error.h"
#include "testing/test_support.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::contextualize {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using vigil::testing::read_file;
using vigil::testing::TempDir;
using vigil::testing::write_file;

fs::path repo_prompts() { return fs::path(VIGIL_SOURCE_DIR) / "prompts"; }

std::string error_of(const fs::path& dir) {
    try {
        PromptLibrary::load(dir);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(PromptLibrary, RepositoryPromptsLoadAndEverySchemaBecomesAGrammar) {
    PromptLibrary library = PromptLibrary::load(repo_prompts());
    for (const char* name : {"default", "congestion", "stationary_object", "gathering", "scene_check"})
        EXPECT_EQ(library.templates().count(name), 1u) << name;
    for (const auto& [name, prompt] : library.templates()) {
        EXPECT_NO_THROW(vlm::schema_to_gbnf(prompt.schema)) << prompt.schema_path;
        for (const char* placeholder : {"{camera}", "{location}", "{metrics}", "{summary}", "{evidence}", "{examples}"})
            EXPECT_NE(prompt.text.find(placeholder), std::string::npos) << name << " lacks " << placeholder;
    }
    EXPECT_EQ(library.for_event_type("congestion").name, "congestion");
    EXPECT_EQ(library.for_event_type("scene_change").name, "scene_check");
    EXPECT_EQ(library.for_event_type("zone_enter").name, "default");
    EXPECT_TRUE(library.for_event_type("scene_change").schema["properties"].contains("hazard_type"));
    const json hazard_types = library.for_event_type("scene_change").schema["properties"]["hazard_type"]["enum"];
    for (const char* type : {"none", "flood", "fallen_traffic_light", "fire", "smoke", "debris", "other"})
        EXPECT_NE(std::find(hazard_types.begin(), hazard_types.end(), type), hazard_types.end()) << type;
}

// Every string and array in an answer schema is bounded, and the bounds fit
// the alert schema, so a grammar-constrained answer stays short and a VLM
// report always fits an alert.
TEST(PromptLibrary, AnswerSchemasAreBoundedWithinTheAlertSchema) {
    const json alert = json::parse(read_file(fs::path(VIGIL_SOURCE_DIR) / "schemas" / "alert.schema.json"));
    for (const char* file : {"report.schema.json", "scene_check.schema.json"}) {
        const json schema = json::parse(read_file(repo_prompts() / file));
        for (const auto& [key, property] : schema["properties"].items()) {
            if (property.value("type", "") == "string" && !property.contains("enum")) {
                ASSERT_TRUE(property.contains("maxLength")) << file << " " << key;
                EXPECT_LE(property["maxLength"].get<int>(), 400) << file << " " << key;
            }
            if (property.value("type", "") == "array") {
                ASSERT_TRUE(property.contains("maxItems")) << file << " " << key;
                ASSERT_TRUE(property["items"].contains("maxLength")) << file << " " << key;
            }
            if (!alert["properties"].contains(key)) continue;
            const json& target = alert["properties"][key];
            if (property.contains("maxLength")) {
                EXPECT_LE(property["maxLength"], target["maxLength"]) << file << " " << key;
            }
            if (property.contains("maxItems")) {
                EXPECT_LE(property["maxItems"], target["maxItems"]) << file << " " << key;
            }
            if (property.contains("enum") && target.contains("enum")) {
                for (const json& value : property["enum"]) {
                    EXPECT_NE(std::find(target["enum"].begin(), target["enum"].end(), value), target["enum"].end())
                        << file << " " << key << " " << value;
                }
            }
        }
    }
}

TEST(PromptLibrary, UnknownPlaceholderIsReportedWithFileAndLine) {
    TempDir dir;
    write_file(dir / "report.schema.json", read_file(repo_prompts() / "report.schema.json"));
    write_file(dir / "default.prompt.txt", "Camera {camera}.\nJSON like {\"verdict\": 1} is fine.\nAt {weather}.\n");
    const std::string error = error_of(dir.path());
    EXPECT_NE(error.find("default.prompt.txt:3"), std::string::npos) << error;
    EXPECT_NE(error.find("{weather}"), std::string::npos) << error;
    EXPECT_NE(error.find("{camera}"), std::string::npos) << error;  // lists the known ones
}

TEST(PromptLibrary, MissingDefaultTemplateOrSchemaIsAnError) {
    TempDir dir;
    write_file(dir / "congestion.prompt.txt", "Camera {camera}.");
    EXPECT_NE(error_of(dir.path()).find("report.schema.json"), std::string::npos) << error_of(dir.path());
    write_file(dir / "report.schema.json", read_file(repo_prompts() / "report.schema.json"));
    EXPECT_NE(error_of(dir.path()).find("default.prompt.txt"), std::string::npos) << error_of(dir.path());
    write_file(dir / "default.prompt.txt", "Camera {camera}.");
    EXPECT_EQ(error_of(dir.path()), "");
}

TEST(PromptLibrary, SchemaThatDropsAReportFieldOrIsInvalidIsAnError) {
    TempDir dir;
    write_file(dir / "default.prompt.txt", "Camera {camera}.");
    json schema = json::parse(read_file(repo_prompts() / "report.schema.json"));
    json required = json::array();
    for (const json& field : schema["required"])
        if (field != "severity") required.push_back(field);
    schema["required"] = required;
    write_file(dir / "report.schema.json", schema.dump());
    std::string error = error_of(dir.path());
    EXPECT_NE(error.find("severity"), std::string::npos) << error;

    write_file(dir / "report.schema.json", R"({"type": "object", "properties": {"verdict": {"type": "text"}}})");
    error = error_of(dir.path());
    EXPECT_NE(error.find("report.schema.json"), std::string::npos) << error;
    EXPECT_NE(error.find("text"), std::string::npos) << error;

    write_file(dir / "report.schema.json", "{ not json");
    error = error_of(dir.path());
    EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
}

TEST(PromptLibrary, FillReplacesKnownPlaceholdersOnly) {
    EXPECT_EQ(fill_template("At {location}: {\"a\": {x}} {location}", {{"location", "Main St"}}),
              "At Main St: {\"a\": {x}} Main St");
    // Values are not expanded again.
    EXPECT_EQ(fill_template("{summary}", {{"summary", "{camera}"}, {"camera", "no"}}), "{camera}");
}

}  // namespace
}  // namespace vigil::contextualize
