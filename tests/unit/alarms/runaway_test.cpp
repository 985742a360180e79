#include "alarms/runaway.hpp"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::alarms {
namespace {

constexpr DurationMs kStepMs = 10 * kSecondMs;
constexpr std::size_t kBlocks = 24;
constexpr double kCapacityAh = 100;
constexpr double kSetpointV = 13.62 * kBlocks;

// A synthetic string: every 10 s the test sets the current, the room and each block's temperature
// (a first-order lag towards a target) and feeds the guard.
struct Bench {
  RunawayGuard guard{"String 1", kCapacityAh, model::ThermalRunawayConfig{}};
  TimeMs t = 1'767'225'600'000;
  double current_a = 0.05;
  double ambient_c = 25;
  bool ambient_valid = true;
  double voltage_v = kSetpointV;
  std::vector<double> temp_c = std::vector<double>(kBlocks, 25.5);
  std::vector<RunawayEvent> events;

  void step() {
    t += kStepMs;
    RunawayInput in;
    in.time_ms = t;
    in.current_valid = true;
    in.current_a = current_a;
    in.voltage_valid = true;
    in.voltage_v = voltage_v;
    in.setpoint_v = kSetpointV;
    in.ambient_valid = ambient_valid;
    in.ambient_c = ambient_c;
    in.temperature_c = temp_c;
    // 0.1 °C resolution, as the modules report.
    for (auto& x : in.temperature_c) {
      x = std::round(x * 10) / 10;
    }
    in.valid.assign(kBlocks, true);
    for (auto& e : guard.update(in)) {
      events.push_back(std::move(e));
    }
  }
  // Runs for `d`, calling `physics(hours since start)` before each step.
  void run(DurationMs d, const std::function<void(double)>& physics) {
    const TimeMs start = t;
    while (t < start + d) {
      physics(static_cast<double>(t - start) / kHourMs);
      step();
    }
  }
  void settle(DurationMs d = 4 * kHourMs) {
    run(d, [](double) {});
  }
  int count(const std::string& kind) const {
    int n = 0;
    for (const auto& e : events) {
      n += e.kind == kind ? 1 : 0;
    }
    return n;
  }
  const RunawayEvent* find(const std::string& kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) {
        return &e;
      }
    }
    return nullptr;
  }
};

// A mains failure and the recharge: a high, tapering current and blocks warming by 2 K, then
// cooling. Never evidence: the current tapers.
TEST(RunawayGuard, RechargeAfterDischargeNeverCounts) {
  Bench b;
  b.settle();
  b.run(10 * kMinuteMs, [&](double) { b.current_a = -25; });
  b.run(12 * kHourMs, [&](double h) {
    b.current_a = std::min(10.0, 12.0 * std::exp(-h / 1.5)) + 0.05;
    const double warm = h < 3 ? 2.0 * h / 3 : 2.0 * std::exp(-(h - 3) / 3);
    for (auto& x : b.temp_c) {
      x = 25.5 + warm;
    }
  });
  EXPECT_TRUE(b.events.empty()) << b.events.front().message;
  EXPECT_EQ(b.guard.state(), RunawayState::kNormal);
}

// One block heats from inside at 3 K/h while the string floats: suspected, alarm after the hold,
// breaker open after the countdown — well before the block reaches 45 °C.
TEST(RunawayGuard, HotBlockTrips) {
  Bench b;
  b.settle();
  double hot_at_trip = 0;
  b.run(10 * kHourMs, [&](double h) {
    b.temp_c[6] = 25.5 + 3.0 * h;
    b.temp_c[5] = b.temp_c[7] = 25.5 + 0.6 * h;  // the neighbours warm a little
    if (b.guard.state() == RunawayState::kTripped && hot_at_trip == 0) {
      hot_at_trip = b.temp_c[6];
    }
  });
  ASSERT_EQ(b.guard.state(), RunawayState::kTripped) << b.guard.lastMessage();
  ASSERT_NE(b.find("suspected"), nullptr);
  ASSERT_NE(b.find("alarm"), nullptr);
  const auto* trip = b.find("trip");
  ASSERT_NE(trip, nullptr);
  EXPECT_TRUE(trip->open_breaker);
  EXPECT_NE(trip->message.find("block 7"), std::string::npos) << trip->message;
  EXPECT_LT(hot_at_trip, 45.0);
  EXPECT_EQ(b.guard.hotBlock(), 7);
  EXPECT_EQ(b.count("trip"), 1);
  // Latched: nothing more happens until an operator resets it.
  const auto n = b.events.size();
  b.settle(kHourMs);
  EXPECT_EQ(b.events.size(), n);
  const auto reset = b.guard.reset(b.t);
  ASSERT_EQ(reset.size(), 1u);
  EXPECT_EQ(b.guard.state(), RunawayState::kNormal);
  EXPECT_TRUE(b.guard.reset(b.t).empty());  // nothing left to reset
}

// The whole string runs away in a 35 °C room: the blocks warm above the room and keep warming,
// the float current climbs. It trips before 45 °C with a room sensor; without one the string's
// warmth counts only 10 K above its own 24 h low (a room's day can swing that much), before 50 °C.
void stringRunaway(bool room_sensor) {
  Bench b;
  b.ambient_valid = room_sensor;
  b.ambient_c = 35;
  for (auto& x : b.temp_c) {
    x = 35.5;
  }
  b.current_a = 0.3;
  b.settle(26 * kHourMs);  // a day of history at 35 °C
  double hot_at_trip = 0;
  b.run(12 * kHourMs, [&](double h) {
    for (auto& x : b.temp_c) {
      x = 35.5 + 1.5 * h;
    }
    b.current_a = 0.3 * std::exp(0.25 * h);
    if (b.guard.state() == RunawayState::kTripped && hot_at_trip == 0) {
      hot_at_trip = b.temp_c[0];
    }
  });
  ASSERT_EQ(b.guard.state(), RunawayState::kTripped) << b.guard.lastMessage();
  EXPECT_LT(hot_at_trip, room_sensor ? 45.0 : 50.0);
  EXPECT_NE(b.find("alarm")->message.find("string"), std::string::npos);
}

