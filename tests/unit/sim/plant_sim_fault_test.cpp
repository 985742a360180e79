// Fault injection (battery-science.md §6.2, §6.4 "Fault injections"): each fault's physical or
// measurement signature, clearing, block replacement and the API's error values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "sim/fault.hpp"
#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

// Float-voltage drop of a block whose I0 rises ×r at the same gassing current, with the model's
// Butler–Volmer branch I0·[e^(c(V−U0)) − e^(c(OCV−U0))] per cell (§1.2, chemistry_params.hpp):
// smaller than the pure-Tafel (6/c_u)·ln r of §1.3 because the block cannot fall below its OCV.
double butlerVolmerDropV(double v_block, double ocv_block, double r) {
  const double x0 = std::exp(11.0 * (v_block / 6.0 - 2.23));
  const double y = std::exp(11.0 * (ocv_block / 6.0 - 2.23));
  return 6.0 / 11.0 * std::log(x0 / (y + (x0 - y) / r));
}

// §6.4 dry-out: R0 ×2 "over weeks", I0 ×5 — a 1 − e^(−t/τ) ramp. With I0 ×5 the block floats
// lower (§1.3; see butlerVolmerDropV).
TEST(SimFault, DryOutRampsR0AndI0) {
  PlantSim sim(test::oneString(8), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const auto before = sim.blockTruth(0, 2);
  Fault f = makeFault(FaultKind::kDryOut);
  f.time_constant_ms = 2 * kDayMs;
  ASSERT_TRUE(sim.injectFault(0, 2, f).ok());
  EXPECT_TRUE(sim.faultActive(0, 2, FaultKind::kDryOut));
  sim.advanceTo(kT0 + kHourMs + 2 * kDayMs);  // t = τ: 63 % of the way
  const auto at_tau = sim.blockTruth(0, 2);
  const double r_tau = at_tau.ri_ohm / before.ri_ohm;
  sim.advanceTo(kT0 + kHourMs + 14 * kDayMs);  // 7 τ
  const auto after = sim.blockTruth(0, 2);
  std::printf("dry-out (τ = 2 d): R0 ×%.3f at τ, ×%.3f at 7τ; I0 ×%.2f; float %.3f → %.3f V\n",
              r_tau, after.ri_ohm / before.ri_ohm, after.gas_i0_a / before.gas_i0_a,
              before.voltage_v, after.voltage_v);
  // Ageing moves R0 and I0 a little too (≈ 0.1 % in two weeks).
  EXPECT_NEAR(r_tau, 1.0 + (1.0 - std::exp(-1.0)), 0.01);
  EXPECT_NEAR(after.ri_ohm / before.ri_ohm, 2.0, 0.01);
  EXPECT_NEAR(after.gas_i0_a / before.gas_i0_a, 5.0, 0.05);
  EXPECT_NEAR(before.voltage_v - after.voltage_v,
              butlerVolmerDropV(before.voltage_v, before.ocv_v, 5.0), 0.1);
  ASSERT_TRUE(sim.clearFault(0, 2, FaultKind::kDryOut).ok());
  EXPECT_FALSE(sim.faultActive(0, 2, FaultKind::kDryOut));
  EXPECT_NEAR(sim.blockTruth(0, 2).ri_ohm / before.ri_ohm, 1.0, 0.01);
}

// §6.4 internal short (10–100 Ω leak): the block drains through the leak (V/R ≈ 0.26 A at 50 Ω)
// faster than the float current can refill it, so its SOC and voltage fall while the other
// blocks take over its share of the charger voltage; the leak's V²/R heats it.
TEST(SimFault, InternalShortDrainsBlock) {
  PlantSim sim(test::oneString(8), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const auto before = sim.blockTruth(0, 5);
  const double others_before = (sim.stringTruth(0).voltage_v - before.voltage_v) / 7;
  Fault f = makeFault(FaultKind::kInternalShort);
  f.leak_ohm = 50.0;
  ASSERT_TRUE(sim.injectFault(0, 5, f).ok());
  sim.advanceTo(kT0 + kHourMs + 2 * kDayMs);
  const auto after = sim.blockTruth(0, 5);
  const double others_after = (sim.stringTruth(0).voltage_v - after.voltage_v) / 7;
  std::printf(
      "50 Ω short: leak %.0f mA, SOC %.3f → %.3f, V %.3f → %.3f, others +%.0f mV, heat "
      "%.2f W, ΔT %.2f K\n",
      1000 * after.leak_current_a, before.soc, after.soc, before.voltage_v, after.voltage_v,
      1000 * (others_after - others_before), after.heat_w, after.temperature_c - 25.0);
  EXPECT_NEAR(after.leak_current_a, after.voltage_v / 50.0, 1e-3);
  EXPECT_LT(after.soc, before.soc - 0.08);  // ≈ 0.25 A × 48 h ≈ 12 Ah
  EXPECT_LT(after.voltage_v, before.voltage_v - 0.5);
  EXPECT_GT(others_after, others_before + 0.05);
  EXPECT_NEAR(after.heat_w, after.voltage_v * after.leak_current_a, 0.2);
  EXPECT_LT(after.cell_current_a, 0.0);  // the cells are discharged through the short
  ASSERT_TRUE(sim.clearFault(0, 5, FaultKind::kInternalShort).ok());
  sim.advanceTo(sim.timeMs() + kMinuteMs);
  EXPECT_EQ(sim.blockTruth(0, 5).leak_current_a, 0.0);
}

// §6.4 loose connector (+1–5 mΩ in series): an extra voltage drop ∝ current and I²R heat in
// discharge; the module's Ri pulse sees it. Compared with the same plant (same seed) unfaulted.
TEST(SimFault, LooseConnectorDropAndHeatInDischarge) {
  PlantSim ref(test::oneString(8), kT0);
  PlantSim sim(test::oneString(8), kT0);
  Fault f = makeFault(FaultKind::kLooseConnector);
  f.series_ohm = 5e-3;
  ASSERT_TRUE(sim.injectFault(0, 4, f).ok());
  EXPECT_NEAR(sim.blockTruth(0, 4).ri_ohm - ref.blockTruth(0, 4).ri_ohm, 5e-3, 1e-12);
  EXPECT_NEAR(sim.blockTruth(0, 4).connector_ohm, 5e-3, 1e-15);
  // Float (tens of mA): invisible in the voltage.
  sim.advanceTo(kT0 + kHourMs);
  ref.advanceTo(kT0 + kHourMs);
  EXPECT_NEAR(sim.blockTruth(0, 4).voltage_v, ref.blockTruth(0, 4).voltage_v, 1e-3);
  for (auto* p : {&sim, &ref}) {
    p->setDischargeCurrent(0, 50.0);
    p->advanceTo(kT0 + kHourMs + 20 * kMinuteMs);
  }
  const auto a = sim.blockTruth(0, 4);
  const auto b = ref.blockTruth(0, 4);
  std::printf(
      "loose connector 5 mΩ at 50 A: ΔV %.1f mV (I·R = 250 mV), heat %.2f vs %.2f W, "
      "T %.2f vs %.2f °C\n",
      1000 * (b.voltage_v - a.voltage_v), a.heat_w, b.heat_w, a.temperature_c, b.temperature_c);
  EXPECT_NEAR(b.voltage_v - a.voltage_v, 50.0 * 5e-3, 0.01);
  EXPECT_NEAR(a.heat_w - b.heat_w, 50.0 * 50.0 * 5e-3, 0.5);
  EXPECT_GT(a.temperature_c, b.temperature_c + 0.3);
}

// §6.4 blocked cooling (G_th ×0.3): the same heat (a 33 Ω short) warms the block ≈ 2–3× more.
TEST(SimFault, BlockedCoolingRaisesTemperature) {
  double rise[2] = {};
  for (int i = 0; i < 2; ++i) {
    PlantSim sim(test::oneString(8), kT0);
    ASSERT_TRUE(sim.injectFault(0, 3, makeFault(FaultKind::kInternalShort)).ok());
    if (i == 1) {
      ASSERT_TRUE(sim.injectFault(0, 3, makeFault(FaultKind::kBlockedCooling)).ok());
      EXPECT_NEAR(sim.blockTruth(0, 3).thermal_conductance_w_per_k, 0.3, 1e-12);
    }
    sim.advanceTo(kT0 + 3 * kDayMs);
    rise[i] = sim.blockTruth(0, 3).temperature_c - 25.0;
  }
  std::printf("33 Ω short: ΔT %.2f K normal cooling, %.2f K blocked\n", rise[0], rise[1]);
  EXPECT_GT(rise[1], 1.8 * rise[0]);
}

// §6.4 I0 ×10 (runaway recipe): in a string the block floats lower (§1.3: (6/c_u)·ln 10 = 1.26 V
// for the pure Tafel law; less with the Butler–Volmer branch near the OCV).
TEST(SimFault, HighI0LowersFloatVoltage) {
  PlantSim sim(test::oneString(32), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const auto t0 = sim.blockTruth(0, 10);
  ASSERT_TRUE(sim.injectFault(0, 10, makeFault(FaultKind::kHighI0)).ok());
  sim.advanceTo(kT0 + 13 * kHourMs);
  const double dv = t0.voltage_v - sim.blockTruth(0, 10).voltage_v;
  const double predicted = butlerVolmerDropV(t0.voltage_v, t0.ocv_v, 10.0);
  std::printf("I0 ×10: float voltage %.3f V −%.3f V (Butler–Volmer %.3f V, Tafel %.3f V)\n",
              t0.voltage_v, dv, predicted, 6.0 / 11.0 * std::log(10.0));
  EXPECT_NEAR(dv, predicted, 0.1);
  EXPECT_GT(dv, 0.3);
}

// §6.4 charger fault V_ch +5 %: the set-point rises 5 %, the float current ×≈ e^(11·0.11) ≈ 3.5.
TEST(SimFault, ChargerOvervoltage) {
  auto cfg = test::oneString(32);
  cfg.strings[0].charger.temperature_compensation = false;
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 12 * kHourMs);
  const auto st0 = sim.stringTruth(0);
  ASSERT_TRUE(sim.injectFault(0, 0, makeFault(FaultKind::kChargerOvervoltage)).ok());
  EXPECT_TRUE(sim.faultActive(0, 17, FaultKind::kChargerOvervoltage));  // string level
  sim.advanceTo(kT0 + 36 * kHourMs);
  const auto st = sim.stringTruth(0);
  std::printf("charger +5 %%: %.1f → %.1f V, float %.1f → %.1f mA\n", st0.charger_setpoint_v,
              st.charger_setpoint_v, 1000 * st0.current_a, 1000 * st.current_a);
  EXPECT_NEAR(st.charger_setpoint_v, 1.05 * 2.27 * 192, 1e-9);
  EXPECT_NEAR(st.voltage_v, st.charger_setpoint_v, 0.003);
  EXPECT_GT(st.current_a / st0.current_a, 2.5);
  ASSERT_TRUE(sim.clearFault(0, 0, FaultKind::kChargerOvervoltage).ok());
  sim.advanceTo(sim.timeMs() + kMinuteMs);
  EXPECT_NEAR(sim.stringTruth(0).charger_setpoint_v, 2.27 * 192, 1e-9);
}

// Module offset jump: the reading moves by the jump, the truth does not; clearing restores.
TEST(SimFault, ModuleOffsetJump) {
  PlantSim sim(test::oneString(4), kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double offset0 = sim.moduleOffsetV(0, 1);
  Fault f = makeFault(FaultKind::kModuleOffsetJump);
  f.offset_jump_v = 0.08;
  ASSERT_TRUE(sim.injectFault(0, 1, f).ok());
  EXPECT_NEAR(sim.moduleOffsetV(0, 1), offset0 + 0.08, 1e-12);
  double sum = 0;
  for (int i = 0; i < 200; ++i) {
    sum += sim.measureModule(0, 1).voltage_v;
  }
  const double v = sim.blockTruth(0, 1).voltage_v;
  const double expected = (1.0 + sim.moduleGainError(0, 1)) * v + offset0 + 0.08;
  EXPECT_NEAR(sum / 200, expected, 0.0005);
  ASSERT_TRUE(sim.clearFault(0, 1, FaultKind::kModuleOffsetJump).ok());
  EXPECT_EQ(sim.moduleOffsetV(0, 1), offset0);
}

// Stuck sensor: the module keeps reporting its first reading after the fault, while the truth
// changes (a discharge); after clearing it follows the truth again.
TEST(SimFault, StuckSensorFreezesReadings) {
  PlantSim sim(test::oneString(4), kT0);
  sim.advanceTo(kT0 + kHourMs);
  ASSERT_TRUE(sim.injectFault(0, 2, makeFault(FaultKind::kStuckSensor)).ok());
  const auto first = sim.measureModule(0, 2);
  const double truth0 = sim.blockTruth(0, 2).voltage_v;
  sim.setDischargeCurrent(0, 30.0);
  for (int i = 1; i <= 30; ++i) {
    sim.advanceTo(kT0 + kHourMs + i * kMinuteMs);
    const auto m = sim.measureModule(0, 2);
    ASSERT_EQ(m.voltage_v, first.voltage_v);
    ASSERT_EQ(m.temperature_c, first.temperature_c);
    ASSERT_EQ(m.ri_ohm, first.ri_ohm);
  }
  const double truth = sim.blockTruth(0, 2).voltage_v;
  std::printf("stuck sensor: reads %.3f V while the truth went %.3f → %.3f V\n", first.voltage_v,
              truth0, truth);
  EXPECT_LT(truth, truth0 - 0.5);
  ASSERT_TRUE(sim.clearFault(0, 2, FaultKind::kStuckSensor).ok());
  EXPECT_NEAR(sim.measureModule(0, 2).voltage_v, truth, 0.06);
}

// Comm loss is the same flag as setModuleCommFault; clearing it is the recovery.
TEST(SimFault, ModuleCommLossAndRecovery) {
  PlantSim sim(test::oneString(4), kT0);
  ASSERT_TRUE(sim.injectFault(0, 3, makeFault(FaultKind::kModuleCommLoss)).ok());
  EXPECT_TRUE(sim.moduleCommFault(0, 3));
  EXPECT_TRUE(sim.faultActive(0, 3, FaultKind::kModuleCommLoss));
  ASSERT_TRUE(sim.clearFault(0, 3, FaultKind::kModuleCommLoss).ok());
  EXPECT_FALSE(sim.moduleCommFault(0, 3));
  sim.setModuleCommFault(0, 3, true);
  EXPECT_TRUE(sim.faultActive(0, 3, FaultKind::kModuleCommLoss));
}

// A replaced block has new-block parameters (no fade, new-string I0 scatter), starts rested at the
// given SOC and ambient temperature; block faults are gone, blocked cooling (the place) stays.
TEST(SimFault, ReplaceBlockResetsToNewBlock) {
  PlantSim sim(test::quietDemo(), kT0);
  sim.advanceTo(kT0 + kHourMs);
  ASSERT_TRUE(sim.injectFault(0, 4, makeFault(FaultKind::kDryOut)).ok());
  ASSERT_TRUE(sim.injectFault(0, 4, makeFault(FaultKind::kBlockedCooling)).ok());
  const auto old_block = sim.blockTruth(0, 4);
  ASSERT_GT(old_block.capacity_fade, 0.02);
  ASSERT_TRUE(sim.replaceBlock(0, 4, 1.0).ok());
  const auto t = sim.blockTruth(0, 4);
  EXPECT_EQ(t.capacity_fade, 0.0);
  EXPECT_EQ(t.ageing_dose, 0.0);
  EXPECT_NEAR(t.soc, 1.0, 1e-12);
  EXPECT_FALSE(sim.faultActive(0, 4, FaultKind::kDryOut));
  EXPECT_TRUE(sim.faultActive(0, 4, FaultKind::kBlockedCooling));
  EXPECT_NEAR(t.initial_capacity_ah, 100.0, 8.0);  // C0 scatter σ = 2 %
  sim.advanceTo(kT0 + 13 * kHourMs);
  EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kFloat);
  EXPECT_GT(sim.blockTruth(0, 4).soc, 0.999);
  // Shelf SOC by default.
  ASSERT_TRUE(sim.replaceBlock(0, 5).ok());
  EXPECT_NEAR(sim.blockTruth(0, 5).soc, PlantSim::kNewBlockSoc, 1e-12);
}

TEST(SimFault, ErrorsAreValuesNotExceptions) {
  PlantSim sim(test::oneString(4), kT0);
  const Status bad_string = sim.injectFault(1, 0, makeFault(FaultKind::kDryOut));
  ASSERT_FALSE(bad_string.ok());
  EXPECT_EQ(bad_string.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(bad_string.error().message.find("string index 1"), std::string::npos);
  EXPECT_FALSE(sim.injectFault(0, 4, makeFault(FaultKind::kStuckSensor)).ok());
  EXPECT_TRUE(sim.injectFault(0, 99, makeFault(FaultKind::kChargerOvervoltage)).ok());
  Fault f = makeFault(FaultKind::kBlockedCooling);
  f.cooling_factor = 0.0;
  EXPECT_EQ(sim.injectFault(0, 0, f).error().code, ErrorCode::kOutOfRange);
  f = makeFault(FaultKind::kInternalShort);
  f.leak_ohm = std::nan("");
  EXPECT_FALSE(sim.injectFault(0, 0, f).ok());
  EXPECT_FALSE(sim.clearFault(0, 7, FaultKind::kDryOut).ok());
  EXPECT_FALSE(sim.replaceBlock(0, 0, 1.5).ok());
  EXPECT_FALSE(sim.replaceBlock(3, 0).ok());
  // Names round-trip.
  for (const FaultKind k : allFaultKinds()) {
    EXPECT_EQ(parseFaultKind(faultKindName(k)), k);
    EXPECT_TRUE(validateFault(makeFault(k)).ok()) << faultKindName(k);
  }
  EXPECT_FALSE(parseFaultKind("dryout").has_value());
}

// Faults and replacements keep the simulator deterministic.
TEST(SimFault, DeterministicWithFaults) {
  auto run = [] {
    PlantSim sim(test::quietDemo(), kT0);
    EXPECT_TRUE(sim.injectFault(0, 3, makeFault(FaultKind::kInternalShort)).ok());
    EXPECT_TRUE(sim.injectFault(1, 8, makeFault(FaultKind::kDryOut)).ok());
    sim.advanceTo(kT0 + 6 * kHourMs);
    EXPECT_TRUE(sim.replaceBlock(0, 9).ok());
    sim.startOutage(20000.0, 10 * kMinuteMs);
    sim.advanceTo(kT0 + 12 * kHourMs);
    return std::make_pair(sim.blockTruth(0, 3).voltage_v, sim.blockTruth(0, 9).capacity_ah);
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace equalis::sim
