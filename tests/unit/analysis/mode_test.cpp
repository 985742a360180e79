#include "analysis/mode.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::analysis {
namespace {

using model::StringModeValue;

constexpr double kSetpointV = 13.62;  // per 12 V block
constexpr DurationMs kStepMs = 10 * kSecondMs;

struct Feed {
  ModeTracker tracker;
  TimeMs t = kHourMs;
  std::vector<std::pair<TimeMs, StringModeValue>> changes;
  StringModeValue last = StringModeValue::kFloat;
  void step(double current_a, double voltage_per_block_v) {
    t += kStepMs;
    ModeInput in;
    in.time_ms = t;
    in.current_a = current_a;
    in.voltage_per_block_v = voltage_per_block_v;
    in.setpoint_per_block_v = kSetpointV;
    in.capacity_ah = 100;
    const auto m = tracker.update(in);
    if (m != last) {
      changes.emplace_back(t, m);
      last = m;
    }
  }
};

// A float current drifting slowly through the old 0.005 C threshold (0.5 A on 100 Ah), with the
// sensor's noise, while the charger holds the voltage: float throughout, no mode events.
TEST(ModeTracker, DriftingFloatCurrentStaysFloat) {
  Feed r;
  std::uint64_t x = 12345;
  for (int i = 0; i < 6 * 360; ++i) {  // 6 h
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const double noise = (static_cast<double>(x >> 11) / 9007199254740992.0 - 0.5) * 0.1;
    r.step(0.3 + 0.4 * i / (6.0 * 360) + noise, kSetpointV + 0.002);
  }
  EXPECT_TRUE(r.changes.empty()) << r.changes.size() << " mode changes, first to "
                                 << static_cast<int>(r.changes.front().second);
}

// A runaway's current at constant voltage climbs to several amps: still float (the charger holds
// the voltage); only when it hits its current limit and the voltage sags is it charge.
TEST(ModeTracker, RisingCurrentAtConstantVoltageIsFloat) {
  Feed r;
  for (int i = 0; i < 360; ++i) {
    r.step(0.1 * std::exp(i / 100.0), kSetpointV);
  }
  EXPECT_EQ(r.tracker.mode(), StringModeValue::kFloat);
  EXPECT_TRUE(r.changes.empty());
  for (int i = 0; i < 30; ++i) {
    r.step(10.0, 0.95 * kSetpointV);
  }
  EXPECT_EQ(r.tracker.mode(), StringModeValue::kCharge);
  EXPECT_EQ(r.changes.size(), 1u);
}

// A mains failure and the recharge: float → discharge → charge → float, one event each, with the
// current tapering through the old threshold without flapping.
TEST(ModeTracker, OutageAndRechargeOneEventPerTransition) {
  Feed r;
  for (int i = 0; i < 60; ++i) {
    r.step(0.05, kSetpointV);
  }
  for (int i = 0; i < 60; ++i) {  // 10 min on battery
    r.step(-25.0 + (i % 2) * 0.3, 12.2);
  }
  for (int i = 0; i < 60; ++i) {  // constant current
    r.step(10.0, 12.8 + i * 0.01);
  }
  for (int i = 0; i < 6 * 360; ++i) {  // constant voltage, tapering to float, with ripple
    const double taper = 10.0 * std::exp(-i / 200.0) + 0.05;
    r.step(taper + ((i % 3) - 1) * 0.02, kSetpointV);
  }
  ASSERT_EQ(r.changes.size(), 3u);
  EXPECT_EQ(r.changes[0].second, StringModeValue::kDischarge);
  EXPECT_EQ(r.changes[1].second, StringModeValue::kCharge);
  EXPECT_EQ(r.changes[2].second, StringModeValue::kFloat);
}

// After a recharge whose current stops tapering above the float level (an aged or warm string),
// the mode still returns to float once the current has made no new low for 30 min.
TEST(ModeTracker, ChargeEndsWhenTaperStops) {
  Feed r;
  for (int i = 0; i < 20; ++i) {
    r.step(-20.0, 12.2);
  }
  for (int i = 0; i < 360; ++i) {
    r.step(std::max(0.9, 10.0 * std::exp(-i / 60.0)), kSetpointV);
  }
  EXPECT_EQ(r.tracker.mode(), StringModeValue::kFloat);
}

// Charger off: no current, the voltage relaxes below the set-point → rest after a dwell.
TEST(ModeTracker, ChargerOffIsRest) {
  Feed r;
  for (int i = 0; i < 120; ++i) {
    r.step(0.0, 12.9);
  }
  EXPECT_EQ(r.tracker.mode(), StringModeValue::kRest);
  for (int i = 0; i < 20; ++i) {
    r.step(0.05, kSetpointV);
  }
  EXPECT_EQ(r.tracker.mode(), StringModeValue::kFloat);
}

}  // namespace
}  // namespace equalis::analysis
