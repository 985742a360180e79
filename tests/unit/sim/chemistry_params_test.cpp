// Model-law checks of the simulator parameters against battery-science.md (§1.1, §1.2, §2.4, §2.5).
#include "sim/chemistry_params.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "sim/rng.hpp"

namespace equalis::sim {
namespace {

const ChemistryParams& vrla() {
  return chemistryParams(model::Chemistry::kVrla12V);
}

// §1.2 [D]: c_u = 11 /V per cell → ×10 per 209 mV per cell ("×10 per 0.2 V", Kunze).
TEST(Gassing, TafelTenfoldPer209MillivoltsPerCell) {
  const double i1 = tafelGassingCurrentA(vrla(), 100.0, 2.27, 25.0);
  const double i2 = tafelGassingCurrentA(vrla(), 100.0, 2.27 + std::log(10.0) / 11.0, 25.0);
  EXPECT_NEAR(i2 / i1, 10.0, 1e-9);
  EXPECT_NEAR(std::log(10.0) / 11.0, 0.209, 0.001);
  // ×10 per 0.21 V within 2 %.
  EXPECT_NEAR(tafelGassingCurrentA(vrla(), 100.0, 2.48, 25.0) / i1, 10.0, 0.2);
}

// §1.2 [D]: c_T = 0.06 /K → doubling every 11.55 K.
TEST(Gassing, TafelDoublesPer11p6Kelvin) {
  const double i1 = tafelGassingCurrentA(vrla(), 100.0, 2.27, 25.0);
  const double i2 = tafelGassingCurrentA(vrla(), 100.0, 2.27, 25.0 + 11.6);
  EXPECT_NEAR(i2 / i1, 2.0, 0.02);
}

// §1.2 [D] table (I_gas0 = 10 mA/100 Ah): 10 mA at 2.23, 12.5 at 2.25, 15.5 at 2.27, 21.6 at
// 2.30, 37 at 2.35 V/cell. The simulator uses I0 = 15 mA (middle of §6.4's 10–20 mA): ×1.5.
TEST(Gassing, FloatCurrentTableOfSection1p2) {
  const double table_v[] = {2.23, 2.25, 2.27, 2.30, 2.35};
  const double table_ma[] = {10.0, 12.5, 15.5, 21.6, 37.0};
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(tafelGassingCurrentA(vrla(), 100.0, table_v[i], 25.0) * 1000.0, 1.5 * table_ma[i],
                0.03 * 1.5 * table_ma[i])
        << table_v[i];
  }
  // Scales with C_N/100 Ah.
  EXPECT_NEAR(tafelGassingCurrentA(vrla(), 1000.0, 2.23, 25.0), 0.150, 1e-12);
}

// The branch used in the block model is zero at the OCV and approaches the Tafel law well above it.
TEST(Gassing, ButlerVolmerBranchZeroAtOcvTafelAbove) {
  const double ocv_cell = ocvBlockV(vrla(), 1.0, 25.0) / 6.0;
  EXPECT_EQ(gassingCurrentA(vrla(), 100.0, ocv_cell, ocv_cell, 25.0), 0.0);
  EXPECT_EQ(gassingCurrentA(vrla(), 100.0, ocv_cell - 0.1, ocv_cell, 25.0), 0.0);
  const double bv = gassingCurrentA(vrla(), 100.0, 2.50, ocv_cell, 25.0);
  const double tafel = tafelGassingCurrentA(vrla(), 100.0, 2.50, 25.0);
  EXPECT_NEAR(bv / tafel, 1.0, 0.03);
  // LFP: no gassing branch (§6.4 leakage only).
  EXPECT_EQ(tafelGassingCurrentA(chemistryParams(model::Chemistry::kLiFePO4), 100.0, 3.6, 25.0),
            0.0);
}

// §2.5 Leoch LP12-100: capacity 86 % at 0 °C, 100 % at 25 °C, 103 % at 40 °C.
TEST(Capacity, TemperatureFactor) {
  EXPECT_DOUBLE_EQ(capacityTemperatureFactor(model::Chemistry::kVrla12V, 0.0), 0.86);
  EXPECT_DOUBLE_EQ(capacityTemperatureFactor(model::Chemistry::kVrla12V, 25.0), 1.00);
  EXPECT_DOUBLE_EQ(capacityTemperatureFactor(model::Chemistry::kVrla12V, 40.0), 1.03);
  EXPECT_LT(capacityTemperatureFactor(model::Chemistry::kVrla12V, -10.0), 0.86);
  EXPECT_GT(capacityTemperatureFactor(model::Chemistry::kVrla12V, -10.0), 0.3);
}

// Jackey C(I) = Kc/(1 + (Kc − 1)·(I/I*)^δ) with Kc = 1.2, δ = 0.60, I* = C/10: the available
// capacity (the delivered one, to an end voltage, is what DischargeTables.* replays against the
// manufacturers' tables). C10 at I*, Kc at zero rate, falling with the rate; at 1C the available
// capacity stays above the 65 % that the Leoch block delivers to 1.60 V/cell (§2.5).
TEST(Capacity, JackeyRateFactor) {
  const auto& p = vrla();
  EXPECT_NEAR(capacityRateFactor(p, 10.0, 100.0), 1.000, 1e-12);
  EXPECT_GT(capacityRateFactor(p, 5.2, 100.0), 1.0);
  EXPECT_LT(capacityRateFactor(p, 17.6, 100.0), 1.0);
  EXPECT_LT(capacityRateFactor(p, 65.1, 100.0), capacityRateFactor(p, 17.6, 100.0));
  EXPECT_GT(capacityRateFactor(p, 65.1, 100.0), 0.651);
  EXPECT_NEAR(capacityRateFactor(p, 0.0, 100.0), 1.2, 1e-12);  // Kc at zero rate
}

// Lead-acid OCV 11.90 → 12.85 V with the §2.4 shape (0.17 / 0.35 / 0.56 of 0.76 V at 25 / 50 /
// 75 %), + 0.2 mV/K/cell (§6.3); LFP A123 table (§2.4).
TEST(Ocv, Tables) {
  EXPECT_DOUBLE_EQ(ocvBlockV(vrla(), 0.0, 25.0), 11.90);
  EXPECT_DOUBLE_EQ(ocvBlockV(vrla(), 1.0, 25.0), 12.85);
  EXPECT_NEAR(ocvBlockV(vrla(), 0.5, 25.0), 11.90 + 0.95 * 0.35 / 0.76, 1e-12);
  EXPECT_NEAR(ocvBlockV(vrla(), 0.25, 25.0), 11.90 + 0.95 * 0.17 / 0.76, 1e-12);
  // Steeper near full than near empty (the table's 0.20 V vs 0.17 V per quarter).
  EXPECT_GT(ocvBlockV(vrla(), 1.0, 25.0) - ocvBlockV(vrla(), 0.75, 25.0),
            ocvBlockV(vrla(), 0.25, 25.0) - ocvBlockV(vrla(), 0.0, 25.0));
  EXPECT_NEAR(ocvBlockV(vrla(), 1.0, 35.0) - ocvBlockV(vrla(), 1.0, 25.0), 6 * 0.2e-3 * 10, 1e-12);
  const auto& lfp = chemistryParams(model::Chemistry::kLiFePO4);
  // The rest OCV at 100 % is 3.40 V, not the table's 3.59 V "just after charge".
  EXPECT_DOUBLE_EQ(ocvBlockV(lfp, 1.0, 25.0), 3.40);
  EXPECT_NEAR(ocvBlockV(lfp, 0.485, 25.0), 3.269, 1e-12);
  // Knee: 3.39 V/cell (a 3.40 V charger less the charge branch's 10 mV) lies between 95.7 %
  // (3.32 V) and 100 % (3.40 V).
  const double soc_339 = socForOcv(lfp, 3.39);
  EXPECT_GT(soc_339, 0.957);
  EXPECT_LT(soc_339, 1.0);
  const auto& nicd = chemistryParams(model::Chemistry::kNiCd);
  EXPECT_DOUBLE_EQ(ocvBlockV(nicd, 1.0, 25.0),
                   model::chemistryInfo(model::Chemistry::kNiCd).ocv_full_v);
  EXPECT_DOUBLE_EQ(socForOcv(vrla(), 13.62), 1.0);
}

// §1.1: AGM 3 %/month at 20 °C, doubling per 10 K.
TEST(SelfDischarge, ThreePercentPerMonthAt20C) {
  const double i_a = selfDischargeCurrentA(vrla(), 100.0, 20.0);
  EXPECT_NEAR(i_a * 30 * 24 / 100.0, 0.03, 1e-12);
  EXPECT_NEAR(selfDischargeCurrentA(vrla(), 100.0, 30.0) / i_a, 2.0, 1e-12);
}

TEST(Rng, DeterministicAndStreamsIndependent) {
  Rng a(42);
  Rng b(42);
  Rng c(43);
  Rng d(42, 1);
  bool differs_seed = false;
  bool differs_stream = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs_seed |= x != c.next();
    differs_stream |= x != d.next();
  }
  EXPECT_TRUE(differs_seed);
  EXPECT_TRUE(differs_stream);
}

TEST(Rng, MomentsOfUniformAndNormal) {
  Rng r(7);
  constexpr int kN = 200000;
  double su = 0;
  double sn = 0;
  double sn2 = 0;
  for (int i = 0; i < kN; ++i) {
    const double u = r.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / kN, 0.5, 0.005);
  EXPECT_NEAR(sn / kN, 0.0, 0.01);
  EXPECT_NEAR(sn2 / kN, 1.0, 0.01);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LE(std::fabs(r.clippedNormal(3.0)), 3.0);
  }
}

}  // namespace
}  // namespace equalis::sim
