// Float behaviour of the plant simulator: drift, charger CV, gassing law, temperature, bypass.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "model/chemistry.hpp"
#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

// Same config + seed + call sequence ⇒ bit-identical truths and measurements.
TEST(PlantSimDeterminism, SameSeedIdenticalDifferentSeedDiffers) {
  auto cfg = model::demoPlant();  // random outages on: the UPS stream is exercised too
  PlantSim a(cfg, kT0);
  PlantSim b(cfg, kT0);
  cfg.simulation.seed = 2;
  PlantSim c(cfg, kT0);
  for (int step = 1; step <= 48; ++step) {
    const TimeMs t = kT0 + step * 15 * kMinuteMs;
    a.advanceTo(t);
    b.advanceTo(t);
    c.advanceTo(t);
    for (std::size_t s = 0; s < a.stringCount(); ++s) {
      const auto ma = a.measureModule(s, 3);
      const auto mb = b.measureModule(s, 3);
      EXPECT_EQ(ma.voltage_v, mb.voltage_v);
      EXPECT_EQ(a.measureStringCurrent(s).current_a, b.measureStringCurrent(s).current_a);
    }
  }
  EXPECT_EQ(a.blockStepCount(), b.blockStepCount());
  EXPECT_EQ(a.nextScheduledOutageMs(), b.nextScheduledOutageMs());
  bool any_difference_c = false;
  for (std::size_t s = 0; s < a.stringCount(); ++s) {
    EXPECT_EQ(a.stringTruth(s).current_a, b.stringTruth(s).current_a);
    EXPECT_EQ(a.stringTruth(s).voltage_v, b.stringTruth(s).voltage_v);
    for (std::size_t i = 0; i < a.blockCount(s); ++i) {
      const auto ta = a.blockTruth(s, i);
      const auto tb = b.blockTruth(s, i);
      EXPECT_EQ(ta.voltage_v, tb.voltage_v);
      EXPECT_EQ(ta.soc, tb.soc);
      EXPECT_EQ(ta.temperature_c, tb.temperature_c);
      EXPECT_EQ(ta.gassing_current_a, tb.gassing_current_a);
      EXPECT_EQ(a.moduleGainError(s, i), b.moduleGainError(s, i));
      any_difference_c |= ta.voltage_v != c.blockTruth(s, i).voltage_v;
    }
  }
  EXPECT_TRUE(any_difference_c);
}

// Brief / seed 001: a 5-year-old string spreads about ±1.5 V (§1.3: σ_lnI0 = 1.2 → ±1.4 V at 32
// blocks), a new one (σ = 0.3 → ±0.32 V, §5.4 table) stays within ±0.5 V; float current tens of mA
// (§1.2: 15–25 mA per 100 Ah at 2.27 V/cell for I0 = 10–15 mA).
TEST(PlantSimFloat, DemoPlantOldStringSpreadsNewStringNarrow) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + 36 * kHourMs);
  const auto old_s = test::spreadOf(sim, 0);
  const auto new_s = test::spreadOf(sim, 1);
  std::printf("old string: mean %.3f V, min %.3f, max %.3f, max|dev| %.3f V, I %.1f mA\n",
              old_s.mean_v, old_s.min_v, old_s.max_v, old_s.max_abs_dev_v,
              1000 * sim.stringTruth(0).current_a);
  std::printf("new string: mean %.3f V, min %.3f, max %.3f, max|dev| %.3f V, I %.1f mA\n",
              new_s.mean_v, new_s.min_v, new_s.max_v, new_s.max_abs_dev_v,
              1000 * sim.stringTruth(1).current_a);
  EXPECT_NEAR(old_s.mean_v, 13.62, 0.02);  // 2.27 V/cell × 6 (brief), compensated near 25 °C
  EXPECT_GE(old_s.max_abs_dev_v, 1.0);
  EXPECT_LE(old_s.max_abs_dev_v, 2.0);
  EXPECT_LT(new_s.max_abs_dev_v, 0.5);
  EXPECT_GT(old_s.max_abs_dev_v, 2.5 * new_s.max_abs_dev_v);
  // Nobody sits below the rested OCV of a full block in float (12.85 V, §6.4) by more than noise.
  EXPECT_GT(old_s.min_v, 12.8);
  for (std::size_t s = 0; s < 2; ++s) {
    const auto st = sim.stringTruth(s);
    EXPECT_EQ(st.mode, StringMode::kFloat);
    EXPECT_GT(st.current_a, 0.010);
    EXPECT_LT(st.current_a, 0.100);
    EXPECT_GT(test::minSoc(sim, s), 0.999);
  }
  // The spread is a standing pattern: it is the same 12 h later (float equilibrium).
  sim.advanceTo(kT0 + 48 * kHourMs);
  EXPECT_NEAR(test::spreadOf(sim, 0).max_abs_dev_v, old_s.max_abs_dev_v, 0.05);
}

