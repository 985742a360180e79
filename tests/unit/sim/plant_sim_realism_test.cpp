// Realism effects beyond the equivalent circuit's core (docs/simulator.md): the coup de fouet,
// per-block scatter of the block's own curve and losses, and the independent ageing mechanisms
// with their own signatures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

struct Dip {
  double trough_v = 0;
  double trough_min = 0;
  double plateau_v = 0;
  double depth_mv_per_cell() const { return (plateau_v - trough_v) / 6.0 * 1000.0; }
};

// Discharges the string at `current_a` for `minutes` and finds block 0's dip: the lowest voltage
// in the first 15 minutes and the highest voltage after it.
Dip dischargeDip(PlantSim& sim, double current_a, int minutes) {
  sim.setDischargeCurrent(0, current_a);
  const TimeMs t0 = sim.timeMs();
  std::vector<double> v;
  for (int k = 1; k <= minutes * 6; ++k) {
    sim.advanceTo(t0 + k * 10 * kSecondMs);
    v.push_back(sim.blockTruth(0, 0).voltage_v);
  }
  sim.setDischargeCurrent(0, 0.0);
  Dip d;
  const auto first = v.begin() + std::min<std::ptrdiff_t>(90, std::ssize(v));
  const auto trough = std::min_element(v.begin(), first);
  d.trough_v = *trough;
  d.trough_min = static_cast<double>(trough - v.begin() + 1) / 6.0;
  d.plateau_v = *std::max_element(trough, v.end());
  return d;
}

// Ryś et al. 2021 (§3.4): a dip in the first minutes of a discharge from full charge, then a
// recovery to an interim plateau; deeper and earlier at a higher rate. Tens of mV per cell [G].
TEST(SimCoupDeFouet, DipThenPlateauFromFullCharge) {
  PlantSim slow(test::oneString(4), kT0);
  slow.advanceTo(kT0 + 12 * kHourMs);
  ASSERT_GT(slow.blockTruth(0, 0).coup_de_fouet_state, 0.99);
  const Dip c10 = dischargeDip(slow, 10.0, 40);
  PlantSim fast(test::oneString(4), kT0);
  fast.advanceTo(kT0 + 12 * kHourMs);
  const Dip c3 = dischargeDip(fast, 33.0, 20);
  std::printf(
      "coup de fouet: C/10 trough %.3f V at %.1f min, plateau %.3f V (%.1f mV/cell); C/3 "
      "trough at %.1f min, %.1f mV/cell\n",
      c10.trough_v, c10.trough_min, c10.plateau_v, c10.depth_mv_per_cell(), c3.trough_min,
      c3.depth_mv_per_cell());
  EXPECT_GT(c10.depth_mv_per_cell(), 5.0);
  EXPECT_LT(c10.depth_mv_per_cell(), 40.0);
  EXPECT_GE(c10.trough_min, 1.0);
  EXPECT_LE(c10.trough_min, 10.0);
  EXPECT_LT(c3.trough_min, c10.trough_min);
  EXPECT_GT(c3.depth_mv_per_cell(), c10.depth_mv_per_cell());
  // The discharge used the readiness up.
  slow.advanceTo(slow.timeMs() + kMinuteMs);
  EXPECT_LT(slow.blockTruth(0, 0).coup_de_fouet_state, 0.01);
}

