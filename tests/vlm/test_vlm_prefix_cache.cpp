// PrefixCache: exact-token lookup, least recently used eviction, byte budget.
#include <gtest/gtest.h>

#include "vlm/vlm_prefix_cache.h"

namespace vigil::vlm {
namespace {

PrefixCache::State bytes(size_t n, uint8_t fill) { return PrefixCache::State(n, fill); }

TEST(PrefixCache, FindsOnlyTheExactTokens) {
    PrefixCache cache(1000);
    EXPECT_TRUE(cache.insert({1, 2, 3}, bytes(10, 7)));
    ASSERT_NE(cache.find({1, 2, 3}), nullptr);
    EXPECT_EQ(cache.find({1, 2, 3})->front(), 7);
    EXPECT_EQ(cache.find({1, 2}), nullptr);
    EXPECT_EQ(cache.find({1, 2, 3, 4}), nullptr);
    EXPECT_EQ(cache.hits(), 2);
    EXPECT_EQ(cache.misses(), 2);
}

TEST(PrefixCache, EvictsTheLeastRecentlyUsedBeyondItsBudget) {
    PrefixCache cache(300);
    cache.insert({1}, bytes(100, 1));
    cache.insert({2}, bytes(100, 2));
    cache.insert({3}, bytes(100, 3));
    ASSERT_NE(cache.find({1}), nullptr);  // 1 becomes the most recently used
    cache.insert({4}, bytes(100, 4));     // 2 goes
    EXPECT_EQ(cache.find({2}), nullptr);
    EXPECT_NE(cache.find({1}), nullptr);
    EXPECT_NE(cache.find({3}), nullptr);
    EXPECT_NE(cache.find({4}), nullptr);
    EXPECT_EQ(cache.bytes(), 300u);
    EXPECT_EQ(cache.size(), 3u);
}

TEST(PrefixCache, ReplacingAnEntryKeepsTheByteCountRight) {
    PrefixCache cache(1000);
    cache.insert({5, 6}, bytes(400, 1));
    cache.insert({5, 6}, bytes(100, 2));
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.bytes(), 100u);
    EXPECT_EQ(cache.find({5, 6})->front(), 2);
}

TEST(PrefixCache, AStateLargerThanTheBudgetOrADisabledCacheKeepsNothing) {
    PrefixCache small(50);
    EXPECT_FALSE(small.insert({1}, bytes(51, 0)));
    EXPECT_EQ(small.size(), 0u);
    PrefixCache off(0);
    EXPECT_FALSE(off.enabled());
    EXPECT_FALSE(off.insert({1}, bytes(1, 0)));
    EXPECT_EQ(off.find({1}), nullptr);
}

}  // namespace
}  // namespace vigil::vlm
