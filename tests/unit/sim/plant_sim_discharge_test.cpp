// Discharge, recharge, capacity and the UPS outage model of the plant simulator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

// Brief demo scenario: a 10-min outage at 20 kW (≈ 25 A per string) drops the SOC by a few %,
// then the charger recharges in CC at current_limit_a followed by CV float; SOC back to ~100 %.
TEST(PlantSimDischarge, OutageThenRechargeCcThenFloat) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double float_v = sim.stringTruth(0).voltage_v;
  const double soc0 = test::meanSoc(sim, 1);
  sim.startOutage(20000.0, 10 * kMinuteMs);
  EXPECT_TRUE(sim.outageActive());
  double min_v = 1e9;
  for (int s = 1; s <= 600; ++s) {
    sim.advanceTo(kT0 + kHourMs + s * kSecondMs);
    if (s < 600) {
      for (std::size_t i = 0; i < 2; ++i) {
        const auto st = sim.stringTruth(i);
        ASSERT_EQ(st.mode, StringMode::kDischarge) << s;
        // Constant power: 10 kW per string (load split by block count) → I = P / V.
        ASSERT_NEAR(-st.current_a * st.voltage_v, 10000.0, 1.0);
        ASSERT_EQ(st.ac_ripple_a, 0.0);
      }
      min_v = std::min(min_v, sim.stringTruth(1).voltage_v);
    }
  }
  EXPECT_FALSE(sim.outageActive());
  const double soc_after = test::meanSoc(sim, 1);
  std::printf("outage: string V %.1f → min %.1f V (%.3f V/block), I %.1f A, SOC %.4f → %.4f\n",
              float_v, min_v, min_v / 32, -10000.0 / min_v, soc0, soc_after);
  // 10 kW / ~405 V ≈ 24.7 A for 600 s = 4.1 Ah of 100 Ah.
  EXPECT_GT(soc0 - soc_after, 0.02);
  EXPECT_LT(soc0 - soc_after, 0.08);
  // Below the rested OCV of a full string (12.85 V/block, §6.4) and far below float.
  EXPECT_LT(min_v, 32 * 12.80);
  EXPECT_GT(min_v, 32 * 12.0);  // R0 4.9 mΩ + RC 3 mΩ (§6.4) at 25 A: ≈ 0.2 V/block drop

  // Recharge: mode sequence kCharge (CC at the limit) → kFloat (CV), SOC back above 0.99.
  bool saw_cc = false;
  bool saw_float_after_cc = false;
  TimeMs t = sim.timeMs();
  for (int i = 0; i < 24 * 360; ++i) {
    t += 10 * kSecondMs;
    sim.advanceTo(t);
    const auto st = sim.stringTruth(1);
    if (st.mode == StringMode::kCharge) {
      saw_cc = true;
      EXPECT_NEAR(st.current_a, 10.0, 1e-9);  // ChargerConfig::current_limit_a
      EXPECT_LT(st.voltage_v, st.charger_setpoint_v);
      EXPECT_GT(st.ac_ripple_a, 0.0);
    } else if (saw_cc) {
      EXPECT_EQ(st.mode, StringMode::kFloat);
      saw_float_after_cc = true;
    }
  }
  EXPECT_TRUE(saw_cc);
  EXPECT_TRUE(saw_float_after_cc);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(sim.stringTruth(i).mode, StringMode::kFloat);
    EXPECT_GE(test::minSoc(sim, i), 0.99);
    EXPECT_LT(sim.stringTruth(i).current_a, 0.1);
    EXPECT_NEAR(sim.stringTruth(i).voltage_v, sim.stringTruth(i).charger_setpoint_v, 0.003);
  }
}

// Time steps: ≤ 1 s while discharging (brief, §6.1).
TEST(PlantSimDischarge, OneSecondStepsWhileDischarging) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  sim.startOutage(20000.0, 10 * kMinuteMs);
  const auto n0 = sim.blockStepCount();
  sim.advanceTo(kT0 + kHourMs + 2 * kMinuteMs);
  EXPECT_GE(sim.blockStepCount() - n0, 120u * 64u);
}

