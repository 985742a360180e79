#include "core/clock.hpp"

#include <gtest/gtest.h>

namespace equalis {
namespace {

TEST(SimulatedClock, AdvancesOnlyWhenTold) {
  SimulatedClock clock(1000);
  EXPECT_EQ(clock.nowMs(), 1000);
  clock.advance(500);
  EXPECT_EQ(clock.nowMs(), 1500);
  EXPECT_TRUE(clock.sleepUntil(10'000));
  EXPECT_EQ(clock.nowMs(), 10'000);
  EXPECT_TRUE(clock.sleepUntil(5'000));  // never goes backwards
  EXPECT_EQ(clock.nowMs(), 10'000);
}

TEST(RealClock, ScaledClockRunsFaster) {
  RealClock clock(1000.0, 0);
  const TimeMs t0 = clock.nowMs();
  ASSERT_TRUE(clock.sleepUntil(t0 + 20'000));  // 20 simulated seconds = 20 ms real
  EXPECT_GE(clock.nowMs(), t0 + 20'000);
}

TEST(RealClock, WakeEndsSleep) {
  RealClock clock(1.0);
  clock.wake();
  EXPECT_FALSE(clock.sleepUntil(clock.nowMs() + 3'600'000));
}

TEST(Time, FormatsIso8601) {
  EXPECT_EQ(formatIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIso8601(1'767'225'600'123), "2026-01-01T00:00:00.123Z");
}

TEST(Time, ParsesIsoAndEpoch) {
  TimeMs t = 0;
  ASSERT_TRUE(parseTime("2026-01-01T00:00:00Z", t));
  EXPECT_EQ(t, 1'767'225'600'000);
  ASSERT_TRUE(parseTime("2026-01-01T00:00:01.5Z", t));
  EXPECT_EQ(t, 1'767'225'601'500);
  ASSERT_TRUE(parseTime("1767225600000", t));
  EXPECT_EQ(t, 1'767'225'600'000);
  EXPECT_FALSE(parseTime("yesterday", t));
  EXPECT_FALSE(parseTime("2026-13-01T00:00:00Z", t));
  EXPECT_FALSE(parseTime("2026-01-01T00:00:00Zjunk", t));
  EXPECT_FALSE(parseTime("", t));
}

TEST(Time, RoundTrips) {
  for (TimeMs t : {TimeMs{0}, TimeMs{1'767'225'600'123}, TimeMs{4'102'444'799'999}}) {
    TimeMs back = -1;
    ASSERT_TRUE(parseTime(formatIso8601(t), back));
    EXPECT_EQ(back, t);
  }
}

}  // namespace
}  // namespace equalis
