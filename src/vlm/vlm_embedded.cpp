// The embedded VLM backend: llama.cpp + libmtmd in this process.
//
// One llama_context serves every request (a mutex serialises them), so the
// text model and the projector load once. Prompt evaluation is done chunk by
// chunk rather than with mtmd_helper_eval_chunks so that image encoding (the
// vision tower) and text prefill are timed apart. Settings that decide speed
// (n_batch 2048, n_ubatch 512, flash attention auto, one thread count for
// llama and mtmd, a persistent ggml threadpool) are the ones llama-mtmd-cli
// uses, so `vigil bench vlm` compares like with like.
#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "core/image_io.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_image_prep.h"
#include "vlm/vlm_json_schema.h"

namespace vigil::vlm {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ---- logging ---------------------------------------------------------------

std::atomic<bool> g_llama_verbose{false};
// Error lines llama.cpp/ggml/mtmd logged on this thread, so a failed load can
// say why instead of "returned null". Loads run on the caller's thread.
thread_local std::string t_llama_errors;
thread_local ggml_log_level t_last_level = GGML_LOG_LEVEL_INFO;

void llama_log_to_spdlog(ggml_log_level level, const char* text, void* /*user_data*/) {
    if (level == GGML_LOG_LEVEL_CONT) {
        level = t_last_level;
    } else {
        t_last_level = level;
    }
    if (level == GGML_LOG_LEVEL_ERROR && text != nullptr) {
        t_llama_errors += text;
        if (t_llama_errors.size() > 4000) {
            t_llama_errors.erase(0, t_llama_errors.size() - 4000);
        }
    }
    if (g_llama_verbose.load(std::memory_order_relaxed)) {
        std::fputs(text, stderr);
        return;
    }
    std::string line = text != nullptr ? text : "";
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.pop_back();
    }
    if (!line.empty()) {
        spdlog::debug("llama.cpp: {}", line);
    }
}

// The last few error lines, one line, for an Error message.
std::string take_llama_errors() {
    std::string text;
    text.swap(t_llama_errors);
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (text.size() > 600) {
        text = "..." + text.substr(text.size() - 600);
    }
    return text;
}

void init_llama_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(llama_log_to_spdlog, nullptr);
        mtmd_helper_log_set(llama_log_to_spdlog, nullptr);
        ggml_backend_load_all();
        llama_backend_init();
    });
}

// ---- file checks -----------------------------------------------------------

// Catches the files llama.cpp would reject with a bare "failed to load":
// missing, not GGUF, or cut short (the tensor data the header promises is not
// all there).
void check_gguf_file(const std::string& path, const std::string& what) {
    if (path.empty()) {
        throw Error(fmt::format("{} path is empty", what));
    }
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw Error(fmt::format("{} '{}' does not exist", what, path));
    }
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw Error(fmt::format("{} '{}' is not a regular file", what, path));
    }
    const auto file_size = std::filesystem::file_size(path, ec);
    char magic[4] = {};
    {
        std::ifstream in(path, std::ios::binary);
        in.read(magic, sizeof magic);
        if (in.gcount() != sizeof magic || std::string(magic, 4) != "GGUF") {
            throw Error(fmt::format("{} '{}' is not a GGUF file (it does not start with the 'GGUF' magic)", what,
                                    path));
        }
    }
    gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
    gguf_context* gguf = gguf_init_from_file(path.c_str(), params);
    if (gguf == nullptr) {
        const std::string detail = take_llama_errors();
        throw Error(fmt::format("{} '{}' is a corrupt or truncated GGUF file (its header cannot be read{}{})", what,
                                path, detail.empty() ? "" : ": ", detail));
    }
    uint64_t data_end = gguf_get_data_offset(gguf);
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf); ++i) {
        data_end = std::max<uint64_t>(data_end, gguf_get_data_offset(gguf) + gguf_get_tensor_offset(gguf, i) +
                                                    gguf_get_tensor_size(gguf, i));
    }
    gguf_free(gguf);
    if (!ec && file_size < data_end) {
        throw Error(fmt::format("{} '{}' is truncated: its header describes {} bytes but the file has {}", what, path,
                                data_end, file_size));
    }
}

// ---- RAII for llama.cpp handles ---------------------------------------------

