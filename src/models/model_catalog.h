#pragma once
// The model catalog: which models Vigil can pull, where each file comes from,
// how big it is and what it must hash to. The catalog is data
// (<repo>/models/catalog.json), not code, so pinning a new hash or adding a
// model needs no C++ change. Every path in it is relative to the models
// directory (vigil::models_dir()), so one folder serves every model:
//   <models_dir>/detectors/<dir>/<file>, <models_dir>/detectors/coco.names,
//   <models_dir>/vlm/<name>/<file>.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vigil::models {

// sample: media for demos and smoke tests (a video with role "video"),
// pulled and verified like weights.
enum class ModelKind { vlm, detector, sample };
enum class DetectorFormat { onnx, darknet };

const char* to_string(ModelKind kind);
const char* to_string(DetectorFormat format);

// One file of a model. `role` says what the file is to the code that loads it:
// vlm: "text", "mmproj"; detector: "model" (onnx), "config" + "weights"
// (darknet), "labels".
struct ModelFile {
    std::string role;
    std::string path;                   // relative to the models directory
    std::string url;                    // http(s) source
    std::optional<uint64_t> size;       // bytes; unset = not pinned
    std::optional<std::string> sha256;  // 64 lowercase hex digits; unset = not pinned

    std::string file_name() const { return std::filesystem::path(path).filename().string(); }
};

// What a detector needs besides its files.
struct DetectorFacts {
    DetectorFormat format = DetectorFormat::onnx;
    int input_width = 0;
    int input_height = 0;
};

struct ModelEntry {
    std::string name;  // lowercase, unique: "smolvlm-500m", "yolox-nano"
    ModelKind kind = ModelKind::vlm;
    std::string description;
    std::string licence;
    std::string origin;  // where the files were published (repository @ commit)
    std::string note;    // caveats, e.g. why a hash is not pinned
    std::vector<ModelFile> files;
    std::optional<DetectorFacts> detector;  // set exactly when kind == detector

    // The file with `role`, or nullptr.
    const ModelFile* file_with_role(const std::string& role) const;
    // Sum of the pinned sizes; unset when any file's size is not pinned.
    std::optional<uint64_t> total_size() const;
};

class Catalog {
public:
    Catalog() = default;
    explicit Catalog(std::vector<ModelEntry> entries);  // validates like parse_catalog

    const std::vector<ModelEntry>& entries() const { return entries_; }
    std::vector<std::string> names() const;

    // Case-insensitive lookup; nullptr when unknown.
    const ModelEntry* find(const std::string& name) const;
    // Like find, but throws vigil::Error listing the known names.
    const ModelEntry& at(const std::string& name) const;

private:
    std::vector<ModelEntry> entries_;
};

// Parses catalog JSON. `source` names the document in error messages (a file
// path). Throws vigil::Error naming the entry and key on anything malformed:
// duplicate names, bad kinds or roles, a sha256 that is not 64 hex digits,
// absolute or ".." paths, non-http URLs, a VLM without text+mmproj files, a
// detector without facts or with files that do not fit its format.
Catalog parse_catalog(const std::string& json_text, const std::string& source);
Catalog load_catalog(const std::filesystem::path& path);

// $VIGIL_CATALOG, else the catalog.json of the source tree Vigil was built
// from (data_dir()/models/catalog.json).
std::filesystem::path default_catalog_path();
// load_catalog(default_catalog_path()); throws vigil::Error saying how to point
// Vigil at a catalog when the file is missing.
Catalog load_default_catalog();

// ---- Resolving a catalog name to installed files, for loaders --------------

struct VlmFiles {
    std::filesystem::path text_model;
    std::filesystem::path mmproj;
};

struct DetectorFiles {
    std::filesystem::path model;   // onnx: the .onnx; darknet: the .weights
    std::filesystem::path config;  // darknet .cfg; empty for onnx
    std::filesystem::path labels;  // class names, one per line; empty if the catalog has none
    DetectorFacts facts;
};

// Paths of an installed catalog VLM. Throws vigil::Error for an unknown name
// (listing the known ones), a detector name, or a missing file:
// "model X is not installed in DIR (missing FILE); run `vigil models pull X`".
// Checks presence and pinned size only; hashing is `vigil models verify`.
VlmFiles resolve_vlm(const std::string& name, const std::filesystem::path& models_dir, const Catalog& catalog);
VlmFiles resolve_vlm(const std::string& name);  // vigil::models_dir(), load_default_catalog()

DetectorFiles resolve_detector(const std::string& name, const std::filesystem::path& models_dir,
                               const Catalog& catalog);
DetectorFiles resolve_detector(const std::string& name);

// The installed video of a sample entry; the same errors as resolve_vlm.
std::filesystem::path resolve_sample(const std::string& name, const std::filesystem::path& models_dir,
                                     const Catalog& catalog);

}  // namespace vigil::models