TEST(RunawayGuard, StringRunawayTripsWithRoomSensor) {
  stringRunaway(true);
}

TEST(RunawayGuard, StringRunawayTripsWithoutRoomSensor) {
  stringRunaway(false);
}

// A hot summer: the room swings 19–31 °C every day, the blocks follow with a lag of hours (so
// they are warmer than the room every evening), the float current follows the temperature.
// Three days: never evidence, with or without a room sensor.
void hotDays(bool room_sensor) {
  Bench b;
  b.ambient_valid = room_sensor;
  double block_c = 25;
  b.run(72 * kHourMs, [&](double h) {
    b.ambient_c = 25 + 6 * std::sin(2 * M_PI * h / 24);
    block_c += (b.ambient_c - block_c) * (10.0 / 3600.0) / 4.0;  // τ = 4 h
    for (std::size_t i = 0; i < kBlocks; ++i) {
      b.temp_c[i] = block_c + 0.3 + 0.02 * static_cast<double>(i);
    }
    b.current_a = 0.05 * std::exp(0.04 * (block_c - 25));
  });
  EXPECT_TRUE(b.events.empty()) << b.events.front().message;
}

TEST(RunawayGuard, HotDaysAreNotARunaway) {
  hotDays(true);
}

TEST(RunawayGuard, HotDaysWithoutRoomSensorAreNotARunaway) {
  hotDays(false);
}

// The ladder with a controllable charger: the alarm lowers the charger; the current falls and the
// string cools, so the evidence goes away and the breaker stays closed — but the charger stays
// lowered (state "reduced") until the operator resets the protection.
TEST(RunawayGuard, ChargerReductionAndOperatorReset) {
  Bench b;
  b.guard.setChargerControllable(true);
  b.ambient_c = 35;
  for (auto& x : b.temp_c) {
    x = 35.5;
  }
  b.current_a = 0.3;
  b.settle(26 * kHourMs);
  bool reduced = false;
  double t_reduced_h = 0;
  b.run(12 * kHourMs, [&](double h) {
    if (!reduced && b.find("charger_reduced") != nullptr) {
      reduced = true;
      t_reduced_h = h;
    }
    const double heat_h = reduced ? t_reduced_h : h;
    const double peak = 35.5 + 1.5 * heat_h;
    for (auto& x : b.temp_c) {
      x = reduced ? 35.5 + (peak - 35.5) * std::exp(-(h - t_reduced_h) / 2) : peak;
    }
    b.current_a = reduced ? 0.05 : 0.3 * std::exp(0.25 * h);
  });
  const auto* e = b.find("charger_reduced");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->reduce_charger);
  EXPECT_EQ(b.count("trip"), 0);
  EXPECT_EQ(b.guard.state(), RunawayState::kReduced) << b.guard.lastMessage();
  EXPECT_TRUE(b.guard.chargerReduced());
  const auto reset = b.guard.reset(b.t);
  ASSERT_EQ(reset.size(), 1u);
  EXPECT_TRUE(reset[0].release_charger);
  EXPECT_FALSE(b.guard.chargerReduced());
}

// A block that keeps heating after the charger was lowered (an internal short heats it whatever
// the charger does): the countdown runs out and the breaker opens.
TEST(RunawayGuard, HotBlockTripsEvenWithChargerLowered) {
  Bench b;
  b.guard.setChargerControllable(true);
  b.settle();
  b.run(10 * kHourMs, [&](double h) {
    b.temp_c[3] = 25.5 + 3.0 * h;
    if (b.guard.chargerReduced()) {
      b.current_a = 0.0;
    }
  });
  EXPECT_NE(b.find("charger_reduced"), nullptr);
  EXPECT_EQ(b.guard.state(), RunawayState::kTripped) << b.guard.lastMessage();
}

// The countdown runs out during a mains failure: the string carries the load, so the breaker
// opens only when the discharge ends.
TEST(RunawayGuard, TripWaitsForTheEndOfADischarge) {
  Bench b;
  b.settle();
  bool discharging = false;
  TimeMs discharge_end = 0;
  b.run(10 * kHourMs, [&](double h) {
    b.temp_c[6] = 25.5 + 3.0 * h;
    if (b.guard.state() == RunawayState::kCountdown && !discharging && discharge_end == 0) {
      discharging = true;
      discharge_end = b.t + 30 * kMinuteMs;
    }
    if (discharging && b.t >= discharge_end) {
      discharging = false;
    }
    b.current_a = discharging ? -25.0 : 0.1;
  });
  const auto* trip = b.find("trip");
  ASSERT_NE(trip, nullptr);
  EXPECT_GE(trip->time_ms, discharge_end);
}

TEST(RunawayGuard, DisabledDoesNothing) {
  model::ThermalRunawayConfig cfg;
  cfg.enabled = false;
  Bench b;
  b.guard = RunawayGuard("String 1", kCapacityAh, cfg);
  b.settle();
  b.run(10 * kHourMs, [&](double h) { b.temp_c[6] = 25.5 + 3.0 * h; });
  EXPECT_TRUE(b.events.empty());
}

}  // namespace
}  // namespace equalis::alarms