struct ModelDeleter {
    void operator()(llama_model* m) const { llama_model_free(m); }
};
struct ContextDeleter {
    void operator()(llama_context* c) const { llama_free(c); }
};
struct MtmdDeleter {
    void operator()(mtmd_context* c) const { mtmd_free(c); }
};
struct SamplerDeleter {
    void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
struct ChunksDeleter {
    void operator()(mtmd_input_chunks* c) const { mtmd_input_chunks_free(c); }
};
struct BitmapDeleter {
    void operator()(mtmd_bitmap* b) const { mtmd_bitmap_free(b); }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using MtmdPtr = std::unique_ptr<mtmd_context, MtmdDeleter>;
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;
using ChunksPtr = std::unique_ptr<mtmd_input_chunks, ChunksDeleter>;
using BitmapPtr = std::unique_ptr<mtmd_bitmap, BitmapDeleter>;

// A persistent ggml CPU threadpool, as llama-mtmd-cli attaches one; without
// it ggml starts and joins threads for every decoded token. Looked up through
// the backend registry so Vigil does not link ggml-cpu directly.
class CpuThreadpool {
public:
    explicit CpuThreadpool(int n_threads) {
        ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
        if (cpu == nullptr) return;
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
        auto* create = reinterpret_cast<ggml_threadpool_t (*)(ggml_threadpool_params*)>(
            ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new"));
        free_ = reinterpret_cast<void (*)(ggml_threadpool_t)>(
            ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free"));
        if (create == nullptr || free_ == nullptr) return;
        ggml_threadpool_params params = ggml_threadpool_params_default(n_threads);
        pool_ = create(&params);
    }
    ~CpuThreadpool() {
        if (pool_ != nullptr) free_(pool_);
    }
    CpuThreadpool(const CpuThreadpool&) = delete;
    CpuThreadpool& operator=(const CpuThreadpool&) = delete;
    ggml_threadpool_t get() const { return pool_; }

private:
    ggml_threadpool_t pool_ = nullptr;
    void (*free_)(ggml_threadpool_t) = nullptr;
};

// What the abort callback and the token loop check: the current request's
// deadline and cancel flag.
struct Interrupt {
    std::optional<Clock::time_point> deadline;
    const std::atomic<bool>* cancel = nullptr;

    bool cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
    bool timed_out() const { return deadline && Clock::now() >= *deadline; }
    bool triggered() const { return cancelled() || timed_out(); }

    // Throws CancelledError / TimeoutError when one applies.
    void check(const char* stage) const {
        if (cancelled()) {
            throw CancelledError(fmt::format("VLM request cancelled ({})", stage));
        }
        if (timed_out()) {
            throw TimeoutError(fmt::format("VLM request deadline passed ({})", stage));
        }
    }
};

// One-token batch with explicit positions (M-RoPE models place text after an
// image by position, not by KV cache length).
struct TokenBatch {
    llama_batch batch = llama_batch_init(1, 0, 1);
    TokenBatch() = default;
    TokenBatch(const TokenBatch&) = delete;
    TokenBatch& operator=(const TokenBatch&) = delete;
    ~TokenBatch() { llama_batch_free(batch); }
};

// Every token's text as the grammar reads it, and the tokens grouped by the
// ASCII byte their text starts with, with for each such byte a token that is
// that byte alone. A grammar that rejects the one-byte token rejects every
// token starting with that byte (it matches text a character at a time), so
// one probe per byte rules out much of a large vocabulary before the grammar
// looks at single tokens.
struct VocabPieces {
    static constexpr int16_t kOther = -1;  // special, empty, or starts with a non-ASCII byte
    std::vector<std::string> text;
    std::vector<int16_t> first_byte;
    std::array<llama_token, 128> one_byte_token{};

    explicit VocabPieces(const llama_vocab* vocab) {
        one_byte_token.fill(LLAMA_TOKEN_NULL);
        const int n_vocab = llama_vocab_n_tokens(vocab);
        text.resize(static_cast<size_t>(n_vocab));
        first_byte.assign(static_cast<size_t>(n_vocab), kOther);
        std::vector<char> piece(64);
        for (llama_token t = 0; t < n_vocab; ++t) {
            // The grammar reads pieces rendered with special tokens as text.
            int32_t n = llama_token_to_piece(vocab, t, piece.data(), static_cast<int32_t>(piece.size()), 0, true);
            if (n < 0) {  // longer than the buffer, which llama.cpp then leaves unwritten
                piece.resize(static_cast<size_t>(-n));
                n = llama_token_to_piece(vocab, t, piece.data(), static_cast<int32_t>(piece.size()), 0, true);
            }
            if (n > 0) text[static_cast<size_t>(t)].assign(piece.data(), static_cast<size_t>(n));
            if (n <= 0 || llama_vocab_is_eog(vocab, t) || llama_vocab_is_control(vocab, t)) continue;
            const auto byte = static_cast<unsigned char>(piece[0]);
            if (byte == 0 || byte >= 0x80) continue;
            first_byte[static_cast<size_t>(t)] = static_cast<int16_t>(byte);
            if (n == 1 && one_byte_token[byte] == LLAMA_TOKEN_NULL) {
                one_byte_token[byte] = t;
            }
        }
        // Without a probe, a byte's tokens are left for the grammar to judge.
        for (int16_t& b : first_byte) {
            if (b != kOther && one_byte_token[static_cast<size_t>(b)] == LLAMA_TOKEN_NULL) b = kOther;
        }
    }
};

// Picks each generated token: greedy, or temperature + seeded sampling, and
// for structured output a grammar the token must satisfy.
//
// Running the grammar over the whole vocabulary costs tens of milliseconds
// per token, far more than a small model's decode, so the sampler first draws
// from the unconstrained distribution and asks the grammar about that one
// token. A real model's draw is nearly always allowed. When it is not, the
// draw must be redone from the distribution restricted to allowed tokens;
// rather than filter every token for that, rank all tokens by a key whose
// maximum is such a draw (the logit for greedy; logit / temperature plus
// Gumbel noise otherwise: the Gumbel-max trick) and ask the grammar about
// growing slices of the ranking until one is allowed: the best allowed key in
// the first slice holding one is the best allowed overall. Both steps are
// exact, so the output follows the grammar-constrained distribution (greedy
// picks the same token as filtering everything first), and a fixed seed
// repeats the output.
class TokenSampler {
public:
    TokenSampler(const llama_vocab* vocab, const VocabPieces& pieces, float temperature, uint32_t seed,
                 const std::vector<llama_token>& banned, const std::string& grammar)
        : pieces_(pieces),
          temperature_(temperature),
          banned_(pieces.first_byte.size(), false),
          noise_(seed ^ 0x9e3779b9u) {
        chain_.reset(llama_sampler_chain_init(llama_sampler_chain_default_params()));
        if (!banned.empty()) {
            std::vector<llama_logit_bias> bias;
            for (llama_token t : banned) {
                bias.push_back({t, -INFINITY});
                banned_[static_cast<size_t>(t)] = true;
            }
            llama_sampler_chain_add(chain_.get(), llama_sampler_init_logit_bias(llama_vocab_n_tokens(vocab),
                                                                                static_cast<int32_t>(bias.size()),
                                                                                bias.data()));
        }
        if (greedy()) {
            llama_sampler_chain_add(chain_.get(), llama_sampler_init_greedy());
        } else {
            llama_sampler_chain_add(chain_.get(), llama_sampler_init_temp(temperature));
            llama_sampler_chain_add(chain_.get(), llama_sampler_init_dist(seed));
        }
        if (!grammar.empty()) {
            grammar_.reset(llama_sampler_init_grammar(vocab, grammar.c_str(), "root"));
            if (!grammar_) {
                throw Error(fmt::format("llama.cpp rejected the grammar built from the JSON schema: {}",
                                        take_llama_errors()));
            }
        }
    }

    // Samples from the last logits of `ctx` and advances the chain and the
    // grammar past the chosen token, once each.
    llama_token sample(llama_context* ctx) {
        const float* logits = llama_get_logits_ith(ctx, -1);
        if (logits == nullptr) {
            throw Error("llama.cpp returned no logits to sample the next token from");
        }
        llama_token token = sample_unconstrained(logits);
        if (grammar_ && !(keeps_utf8(token) && grammar_allows(token))) {
            ++redraws_;
            token = sample_allowed(logits);
        }
        if (grammar_) {
            llama_sampler_accept(grammar_.get(), token);
            text_.append(pieces_.text[static_cast<size_t>(token)]);
        }
        llama_sampler_accept(chain_.get(), token);
        return token;
    }

    // How many draws the grammar rejected.
    int redraws() const { return redraws_; }

private:
    static constexpr size_t kFirstSlice = 64;
    static constexpr size_t kSliceGrowth = 8;

    bool greedy() const { return temperature_ <= 0.0f; }

    llama_token sample_unconstrained(const float* logits) {
        candidates_.resize(banned_.size());
        for (size_t i = 0; i < candidates_.size(); ++i) {
            candidates_[i] = llama_token_data{static_cast<llama_token>(i), logits[i], 0.0f};
        }
        llama_token_data_array all{candidates_.data(), candidates_.size(), /*selected=*/-1, /*sorted=*/false};
        llama_sampler_apply(chain_.get(), &all);
        if (all.selected < 0 || static_cast<size_t>(all.selected) >= all.size) {
            throw Error("the sampling chain selected no token");
        }
        return all.data[all.selected].id;
    }

    // Structured output must stay well-formed UTF-8: llama.cpp's grammar
    // decodes a lead byte followed by anything as one character, which would
    // let ill-formed bytes through that count as several characters later.
    bool keeps_utf8(llama_token token) const { return text_.can_append(pieces_.text[static_cast<size_t>(token)]); }

    bool grammar_allows(llama_token token) {
        llama_token_data one{token, 0.0f, 0.0f};
        llama_token_data_array single{&one, 1, /*selected=*/-1, /*sorted=*/false};
        llama_sampler_apply(grammar_.get(), &single);
        return std::isfinite(one.logit);
    }

    // Which ASCII bytes the grammar accepts as the next character.
    std::array<bool, 128> allowed_first_bytes() {
        probes_.clear();
        for (llama_token t : pieces_.one_byte_token) {
            if (t != LLAMA_TOKEN_NULL) probes_.push_back(llama_token_data{t, 0.0f, 0.0f});
        }
        llama_token_data_array probe_array{probes_.data(), probes_.size(), /*selected=*/-1, /*sorted=*/false};
        llama_sampler_apply(grammar_.get(), &probe_array);
        std::array<bool, 128> allowed{};
        for (const llama_token_data& probe : probes_) {
            allowed[static_cast<size_t>(pieces_.first_byte[static_cast<size_t>(probe.id)])] =
                std::isfinite(probe.logit);
        }
        return allowed;
    }

    // Each candidate's logit field holds its ranking key; the grammar sets
    // it to -inf when it forbids the token.
    llama_token sample_allowed(const float* logits) {
        const std::array<bool, 128> byte_allowed = allowed_first_bytes();
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        candidates_.clear();
        for (size_t i = 0; i < banned_.size(); ++i) {
            const int16_t first = pieces_.first_byte[i];
            if (banned_[i] || !std::isfinite(logits[i]) ||
                (first != VocabPieces::kOther && !byte_allowed[static_cast<size_t>(first)]) ||
                !keeps_utf8(static_cast<llama_token>(i))) {
                continue;
            }
            float key = logits[i];
            if (!greedy()) {
                const double u = std::max(uniform(noise_), 1e-300);
                key = static_cast<float>(key / temperature_ - std::log(-std::log(u)));
            }
            candidates_.push_back(llama_token_data{static_cast<llama_token>(i), key, 0.0f});
        }
        const auto higher_key = [](const llama_token_data& a, const llama_token_data& b) { return a.logit > b.logit; };
        const auto begin = candidates_.begin();
        const auto end = candidates_.end();
        size_t ranked = 0;
        for (size_t slice = kFirstSlice; ranked < candidates_.size(); slice *= kSliceGrowth) {
            const size_t slice_end = std::min(candidates_.size(), ranked + slice);
            std::nth_element(begin + static_cast<std::ptrdiff_t>(ranked), begin + static_cast<std::ptrdiff_t>(slice_end),
                             end, higher_key);
            llama_token_data_array part{candidates_.data() + ranked, slice_end - ranked, /*selected=*/-1,
                                        /*sorted=*/false};
            llama_sampler_apply(grammar_.get(), &part);
            const llama_token_data* best = nullptr;
            for (size_t i = 0; i < part.size; ++i) {
                if (std::isfinite(part.data[i].logit) && (best == nullptr || part.data[i].logit > best->logit)) {
                    best = &part.data[i];
                }
            }
            if (best != nullptr) {
                return best->id;
            }
            ranked = slice_end;
        }
        throw Error("the JSON schema's grammar allows no token the model can produce here");
    }

    const VocabPieces& pieces_;
    Utf8Stream text_;  // what the grammar has accepted so far, for UTF-8 well-formedness
    float temperature_;
    SamplerPtr chain_;
    SamplerPtr grammar_;
    std::vector<llama_token_data> candidates_;
    std::vector<bool> banned_;
    std::vector<llama_token_data> probes_;
    std::mt19937 noise_;
    int redraws_ = 0;
};

bool abort_requested(void* data) { return static_cast<const Interrupt*>(data)->triggered(); }

constexpr int kBatchSize = 2048;     // llama-mtmd-cli's n_batch
constexpr int kUbatchSize = 512;     // and n_ubatch
constexpr size_t kMaxMtmdContexts = 4;  // projector instances kept for distinct image budgets

class EmbeddedEngine final : public VlmEngine {
public:
    explicit EmbeddedEngine(const EmbeddedConfig& config) : config_(config) {
        init_llama_once();
        take_llama_errors();
        if (config.verbose) {
            g_llama_verbose = true;
        }
        threads_ = config.threads > 0 ? config.threads
                                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
        if (config.context_size < 64) {
            throw Error(fmt::format("context_size must be at least 64 tokens (got {})", config.context_size));
        }
        check_gguf_file(config.model_path, "text model");
        check_gguf_file(config.mmproj_path, "vision projector (mmproj)");
        if (!config.lora_path.empty()) {
            check_gguf_file(config.lora_path, "LoRA adapter");
        }
        projector_ = read_projector_info(config.mmproj_path);
        load_text_model();
        if (projector_.projection_dim > 0 && projector_.projection_dim != llama_model_n_embd_inp(model_.get())) {
            throw Error(fmt::format(
                "vision projector '{}' does not match text model '{}': the projector outputs {}-dim embeddings, "
                "the text model takes {}; use the mmproj file released with this text model",
                config.mmproj_path, config.model_path, projector_.projection_dim,
                llama_model_n_embd_inp(model_.get())));
        }
        default_limits_ = image_token_limits(projector_, ImageBudget{});
        mtmd_for(default_limits_);
        spdlog::debug("embedded VLM ready: {} + {} ({} threads, context {}, projector {})", config.model_path,
                      config.mmproj_path, threads_, config.context_size, projector_.type);
    }

    std::string name() const override {
        return "embedded:" + std::filesystem::path(config_.model_path).filename().string();
    }

    VlmResponse generate(const VlmRequest& request) override {
        std::lock_guard lock(mutex_);
        const auto t_start = Clock::now();
        take_llama_errors();
        interrupt_ = Interrupt{request.deadline, request.cancel};
        struct ClearInterrupt {
            Interrupt& interrupt;
            ~ClearInterrupt() { interrupt = Interrupt{}; }
        } clear_interrupt{interrupt_};
        interrupt_.check("before start");

        if (request.max_tokens < 1) {
            throw Error(fmt::format("max_tokens must be at least 1 (got {})", request.max_tokens));
        }
        const std::string marker = mtmd_default_marker();
        if (request.prompt.find(marker) != std::string::npos ||
            request.system_prompt.find(marker) != std::string::npos) {
            throw Error(fmt::format("the prompt contains '{}', which is reserved for image placement", marker));
        }
        std::string grammar;
        if (request.json_schema) {
            grammar = schema_to_gbnf(*request.json_schema);
        }

        mtmd_context* mtmd = mtmd_for(image_token_limits(projector_, request.image_budget));
        std::vector<BitmapPtr> bitmaps;
        for (size_t i = 0; i < request.images.size(); ++i) {
            bitmaps.push_back(make_bitmap(request.images[i], i, request.image_budget));
        }
        interrupt_.check("after loading images");

        const std::string prompt = format_prompt(request);
        spdlog::debug("VLM prompt: {}", prompt);
        ChunksPtr chunks = tokenize(mtmd, prompt, bitmaps);
        VlmTimings timings;
        const size_t n_chunks = mtmd_input_chunks_size(chunks.get());
        for (size_t i = 0; i < n_chunks; ++i) {
            const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks.get(), i);
            const int n = static_cast<int>(mtmd_input_chunk_get_n_tokens(chunk));
            timings.prompt_tokens += n;
            if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_IMAGE) {
                timings.image_tokens += n;
            }
        }
        const int prompt_positions = static_cast<int>(mtmd_helper_get_n_pos(chunks.get()));
        const int n_ctx = static_cast<int>(llama_n_ctx(ctx_.get()));
        if (prompt_positions + request.max_tokens > n_ctx) {
            throw Error(fmt::format(
                "the request needs {} prompt tokens ({} of them for {} image(s)) plus max_tokens={}, more than "
                "context_size={}; raise context_size, lower max_tokens or shrink the image budget",
                prompt_positions, timings.image_tokens, request.images.size(), request.max_tokens, n_ctx));
        }

        llama_memory_clear(llama_get_memory(ctx_.get()), true);
        const llama_pos n_past = evaluate_prompt(mtmd, chunks.get(), timings);
        bitmaps.clear();
        chunks.reset();

        VlmResponse response = sample_response(request, grammar, n_past, timings);
        // Token pieces are bytes: the limit can cut a character in half.
        response.text = sanitize_utf8(response.text);
        response.timings.total_ms = ms_since(t_start);
        response.model = name();
        if (request.json_schema) {
            if (response.finish_reason == "length") {
                throw Error(fmt::format(
                    "structured output reached max_tokens={} before the JSON document was complete; raise "
                    "max_tokens (output so far: '{}')",
                    request.max_tokens, response.text.substr(0, 200)));
            }
            response.json = parse_and_validate(*request.json_schema, response.text);
        }
        return response;
    }

private:
    void load_text_model() {
        llama_model_params model_params = llama_model_default_params();
        model_.reset(llama_model_load_from_file(config_.model_path.c_str(), model_params));
        if (!model_) {
            const std::string detail = take_llama_errors();
            throw Error(fmt::format("text model '{}' could not be loaded by llama.cpp (corrupt, truncated or an "
                                    "unsupported architecture){}{}",
                                    config_.model_path, detail.empty() ? "" : ": ", detail));
        }
        vocab_ = llama_model_get_vocab(model_.get());

        llama_context_params ctx_params = llama_context_default_params();
        ctx_params.n_ctx = static_cast<uint32_t>(config_.context_size);
        ctx_params.n_batch = kBatchSize;
        ctx_params.n_ubatch = kUbatchSize;
        ctx_params.n_seq_max = 1;
        ctx_params.n_threads = threads_;
        ctx_params.n_threads_batch = threads_;
        ctx_params.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
        ctx_params.abort_callback = abort_requested;
        ctx_params.abort_callback_data = &interrupt_;
        ctx_.reset(llama_init_from_model(model_.get(), ctx_params));
        if (!ctx_) {
            const std::string detail = take_llama_errors();
            throw Error(fmt::format("cannot create a llama.cpp context of {} tokens for '{}'{}{}", config_.context_size,
                                    config_.model_path, detail.empty() ? "" : ": ", detail));
        }
        threadpool_ = std::make_unique<CpuThreadpool>(threads_);
        if (threadpool_->get() != nullptr) {
            llama_attach_threadpool(ctx_.get(), threadpool_->get(), nullptr);
        }

        if (!config_.lora_path.empty()) {
            lora_ = llama_adapter_lora_init(model_.get(), config_.lora_path.c_str());
            if (lora_ == nullptr) {
                const std::string detail = take_llama_errors();
                throw Error(fmt::format("LoRA adapter '{}' does not fit text model '{}'{}{}", config_.lora_path,
                                        config_.model_path, detail.empty() ? "" : ": ", detail));
            }
            float scale = 1.0f;
            if (llama_set_adapters_lora(ctx_.get(), &lora_, 1, &scale) != 0) {
                throw Error(fmt::format("cannot apply LoRA adapter '{}'", config_.lora_path));
            }
        }

        if (const char* tmpl = llama_model_chat_template(model_.get(), nullptr)) {
            chat_template_ = tmpl;
        }
        vocab_pieces_ = std::make_unique<VocabPieces>(vocab_);
        const int n_vocab = llama_vocab_n_tokens(vocab_);
        for (llama_token t = 0; t < n_vocab; ++t) {
            if (llama_vocab_is_eog(vocab_, t)) {
                eog_tokens_.push_back(t);
            }
        }
    }

