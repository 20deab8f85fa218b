// The llama.cpp build Vigil runs on: one CPU backend per x86-64 feature
// level, the best one loaded, and the AMX kernels compiled with their whole
// tile configuration (GCC 12 dropped it, and the AMX variant died with SIGILL).
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "testing/test_support.h"
#include "vlm/vlm_llama_runtime.h"

namespace vigil::vlm {
namespace {

namespace fs = std::filesystem;

TEST(LlamaBuild, LoadsTheBestCpuVariantFromTheLibraryFolder) {
    init_llama();
    const fs::path dir = llama_library_dir();
    if (!fs::exists(dir / "libggml-cpu-x64.so")) GTEST_SKIP() << dir << " is a llama.cpp without CPU variants";
    const CpuBackendInfo info = cpu_backend_info();
    EXPECT_EQ(info.library.rfind("libggml-cpu-", 0), 0u) << info.library;
    EXPECT_TRUE(fs::exists(dir / info.library)) << info.library;
    // This machine runs at least AVX2 (every CI machine here has AVX-512),
    // so the portable variants are not the best.
    EXPECT_NE(info.library, "libggml-cpu-x64.so");
    EXPECT_NE(info.library, "libggml-cpu-sse42.so");
}

// ldtilecfg reads a 64-byte configuration: palette at +0, column bytes per
// tile at +16, rows per tile at +48. Each load must follow stores to those
// fields; unpatched GCC 12 code stores only the zeroed block and the palette.
TEST(LlamaBuild, AmxTileConfigurationIsStoredBeforeItIsLoaded) {
    const fs::path lib = llama_library_dir() / "libggml-cpu-sapphirerapids.so";
    if (!fs::exists(lib)) GTEST_SKIP() << "no AMX variant in " << lib.parent_path();
    const auto disassembly = testing::run_command("objdump -d --no-show-raw-insn " + lib.string());
    ASSERT_EQ(disassembly.exit_code, 0) << disassembly.output.substr(0, 400);
    const std::regex load(R"(ldtilecfg\s+(?:0x([0-9a-f]+))?\(%rsp\))");
    const std::regex store(R"(\sv?mov\S*\s+\S+,(?:0x([0-9a-f]+))?\(%rsp\))");
    std::vector<std::string> window;
    std::istringstream lines(disassembly.output);
    int loads = 0;
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_search(line, m, load)) {
            ++loads;
            const long base = m[1].matched ? std::stol(m[1].str(), nullptr, 16) : 0;
            bool columns = false, rows = false;
            for (const std::string& before : window) {
                std::smatch s;
                if (!std::regex_search(before, s, store)) continue;
                const long at = (s[1].matched ? std::stol(s[1].str(), nullptr, 16) : 0) - base;
                columns = columns || (at >= 16 && at < 48);
                rows = rows || (at >= 48 && at < 64);
            }
            EXPECT_TRUE(columns && rows) << "ldtilecfg without stores of the tile shapes before it:\n" << line;
        }
        window.push_back(line);
        if (window.size() > 24) window.erase(window.begin());
    }
    EXPECT_GT(loads, 0) << "no ldtilecfg in " << lib;
}

}  // namespace
}  // namespace vigil::vlm
