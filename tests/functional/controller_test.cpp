// The controller pipeline (simulator → bus → analysis → state → history) on a SimulatedClock.
#include "runtime/controller.hpp"

#include "functional/temp_dir.hpp"
#include "persist/files.hpp"
#include "sim/scenario.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string_view>

#include <gtest/gtest.h>

namespace equalis::runtime {
namespace {

using model::PointId;
using model::Quality;

const command::Origin kTestOrigin{"", "", "test"};

using test::TempDir;

model::PlantConfig quietPlant(const std::string& dir) {
  auto p = model::demoPlant();
  p.simulation.ups.outages = false;
  p.data_dir = dir;
  return p;
}

TEST(Controller, TwentyFourHoursOfFloat) {
  TempDir dir;
  SimulatedClock clock;
  const TimeMs t0 = clock.nowMs();
  auto plant = quietPlant(dir.str());
  plant.equalization.enabled = false;
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, t0 + kDayMs);

  EXPECT_EQ(c.sweepCount(), static_cast<std::uint64_t>(kDayMs / (10 * kSecondMs)));
  // Seed cadence: a snapshot every 20 min in float (72 a day) plus the start record.
  EXPECT_GE(c.historyRecordCount(), 72u);
  EXPECT_LE(c.historyRecordCount(), 74u);

  state::StateStore::Reader r(c.state(), clock.nowMs());
  for (std::size_t s = 0; s < 2; ++s) {
    EXPECT_EQ(model::enumName(PointId::kStringMode,
                              static_cast<int>(r.get(PointId::kStringMode, s).value)),
              "float");
    EXPECT_NEAR(r.get(PointId::kStringTargetVoltageV, s).value, 13.62, 0.05);
    EXPECT_NEAR(r.get(PointId::kStringVoltageV, s).value, 32 * 13.62, 32 * 0.1);
    for (std::size_t b = 0; b < 32; ++b) {
      EXPECT_EQ(r.get(PointId::kBlockVoltageV, s, b).quality, Quality::kOk);
      EXPECT_NEAR(r.get(PointId::kBlockChargePct, s, b).value, 100.0, 0.5);
    }
  }
  // Without equalization, the 5-year-old string floats far wider than the new one.
  const double old_spread = r.get(PointId::kStringBlockVoltageSpreadV, 0).value;
  const double new_spread = r.get(PointId::kStringBlockVoltageSpreadV, 1).value;
  EXPECT_GT(old_spread, 0.8);
  EXPECT_GT(old_spread, 2.0 * new_spread);

  auto series =
      c.history()->blockSeries(0, 0, history::BlockQuantity::kVoltageV, t0, clock.nowMs(), 1000);
  ASSERT_TRUE(series.ok());
  EXPECT_GE(series->size(), 72u);
}

// Closed loop: equalization narrows the spread of both strings (seed: "within a few hours").
TEST(Controller, EqualizationNarrowsTheSpread) {
  double spread_v[2][2] = {};  // [equalization off/on][string]
  for (int on = 0; on < 2; ++on) {
    TempDir dir;
    SimulatedClock clock;
    auto plant = quietPlant(dir.str());
    plant.equalization.enabled = on == 1;
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    c.runUntil(clock, clock.nowMs() + kDayMs);
    state::StateStore::Reader r(c.state(), clock.nowMs());
    for (std::size_t s = 0; s < 2; ++s) {
      spread_v[on][s] = r.get(PointId::kStringBlockVoltageSpreadV, s).value;
      EXPECT_EQ(
          model::enumName(PointId::kStringEqualizationState,
                          static_cast<int>(r.get(PointId::kStringEqualizationState, s).value)),
          on == 1 ? "balancing" : "off");
    }
    if (on == 1) {
      // Bleeding blocks show their band, and the effort is counted.
      int bleeding = 0;
      double wh_per_day = 0;
      for (std::size_t b = 0; b < 32; ++b) {
        bleeding += r.get(PointId::kBlockEqualizationLevel, 0, b).value > 0 ? 1 : 0;
        wh_per_day += r.get(PointId::kBlockEqualizationWhPerDay, 0, b).value;
      }
      EXPECT_GT(bleeding, 10);
      EXPECT_GT(wh_per_day, 1.0);
      EXPECT_GT(r.get(PointId::kStringEqualizationPowerW, 0).value, 0.1);
    }
  }
  // The new string reaches the seed's ±10 mV (displayed); the 5-year-old one narrows a lot
  // (its hungriest blocks need more than the module's 150 mA, so it cannot close fully).
  EXPECT_LT(spread_v[1][1], 0.012);
  EXPECT_LT(spread_v[1][0], 0.5 * spread_v[0][0]);
  EXPECT_LT(spread_v[1][1], 0.5 * spread_v[0][1]);
}

// Each block's full-charge OCV (its own curve) minus the string's mean.
std::vector<double> ocvDeviationsV(const sim::PlantSim& sim, std::size_t s) {
  std::vector<double> d(sim.blockCount(s));
  double mean = 0;
  for (std::size_t b = 0; b < d.size(); ++b) {
    d[b] = sim.blockTruth(s, b).ocv_full_v;
    mean += d[b] / static_cast<double>(d.size());
  }
  for (double& x : d) {
    x -= mean;
  }
  return d;
}

// Self-calibration: after a few mains failures the module errors are known (and persisted), and
// equalizing on corrected voltages brings the *true* spread of the new string inside ±25 mV.
TEST(Controller, SelfCalibrationNarrowsTheTrueSpread) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();
  plant.data_dir = dir.str();
  plant.simulation.ups.outage_mean_interval_h = 4.0;
  plant.history.fast_interval_ms = 5 * kMinuteMs;  // keep this test's disk writes small
  plant.history.fast_hold_ms = 0;
  int events = 0;
  {
    const auto plant_sim = simulatedPlant(plant, clock.nowMs());
    Controller c(plant, clock, plant_sim);
    ASSERT_TRUE(c.open().ok());
    c.runUntil(clock, clock.nowMs() + 30 * kHourMs);
    const auto& est = c.calibration(1);
    events = est.stringEvents();
    EXPECT_GE(events, 3);
    auto& sim = *plant_sim;
    // The estimate holds the module's error and the block's own full-charge OCV deviation from
    // the string's mean, which a voltage cannot tell apart (docs/calibration.md §1).
    const auto ocv_dev = ocvDeviationsV(sim, 1);
    double sq = 0;
    for (std::size_t b = 0; b < 32; ++b) {
      const double truth = sim.moduleGainError(1, b) * sim.blockTruth(1, b).voltage_v +
                           sim.moduleOffsetV(1, b) + ocv_dev[b];
      sq += (est.errorV(b) - truth) * (est.errorV(b) - truth);
      EXPECT_TRUE(est.calibrated(b)) << "block " << b + 1;
    }
    const double rms_mv = std::sqrt(sq / 32) * 1000;
    std::printf("module error estimate: RMS %.2f mV after %d discharges\n", rms_mv, events);
    EXPECT_LT(rms_mv, 5.0);
    state::StateStore::Reader r(c.state(), clock.nowMs());
    EXPECT_EQ(r.get(PointId::kBlockModuleErrorMv, 1, 0).quality, Quality::kOk);
  }
  // Same plant (same modules), mains quiet from now on: equalize for 12 h with and without the
  // correction. The calibration comes back from the data directory.
  double true_spread_v[2] = {};
  for (int cal = 0; cal < 2; ++cal) {
    auto quiet = plant;
    quiet.simulation.ups.outages = false;
    quiet.equalization.self_calibration = cal == 1;
    const auto plant_sim = simulatedPlant(quiet, clock.nowMs());
    Controller c(quiet, clock, plant_sim);
    ASSERT_TRUE(c.open().ok());
    EXPECT_EQ(c.calibration(1).stringEvents(), events);
    c.runUntil(clock, clock.nowMs() + 12 * kHourMs);
    auto& sim = *plant_sim;
    // Each block's float voltage against its own full-charge OCV.
    const auto ocv_dev = ocvDeviationsV(sim, 1);
    double sum = 0;
    std::vector<double> v(32);
    for (std::size_t b = 0; b < 32; ++b) {
      v[b] = sim.blockTruth(1, b).voltage_v - ocv_dev[b];
      sum += v[b];
    }
    for (double x : v) {
      true_spread_v[cal] = std::max(true_spread_v[cal], std::abs(x - sum / 32));
    }
  }
  std::printf("new string true spread after equalization: ±%.1f mV raw, ±%.1f mV calibrated\n",
              true_spread_v[0] * 1000, true_spread_v[1] * 1000);
  EXPECT_LT(true_spread_v[1], 0.025);
  EXPECT_LT(true_spread_v[1], 0.6 * true_spread_v[0]);
}

