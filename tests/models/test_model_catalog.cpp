// The catalog file, its validation, the installed-model store (--from
// installs, verification, name resolution) and the hash memo.
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/error.h"
#include "models/model_catalog.h"
#include "models/model_download.h"
#include "models/model_hash.h"
#include "models/model_store.h"
#include "testing/test_support.h"

namespace vigil::models {
namespace {

using nlohmann::json;
using vigil::testing::read_file;
using vigil::testing::shared_path;
using vigil::testing::TempDir;
using vigil::testing::write_file;

std::filesystem::path repo_catalog() { return std::filesystem::path(VIGIL_SOURCE_DIR) / "models" / "catalog.json"; }

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no vigil::Error thrown)";
}

// ---- The shipped catalog ---------------------------------------------------

TEST(RepoCatalog, LoadsWithTheExpectedModels) {
    auto catalog = load_catalog(repo_catalog());
    std::set<std::string> names;
    for (const auto& name : catalog.names()) names.insert(name);
    EXPECT_EQ(names.size(), catalog.entries().size()) << "names must be unique";
    for (const char* expected :
         {"smolvlm-500m", "qwen2.5-vl-3b", "yolox-nano", "fastestdet", "yolo-fastest-1.1", "yolo-fastest-1.1-xl"}) {
        EXPECT_TRUE(names.count(expected)) << expected;
    }
}

TEST(RepoCatalog, EveryEntryIsWellFormed) {
    const std::regex sha256_pattern("[0-9a-f]{64}");
    const auto catalog = load_catalog(repo_catalog());
    for (const auto& entry : catalog.entries()) {
        SCOPED_TRACE(entry.name);
        EXPECT_FALSE(entry.licence.empty());
        EXPECT_FALSE(entry.description.empty());
        for (const auto& file : entry.files) {
            EXPECT_EQ(file.url.rfind("https://", 0), 0u) << file.url;
            if (file.sha256) {
                EXPECT_TRUE(std::regex_match(*file.sha256, sha256_pattern)) << *file.sha256;
            }
            // The URL ends in the file's own name, so a flat --from folder of
            // downloads is found by name.
            EXPECT_EQ(file.url.substr(file.url.rfind('/') + 1), file.file_name());
        }
        if (entry.kind == ModelKind::detector) {
            ASSERT_TRUE(entry.detector);
            for (const auto& file : entry.files) {
                EXPECT_TRUE(file.sha256 && file.size) << file.path << ": detector files are pinned";
                EXPECT_EQ(file.path.rfind("detectors/", 0), 0u) << file.path;
            }
        } else if (entry.kind == ModelKind::sample) {
            EXPECT_TRUE(entry.file_with_role("video"));
            for (const auto& file : entry.files) {
                EXPECT_TRUE(file.sha256 && file.size) << file.path << ": sample files are pinned";
                EXPECT_EQ(file.path.rfind("samples/", 0), 0u) << file.path;
            }
        } else {
            EXPECT_TRUE(entry.file_with_role("text") && entry.file_with_role("mmproj"));
            for (const auto& file : entry.files) EXPECT_EQ(file.path.rfind("vlm/" + entry.name + "/", 0), 0u);
            // Unpinned hashes must say why.
            if (!entry.total_size()) {
                EXPECT_FALSE(entry.note.empty());
            }
        }
    }
}

// The catalog's pinned detector files are exactly the ones in shared/models,
// which is laid out as a models directory.
TEST(RepoCatalog, DetectorHashesMatchTheSharedModels) {
    const auto models_dir = shared_path("models/detectors").parent_path();
    auto catalog = load_catalog(repo_catalog());
    for (const auto& entry : catalog.entries()) {
        if (entry.kind != ModelKind::detector) continue;
        for (const auto& status : check_model(entry, models_dir, CheckDepth::full)) {
            EXPECT_EQ(status.state, FileState::verified)
                << entry.name << ": " << status.path << " is " << to_string(status.state);
        }
    }
}

// The demo's pinned sample is the clip ../shared holds (and the demo config
// names): same size, same sha256.
TEST(RepoCatalog, SampleVideoHashMatchesTheSharedClip) {
    const auto catalog = load_catalog(repo_catalog());
    const auto& video = *catalog.at("sample-traffic").file_with_role("video");
    const auto clip = shared_path("media/videos/opencv4nodejs_traffic.mp4");
    EXPECT_EQ(std::filesystem::file_size(clip), *video.size);
    EXPECT_EQ(sha256_file(clip), *video.sha256);
}

struct DetectorCase {
    std::string name;
    DetectorFormat format;
    int input;
    std::string model_file;
    std::string config_file;
    friend void PrintTo(const DetectorCase& c, std::ostream* os) { *os << c.name; }
};

