// `vigil describe` and `vigil ask`: one-off questions about images.
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_app.h"
#include "cli/cli_vlm_options.h"
#include "core/error.h"
#include "models/model_catalog.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::cli {
namespace {

constexpr const char* kDefaultVlm = "smolvlm-500m";
constexpr const char* kDescribePrompt =
    "Describe this image in two or three sentences: the scene, the main objects and anything unusual.";

struct GenerationOptions {
    int max_tokens = 256;
    float temperature = 0.2f;
    uint32_t seed = 42;
    int max_tiles = 1;
    double timeout_s = 0;  // 0: none
    bool json_output = false;
};

void add_generation_options(CLI::App& command, GenerationOptions& options) {
    command.add_option("--max-tokens", options.max_tokens, "Most tokens to generate")->check(CLI::Range(1, 32768));
    command.add_option("--temperature", options.temperature, "Sampling temperature (0 = greedy)")
        ->check(CLI::Range(0.0, 5.0));
    command.add_option("--seed", options.seed, "Sampling seed");
    command.add_option("--tiles", options.max_tiles,
                       "Most 512-px tiles one image may cost (more = finer detail, slower)")
        ->check(CLI::Range(1, 64));
    command.add_option("--timeout", options.timeout_s, "Give up after this many seconds (0 = never)")
        ->check(CLI::NonNegativeNumber);
    command.add_flag("--json", options.json_output, "Print the answer with timings as one JSON document");
}

vlm::VlmRequest make_request(const GenerationOptions& options, const std::vector<std::string>& images,
                             std::string prompt) {
    if (images.empty()) throw Error("no image given: pass at least one IMAGE (JPEG, PNG, BMP or video.mp4@SECONDSs)");
    vlm::VlmRequest request;
    request.prompt = std::move(prompt);
    for (const auto& image : images) request.images.push_back(vlm::VlmImage::from_file(image));
    request.max_tokens = options.max_tokens;
    request.temperature = options.temperature;
    request.seed = options.seed;
    request.image_budget.max_tiles = options.max_tiles;
    if (options.timeout_s > 0)
        request.deadline = std::chrono::steady_clock::now() +
                           std::chrono::milliseconds(static_cast<long long>(options.timeout_s * 1000));
    return request;
}

nlohmann::json response_to_json(const vlm::VlmResponse& response) {
    nlohmann::json out;
    out["model"] = response.model;
    out["text"] = response.text;
    if (response.json) out["answer"] = *response.json;
    out["finish_reason"] = response.finish_reason;
    const auto& t = response.timings;
    out["timings"] = {{"image_encode_ms", t.image_encode_ms},     {"prefill_ms", t.prefill_ms},
                      {"decode_ms", t.decode_ms},                 {"total_ms", t.total_ms},
                      {"prompt_tokens", t.prompt_tokens},         {"image_tokens", t.image_tokens},
                      {"generated_tokens", t.generated_tokens},   {"decode_tokens_per_s", t.decode_tokens_per_s()}};
    return out;
}

nlohmann::json load_schema_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error("schema '" + path + "': cannot open file");
    nlohmann::json schema;
    try {
        schema = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error("schema '" + path + "': not valid JSON: " + e.what());
    }
    try {
        vlm::check_schema(schema);
    } catch (const Error& e) {
        throw Error("schema '" + path + "': " + e.what());
    }
    return schema;
}

}  // namespace

