#include "history/recorder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace equalis::history {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

struct Recorded {
  TimeMs time_ms;
  std::string reason;
};

// Sweeps every `step_ms` over [from, to] (inclusive); `discharging(t)` and `event(t)` drive it.
template <class DischargeFn, class EventFn>
std::vector<Recorded> run(Recorder& r, TimeMs from, TimeMs to, DurationMs step_ms,
                          DischargeFn discharging, EventFn event) {
  std::vector<Recorded> out;
  for (TimeMs t = from; t <= to; t += step_ms) {
    if (auto reason = r.shouldRecord(t, discharging(t), event(t))) {
      out.push_back({t, *reason});
    }
  }
  return out;
}

std::map<std::string, int> countReasons(const std::vector<Recorded>& recs) {
  std::map<std::string, int> m;
  for (const auto& r : recs) {
    ++m[r.reason];
  }
  return m;
}

TEST(HistoryRecorder, FirstCallRecordsStart) {
  Recorder r(model::HistoryConfig{});
  EXPECT_FALSE(r.lastRecordMs().has_value());
  auto reason = r.shouldRecord(kT0, false, false);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(*reason, "start");
  EXPECT_EQ(r.lastRecordMs(), kT0);
  EXPECT_FALSE(r.shouldRecord(kT0 + kSecondMs, false, false).has_value());
}

TEST(HistoryRecorder, FloatDayGives72RecordsPlusStart) {
  Recorder r(model::HistoryConfig{});
  const auto recs = run(
      r, kT0, kT0 + kDayMs, kSecondMs, [](TimeMs) { return false; }, [](TimeMs) { return false; });
  ASSERT_EQ(recs.size(), 73u);
  EXPECT_EQ(recs.front().reason, "start");
  for (std::size_t i = 1; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].reason, "float");
    EXPECT_EQ(recs[i].time_ms - recs[i - 1].time_ms, 20 * kMinuteMs);
  }
  EXPECT_EQ(r.currentIntervalMs(kT0 + kDayMs), 20 * kMinuteMs);
}

TEST(HistoryRecorder, FloatCadenceWithCoarseSweepsNeverRecordsEarly) {
  Recorder r(model::HistoryConfig{});
  const auto recs = run(
      r, kT0, kT0 + kDayMs, 7 * kSecondMs, [](TimeMs) { return false; },
      [](TimeMs) { return false; });
  ASSERT_GE(recs.size(), 70u);
  ASSERT_LE(recs.size(), 73u);
  for (std::size_t i = 1; i < recs.size(); ++i) {
    const DurationMs gap = recs[i].time_ms - recs[i - 1].time_ms;
    EXPECT_GE(gap, 20 * kMinuteMs);
    EXPECT_LT(gap, 20 * kMinuteMs + 7 * kSecondMs);
  }
}

TEST(HistoryRecorder, DischargeRecordsEvery10sAndHoldsOneHourAfter) {
  Recorder r(model::HistoryConfig{});
  const TimeMs dis_start = kT0 + kHourMs;             // 01:00
  const TimeMs dis_end = dis_start + 30 * kMinuteMs;  // 01:30, first sweep without discharge
  const TimeMs hold_end = dis_end + kHourMs;          // 02:30
  const auto discharging = [&](TimeMs t) { return t >= dis_start && t < dis_end; };
  const auto recs =
      run(r, kT0, kT0 + 4 * kHourMs, kSecondMs, discharging, [](TimeMs) { return false; });

  auto counts = countReasons(recs);
  EXPECT_EQ(counts["start"], 1);
  EXPECT_EQ(counts["discharge"], 180);        // 01:00:00 … 01:29:50
  EXPECT_EQ(counts["after-discharge"], 360);  // 01:30:00 … 02:29:50
  for (const auto& rec : recs) {
    if (rec.reason == "discharge") {
      EXPECT_GE(rec.time_ms, dis_start);
      EXPECT_LT(rec.time_ms, dis_end);
    } else if (rec.reason == "after-discharge") {
      EXPECT_GE(rec.time_ms, dis_end);
      EXPECT_LT(rec.time_ms, hold_end);
    }
  }
  // The discharge's first sweep records at once; fast records are 10 s apart.
  std::vector<TimeMs> fast;
  for (const auto& rec : recs) {
    if (rec.reason == "discharge" || rec.reason == "after-discharge") {
      fast.push_back(rec.time_ms);
    }
  }
  ASSERT_FALSE(fast.empty());
  EXPECT_EQ(fast.front(), dis_start);
  for (std::size_t i = 1; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i] - fast[i - 1], 10 * kSecondMs);
  }
  // Back to float: the first float record after the hold is 20 min after the last fast one.
  const auto first_float_after = std::find_if(recs.begin(), recs.end(), [&](const Recorded& x) {
    return x.reason == "float" && x.time_ms > dis_end;
  });
  ASSERT_NE(first_float_after, recs.end());
  EXPECT_EQ(first_float_after->time_ms, fast.back() + 20 * kMinuteMs);
}

