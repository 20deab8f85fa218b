// Runs every scenario file under tests/analyze/scenarios/ (see
// src/analyze/analyze_scenario.h for the format).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "analyze/analyze_scenario.h"

namespace vigil::analyze {
namespace {

std::filesystem::path scenario_dir() {
    return std::filesystem::path(VIGIL_SOURCE_DIR) / "tests" / "analyze" / "scenarios";
}

std::vector<std::string> scenario_files() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(scenario_dir())) {
        if (entry.path().extension() == ".scenario") files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, EventsMatchExpectations) {
    Scenario scenario = load_scenario(scenario_dir() / GetParam());
    ScenarioResult result = run_scenario(scenario);
    ASSERT_GT(result.frames, 0);
    if (!result.failures.empty()) {
        std::string report;
        for (const auto& failure : result.failures) report += "  " + failure + "\n";
        report += "events emitted:\n";
        for (const auto& event : result.events) report += "  " + nlohmann::json(event).dump() + "\n";
        FAIL() << scenario.name << " (" << GetParam() << "):\n" << report;
    }
    for (const auto& event : result.events) {
        EXPECT_FALSE(event.summary.empty()) << nlohmann::json(event).dump();
        EXPECT_FALSE(event.rule.empty()) << nlohmann::json(event).dump();
    }
}

TEST(ScenarioFiles, AtLeastFifteenExist) {
    EXPECT_GE(scenario_files().size(), 15u);
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = std::filesystem::path(info.param).stem().string();
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Files, ScenarioTest, ::testing::ValuesIn(scenario_files()), test_name);

}  // namespace
}  // namespace vigil::analyze
