// Loading and filling prompt templates; checking answer schemas.
#include "contextualize/contextualize_prompt.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::contextualize {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPromptSuffix = ".prompt.txt";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot read {}", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Calls visit(name, offset) for every "{name}" with name made of [a-z_].
template <typename Visit>
void for_each_placeholder(const std::string& text, Visit visit) {
    for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
        size_t end = open + 1;
        while (end < text.size() && (std::islower(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
        if (end > open + 1 && end < text.size() && text[end] == '}') visit(text.substr(open + 1, end - open - 1), open);
    }
}

int line_of(const std::string& text, size_t offset) {
    return 1 + int(std::count(text.begin(), text.begin() + long(offset), '\n'));
}

nlohmann::json load_schema(const fs::path& path) {
    nlohmann::json schema;
    try {
        schema = nlohmann::json::parse(read_text(path));
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
    }
    try {
        vlm::check_schema(schema);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", path.string(), e.what()));
    }
    const auto required = schema.value("required", nlohmann::json::array());
    std::vector<std::string> missing;
    for (const std::string& field : report_fields())
        if (std::find(required.begin(), required.end(), field) == required.end()) missing.push_back(field);
    if (!missing.empty())
        throw Error(fmt::format("{}: an answer schema must require every report field; missing in \"required\": {}",
                                path.string(), fmt::join(missing, ", ")));
    return schema;
}

}  // namespace

const std::vector<std::string>& prompt_placeholders() {
    static const std::vector<std::string> names = {"camera", "location",   "site_context", "rule",     "event_type",
                                                   "zone",   "metrics",    "summary",      "track_list", "time",
                                                   "evidence", "examples", "images"};
    return names;
}

const std::vector<std::string>& instruction_placeholders() {
    static const std::vector<std::string> names = {"camera", "location", "site_context", "event_type", "examples"};
    return names;
}

const std::vector<std::string>& report_fields() {
    static const std::vector<std::string> fields = {
        "verdict", "reasoning", "title", "summary", "description", "probable_cause", "hazards",
        "people_at_risk", "emergency_services_seen", "recommended_actions", "severity", "confidence"};
    return fields;
}

PromptLibrary PromptLibrary::load(const fs::path& dir) {
    if (!fs::is_directory(dir))
        throw Error(fmt::format("prompt folder {} does not exist (set VIGIL_DATA_DIR to the folder holding prompts/)",
                                dir.string()));
    PromptLibrary library;
    const fs::path shared_schema_path = dir / "report.schema.json";
    std::optional<nlohmann::json> shared_schema;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string file = entry.path().filename().string();
        if (!entry.is_regular_file() || file.size() <= std::string(kPromptSuffix).size() ||
            file.compare(file.size() - std::string(kPromptSuffix).size(), std::string::npos, kPromptSuffix) != 0)
            continue;
        PromptTemplate prompt;
        prompt.name = file.substr(0, file.size() - std::string(kPromptSuffix).size());
        prompt.path = entry.path();
        prompt.text = read_text(entry.path());
        std::optional<size_t> images_at;
        for_each_placeholder(prompt.text, [&](const std::string& name, size_t offset) {
            const auto& known = prompt_placeholders();
            if (std::find(known.begin(), known.end(), name) == known.end())
                throw Error(fmt::format("{}:{}: unknown placeholder {{{}}}; known: {{{}}}", prompt.path.string(),
                                        line_of(prompt.text, offset), name, fmt::join(known, "}, {")));
            if (name != "images") return;
            if (images_at)
                throw Error(fmt::format("{}:{}: {{images}} appears a second time (first on line {}); the images go "
                                        "in one place",
                                        prompt.path.string(), line_of(prompt.text, offset),
                                        line_of(prompt.text, *images_at)));
            images_at = offset;
        });
        if (images_at) {
            prompt.instructions = prompt.text.substr(0, *images_at);
            prompt.facts = prompt.text.substr(*images_at + std::string("{images}").size());
            // A newline right after {images} only separates it from the facts.
            if (!prompt.facts.empty() && prompt.facts.front() == '\n') prompt.facts.erase(0, 1);
            for_each_placeholder(prompt.instructions, [&](const std::string& name, size_t offset) {
                const auto& fixed = instruction_placeholders();
                if (std::find(fixed.begin(), fixed.end(), name) == fixed.end())
                    throw Error(fmt::format(
                        "{}:{}: {{{}}} changes with every event, so it belongs after {{images}}; before it only "
                        "{{{}}} may appear (that part is evaluated once per camera and reused)",
                        prompt.path.string(), line_of(prompt.text, offset), name, fmt::join(fixed, "}, {")));
            });
        } else {
            prompt.facts = prompt.text;
        }
        prompt.schema_path = dir / (prompt.name + ".schema.json");
        if (fs::exists(prompt.schema_path)) {
            prompt.schema = load_schema(prompt.schema_path);
        } else {
            if (!fs::exists(shared_schema_path))
                throw Error(fmt::format("{} has no {} and the shared {} is missing", prompt.path.string(),
                                        prompt.schema_path.filename().string(), shared_schema_path.string()));
            if (!shared_schema) shared_schema = load_schema(shared_schema_path);
            prompt.schema = *shared_schema;
            prompt.schema_path = shared_schema_path;
        }
        library.templates_.emplace(prompt.name, std::move(prompt));
    }
    if (library.templates_.count("default") == 0)
        throw Error(fmt::format("prompt folder {} has no default.prompt.txt (used for event types without their own "
                                "template)",
                                dir.string()));
    return library;
}

const PromptTemplate& PromptLibrary::for_event_type(const std::string& event_type) const {
    auto it = templates_.find(event_type);
    if (it == templates_.end() && event_type == "scene_change") it = templates_.find("scene_check");
    if (it == templates_.end()) it = templates_.find("default");
    return it->second;
}

std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values) {
    std::string out;
    size_t copied = 0;
    for_each_placeholder(text, [&](const std::string& name, size_t offset) {
        auto it = values.find(name);
        if (it == values.end()) return;
        out.append(text, copied, offset - copied);
        out += it->second;
        copied = offset + name.size() + 2;
    });
    out.append(text, copied, std::string::npos);
    return out;
}

}  // namespace vigil::contextualize