// No coup de fouet after a partial recharge; it comes back after a full charge held for a day.
TEST(SimCoupDeFouet, NeedsAFullChargeHeldForHours) {
  PlantSim sim(test::oneString(4), kT0);
  sim.advanceTo(kT0 + 12 * kHourMs);
  const Dip first = dischargeDip(sim, 10.0, 30);
  sim.advanceTo(sim.timeMs() + 30 * kMinuteMs);  // recharging, not yet full
  const Dip again = dischargeDip(sim, 10.0, 30);
  sim.advanceTo(sim.timeMs() + 3 * kDayMs);
  const double readiness = sim.blockTruth(0, 0).coup_de_fouet_state;
  const Dip rested = dischargeDip(sim, 10.0, 30);
  std::printf(
      "dip %.1f mV/cell; after 30 min of recharge %.1f; after 3 days of float %.1f "
      "(readiness %.2f)\n",
      first.depth_mv_per_cell(), again.depth_mv_per_cell(), rested.depth_mv_per_cell(), readiness);
  EXPECT_LT(again.depth_mv_per_cell(), 0.3 * first.depth_mv_per_cell());
  EXPECT_GT(readiness, 0.9);
  EXPECT_NEAR(rested.depth_mv_per_cell(), first.depth_mv_per_cell(),
              0.2 * first.depth_mv_per_cell());
}

double sigmaOf(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) {
    m += v / static_cast<double>(x.size());
  }
  double s2 = 0;
  for (double v : x) {
    s2 += (v - m) * (v - m) / static_cast<double>(x.size() - 1);
  }
  return std::sqrt(s2);
}

// Each block has its own OCV curve (offset σ 3 mV/cell → 7.3 mV per 12 V block, span σ 1 %),
// charge efficiency (0.95, σ 0.002) and self-discharge (lognormal σ 0.3), drawn from the seed.
TEST(SimScatter, EveryBlockHasItsOwnCurveAndLosses) {
  auto cfg = test::oneString(64);
  PlantSim sim(cfg, kT0);
  std::vector<double> offset, span, eta, ln_sd;
  for (std::size_t b = 0; b < 64; ++b) {
    const auto t = sim.blockTruth(0, b);
    EXPECT_NEAR(t.ocv_full_v, 11.90 + t.ocv_offset_v + 0.95 * t.ocv_span_factor, 1e-12);
    offset.push_back(t.ocv_offset_v);
    span.push_back(t.ocv_span_factor);
    eta.push_back(t.charge_efficiency);
    ln_sd.push_back(std::log(t.self_discharge_factor));
  }
  std::printf(
      "scatter over 64 blocks: OCV offset σ %.1f mV, span σ %.2f %%, η σ %.4f, "
      "ln self-discharge σ %.2f\n",
      1000 * sigmaOf(offset), 100 * sigmaOf(span), sigmaOf(eta), sigmaOf(ln_sd));
  EXPECT_NEAR(sigmaOf(offset), 3e-3 * std::sqrt(6.0), 2.5e-3);
  EXPECT_NEAR(sigmaOf(span), 0.01, 0.004);
  EXPECT_NEAR(sigmaOf(eta), 0.002, 0.0008);
  EXPECT_NEAR(sigmaOf(ln_sd), 0.3, 0.1);
  // The same seed gives the same plant, another seed another one.
  PlantSim same(cfg, kT0);
  EXPECT_EQ(same.blockTruth(0, 5).ocv_offset_v, offset[5]);
  cfg.simulation.seed += 1;
  PlantSim other(cfg, kT0);
  EXPECT_NE(other.blockTruth(0, 5).ocv_offset_v, offset[5]);
  // A rested block sits on its own curve.
  sim.setChargerEnabled(0, false);
  sim.advanceTo(kT0 + 24 * kHourMs);
  for (std::size_t b = 0; b < 64; b += 9) {
    const auto t = sim.blockTruth(0, b);
    EXPECT_NEAR(t.voltage_v, t.ocv_v, 0.01);
  }
}

// R0 from the mechanisms' shares: 1.25 per corrosion fade, 0.5 per sulfation fade, 0.1 per
// softening fade, ×(1 + 5·x) for water loss x beyond 10 % (chemistry_params.cpp, VRLA).
double expectedRiRatio(const BlockTruth& t) {
  const double dry_x = std::clamp(t.water_loss_fraction - 0.10, 0.0, 0.3);
  return (1.0 + 1.25 * t.corrosion_fade + 0.5 * t.sulfation_fade + 0.1 * t.softening_fade) *
         (1.0 + 5.0 * dry_x);
}

