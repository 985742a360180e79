// Measurement model of the plant simulator (§0 module accuracy, §6.3 "Module", §4.2).
#include <gtest/gtest.h>

#include <cmath>

#include "model/chemistry.hpp"
#include "sim/chemistry_params.hpp"
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
      double ri_sum = 0;
      for (int read = 0; read < 50; ++read) {
        const auto m = sim.measureModule(s, b);
        const double err_pct = 100.0 * std::fabs(m.voltage_v - truth.voltage_v) / truth.voltage_v;
        worst_v_pct = std::max(worst_v_pct, err_pct);
        EXPECT_LE(err_pct, c24.voltage_accuracy_pct);
        EXPECT_LE(std::fabs(m.temperature_c - truth.temperature_c), c24.temperature_accuracy_c);
        ri_sum += m.ri_ohm;
        EXPECT_EQ(m.bypass_duty, 0.0);
      }
      // Ri: one reading carries the pulse's noise (PlantSimRi below); the module's accuracy
      // holds for the mean of the readings on a 12 V 100 Ah block.
      EXPECT_LE(100.0 * std::fabs(ri_sum / 50 - truth.ri_ohm) / truth.ri_ohm, c24.ri_accuracy_pct);
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
  // reading = (1 + gain)·I + offset + noise (σ 0.01 % FS).
  const auto st = sim.stringTruth(0);
  EXPECT_NEAR(sum / 500, (1.0 + st.current_sensor_gain_error) * truth + st.current_sensor_offset_a,
              0.01);
  // No ripple during a mains failure; the gain error now counts (±0.5 % of the discharge).
  sim.startOutage(20000.0, kMinuteMs);
  sim.advanceTo(sim.timeMs() + 10 * kSecondMs);
  const auto out = sim.stringTruth(0);
  EXPECT_EQ(out.ac_ripple_a, 0.0);
  EXPECT_EQ(sim.measureStringCurrent(0).ac_current_a, 0.0);
  EXPECT_NEAR(sim.measureStringCurrent(0).current_a,
              (1.0 + out.current_sensor_gain_error) * out.current_a + out.current_sensor_offset_a,
              0.05);
}

// The current sensor's gain error is fixed per sensor within ±0.5 %; its offset drifts slowly
// (σ 0.1 % FS, 30-day time constant), stepped every plant hour whatever the caller's step.
TEST(PlantSimMeasurement, CurrentSensorGainErrorAndSlowDrift) {
  const auto cfg = test::quietDemo();
  const double fs = cfg.strings[0].current_sensor.range_a;
  PlantSim a(cfg, kT0);
  PlantSim b(cfg, kT0);
  bool any_gain = false;
  for (std::size_t s = 0; s < a.stringCount(); ++s) {
    const double g = a.stringTruth(s).current_sensor_gain_error;
    EXPECT_LE(std::fabs(g), 0.005);
    any_gain |= g != 0.0;
  }
  EXPECT_TRUE(any_gain);
  const double o0 = a.stringTruth(0).current_sensor_offset_a;
  double max_step = 0;
  double prev = o0;
  double lo = o0;
  double hi = o0;
  for (int day = 1; day <= 60; ++day) {
    a.advanceTo(kT0 + day * 24 * kHourMs);  // one day at a time
    for (int h = 1; h <= 24; ++h) {
      b.advanceTo(kT0 + ((day - 1) * 24 + h) * kHourMs);  // one hour at a time
    }
    const double o = a.stringTruth(0).current_sensor_offset_a;
    EXPECT_DOUBLE_EQ(o, b.stringTruth(0).current_sensor_offset_a) << "day " << day;
    max_step = std::max(max_step, std::fabs(o - prev));
    prev = o;
    lo = std::min(lo, o);
    hi = std::max(hi, o);
  }
  std::printf(
      "current sensor offset over 60 days: %.3f … %.3f A (FS %.0f A), largest daily step "
      "%.3f A\n",
      lo, hi, fs, max_step);
  EXPECT_GT(hi - lo, 0.0002 * fs);  // it moves
  EXPECT_LT(hi - lo, 0.01 * fs);    // slowly and boundedly
  EXPECT_LT(max_step, 0.001 * fs);  // no jumps: ≈ σ·√(2·1 d/30 d) a day
}