    // libmtmd reads image token limits when the projector loads, so each
    // distinct budget needs its own instance; the default one is made at load.
    mtmd_context* mtmd_for(const ImageTokenLimits& limits) {
        if (auto it = mtmd_by_limits_.find(limits); it != mtmd_by_limits_.end()) {
            return it->second.get();
        }
        if (mtmd_by_limits_.size() >= kMaxMtmdContexts) {
            for (auto it = mtmd_by_limits_.begin(); it != mtmd_by_limits_.end(); ++it) {
                if (!(it->first == default_limits_)) {
                    mtmd_by_limits_.erase(it);
                    break;
                }
            }
        }
        mtmd_context_params params = mtmd_context_params_default();
        params.use_gpu = false;
        params.print_timings = false;
        params.n_threads = threads_;
        params.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
        params.warmup = true;
        params.image_min_tokens = limits.min_tokens;
        params.image_max_tokens = limits.max_tokens;
        MtmdPtr mtmd(mtmd_init_from_file(config_.mmproj_path.c_str(), model_.get(), params));
        if (!mtmd) {
            const std::string detail = take_llama_errors();
            if (detail.find("mismatch") != std::string::npos) {
                throw Error(fmt::format("vision projector '{}' does not match text model '{}': {}", config_.mmproj_path,
                                        config_.model_path, detail));
            }
            throw Error(fmt::format("vision projector '{}' could not be loaded by libmtmd{}{}", config_.mmproj_path,
                                    detail.empty() ? "" : ": ", detail));
        }
        if (!mtmd_support_vision(mtmd.get())) {
            throw Error(fmt::format("'{}' has no vision encoder; expected an image mmproj", config_.mmproj_path));
        }
        spdlog::debug("libmtmd projector loaded (image tokens min {} max {})", limits.min_tokens, limits.max_tokens);
        return mtmd_by_limits_.emplace(limits, std::move(mtmd)).first->second.get();
    }

