// The embedded VLM backend: llama.cpp + libmtmd in this process.
//
// One llama_context holds up to `parallel` sequences. A scheduler thread owns
// it: requests wait in arrival order for a free sequence; a request that gets
// one has its prompt evaluated at once (pausing the others for that long),
// then every running request advances by one token per llama_decode, their
// tokens batched together. Batching costs little on a CPU, where decode reads
// the whole model from memory for each step whatever the batch, and it lets a
// new event's first tokens (its verdict) come out while an older event's
// report is still being written.
//
// Prompts start with a fixed part (system prompt and instructions, the same
// for every request about one camera and event type) placed before the
// images. Its evaluated state is saved the first time and restored after
// (PrefixCache), so a request pays only for its images and its own facts.
// Restoring reproduces the cold evaluation exactly: the prefix is always
// evaluated as a chunk of its own, into an empty sequence.
//
// Prompt evaluation is done chunk by chunk rather than with
// mtmd_helper_eval_chunks so that image encoding (the vision tower) and text
// prefill are timed apart. Other settings that decide speed (n_batch 2048,
// n_ubatch 512, flash attention auto, one thread count for llama and mtmd, a
// persistent ggml threadpool) are the ones llama-mtmd-cli uses.
#include <ggml-backend.h>
#include <ggml.h>
#include <gguf.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/image_io.h"
#include "core/text.h"
#include "vlm/vlm_engine.h"
#include "vlm/vlm_image_prep.h"
#include "vlm/vlm_json_schema.h"
#include "vlm/vlm_llama_runtime.h"
#include "vlm/vlm_prefix_cache.h"
#include "vlm/vlm_token_sampler.h"

namespace vigil::vlm {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
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
struct ChunksDeleter {
    void operator()(mtmd_input_chunks* c) const { mtmd_input_chunks_free(c); }
};
struct BitmapDeleter {
    void operator()(mtmd_bitmap* b) const { mtmd_bitmap_free(b); }
};
struct BatchDeleter {
    void operator()(llama_batch* b) const {
        llama_batch_free(*b);
        delete b;
    }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using MtmdPtr = std::unique_ptr<mtmd_context, MtmdDeleter>;
using ChunksPtr = std::unique_ptr<mtmd_input_chunks, ChunksDeleter>;
using BitmapPtr = std::unique_ptr<mtmd_bitmap, BitmapDeleter>;
using BatchPtr = std::unique_ptr<llama_batch, BatchDeleter>;

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

// A request's deadline and cancel flag, checked between steps and by
// llama.cpp's abort callback while its prompt is evaluated.
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

bool abort_requested(void* data) {
    const auto* interrupt = static_cast<const std::atomic<const Interrupt*>*>(data)->load();
    return interrupt != nullptr && interrupt->triggered();
}

constexpr int kBatchSize = 2048;        // llama-mtmd-cli's n_batch
constexpr int kUbatchSize = 512;        // and n_ubatch
constexpr size_t kMaxMtmdContexts = 4;  // projector instances kept for distinct image budgets

// One generate() call as the scheduler sees it. It lives on the caller's
// stack until its promise is fulfilled.
struct Job {
    const VlmRequest* request = nullptr;
    std::string grammar;
    std::vector<BitmapPtr> bitmaps;
    Interrupt interrupt;
    Clock::time_point submitted;
    std::promise<VlmResponse> result;
};

// One sequence of the context and the request running in it.
struct Slot {
    llama_seq_id seq = 0;
    Job* job = nullptr;
    std::unique_ptr<TokenSampler> sampler;
    llama_pos n_past = 0;
    // Tokens to decode in the next step: the one just sampled, then any the
    // grammar forced after it (decoded together, in one pass).
    std::vector<llama_token> pending;
    VlmResponse response;
    Clock::time_point decode_started;
    bool busy() const { return job != nullptr; }
    bool decoding() const { return job != nullptr && !pending.empty(); }
};

// A request taken off its sequence to serve a newer one: everything but the
// sequence, and the sequence's KV state.
struct PausedRun {
    Job* job = nullptr;
    std::unique_ptr<TokenSampler> sampler;
    llama_pos n_past = 0;
    std::vector<llama_token> pending;
    VlmResponse response;
    Clock::time_point decode_started;
    std::vector<uint8_t> state;
};

// Longest run of grammar-forced text inserted at once; keys and punctuation
// between two values are far shorter.
constexpr size_t kMaxForcedChars = 96;

class EmbeddedEngine final : public VlmEngine {
public:
    explicit EmbeddedEngine(const EmbeddedConfig& config) : config_(config), prefix_cache_(0) {
        init_llama(config.verbose);
        take_llama_errors();
        threads_ = config.threads > 0 ? config.threads
                                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
        if (config.context_size < 64) {
            throw Error(fmt::format("context_size must be at least 64 tokens (got {})", config.context_size));
        }
        if (config.parallel < 1 || config.parallel > 64) {
            throw Error(fmt::format("parallel must be between 1 and 64 requests (got {})", config.parallel));
        }
        prefix_cache_ = PrefixCache(config.prefix_cache_mb * 1024 * 1024);
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
        slots_.resize(static_cast<size_t>(config.parallel));
        for (size_t i = 0; i < slots_.size(); ++i) slots_[i].seq = static_cast<llama_seq_id>(i);
        batch_.reset(new llama_batch(
            llama_batch_init(config.parallel * static_cast<int>(kMaxForcedChars + 1), 0, 1)));
        scheduler_ = std::thread([this] { run_scheduler(); });
        spdlog::debug("embedded VLM ready: {} + {} ({} threads, {} parallel, context {} each, projector {}, CPU {})",
                      config.model_path, config.mmproj_path, threads_, config.parallel, config.context_size,
                      projector_.type, cpu_backend_info().library);
    }

