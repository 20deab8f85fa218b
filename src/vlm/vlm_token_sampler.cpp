// Token choice for the embedded backend (see vlm_token_sampler.h).
#include "vlm/vlm_token_sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "vlm/vlm_llama_runtime.h"

namespace vigil::vlm {

VocabPieces::VocabPieces(const llama_vocab* vocab) {
    one_byte_token.fill(LLAMA_TOKEN_NULL);
    byte_token.fill(LLAMA_TOKEN_NULL);
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
        if (llama_vocab_is_eog(vocab, t))
            end_tokens.push_back(t);
        else if (llama_vocab_is_control(vocab, t))
            control_tokens.push_back(t);
        if (n <= 0 || llama_vocab_is_eog(vocab, t) || llama_vocab_is_control(vocab, t)) continue;
        if (n == 1 && byte_token[static_cast<unsigned char>(piece[0])] == LLAMA_TOKEN_NULL) {
            byte_token[static_cast<unsigned char>(piece[0])] = t;
        }
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

TokenSampler::TokenSampler(const llama_vocab* vocab, const VocabPieces& pieces, float temperature, uint32_t seed,
                           const std::vector<llama_token>& banned, const std::string& grammar)
    : pieces_(pieces), temperature_(temperature), banned_(pieces.first_byte.size(), false), noise_(seed ^ 0x9e3779b9u) {
    chain_.reset(llama_sampler_chain_init(llama_sampler_chain_default_params()));
    // Structured output never holds a special token: the grammar would count
    // its name ("<fake_token_around_image>") as text that the answer, which
    // renders special tokens as nothing, then lacks.
    std::vector<llama_token> never = banned;
    if (!grammar.empty()) never.insert(never.end(), pieces.control_tokens.begin(), pieces.control_tokens.end());
    if (!never.empty()) {
        std::vector<llama_logit_bias> bias;
        for (llama_token t : never) {
            bias.push_back({t, -INFINITY});
            banned_[static_cast<size_t>(t)] = true;
        }
        llama_sampler_chain_add(
            chain_.get(),
            llama_sampler_init_logit_bias(llama_vocab_n_tokens(vocab), static_cast<int32_t>(bias.size()), bias.data()));
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
            throw Error(
                fmt::format("llama.cpp rejected the grammar built from the JSON schema: {}", take_llama_errors()));
        }
    }
}

llama_token TokenSampler::sample(llama_context* ctx, int32_t index) {
    const float* logits = llama_get_logits_ith(ctx, index);
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

ForcedText TokenSampler::forced_text(size_t max_chars) {
    ForcedText out;
    if (!grammar_) return out;
    SamplerPtr probe(llama_sampler_clone(grammar_.get()));
    std::vector<llama_token_data> candidates;
    while (out.text.size() < max_chars) {
        candidates.clear();
        for (llama_token t : pieces_.byte_token)
            if (t != LLAMA_TOKEN_NULL) candidates.push_back(llama_token_data{t, 0.0f, 0.0f});
        for (llama_token t : pieces_.end_tokens) candidates.push_back(llama_token_data{t, 0.0f, 0.0f});
        llama_token_data_array array{candidates.data(), candidates.size(), /*selected=*/-1, /*sorted=*/false};
        llama_sampler_apply(probe.get(), &array);
        const llama_token_data* only = nullptr;
        int allowed = 0;
        for (const llama_token_data& c : candidates) {
            if (!std::isfinite(c.logit)) continue;
            ++allowed;
            only = &c;
        }
        if (allowed != 1) break;
        const std::string& piece = pieces_.text[static_cast<size_t>(only->id)];
        if (std::find(pieces_.end_tokens.begin(), pieces_.end_tokens.end(), only->id) != pieces_.end_tokens.end()) {
            out.ends = true;
            break;
        }
        const unsigned char byte = static_cast<unsigned char>(piece[0]);
        if (piece.size() != 1 || byte < 0x20 || byte >= 0x7f) break;  // printable ASCII only
        out.text += piece;
        llama_sampler_accept(probe.get(), only->id);
    }
    return out;
}

void TokenSampler::accept_forced(llama_token token) {
    if (grammar_) {
        llama_sampler_accept(grammar_.get(), token);
        text_.append(pieces_.text[static_cast<size_t>(token)]);
    }
    llama_sampler_accept(chain_.get(), token);
}

llama_token TokenSampler::sample_unconstrained(const float* logits) {
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

bool TokenSampler::grammar_allows(llama_token token) {
    llama_token_data one{token, 0.0f, 0.0f};
    llama_token_data_array single{&one, 1, /*selected=*/-1, /*sorted=*/false};
    llama_sampler_apply(grammar_.get(), &single);
    return std::isfinite(one.logit);
}

// Which ASCII bytes the grammar accepts as the next character.
std::array<bool, 128> TokenSampler::allowed_first_bytes() {
    probes_.clear();
    for (llama_token t : pieces_.one_byte_token) {
        if (t != LLAMA_TOKEN_NULL) probes_.push_back(llama_token_data{t, 0.0f, 0.0f});
    }
    llama_token_data_array probe_array{probes_.data(), probes_.size(), /*selected=*/-1, /*sorted=*/false};
    llama_sampler_apply(grammar_.get(), &probe_array);
    std::array<bool, 128> allowed{};
    for (const llama_token_data& probe : probes_) {
        allowed[static_cast<size_t>(pieces_.first_byte[static_cast<size_t>(probe.id)])] = std::isfinite(probe.logit);
    }
    return allowed;
}

// Each candidate's logit field holds its ranking key; the grammar sets
// it to -inf when it forbids the token.
llama_token TokenSampler::sample_allowed(const float* logits) {
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

}  // namespace vigil::vlm