struct RuntimeResult {
  double hours = 0;
  double soc_at_cutoff = 0;
};

// Constant-current discharge from float until the low-voltage cut-off at 1.75 V/cell
// (ChemistryInfo end_of_discharge_v_per_cell).
RuntimeResult runtimeAt(double current_a, double ambient_c) {
  PlantSim sim(test::oneString(32, ambient_c), kT0);
  sim.advanceTo(kT0 + 2 * kHourMs);
  const TimeMs t0 = sim.timeMs();
  sim.setDischargeCurrent(0, current_a);
  TimeMs t = t0;
  while (!sim.lowVoltageCutOff(0) && t < t0 + 30 * kHourMs) {
    t += 10 * kSecondMs;
    sim.advanceTo(t);
    if (!sim.lowVoltageCutOff(0)) {
      EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kDischarge);
      EXPECT_NEAR(sim.stringTruth(0).current_a, -current_a, 1e-12);
    }
  }
  EXPECT_TRUE(sim.lowVoltageCutOff(0));
  const double hours = static_cast<double>(t - t0) / kHourMs;
  sim.advanceTo(t + kSecondMs);  // the cut-off step itself still carried the load
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kRest);
  EXPECT_EQ(sim.stringTruth(0).current_a, 0.0);
  return {hours, test::meanSoc(sim, 0)};
}

// §2.5 Leoch LP12-100: C10 = 100 Ah → 10 h at 10 A (±15 %, brief).
TEST(PlantSimCapacity, RuntimeAtC10) {
  const auto r = runtimeAt(10.0, 25.0);
  std::printf("runtime at 10 A: %.2f h (mean SOC at cut-off %.3f)\n", r.hours, r.soc_at_cutoff);
  EXPECT_NEAR(r.hours, 10.0, 1.5);
}

// §2.5 Leoch LP12-100: C1 = 65.1 Ah at 65.1 A → 1 h (±25 %, brief); Peukert 1.35 between 1 h and
// 10 h means the delivered Ah shrink to ≈ 2/3 of C10.
TEST(PlantSimCapacity, RuntimeAtC1) {
  const auto r = runtimeAt(65.0, 25.0);
  std::printf("runtime at 65 A: %.2f h (%.1f Ah)\n", r.hours, 65.0 * r.hours);
  EXPECT_NEAR(r.hours, 1.0, 0.25);
  EXPECT_LT(65.0 * r.hours, 80.0);
}

// §2.5 Leoch LP12-100: 86 % of the capacity at 0 °C.
TEST(PlantSimCapacity, CapacityAtZeroCelsius) {
  const double warm_h = runtimeAt(10.0, 25.0).hours;
  const double cold_h = runtimeAt(10.0, 0.0).hours;
  std::printf("runtime at 10 A: 25 °C %.2f h, 0 °C %.2f h → %.1f %%\n", warm_h, cold_h,
              100 * cold_h / warm_h);
  EXPECT_NEAR(cold_h / warm_h, 0.86, 0.04);
}

// A heavy outage drives the strings to the UPS low-battery cut-off; they rest until mains return,
// then recharge.
TEST(PlantSimDischarge, LowBatteryCutOffDuringLongOutage) {
  auto cfg = test::oneString(32);
  PlantSim sim(cfg, kT0);
  sim.startOutage(32 * 12 * 100.0, 3 * kHourMs);  // ≈ 100 A: C1 is exhausted in well under 1 h
  sim.advanceTo(kT0 + 2 * kHourMs);
  EXPECT_TRUE(sim.outageActive());
  EXPECT_TRUE(sim.lowVoltageCutOff(0));
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kRest);
  EXPECT_EQ(sim.stringTruth(0).current_a, 0.0);
  // At ≈ 1.5 C the string reaches 1.75 V/cell after about a third of C10 (R10 calibrated to the
  // Leoch 1.85 V/cell table, §2.5; chemistry_params.cpp).
  EXPECT_LT(test::meanSoc(sim, 0), 0.7);
  sim.advanceTo(kT0 + 3 * kHourMs + kMinuteMs);
  EXPECT_FALSE(sim.outageActive());
  EXPECT_FALSE(sim.lowVoltageCutOff(0));
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kCharge);
  EXPECT_NEAR(sim.stringTruth(0).current_a, 10.0, 1e-9);
  // CC at 10 A (η = 0.95, §6.4) refills ≥ 50 Ah in ~6 h, then the CV taper.
  sim.advanceTo(kT0 + 24 * kHourMs);
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kFloat);
  EXPECT_GT(test::minSoc(sim, 0), 0.99);
}

