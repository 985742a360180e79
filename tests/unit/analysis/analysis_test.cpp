#include "analysis/analysis.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace equalis::analysis {
namespace {

using model::Quality;
using model::StringModeValue;

bus::Sweep sweepOf(const model::PlantConfig& plant, TimeMs t, std::int32_t v_mv,
                   std::int32_t i_ma) {
  bus::Sweep sw;
  sw.time_ms = t;
  for (const auto& s : plant.strings) {
    sw.modules.emplace_back(static_cast<std::size_t>(s.block_count));
    sw.comm.emplace_back(static_cast<std::size_t>(s.block_count));
    for (auto& m : sw.modules.back()) {
      m.reading = {v_mv, 250, 5000, 0};
      m.time_ms = t;
      m.quality = Quality::kOk;
    }
    bus::StringSensorSample sensor;
    sensor.reading = {i_ma, 200};
    sensor.time_ms = t;
    sensor.quality = Quality::kOk;
    sw.string_sensors.push_back(sensor);
  }
  bus::convertToSi(sw);
  return sw;
}

TEST(Mode, ClassifiesByCurrentPerAh) {
  EXPECT_EQ(classifyMode(0.05, 100, 13.62, 13.62), StringModeValue::kFloat);
  EXPECT_EQ(classifyMode(8.0, 100, 13.4, 13.62), StringModeValue::kCharge);
  EXPECT_EQ(classifyMode(-25.0, 100, 12.0, 13.62), StringModeValue::kDischarge);
  EXPECT_EQ(classifyMode(0.0, 100, 12.8, 13.62), StringModeValue::kRest);
}

// Narada manual: −3 mV/K/cell, clamped at 5 °C and 40 °C (battery-science.md §1.1).
TEST(Target, TemperatureCompensated) {
  const auto cfg = model::demoPlant().strings[0];
  EXPECT_NEAR(targetVoltagePerBlockV(cfg, 25.0), 13.62, 1e-9);
  EXPECT_NEAR(targetVoltagePerBlockV(cfg, 35.0), 13.62 - 0.18, 1e-9);
  EXPECT_NEAR(targetVoltagePerBlockV(cfg, 60.0), targetVoltagePerBlockV(cfg, 40.0), 1e-9);
  auto no_comp = cfg;
  no_comp.charger.temperature_compensation = false;
  EXPECT_NEAR(targetVoltagePerBlockV(no_comp, 35.0), 13.62, 1e-9);
}

TEST(Analyzer, SummaryOfAFloatingString) {
  const auto plant = model::demoPlant();
  Analyzer a(plant);
  auto sw = sweepOf(plant, 10'000, 13'620, 60);
  sw.modules[0][5].reading.voltage_mv = 14'620;  // one high block
  bus::convertToSi(sw);
  const auto& sums = a.update(sw);
  ASSERT_EQ(sums.size(), 2u);
  const auto& s = sums[0];
  EXPECT_EQ(s.voltage_quality, Quality::kOk);
  EXPECT_NEAR(s.voltage_v, 32 * 13.62 + 1.0, 1e-6);
  EXPECT_EQ(s.mode, StringModeValue::kFloat);
  EXPECT_NEAR(s.block_voltage_max_v, 14.62, 1e-9);
  EXPECT_NEAR(s.block_voltage_spread_v, 1.0 - 1.0 / 32, 1e-6);
  EXPECT_NEAR(s.power_kw, s.voltage_v * 0.06 / 1000, 1e-9);
  EXPECT_EQ(s.blocks[5].status, model::BlockStatus::kWarning);  // 7 % above target
  EXPECT_EQ(s.blocks[4].status, model::BlockStatus::kOk);
  EXPECT_FALSE(a.anyDischarging());
}

TEST(Analyzer, MissingBlockMakesSumInvalidAndStatusUnknown) {
  const auto plant = model::demoPlant();
  Analyzer a(plant);
  auto sw = sweepOf(plant, 10'000, 13'620, 60);
  sw.modules[1][7].time_ms = 0;
  sw.modules[1][7].quality = Quality::kCommLost;
  bus::convertToSi(sw);
  const auto& s = a.update(sw)[1];
  EXPECT_EQ(s.voltage_quality, Quality::kInvalid);
  EXPECT_EQ(s.blocks_ok, 31);
  EXPECT_EQ(s.blocks[7].status, model::BlockStatus::kUnknown);
}

// A current of an earlier sweep is stale (and keeps its own time); a string without one
// answering block has no voltage at all, not 0 V.
TEST(Analyzer, OldCurrentIsStaleAndASilentStringHasNoValues) {
  const auto plant = model::demoPlant();
  Analyzer a(plant);
  auto sw = sweepOf(plant, 20'000, 13'620, 60);
  sw.string_sensors[0].time_ms = 10'000;  // the sensor did not answer this sweep
  for (auto& m : sw.modules[1]) {
    m.quality = Quality::kCommLost;
  }
  bus::convertToSi(sw);
  const auto& sums = a.update(sw);
  EXPECT_EQ(sums[0].current_quality, Quality::kStale);
  EXPECT_EQ(sums[0].current_time_ms, 10'000);
  EXPECT_NE(sums[0].mode_quality, Quality::kOk);
  EXPECT_EQ(sums[1].current_quality, Quality::kOk);
  EXPECT_EQ(sums[1].voltage_quality, Quality::kCommLost);
  EXPECT_TRUE(std::isnan(sums[1].voltage_v));
  EXPECT_TRUE(std::isnan(sums[1].block_voltage_min_v));
  EXPECT_TRUE(std::isnan(sums[1].temperature_max_c));
}

TEST(Analyzer, CoulombCountsADischargeAndReturnsToFullInFloat) {
  const auto plant = model::demoPlant();
  Analyzer a(plant);
  TimeMs t = 0;
  a.update(sweepOf(plant, t, 13'620, 50));
  // 30 min at −25 A on 100 Ah: −12.5 %.
  for (int i = 0; i < 180; ++i) {
    t += 10'000;
    a.update(sweepOf(plant, t, 12'000, -25'000));
  }
  EXPECT_TRUE(a.anyDischarging());
  EXPECT_NEAR(a.summaries()[0].charge_avg_pct, 87.5, 0.2);
  // Recharge at 10 A for 30 min: +4.75 % (95 % efficiency).
  for (int i = 0; i < 180; ++i) {
    t += 10'000;
    a.update(sweepOf(plant, t, 13'400, 10'000));
  }
  EXPECT_NEAR(a.summaries()[0].charge_avg_pct, 87.5 + 4.75, 0.2);
  // Back at the set-point with a float current: float after the 5 min dwell, full 2 h later.
  for (int i = 0; i < 721 + 30; ++i) {
    t += 10'000;
    a.update(sweepOf(plant, t, 13'620, 50));
  }
  EXPECT_NEAR(a.summaries()[0].charge_avg_pct, 100.0, 1e-9);
}

}  // namespace
}  // namespace equalis::analysis