TEST(HistoryRecorder, CurrentIntervalFollowsTheState) {
  model::HistoryConfig cfg;
  Recorder r(cfg);
  EXPECT_EQ(r.currentIntervalMs(kT0), cfg.float_interval_ms);
  (void)r.shouldRecord(kT0, false, false);
  EXPECT_FALSE(r.fastMode(kT0));
  (void)r.shouldRecord(kT0 + kMinuteMs, true, false);
  EXPECT_TRUE(r.fastMode(kT0 + kMinuteMs));
  EXPECT_EQ(r.currentIntervalMs(kT0 + kMinuteMs), cfg.fast_interval_ms);
  (void)r.shouldRecord(kT0 + 2 * kMinuteMs, false, false);  // discharge ended here
  EXPECT_EQ(r.currentIntervalMs(kT0 + 2 * kMinuteMs), cfg.fast_interval_ms);
  EXPECT_EQ(r.currentIntervalMs(kT0 + 2 * kMinuteMs + cfg.fast_hold_ms - 1), cfg.fast_interval_ms);
  EXPECT_EQ(r.currentIntervalMs(kT0 + 2 * kMinuteMs + cfg.fast_hold_ms), cfg.float_interval_ms);
}

TEST(HistoryRecorder, EventsAlwaysRecordAndRestartTheInterval) {
  Recorder r(model::HistoryConfig{});
  ASSERT_EQ(r.shouldRecord(kT0, false, false), "start");
  // Right after a record, an event still records.
  EXPECT_EQ(r.shouldRecord(kT0 + 1, false, true), "event");
  EXPECT_EQ(r.shouldRecord(kT0 + 2, false, true), "event");
  EXPECT_FALSE(r.shouldRecord(kT0 + 3, false, false).has_value());
  // The float interval now runs from the last event (+2 ms), not from the start.
  EXPECT_FALSE(r.shouldRecord(kT0 + 20 * kMinuteMs, false, false).has_value());
  EXPECT_EQ(r.shouldRecord(kT0 + 2 + 20 * kMinuteMs, false, false), "float");
}

TEST(HistoryRecorder, EventsRecordDuringADischargeToo) {
  Recorder r(model::HistoryConfig{});
  ASSERT_EQ(r.shouldRecord(kT0, true, false), "start");
  EXPECT_EQ(r.shouldRecord(kT0 + kSecondMs, true, true), "event");
  EXPECT_FALSE(r.shouldRecord(kT0 + 10 * kSecondMs, true, false).has_value());
  EXPECT_EQ(r.shouldRecord(kT0 + 11 * kSecondMs, true, false), "discharge");
}

TEST(HistoryRecorder, EventsDuringFloatDay) {
  Recorder r(model::HistoryConfig{});
  const TimeMs ev1 = kT0 + 5 * kMinuteMs + 3 * kSecondMs;
  const TimeMs ev2 = kT0 + 6 * kHourMs;
  const auto recs = run(
      r, kT0, kT0 + 12 * kHourMs, kSecondMs, [](TimeMs) { return false; },
      [&](TimeMs t) { return t == ev1 || t == ev2; });
  auto counts = countReasons(recs);
  EXPECT_EQ(counts["event"], 2);
  bool saw1 = false;
  bool saw2 = false;
  for (const auto& rec : recs) {
    saw1 = saw1 || (rec.time_ms == ev1 && rec.reason == "event");
    saw2 = saw2 || (rec.time_ms == ev2 && rec.reason == "event");
  }
  EXPECT_TRUE(saw1);
  EXPECT_TRUE(saw2);
}

TEST(HistoryRecorder, ClockSteppingBackRestartsTheInterval) {
  Recorder r(model::HistoryConfig{});
  ASSERT_EQ(r.shouldRecord(kT0, false, false), "start");
  EXPECT_FALSE(r.shouldRecord(kT0 - kHourMs, false, false).has_value());
  EXPECT_FALSE(r.shouldRecord(kT0 - kHourMs + 19 * kMinuteMs, false, false).has_value());
  EXPECT_EQ(r.shouldRecord(kT0 - kHourMs + 20 * kMinuteMs, false, false), "float");
}

TEST(HistoryRecorder, CustomIntervals) {
  model::HistoryConfig cfg;
  cfg.float_interval_ms = 5 * kMinuteMs;
  cfg.fast_interval_ms = 2 * kSecondMs;
  cfg.fast_hold_ms = 0;
  Recorder r(cfg);
  const auto discharging = [&](TimeMs t) {
    return t >= kT0 + kMinuteMs && t < kT0 + 2 * kMinuteMs;
  };
  const auto recs =
      run(r, kT0, kT0 + kHourMs, kSecondMs, discharging, [](TimeMs) { return false; });
  auto counts = countReasons(recs);
  EXPECT_EQ(counts["discharge"], 30);
  EXPECT_EQ(counts["after-discharge"], 0);
  EXPECT_EQ(counts["float"], 11);  // 01:59 + 5 min … ≤ 1 h
}

}  // namespace
}  // namespace equalis::history