// UPS outages: seeded renewal process, independent of the measurement calls; next start reported
// ahead; mean interval outage_mean_interval_h, duration uniform in [min, max].
TEST(PlantSimUps, ScheduleIsDeterministicAndIndependentOfReads) {
  auto cfg = test::oneString(2);
  cfg.simulation.ups.outages = true;
  cfg.simulation.ups.outage_mean_interval_h = 6.0;
  cfg.simulation.ups.outage_min_s = 60.0;
  cfg.simulation.ups.outage_max_s = 600.0;
  cfg.simulation.ups.load_kw = 0.5;  // ≈ 20 A on the 2-block string
  PlantSim a(cfg, kT0);
  PlantSim b(cfg, kT0);
  std::vector<TimeMs> starts;
  std::vector<double> durations_s;
  while (starts.size() < 150) {
    const TimeMs next = a.nextScheduledOutageMs();
    ASSERT_GT(next, a.timeMs());
    ASSERT_EQ(next, b.nextScheduledOutageMs());
    a.advanceTo(next - 1);
    b.advanceTo(next - 1);
    EXPECT_FALSE(a.outageActive());
    a.measureModule(0, 0);  // reads draw noise only from their own stream
    a.measureStringCurrent(0);
    a.advanceTo(next);
    b.advanceTo(next);
    ASSERT_TRUE(a.outageActive());
    ASSERT_TRUE(b.outageActive());
    EXPECT_EQ(a.stringTruth(0).current_a, b.stringTruth(0).current_a);
    TimeMs t = next;
    while (a.outageActive()) {
      t += kSecondMs;
      a.advanceTo(t);
    }
    b.advanceTo(t);
    starts.push_back(next);
    durations_s.push_back(static_cast<double>(t - next) / 1000.0);
  }
  double gap_h = 0;
  double dur_s = 0;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    EXPECT_GE(durations_s[i], 60.0);
    EXPECT_LE(durations_s[i], 601.0);
    dur_s += durations_s[i] / static_cast<double>(starts.size());
    if (i > 0) {
      gap_h += static_cast<double>(starts[i] - starts[i - 1]) / kHourMs /
               static_cast<double>(starts.size() - 1);
    }
  }
  std::printf("150 outages: mean interval %.2f h, mean duration %.0f s\n", gap_h, dur_s);
  EXPECT_NEAR(gap_h, 6.0, 6.0 * 0.25);     // exponential: σ of the mean of 149 ≈ 8 %
  EXPECT_NEAR(dur_s, 330.0, 330.0 * 0.1);  // uniform 60 … 600 s: mean 330 s
}

TEST(PlantSimUps, NoOutagesWhenDisabled) {
  PlantSim sim(test::quietDemo(), kT0);
  EXPECT_EQ(sim.nextScheduledOutageMs(), -1);
  for (int h = 1; h <= 48; ++h) {
    sim.advanceTo(kT0 + h * kHourMs);
    EXPECT_FALSE(sim.outageActive());
  }
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kFloat);
  auto cfg = model::demoPlant();
  PlantSim on(cfg, kT0);
  EXPECT_GT(on.nextScheduledOutageMs(), kT0);
}

}  // namespace
}  // namespace equalis::sim
