#pragma once
// Prompt templates and answer schemas, loaded from prompts/ (see
// prompts/README.md): one template per event type with {placeholders}, one
// JSON Schema per template or the shared report.schema.json.
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vigil::contextualize {

struct PromptTemplate {
    std::string name;                 // file stem: "congestion", "default", ...
    std::filesystem::path path;
    std::string text;                 // the whole file
    // The file split at {images}: the fixed instructions before the images
    // (the same for every event of this type on one camera, so the VLM keeps
    // their evaluation), and the event's own facts after them. A template
    // without {images} is all facts, with the images first.
    std::string instructions;
    std::string facts;
    nlohmann::json schema;            // the answer's JSON Schema
    std::filesystem::path schema_path;
};

// Placeholders a template may use.
const std::vector<std::string>& prompt_placeholders();

// The ones allowed before {images}: they do not change from one event to the
// next on the same camera.
const std::vector<std::string>& instruction_placeholders();

// Fields every answer schema must require: the report's content.
const std::vector<std::string>& report_fields();

class PromptLibrary {
public:
    // Reads every <name>.prompt.txt in `dir` and its schema. Throws
    // vigil::Error naming the file: missing folder, no default.prompt.txt, an
    // unknown {placeholder} (with its line), {images} twice, a per-event
    // placeholder before {images}, a schema Vigil cannot use or one that does
    // not require every report field.
    static PromptLibrary load(const std::filesystem::path& dir);

    // The template for an event type: <type>.prompt.txt, scene_change ->
    // scene_check, else default.
    const PromptTemplate& for_event_type(const std::string& event_type) const;
    const std::map<std::string, PromptTemplate>& templates() const { return templates_; }

private:
    std::map<std::string, PromptTemplate> templates_;
};

// Replaces every {name} with values.at(name); names not in `values` are left
// as they are (load() already rejected unknown ones).
std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values);

}  // namespace vigil::contextualize