void add_vlm_selection_options(CLI::App& command, VlmSelection& selection) {
    command.add_option("--vlm", selection.vlm_name, "Installed catalog VLM (see `vigil models list`)");
    command.add_option("--model", selection.model_path, "Text model GGUF (with --mmproj)");
    command.add_option("--mmproj", selection.mmproj_path, "Vision projector GGUF (with --model)");
    command.add_option("--lora", selection.lora_path, "LoRA adapter GGUF for the embedded model");
    command.add_option("--server", selection.server_url, "OpenAI-compatible server base URL, e.g. http://127.0.0.1:8080");
    command.add_option("--server-model", selection.server_model, "Model name to ask the server for");
    command.add_option("--threads", selection.threads, "CPU threads for the embedded model (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
    command.add_option("--ctx", selection.context_size, "Context size in tokens")->check(CLI::Range(512, 131072));
    command.add_flag("--verbose-llama", selection.verbose_llama, "Show llama.cpp's own log");
}

std::unique_ptr<vlm::VlmEngine> open_vlm_engine(const VlmSelection& selection) {
    const bool has_files = !selection.model_path.empty() || !selection.mmproj_path.empty();
    const int chosen = (has_files ? 1 : 0) + (!selection.server_url.empty() ? 1 : 0) + (!selection.vlm_name.empty() ? 1 : 0);
    if (chosen > 1) throw Error("choose one of --vlm NAME, --model F --mmproj F, or --server URL");
    if (!selection.lora_path.empty() && !selection.server_url.empty())
        throw Error("a LoRA adapter applies to the embedded model; an OpenAI-compatible server loads its own adapters");
    if (!selection.server_url.empty()) {
        vlm::OpenAiConfig config;
        config.base_url = selection.server_url;
        config.model = selection.server_model;
        return vlm::make_openai_engine(config);
    }
    vlm::EmbeddedConfig config;
    config.threads = selection.threads;
    config.context_size = selection.context_size;
    config.parallel = selection.parallel;
    config.prefix_cache_mb = static_cast<size_t>(selection.prefix_cache_mb);
    config.verbose = selection.verbose_llama;
    config.lora_path = selection.lora_path;
    if (has_files) {
        if (selection.model_path.empty() || selection.mmproj_path.empty())
            throw Error("--model and --mmproj go together: pass both the text GGUF and the vision projector GGUF");
        config.model_path = selection.model_path;
        config.mmproj_path = selection.mmproj_path;
    } else {
        const std::string name = selection.vlm_name.empty() ? kDefaultVlm : selection.vlm_name;
        const auto files = models::resolve_vlm(name);
        config.model_path = files.text_model.string();
        config.mmproj_path = files.mmproj.string();
    }
    return vlm::make_embedded_engine(config);
}

void add_vlm_commands(CLI::App& app) {
    struct DescribeArgs {
        VlmSelection vlm;
        GenerationOptions generation;
        std::vector<std::string> images;
        std::string prompt = kDescribePrompt;
    };
    auto describe_args = std::make_shared<DescribeArgs>();
    auto* describe = app.add_subcommand("describe", "Describe one or more images with the VLM");
    add_vlm_selection_options(*describe, describe_args->vlm);
    add_generation_options(*describe, describe_args->generation);
    describe->add_option("--prompt", describe_args->prompt, "Instruction to the model");
    describe->add_option("images", describe_args->images, "Images: JPEG, PNG, BMP, or video.mp4@12.5s")->required();
    describe->callback([describe_args] {
        auto engine = open_vlm_engine(describe_args->vlm);
        auto response = engine->generate(make_request(describe_args->generation, describe_args->images,
                                                      describe_args->prompt));
        if (describe_args->generation.json_output) std::cout << response_to_json(response).dump(2) << "\n";
        else std::cout << response.text << "\n";
    });

    struct AskArgs {
        VlmSelection vlm;
        GenerationOptions generation;
        std::vector<std::string> inputs;  // images..., question
        std::string schema_path;
    };
    auto ask_args = std::make_shared<AskArgs>();
    auto* ask = app.add_subcommand("ask", "Ask a question about one or more images; with --schema, answer as JSON");
    add_vlm_selection_options(*ask, ask_args->vlm);
    add_generation_options(*ask, ask_args->generation);
    ask->add_option("--schema", ask_args->schema_path, "JSON Schema the answer must validate against");
    ask->add_option("inputs", ask_args->inputs, "IMAGE... QUESTION")->required()->expected(2, -1);
    ask->callback([ask_args] {
        std::vector<std::string> images(ask_args->inputs.begin(), ask_args->inputs.end() - 1);
        const std::string question = ask_args->inputs.back();
        if (question.empty()) throw Error("the question (last argument) is empty");
        auto request = make_request(ask_args->generation, images, question);
        if (!ask_args->schema_path.empty()) {
            request.json_schema = load_schema_file(ask_args->schema_path);
            request.prompt += "\nAnswer with one JSON document that follows this JSON Schema:\n" +
                              request.json_schema->dump();
        }
        auto engine = open_vlm_engine(ask_args->vlm);
        auto response = engine->generate(request);
        if (ask_args->generation.json_output) std::cout << response_to_json(response).dump(2) << "\n";
        else if (response.json) std::cout << response.json->dump(2) << "\n";
        else std::cout << response.text << "\n";
    });
}

}  // namespace vigil::cli