TEST(Controller, DischargeRecordedEveryTenSeconds) {
  TempDir dir;
  SimulatedClock clock;
  const TimeMs t0 = clock.nowMs();
  const auto plant_sim = simulatedPlant(quietPlant(dir.str()), clock.nowMs());
  Controller c(quietPlant(dir.str()), clock, plant_sim);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, t0 + 2 * kHourMs);
  const TimeMs outage_ms = clock.nowMs();
  plant_sim->startOutage(20'000.0, 10 * kMinuteMs);
  c.runUntil(clock, outage_ms + 10 * kMinuteMs);
  {
    state::StateStore::Reader r(c.state(), clock.nowMs());
    EXPECT_LT(r.get(PointId::kStringCurrentA, 0).value, -5.0);
    EXPECT_LT(r.get(PointId::kStringChargeAvgPct, 0).value, 99.0);
  }
  c.runUntil(clock, outage_ms + 3 * kHourMs);

  auto current = c.history()->stringSeries(0, history::StringQuantity::kCurrentA, outage_ms,
                                           outage_ms + 10 * kMinuteMs, 10'000);
  ASSERT_TRUE(current.ok());
  // 10 min at a 10 s cadence: about 60 records, each 10 s apart.
  EXPECT_GE(current->size(), 55u);
  EXPECT_LE(current->size(), 62u);
  for (std::size_t i = 1; i < current->size(); ++i) {
    EXPECT_EQ((*current)[i].time_ms - (*current)[i - 1].time_ms, 10 * kSecondMs);
  }
  // Fast cadence continues for an hour after the discharge, then falls back to 20 min.
  auto after =
      c.history()->stringSeries(0, history::StringQuantity::kCurrentA, outage_ms + 15 * kMinuteMs,
                                outage_ms + 60 * kMinuteMs, 10'000);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->size(), 200u);
  auto late = c.history()->stringSeries(0, history::StringQuantity::kCurrentA,
                                        outage_ms + 2 * kHourMs, outage_ms + 3 * kHourMs, 10'000);
  ASSERT_TRUE(late.ok());
  EXPECT_LE(late->size(), 5u);

  // The mode changes are in the event log.
  auto events = c.history()->events(outage_ms, clock.nowMs(), 100);
  ASSERT_TRUE(events.ok());
  bool saw_discharge = false;
  bool saw_float = false;
  for (const auto& e : *events) {
    saw_discharge |= e.message.find("→ discharge") != std::string::npos;
    saw_float |= e.message.find("→ float") != std::string::npos;
  }
  EXPECT_TRUE(saw_discharge);
  EXPECT_TRUE(saw_float);
}

TEST(Controller, RestartKeepsHistory) {
  TempDir dir;
  SimulatedClock clock;
  const TimeMs t0 = clock.nowMs();
  std::size_t records_before = 0;
  {
    Controller c(quietPlant(dir.str()), clock);
    ASSERT_TRUE(c.open().ok());
    c.runUntil(clock, t0 + 6 * kHourMs);
    records_before = c.historyRecordCount();
    ASSERT_GT(records_before, 10u);
  }
  Controller c2(quietPlant(dir.str()), clock);
  ASSERT_TRUE(c2.open().ok());
  auto series = c2.history()->blockSeries(1, 31, history::BlockQuantity::kVoltageV, t0,
                                          clock.nowMs(), 10'000);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->size(), records_before);
  auto stats = c2.history()->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->snapshot_count, records_before);
}

TEST(Controller, SilentModuleTurnsCommLostAndStale) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant_sim = simulatedPlant(quietPlant(dir.str()), clock.nowMs());
  Controller c(quietPlant(dir.str()), clock, plant_sim);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, clock.nowMs() + kMinuteMs);
  plant_sim->setModuleCommFault(0, 4, true);
  c.runUntil(clock, clock.nowMs() + 30 * kSecondMs);  // three sweeps
  state::StateStore::Reader r(c.state(), clock.nowMs());
  EXPECT_EQ(r.get(PointId::kBlockVoltageV, 0, 4).quality, Quality::kCommLost);
  EXPECT_EQ(r.get(PointId::kBlockVoltageV, 0, 3).quality, Quality::kOk);
  EXPECT_EQ(r.get(PointId::kStringVoltageV, 0).quality, Quality::kInvalid);
  EXPECT_EQ(model::enumName(PointId::kBlockStatus,
                            static_cast<int>(r.get(PointId::kBlockStatus, 0, 4).value)),
            "unknown");
  EXPECT_DOUBLE_EQ(r.get(PointId::kSystemModulesOkCount).value, 63);
}

TEST(Controller, UnwritableDataDirIsAClearError) {
  SimulatedClock clock;
  auto plant = quietPlant("/proc/equalis-cannot-write-here");
  Controller c(plant, clock);
  const auto st = c.open();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/proc/equalis-cannot-write-here"), std::string::npos);
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// Highest true block temperature of a string (the test's referee, never the controller's input).
double hottestBlockC(const sim::PlantSim& sim, std::size_t s) {
  double hot = -1e9;
  for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
    hot = std::max(hot, sim.blockTruth(s, b).temperature_c);
  }
  return hot;
}

// Runs a shipped scenario on the demo plant as `make run` has it (random mains failures on)
// until string 1 trips or `limit` passes; checks that string 2 never trips. Returns the trip time
// after the start (−1: none) and the hottest true block of string 1 at the trip.
struct TripResult {
  DurationMs after_ms = -1;
  double hottest_c = 0;
};
TripResult runUntilTrip(Controller& c, const sim::PlantSim& sim, SimulatedClock& clock,
                        const std::string& scenario_name, DurationMs limit) {
  auto scenario =
      sim::loadScenarioFile(std::string(EQUALIS_SOURCE_DIR) + "/scenarios/" + scenario_name);
  EXPECT_TRUE(scenario.ok()) << scenario.error().message;
  if (!scenario.ok()) {
    return {};
  }
  EXPECT_TRUE(c.setScenario(std::move(scenario.value())).ok());
  const TimeMs t0 = clock.nowMs();
  TripResult r;
  while (clock.nowMs() < t0 + limit) {
    c.runUntil(clock, clock.nowMs() + kMinuteMs);
    EXPECT_NE(c.protectionState(1), alarms::RunawayState::kTripped) << "string 2 tripped";
    if (c.protectionState(0) == alarms::RunawayState::kTripped) {
      r.after_ms = clock.nowMs() - t0;
      r.hottest_c = hottestBlockC(sim, 0);
      break;
    }
  }
  return r;
}

// The demo plant as `make run` has it (mains failures on) with `scenario_name` running until
// string 1 trips (at most 30 plant hours); a trip is required.
struct DemoTrip {
  TempDir dir;
  SimulatedClock clock;
  model::PlantConfig plant;
  std::shared_ptr<sim::PlantSim> plant_sim;  // the referee's view of the plant
  std::unique_ptr<Controller> c;
  TimeMs t0 = 0;
  TripResult r;
  DemoTrip(const std::string& scenario_name, std::uint64_t seed) : plant(model::demoPlant()) {
    plant.data_dir = dir.str();
    plant.simulation.seed = seed;
    plant_sim = simulatedPlant(plant, clock.nowMs());
    c = std::make_unique<Controller>(plant, clock, plant_sim);
    EXPECT_TRUE(c->open().ok());
    t0 = clock.nowMs();
    r = runUntilTrip(*c, *plant_sim, clock, scenario_name, 30 * kHourMs);
    EXPECT_GT(r.after_ms, 0) << scenario_name << ", seed " << seed << ": no trip within 30 h; "
                             << "string 1 state "
                             << alarms::runawayStateName(c->protectionState(0));
    EXPECT_LT(r.hottest_c, 60.0);
    std::printf("%s, seed %llu: breaker opened %.1f h in, hottest block %.1f °C\n",
                scenario_name.c_str(), static_cast<unsigned long long>(seed),
                static_cast<double>(r.after_ms) / kHourMs, r.hottest_c);
  }
};

// IFC 608.3: the thermal-runaway scenario trips string 1's breaker (block 7 heats from inside)
// within 30 plant hours with the demo's mains failures on, whatever the seed; string 2's deep
// discharge and recharge at 36 h does not trip. Then an operator reset.
TEST(Controller, ThermalRunawayTripsAndRechargeDoesNot) {
  for (const std::uint64_t seed : {7u, 42u}) {
    DemoTrip other_seed("thermal-runaway.toml", seed);
    ASSERT_GT(other_seed.r.after_ms, 0);
  }
  DemoTrip run("thermal-runaway.toml", 1);
  ASSERT_GT(run.r.after_ms, 0);
  auto& c = *run.c;
  auto& clock = run.clock;
  const TimeMs t0 = run.t0;
  // On past string 2's deep discharge (36 h) and its recharge: no trip there.
  while (clock.nowMs() < t0 + 60 * kHourMs) {
    c.runUntil(clock, clock.nowMs() + 10 * kMinuteMs);
    ASSERT_NE(c.protectionState(1), alarms::RunawayState::kTripped) << "recharge tripped";
  }
  EXPECT_FALSE(run.plant_sim->breakerClosed(0));
  EXPECT_TRUE(run.plant_sim->breakerClosed(1));
  // Isolated: no current, and the hot block cools.
  EXPECT_NEAR(run.plant_sim->stringTruth(0).current_a, 0.0, 1e-9);
  // The whole sequence is in the event log with its times.
  auto events = c.history()->events(t0, clock.nowMs(), 1000);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> kinds;
  for (const auto& e : *events) {
    if (e.kind == "protection") {
      kinds.push_back(e.message);
    }
  }
  ASSERT_GE(kinds.size(), 3u);
  EXPECT_NE(kinds[0].find("suspected"), std::string::npos) << kinds[0];
  bool saw_alarm = false;
  bool saw_trip = false;
  for (const auto& k : kinds) {
    saw_alarm |= k.find("THERMAL RUNAWAY alarm") != std::string::npos;
    saw_trip |= k.find("breaker OPENED") != std::string::npos;
  }
  EXPECT_TRUE(saw_alarm);
  EXPECT_TRUE(saw_trip);
  // The demo plant trips through its GX_R_AUX: relay1 energised, the breaker-status input di1
  // reads open, and its change went to the event manager's queue and the event log.
  const auto channel = [&](const std::string& id) {
    for (const auto& ch : c.ioChannels()) {
      if (ch.id == id) {
        return ch;
      }
    }
    ADD_FAILURE() << "no channel " << id;
    return io::ChannelSnapshot{};
  };
  EXPECT_EQ(channel("aux1.relay1").value, 1.0);
  EXPECT_EQ(channel("aux1.di1").value, 0.0);
  EXPECT_EQ(channel("aux1.di2").value, 1.0);
  const auto changes = c.takeInputChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.back().channel_id, "aux1.di1");
  EXPECT_FALSE(changes.back().value);
  // The latched alarm is listed with its raise time and can be acknowledged like any other
  // (it stays active until the reset); an unknown protection key is refused.
  const auto protection_alarm = [&]() -> std::optional<alarms::ActiveAlarm> {
    for (const auto& a : c.activeAlarms()) {
      if (a.rule_id == "string.thermal_runaway" && a.string_number == 1) {
        return a;
      }
    }
    return std::nullopt;
  };
  const auto tripped_alarm = protection_alarm();
  ASSERT_TRUE(tripped_alarm.has_value());
  EXPECT_EQ(tripped_alarm->level, alarms::Level::kAlarm);
  EXPECT_FALSE(tripped_alarm->acknowledged);
  EXPECT_GT(tripped_alarm->raised_ms, t0);
  EXPECT_LE(tripped_alarm->raised_ms, t0 + run.r.after_ms);
  EXPECT_GE(tripped_alarm->changed_ms, tripped_alarm->raised_ms);
  EXPECT_FALSE(
      c.execute({command::AcknowledgeAlarm{"string.thermal_runaway/1/99"}, kTestOrigin}).ok());
  const auto ack = c.execute({command::AcknowledgeAlarm{tripped_alarm->key}, kTestOrigin});
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  ASSERT_TRUE(protection_alarm().has_value());
  EXPECT_TRUE(protection_alarm()->acknowledged);
  EXPECT_EQ(protection_alarm()->raised_ms, tripped_alarm->raised_ms);
  c.runUntil(clock, clock.nowMs() + kMinuteMs);
  EXPECT_TRUE(protection_alarm()->acknowledged) << "acknowledgement lost on the next sweep";
  // Operator reset closes the breaker; a second reset is refused.
  ASSERT_TRUE(c.execute({command::ResetProtection{0}, kTestOrigin}).ok());
  EXPECT_FALSE(protection_alarm().has_value());
  EXPECT_TRUE(run.plant_sim->breakerClosed(0));
  EXPECT_FALSE(c.execute({command::ResetProtection{0}, kTestOrigin}).ok());
  c.runUntil(clock, clock.nowMs() + kMinuteMs);
  EXPECT_EQ(channel("aux1.relay1").value, 0.0);  // trip coil released
  EXPECT_EQ(channel("aux1.di1").value, 1.0);
}