// §3.1: the ohmic resistance rises as the block cools (≈ 1.2 %/K for lead-acid) and as it
// empties (≈ 1.5× at empty), on top of its aged value at 25 °C and full charge.
TEST(PlantSimRi, OhmicPartFollowsTemperatureAndStateOfCharge) {
  const auto& p = chemistryParams(model::Chemistry::kVrla12V);
  EXPECT_DOUBLE_EQ(ohmicConditionFactor(p, 25.0, 1.0), 1.0);
  EXPECT_NEAR(ohmicConditionFactor(p, 15.0, 1.0), std::exp(0.12), 1e-12);
  EXPECT_NEAR(ohmicConditionFactor(p, 25.0, 0.0), 1.5, 1e-12);
  EXPECT_LT(ohmicConditionFactor(p, 35.0, 1.0), 1.0);
  // In the plant: a discharge to ~50 % raises the true Ri of every block, the recharge undoes it.
  auto cfg = test::oneString(8);
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double ri_full = sim.blockTruth(0, 0).ri_ohm;
  sim.setDischargeCurrent(0, 25.0);
  sim.advanceTo(kT0 + 3 * kHourMs);
  const auto low = sim.blockTruth(0, 0);
  EXPECT_LT(low.soc, 0.6);
  const double want =
      ohmicConditionFactor(p, low.temperature_c, low.soc) / ohmicConditionFactor(p, 25.0, 1.0);
  EXPECT_NEAR(low.ri_ohm / low.ri_ref_ohm, want, 0.01);
  EXPECT_GT(low.ri_ohm, 1.05 * ri_full);
}

// The reading: R_meas = R0(T, SOC) + the charge transfer within the pulse + N(0, σ_ΔV/I_pulse).
// Repeatability of one reading (σ/R) per module type and block size, and after averaging 24
// readings: the figures of docs/simulator.md, "Ri measurement".
TEST(PlantSimRi, RepeatabilityPerModuleTypeAndBlockSize) {
  struct Case {
    const char* what;
    model::Chemistry chemistry;
    model::ModuleType module;
    double capacity_ah;
    double max_single_cv_pct;  // what the noise model gives, with margin
  };
  const Case cases[] = {
      {"12 V 100 Ah, C24", model::Chemistry::kVrla12V, model::ModuleType::kC24, 100.0, 2.0},
      {"12 V 100 Ah, C20", model::Chemistry::kVrla12V, model::ModuleType::kC20, 100.0, 3.5},
      {"2 V 1000 Ah, C44", model::Chemistry::kVrla2V, model::ModuleType::kC44, 1000.0, 16.0},
      {"2 V 3000 Ah, C44", model::Chemistry::kVrla2V, model::ModuleType::kC44, 3000.0, 45.0},
  };
  for (const auto& c : cases) {
    auto cfg = test::oneString(4);
    cfg.strings[0].chemistry = c.chemistry;
    cfg.strings[0].module_type = c.module;
    cfg.strings[0].capacity_ah = c.capacity_ah;
    cfg.strings[0].charger.float_v_per_cell = 2.27;
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + kHourMs);
    double sum = 0;
    double sq = 0;
    constexpr int kReads = 4000;
    for (int i = 0; i < kReads; ++i) {
      const double r = sim.measureModule(0, 1).ri_ohm;
      sum += r;
      sq += r * r;
    }
    const double mean = sum / kReads;
    const double cv_pct = 100.0 * std::sqrt(std::max(0.0, sq / kReads - mean * mean)) / mean;
    const double truth_mohm = sim.blockTruth(0, 1).ri_ohm * 1000.0;
    std::printf("Ri %s: true %.3f mΩ, one reading ±%.2f %% (1σ), mean of 24 ±%.2f %%\n", c.what,
                truth_mohm, cv_pct, cv_pct / std::sqrt(24.0));
    EXPECT_LT(cv_pct, c.max_single_cv_pct) << c.what;
    EXPECT_GT(cv_pct, 0.2 * c.max_single_cv_pct) << c.what << ": the pulse noise is there";
  }
}

}  // namespace
}  // namespace equalis::sim