    ~EmbeddedEngine() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (scheduler_.joinable()) scheduler_.join();
    }

    std::string name() const override {
        return "embedded:" + std::filesystem::path(config_.model_path).filename().string();
    }

    bool streams() const override { return true; }

    VlmResponse generate(const VlmRequest& request) override {
        const auto t_start = Clock::now();
        Job job;
        job.request = &request;
        job.interrupt = Interrupt{request.deadline, request.cancel};
        job.interrupt.check("before start");
        if (request.max_tokens < 1) {
            throw Error(fmt::format("max_tokens must be at least 1 (got {})", request.max_tokens));
        }
        const std::string marker = mtmd_default_marker();
        for (const std::string* text : {&request.prompt, &request.instructions, &request.system_prompt}) {
            if (text->find(marker) != std::string::npos) {
                throw Error(fmt::format("the prompt contains '{}', which is reserved for image placement", marker));
            }
        }
        if (request.json_schema) {
            job.grammar = schema_to_gbnf(*request.json_schema);
        }
        for (size_t i = 0; i < request.images.size(); ++i) {
            job.bitmaps.push_back(make_bitmap(request.images[i], i, request.image_budget));
        }
        job.interrupt.check("after loading images");

        std::future<VlmResponse> done = job.result.get_future();
        job.submitted = Clock::now();
        {
            std::lock_guard lock(mutex_);
            if (stopping_) throw CancelledError("VLM engine is shutting down");
            pending_.push_back(&job);
        }
        wake_.notify_all();
        VlmResponse response = done.get();  // rethrows what the scheduler stored

        // Token pieces are bytes: the limit can cut a character in half.
        response.text = sanitize_utf8(response.text);
        response.timings.total_ms = ms_since(t_start);
        response.model = name();
        if (request.json_schema && request.validate_output) {
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
    // ---- the scheduler thread ------------------------------------------------

    void run_scheduler() {
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty() || any_busy() || !paused_.empty(); });
            if (stopping_) break;
            // Requests given up while waiting for a sequence leave the queue now.
            for (auto it = pending_.begin(); it != pending_.end();) {
                if ((*it)->interrupt.triggered()) {
                    fail_interrupted(**it, "waiting for a free sequence");
                    it = pending_.erase(it);
                } else {
                    ++it;
                }
            }
            for (auto it = paused_.begin(); it != paused_.end();) {
                if (it->job->interrupt.triggered()) {
                    fail_interrupted(*it->job, "paused for a newer request");
                    it = paused_.erase(it);
                } else {
                    ++it;
                }
            }
            Slot* free_slot = nullptr;
            for (Slot& slot : slots_) {
                if (!slot.busy()) {
                    free_slot = &slot;
                    break;
                }
            }
            // A request whose urgent part is still being decoded comes first:
            // its next tokens before another request's prompt evaluation.
            const bool urgent_running =
                std::any_of(slots_.begin(), slots_.end(), [](const Slot& slot) { return urgent(slot); });
            if (urgent_running) free_slot = nullptr;
            // Then new requests: when every sequence is taken, one whose
            // urgent part is out makes room.
            if (!urgent_running && free_slot == nullptr && !pending_.empty()) {
                for (Slot& slot : slots_) {
                    if (slot.busy() && in_background(slot)) {
                        free_slot = &slot;
                        break;
                    }
                }
            }
            Job* admitted = nullptr;
            if (free_slot != nullptr && !pending_.empty()) {
                admitted = pending_.front();
                pending_.pop_front();
            }
            const bool none_waiting = pending_.empty();
            lock.unlock();
            if (admitted != nullptr) {
                if (free_slot->busy()) pause(*free_slot);
                start(*free_slot, *admitted);
            } else if (free_slot != nullptr && !paused_.empty() && none_waiting) {
                PausedRun run = std::move(paused_.front());
                paused_.pop_front();
                resume(*free_slot, std::move(run));
            } else {
                step();
            }
            lock.lock();
        }
        // Shutting down: nothing more runs; every waiting caller gets an error.
        for (Job* job : pending_) {
            job->result.set_exception(std::make_exception_ptr(CancelledError("VLM engine is shutting down")));
        }
        pending_.clear();
        lock.unlock();
        for (Slot& slot : slots_) {
            if (slot.busy()) finish(slot, std::make_exception_ptr(CancelledError("VLM engine is shutting down")));
        }
        for (PausedRun& run : paused_) {
            run.job->result.set_exception(std::make_exception_ptr(CancelledError("VLM engine is shutting down")));
        }
        paused_.clear();
    }

