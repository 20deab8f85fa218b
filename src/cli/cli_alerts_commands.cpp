// `vigil alerts list|show|search`, `vigil feedback` and `vigil export dataset`:
// a thin layer over store/alert_store.h. The database is --db, else $VIGIL_DB,
// else <cache_dir>/vigil.sqlite (where `vigil run` keeps it by default).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/cli_app.h"
#include "core/error.h"
#include "core/paths.h"
#include "store/alert_store.h"

namespace vigil::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct AlertsArgs {
    std::string db;
    std::string camera;
    std::string type;
    std::string status;
    int limit = 50;
    bool as_json = false;
    std::string id;
    std::string text;
    std::string verdict;
    std::string note;
    std::string out;
};

fs::path chosen_db(const AlertsArgs& args) {
    if (!args.db.empty()) return args.db;
    return vigil::env_or("VIGIL_DB", (vigil::cache_dir() / "vigil.sqlite").string());
}

// Reading commands never create an empty database by accident.
std::unique_ptr<store::AlertStore> open_existing(const AlertsArgs& args) {
    const fs::path db = chosen_db(args);
    if (!fs::exists(db))
        throw vigil::Error("no alert database at " + db.string() +
                           " (run `vigil run` first, or pass --db PATH / set VIGIL_DB)");
    return store::AlertStore::open(db, db.parent_path() / "evidence");
}

std::string text_of(const json& alert, const char* key) {
    auto it = alert.find(key);
    return it != alert.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string clipped(std::string text, size_t width) {
    if (text.size() > width) text = text.substr(0, width - 3) + "...";
    return text;
}

void print_table(store::AlertStore& store, const std::vector<json>& alerts) {
    if (alerts.empty()) {
        std::cout << "no alerts\n";
        return;
    }
    std::vector<std::vector<std::string>> rows = {{"ID", "END TIME", "CAMERA", "TYPE", "SEVERITY", "STATUS", "TITLE"}};
    for (const auto& alert : alerts) {
        const std::string id = text_of(alert, "id");
        rows.push_back({id, text_of(alert, "end_time"), text_of(alert, "camera"), text_of(alert, "type"),
                        text_of(alert, "severity"), store.alert_status(id).value_or("?"),
                        clipped(text_of(alert, "title"), 60)});
    }
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows)
        for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
    for (const auto& row : rows) {
        std::string line;
        for (size_t c = 0; c < row.size(); ++c) {
            line += row[c];
            if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
}

void print_alerts(store::AlertStore& store, const std::vector<json>& alerts, bool as_json) {
    if (as_json) {
        std::cout << json(alerts).dump(2) << "\n";
    } else {
        print_table(store, alerts);
    }
}

void run_list(const AlertsArgs& args) {
    if (!args.status.empty() && args.status != "sent" && args.status != "dismissed")
        throw vigil::Error("--status \"" + args.status + "\": expected sent or dismissed");
    auto store = open_existing(args);
    store::AlertQuery query;
    query.camera = args.camera;
    query.type = args.type;
    query.status = args.status;
    query.limit = args.limit;
    print_alerts(*store, store->list_alerts(query), args.as_json);
}

void run_search(const AlertsArgs& args) {
    auto store = open_existing(args);
    print_alerts(*store, store->search_alerts(args.text, args.limit), args.as_json);
}

void run_show(const AlertsArgs& args) {
    auto store = open_existing(args);
    auto alert = store->get_alert(args.id);
    if (!alert) throw vigil::Error("no alert with id \"" + args.id + "\" in " + chosen_db(args).string());
    if (args.as_json) {
        std::cout << alert->dump(2) << "\n";
        return;
    }
    const json& a = *alert;
    std::cout << text_of(a, "title") << "\n"
              << "  id:          " << text_of(a, "id") << "\n"
              << "  status:      " << store->alert_status(args.id).value_or("?") << "\n"
              << "  camera:      " << text_of(a, "camera") << " (" << text_of(a, "location") << ")\n"
              << "  type:        " << text_of(a, "type") << ", severity " << text_of(a, "severity") << "\n"
              << "  time:        " << text_of(a, "start_time") << " .. " << text_of(a, "end_time") << "\n"
              << "  verdict:     " << text_of(a, "verdict") << ", confidence " << a.value("confidence", 0.0) << "\n"
              << "  summary:     " << text_of(a, "summary") << "\n"
              << "  description: " << text_of(a, "description") << "\n"
              << "  cause:       " << text_of(a, "probable_cause") << "\n";
    if (a.contains("recommended_actions") && a["recommended_actions"].is_array())
        for (const auto& action : a["recommended_actions"])
            if (action.is_string()) std::cout << "  action:      " << action.get<std::string>() << "\n";
    if (a.contains("evidence") && a["evidence"].contains("images"))
        for (const auto& image : a["evidence"]["images"]) {
            std::string path =
                image.contains("path") && image["path"].is_string() ? image["path"].get<std::string>() : "(missing)";
            std::cout << "  evidence:    " << image.value("role", std::string("?")) << " " << path << "\n";
        }
    for (const auto& feedback : store->feedback_for(args.id))
        std::cout << "  feedback:    " << feedback["verdict"].get<std::string>() << " at "
                  << feedback["time"].get<std::string>()
                  << (feedback["note"].get<std::string>().empty() ? "" : ": " + feedback["note"].get<std::string>())
                  << "\n";
}

void run_feedback(const AlertsArgs& args) {
    if (args.verdict != "confirm" && args.verdict != "dismiss")
        throw vigil::Error("verdict \"" + args.verdict + "\": expected confirm or dismiss");
    auto store = open_existing(args);
    store->add_feedback(args.id, args.verdict, args.note);
    std::cout << "recorded " << args.verdict << " for " << args.id << "\n";
}

// Copies an alert's evidence images next to the dataset and points the
// exported document at the copies (paths relative to the dataset folder).
void copy_evidence(json& alert, const fs::path& out, int& copied, int& missing) {
    if (!alert.contains("evidence") || !alert["evidence"].contains("images")) return;
    const std::string id = text_of(alert, "id");
    for (auto& image : alert["evidence"]["images"]) {
        if (!image.contains("path") || !image["path"].is_string()) continue;
        const fs::path source = image["path"].get<std::string>();
        std::error_code ec;
        if (!fs::is_regular_file(source, ec)) {
            image["missing"] = true;
            ++missing;
            continue;
        }
        const fs::path relative = fs::path("images") / id / source.filename();
        fs::create_directories(out / relative.parent_path(), ec);
        if (ec || !fs::copy_file(source, out / relative, fs::copy_options::overwrite_existing, ec) || ec)
            throw vigil::Error("cannot copy evidence " + source.string() + " to " + (out / relative).string() + ": " +
                               ec.message());
        image["path"] = relative.string();
        ++copied;
    }
}

void run_export(const AlertsArgs& args) {
    auto store = open_existing(args);
    const fs::path out = args.out;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) throw vigil::Error("cannot create export folder " + out.string());
    int confirmed = 0, dismissed = 0, copied = 0, missing = 0;
    auto reviewed = store->reviewed_alerts();
    {
        std::ofstream lines(out / "alerts.jsonl", std::ios::trunc);
        if (!lines) throw vigil::Error("cannot write " + (out / "alerts.jsonl").string());
        for (auto& alert : reviewed) {
            (alert["feedback"]["verdict"] == "confirm" ? confirmed : dismissed)++;
            copy_evidence(alert, out, copied, missing);
            lines << alert.dump() << "\n";
        }
        if (!lines.flush()) throw vigil::Error("cannot write " + (out / "alerts.jsonl").string());
    }
    json manifest = {{"format", "vigil-reviewed-alerts"},
                     {"version", 1},
                     {"source_db", fs::absolute(chosen_db(args)).string()},
                     {"alerts", reviewed.size()},
                     {"confirmed", confirmed},
                     {"dismissed", dismissed},
                     {"images", copied},
                     {"images_missing", missing}};
    std::ofstream(out / "manifest.json", std::ios::trunc) << manifest.dump(2) << "\n";
    std::cout << "exported " << reviewed.size() << " reviewed alerts (" << confirmed << " confirmed, " << dismissed
              << " dismissed), " << copied << " images (" << missing << " missing) to " << out.string() << "\n";
}

void add_db_option(CLI::App* command, AlertsArgs& args) {
    command->add_option("--db", args.db, "Alert database (default: $VIGIL_DB or ~/.cache/vigil/vigil.sqlite)");
}

}  // namespace