// Cycling wears the active mass: a Wöhler law N(DoD) = 250·DoD^−1.25 cycles to −20 % (a typical
// 12 V AGM cycle-life curve [G]), with R0 nearly flat — unlike grid corrosion.
TEST(SimAgeingMechanisms, CyclingSoftensTheMassWithLittleRiRise) {
  PlantSim sim(test::oneString(4), kT0);
  sim.setAgeingAcceleration(20.0);
  const auto t0 = sim.blockTruth(0, 0);
  const int cycles = 8;
  for (int c = 0; c < cycles; ++c) {
    sim.setDischargeCurrent(0, 10.0);
    sim.advanceTo(sim.timeMs() + 5 * kHourMs);  // ≈ 50 % DoD
    sim.setDischargeCurrent(0, 0.0);
    sim.advanceTo(sim.timeMs() + 43 * kHourMs);
  }
  const auto t = sim.blockTruth(0, 0);
  const double dod = 50.0 / t0.initial_capacity_ah;
  const double per_cycle = 0.2 / 250.0 * std::pow(dod, 1.25);
  const double expected = cycles * 20.0 * per_cycle * t.softening_rate_multiplier;
  std::printf(
      "%d × %.0f %% DoD at ×20: softening fade %.2f %% (Wöhler law %.2f %%), corrosion "
      "%.2f %%, sulfation %.2f %%, R0 ×%.4f\n",
      cycles, 100 * dod, 100 * t.softening_fade, 100 * expected, 100 * t.corrosion_fade,
      100 * t.sulfation_fade, t.ri_ref_ohm / t.initial_ri_ohm);
  EXPECT_NEAR(t.softening_fade, expected, 0.15 * expected);
  EXPECT_GT(t.softening_fade, t.corrosion_fade);
  EXPECT_NEAR(t.ri_ref_ohm / t.initial_ri_ohm, expectedRiRatio(t), 1e-9);
  // The capacity fell by the sum of the shares; R0 rose by far less than corrosion would give.
  EXPECT_NEAR(t.capacity_fade,
              t.corrosion_fade + t.sulfation_fade + t.softening_fade + t.dry_out_fade, 1e-12);
  EXPECT_LT(t.ri_ref_ohm / t.initial_ri_ohm - 1.0, 1.25 * t.capacity_fade * 0.7);
}

// Heat dries a VRLA block out: the float current (and the water it takes) doubles per ≈ 11.6 K
// (§1.2) without temperature compensation; past 10 % water loss the block loses capacity and its
// R0 and float current rise.
TEST(SimAgeingMechanisms, HeatDriesABlockOut) {
  double water[2] = {};
  BlockTruth hot;
  for (int i = 0; i < 2; ++i) {
    auto cfg = test::oneString(1, i == 0 ? 25.0 : 35.0);
    cfg.strings[0].charger.temperature_compensation = false;
    PlantSim sim(cfg, kT0);
    sim.setAgeingAcceleration(50.0);
    sim.advanceTo(kT0 + 6 * 365 * kDayMs / 50);
    const auto t = sim.blockTruth(0, 0);
    water[i] = t.water_loss_fraction / t.water_loss_multiplier;
    hot = t;
  }
  std::printf(
      "6 years of float: water lost 25 °C %.1f %%, 35 °C %.1f %% (per unit multiplier); "
      "hot block dry-out fade %.1f %%, R0 ×%.2f\n",
      100 * water[0], 100 * water[1], 100 * hot.dry_out_fade, hot.ri_ref_ohm / hot.initial_ri_ohm);
  EXPECT_GT(water[1] / water[0], 2.0);
  EXPECT_GT(hot.dry_out_fade, 0.0);
  EXPECT_NEAR(hot.ri_ref_ohm / hot.initial_ri_ohm, expectedRiRatio(hot), 1e-9);
}