// The spread is no lucky draw: over several seeds the old string stays in 1.0 … 2.0 V.
TEST(PlantSimFloat, OldStringSpreadAcrossSeeds) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    auto cfg = test::quietDemo();
    cfg.simulation.seed = seed;
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + 24 * kHourMs);
    const double dev = test::spreadOf(sim, 0).max_abs_dev_v;
    EXPECT_GE(dev, 1.0) << "seed " << seed;
    EXPECT_LE(dev, 2.0) << "seed " << seed;
    EXPECT_LT(test::spreadOf(sim, 1).max_abs_dev_v, 0.5) << "seed " << seed;
  }
}

// CV: Σ V_i equals the compensated set-point (brief: within a few mV); set-point = 2.27 × 6 × 32
// + (−3 mV/K/cell) × 192 cells × (T_avg − 25 °C) (§1.1, ChargerConfig).
TEST(PlantSimFloat, ChargerHoldsCompensatedSetpoint) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + 6 * kHourMs);
  for (std::size_t s = 0; s < sim.stringCount(); ++s) {
    double sum_v = 0;
    double sum_t = 0;
    for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
      sum_v += sim.blockTruth(s, b).voltage_v;
      sum_t += sim.blockTruth(s, b).temperature_c;
    }
    const auto st = sim.stringTruth(s);
    const double t_avg = sum_t / 32.0;
    EXPECT_NEAR(sum_v, st.charger_setpoint_v, 0.003);
    EXPECT_NEAR(st.voltage_v, sum_v, 1e-9);
    // (The charger reads the temperatures at the start of its step: ≤ 1 mV apart.)
    EXPECT_NEAR(st.charger_setpoint_v, 2.27 * 192 - 0.003 * 192 * (t_avg - 25.0), 1e-3);
    EXPECT_GT(st.ac_ripple_a, 0.0);  // rectifier ripple in float [G 0.1–0.3 A]
  }
}

// §1.2 [D] float current per 100 Ah vs cell voltage (I0 = 15 mA): 18.7 mA at 2.25, 23.3 at 2.27,
// 32.4 at 2.30, 55.5 at 2.35 V/cell; i.e. ×3.0 per 0.1 V (×10 per 0.21 V). String-level check,
// temperature compensation off; new string (σ_lnI0 = 0.3).
TEST(PlantSimFloat, FloatCurrentFollowsTafelLaw) {
  const double v_cell[] = {2.25, 2.27, 2.30, 2.35};
  const double expect_ma[] = {18.7, 23.3, 32.4, 55.5};
  double measured_ma[4] = {};
  for (int i = 0; i < 4; ++i) {
    auto cfg = test::oneString();
    cfg.strings[0].charger.float_v_per_cell = v_cell[i];
    cfg.strings[0].charger.temperature_compensation = false;
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + 24 * kHourMs);
    measured_ma[i] = 1000.0 * sim.stringTruth(0).current_a;
    std::printf("float %.2f V/cell: %.1f mA (Tafel %.1f mA)\n", v_cell[i], measured_ma[i],
                expect_ma[i]);
    EXPECT_NEAR(measured_ma[i], expect_ma[i], 0.15 * expect_ma[i]);
  }
  EXPECT_NEAR(measured_ma[3] / measured_ma[0], std::exp(11.0 * 0.10), 0.15 * std::exp(1.1));
}

