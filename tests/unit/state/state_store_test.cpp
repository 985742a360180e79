#include "state/state_store.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace equalis::state {
namespace {

using model::PointId;
using model::Quality;

TEST(StateStore, StoresPerStringAndBlock) {
  StateStore store({2, 3}, 30'000);
  {
    StateStore::Writer w(store);
    w.set(PointId::kBlockVoltageV, 1, 2, {13.61, 1000, Quality::kOk});
    w.set(PointId::kBlockVoltageV, 0, 1, {13.20, 1000, Quality::kOk});
    w.set(PointId::kStringCurrentA, 1, 0, {-25.0, 1000, Quality::kOk});
    w.setSystem(PointId::kSystemStringCount, {2, 1000, Quality::kOk});
  }
  StateStore::Reader r(store, 2000);
  EXPECT_DOUBLE_EQ(r.get(PointId::kBlockVoltageV, 1, 2).value, 13.61);
  EXPECT_DOUBLE_EQ(r.get(PointId::kBlockVoltageV, 0, 1).value, 13.20);
  EXPECT_DOUBLE_EQ(r.get(PointId::kStringCurrentA, 1).value, -25.0);
  EXPECT_DOUBLE_EQ(r.get(PointId::kSystemStringCount).value, 2);
  // Never written: not present.
  EXPECT_EQ(r.get(PointId::kBlockVoltageV, 0, 0).quality, Quality::kNotPresent);
  EXPECT_THROW((void)r.get(PointId::kBlockVoltageV, 0, 2), std::out_of_range);
  EXPECT_THROW((void)r.get(PointId::kBlockVoltageV, 2, 0), std::out_of_range);
}

TEST(StateStore, OldValuesBecomeStaleOnRead) {
  StateStore store({1}, 30'000);
  {
    StateStore::Writer w(store);
    w.set(PointId::kBlockVoltageV, 0, 0, {13.5, 100'000, Quality::kOk});
    w.set(PointId::kBlockTemperatureC, 0, 0, {25.0, 100'000, Quality::kCommLost});
  }
  EXPECT_EQ(StateStore::Reader(store, 130'000).get(PointId::kBlockVoltageV, 0, 0).quality,
            Quality::kOk);
  EXPECT_EQ(StateStore::Reader(store, 130'001).get(PointId::kBlockVoltageV, 0, 0).quality,
            Quality::kStale);
  // Worse qualities are kept as they are.
  EXPECT_EQ(StateStore::Reader(store, 500'000).get(PointId::kBlockTemperatureC, 0, 0).quality,
            Quality::kCommLost);
}

TEST(StateStore, VersionAndWaiters) {
  StateStore store({1}, 1000);
  const auto v0 = store.version();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    StateStore::Writer w(store);
    w.setSystem(PointId::kSystemSweepCount, {1, 1, Quality::kOk});
  });
  const auto v1 = store.waitForChange(v0, std::chrono::seconds(10));
  writer.join();
  EXPECT_EQ(v1, v0 + 1);
  // No change: returns after the timeout with the same version.
  EXPECT_EQ(store.waitForChange(v1, std::chrono::milliseconds(10)), v1);
}

}  // namespace
}  // namespace equalis::state
