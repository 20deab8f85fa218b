#include "models/model_catalog.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>

#include "core/error.h"
#include "core/paths.h"


namespace vigil::models {

namespace {

using nlohmann::json;

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

bool is_sha256_hex(const std::string& text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(),
                                            [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_valid_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    });
}

// A path that stays inside the models directory whatever it is joined to.
bool is_contained_relative_path(const std::string& path) {
    if (path.empty()) return false;
    std::filesystem::path p(path);
    if (p.is_absolute() || p.has_root_name()) return false;
    for (const auto& part : p) {
        if (part == ".." || part == ".") return false;
    }
    return !p.filename().empty();
}

// Every error says which catalog, which entry and which key.
struct Where {
    std::string source;
    std::string entry;

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw Error("model catalog " + source + ": " + entry + ": key \"" + key + "\": " + problem);
    }
};

void validate_file(const ModelFile& file, const std::string& key, const Where& where) {
    if (!is_contained_relative_path(file.path))
        where.fail(key + ".path",
                   "expected a relative path inside the models directory (no \"..\"), got \"" + file.path + "\"");
    if (file.url.rfind("http://", 0) != 0 && file.url.rfind("https://", 0) != 0)
        where.fail(key + ".url", "expected an http:// or https:// URL, got \"" + file.url + "\"");
    if (file.sha256 && !is_sha256_hex(*file.sha256))
        where.fail(key + ".sha256", "expected 64 lowercase hex digits or null, got \"" + *file.sha256 + "\"");
}

void validate_entry(const ModelEntry& entry, const Where& where) {
    if (!is_valid_name(entry.name))
        where.fail("name", "expected lowercase letters, digits, '-', '.', '_', got \"" + entry.name + "\"");
    if (entry.files.empty()) where.fail("files", "expected at least one file");

    std::set<std::string> roles;
    for (size_t i = 0; i < entry.files.size(); ++i) {
        const auto& file = entry.files[i];
        const std::string key = "files[" + std::to_string(i) + "]";
        validate_file(file, key, where);
        if (!roles.insert(file.role).second) where.fail(key + ".role", "role \"" + file.role + "\" appears twice");
    }

    auto require_roles = [&](const std::set<std::string>& required, const std::set<std::string>& allowed) {
        for (const auto& role : required)
            if (!roles.count(role)) where.fail("files", "expected a file with role \"" + role + "\"");
        for (const auto& role : roles)
            if (!allowed.count(role))
                where.fail("files", "role \"" + role + "\" is not one of: " +
                                        join(std::vector<std::string>(allowed.begin(), allowed.end()), ", "));
    };

    if (entry.kind != ModelKind::detector && entry.detector)
        where.fail("detector", "only detector entries have detector facts");
    if (entry.kind == ModelKind::vlm) {
        require_roles({"text", "mmproj"}, {"text", "mmproj"});
        return;
    }
    if (entry.kind == ModelKind::sample) {
        require_roles({"video"}, {"video"});
        return;
    }
    if (!entry.detector) where.fail("detector", "a detector entry needs {format, input_width, input_height}");
    if (entry.detector->input_width <= 0 || entry.detector->input_height <= 0)
        where.fail("detector", "input_width and input_height must be positive");
    if (entry.detector->format == DetectorFormat::onnx)
        require_roles({"model"}, {"model", "labels"});
    else
        require_roles({"config", "weights"}, {"config", "weights", "labels"});
}

template <typename T>
T required(const json& object, const std::string& key, const Where& where) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) where.fail(key, "missing");
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        where.fail(key, std::string("wrong type ") + it->type_name());
    }
}

std::string optional_string(const json& object, const std::string& key, const Where& where) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_string()) where.fail(key, std::string("expected a string, got ") + it->type_name());
    return it->get<std::string>();
}

ModelFile parse_file(const json& node, const std::string& key, const Where& where) {
    if (!node.is_object()) where.fail(key, "expected an object");
    ModelFile file;
    auto field = [&](const char* name) { return key + "." + name; };
    auto get_string = [&](const char* name) {
        auto it = node.find(name);
        if (it == node.end() || !it->is_string()) where.fail(field(name), "expected a string");
        return it->get<std::string>();
    };
    file.role = get_string("role");
    file.path = get_string("path");
    file.url = get_string("url");
    if (auto it = node.find("size"); it != node.end() && !it->is_null()) {
        if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
            where.fail(field("size"), "expected a byte count or null");
        file.size = it->get<uint64_t>();
    }
    if (auto it = node.find("sha256"); it != node.end() && !it->is_null()) {
        if (!it->is_string()) where.fail(field("sha256"), "expected a hex string or null");
        file.sha256 = it->get<std::string>();
    }
    return file;
}