    static bool in_background(const Slot& slot) {
        const std::atomic<bool>* flag = slot.job->request->background;
        return flag != nullptr && flag->load(std::memory_order_relaxed) && slot.decoding();
    }

    // A request that will say when its urgent part is out, and has not yet.
    static bool urgent(const Slot& slot) {
        if (!slot.busy()) return false;
        const std::atomic<bool>* flag = slot.job->request->background;
        return flag != nullptr && !flag->load(std::memory_order_relaxed) && slot.decoding();
    }

    // Takes the slot's request off its sequence, keeping its KV state in
    // memory; it continues from there when resumed.
    void pause(Slot& slot) {
        PausedRun run;
        run.state.resize(llama_state_seq_get_size(ctx_.get(), slot.seq));
        if (run.state.empty() ||
            llama_state_seq_get_data(ctx_.get(), run.state.data(), run.state.size(), slot.seq) != run.state.size()) {
            finish(slot, std::make_exception_ptr(Error("llama.cpp could not save a paused request's state")));
            return;
        }
        run.job = slot.job;
        run.sampler = std::move(slot.sampler);
        run.n_past = slot.n_past;
        run.pending = std::move(slot.pending);
        run.response = std::move(slot.response);
        run.decode_started = slot.decode_started;
        llama_memory_seq_rm(llama_get_memory(ctx_.get()), slot.seq, -1, -1);
        slot.job = nullptr;
        slot.pending.clear();
        slot.decode_started = Clock::time_point{};
        ++run.response.timings.pauses;
        paused_.push_back(std::move(run));
    }

    void resume(Slot& slot, PausedRun run) {
        slot.job = run.job;
        slot.sampler = std::move(run.sampler);
        slot.n_past = run.n_past;
        slot.pending = std::move(run.pending);
        slot.response = std::move(run.response);
        slot.decode_started = run.decode_started;
        llama_memory_seq_rm(llama_get_memory(ctx_.get()), slot.seq, -1, -1);
        if (llama_state_seq_set_data(ctx_.get(), run.state.data(), run.state.size(), slot.seq) == 0) {
            finish(slot, std::make_exception_ptr(Error("llama.cpp could not restore a paused request's state")));
        }
    }

