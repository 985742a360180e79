// Ageing while running (§2.6, §6.3) and heat with neighbour conduction and thermal runaway
// (§1.6, §2.7) of the plant simulator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

constexpr DurationMs kYearMs = 365 * kDayMs + 6 * kHourMs;

// A single 12 V block on its own charger: the block is held at the charger voltage (the §1.6
// fixed-voltage case), no neighbours.
model::PlantConfig singleBlock(double ambient_c = 25.0, bool compensation = true) {
  auto cfg = test::oneString(1, ambient_c);
  cfg.strings[0].charger.temperature_compensation = compensation;
  return cfg;
}

// Simulated years of float until the block's grid-corrosion fade reaches `fade`, at
// `acceleration`× ageing (the design-life calibration; dry-out adds to it in blocks that lose
// more water than the nominal one).
double yearsToFade(PlantSim& sim, double fade, double acceleration, double max_years) {
  sim.setAgeingAcceleration(acceleration);
  const TimeMs t0 = sim.timeMs();
  for (int d = 1; d <= static_cast<int>(max_years * 365.25 / acceleration) + 1; ++d) {
    sim.advanceTo(t0 + d * kDayMs);
    if (sim.blockTruth(0, 0).corrosion_fade >= fade) {
      return acceleration * d / 365.25;
    }
  }
  return max_years;
}

// §6.4: 10-year design life at 25 °C (to 80 %, §3.5); §6.3 law dA/dt = I_gas/I_gas,ref ·
// 2^((T−25)/15) with the I0 feedback: a block floating at 2.27 V/cell and 25 °C loses ≈ 20 % in
// ≈ 10 years (divided by its own lognormal rate multiplier, §2.6). R0 and I0 follow §2.6/§6.3.
TEST(SimAgeing, DesignLifeAt25CelsiusAndParameterCoupling) {
  PlantSim sim(singleBlock(), kT0);
  const auto t0 = sim.blockTruth(0, 0);
  EXPECT_DOUBLE_EQ(t0.capacity_fade, 0.0);
  EXPECT_EQ(t0.ageing_dose, 0.0);
  const double years = yearsToFade(sim, 0.2, 20.0, 40.0);
  const auto t = sim.blockTruth(0, 0);
  const double m = t.ageing_rate_multiplier;
  std::printf(
      "single block, 2.27 V/cell, 25 °C: 20 %% fade after %.2f years (×%.3f rate "
      "multiplier → %.2f years for m = 1); dose A = %.2f, S = %.4f\n",
      years, m, years * m, t.ageing_dose, t.sulfation_dose);
  EXPECT_NEAR(years * m, 10.0, 1.5);
  // C = C0·(1 − Σ fades); R0 = Ri0·(1 + 1.25·F_c)·(1 + 5·x); I0 = I0_0·(1 + 4·F_c)·(1 + 5·x),
  // x the water loss beyond 10 %.
  std::printf("water lost %.1f %% (dry-out fade %.2f %%)\n", 100 * t.water_loss_fraction,
              100 * t.dry_out_fade);
  const double dry_x = std::clamp(t.water_loss_fraction - 0.10, 0.0, 0.3);
  EXPECT_NEAR(t.capacity_fade,
              t.corrosion_fade + t.sulfation_fade + t.softening_fade + t.dry_out_fade, 1e-12);
  EXPECT_NEAR(t.dry_out_fade, 2.0 * dry_x, 1e-12);
  EXPECT_NEAR(t.capacity_ah, t.initial_capacity_ah * (1.0 - t.capacity_fade), 1e-9);
  EXPECT_NEAR(t.ri_ref_ohm / t0.ri_ref_ohm, (1.0 + 1.25 * t.corrosion_fade) * (1.0 + 5.0 * dry_x),
              1e-9);
  EXPECT_NEAR(t.gas_i0_a / t0.gas_i0_a, (1.0 + 4.0 * t.corrosion_fade) * (1.0 + 5.0 * dry_x), 1e-9);
  // A floating block is never undercharged and never cycled; it loses water (≈ 0.8 %/year for
  // the nominal block, × its own multiplier).
  EXPECT_LT(t.sulfation_dose, 1e-3);
  EXPECT_EQ(t.softening_fade, 0.0);
  EXPECT_GT(t.water_loss_fraction, 0.03);
  EXPECT_LT(t.water_loss_fraction, 0.3);
}