// A string-level runaway (35 °C room, compensation off, string 1's charger +10 %) on the demo
// plant with its mains failures: string 1 trips before any block reaches 60 °C; string 2, at 35 °C
// with a correct charger, does not; the charger supervision reports string 1's charger high.
TEST(Controller, HotRoomRunawayTripsBefore60C) {
  DemoTrip run("hot-room-runaway.toml", 1);
  ASSERT_GT(run.r.after_ms, 0);
  auto& c = *run.c;
  auto& clock = run.clock;
  const TimeMs t0 = run.t0;
  bool charger_high = false;
  auto events = c.history()->events(t0, clock.nowMs(), 5000);
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    if (e.kind == "alarm" && e.message.find("string.charger_voltage_high") != std::string::npos) {
      charger_high = true;
      EXPECT_EQ(e.string_number, 1) << e.message;
    }
  }
  EXPECT_TRUE(charger_high);
  // String 2 stays in service through the rest of the scenario.
  while (clock.nowMs() < t0 + 48 * kHourMs) {
    c.runUntil(clock, clock.nowMs() + 10 * kMinuteMs);
    ASSERT_NE(c.protectionState(1), alarms::RunawayState::kTripped);
  }
  EXPECT_TRUE(run.plant_sim->breakerClosed(1));
}

