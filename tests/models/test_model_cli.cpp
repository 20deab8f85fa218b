// `vigil models ...` through the real executable, with a catalog written here
// ($VIGIL_CATALOG), a scratch models dir (--dir) and a scratch cache
// ($VIGIL_CACHE_DIR, for the hash memo). Installs come from a local folder
// (--from), so nothing reaches the network.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/model_hash.h"
#include "testing/test_support.h"

namespace vigil::models {
namespace {

using nlohmann::json;
using vigil::testing::CommandResult;
using vigil::testing::read_file;
using vigil::testing::run_vigil;
using vigil::testing::TempDir;
using vigil::testing::write_file;

class ModelsCli : public ::testing::Test {
protected:
    void SetUp() override {
        weights = std::string(20000, 'w') + "weights";
        config = "[net]\nwidth=64\nheight=64\n";
        labels = "person\ncar\n";
        auto file = [](const std::string& role, const std::string& path, const std::string& bytes) {
            return json{{"role", role},
                        {"path", path},
                        {"url", "http://127.0.0.1:9/" + std::filesystem::path(path).filename().string()},
                        {"size", bytes.size()},
                        {"sha256", sha256_bytes(bytes)}};
        };
        json catalog = {
            {"models",
             {{{"name", "tiny-det"},
               {"kind", "detector"},
               {"description", "test detector"},
               {"licence", "MIT"},
               {"detector", {{"format", "darknet"}, {"input_width", 64}, {"input_height", 64}}},
               {"files",
                {file("config", "detectors/tiny/tiny.cfg", config),
                 file("weights", "detectors/tiny/tiny.weights", weights),
                 file("labels", "detectors/labels.txt", labels)}}},
              {{"name", "tiny-vlm"},
               {"kind", "vlm"},
               {"licence", "MIT"},
               {"files",
                {file("text", "vlm/tiny-vlm/t.gguf", "text"), file("mmproj", "vlm/tiny-vlm/m.gguf", "mm")}}}}}};
        write_file(scratch / "catalog.json", catalog.dump(2));
        std::filesystem::create_directories(scratch / "downloads");
        write_file(scratch / "downloads/tiny.cfg", config);
        write_file(scratch / "downloads/tiny.weights", weights);
        write_file(scratch / "downloads/labels.txt", labels);
        ::setenv("VIGIL_CATALOG", (scratch / "catalog.json").c_str(), 1);
        ::setenv("VIGIL_CACHE_DIR", (scratch / "cache").c_str(), 1);
    }

    void TearDown() override {
        ::unsetenv("VIGIL_CATALOG");
        ::unsetenv("VIGIL_CACHE_DIR");
    }

    CommandResult vigil(const std::string& args) { return run_vigil(args + " --dir " + models_dir().string()); }
    std::filesystem::path models_dir() const { return scratch / "models"; }

    TempDir scratch;
    std::string weights, config, labels;
};

TEST_F(ModelsCli, PullFromFolderThenListPathVerify) {
    auto pull = vigil("models pull tiny-det --from " + (scratch / "downloads").string());
    ASSERT_EQ(pull.exit_code, 0) << pull.output;
    EXPECT_EQ(read_file(models_dir() / "detectors/tiny/tiny.weights"), weights);

    auto list = vigil("models list");
    ASSERT_EQ(list.exit_code, 0) << list.output;
    EXPECT_NE(list.output.find("LICENCE"), std::string::npos) << list.output;
    std::istringstream lines(list.output);
    std::string line;
    bool det_row = false, vlm_row = false;
    while (std::getline(lines, line)) {
        if (line.rfind("tiny-det ", 0) == 0) {
            det_row = true;
            EXPECT_NE(line.find("detector"), std::string::npos) << line;
            EXPECT_NE(line.find("yes  "), std::string::npos) << "installed: " << line;
            EXPECT_EQ(line.substr(line.size() - 3), "yes") << "verified: " << line;
        }
        if (line.rfind("tiny-vlm ", 0) == 0) {
            vlm_row = true;
            EXPECT_NE(line.find(" no "), std::string::npos) << line;
        }
    }
    EXPECT_TRUE(det_row && vlm_row) << list.output;

    auto path = vigil("models path tiny-det --role weights");
    ASSERT_EQ(path.exit_code, 0) << path.output;
    EXPECT_EQ(path.output, (models_dir() / "detectors/tiny/tiny.weights").string() + "\n");

    auto verify = vigil("models verify");
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("all files match"), std::string::npos) << verify.output;

    // Same size, different bytes: only the hash can catch it.
    auto damaged = weights;
    damaged[10] = 'X';
    write_file(models_dir() / "detectors/tiny/tiny.weights", damaged);
    verify = vigil("models verify tiny-det");
    EXPECT_EQ(verify.exit_code, 1) << verify.output;
    EXPECT_NE(verify.output.find("checksum mismatch"), std::string::npos) << verify.output;
    EXPECT_NE(verify.output.find(sha256_bytes(damaged)), std::string::npos) << verify.output;

    list = vigil("models list");
    EXPECT_NE(list.output.find("NO (checksum mismatch)"), std::string::npos) << list.output;
}

TEST_F(ModelsCli, VerifyNamedModelThatIsMissingFails) {
    auto verify = vigil("models verify tiny-vlm");
    EXPECT_EQ(verify.exit_code, 1) << verify.output;
    EXPECT_NE(verify.output.find("missing"), std::string::npos) << verify.output;
}

TEST_F(ModelsCli, PathOfMissingModelSaysHowToPullIt) {
    auto path = vigil("models path tiny-vlm");
    EXPECT_EQ(path.exit_code, 1);
    EXPECT_NE(path.output.find("run `vigil models pull tiny-vlm`"), std::string::npos) << path.output;
}

TEST_F(ModelsCli, UnknownNameListsKnownOnes) {
    auto pull = vigil("models pull tiny-det nonexistent --from " + (scratch / "downloads").string());
    EXPECT_EQ(pull.exit_code, 1);
    EXPECT_NE(pull.output.find("unknown model \"nonexistent\"; known models: tiny-det, tiny-vlm"), std::string::npos)
        << pull.output;
}

TEST_F(ModelsCli, FromFolderWithWrongFileFailsAndInstallsNothingPartial) {
    write_file(scratch / "downloads/tiny.weights", weights + "tail");
    auto pull = vigil("models pull tiny-det --from " + (scratch / "downloads").string());
    EXPECT_EQ(pull.exit_code, 1) << pull.output;
    EXPECT_NE(pull.output.find("size mismatch"), std::string::npos) << pull.output;
    EXPECT_FALSE(std::filesystem::exists(models_dir() / "detectors/tiny/tiny.weights"));
    EXPECT_FALSE(std::filesystem::exists(models_dir() / "detectors/tiny/tiny.weights.part"));
}

TEST_F(ModelsCli, SynthWritesAPair) {
    auto synth = run_vigil("models synth --shape tiny --out " + (scratch / "synth").string() + " --seed 3");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
    EXPECT_GT(std::filesystem::file_size(scratch / "synth/text.gguf"), 0u);
    EXPECT_GT(std::filesystem::file_size(scratch / "synth/mmproj.gguf"), 0u);
}

}  // namespace
}  // namespace vigil::models
