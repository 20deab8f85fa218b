// The bounded queue between stages: capture drops the oldest frame instead of
// blocking, the VLM queue refuses when full, and close() drains then ends.
#include <gtest/gtest.h>

#include <thread>

#include "pipeline/pipeline_queue.h"

namespace vigil::pipeline {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueue, DropOldestKeepsTheNewest) {
    BoundedQueue<int> queue(2);
    EXPECT_FALSE(queue.push_drop_oldest(1));
    EXPECT_FALSE(queue.push_drop_oldest(2));
    EXPECT_TRUE(queue.push_drop_oldest(3));  // 1 made room
    EXPECT_EQ(queue.pop(0ms), 2);
    EXPECT_EQ(queue.pop(0ms), 3);
    EXPECT_EQ(queue.pop(0ms), std::nullopt);
}

TEST(BoundedQueue, TryPushRefusesWhenFull) {
    BoundedQueue<int> queue(1);
    int first = 1, second = 2;
    EXPECT_TRUE(queue.try_push(first));
    EXPECT_FALSE(queue.try_push(second));
    EXPECT_EQ(second, 2);  // a refused item is left to the caller
    EXPECT_EQ(queue.size(), 1u);
}

TEST(BoundedQueue, PushWaitBlocksUntilThereIsRoom) {
    BoundedQueue<int> queue(1);
    ASSERT_TRUE(queue.push_wait(1));
    std::thread producer([&] { EXPECT_TRUE(queue.push_wait(2)); });
    EXPECT_EQ(queue.pop(), 1);  // makes room for the waiting producer
    EXPECT_EQ(queue.pop(), 2);
    producer.join();
}

TEST(BoundedQueue, CloseDrainsThenEndsAndWakesWaiters) {
    BoundedQueue<int> queue(1);
    ASSERT_TRUE(queue.push_wait(7));
    std::thread blocked([&] { EXPECT_FALSE(queue.push_wait(8)); });
    queue.close();
    blocked.join();
    EXPECT_EQ(queue.pop(), 7);
    EXPECT_EQ(queue.pop(), std::nullopt);
    int late = 9;
    EXPECT_FALSE(queue.try_push(late));
}

}  // namespace
}  // namespace vigil::pipeline