// The action ladder with a controllable charger: the breaker box's spare relay drives string 1's
// charger "reduce voltage" input. The alarm lowers the charger, the countdown follows; the operator
// reset releases the charger again.
TEST(Controller, RunawayAlarmLowersAControllableCharger) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();
  plant.data_dir = dir.str();
  bool wired = false;
  for (auto& ch : plant.io.devices[0].channels) {
    if (ch.id == "relay4") {
      ch.role = model::ChannelRole::kChargerReduce;
      ch.string_number = 1;
      ch.name = "String 1 charger reduce";
      wired = true;
    }
  }
  ASSERT_TRUE(wired);
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  Controller c(plant, clock, plant_sim);
  ASSERT_TRUE(c.open().ok());
  auto scenario =
      sim::loadScenarioFile(std::string(EQUALIS_SOURCE_DIR) + "/scenarios/hot-room-runaway.toml");
  ASSERT_TRUE(scenario.ok());
  ASSERT_TRUE(c.setScenario(std::move(scenario.value())).ok());
  const TimeMs t0 = clock.nowMs();
  while (clock.nowMs() < t0 + 30 * kHourMs && !plant_sim->chargerReduced(0)) {
    c.runUntil(clock, clock.nowMs() + kMinuteMs);
  }
  ASSERT_TRUE(plant_sim->chargerReduced(0)) << "charger never lowered";
  EXPECT_FALSE(plant_sim->chargerReduced(1));
  // The protection then either trips or, with the evidence gone, holds the charger lowered.
  c.runUntil(clock, clock.nowMs() + 2 * kHourMs);
  const auto state = c.protectionState(0);
  EXPECT_TRUE(state == alarms::RunawayState::kTripped || state == alarms::RunawayState::kReduced ||
              state == alarms::RunawayState::kCountdown)
      << alarms::runawayStateName(state);
  auto events = c.history()->events(t0, clock.nowMs(), 5000);
  ASSERT_TRUE(events.ok());
  bool logged = false;
  for (const auto& e : *events) {
    logged |= e.kind == "protection" && e.message.find("charger_reduced") != std::string::npos;
  }
  EXPECT_TRUE(logged);
  if (state != alarms::RunawayState::kCountdown) {
    ASSERT_TRUE(c.execute({command::ResetProtection{0}, kTestOrigin}).ok());
    c.runUntil(clock, clock.nowMs() + plant.bus.sweep_interval_ms);  // the relay is written
    EXPECT_FALSE(plant_sim->chargerReduced(0));
  }
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// Ri rise against the block's own baseline: the baseline is taken from the first readings, a
// loose connector (+3 mΩ on a ~5–7 mΩ block) then raises block.ri_rise for that block only;
// the baseline survives a restart.
TEST(Controller, RiRiseAgainstBaselineRaisesForTheFaultyBlockOnly) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = quietPlant(dir.str());
  plant.alarms.ri_baseline_samples = 6;
  plant.alarms.ri_baseline_interval_ms = 10 * kMinuteMs;
  {
    const auto plant_sim = simulatedPlant(plant, clock.nowMs());
    Controller c(plant, clock, plant_sim);
    ASSERT_TRUE(c.open().ok());
    c.runUntil(clock, clock.nowMs() + 2 * kHourMs);
    for (std::size_t b = 0; b < 32; ++b) {
      ASSERT_TRUE(c.riBaseline(1).established(b)) << b;
    }
    {
      state::StateStore::Reader r(c.state(), clock.nowMs());
      const auto base = r.get(PointId::kBlockRiBaselineMohm, 1, 9);
      EXPECT_EQ(base.quality, Quality::kOk);
      EXPECT_GT(base.value, 3.0);
      EXPECT_LT(std::abs(r.get(PointId::kBlockRiRisePct, 1, 9).value), 10.0);
    }
    // The alarm watches the rise at 25 °C (analysis/health.hpp): its baseline is the median of
    // the first 24 hours in settled float.
    c.runUntil(clock, clock.nowMs() + 25 * kHourMs);
    {
      state::StateStore::Reader r(c.state(), clock.nowMs());
      EXPECT_EQ(r.get(PointId::kBlockRiRise25cPct, 1, 9).quality, Quality::kOk);
      EXPECT_LT(std::abs(r.get(PointId::kBlockRiRise25cPct, 1, 9).value), 3.0);
    }
    const TimeMs fault_ms = clock.nowMs();
    ASSERT_TRUE(plant_sim->injectFault(1, 9, sim::makeFault(sim::FaultKind::kLooseConnector)).ok());
    c.runUntil(clock, clock.nowMs() + 2 * kHourMs);
    std::vector<std::string> rise;
    // Seen within hours: the median of the last 6 hourly values has crossed +20 %.
    while (clock.nowMs() < fault_ms + 12 * kHourMs) {
      const auto now_active = c.activeAlarms();
      if (std::any_of(now_active.begin(), now_active.end(),
                      [](const auto& a) { return a.rule_id == "block.ri_rise"; })) {
        break;
      }
      c.runUntil(clock, clock.nowMs() + 10 * kMinuteMs);
    }
    EXPECT_LE(clock.nowMs() - fault_ms, 6 * kHourMs);
    c.runUntil(clock, fault_ms + 8 * kHourMs);  // all six hours faulted: the alarm level
    const auto active = c.activeAlarms();
    for (const auto& a : active) {
      if (a.rule_id == "block.ri_rise") {
        rise.push_back(a.key);
        EXPECT_NE(a.message.find("String 2, block 10"), std::string::npos) << a.message;
      }
    }
    EXPECT_EQ(rise, std::vector<std::string>{"block.ri_rise/2/10"});
    state::StateStore::Reader r2(c.state(), clock.nowMs());
    EXPECT_GT(r2.get(PointId::kBlockRiRisePct, 1, 9).value, 20.0);
    EXPECT_EQ(r2.get(PointId::kSystemAlarmCount).quality, Quality::kOk);
    EXPECT_GE(r2.get(PointId::kSystemAlarmCount).value + r2.get(PointId::kSystemWarningCount).value,
              1.0);
    // Events about block 10 of string 2 can be found by filter.
    history::EventQuery q;
    q.from_ms = 0;
    q.to_ms = clock.nowMs();
    q.string_number = 2;
    q.block_number = 10;
    q.kind = "alarm";
    auto ev = c.history()->events(q);
    ASSERT_TRUE(ev.ok());
    ASSERT_FALSE(ev->empty());
    EXPECT_TRUE(std::any_of(ev->begin(), ev->end(), [](const history::EventRecord& e) {
      return e.message.find("block.ri_rise/2/10") != std::string::npos && e.level == "alarm";
    }));
    for (const auto& e : *ev) {
      EXPECT_EQ(e.string_number, 2);
      EXPECT_EQ(e.block_number, 10);
    }
  }
  // Restart: the baseline is read back, not collected again.
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  EXPECT_TRUE(c.riBaseline(1).established(9));
}