ModelEntry parse_entry(const json& node, size_t index, const std::string& source) {
    Where where{source, "models[" + std::to_string(index) + "]"};
    if (!node.is_object()) where.fail("", "expected an object");
    ModelEntry entry;
    entry.name = required<std::string>(node, "name", where);
    where.entry += " (\"" + entry.name + "\")";

    const auto kind = required<std::string>(node, "kind", where);
    if (kind == "vlm")
        entry.kind = ModelKind::vlm;
    else if (kind == "detector")
        entry.kind = ModelKind::detector;
    else if (kind == "sample")
        entry.kind = ModelKind::sample;
    else
        where.fail("kind", "expected \"vlm\", \"detector\" or \"sample\", got \"" + kind + "\"");

    entry.description = optional_string(node, "description", where);
    entry.licence = required<std::string>(node, "licence", where);
    entry.origin = optional_string(node, "origin", where);
    entry.note = optional_string(node, "note", where);

    auto files = node.find("files");
    if (files == node.end() || !files->is_array()) where.fail("files", "expected an array of files");
    for (size_t i = 0; i < files->size(); ++i)
        entry.files.push_back(parse_file((*files)[i], "files[" + std::to_string(i) + "]", where));

    if (auto facts = node.find("detector"); facts != node.end() && !facts->is_null()) {
        if (!facts->is_object()) where.fail("detector", "expected an object");
        Where facts_where{source, where.entry};
        DetectorFacts parsed;
        const auto format = required<std::string>(*facts, "format", facts_where);
        if (format == "onnx")
            parsed.format = DetectorFormat::onnx;
        else if (format == "darknet")
            parsed.format = DetectorFormat::darknet;
        else
            where.fail("detector.format", "expected \"onnx\" or \"darknet\", got \"" + format + "\"");
        parsed.input_width = required<int>(*facts, "input_width", facts_where);
        parsed.input_height = required<int>(*facts, "input_height", facts_where);
        entry.detector = parsed;
    }
    validate_entry(entry, where);
    return entry;
}

std::optional<uint64_t> regular_file_size_of(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    return size;
}

std::string pull_hint(const ModelEntry& entry) { return "run `vigil models pull " + entry.name + "`"; }

// The installed path of `file`, or vigil::Error saying how to install it.
std::filesystem::path require_installed(const ModelEntry& entry, const ModelFile& file,
                                        const std::filesystem::path& models_dir) {
    auto path = models_dir / file.path;
    auto size = regular_file_size_of(path);
    if (!size) {
        throw Error("model " + entry.name + " is not installed in " + models_dir.string() + " (missing " +
                    path.string() + "); " + pull_hint(entry));
    }
    if (file.size && *size != *file.size) {
        throw Error("model " + entry.name + ": " + path.string() + " has " + std::to_string(*size) +
                    " bytes, expected " + std::to_string(*file.size) + " (incomplete or damaged); " + pull_hint(entry) +
                    " again");
    }
    return path;
}

const ModelEntry& entry_of_kind(const std::string& name, const Catalog& catalog, ModelKind kind) {
    const auto& entry = catalog.at(name);
    if (entry.kind != kind) {
        throw Error("model " + entry.name + " is a " + to_string(entry.kind) + ", not a " + to_string(kind));
    }
    return entry;
}

void check_unique(const std::vector<ModelEntry>& entries, const std::string& source) {
    std::set<std::string> seen;
    for (const auto& entry : entries) {
        if (!seen.insert(lowercase(entry.name)).second)
            throw Error("model catalog " + source + ": model name \"" + entry.name + "\" appears more than once");
    }
}

}  // namespace

const char* to_string(ModelKind kind) {
    switch (kind) {
        case ModelKind::vlm: return "vlm";
        case ModelKind::detector: return "detector";
        case ModelKind::sample: return "sample";
    }
    return "?";
}
const char* to_string(DetectorFormat format) { return format == DetectorFormat::onnx ? "onnx" : "darknet"; }

