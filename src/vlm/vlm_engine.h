#pragma once
// The VLM stage's one interface. Backends live beside it:
//   vlm_embedded.cpp  llama.cpp + libmtmd in this process
//   vlm_openai.cpp    any OpenAI-compatible /v1/chat/completions server
// Callers build a VlmRequest (prompt, images, optional JSON Schema) and get a
// VlmResponse; when a schema is given, response.json holds a document that
// validated against it, or generate() threw vigil::Error saying why not.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::vlm {

// One image of a request: a file (JPEG/PNG/BMP or "video.mp4@12.5s") or an
// in-memory 8-bit RGB frame. Exactly one of the two is set.
struct VlmImage {
    std::string path;
    cv::Mat rgb;

    static VlmImage from_file(std::string p) { return VlmImage{std::move(p), {}}; }
    static VlmImage from_rgb(cv::Mat m) { return VlmImage{{}, std::move(m)}; }
};

// How many image tokens one image may cost. For tiling projectors
// (idefics3/SmolVLM: one 512x512 tile is 64 tokens, about 1.6 s to encode on
// two cores) Vigil shrinks the image so it needs at most `max_tiles` tiles;
// for dynamic-resolution projectors (Qwen2.5-VL) min/max tokens go to mtmd.
struct ImageBudget {
    int max_tiles = 1;       // 1 = a single tile: the default, fastest
    int min_tokens = -1;     // -1: the model's default
    int max_tokens = -1;     // -1: the model's default
};

struct VlmRequest {
    std::string system_prompt;             // optional
    // Fixed text placed before the images: instructions, answer format and
    // site context that many requests share. The embedded backend keeps its
    // evaluation and reuses it for every request that starts the same way.
    std::string instructions;
    std::string prompt;                    // the request's own text, after the images
    std::vector<VlmImage> images;          // zero or more, between instructions and prompt
    std::optional<nlohmann::json> json_schema;  // constrain + validate output
    int max_tokens = 256;
    float temperature = 0.2f;
    uint32_t seed = 42;
    // Benchmarks only: never stop at end-of-generation, always produce
    // max_tokens tokens (embedded backend).
    bool ignore_eos = false;
    // Benchmarks only: with a schema, decode under its grammar but do not
    // require a complete, valid document (a fixed-length answer is cut short).
    bool validate_output = true;
    ImageBudget image_budget;
    // Absolute deadline for the whole request; generate() throws TimeoutError
    // once it passes. Unset: no deadline.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    // Set to true from another thread to stop generation (CancelledError).
    const std::atomic<bool>* cancel = nullptr;
    // Set to true once the urgent part of the answer is out (an alert's
    // verdict): the embedded backend may then pause this request to serve a
    // newer one first, and resume it when a sequence is free.
    const std::atomic<bool>* background = nullptr;
    // Called with each piece of generated text as soon as it is decoded, in
    // order, from the backend's own thread: keep it short. An exception it
    // throws ends the request with that error. Backends that cannot stream
    // call it once with the whole text.
    std::function<void(std::string_view)> on_text;
};

struct VlmTimings {
    double queue_ms = 0;          // waiting for the backend to take the request
    double image_encode_ms = 0;   // vision encoder + projector, all images
    double prefill_ms = 0;        // text and image embeddings into the KV cache
    double decode_ms = 0;         // token generation
    double first_token_ms = 0;    // from the call to the first generated token
    double total_ms = 0;
    int prompt_tokens = 0;        // text + image tokens of the prompt
    int cached_prompt_tokens = 0; // ... whose evaluation was reused (embedded prefix cache)
    int image_tokens = 0;
    int generated_tokens = 0;     // including tokens the grammar forced (inserted, not sampled)
    int decode_steps = 0;         // model evaluations during generation (one per sampled token)
    int pauses = 0;               // times the request was paused for a newer one
    double prefill_tokens_per_s() const { return prefill_ms > 0 ? prompt_tokens * 1000.0 / prefill_ms : 0; }
    double decode_tokens_per_s() const { return decode_ms > 0 ? generated_tokens * 1000.0 / decode_ms : 0; }
    double decode_steps_per_s() const { return decode_ms > 0 ? decode_steps * 1000.0 / decode_ms : 0; }
};

struct VlmResponse {
    std::string text;                    // raw model output
    std::optional<nlohmann::json> json;  // parsed + validated, when a schema was given
    std::string model;                   // which model answered
    std::string finish_reason;           // "stop" or "length"
    VlmTimings timings;
};

class VlmEngine {
public:
    virtual ~VlmEngine() = default;
    // Thread-safe: concurrent calls are serialised or served in parallel as the
    // backend allows. Throws vigil::Error (TimeoutError, CancelledError).
    virtual VlmResponse generate(const VlmRequest& request) = 0;
    // Human-readable name of the backend and model, e.g. "embedded:text.gguf".
    virtual std::string name() const = 0;
    // True when on_text receives the answer token by token as it is decoded
    // (false: once, at the end).
    virtual bool streams() const { return false; }
};

struct EmbeddedConfig {
    std::string model_path;    // text GGUF
    std::string mmproj_path;   // vision projector GGUF
    std::string lora_path;     // optional LoRA adapter GGUF
    int threads = 0;           // 0: all cores
    int context_size = 4096;   // tokens per request (prompt + answer)
    // Requests decoded at once: each has a sequence of its own in one
    // context, and their tokens are decoded together. Later callers wait for
    // a free sequence, or take one from a request in the background (paused,
    // its state kept in memory, resumed when a sequence is free).
    int parallel = 1;
    // Memory for saved prompt prefixes (VlmRequest::instructions); 0 disables reuse.
    size_t prefix_cache_mb = 256;
    // With a schema, insert the text the grammar leaves no choice about (keys,
    // punctuation, the rest of an enum value) instead of sampling it token by
    // token. Off only to measure the path without it.
    bool insert_forced_text = true;
    bool verbose = false;      // let llama.cpp log to stderr
};

// Loads the model pair once; the engine reuses it for every request.
// Throws vigil::Error for missing, corrupt or mismatched files.
std::unique_ptr<VlmEngine> make_embedded_engine(const EmbeddedConfig& config);

struct OpenAiConfig {
    std::string base_url;      // e.g. http://127.0.0.1:8080 (with or without /v1)
    std::string model;         // sent as "model"; empty: server default
    std::string api_key;       // optional bearer token
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds request_timeout{120000};
    int max_retries = 2;       // on connection errors and 5xx/429
    std::chrono::milliseconds retry_backoff{250};  // doubled each retry
};

std::unique_ptr<VlmEngine> make_openai_engine(const OpenAiConfig& config);

}  // namespace vigil::vlm