// Ri and capacity correlate across the blocks of an old string as they do in the field: loosely.
// The demo plant with its mains failures for half a year: Pearson r of (R0 rise, capacity fade)
// over the old string is clearly positive but far from the 1.0 of a single formula.
TEST(SimAgeingMechanisms, RiAndCapacityCorrelateLoosely) {
  PlantSim sim(model::demoPlant(), kT0);
  sim.advanceTo(kT0 + 182 * kDayMs);
  std::vector<double> ri, fade;
  for (std::size_t b = 0; b < sim.blockCount(0); ++b) {
    const auto t = sim.blockTruth(0, b);
    ri.push_back(t.ri_ref_ohm / t.initial_ri_ohm - 1.0);
    fade.push_back(t.capacity_fade);
  }
  const auto mean = [](const std::vector<double>& x) {
    double m = 0;
    for (double v : x) {
      m += v / static_cast<double>(x.size());
    }
    return m;
  };
  const double mr = mean(ri);
  const double mf = mean(fade);
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (std::size_t i = 0; i < ri.size(); ++i) {
    sxy += (ri[i] - mr) * (fade[i] - mf);
    sxx += (ri[i] - mr) * (ri[i] - mr);
    syy += (fade[i] - mf) * (fade[i] - mf);
  }
  const double r = sxy / std::sqrt(sxx * syy);
  std::printf(
      "old demo string after 182 days: mean R0 rise %.1f %%, mean fade %.1f %%, "
      "Pearson r %.3f\n",
      100 * mr, 100 * mf, r);
  EXPECT_GT(r, 0.3);
  EXPECT_LT(r, 0.995);
}

// LiFePO4 OCV hysteresis (Dreyer 2010, Roscher & Sauer 2011: the branches lie 10–30 mV apart):
// half charge reached from below rests ≈ 20 mV per cell above half charge reached from above, and
// a full cell rests near 3.40 V, not at the table's 3.59 V "just after charge".
TEST(SimLfp, RestVoltageDependsOnTheWayThere) {
  auto cfg = test::oneString(4);
  cfg.strings[0].chemistry = model::Chemistry::kLiFePO4;
  cfg.strings[0].module_type = model::ModuleType::kC44;
  cfg.strings[0].charger.float_v_per_cell = 3.40;
  cfg.strings[0].charger.current_limit_a = 20.0;
  double rest_v[2] = {};
  for (int from_below = 0; from_below < 2; ++from_below) {
    PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + kHourMs);
    const auto full = sim.blockTruth(0, 0);
    EXPECT_LT(full.ocv_v, 3.45);
    EXPECT_NEAR(full.ocv_hysteresis_v, 0.010, 1e-3);  // on the charge branch after float
    sim.setDischargeCurrent(0, 20.0);
    if (from_below == 1) {
      sim.advanceTo(sim.timeMs() + 4 * kHourMs);  // to ≈ 20 %
      sim.setDischargeCurrent(0, 0.0);
      sim.advanceTo(sim.timeMs() + 90 * kMinuteMs);  // recharge at 20 A to ≈ 50 %
      sim.setChargerEnabled(0, false);
    } else {
      sim.advanceTo(sim.timeMs() + 150 * kMinuteMs);  // to ≈ 50 %
      sim.setDischargeCurrent(0, 0.0);
      sim.setChargerEnabled(0, false);
    }
    sim.advanceTo(sim.timeMs() + 6 * kHourMs);
    const auto t = sim.blockTruth(0, 0);
    rest_v[from_below] = t.voltage_v;
    std::printf("LFP at SOC %.3f, %s: rests at %.4f V (hysteresis %+.1f mV)\n", t.soc,
                from_below == 1 ? "charged up to it" : "discharged down to it", t.voltage_v,
                1000 * t.ocv_hysteresis_v);
    EXPECT_NEAR(t.soc, 0.5, 0.08);
    EXPECT_NEAR(t.voltage_v, t.ocv_v, 0.002);
  }
  // Both near 50 %, where the mean curve is flat (1.4 mV per % SOC, §2.4): the branch decides.
  EXPECT_NEAR(rest_v[1] - rest_v[0], 0.020, 0.008);
}