// Alarm rule changes made at run time persist in the data directory; a broken file is ignored
// with an event, never a crash.
TEST(Controller, AlarmRuleChangesPersist) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = quietPlant(dir.str());
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    model::AlarmRuleOverride o;
    o.rule_id = "block.temperature_high";
    o.string_number = 1;
    o.warning = 31.0;
    ASSERT_TRUE(c.execute({command::ChangeAlarmRule{o}, kTestOrigin}).ok());
    o.warning = 99.0;  // beyond the alarm level: refused, nothing changes
    EXPECT_FALSE(c.execute({command::ChangeAlarmRule{o}, kTestOrigin}).ok());
  }
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    EXPECT_EQ(c.alarmOverrides().size(), 1u);
    EXPECT_DOUBLE_EQ(c.alarmRules().strings[0][2].warning, 31.0);
    EXPECT_EQ(c.alarmRules().strings[0][2].origin, "api");
    EXPECT_DOUBLE_EQ(c.alarmRules().strings[1][2].warning, 35.0);
  }
  {
    std::ofstream(persist::alarmRulesPath(plant)) << "{broken";
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    EXPECT_TRUE(c.alarmOverrides().empty());
  }
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// The event manager inside the controller: alarm → relay through the output hook, a buzzer that
// repeats until the alarm is acknowledged, an input change, and the deliveries in the event log.
TEST(Controller, EventRulesDriveTheOutputHookAndTheEventLog) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = quietPlant(dir.str());
  model::EventRule comm;
  comm.name = "comm";
  comm.triggers = static_cast<std::uint32_t>(model::Trigger::kAlarmRaised);
  comm.rule_pattern = "block.comm_lost";
  comm.string_number = 1;
  model::EventAction relay;
  relay.type = model::EventActionType::kRelay;
  relay.channel = "aux1.do1";
  model::EventAction buzzer;
  buzzer.type = model::EventActionType::kBuzzer;
  buzzer.channel = "buzzer";
  buzzer.pulse_ms = 2 * kSecondMs;
  buzzer.repeat_ms = kMinuteMs;
  buzzer.until_cleared = true;
  comm.actions = {relay, buzzer};
  model::EventRule door;
  door.name = "door";
  door.triggers = static_cast<std::uint32_t>(model::Trigger::kInputChange);
  door.input_pattern = "aux1.di*";
  model::EventAction door_relay = relay;
  door_relay.channel = "aux1.do2";
  door.actions = {door_relay};
  plant.events.rules = {comm, door};

  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  Controller c(plant, clock, plant_sim);
  std::vector<std::string> calls;
  c.setOutputHook([&](const std::string& ch, bool on, DurationMs pulse_ms) -> Status {
    calls.push_back(ch + (on ? " on " : " off ") + std::to_string(pulse_ms));
    return {};
  });
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, clock.nowMs() + kMinuteMs);
  EXPECT_TRUE(calls.empty());
  plant_sim->setModuleCommFault(0, 4, true);
  c.runUntil(clock, clock.nowMs() + 5 * kMinuteMs);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[0], "aux1.do1 on 0");
  const auto buzzes = std::count(calls.begin(), calls.end(), "buzzer on 2000");
  EXPECT_GE(buzzes, 4);  // the first, then every minute
  const auto alarms = c.activeAlarms();
  const auto it = std::find_if(alarms.begin(), alarms.end(),
                               [](const auto& a) { return a.rule_id == "block.comm_lost"; });
  ASSERT_NE(it, alarms.end());
  ASSERT_TRUE(c.execute({command::AcknowledgeAlarm{it->key}, kTestOrigin}).ok());
  const auto after_ack = calls.size();
  c.runUntil(clock, clock.nowMs() + 10 * kMinuteMs);
  EXPECT_EQ(calls.size(), after_ack);  // acknowledged: no more beeps

  c.onInputChanges({{"aux1.di3", "Door contact", true, 0}});
  ASSERT_EQ(calls.size(), after_ack + 1);
  EXPECT_EQ(calls.back(), "aux1.do2 on 0");

  auto log = c.history()->events(0, clock.nowMs() + 1, 1000);
  ASSERT_TRUE(log.ok());
  std::vector<std::string> actions;
  for (const auto& e : *log) {
    if (e.kind == "action") {
      actions.push_back(e.message);
    }
  }
  EXPECT_NE(std::find(actions.begin(), actions.end(),
                      "relay to aux1.do1 set (on) [rule 'comm', alarm_raised "
                      "block.comm_lost/1/5]"),
            actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(),
                      "relay to aux1.do2 set (on) [rule 'door', input_change]"),
            actions.end());
  EXPECT_EQ(static_cast<std::size_t>(std::count_if(
                actions.begin(), actions.end(),
                [](const std::string& m) { return m.rfind("buzzer to buzzer set", 0) == 0; })),
            static_cast<std::size_t>(buzzes));
  c.finishEvents(0);
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// The whole chain with the demo plant's simulated I/O (no fake hook): a door opened by a
// scenario raises the digital-input alarm and fires an input_change rule whose relay action
// switches aux1.relay3; the door alarm's buzzer action pulses panel.buzzer; an unknown output
// is a failed delivery that names it.
TEST(Controller, EventActionsDriveTheSimulatedOutputs) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = quietPlant(dir.str());
  model::EventAction fan;
  fan.type = model::EventActionType::kRelay;
  fan.channel = "aux1.relay3";
  model::EventAction nowhere = fan;
  nowhere.channel = "aux1.relay9";
  model::EventRule door;
  door.name = "door";
  door.triggers = static_cast<std::uint32_t>(model::Trigger::kInputChange);
  door.input_pattern = "aux1.di3";
  door.input_value = true;
  door.actions = {fan, nowhere};
  model::EventAction buzz;
  buzz.type = model::EventActionType::kBuzzer;
  buzz.channel = "buzzer";
  buzz.pulse_ms = 2 * kSecondMs;
  model::EventRule alarm;
  alarm.name = "door alarm";
  alarm.triggers = static_cast<std::uint32_t>(model::Trigger::kAlarmRaised);
  alarm.rule_pattern = "input.*";
  alarm.actions = {buzz};
  plant.events.rules = {door, alarm};

  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  auto scenario = sim::parseScenario(R"(
name = "door"
duration = "10min"
[[event]]
at = "1min"
action = "input"
channel = "aux1.di3"
active = true
)",
                                     "door.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  ASSERT_TRUE(c.setScenario(std::move(scenario.value())).ok());
  auto channel = [&](const std::string& id) {
    for (const auto& ch : c.ioChannels()) {
      if (ch.id == id) {
        return ch;
      }
    }
    ADD_FAILURE() << "no channel " << id;
    return io::ChannelSnapshot{};
  };
  c.runUntil(clock, clock.nowMs() + 30 * kSecondMs);
  EXPECT_NE(channel("aux1.relay3").commanded, std::optional<bool>(true));
  c.runUntil(clock, clock.nowMs() + 80 * kSecondMs);  // door open, fan on
  EXPECT_EQ(channel("aux1.relay3").commanded, std::optional<bool>(true));
  c.runUntil(clock, clock.nowMs() + 35 * kSecondMs);  // 30 s later: door alarm, buzzer pulse
  const auto alarms = c.activeAlarms();
  EXPECT_TRUE(std::any_of(alarms.begin(), alarms.end(),
                          [](const auto& a) { return a.rule_id == "input.aux1.di3"; }));
  auto log = c.history()->events(0, clock.nowMs() + 1, 1000);
  ASSERT_TRUE(log.ok());
  bool failed_named = false;
  bool buzzed = false;
  std::string actions;
  for (const auto& e : *log) {
    if (e.kind != "action") {
      continue;
    }
    actions += e.message + "\n";
    failed_named |= e.message.find("aux1.relay9") != std::string::npos &&
                    e.message.find("failed") != std::string::npos;
    buzzed |= e.message.find("buzzer to buzzer set (pulse 2000 ms)") != std::string::npos &&
              e.message.find("failed") == std::string::npos;
  }
  EXPECT_TRUE(failed_named) << actions;
  EXPECT_TRUE(buzzed) << actions;
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// The demo plant as `make run` has it (mains failures on), its data in `dir`.
model::PlantConfig demoPlantIn(const TempDir& dir) {
  auto plant = model::demoPlant();
  plant.data_dir = dir.str();
  return plant;
}