// §2.6 / §6.4: float life halves per ≈ 8–10 K. With the charger's −3 mV/K/cell compensation (the
// normal installation) the dose rate I_gas·2^(ΔT/15) rises ×2 per ≈ 9.5 K.
TEST(SimAgeing, LifeHalvesPer8To10Kelvin) {
  double years[2] = {};
  for (int i = 0; i < 2; ++i) {
    PlantSim sim(singleBlock(i == 0 ? 25.0 : 35.0, true), kT0);
    years[i] = yearsToFade(sim, 0.2, 20.0, 40.0) * sim.blockTruth(0, 0).ageing_rate_multiplier;
  }
  const double halving_k = 10.0 * std::log(2.0) / std::log(years[0] / years[1]);
  std::printf("time to 20 %% fade: 25 °C %.2f y, 35 °C %.2f y → life halves per %.1f K\n", years[0],
              years[1], halving_k);
  EXPECT_GE(halving_k, 8.0);
  EXPECT_LE(halving_k, 10.5);
}

// §6.3 sulfation: dS/dt = s0·max(0, 0.97 − SOC). A block left at about half charge for a month
// loses a few % of its capacity; a full block on float loses nothing to sulfation.
TEST(SimAgeing, SulfationWhileLeftDischarged) {
  PlantSim sim(test::oneString(4), kT0);
  sim.setDischargeCurrent(0, 10.0);
  sim.advanceTo(kT0 + 5 * kHourMs);  // ≈ 50 Ah out of 100
  sim.setDischargeCurrent(0, 0.0);
  sim.setChargerEnabled(0, false);
  const double fade0 = sim.blockTruth(0, 0).capacity_fade;
  sim.advanceTo(kT0 + 30 * kDayMs + 5 * kHourMs);
  const auto t = sim.blockTruth(0, 0);
  std::printf("30 days at SOC ≈ %.2f: sulfation dose %.3f, fade %.2f %% → %.2f %%\n", t.soc,
              t.sulfation_dose, 100 * fade0, 100 * t.capacity_fade);
  EXPECT_GT(t.capacity_fade - fade0, 0.01);
  EXPECT_LT(t.capacity_fade - fade0, 0.05);
}

// The static age_years scatter is the initial state: the 5-year-old demo string starts with
// ≈ 10 % fade (2 %/year × lognormal multiplier), the new one with none, and both keep ageing.
TEST(SimAgeing, StaticAgeIsInitialStateAndAgeingContinues) {
  PlantSim sim(test::quietDemo(), kT0);
  double fade_old = 0;
  for (std::size_t b = 0; b < 32; ++b) {
    const auto t = sim.blockTruth(0, b);
    fade_old += t.corrosion_fade / 32;
    EXPECT_NEAR(t.corrosion_fade, 5 * 0.02 * t.ageing_rate_multiplier, 1e-9);
    EXPECT_GT(t.water_loss_fraction, 0.0);  // five years of float took water
    EXPECT_EQ(t.sulfation_fade + t.softening_fade, 0.0);
    EXPECT_EQ(sim.blockTruth(1, b).capacity_fade, 0.0);
  }
  EXPECT_NEAR(fade_old, 0.10, 0.02);
  const double dose0 = sim.blockTruth(1, 0).ageing_dose;
  sim.advanceTo(kT0 + 30 * kDayMs);
  EXPECT_GT(sim.blockTruth(1, 0).ageing_dose, dose0);
  EXPECT_GT(sim.blockTruth(1, 0).capacity_fade, 0.0);
  EXPECT_GT(sim.blockTruth(0, 0).capacity_fade,
            5 * 0.02 * sim.blockTruth(0, 0).ageing_rate_multiplier);
}

// ----------------------------------------------------------------------------- heat

// §2.7: conduction between neighbours (G_nb ≈ 0.3 W/K). A heat source in block 4 of 8 (a 33 Ω
// internal short, ≈ 5 W) warms its neighbours 3 and 5 more than blocks further away.
TEST(SimThermal, NeighbourConduction) {
  PlantSim sim(test::oneString(8), kT0);
  ASSERT_TRUE(sim.injectFault(0, 3, makeFault(FaultKind::kInternalShort)).ok());
  sim.advanceTo(kT0 + 24 * kHourMs);
  std::vector<double> dt_k(8);
  for (std::size_t b = 0; b < 8; ++b) {
    dt_k[b] = sim.blockTruth(0, b).temperature_c - 25.0;
  }
  std::printf(
      "33 Ω short in block 4: ΔT per block %.2f %.2f %.2f [%.2f] %.2f %.2f %.2f %.2f K, "
      "heat %.2f W\n",
      dt_k[0], dt_k[1], dt_k[2], dt_k[3], dt_k[4], dt_k[5], dt_k[6], dt_k[7],
      sim.blockTruth(0, 3).heat_w);
  EXPECT_GT(dt_k[3], 2.0);
  EXPECT_GT(dt_k[2], dt_k[0] + 0.3);
  EXPECT_GT(dt_k[4], dt_k[7] + 0.3);
  EXPECT_GT(dt_k[2], dt_k[1]);
  EXPECT_GT(dt_k[1], dt_k[0]);
}

struct RunawayTrace {
  std::vector<double> temperature_c;  // per 6 h
  std::vector<double> current_a;
  bool vented = false;
};