class ResolveSharedDetector : public ::testing::TestWithParam<DetectorCase> {};

TEST_P(ResolveSharedDetector, FindsFilesAndFacts) {
    const auto& param = GetParam();
    const auto models_dir = shared_path("models/detectors").parent_path();
    auto files = resolve_detector(param.name, models_dir, load_catalog(repo_catalog()));
    EXPECT_EQ(files.facts.format, param.format);
    EXPECT_EQ(files.facts.input_width, param.input);
    EXPECT_EQ(files.facts.input_height, param.input);
    EXPECT_EQ(files.model.filename(), param.model_file);
    EXPECT_EQ(files.config.filename(), param.config_file);
    EXPECT_EQ(files.labels, models_dir / "detectors" / "coco.names");
    EXPECT_TRUE(std::filesystem::exists(files.model));
}

INSTANTIATE_TEST_SUITE_P(Catalog, ResolveSharedDetector,
                         ::testing::Values(DetectorCase{"yolox-nano", DetectorFormat::onnx, 416, "yolox_nano.onnx", ""},
                                           DetectorCase{"fastestdet", DetectorFormat::onnx, 352, "FastestDet.onnx", ""},
                                           DetectorCase{"yolo-fastest-1.1", DetectorFormat::darknet, 320,
                                                        "yolo-fastest-1.1.weights", "yolo-fastest-1.1.cfg"},
                                           DetectorCase{"YOLO-Fastest-1.1-XL", DetectorFormat::darknet, 320,
                                                        "yolo-fastest-1.1-xl.weights", "yolo-fastest-1.1-xl.cfg"}));

TEST(Resolve, MissingVlmSaysHowToInstallIt) {
    TempDir empty;
    const auto message = error_of([&] { resolve_vlm("smolvlm-500m", empty.path(), load_catalog(repo_catalog())); });
    EXPECT_NE(message.find("model smolvlm-500m is not installed"), std::string::npos) << message;
    EXPECT_NE(message.find("run `vigil models pull smolvlm-500m`"), std::string::npos) << message;
}

TEST(Resolve, UnknownNameListsKnownNames) {
    TempDir empty;
    const auto message = error_of([&] { resolve_vlm("gpt-9", empty.path(), load_catalog(repo_catalog())); });
    EXPECT_NE(message.find("unknown model \"gpt-9\""), std::string::npos) << message;
    EXPECT_NE(message.find("qwen2.5-vl-3b"), std::string::npos) << message;
    EXPECT_NE(message.find("yolox-nano"), std::string::npos) << message;
}

TEST(Resolve, WrongKindIsAnError) {
    const auto models_dir = shared_path("models/detectors").parent_path();
    const auto message = error_of([&] { resolve_vlm("yolox-nano", models_dir, load_catalog(repo_catalog())); });
    EXPECT_NE(message.find("is a detector, not a vlm"), std::string::npos) << message;
}

TEST(DefaultCatalog, HonoursVigilCatalog) {
    TempDir dir;
    auto doc = json::parse(read_file(repo_catalog()));
    doc["models"] = json::array({doc["models"][0]});
    write_file(dir / "one.json", doc.dump());
    ::setenv("VIGIL_CATALOG", (dir / "one.json").c_str(), 1);
    auto catalog = load_default_catalog();
    ::unsetenv("VIGIL_CATALOG");
    EXPECT_EQ(catalog.entries().size(), 1u);
    EXPECT_EQ(default_catalog_path(), repo_catalog()) << "without VIGIL_CATALOG the source tree's catalog is used";
}

// ---- Validation: each broken document is refused with a message naming the
// key and the problem.

struct BrokenCatalog {
    std::string what;
    std::function<void(json&)> damage;
    std::string expected_message;
    friend void PrintTo(const BrokenCatalog& c, std::ostream* os) { *os << c.what; }
};

class CatalogValidation : public ::testing::TestWithParam<BrokenCatalog> {};

TEST_P(CatalogValidation, RefusesWithClearMessage) {
    auto doc = json::parse(read_file(repo_catalog()));
    GetParam().damage(doc);
    const auto message = error_of([&] { parse_catalog(doc.dump(), "test.json"); });
    EXPECT_NE(message.find("test.json"), std::string::npos) << message;
    EXPECT_NE(message.find(GetParam().expected_message), std::string::npos) << message;
}

