#pragma once
// Saved evaluations of prompt prefixes for the embedded backend.
//
// Requests about the same camera and event type start with the same fixed
// text (system prompt, instructions, answer format, site context). The
// backend evaluates that text once, saves the sequence's KV-cache state
// (llama_state_seq_get_data) under the prefix's tokens, and restores it for
// the next request that starts with exactly those tokens, so only the images
// and the event's own facts are evaluated per request. Least recently used
// states go first when the byte budget is exceeded.
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <vector>

namespace vigil::vlm {

class PrefixCache {
public:
    using Tokens = std::vector<int32_t>;
    using State = std::vector<uint8_t>;

    // max_bytes 0 disables the cache (find always misses, insert keeps nothing).
    explicit PrefixCache(size_t max_bytes) : max_bytes_(max_bytes) {}

    // The state saved for exactly `tokens`, or null; a hit becomes the most
    // recently used. The pointer stays valid until the next insert.
    const State* find(const Tokens& tokens);

    // Keeps `state` for `tokens` (replacing an older one), then drops least
    // recently used entries until the total fits max_bytes. A state larger
    // than the whole budget is not kept. Returns whether it was kept.
    bool insert(Tokens tokens, State state);

    bool enabled() const { return max_bytes_ > 0; }
    size_t bytes() const { return bytes_; }
    size_t size() const { return entries_.size(); }
    int64_t hits() const { return hits_; }
    int64_t misses() const { return misses_; }

private:
    struct Entry {
        Tokens tokens;
        State state;
    };
    void evict_until_fits();

    size_t max_bytes_;
    size_t bytes_ = 0;
    int64_t hits_ = 0;
    int64_t misses_ = 0;
    std::list<Entry> entries_;  // most recently used first
    std::map<Tokens, std::list<Entry>::iterator> index_;
};

}  // namespace vigil::vlm