// §1.6: a block at a fixed float voltage with I0 ×10, compensation off, for `days`.
RunawayTrace floatHighI0Block(bool blocked_cooling, int days) {
  PlantSim sim(singleBlock(25.0, false), kT0);
  EXPECT_TRUE(sim.injectFault(0, 0, makeFault(FaultKind::kHighI0)).ok());
  if (blocked_cooling) {
    EXPECT_TRUE(sim.injectFault(0, 0, makeFault(FaultKind::kBlockedCooling)).ok());
  }
  RunawayTrace tr;
  for (int q = 1; q <= 4 * days; ++q) {
    sim.advanceTo(kT0 + q * 6 * kHourMs);
    tr.temperature_c.push_back(sim.blockTruth(0, 0).temperature_c);
    tr.current_a.push_back(sim.stringTruth(0).current_a);
  }
  tr.vented = sim.blockTruth(0, 0).vented;
  return tr;
}

// §1.6 [D]: at fixed voltage P_gen = V·I0·e^(c_T·ΔT) has no stable point once
// P_gen·c_T·e > G_th (tangent form of P_gen > G_th/c_T). A new 12 V block with I0 ×10 at
// 2.27 V/cell makes ≈ 3.2 W: below the limit with G_th = 1 W/K (6.1 W) it settles a few K above
// ambient, with blocked cooling (0.3 W/K → 1.8 W) temperature and float current keep rising until
// the block vents at 90 °C.
TEST(SimThermal, RunawayEmergesWithBlockedCoolingOnly) {
  const RunawayTrace normal = floatHighI0Block(false, 10);
  const RunawayTrace blocked = floatHighI0Block(true, 10);
  std::printf(
      "I0 ×10, 13.62 V, no compensation: normal cooling T %.1f → %.1f → %.1f °C, I %.0f → "
      "%.0f mA; blocked cooling T %.1f → %.1f → %.1f °C, I %.0f → %.0f mA, vented %d\n",
      normal.temperature_c[3], normal.temperature_c[19], normal.temperature_c.back(),
      1000 * normal.current_a[3], 1000 * normal.current_a.back(), blocked.temperature_c[3],
      blocked.temperature_c[19], blocked.temperature_c.back(), 1000 * blocked.current_a[3],
      1000 * blocked.current_a.back(), blocked.vented);
  // Normal cooling settles: less than 0.1 K change over the last 2 days, < 15 K above ambient.
  const auto& tn = normal.temperature_c;
  EXPECT_LT(std::fabs(tn.back() - tn[tn.size() - 9]), 0.1);
  EXPECT_LT(tn.back(), 40.0);
  EXPECT_FALSE(normal.vented);
  // Blocked cooling runs away: temperature and float current rise every 6 h until venting.
  const auto& tb = blocked.temperature_c;
  std::size_t i = 1;
  for (; i < tb.size() && tb[i] < 89.9; ++i) {
    EXPECT_GT(tb[i], tb[i - 1]) << i;
    EXPECT_GT(blocked.current_a[i], blocked.current_a[i - 1]) << i;
  }
  EXPECT_TRUE(blocked.vented);
  EXPECT_LE(tb.back(), 90.0);  // capped at the venting temperature
  EXPECT_GT(blocked.current_a.back(), 5 * normal.current_a.back());
}

// §1.3: in a long series string the same block cannot run away on its own gassing: the string
// current is set by the other 31 blocks and the hot block floats lower instead (its voltage drop
// goes to the others). Blocked cooling + I0 ×10 then only warms it by about a kelvin.
TEST(SimThermal, SingleBlockInLongStringIsCurrentLimited) {
  auto cfg = test::oneString(32);
  cfg.strings[0].charger.temperature_compensation = false;
  PlantSim sim(cfg, kT0);
  ASSERT_TRUE(sim.injectFault(0, 6, makeFault(FaultKind::kHighI0)).ok());
  ASSERT_TRUE(sim.injectFault(0, 6, makeFault(FaultKind::kBlockedCooling)).ok());
  const double v_before = sim.blockTruth(0, 6).voltage_v;
  sim.advanceTo(kT0 + 5 * kDayMs);
  const auto t = sim.blockTruth(0, 6);
  std::printf(
      "I0 ×10 + blocked cooling in a 32-block string: %.3f → %.3f V, ΔT %.2f K (block 9: "
      "%.2f K), string current %.1f mA\n",
      v_before, t.voltage_v, t.temperature_c - 25.0, sim.blockTruth(0, 8).temperature_c - 25.0,
      1000 * sim.stringTruth(0).current_a);
  EXPECT_LT(t.voltage_v, v_before - 0.5);
  EXPECT_LT(t.temperature_c - 25.0, 3.0);
  EXPECT_FALSE(t.vented);
}

}  // namespace
}  // namespace equalis::sim
