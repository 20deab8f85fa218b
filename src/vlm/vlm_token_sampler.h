#pragma once
// Token choice for the embedded backend: greedy or seeded temperature
// sampling over llama.cpp's logits, constrained by a GBNF grammar when the
// request has a JSON Schema, and kept well-formed UTF-8.
#include <llama.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/text.h"

namespace vigil::vlm {

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
    std::array<llama_token, 256> byte_token{};  // the token that is exactly this byte (any byte)
    std::vector<llama_token> end_tokens;        // end of generation
    std::vector<llama_token> control_tokens;    // other special tokens (<fake_token_around_image>, ...)

    explicit VocabPieces(const llama_vocab* vocab);
};

// Text the grammar allows as the only continuation, e.g. `","severity":"`
// after a verdict's closing quote, or "onfirmed" once a "c" began it.
struct ForcedText {
    std::string text;   // printable ASCII only
    bool ends = false;  // after it, the grammar allows nothing but the end
};

struct SamplerDeleter {
    void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

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
    // `banned` tokens are never drawn (end-of-generation for benchmarks); an
    // empty grammar means free text. Throws vigil::Error when llama.cpp
    // rejects the grammar.
    TokenSampler(const llama_vocab* vocab, const VocabPieces& pieces, float temperature, uint32_t seed,
                 const std::vector<llama_token>& banned, const std::string& grammar);

    // Samples from the logits of output `index` of the last llama_decode on
    // `ctx` (-1: the last output) and advances the chain and the grammar past
    // the chosen token, once each.
    llama_token sample(llama_context* ctx, int32_t index = -1);

    // What the grammar forces next, up to `max_chars` (empty without a
    // grammar or when more than one character may follow). Asks a copy of
    // the grammar: nothing is accepted.
    ForcedText forced_text(size_t max_chars);

    // Advances the chain and the grammar past a token the caller inserted
    // (a token of forced_text()) instead of sampling it.
    void accept_forced(llama_token token);

    // How many draws the grammar rejected.
    int redraws() const { return redraws_; }

private:
    static constexpr size_t kFirstSlice = 64;
    static constexpr size_t kSliceGrowth = 8;

    bool greedy() const { return temperature_ <= 0.0f; }
    llama_token sample_unconstrained(const float* logits);
    // Structured output must stay well-formed UTF-8: llama.cpp's grammar
    // decodes a lead byte followed by anything as one character, which would
    // let ill-formed bytes through that count as several characters later.
    bool keeps_utf8(llama_token token) const { return text_.can_append(pieces_.text[static_cast<size_t>(token)]); }
    bool grammar_allows(llama_token token);
    std::array<bool, 128> allowed_first_bytes();
    llama_token sample_allowed(const float* logits);

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

}  // namespace vigil::vlm