    BitmapPtr make_bitmap(const VlmImage& image, size_t index, const ImageBudget& budget) {
        cv::Mat rgb;
        if (!image.path.empty()) {
            rgb = load_image_rgb(image.path);
        } else {
            if (image.rgb.empty()) {
                throw Error(fmt::format("image {} of the request is empty (neither a path nor pixels)", index + 1));
            }
            if (image.rgb.type() != CV_8UC3) {
                throw Error(fmt::format("image {} of the request must be 8-bit RGB with 3 channels (got {} channels, "
                                        "depth {})",
                                        index + 1, image.rgb.channels(), image.rgb.depth()));
            }
            rgb = image.rgb;
        }
        rgb = fit_image_to_budget(rgb, projector_, budget);
        if (!rgb.isContinuous()) {
            rgb = rgb.clone();
        }
        BitmapPtr bitmap(mtmd_bitmap_init(static_cast<uint32_t>(rgb.cols), static_cast<uint32_t>(rgb.rows), rgb.data));
        if (!bitmap) {
            throw Error(fmt::format("libmtmd rejected image {} ({}x{})", index + 1, rgb.cols, rgb.rows));
        }
        return bitmap;
    }

    std::string format_prompt(const VlmRequest& request) const {
        std::string user;
        for (size_t i = 0; i < request.images.size(); ++i) {
            user += mtmd_default_marker();
        }
        user += request.prompt;
        std::vector<llama_chat_message> messages;
        if (!request.system_prompt.empty()) {
            messages.push_back({"system", request.system_prompt.c_str()});
        }
        messages.push_back({"user", user.c_str()});
        if (!chat_template_.empty()) {
            std::vector<char> buffer(2 * (user.size() + request.system_prompt.size()) + 512);
            int32_t n = llama_chat_apply_template(chat_template_.c_str(), messages.data(), messages.size(), true,
                                                  buffer.data(), static_cast<int32_t>(buffer.size()));
            if (n > static_cast<int32_t>(buffer.size())) {
                buffer.resize(static_cast<size_t>(n));
                n = llama_chat_apply_template(chat_template_.c_str(), messages.data(), messages.size(), true,
                                              buffer.data(), static_cast<int32_t>(buffer.size()));
            }
            if (n >= 0) {
                return std::string(buffer.data(), static_cast<size_t>(n));
            }
            spdlog::debug("llama.cpp does not know this model's chat template; using a plain User/Assistant prompt");
        }
        std::string prompt;
        if (!request.system_prompt.empty()) {
            prompt += request.system_prompt + "\n\n";
        }
        return prompt + "User: " + user + "\nAssistant:";
    }