    bool any_busy() const {
        return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.busy(); });
    }

    // Gives a waiting request its CancelledError or TimeoutError.
    static void fail_interrupted(Job& job, const char* stage) {
        try {
            job.interrupt.check(stage);
        } catch (...) {
            job.result.set_exception(std::current_exception());
        }
    }

    // Admits a request: prompt evaluation (prefix from the cache when it can),
    // then its first token.
    void start(Slot& slot, Job& job) {
        slot.job = &job;
        slot.response = VlmResponse{};
        slot.response.finish_reason = "length";
        VlmTimings& timings = slot.response.timings;
        timings.queue_ms = ms_since(job.submitted);
        try {
            job.interrupt.check("waiting for a free sequence");
            const VlmRequest& request = *job.request;
            mtmd_context* mtmd = mtmd_for(image_token_limits(projector_, request.image_budget));
            const std::string prompt = format_prompt(request);
            spdlog::debug("VLM prompt: {}", prompt);
            ChunksPtr chunks = tokenize(mtmd, prompt, job.bitmaps);
            const size_t n_chunks = mtmd_input_chunks_size(chunks.get());
            for (size_t i = 0; i < n_chunks; ++i) {
                const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks.get(), i);
                const int n = static_cast<int>(mtmd_input_chunk_get_n_tokens(chunk));
                timings.prompt_tokens += n;
                if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_IMAGE) timings.image_tokens += n;
            }
            const int prompt_positions = static_cast<int>(mtmd_helper_get_n_pos(chunks.get()));
            if (prompt_positions + request.max_tokens > config_.context_size) {
                throw Error(fmt::format(
                    "the request needs {} prompt tokens ({} of them for {} image(s)) plus max_tokens={}, more than "
                    "context_size={}; raise context_size, lower max_tokens or shrink the image budget",
                    prompt_positions, timings.image_tokens, request.images.size(), request.max_tokens,
                    config_.context_size));
            }
            llama_memory_seq_rm(llama_get_memory(ctx_.get()), slot.seq, -1, -1);
            current_.store(&job.interrupt);
            slot.n_past = evaluate_prompt(slot, mtmd, chunks.get(), timings);
            current_.store(nullptr);
            job.bitmaps.clear();
            slot.sampler = std::make_unique<TokenSampler>(vocab_, *vocab_pieces_, request.temperature, request.seed,
                                                          request.ignore_eos ? eog_tokens_ : std::vector<llama_token>{},
                                                          job.grammar);
            slot.decode_started = Clock::now();
            accept(slot, slot.sampler->sample(ctx_.get(), -1));
        } catch (...) {
            current_.store(nullptr);
            finish(slot, std::current_exception());
        }
    }

    // One decode step for every request that has a token waiting.
    void step() {
        llama_batch& batch = *batch_;
        batch.n_tokens = 0;
        std::vector<std::pair<Slot*, int32_t>> in_batch;  // slot, batch index of its last token
        for (Slot& slot : slots_) {
            if (!slot.decoding()) continue;
            if (slot.job->interrupt.triggered()) {
                try {
                    slot.job->interrupt.check("generating");
                } catch (...) {
                    finish(slot, std::current_exception());
                }
                continue;
            }
            for (size_t k = 0; k < slot.pending.size(); ++k) {
                const int i = batch.n_tokens++;
                batch.token[i] = slot.pending[k];
                batch.pos[i] = slot.n_past + static_cast<llama_pos>(k);
                batch.n_seq_id[i] = 1;
                batch.seq_id[i][0] = slot.seq;
                batch.logits[i] = k + 1 == slot.pending.size() ? 1 : 0;
            }
            in_batch.emplace_back(&slot, batch.n_tokens - 1);
        }
        if (in_batch.empty()) return;
        const int32_t rc = llama_decode(ctx_.get(), batch);
        if (rc != 0) {
            const std::string detail = take_llama_errors();
            for (auto& [slot, index] : in_batch) {
                finish(*slot, std::make_exception_ptr(Error(fmt::format(
                                  "llama.cpp failed to decode generated token {} (code {}){}{}",
                                  slot->response.timings.generated_tokens, rc, detail.empty() ? "" : ": ", detail))));
            }
            return;
        }
        for (auto& [slot, index] : in_batch) {
            slot->n_past += static_cast<llama_pos>(slot->pending.size());
            slot->pending.clear();
            ++slot->response.timings.decode_steps;
            try {
                accept(*slot, slot->sampler->sample(ctx_.get(), index));
            } catch (...) {
                finish(*slot, std::current_exception());
            }
        }
    }

    // A token sampled for a slot: the end, or text for the caller and the
    // next step's input, followed by whatever text the grammar now forces.
    void accept(Slot& slot, llama_token token) {
        const VlmRequest& request = *slot.job->request;
        if (!request.ignore_eos && llama_vocab_is_eog(vocab_, token)) {
            slot.response.finish_reason = "stop";
            finish(slot, nullptr);
            return;
        }
        if (emit(slot, token)) return;
        slot.pending.push_back(token);
        if (slot.job->grammar.empty() || !config_.insert_forced_text) return;
        // Keys, punctuation, the rest of an enum value: the grammar leaves one
        // choice, so those tokens are inserted, not sampled one by one, and
        // decoded together with this one.
        const ForcedText forced = slot.sampler->forced_text(kMaxForcedChars);
        for (llama_token t : tokenize_text(forced.text)) {
            slot.sampler->accept_forced(t);
            if (emit(slot, t)) return;
            slot.pending.push_back(t);
        }
        if (forced.ends && !request.ignore_eos) {  // only the end can follow: no need to decode
            slot.response.finish_reason = "stop";
            finish(slot, nullptr);
        }
    }

    // Adds a generated token's text; true when that ended the request (it
    // reached max_tokens).
    bool emit(Slot& slot, llama_token token) {
        const VlmRequest& request = *slot.job->request;
        VlmTimings& timings = slot.response.timings;
        const std::string piece = token_piece(token);
        slot.response.text += piece;
        if (++timings.generated_tokens == 1) timings.first_token_ms = ms_since(slot.job->submitted);
        if (request.on_text) request.on_text(piece);
        if (timings.generated_tokens < request.max_tokens) return false;
        finish(slot, nullptr);
        return true;
    }

    std::vector<llama_token> tokenize_text(const std::string& text) const {
        if (text.empty()) return {};
        std::vector<llama_token> tokens(text.size() + 4);
        int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                   static_cast<int32_t>(tokens.size()), /*add_special=*/false, /*parse_special=*/false);
        if (n < 0) {
            tokens.resize(static_cast<size_t>(-n));
            n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                               static_cast<int32_t>(tokens.size()), false, false);
        }
        tokens.resize(static_cast<size_t>(std::max(0, n)));
        return tokens;
    }

    // Ends the slot's request with its response, or with `error`.
    void finish(Slot& slot, std::exception_ptr error) {
        Job* job = slot.job;
        llama_memory_seq_rm(llama_get_memory(ctx_.get()), slot.seq, -1, -1);
        if (slot.sampler && !job->grammar.empty()) {
            spdlog::debug("grammar rejected {} draws while generating {} tokens", slot.sampler->redraws(),
                          slot.response.timings.generated_tokens);
        }
        slot.sampler.reset();
        slot.pending.clear();
        slot.job = nullptr;
        if (error) {
            job->result.set_exception(error);
        } else {
            if (slot.decode_started != Clock::time_point{}) {
                slot.response.timings.decode_ms = ms_since(slot.decode_started);
            }
            job->result.set_value(std::move(slot.response));
        }
        slot.decode_started = Clock::time_point{};
    }

    // ---- loading ---------------------------------------------------------------

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
        // Each sequence has a KV stream of context_size cells of its own.
        ctx_params.n_ctx = static_cast<uint32_t>(config_.context_size) * static_cast<uint32_t>(config_.parallel);
        ctx_params.n_batch = kBatchSize;
        ctx_params.n_ubatch = kUbatchSize;
        ctx_params.n_seq_max = static_cast<uint32_t>(config_.parallel);
        ctx_params.kv_unified = false;
        ctx_params.n_threads = threads_;
        ctx_params.n_threads_batch = threads_;
        ctx_params.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
        ctx_params.abort_callback = abort_requested;
        ctx_params.abort_callback_data = &current_;
        ctx_.reset(llama_init_from_model(model_.get(), ctx_params));
        if (!ctx_) {
            const std::string detail = take_llama_errors();
            throw Error(fmt::format("cannot create a llama.cpp context of {} tokens for '{}'{}{}",
                                    config_.context_size, config_.model_path, detail.empty() ? "" : ": ", detail));
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
    // Only the scheduler thread (and the constructor) call this.
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
                throw Error(fmt::format("vision projector '{}' does not match text model '{}': {}",
                                        config_.mmproj_path, config_.model_path, detail));
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

    // Runs on the caller's thread: reads only configuration fixed at load.
    BitmapPtr make_bitmap(const VlmImage& image, size_t index, const ImageBudget& budget) const {
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

    // The user turn is instructions, then the images, then the prompt, so the
    // fixed part comes first and its evaluation can be reused.
    std::string format_prompt(const VlmRequest& request) const {
        std::string user = request.instructions;
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

    // The slot's sequence is empty. The first text chunk, when images follow
    // it, is the reusable prefix: restored from the cache, or evaluated alone
    // and saved. Image chunks: encode (image_encode_ms), then decode their
    // embeddings; text chunks: decode. Both decodes count as prefill.
    llama_pos evaluate_prompt(Slot& slot, mtmd_context* mtmd, const mtmd_input_chunks* chunks, VlmTimings& timings) {
        const Interrupt& interrupt = slot.job->interrupt;
        llama_pos n_past = 0;
        const size_t n_chunks = mtmd_input_chunks_size(chunks);
        for (size_t i = 0; i < n_chunks; ++i) {
            interrupt.check("evaluating the prompt");
            const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks, i);
            llama_pos new_n_past = n_past;
            int32_t rc = 0;
            const bool is_text = mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT;
            const bool prefix = is_text && i == 0 && n_chunks > 1 && prefix_cache_.enabled();
            if (prefix && restore_prefix(slot, chunk, timings, new_n_past)) {
                n_past = new_n_past;
                continue;
            }
            if (is_text) {
                const auto t0 = Clock::now();
                rc = mtmd_helper_eval_chunk_single(mtmd, ctx_.get(), chunk, n_past, slot.seq, kBatchSize,
                                                   /*logits_last=*/i + 1 == n_chunks, &new_n_past);
                timings.prefill_ms += ms_since(t0);
                if (rc == 0 && prefix) save_prefix(slot, chunk);
            } else {
                const auto t0 = Clock::now();
                rc = mtmd_encode_chunk(mtmd, chunk);
                timings.image_encode_ms += ms_since(t0);
                if (rc != 0) {
                    interrupt.check("encoding an image");
                    throw Error(fmt::format("libmtmd failed to encode image chunk {}: {}", i, take_llama_errors()));
                }
                interrupt.check("encoding an image");
                const auto t1 = Clock::now();
                rc = mtmd_helper_decode_image_chunk(mtmd, ctx_.get(), chunk, mtmd_get_output_embd(mtmd), n_past,
                                                    slot.seq, kBatchSize, &new_n_past, nullptr, nullptr);
                timings.prefill_ms += ms_since(t1);
            }
            if (rc != 0) {
                interrupt.check("evaluating the prompt");
                const std::string detail = take_llama_errors();
                throw Error(fmt::format("llama.cpp failed to evaluate prompt chunk {} (code {}){}{}", i, rc,
                                        detail.empty() ? "" : ": ", detail));
            }
            n_past = new_n_past;
        }
        return n_past;
    }

    static PrefixCache::Tokens chunk_tokens(const mtmd_input_chunk* chunk) {
        size_t n = 0;
        const llama_token* tokens = mtmd_input_chunk_get_tokens_text(chunk, &n);
        return PrefixCache::Tokens(tokens, tokens + n);
    }

    bool restore_prefix(Slot& slot, const mtmd_input_chunk* chunk, VlmTimings& timings, llama_pos& n_past) {
        const auto t0 = Clock::now();
        const PrefixCache::Tokens tokens = chunk_tokens(chunk);
        const PrefixCache::State* state = prefix_cache_.find(tokens);
        if (state == nullptr) return false;
        if (llama_state_seq_set_data(ctx_.get(), state->data(), state->size(), slot.seq) == 0) {
            spdlog::debug("llama.cpp could not restore a saved prompt prefix; evaluating it again");
            llama_memory_seq_rm(llama_get_memory(ctx_.get()), slot.seq, -1, -1);
            return false;
        }
        n_past = static_cast<llama_pos>(tokens.size());
        timings.cached_prompt_tokens += static_cast<int>(tokens.size());
        timings.prefill_ms += ms_since(t0);
        return true;
    }

    void save_prefix(const Slot& slot, const mtmd_input_chunk* chunk) {
        PrefixCache::State state(llama_state_seq_get_size(ctx_.get(), slot.seq));
        if (state.empty() ||
            llama_state_seq_get_data(ctx_.get(), state.data(), state.size(), slot.seq) != state.size()) {
            return;
        }
        prefix_cache_.insert(chunk_tokens(chunk), std::move(state));
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

    // Declaration order is teardown order reversed: contexts go before the
    // threadpool they use and the model they read; the scheduler thread is
    // joined in the destructor's body, before any of them.
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
    PrefixCache prefix_cache_;
    std::vector<Slot> slots_;
    BatchPtr batch_;
    std::atomic<const Interrupt*> current_{nullptr};  // whose prompt is being evaluated (abort callback)

    std::mutex mutex_;  // guards pending_ and stopping_
    std::condition_variable wake_;
    std::deque<Job*> pending_;
    std::deque<PausedRun> paused_;  // scheduler thread only (read under mutex_ by its wait)
    bool stopping_ = false;
    std::thread scheduler_;
};

}  // namespace

std::unique_ptr<VlmEngine> make_embedded_engine(const EmbeddedConfig& config) {
    return std::make_unique<EmbeddedEngine>(config);
}

}  // namespace vigil::vlm