// A controller on `plant` (simulated by `plant_sim`) running the scenario `toml` from now; null,
// with the failure recorded, when it does not start.
std::unique_ptr<Controller> runningScenario(const model::PlantConfig& plant, SimulatedClock& clock,
                                            const std::shared_ptr<sim::PlantSim>& plant_sim,
                                            std::string_view toml, std::string_view file) {
  auto scenario = sim::parseScenario(toml, file);
  if (!scenario.ok()) {
    ADD_FAILURE() << scenario.error().message;
    return nullptr;
  }
  auto c = std::make_unique<Controller>(plant, clock, plant_sim);
  if (!c->open().ok() || !c->setScenario(std::move(scenario.value())).ok()) {
    ADD_FAILURE() << "the controller did not start with scenario " << file;
    return nullptr;
  }
  return c;
}

// The capacity of every block, on the demo plant as `make run` has it (random mains failures on):
// two blocks are set weak by the scenario, a one-hour outage (≈ 25 % of C) follows; the blocks'
// capacity points appear, the weak ones lowest, the event log says so, and the estimates
// survive a restart.
TEST(Controller, BlockCapacitiesFromAnOutage) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlantIn(dir);
  const std::string_view toml = R"(
name = "weak blocks"
duration = "5h"
[[event]]
at = "0s"
action = "age_block"
string = 1
block = 5
capacity_pct = 70
[[event]]
at = "0s"
action = "age_block"
string = 2
block = 12
capacity_pct = 75
[[event]]
at = "2h"
action = "outage"
load_kw = 20
duration = "60min"
)";
  std::vector<double> relative_1;
  {
    const auto plant_sim = simulatedPlant(plant, clock.nowMs());
    const auto started = runningScenario(plant, clock, plant_sim, toml, "weak-blocks.toml");
    ASSERT_TRUE(started);
    Controller& c = *started;
    c.runUntil(clock, clock.nowMs() + 4 * kHourMs);
    state::StateStore::Reader r(c.state(), clock.nowMs());
    for (std::size_t s = 0; s < 2; ++s) {
      std::size_t lowest = 0;
      for (std::size_t b = 0; b < 32; ++b) {
        const auto rel = r.get(PointId::kBlockCapacityRelativePct, s, b);
        ASSERT_EQ(rel.quality, Quality::kOk) << "string " << s + 1 << " block " << b + 1;
        EXPECT_GE(r.get(PointId::kBlockCapacityEvents, s, b).value, 1.0);
        EXPECT_GT(r.get(PointId::kBlockCapacityRelativeSigmaPct, s, b).value, 0.0);
        // No capacity test has measured the string's level: no % of nominal.
        EXPECT_EQ(r.get(PointId::kBlockCapacityPct, s, b).quality, Quality::kNotPresent);
        if (rel.value < r.get(PointId::kBlockCapacityRelativePct, s, lowest).value) {
          lowest = b;
        }
        if (s == 0) {
          relative_1.push_back(rel.value);
        }
      }
      EXPECT_EQ(lowest, s == 0 ? 4u : 11u) << "string " << s + 1;
    }
    // Against the truth: the weak blocks' capacity relative to their string's.
    for (const auto& [s, b] : std::vector<std::pair<std::size_t, std::size_t>>{{0, 4}, {1, 11}}) {
      double inv = 0;
      for (std::size_t k = 0; k < 32; ++k) {
        inv += 1.0 / plant_sim->blockTruth(s, k).capacity_ah;
      }
      const double truth_pct = 100.0 * plant_sim->blockTruth(s, b).capacity_ah * inv / 32.0;
      EXPECT_NEAR(r.get(PointId::kBlockCapacityRelativePct, s, b).value, truth_pct, 5.0)
          << "string " << s + 1 << " block " << b + 1;
    }
    auto events = c.history()->events(0, clock.nowMs(), 1000);
    ASSERT_TRUE(events.ok());
    EXPECT_TRUE(std::any_of(events->begin(), events->end(), [](const history::EventRecord& e) {
      return e.kind == "analysis" &&
             e.message.find("String 1: block capacities updated") != std::string::npos &&
             e.message.find("weakest block 5") != std::string::npos;
    }));
  }
  // A restart keeps the estimates.
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  Controller c(plant, clock, plant_sim);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, clock.nowMs() + kMinuteMs);
  state::StateStore::Reader r(c.state(), clock.nowMs());
  for (std::size_t b = 0; b < 32; ++b) {
    EXPECT_DOUBLE_EQ(r.get(PointId::kBlockCapacityRelativePct, 0, b).value, relative_1[b]) << b;
  }
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// A capacity test on the demo plant (mains failures on): string 2 is discharged at C/10 to its
// end voltage. The controller recognises the test, the string's capacity becomes a point, and
// the blocks' capacities are in % of nominal from then on — against the simulator's truth.
TEST(Controller, CapacityTestAnchorsTheBlockCapacities) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlantIn(dir);
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  const auto started = runningScenario(plant, clock, plant_sim, R"(
name = "capacity test"
duration = "16h"
[[event]]
at = "0s"
action = "age_block"
string = 2
block = 12
capacity_pct = 75
[[event]]
at = "1h"
action = "discharge"
string = 2
current_a = 10
duration = "12h"
)",
                                       "capacity-test.toml");
  ASSERT_TRUE(started);
  Controller& c = *started;
  c.runUntil(clock, clock.nowMs() + 14 * kHourMs);
  state::StateStore::Reader r(c.state(), clock.nowMs());
  // The string delivers what its weakest block has: block 12 collapses and takes the string to
  // its cut-off.
  double weakest_ah = 1e9;
  for (std::size_t b = 0; b < 32; ++b) {
    weakest_ah = std::min(weakest_ah, plant_sim->blockTruth(1, b).capacity_ah);
  }
  const auto level = r.get(PointId::kStringCapacityPct, 1);
  ASSERT_EQ(level.quality, Quality::kOk);
  EXPECT_NEAR(level.value, weakest_ah, 5.0);  // % of 100 Ah
  EXPECT_EQ(r.get(PointId::kStringCapacityPct, 0).quality, Quality::kNotPresent);
  // Every block of string 2 in % of nominal, within 6 points of its true capacity.
  double se = 0;
  double worst = 0;
  for (std::size_t b = 0; b < 32; ++b) {
    const auto pct = r.get(PointId::kBlockCapacityPct, 1, b);
    ASSERT_EQ(pct.quality, Quality::kOk) << b;
    const double err = pct.value - plant_sim->blockTruth(1, b).capacity_ah;
    EXPECT_LT(std::abs(err), 6.0) << "block " << b + 1;
    se += err * err;
    worst = std::max(worst, std::abs(err));
    EXPECT_GT(r.get(PointId::kBlockCapacitySigmaPct, 1, b).value, 0.0);
  }
  std::printf(
      "capacity test: string 2 at %.1f %% (weakest block %.1f %%); blocks in %% of nominal: "
      "RMS error %.2f, max %.2f points\n",
      level.value, weakest_ah, std::sqrt(se / 32.0), worst);
  auto events = c.history()->events(0, clock.nowMs(), 1000);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(std::any_of(events->begin(), events->end(), [](const history::EventRecord& e) {
    return e.kind == "analysis" && e.message.find("String 2: capacity test:") != std::string::npos;
  }));
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// Each block's state of charge against its own capacity: on the demo plant's old string (mains
// failures on) with two weak blocks, a first one-hour outage teaches the blocks' capacities; near
// the end of a second one the Charge column follows each block's true state of charge much
// better than the string's count against the nominal capacity did.
TEST(Controller, BlockChargeFollowsEachBlocksOwnCapacity) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlantIn(dir);
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  const TimeMs t0 = clock.nowMs();
  const auto started = runningScenario(plant, clock, plant_sim, R"(
name = "weak blocks, two outages"
duration = "30h"
[[event]]
at = "0s"
action = "age_block"
string = 1
block = 5
capacity_pct = 65
[[event]]
at = "0s"
action = "age_block"
string = 1
block = 20
capacity_pct = 80
[[event]]
at = "2h"
action = "outage"
load_kw = 20
duration = "1h"
[[event]]
at = "26h"
action = "outage"
load_kw = 20
duration = "80min"
)",
                                       "two-outages.toml");
  ASSERT_TRUE(started);
  Controller& c = *started;
  c.runUntil(clock, t0 + 26 * kHourMs + 75 * kMinuteMs);
  state::StateStore::Reader r(c.state(), clock.nowMs());
  // Errors against the truth: their mean (the string's level, which only a capacity test
  // measures: nominal until then) and their spread around it (what the blocks' own capacities fix).
  std::vector<double> err_block;
  std::vector<double> err_string;
  for (std::size_t b = 0; b < 32; ++b) {
    const auto truth = plant_sim->blockTruth(0, b);
    const double true_pct = 100.0 * truth.soc;
    // What one count against the nominal capacity shows: the charge taken out of 100 Ah.
    const double string_pct = 100.0 - (1.0 - truth.soc) * truth.capacity_ah;
    const auto shown = r.get(PointId::kBlockChargePct, 0, b);
    ASSERT_EQ(shown.quality, Quality::kOk);
    err_block.push_back(shown.value - true_pct);
    err_string.push_back(string_pct - true_pct);
  }
  const auto stats = [](const std::vector<double>& e) {
    double m = 0;
    for (double x : e)
      m += x / static_cast<double>(e.size());
    double ss = 0;
    double worst = 0;
    for (double x : e) {
      ss += (x - m) * (x - m);
      worst = std::max(worst, std::abs(x - m));
    }
    return std::array<double, 3>{m, std::sqrt(ss / static_cast<double>(e.size())), worst};
  };
  const auto sb = stats(err_block);
  const auto ss = stats(err_string);
  std::printf(
      "block charge near the end of a %.0f %% discharge: bias %+.2f points, spread %.2f "
      "(max %.2f); the string's count: bias %+.2f, spread %.2f (max %.2f); block 5 shows "
      "%.1f %%, true %.1f %%\n",
      100.0 - r.get(PointId::kStringChargeAvgPct, 0).value, sb[0], sb[1], sb[2], ss[0], ss[1],
      ss[2], r.get(PointId::kBlockChargePct, 0, 4).value, 100.0 * plant_sim->blockTruth(0, 4).soc);
  EXPECT_LT(sb[1], 0.4 * ss[1]);
  EXPECT_LT(sb[2], 0.4 * ss[2]);
}

}  // namespace
}  // namespace equalis::runtime