    ChunksPtr tokenize(mtmd_context* mtmd, const std::string& prompt, const std::vector<BitmapPtr>& bitmaps) {
        ChunksPtr chunks(mtmd_input_chunks_init());
        mtmd_input_text text{prompt.c_str(), prompt.size(), /*add_special=*/true, /*parse_special=*/true};
        std::vector<const mtmd_bitmap*> raw;
        for (const auto& b : bitmaps) raw.push_back(b.get());
        const int32_t rc = mtmd_tokenize(mtmd, chunks.get(), &text, raw.data(), raw.size());
        if (rc != 0) {
            const std::string detail = take_llama_errors();
            throw Error(fmt::format("libmtmd could not prepare the prompt and {} image(s) (code {}){}{}",
                                    bitmaps.size(), rc, detail.empty() ? "" : ": ", detail));
        }
        return chunks;
    }

    // Image chunks: encode (timed as image_encode_ms), then decode their
    // embeddings; text chunks: decode. Both decodes count as prefill.
    llama_pos evaluate_prompt(mtmd_context* mtmd, const mtmd_input_chunks* chunks, VlmTimings& timings) {
        llama_pos n_past = 0;
        const size_t n_chunks = mtmd_input_chunks_size(chunks);
        for (size_t i = 0; i < n_chunks; ++i) {
            interrupt_.check("evaluating the prompt");
            const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks, i);
            llama_pos new_n_past = n_past;
            int32_t rc = 0;
            if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT) {
                const auto t0 = Clock::now();
                rc = mtmd_helper_eval_chunk_single(mtmd, ctx_.get(), chunk, n_past, 0, kBatchSize,
                                                   /*logits_last=*/i + 1 == n_chunks, &new_n_past);
                timings.prefill_ms += ms_since(t0);
            } else {
                const auto t0 = Clock::now();
                rc = mtmd_encode_chunk(mtmd, chunk);
                timings.image_encode_ms += ms_since(t0);
                if (rc != 0) {
                    interrupt_.check("encoding an image");
                    throw Error(fmt::format("libmtmd failed to encode image chunk {}: {}", i, take_llama_errors()));
                }
                interrupt_.check("encoding an image");
                const auto t1 = Clock::now();
                rc = mtmd_helper_decode_image_chunk(mtmd, ctx_.get(), chunk, mtmd_get_output_embd(mtmd), n_past, 0,
                                                    kBatchSize, &new_n_past, nullptr, nullptr);
                timings.prefill_ms += ms_since(t1);
            }
            if (rc != 0) {
                interrupt_.check("evaluating the prompt");
                const std::string detail = take_llama_errors();
                throw Error(fmt::format("llama.cpp failed to evaluate prompt chunk {} (code {}){}{}", i, rc,
                                        detail.empty() ? "" : ": ", detail));
            }
            n_past = new_n_past;
        }
        return n_past;
    }