// models[2] is yolox-nano (onnx), models[4] is yolo-fastest-1.1 (darknet).
INSTANTIATE_TEST_SUITE_P(
    Catalog, CatalogValidation,
    ::testing::Values(
        BrokenCatalog{"duplicate", [](json& d) { d["models"].push_back(d["models"][0]); }, "appears more than once"},
        BrokenCatalog{"bad sha", [](json& d) { d["models"][2]["files"][0]["sha256"] = "ABC"; },
                      "key \"files[0].sha256\": expected 64 lowercase hex digits"},
        BrokenCatalog{"absolute path", [](json& d) { d["models"][2]["files"][0]["path"] = "/etc/passwd"; },
                      "key \"files[0].path\""},
        BrokenCatalog{"escaping path", [](json& d) { d["models"][2]["files"][0]["path"] = "../x.onnx"; }, "no \"..\""},
        BrokenCatalog{"ftp url", [](json& d) { d["models"][2]["files"][0]["url"] = "ftp://x/y.onnx"; },
                      "key \"files[0].url\": expected an http:// or https:// URL"},
        BrokenCatalog{"negative size", [](json& d) { d["models"][2]["files"][0]["size"] = -4; },
                      "key \"files[0].size\""},
        BrokenCatalog{"unknown kind", [](json& d) { d["models"][0]["kind"] = "llm"; },
                      "key \"kind\": expected \"vlm\", \"detector\" or \"sample\""},
        BrokenCatalog{"vlm without mmproj", [](json& d) { d["models"][0]["files"].erase(1); },
                      "expected a file with role \"mmproj\""},
        BrokenCatalog{"detector without facts", [](json& d) { d["models"][2].erase("detector"); }, "key \"detector\""},
        BrokenCatalog{"darknet without cfg", [](json& d) { d["models"][4]["files"].erase(0); },
                      "expected a file with role \"config\""},
        BrokenCatalog{"onnx with weights role", [](json& d) { d["models"][2]["files"][0]["role"] = "weights"; },
                      "role \"model\""},
        BrokenCatalog{"bad format", [](json& d) { d["models"][2]["detector"]["format"] = "tflite"; },
                      "expected \"onnx\" or \"darknet\""},
        BrokenCatalog{"missing licence", [](json& d) { d["models"][3].erase("licence"); },
                      "(\"fastestdet\"): key \"licence\": missing"},
        BrokenCatalog{"uppercase name", [](json& d) { d["models"][3]["name"] = "FastestDet"; },
                      "expected lowercase letters"},
        BrokenCatalog{"no models", [](json& d) { d.erase("models"); }, "key \"models\""}),
    [](const ::testing::TestParamInfo<BrokenCatalog>& case_info) {
        std::string name = case_info.param.what;
        for (auto& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return name;
    });

TEST(CatalogValidation, NotJsonIsAnError) {
    const auto message = error_of([] { parse_catalog("{ models: ", "broken.json"); });
    EXPECT_NE(message.find("broken.json: not valid JSON"), std::string::npos) << message;
}

// ---- Installing from a local folder (air-gapped sites) ---------------------

class LocalInstall : public ::testing::Test {
protected:
    void SetUp() override {
        text = "GGUF text model bytes " + std::string(5000, 't');
        mmproj = "GGUF projector bytes " + std::string(3000, 'p');
        ModelEntry entry;
        entry.name = "test-vlm";
        entry.kind = ModelKind::vlm;
        entry.licence = "test";
        entry.files = {
            {"text", "vlm/test-vlm/text.gguf", "https://example.invalid/text.gguf", text.size(), sha256_bytes(text)},
            {"mmproj", "vlm/test-vlm/mmproj.gguf", "https://example.invalid/mmproj.gguf", std::nullopt,
             sha256_bytes(mmproj)}};
        catalog = Catalog({entry});
    }

    std::vector<PulledFile> pull_from(const std::filesystem::path& from) {
        PullOptions options;
        options.from_dir = from;
        return pull_model(catalog.at("test-vlm"), models.path(), options);
    }

    std::string text, mmproj;
    Catalog catalog;
    TempDir from, models;
};

TEST_F(LocalInstall, FlatFolderOfDownloads) {
    write_file(from / "text.gguf", text);
    write_file(from / "mmproj.gguf", mmproj);
    auto pulled = pull_from(from.path());
    ASSERT_EQ(pulled.size(), 2u);
    auto files = resolve_vlm("test-vlm", models.path(), catalog);
    EXPECT_EQ(read_file(files.text_model), text);
    EXPECT_EQ(read_file(files.mmproj), mmproj);
    EXPECT_TRUE(is_verified(check_model(catalog.at("test-vlm"), models.path(), CheckDepth::full)));
}

TEST_F(LocalInstall, CopyOfAModelsDirectory) {
    std::filesystem::create_directories(from / "vlm/test-vlm");
    write_file(from / "vlm/test-vlm/text.gguf", text);
    write_file(from / "vlm/test-vlm/mmproj.gguf", mmproj);
    // A decoy with the same name at the top must lose to the exact layout.
    write_file(from / "text.gguf", "decoy");
    pull_from(from.path());
    EXPECT_EQ(read_file(models / "vlm/test-vlm/text.gguf"), text);
}

TEST_F(LocalInstall, WrongBytesAreRefusedAndNothingIsLeft) {
    write_file(from / "text.gguf", text);
    write_file(from / "mmproj.gguf", mmproj + "!");
    const auto message = error_of([&] { pull_from(from.path()); });
    EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
    EXPECT_NE(message.find((from / "mmproj.gguf").string()), std::string::npos) << message;
    EXPECT_NE(message.find(sha256_bytes(mmproj)), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(models / "vlm/test-vlm/mmproj.gguf"));
    EXPECT_FALSE(std::filesystem::exists(models / "vlm/test-vlm/mmproj.gguf.part"));
}

TEST_F(LocalInstall, MissingFileNamesFolder) {
    write_file(from / "text.gguf", text);
    const auto message = error_of([&] { pull_from(from.path()); });
    EXPECT_NE(message.find("mmproj.gguf not found in " + from.path().string()), std::string::npos) << message;
}

TEST_F(LocalInstall, VerifyDetectsCorruptionAndMissingFiles) {
    write_file(from / "text.gguf", text);
    write_file(from / "mmproj.gguf", mmproj);
    pull_from(from.path());
    const auto& entry = catalog.at("test-vlm");

    auto corrupted = text;
    corrupted[100] = 'X';  // same size: only the hash can tell
    write_file(models / "vlm/test-vlm/text.gguf", corrupted);
    auto status = check_model(entry, models.path(), CheckDepth::full);
    EXPECT_EQ(status[0].state, FileState::corrupt);
    EXPECT_EQ(status[0].actual_sha256, sha256_bytes(corrupted));
    EXPECT_EQ(status[1].state, FileState::verified);
    EXPECT_TRUE(is_installed(status));
    EXPECT_FALSE(is_verified(status));

    std::filesystem::remove(models / "vlm/test-vlm/mmproj.gguf");
    status = check_model(entry, models.path(), CheckDepth::presence);
    EXPECT_EQ(status[0].state, FileState::unchecked);
    EXPECT_EQ(status[1].state, FileState::missing);
    EXPECT_FALSE(is_installed(status));
    EXPECT_NE(error_of([&] { resolve_vlm("test-vlm", models.path(), catalog); }).find("not installed"),
              std::string::npos);

    write_file(models / "vlm/test-vlm/text.gguf", text + "extra");
    EXPECT_EQ(check_model(entry, models.path(), CheckDepth::presence)[0].state, FileState::wrong_size);
}

TEST(FindInFolder, LooksThroughEveryLevelOfThePath) {
    TempDir from;
    ModelFile file{"model", "detectors/yolox-nano/yolox_nano.onnx", "https://x/yolox_nano.onnx", {}, {}};
    EXPECT_FALSE(find_in_folder(file, from.path()));
    std::filesystem::create_directories(from / "yolox-nano");
    write_file(from / "yolox-nano/yolox_nano.onnx", "x");
    EXPECT_EQ(find_in_folder(file, from.path()), from / "yolox-nano/yolox_nano.onnx");
}

// ---- Hash memo ---------------------------------------------------------------

TEST(HashMemo, RemembersUntilTheFileChanges) {
    TempDir dir;
    HashMemo memo(dir / "memo.json");
    write_file(dir / "a.bin", "first");
    EXPECT_FALSE(memo.lookup(dir / "a.bin"));
    EXPECT_EQ(memo.hash(dir / "a.bin"), sha256_bytes("first"));
    EXPECT_EQ(HashMemo(dir / "memo.json").lookup(dir / "a.bin"), sha256_bytes("first")) << "persisted";

    write_file(dir / "a.bin", "second, longer");
    EXPECT_FALSE(memo.lookup(dir / "a.bin")) << "a rewritten file must be hashed again";
    EXPECT_EQ(memo.hash(dir / "a.bin"), sha256_bytes("second, longer"));
}

TEST(HashMemo, DamagedMemoIsIgnored) {
    TempDir dir;
    write_file(dir / "memo.json", "{ not json");
    write_file(dir / "a.bin", "x");
    HashMemo memo(dir / "memo.json");
    EXPECT_FALSE(memo.lookup(dir / "a.bin"));
    EXPECT_EQ(memo.hash(dir / "a.bin"), sha256_bytes("x"));
}

TEST(Sha256, KnownVector) {
    EXPECT_EQ(sha256_bytes("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    TempDir dir;
    write_file(dir / "abc", "abc");
    EXPECT_EQ(sha256_file(dir / "abc"), sha256_bytes("abc"));
}

}  // namespace
}  // namespace vigil::models