namespace equalis::runtime {
namespace {

// A UPS outage that runs the old string to its cut-off, after a first outage taught the blocks'
// capacities: the report names the weak block as the first at the end voltage, and the runtime
// predicted at half the discharge is compared with the actual one.
TEST(Controller, DischargeReportAndRuntimeToTheCutOff) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlantIn(dir);
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  const TimeMs t0 = clock.nowMs();
  const auto started = runningScenario(plant, clock, plant_sim, R"(
name = "outage to the cut-off"
duration = "80h"
[[event]]
at = "0s"
action = "age_block"
string = 2
block = 7
capacity_pct = 70
[[event]]
at = "2h"
action = "outage"
load_kw = 20
duration = "1h"
[[event]]
at = "26h"
action = "outage"
load_kw = 30
duration = "8h"
[[event]]
at = "60h"
action = "outage"
load_kw = 45
duration = "8h"
)",
                                       "outage-to-cut-off.toml");
  ASSERT_TRUE(started);
  Controller& c = *started;
  c.runUntil(clock, t0 + 36 * kHourMs);
  for (std::size_t s = 0; s < 2; ++s) {
    const auto& reports = c.dischargeReports(s);
    ASSERT_FALSE(reports.empty());
    const auto& last = reports.back();
    EXPECT_FALSE(last.running);
    EXPECT_GT(last.ah_out, 20.0);
    EXPECT_GT(last.wh_out, 300.0 * last.ah_out);
    ASSERT_TRUE(last.first_at_end.has_value()) << "string " << s + 1;
    const auto half = last.predictedAtHalfS();
    ASSERT_TRUE(half.has_value());
    const double actual = last.actualRuntimeS();
    std::printf(
        "string %zu: %.1f Ah in %.1f min; block %d first at the end voltage after %.1f "
        "min, predicted at half time %.1f min (%+.1f %%)\n",
        s + 1, last.ah_out, last.durationS() / 60.0, last.first_at_end->block, actual / 60.0,
        *half / 60.0, 100.0 * (*half / actual - 1.0));
    // String 2 is new: its level is the nominal one and its weak block's share is learnt from
    // the first outage. String 1 is five years old and has had no capacity test: its level is
    // still the nominal one, so its runtime comes out too long by about its capacity loss.
    EXPECT_NEAR(*half / actual, 1.0, s == 1 ? 0.10 : 0.30) << "string " << s + 1;
  }
  const auto& old = c.dischargeReports(1).back();
  EXPECT_EQ(old.first_at_end->block, 7);
  // Levels are passed in order: every block at the end voltage was at each level above first.
  for (std::size_t l = 1; l < old.crossings.size(); ++l) {
    EXPECT_LE(old.crossings[l].size(), old.crossings[l - 1].size());
  }
  // The outage to the cut-off measured each string's level: every block now has a capacity in %
  // of nominal, and the old string's next runtime is predicted as well as the new one's.
  {
    state::StateStore::Reader r(c.state(), clock.nowMs());
    double se = 0;
    for (std::size_t b = 0; b < 32; ++b) {
      const auto pct = r.get(PointId::kBlockCapacityPct, 0, b);
      ASSERT_EQ(pct.quality, Quality::kOk) << b;
      const double err = pct.value - plant_sim->blockTruth(0, b).capacity_ah;
      se += err * err;
    }
    std::printf(
        "string 1 blocks in %% of nominal after the outage to the cut-off: RMS error "
        "%.2f points\n",
        std::sqrt(se / 32.0));
    EXPECT_LT(std::sqrt(se / 32.0), 6.0);
  }
  c.runUntil(clock, t0 + 70 * kHourMs);
  for (std::size_t s = 0; s < 2; ++s) {
    const auto& last = c.dischargeReports(s).back();
    ASSERT_TRUE(last.first_at_end.has_value()) << "string " << s + 1;
    const auto half = last.predictedAtHalfS();
    ASSERT_TRUE(half.has_value());
    std::printf(
        "string %zu, second outage to the cut-off (%.1f A): predicted at half time "
        "%+.1f %%\n",
        s + 1, last.meanCurrentA(), 100.0 * (*half / last.actualRuntimeS() - 1.0));
    EXPECT_NEAR(*half / last.actualRuntimeS(), 1.0, 0.10) << "string " << s + 1;
  }
  // The reports survive a restart.
  const auto text = persist::readFile(persist::dischargeReportsPath(plant, 1));
  ASSERT_TRUE(text && text->has_value());
  const auto loaded = analysis::recordsFromJson(**text);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->size(), c.dischargeReports(1).size());
}

}  // namespace
}  // namespace equalis::runtime
