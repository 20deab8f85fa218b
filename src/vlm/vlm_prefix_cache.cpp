// Least-recently-used store of saved prompt-prefix states.
#include "vlm/vlm_prefix_cache.h"

namespace vigil::vlm {

const PrefixCache::State* PrefixCache::find(const Tokens& tokens) {
    auto it = index_.find(tokens);
    if (it == index_.end()) {
        ++misses_;
        return nullptr;
    }
    ++hits_;
    entries_.splice(entries_.begin(), entries_, it->second);
    return &it->second->state;
}

bool PrefixCache::insert(Tokens tokens, State state) {
    if (max_bytes_ == 0 || state.size() > max_bytes_) return false;
    if (auto old = index_.find(tokens); old != index_.end()) {
        bytes_ -= old->second->state.size();
        entries_.erase(old->second);
        index_.erase(old);
    }
    bytes_ += state.size();
    entries_.push_front(Entry{tokens, std::move(state)});
    index_.emplace(std::move(tokens), entries_.begin());
    evict_until_fits();
    return true;
}

void PrefixCache::evict_until_fits() {
    while (bytes_ > max_bytes_ && entries_.size() > 1) {
        Entry& last = entries_.back();
        bytes_ -= last.state.size();
        index_.erase(last.tokens);
        entries_.pop_back();
    }
}

}  // namespace vigil::vlm