// §1.2: at a fixed float voltage the float current doubles per 11.6 K (c_T = 0.06 /K).
TEST(PlantSimFloat, FloatCurrentDoublesPer11p6Kelvin) {
  double i_a[2] = {};
  const double ambient[2] = {25.0, 36.6};
  for (int i = 0; i < 2; ++i) {
    auto cfg = test::oneString(32, ambient[i]);
    cfg.strings[0].charger.temperature_compensation = false;
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + 48 * kHourMs);
    i_a[i] = sim.stringTruth(0).current_a;
  }
  std::printf("float current 25 °C %.1f mA, 36.6 °C %.1f mA, ratio %.2f\n", 1000 * i_a[0],
              1000 * i_a[1], i_a[1] / i_a[0]);
  EXPECT_NEAR(i_a[1] / i_a[0], 2.0, 0.2);
}

// §1.1 / §1.6: temperature compensation lowers the set-point when warm (−3 mV/K/cell) and
// thereby limits the rise of the float current.
TEST(PlantSimFloat, TemperatureCompensationLowersSetpointWhenWarm) {
  auto cfg = test::oneString(32, 35.0);
  PlantSim warm(cfg, kT0);
  cfg.ambient.temperature_c = 25.0;
  PlantSim ref(cfg, kT0);
  cfg.ambient.temperature_c = 35.0;
  cfg.strings[0].charger.temperature_compensation = false;
  PlantSim warm_uncomp(cfg, kT0);
  for (auto* sim : {&warm, &ref, &warm_uncomp}) {
    sim->advanceTo(kT0 + 24 * kHourMs);
  }
  const double drop_v =
      ref.stringTruth(0).charger_setpoint_v - warm.stringTruth(0).charger_setpoint_v;
  EXPECT_NEAR(drop_v, 0.003 * 192 * 10.0, 0.1);  // 5.76 V for +10 K
  EXPECT_DOUBLE_EQ(warm_uncomp.stringTruth(0).charger_setpoint_v, 2.27 * 192);
  EXPECT_LT(warm.stringTruth(0).current_a, warm_uncomp.stringTruth(0).current_a);
  // Clamp at temp_comp_max_c = 40 °C (Narada, §1.1).
  cfg.ambient.temperature_c = 50.0;
  cfg.strings[0].charger.temperature_compensation = true;
  PlantSim hot(cfg, kT0);
  EXPECT_NEAR(hot.stringTruth(0).charger_setpoint_v, 2.27 * 192 - 0.003 * 192 * 15.0, 1e-9);
}