const ModelFile* ModelEntry::file_with_role(const std::string& role) const {
    for (const auto& file : files)
        if (file.role == role) return &file;
    return nullptr;
}

std::optional<uint64_t> ModelEntry::total_size() const {
    uint64_t total = 0;
    for (const auto& file : files) {
        if (!file.size) return std::nullopt;
        total += *file.size;
    }
    return total;
}

Catalog::Catalog(std::vector<ModelEntry> entries) {
    for (const auto& entry : entries) validate_entry(entry, Where{"(in memory)", "model \"" + entry.name + "\""});
    check_unique(entries, "(in memory)");
    entries_ = std::move(entries);
}

std::vector<std::string> Catalog::names() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.name);
    return out;
}

const ModelEntry* Catalog::find(const std::string& name) const {
    const auto wanted = lowercase(name);
    for (const auto& entry : entries_)
        if (lowercase(entry.name) == wanted) return &entry;
    return nullptr;
}

const ModelEntry& Catalog::at(const std::string& name) const {
    if (const auto* entry = find(name)) return *entry;
    throw Error("unknown model \"" + name + "\"; known models: " + join(names(), ", "));
}

Catalog parse_catalog(const std::string& json_text, const std::string& source) {
    json document;
    try {
        document = json::parse(json_text);
    } catch (const json::parse_error& e) {
        throw Error("model catalog " + source + ": not valid JSON (" + e.what() + ")");
    }
    if (!document.is_object()) throw Error("model catalog " + source + ": expected a JSON object at the top");
    auto models = document.find("models");
    if (models == document.end() || !models->is_array())
        throw Error("model catalog " + source + ": key \"models\": expected an array of models");

    std::vector<ModelEntry> entries;
    for (size_t i = 0; i < models->size(); ++i) entries.push_back(parse_entry((*models)[i], i, source));
    check_unique(entries, source);  // here, so the error names the file
    return Catalog(std::move(entries));
}

Catalog load_catalog(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("model catalog " + path.string() + ": cannot open for reading");
    std::stringstream buffer;
    buffer << in.rdbuf();
    return parse_catalog(buffer.str(), path.string());
}

std::filesystem::path default_catalog_path() {
    return env_or("VIGIL_CATALOG", (data_dir() / "models" / "catalog.json").string());
}

Catalog load_default_catalog() {
    const auto path = default_catalog_path();
    if (path.empty() || !std::filesystem::exists(path)) {
        throw Error("model catalog not found" + (path.empty() ? std::string() : " at " + path.string()) +
                    "; set VIGIL_CATALOG to the path of a catalog.json (the source tree has one in models/)");
    }
    return load_catalog(path);
}

VlmFiles resolve_vlm(const std::string& name, const std::filesystem::path& models_dir, const Catalog& catalog) {
    const auto& entry = entry_of_kind(name, catalog, ModelKind::vlm);
    VlmFiles files;
    files.text_model = require_installed(entry, *entry.file_with_role("text"), models_dir);
    files.mmproj = require_installed(entry, *entry.file_with_role("mmproj"), models_dir);
    return files;
}

std::filesystem::path resolve_sample(const std::string& name, const std::filesystem::path& models_dir,
                                     const Catalog& catalog) {
    const auto& entry = entry_of_kind(name, catalog, ModelKind::sample);
    return require_installed(entry, *entry.file_with_role("video"), models_dir);
}

VlmFiles resolve_vlm(const std::string& name) { return resolve_vlm(name, models_dir(), load_default_catalog()); }

DetectorFiles resolve_detector(const std::string& name, const std::filesystem::path& models_dir,
                               const Catalog& catalog) {
    const auto& entry = entry_of_kind(name, catalog, ModelKind::detector);
    DetectorFiles files;
    files.facts = *entry.detector;
    if (files.facts.format == DetectorFormat::onnx) {
        files.model = require_installed(entry, *entry.file_with_role("model"), models_dir);
    } else {
        files.model = require_installed(entry, *entry.file_with_role("weights"), models_dir);
        files.config = require_installed(entry, *entry.file_with_role("config"), models_dir);
    }
    if (const auto* labels = entry.file_with_role("labels"))
        files.labels = require_installed(entry, *labels, models_dir);
    return files;
}

DetectorFiles resolve_detector(const std::string& name) {
    return resolve_detector(name, models_dir(), load_default_catalog());
}

}  // namespace vigil::models
