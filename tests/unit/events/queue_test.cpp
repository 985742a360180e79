#include "events/queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace equalis::events {
namespace {

struct Collected {
  std::mutex mutex;
  std::vector<Delivery> items;
  void add(Delivery d) {
    std::lock_guard lock(mutex);
    items.push_back(std::move(d));
  }
  std::vector<Delivery> get() {
    std::lock_guard lock(mutex);
    return items;
  }
};

// A job that blocks until released (to fill the queue behind it).
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  bool entered = false;
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
  void waitEntered() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return entered; });
  }
};

Job job(std::string target, std::function<Result<std::string>(const std::atomic<bool>&)> run,
        int attempts = 1) {
  Job j;
  j.rule = "r";
  j.action = "email";
  j.target = std::move(target);
  j.event = "alarm_raised x";
  j.max_attempts = attempts;
  j.run = std::move(run);
  return j;
}

TEST(DeliveryQueue, FullQueueDropsTheOldestAndCountsIt) {
  SimulatedClock clock;
  Collected done;
  Gate gate;
  DeliveryQueue q("network", clock, 2, 10, [&](Delivery d) { done.add(std::move(d)); });
  q.push(job("blocker", [&](const std::atomic<bool>&) -> Result<std::string> {
    std::unique_lock lock(gate.mutex);
    gate.entered = true;
    gate.cv.notify_all();
    gate.cv.wait(lock, [&] { return gate.open; });
    return std::string();
  }));
  gate.waitEntered();
  auto ok = [](const std::atomic<bool>&) -> Result<std::string> { return std::string(); };
  q.push(job("a", ok));
  q.push(job("b", ok));
  q.push(job("c", ok));  // queue holds 2: "a" is dropped
  EXPECT_EQ(q.dropped(), 1u);
  gate.release();
  ASSERT_TRUE(q.waitIdle(5000));
  const auto items = done.get();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].target, "a");
  EXPECT_FALSE(items[0].ok);
  EXPECT_NE(items[0].error.find("queue full"), std::string::npos);
  std::vector<std::string> sent;
  for (const auto& d : items) {
    if (d.ok) {
      sent.push_back(d.target);
    }
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"blocker", "b", "c"}));
}

TEST(DeliveryQueue, RetriesWithBackoffThenReportsTheLastError) {
  SimulatedClock clock;
  Collected done;
  DeliveryQueue q("network", clock, 8, 5, [&](Delivery d) { done.add(std::move(d)); });
  std::atomic<int> calls{0};
  q.push(job(
      "flaky",
      [&](const std::atomic<bool>&) -> Result<std::string> {
        if (++calls < 3) {
          return makeError(ErrorCode::kUnavailable, "connection refused");
        }
        return std::string();
      },
      4));
  q.push(job(
      "dead",
      [](const std::atomic<bool>&) -> Result<std::string> {
        return makeError(ErrorCode::kUnavailable, "connection refused");
      },
      3));
  ASSERT_TRUE(q.waitIdle(5000));
  const auto items = done.get();
  ASSERT_EQ(items.size(), 2u);
  for (const auto& d : items) {
    if (d.target == "flaky") {
      EXPECT_TRUE(d.ok);
      EXPECT_EQ(d.attempts, 3);
    } else {
      EXPECT_FALSE(d.ok);
      EXPECT_EQ(d.attempts, 3);
      EXPECT_EQ(describe(d),
                "email to dead failed after 3 attempts: connection refused [rule 'r', "
                "alarm_raised x]");
    }
  }
}

TEST(DeliveryQueue, StopAbortsWhatOutlivesTheGrace) {
  SimulatedClock clock;
  Collected done;
  auto q = std::make_unique<DeliveryQueue>("network", clock, 8, 10,
                                           [&](Delivery d) { done.add(std::move(d)); });
  Gate gate;
  q->push(job("slow", [&](const std::atomic<bool>& abort) -> Result<std::string> {
    {
      std::lock_guard lock(gate.mutex);
      gate.entered = true;
      gate.cv.notify_all();
    }
    while (!abort.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return makeError(ErrorCode::kUnavailable, "aborted (shutting down)");
  }));
  q->push(
      job("queued", [](const std::atomic<bool>&) -> Result<std::string> { return std::string(); }));
  gate.waitEntered();
  q->stop(50);
  q->push(
      job("late", [](const std::atomic<bool>&) -> Result<std::string> { return std::string(); }));
  const auto items = done.get();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].target, "slow");
  EXPECT_FALSE(items[0].ok);
  EXPECT_EQ(items[1].target, "queued");
  EXPECT_FALSE(items[1].ok);
  EXPECT_EQ(items[1].error, "not delivered: shutting down");
  EXPECT_EQ(items[2].target, "late");
  EXPECT_FALSE(items[2].ok);
}

TEST(DeliveryQueue, DescribesSuccess) {
  Delivery d;
  d.action = "syslog";
  d.target = "udp://10.0.0.1:514";
  d.ok = true;
  d.rule = "all";
  EXPECT_EQ(describe(d), "syslog to udp://10.0.0.1:514 sent [rule 'all']");
  d.action = "relay";
  d.target = "aux1.do1";
  d.detail = "on";
  d.event = "alarm_raised k";
  EXPECT_EQ(describe(d), "relay to aux1.do1 set (on) [rule 'all', alarm_raised k]");
}

}  // namespace
}  // namespace equalis::events