// A string of 2 V vented (flooded, OPzS) cells: stratification builds over months on float, raises
// the rested OCV and costs capacity; an equalize charge mixes it within hours, a discharge stirs
// it; sealed (VRLA) cells never stratify.
TEST(SimStratification, BuildsOnFloatAndAnEqualizeChargeMixesIt) {
  auto cfg = test::oneString(6);
  cfg.strings[0].chemistry = model::Chemistry::kVented2V;
  cfg.strings[0].capacity_ah = 500;
  cfg.strings[0].module_type = model::ModuleType::kC44;
  cfg.strings[0].charger.float_v_per_cell = 2.23;
  cfg.strings[0].charger.current_limit_a = 50;
  PlantSim sim(cfg, kT0);
  EXPECT_EQ(sim.blockTruth(0, 0).stratification_v, 0.0);
  const double cap0 = sim.blockTruth(0, 0).capacity_ah;
  sim.advanceTo(kT0 + 120 * kDayMs);
  const auto floated = sim.blockTruth(0, 0);
  // 40 mV·(1 − e^(−120/90)) = 29.5 mV after 120 days of float.
  EXPECT_NEAR(floated.stratification_v, 0.040 * -std::expm1(-120.0 / 90.0), 0.003);
  EXPECT_LT(floated.capacity_ah, cap0 * (1.0 - 0.1 * 0.7 + 0.01));
  // Equalize: 2.40 V/cell for 12 h (gassing far above C/200 stirs the acid).
  auto charger = sim.chargerConfig(0);
  charger.float_v_per_cell = 2.40;
  sim.setChargerConfig(0, charger);
  sim.advanceTo(sim.timeMs() + 12 * kHourMs);
  const auto equalized = sim.blockTruth(0, 0);
  charger.float_v_per_cell = 2.23;
  sim.setChargerConfig(0, charger);
  std::printf(
      "vented 2 V: stratification %.1f mV after 120 d of float (capacity %.1f → %.1f Ah), "
      "%.2f mV after a 12-h equalize at 2.40 V/cell (gassing %.2f A)\n",
      1000 * floated.stratification_v, cap0, floated.capacity_ah, 1000 * equalized.stratification_v,
      equalized.gassing_current_a);
  EXPECT_LT(equalized.stratification_v, 0.1 * floated.stratification_v);
  // It builds again on float, and a discharge of 30 % of C stirs about 1 − e^(−1) of it away.
  sim.advanceTo(sim.timeMs() + 60 * kDayMs);
  const double rebuilt = sim.blockTruth(0, 0).stratification_v;
  EXPECT_GT(rebuilt, 0.010);
  sim.setDischargeCurrent(0, 50.0);
  sim.advanceTo(sim.timeMs() + 3 * kHourMs);  // 150 Ah = 30 % of C
  sim.setDischargeCurrent(0, 0.0);
  EXPECT_NEAR(sim.blockTruth(0, 0).stratification_v / rebuilt, std::exp(-1.0), 0.05);
  // A rested stratified cell reads high: its OCV holds the stratification.
  EXPECT_GT(floated.ocv_v, 2.08 - 0.02 + floated.stratification_v * 0.8);
  // Sealed cells do not stratify.
  PlantSim vrla(test::oneString(4), kT0);
  vrla.advanceTo(kT0 + 30 * kDayMs);
  EXPECT_EQ(vrla.blockTruth(0, 0).stratification_v, 0.0);
}

}  // namespace
}  // namespace equalis::sim