    std::string token_piece(llama_token token) const {
        char small[64];
        int32_t n = llama_token_to_piece(vocab_, token, small, sizeof small, 0, false);
        if (n >= 0) {
            return std::string(small, static_cast<size_t>(n));
        }
        std::string big(static_cast<size_t>(-n), '\0');
        n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, false);
        return n >= 0 ? big.substr(0, static_cast<size_t>(n)) : std::string{};
    }

    VlmResponse sample_response(const VlmRequest& request, const std::string& grammar, llama_pos n_past,
                                VlmTimings& timings) {
        TokenSampler sampler(vocab_, *vocab_pieces_, request.temperature, request.seed,
                             request.ignore_eos ? eog_tokens_ : std::vector<llama_token>{}, grammar);
        VlmResponse response;
        response.finish_reason = "length";
        const auto t0 = Clock::now();
        for (int i = 0; i < request.max_tokens; ++i) {
            interrupt_.check("generating");
            const llama_token token = sampler.sample(ctx_.get());
            if (!request.ignore_eos && llama_vocab_is_eog(vocab_, token)) {
                response.finish_reason = "stop";
                break;
            }
            response.text += token_piece(token);
            ++timings.generated_tokens;
            llama_batch& batch = token_batch_.batch;
            batch.n_tokens = 1;
            batch.token[0] = token;
            batch.pos[0] = n_past++;
            batch.n_seq_id[0] = 1;
            batch.seq_id[0][0] = 0;
            batch.logits[0] = 1;
            const int32_t rc = llama_decode(ctx_.get(), batch);
            if (rc != 0) {
                interrupt_.check("generating");
                throw Error(fmt::format("llama.cpp failed to decode generated token {} (code {})", i, rc));
            }
        }
        timings.decode_ms = ms_since(t0);
        if (!grammar.empty()) {
            spdlog::debug("grammar rejected {} draws while generating {} tokens", sampler.redraws(),
                         timings.generated_tokens);
        }
        response.timings = timings;
        return response;
    }

    // Declaration order is teardown order reversed: contexts go before the
    // threadpool they use and the model they read.
    EmbeddedConfig config_;
    int threads_ = 1;
    ProjectorInfo projector_;
    ImageTokenLimits default_limits_;
    ModelPtr model_;
    const llama_vocab* vocab_ = nullptr;
    std::unique_ptr<CpuThreadpool> threadpool_;
    ContextPtr ctx_;
    llama_adapter_lora* lora_ = nullptr;
    std::map<ImageTokenLimits, MtmdPtr> mtmd_by_limits_;
    std::string chat_template_;
    std::vector<llama_token> eog_tokens_;
    std::unique_ptr<VocabPieces> vocab_pieces_;
    TokenBatch token_batch_;
    Interrupt interrupt_;
    std::mutex mutex_;
};

}  // namespace

std::unique_ptr<VlmEngine> make_embedded_engine(const EmbeddedConfig& config) {
    return std::make_unique<EmbeddedEngine>(config);
}

}  // namespace vigil::vlm
