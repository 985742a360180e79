#include "analysis/ri_baseline.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace equalis::analysis {
namespace {

model::AlarmsConfig cfg(int samples, DurationMs interval_ms, DurationMs delay_ms = 0) {
  model::AlarmsConfig c;
  c.ri_baseline_samples = samples;
  c.ri_baseline_interval_ms = interval_ms;
  c.ri_baseline_delay_ms = delay_ms;
  return c;
}

TEST(RiBaseline, MedianOfSpacedSamplesIgnoresOutliers) {
  RiBaseline rb(2, cfg(5, kHourMs));
  std::vector<RiBaselineEvent> ev;
  const double readings[] = {4.9, 9.9, 5.0, 5.1, 4.8};  // one bad Ri pulse
  TimeMs t = 0;
  for (double r : readings) {
    rb.update(0, r, t, ev);
    rb.update(0, 100.0, t + kMinuteMs, ev);  // within the interval: not a sample
    t += kHourMs;
  }
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "established");
  EXPECT_TRUE(rb.established(0));
  EXPECT_FALSE(rb.established(1));
  EXPECT_DOUBLE_EQ(rb.baselineMohm(0), 5.0);
  EXPECT_NEAR(rb.risePct(0, 6.0), 20.0, 1e-9);
  EXPECT_TRUE(std::isnan(rb.risePct(1, 6.0)));
}

TEST(RiBaseline, DelayAfterCommissioning) {
  RiBaseline rb(1, cfg(2, kHourMs, 10 * kDayMs));
  std::vector<RiBaselineEvent> ev;
  for (TimeMs t = 0; t < 10 * kDayMs; t += kHourMs) {
    rb.update(0, 5.0, t, ev);
  }
  EXPECT_FALSE(rb.established(0));
  rb.update(0, 5.0, 10 * kDayMs, ev);
  rb.update(0, 5.2, 10 * kDayMs + kHourMs, ev);
  ASSERT_TRUE(rb.established(0));
  EXPECT_DOUBLE_EQ(rb.baselineMohm(0), 5.1);
}

TEST(RiBaseline, ReplacedBlockIsBaselinedAgainButAgeingIsNot) {
  RiBaseline rb(1, cfg(3, kHourMs));
  std::vector<RiBaselineEvent> ev;
  TimeMs t = 0;
  auto feed = [&](double r, int n) {
    for (int i = 0; i < n; ++i, t += kHourMs) {
      rb.update(0, r, t, ev);
    }
  };
  feed(8.0, 3);
  ASSERT_DOUBLE_EQ(rb.baselineMohm(0), 8.0);
  feed(12.0, 10);  // ageing: a rise, never a re-baseline
  EXPECT_DOUBLE_EQ(rb.baselineMohm(0), 8.0);
  feed(5.0, 2);  // two low samples: not yet
  EXPECT_TRUE(rb.established(0));
  feed(5.0, 1);
  EXPECT_FALSE(rb.established(0));
  ASSERT_EQ(ev.back().kind, "replaced");
  feed(5.0, 3);
  EXPECT_DOUBLE_EQ(rb.baselineMohm(0), 5.0);
  const auto e = rb.reset(0);
  EXPECT_EQ(e.kind, "reset");
  EXPECT_FALSE(rb.established(0));
}

TEST(RiBaseline, SerializeRoundTripAndRejectGarbage) {
  RiBaseline rb(3, cfg(2, kHourMs));
  std::vector<RiBaselineEvent> ev;
  rb.update(0, 4.0, 0, ev);
  rb.update(0, 6.0, kHourMs, ev);
  rb.update(2, 7.0, 0, ev);
  auto back = RiBaseline::deserialize(rb.serialize(), cfg(2, kHourMs));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->blockCount(), 3u);
  EXPECT_DOUBLE_EQ(back->baselineMohm(0), 5.0);
  back->update(2, 9.0, kHourMs, ev);  // the pending sample of block 3 survived
  EXPECT_DOUBLE_EQ(back->baselineMohm(2), 8.0);
  EXPECT_FALSE(RiBaseline::deserialize("hello", cfg(2, kHourMs)).ok());
  EXPECT_FALSE(RiBaseline::deserialize("equalis-ri-baseline 1\n1 2 x 4\n", cfg(2, kHourMs)).ok());
}

}  // namespace
}  // namespace equalis::analysis
