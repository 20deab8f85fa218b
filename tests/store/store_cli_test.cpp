// `vigil alerts list|show|search`, `vigil feedback`, `vigil export dataset`
// through the real executable against a database filled by the store API.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "store/alert_store.h"
#include "store/store_test_alerts.h"
#include "testing/test_support.h"

namespace vigil::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::make_test_alert;

class StoreCliTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(VIGIL_EXE)) << "the vigil executable is not built: " << VIGIL_EXE;
        auto store = AlertStore::open(db_, dir_ / "evidence");
        auto image = store->write_evidence("alert-cli-1", "trigger.jpg", "jpeg bytes");
        ASSERT_TRUE(image.has_value());
        auto first = make_test_alert("alert-cli-1", "dock-1", "obstruction", "2030-01-01T10:00:00Z",
                                     "A forklift blocks the corridor.");
        first["evidence"]["images"] = json::array({{{"role", "trigger"}, {"path", image->string()}},
                                                   {{"role", "before"}, {"path", (dir_ / "gone.jpg").string()}}});
        store->save_alert(first, "sent", {});
        store->save_alert(make_test_alert("alert-cli-2", "gate-3", "loitering", "2030-01-01T11:00:00Z",
                                          "Two people linger at the gate."),
                          "dismissed", {});
    }
    testing::CommandResult vigil(const std::string& args) { return testing::run_vigil(args + " --db " + db_.string()); }
    testing::TempDir dir_;
    fs::path db_ = dir_ / "vigil.sqlite";
};

TEST_F(StoreCliTest, ListPrintsATableAndFilters) {
    auto all = vigil("alerts list");
    ASSERT_EQ(all.exit_code, 0) << all.output;
    EXPECT_NE(all.output.find("alert-cli-1"), std::string::npos) << all.output;
    EXPECT_NE(all.output.find("alert-cli-2"), std::string::npos) << all.output;
    EXPECT_NE(all.output.find("dismissed"), std::string::npos) << all.output;
    EXPECT_LT(all.output.find("alert-cli-2"), all.output.find("alert-cli-1")) << "newest first";

    auto camera = vigil("alerts list --camera gate-3 --json");
    ASSERT_EQ(camera.exit_code, 0) << camera.output;
    auto parsed = json::parse(camera.output);
    ASSERT_EQ(parsed.size(), 1u);
    EXPECT_EQ(parsed[0]["id"], "alert-cli-2");

    auto type = vigil("alerts list --type obstruction --limit 5 --json");
    ASSERT_EQ(type.exit_code, 0) << type.output;
    EXPECT_EQ(json::parse(type.output).at(0)["id"], "alert-cli-1");
}

TEST_F(StoreCliTest, ShowAndSearch) {
    auto show = vigil("alerts show alert-cli-1");
    ASSERT_EQ(show.exit_code, 0) << show.output;
    EXPECT_NE(show.output.find("forklift"), std::string::npos) << show.output;
    auto show_json = vigil("alerts show alert-cli-1 --json");
    ASSERT_EQ(show_json.exit_code, 0) << show_json.output;
    EXPECT_EQ(json::parse(show_json.output)["camera"], "dock-1");

    auto search = vigil("alerts search 'linger gate' --json");
    ASSERT_EQ(search.exit_code, 0) << search.output;
    auto found = json::parse(search.output);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]["id"], "alert-cli-2");

    auto missing = vigil("alerts show alert-nope");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.output.find("alert-nope"), std::string::npos) << missing.output;
}

TEST_F(StoreCliTest, FeedbackThenExportDataset) {
    auto confirm = vigil("feedback alert-cli-1 confirm --note 'real blockage'");
    ASSERT_EQ(confirm.exit_code, 0) << confirm.output;
    auto bad = vigil("feedback alert-cli-1 perhaps");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.output.find("confirm or dismiss"), std::string::npos) << bad.output;
    auto unknown = vigil("feedback alert-nope dismiss");
    EXPECT_EQ(unknown.exit_code, 1);

    const fs::path out = dir_ / "dataset";
    auto exported = vigil("export dataset --out " + out.string());
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    std::istringstream lines(testing::read_file(out / "alerts.jsonl"));
    std::vector<json> rows;
    for (std::string line; std::getline(lines, line);) rows.push_back(json::parse(line));
    ASSERT_EQ(rows.size(), 1u);  // alert-cli-2 was never reviewed
    EXPECT_EQ(rows[0]["id"], "alert-cli-1");
    EXPECT_EQ(rows[0]["feedback"]["verdict"], "confirm");
    EXPECT_EQ(rows[0]["feedback"]["note"], "real blockage");
    const auto& images = rows[0]["evidence"]["images"];
    EXPECT_EQ(testing::read_file(out / images[0]["path"].get<std::string>()), "jpeg bytes");
    EXPECT_EQ(images[1]["missing"], true);
    auto manifest = json::parse(testing::read_file(out / "manifest.json"));
    EXPECT_EQ(manifest["alerts"], 1);
    EXPECT_EQ(manifest["confirmed"], 1);
    EXPECT_EQ(manifest["images"], 1);
    EXPECT_EQ(manifest["images_missing"], 1);
}

TEST_F(StoreCliTest, MissingDatabaseIsAClearError) {
    auto result = testing::run_vigil("alerts list --db " + (dir_ / "nowhere.sqlite").string());
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.output.find("nowhere.sqlite"), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(dir_ / "nowhere.sqlite"));
}

TEST_F(StoreCliTest, DatabaseFromTheEnvironment) {
    auto result = testing::run_command("VIGIL_DB=" + db_.string() + " " + VIGIL_EXE + " alerts list --json");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(json::parse(result.output).size(), 2u);
}

}  // namespace
}  // namespace vigil::store