// §1.4: bypassing I_b around a block lowers it by ≈ (n_c/c_u)·ln(I_s/(I_s − I_b)); the charger
// holds V_ch, so I_s and all other blocks rise. τ_float = 1 h → settled after 6 h.
TEST(PlantSimFloat, BypassLowersBlockRaisesOthers) {
  PlantSim sim(test::oneString(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  std::size_t hi = 0;
  for (std::size_t b = 1; b < 32; ++b) {
    if (sim.blockTruth(0, b).voltage_v > sim.blockTruth(0, hi).voltage_v) {
      hi = b;
    }
  }
  const double v_hi0 = sim.blockTruth(0, hi).voltage_v;
  const double others0 = (sim.stringTruth(0).voltage_v - v_hi0) / 31.0;
  const double i_s0 = sim.stringTruth(0).current_a;
  sim.setBypassDuty(0, hi, 0.1);  // 15 mA of a C24's 150 mA
  sim.advanceTo(kT0 + 7 * kHourMs);
  const auto bt = sim.blockTruth(0, hi);
  const double i_s = sim.stringTruth(0).current_a;
  const double others = (sim.stringTruth(0).voltage_v - bt.voltage_v) / 31.0;
  EXPECT_NEAR(bt.bypass_current_a, 0.015, 1e-12);
  EXPECT_NEAR(bt.cell_current_a, i_s - 0.015, 1e-12);
  const double predicted_v = 6.0 / 11.0 * std::log(i_s / (i_s - 0.015));
  std::printf(
      "bypass 15 mA: block %.3f → %.3f V (ΔV %.3f, §1.4 predicts %.3f), others +%.1f mV, "
      "I_s %.1f → %.1f mA\n",
      v_hi0, bt.voltage_v, v_hi0 - bt.voltage_v, predicted_v, 1000 * (others - others0),
      1000 * i_s0, 1000 * i_s);
  EXPECT_NEAR(v_hi0 - bt.voltage_v, predicted_v, 0.3 * predicted_v);
  EXPECT_GT(others, others0 + 0.005);
  EXPECT_GT(i_s, i_s0);
  EXPECT_NEAR(sim.stringTruth(0).voltage_v, sim.stringTruth(0).charger_setpoint_v, 0.003);

  // Full bypass (150 mA) exceeds the float current: the block is discharged through the module
  // and drops to about its OCV (§5.4 "Case B").
  sim.setBypassDuty(0, hi, 1.0);
  sim.advanceTo(kT0 + 13 * kHourMs);
  const auto full = sim.blockTruth(0, hi);
  EXPECT_LT(full.cell_current_a, 0.0);
  EXPECT_LT(full.soc, 0.995);
  EXPECT_LT(full.voltage_v, full.ocv_v + 0.05);
  EXPECT_EQ(sim.measureModule(0, hi).bypass_duty, 1.0);
}

// §0: the bypass is a current sink capped at ≈ 2 W per module (C24: 0.15 A, 2.1 W).
TEST(PlantSimFloat, BypassPowerCapAndModuleRange) {
  auto cfg = test::oneString(8);
  cfg.strings[0].charger.float_v_per_cell = 2.40;  // ≈ 14.4 V per block: 0.15 A would be 2.16 W
  cfg.strings[0].charger.temperature_compensation = false;
  PlantSim sim(cfg, kT0);
  sim.setBypassDuty(0, 0, 1.0);
  sim.advanceTo(kT0 + kMinuteMs);
  const auto bt = sim.blockTruth(0, 0);
  const auto& c24 = model::moduleTypeInfo(model::ModuleType::kC24);
  EXPECT_GT(bt.voltage_v * c24.bypass_current_a, c24.bypass_power_max_w);
  EXPECT_LT(bt.bypass_current_a, c24.bypass_current_a);
  EXPECT_LE(bt.voltage_v * bt.bypass_current_a, c24.bypass_power_max_w + 0.01);

  // A module whose input range does not cover the block (C30: 4.8–8 V on a 12 V block) cannot
  // bypass at all.
  auto cfg2 = test::oneString(8);
  cfg2.strings[0].module_type = model::ModuleType::kC30;
  PlantSim sim2(cfg2, kT0);
  sim2.setBypassDuty(0, 0, 1.0);
  sim2.advanceTo(kT0 + kMinuteMs);
  EXPECT_EQ(sim2.blockTruth(0, 0).bypass_current_a, 0.0);
  EXPECT_EQ(sim2.measureModule(0, 0).bypass_duty, 0.0);
}

// §1.1: AGM self-discharge 3 %/month at 20 °C for blocks not on charge (charger off → kRest).
TEST(PlantSimFloat, SelfDischargeAtRest) {
  PlantSim sim(test::oneString(16, 20.0), kT0);
  sim.setChargerEnabled(0, false);
  sim.advanceTo(kT0 + 30 * kDayMs);
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kRest);
  EXPECT_EQ(sim.stringTruth(0).current_a, 0.0);
  EXPECT_EQ(sim.stringTruth(0).ac_ripple_a, 0.0);
  const double loss = 1.0 - test::meanSoc(sim, 0);
  std::printf("self-discharge at 20 °C over 30 days: %.2f %%\n", 100 * loss);
  EXPECT_NEAR(loss, 0.03, 0.005);
  sim.setChargerEnabled(0, true);
  sim.advanceTo(kT0 + 32 * kDayMs);
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kFloat);
  EXPECT_GT(test::minSoc(sim, 0), 0.99);
}

// Ambient model: temperature_c ± daily_swing_c, maximum at 15:00 UTC, minimum at 03:00.
TEST(PlantSimFloat, AmbientDailySwing) {
  auto cfg = test::oneString(4, 22.0);
  cfg.ambient.daily_swing_c = 3.0;
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 15 * kHourMs);
  EXPECT_NEAR(sim.ambientTemperatureC(), 25.0, 1e-9);
  sim.advanceTo(kT0 + 27 * kHourMs);
  EXPECT_NEAR(sim.ambientTemperatureC(), 19.0, 1e-9);
  EXPECT_NEAR(sim.measureAmbientC(), 19.0, 0.7);  // offset ≤ 0.5 °C + noise [G]
}

