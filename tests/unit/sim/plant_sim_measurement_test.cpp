// Measurement model of the plant simulator (§0 module accuracy, §6.3 "Module", §4.2).
#include <gtest/gtest.h>

#include <cmath>

#include "model/chemistry.hpp"
#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

// Seeds 000/001: module voltage accuracy < 0.5 % of reading; §6.3: |g| ≤ 0.3 %, |o| ≤ 20 mV
// (12 V block); Ri accuracy < 3 % (C24); temperature < 1 °C (C24).
TEST(PlantSimMeasurement, ModuleErrorsWithinDatasheetAccuracy) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const auto& c24 = model::moduleTypeInfo(model::ModuleType::kC24);
  double worst_v_pct = 0;
  bool any_gain_nonzero = false;
  for (std::size_t s = 0; s < sim.stringCount(); ++s) {
    for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
      EXPECT_LE(std::fabs(sim.moduleGainError(s, b)), 0.003);
      EXPECT_LE(std::fabs(sim.moduleOffsetV(s, b)), 0.020);
      any_gain_nonzero |= sim.moduleGainError(s, b) != 0.0;
      const auto truth = sim.blockTruth(s, b);
      for (int read = 0; read < 50; ++read) {
        const auto m = sim.measureModule(s, b);
        const double err_pct = 100.0 * std::fabs(m.voltage_v - truth.voltage_v) / truth.voltage_v;
        worst_v_pct = std::max(worst_v_pct, err_pct);
        EXPECT_LE(err_pct, c24.voltage_accuracy_pct);
        EXPECT_LE(std::fabs(m.temperature_c - truth.temperature_c), c24.temperature_accuracy_c);
        EXPECT_LE(100.0 * std::fabs(m.ri_ohm - truth.ri_ohm) / truth.ri_ohm, c24.ri_accuracy_pct);
        EXPECT_EQ(m.bypass_duty, 0.0);
      }
    }
  }
  std::printf("worst module voltage error over 64 × 50 reads: %.3f %% of reading\n", worst_v_pct);
  EXPECT_TRUE(any_gain_nonzero);
  // The budget is used: calibration errors are not negligible (≥ half the spec somewhere).
  EXPECT_GT(worst_v_pct, 0.25);
}

// Reads are noisy around a fixed calibration error: V_meas = (1 + g)·V + o + n.
TEST(PlantSimMeasurement, CalibrationIsFixedNoiseIsSmall) {
  PlantSim sim(test::oneString(4), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double v = sim.blockTruth(0, 1).voltage_v;
  const double expected = (1.0 + sim.moduleGainError(0, 1)) * v + sim.moduleOffsetV(0, 1);
  double sum = 0;
  double sum2 = 0;
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i) {
    const double m = sim.measureModule(0, 1).voltage_v;
    sum += m;
    sum2 += (m - expected) * (m - expected);
  }
  EXPECT_NEAR(sum / kN, expected, 0.0002);
  const double noise_rms_v = std::sqrt(sum2 / kN);
  EXPECT_GT(noise_rms_v, 0.0005);  // ~1 mV per read on a 12 V block [G, brief 1–3 mV]
  EXPECT_LT(noise_rms_v, 0.003);
}

// 2 V cells: offset scaled to the nominal voltage (≤ 20 mV × 2/12 ≈ 3.3 mV), still within 0.5 %.
TEST(PlantSimMeasurement, TwoVoltCellOffsetsScaled) {
  auto cfg = test::oneString(24);
  auto& s = cfg.strings[0];
  s.chemistry = model::Chemistry::kVrla2V;
  s.capacity_ah = 1000.0;
  s.module_type = model::ModuleType::kC44;
  s.charger.float_v_per_cell = 2.25;
  s.charger.current_limit_a = 100.0;
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + kHourMs);
  for (std::size_t b = 0; b < 24; ++b) {
    EXPECT_LE(std::fabs(sim.moduleOffsetV(0, b)), 0.020 * 2.0 / 12.0 + 1e-12);
    const double v = sim.blockTruth(0, b).voltage_v;
    for (int r = 0; r < 20; ++r) {
      EXPECT_LE(std::fabs(sim.measureModule(0, b).voltage_v - v), 0.005 * v);
    }
  }
}

// String current sensor: small offset (≤ 0.05 % FS = 0.05 A at ±100 A) + noise [G]; AC = ripple.
TEST(PlantSimMeasurement, CurrentSensorOffsetNoiseAndRipple) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double truth = sim.stringTruth(0).current_a;
  const double ripple = sim.stringTruth(0).ac_ripple_a;
  EXPECT_GE(ripple, 0.1);
  EXPECT_LE(ripple, 0.3);
  double sum = 0;
  for (int i = 0; i < 500; ++i) {
    const auto m = sim.measureStringCurrent(0);
    sum += m.current_a;
    EXPECT_NEAR(m.ac_current_a, ripple, 0.1 * ripple);
  }
  EXPECT_NEAR(sum / 500, truth, 0.06);
  // No ripple during a mains failure.
  sim.startOutage(20000.0, kMinuteMs);
  sim.advanceTo(sim.timeMs() + 10 * kSecondMs);
  EXPECT_EQ(sim.stringTruth(0).ac_ripple_a, 0.0);
  EXPECT_EQ(sim.measureStringCurrent(0).ac_current_a, 0.0);
  EXPECT_NEAR(sim.measureStringCurrent(0).current_a, sim.stringTruth(0).current_a, 0.1);
}

}  // namespace
}  // namespace equalis::sim
