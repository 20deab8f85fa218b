// `vigil models list|pull|verify|path|synth`: a thin layer over
// models/model_store.h. The catalog comes from $VIGIL_CATALOG or the source
// tree's models/catalog.json; files go to --dir, else vigil::models_dir().
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/cli_app.h"
#include "core/error.h"
#include "core/paths.h"
#include "models/model_catalog.h"
#include "models/model_hash.h"
#include "models/model_store.h"
#include "models/model_synth.h"

namespace vigil::cli {

namespace {

using namespace vigil::models;

struct ModelsArgs {
    std::string dir;  // empty: vigil::models_dir()
    std::vector<std::string> names;
    std::string from;
    std::string role;
    bool hash_all = false;
    std::string shape = "tiny";
    std::string out;
    uint64_t seed = 1;
    std::string weights = "default";
};

std::filesystem::path chosen_models_dir(const ModelsArgs& args) {
    return args.dir.empty() ? vigil::models_dir() : std::filesystem::path(args.dir);
}

std::string format_size(std::optional<uint64_t> bytes) {
    if (!bytes) return "unknown";
    double value = static_cast<double>(*bytes);
    const char* units[] = {"B", "KiB", "MiB", "GiB"};
    int unit = 0;
    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        ++unit;
    }
    std::ostringstream out;
    out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << " " << units[unit];
    return out.str();
}

// The catalog entries the user named, in their order; all when none named.
std::vector<const ModelEntry*> selected(const Catalog& catalog, const std::vector<std::string>& names) {
    std::vector<const ModelEntry*> out;
    if (names.empty()) {
        for (const auto& entry : catalog.entries()) out.push_back(&entry);
    } else {
        for (const auto& name : names) out.push_back(&catalog.at(name));  // throws listing known names
    }
    return out;
}

// Whether any file that is only this model's is present: coco.names, shared
// by every detector, does not make all of them "partly installed".
bool has_own_files(const Catalog& catalog, const ModelEntry& entry, const std::vector<FileStatus>& files) {
    for (const auto& status : files) {
        if (status.state == FileState::missing) continue;
        bool shared = false;
        for (const auto& other : catalog.entries()) {
            if (&other == &entry) continue;
            for (const auto& file : other.files) shared |= file.path == status.file->path;
        }
        if (!shared) return true;
    }
    return false;
}

std::string verified_column(const std::vector<FileStatus>& files) {
    if (!is_installed(files)) return "-";
    bool unchecked = false, unpinned = false;
    for (const auto& file : files) {
        if (file.state == FileState::corrupt) return "NO (checksum mismatch)";
        unchecked |= file.state == FileState::unchecked;
        unpinned |= file.state == FileState::unpinned;
    }
    if (unchecked) return "not yet (run verify)";
    return unpinned ? "no pinned hash" : "yes";
}

void run_list(const ModelsArgs& args) {
    const auto catalog = load_default_catalog();
    const auto dir = chosen_models_dir(args);
    HashMemo memo(HashMemo::default_file());

    struct Row {
        std::string name, kind, size, licence, installed, verified;
    };
    std::vector<Row> rows{{"NAME", "KIND", "SIZE", "LICENCE", "INSTALLED", "VERIFIED"}};
    for (const auto& entry : catalog.entries()) {
        auto files = check_model(entry, dir, args.hash_all ? CheckDepth::full : CheckDepth::memo, &memo);
        std::string installed = is_installed(files) ? "yes" : "no";
        if (!is_installed(files) && has_own_files(catalog, entry, files)) {
            int present = 0;
            for (const auto& file : files) present += file.state != FileState::missing;
            installed = "partly (" + std::to_string(present) + "/" + std::to_string(files.size()) + ")";
        }
        rows.push_back({entry.name, to_string(entry.kind), format_size(entry.total_size()), entry.licence, installed,
                        verified_column(files)});
    }
    std::vector<size_t> widths(6, 0);
    for (const auto& row : rows) {
        const std::string* cells[] = {&row.name, &row.kind, &row.size, &row.licence, &row.installed, &row.verified};
        for (size_t i = 0; i < 6; ++i) widths[i] = std::max(widths[i], cells[i]->size());
    }
    for (const auto& row : rows) {
        const std::string* cells[] = {&row.name, &row.kind, &row.size, &row.licence, &row.installed, &row.verified};
        std::string line;
        for (size_t i = 0; i < 6; ++i) {
            line += *cells[i];
            if (i + 1 < 6) line += std::string(widths[i] - cells[i]->size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
    std::cout << "models directory: " << dir.string() << "\n";
}

void run_pull(const ModelsArgs& args) {
    const auto catalog = load_default_catalog();
    const auto dir = chosen_models_dir(args);
    HashMemo memo(HashMemo::default_file());
    PullOptions options;
    if (!args.from.empty()) {
        if (!std::filesystem::is_directory(args.from)) throw Error("--from " + args.from + ": not a directory");
        options.from_dir = args.from;
    }
    options.download.progress = &std::cerr;
    options.memo = &memo;
    for (const auto* entry : selected(catalog, args.names)) {
        std::cout << entry->name << ":\n";
        options.report = [](const std::string& line) { std::cout << "  " << line << "\n" << std::flush; };
        pull_model(*entry, dir, options);
    }
}

void run_verify(const ModelsArgs& args) {
    const auto catalog = load_default_catalog();
    const auto dir = chosen_models_dir(args);
    HashMemo memo(HashMemo::default_file());
    int problems = 0, checked = 0;
    for (const auto* entry : selected(catalog, args.names)) {
        auto files = check_model(*entry, dir, CheckDepth::full, &memo);
        // Without names, models never pulled are not failures.
        if (args.names.empty() && !has_own_files(catalog, *entry, files)) continue;
        ++checked;
        for (const auto& file : files) {
            std::cout << entry->name << "  " << file.path.string() << "  " << to_string(file.state);
            if (file.state == FileState::corrupt) {
                std::cout << " (expected sha256 " << *file.file->sha256 << ", got " << file.actual_sha256 << ")";
            } else if (file.state == FileState::wrong_size) {
                std::cout << " (expected " << *file.file->size << " bytes, got " << file.actual_size.value_or(0) << ")";
            } else if (file.state == FileState::unpinned) {
                std::cout << " (sha256 " << file.actual_sha256 << ")";
            }
            std::cout << "\n";
            if (file.state == FileState::missing || file.state == FileState::wrong_size ||
                file.state == FileState::corrupt)
                ++problems;
        }
    }
    if (checked == 0) {
        std::cout << "no models installed in " << dir.string() << "\n";
        return;
    }
    if (problems > 0) {
        throw Error(std::to_string(problems) + " file(s) missing or not matching the catalog in " + dir.string() +
                    "; run `vigil models pull NAME` to fetch them again");
    }
    std::cout << "all files match the catalog\n";
}

void run_path(const ModelsArgs& args) {
    const auto catalog = load_default_catalog();
    const auto dir = chosen_models_dir(args);
    const auto& entry = catalog.at(args.names.front());
    // resolve_* gives the friendly "not installed; run pull" error.
    if (entry.kind == ModelKind::vlm)
        resolve_vlm(entry.name, dir, catalog);
    else if (entry.kind == ModelKind::sample)
        resolve_sample(entry.name, dir, catalog);
    else
        resolve_detector(entry.name, dir, catalog);
    bool printed = false;
    for (const auto& file : entry.files) {
        if (!args.role.empty() && file.role != args.role) continue;
        std::cout << (dir / file.path).string() << "\n";
        printed = true;
    }
    if (!printed) {
        std::string roles;
        for (const auto& file : entry.files) roles += (roles.empty() ? "" : ", ") + file.role;
        throw Error("model " + entry.name + " has no file with role \"" + args.role + "\"; its roles: " + roles);
    }
}

void run_synth(const ModelsArgs& args) {
    auto result = synth_vlm(args.shape, args.out, args.seed, parse_synth_weights(args.weights));
    std::cout << "text model: " << result.text_model.string() << "\n"
              << "mmproj:     " << result.mmproj.string() << "\n";
}

void add_dir_option(CLI::App* command, ModelsArgs& args) {
    command->add_option("--dir", args.dir, "Models directory (default: $VIGIL_MODELS_DIR or ~/.cache/vigil/models)");
}

}  // namespace

void add_models_commands(CLI::App& app) {
    auto args = std::make_shared<ModelsArgs>();
    auto* models = app.add_subcommand("models", "List, download, verify and locate models");
    models->require_subcommand(1);

    auto* list = models->add_subcommand("list", "Catalog models with size, licence and install state");
    add_dir_option(list, *args);
    list->add_flag("--hash", args->hash_all, "Hash every installed file now (slow for VLMs)");
    list->callback([args] { run_list(*args); });

    auto* pull = models->add_subcommand("pull", "Download models (or copy them from --from DIR) and verify them");
    pull->add_option("names", args->names, "Model names (see `vigil models list`)")->required();
    pull->add_option("--from", args->from, "Install from this local folder instead of the network");
    add_dir_option(pull, *args);
    pull->callback([args] { run_pull(*args); });

    auto* verify =
        models->add_subcommand("verify", "Recompute sha256 of installed files (all installed models by default)");
    verify->add_option("names", args->names, "Model names; default: every installed model");
    add_dir_option(verify, *args);
    verify->callback([args] { run_verify(*args); });

    auto* path = models->add_subcommand("path", "Print the installed file paths of a model");
    path->add_option("name", args->names, "Model name")->required()->expected(1);
    path->add_option("--role", args->role,
                     "Only the file with this role (text, mmproj, model, config, weights, labels)");
    add_dir_option(path, *args);
    path->callback([args] { run_path(*args); });

    auto* synth = models->add_subcommand("synth", "Write a random-weight VLM pair for tests and benchmarks");
    synth->add_option("--shape", args->shape, "tiny | smolvlm-500m")->required();
    synth->add_option("--out", args->out, "Output folder")->required();
    synth->add_option("--seed", args->seed, "Random seed");
    synth->add_option("--weights", args->weights,
                      "Matrix weight type: default (the released model's: f16 for tiny, q8_0 for smolvlm-500m), "
                      "f16, q8_0, bf16 or f32")
        ->check(CLI::IsMember({"default", "f16", "q8_0", "bf16", "f32"}));
    synth->callback([args] { run_synth(*args); });
}

}  // namespace vigil::cli