// Other chemistries hold their float / top voltage with plausible currents (§6.4).
TEST(PlantSimFloat, OtherChemistriesFloat) {
  struct Case {
    model::Chemistry chemistry;
    double capacity_ah;
    double min_current_a;
    double max_current_a;
  };
  // 2 V 1000 Ah: 100–200 mA at 2.23 V (§6.4) → ~0.15–0.3 A at 2.25 V; LFP: leakage 0.02–0.05
  // mA/Ah (§6.4); NiCd: 1–2 mA/Ah (§6.4).
  const Case cases[] = {{model::Chemistry::kVrla2V, 1000.0, 0.10, 0.35},
                        {model::Chemistry::kLiFePO4, 100.0, 0.001, 0.006},
                        {model::Chemistry::kNiCd, 100.0, 0.08, 0.25}};
  for (const auto& c : cases) {
    auto cfg = test::oneString(24);
    auto& s = cfg.strings[0];
    const auto& info = model::chemistryInfo(c.chemistry);
    s.chemistry = c.chemistry;
    s.capacity_ah = c.capacity_ah;
    s.module_type = model::ModuleType::kC44;
    s.charger.float_v_per_cell = info.float_v_per_cell;
    s.charger.current_limit_a = c.capacity_ah / 10.0;
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + 24 * kHourMs);
    const auto st = sim.stringTruth(0);
    EXPECT_EQ(st.mode, StringMode::kFloat) << info.key;
    EXPECT_NEAR(st.voltage_v, st.charger_setpoint_v, 0.003) << info.key;
    EXPECT_GT(st.current_a, c.min_current_a) << info.key;
    EXPECT_LT(st.current_a, c.max_current_a) << info.key;
    if (c.chemistry == model::Chemistry::kLiFePO4) {
      // Held in the knee: 3.40 V/cell less the charge branch's hysteresis is between 95.7 % and
      // 100 % of the A123 table (§2.4).
      EXPECT_GT(sim.blockTruth(0, 0).soc, 0.957);
      EXPECT_LT(sim.blockTruth(0, 0).soc, 1.0);
    } else {
      EXPECT_GT(test::minSoc(sim, 0), 0.999) << info.key;
    }
  }
}

TEST(PlantSimHooks, CommFaultFlagAndIndexChecks) {
  PlantSim sim(test::oneString(4), kT0);
  EXPECT_FALSE(sim.moduleCommFault(0, 2));
  sim.setModuleCommFault(0, 2, true);
  EXPECT_TRUE(sim.moduleCommFault(0, 2));
  EXPECT_FALSE(sim.moduleCommFault(0, 1));
  EXPECT_EQ(sim.stringCount(), 1u);
  EXPECT_EQ(sim.blockCount(0), 4u);
  EXPECT_THROW(sim.blockTruth(1, 0), std::out_of_range);
  EXPECT_THROW(sim.blockTruth(0, 4), std::out_of_range);
  EXPECT_EQ(sim.timeMs(), kT0);
  sim.advanceTo(kT0 - 1000);  // no-op backwards
  EXPECT_EQ(sim.timeMs(), kT0);
  sim.advanceTo(kT0 + 1234);
  EXPECT_EQ(sim.timeMs(), kT0 + 1234);
}

// Brief: a 64-block plant must simulate 24 h of float in well under a second (release build);
// aim ≥ 10⁷ block-steps/s.
TEST(PlantSimPerformance, SixtyFourBlocksOneDay) {
  PlantSim sim(test::quietDemo(), kT0);
  const auto start = std::chrono::steady_clock::now();
  sim.advanceTo(kT0 + kDayMs);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = static_cast<double>(sim.blockStepCount()) / wall_s;
  std::printf("24 h × 64 blocks: %llu block-steps in %.1f ms → %.3g block-steps/s\n",
              static_cast<unsigned long long>(sim.blockStepCount()), 1000 * wall_s, rate);
  // Settled float uses ≥ 10 s steps: at most 8640 steps per block per day.
  EXPECT_LE(sim.blockStepCount(), 64u * 8640u);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(wall_s, 0.5);
#endif
}

}  // namespace
}  // namespace equalis::sim