void add_alerts_commands(CLI::App& app) {
    auto args = std::make_shared<AlertsArgs>();

    auto* alerts = app.add_subcommand("alerts", "List, show and search stored alerts");
    alerts->require_subcommand(1);

    auto* list = alerts->add_subcommand("list", "Most recent alerts first");
    list->add_option("--camera", args->camera, "Only this camera");
    list->add_option("--type", args->type, "Only this alert type (e.g. obstruction)");
    list->add_option("--status", args->status, "sent | dismissed");
    list->add_option("--limit", args->limit, "At most this many (default 50)")->check(CLI::PositiveNumber);
    list->add_flag("--json", args->as_json, "Print the alert documents as a JSON array");
    add_db_option(list, *args);
    list->callback([args] { run_list(*args); });

    auto* show = alerts->add_subcommand("show", "One alert with its status and operator feedback");
    show->add_option("id", args->id, "Alert id")->required();
    show->add_flag("--json", args->as_json, "Print the alert document only");
    add_db_option(show, *args);
    show->callback([args] { run_show(*args); });

    auto* search = alerts->add_subcommand("search", "Full-text search over title, summary, description, cause, place");
    search->add_option("text", args->text, "Words that must all appear")->required();
    search->add_option("--limit", args->limit, "At most this many (default 50)")->check(CLI::PositiveNumber);
    search->add_flag("--json", args->as_json, "Print the alert documents as a JSON array");
    add_db_option(search, *args);
    search->callback([args] { run_search(*args); });

    auto* feedback = app.add_subcommand("feedback", "Record an operator verdict on an alert");
    feedback->add_option("alert_id", args->id, "Alert id")->required();
    feedback->add_option("verdict", args->verdict, "confirm | dismiss")->required();
    feedback->add_option("--note", args->note, "Free-text note kept with the verdict");
    add_db_option(feedback, *args);
    feedback->callback([args] { run_feedback(*args); });

    auto* export_command = app.add_subcommand("export", "Export data for training and evaluation");
    export_command->require_subcommand(1);
    auto* dataset = export_command->add_subcommand(
        "dataset", "Reviewed alerts (latest verdict as label) with their evidence images");
    dataset->add_option("--out", args->out, "Output folder (alerts.jsonl, manifest.json, images/)")->required();
    add_db_option(dataset, *args);
    dataset->callback([args] { run_export(*args); });
}

}  // namespace vigil::cli
