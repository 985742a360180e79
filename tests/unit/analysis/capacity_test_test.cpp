#include "analysis/capacity_test.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace equalis::analysis {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;
constexpr DurationMs kStepMs = 10'000;

// Four 12 V blocks of 100, 100, 90 and 80 Ah discharged at `current_a` (constant, or stepping
// between ±`wobble_a`) at `temp_c` until the string's mean block voltage reaches 10.5 V or
// `stop_ah` is drawn; each block's voltage falls linearly with its depth and collapses past 95 %.
std::optional<CapacityTestResult> run(double current_a, double temp_c = 25.0, double stop_ah = 1e9,
                                      double wobble_a = 0.0) {
  const std::vector<double> cap{100, 100, 90, 80};
  CapacityTestDetector d(model::Chemistry::kVrla12V, cap.size(), 100.0);
  TimeMs t = kT0;
  double q = 0;
  std::vector<double> v(cap.size());
  const std::vector<double> temps(cap.size(), temp_c);
  for (int k = 0;; ++k) {
    const double i = current_a + ((k / 30) % 2 == 0 ? wobble_a : -wobble_a);
    double sum = 0;
    for (std::size_t b = 0; b < cap.size(); ++b) {
      const double dod = q / cap[b];
      v[b] = dod < 0.95 ? 12.6 - 1.6 * dod : 11.08 - 60.0 * (dod - 0.95);
      sum += v[b];
      // Below 8 V the module reads nothing.
      if (v[b] < 8.0) {
        v[b] = std::nan("");
      }
    }
    if (sum / 4.0 <= 10.5 || q >= stop_ah) {
      break;
    }
    EXPECT_FALSE(d.update(t, -i, true, v, temps));
    q += i * static_cast<double>(kStepMs) / kHourMs;
    t += kStepMs;
  }
  // The load is cut: a minute without current before the mode leaves discharge.
  for (int k = 0; k < 6; ++k) {
    EXPECT_FALSE(d.update(t, 0.0, true, v, temps));
    t += kStepMs;
  }
  return d.update(t, 0.0, false, v, temps);
}

TEST(CapacityTest, ADischargeAtTheTenHourRateToTheEndVoltage) {
  const auto r = run(10.0);
  ASSERT_TRUE(r.has_value());
  // The 80 Ah block collapses at ≈ 77 Ah and takes the string's mean to 10.5 V.
  EXPECT_GT(r->ah_to_end, 75.0);
  EXPECT_LT(r->ah_to_end, 82.0);
  EXPECT_NEAR(r->capacity_ah, r->ah_to_end, 1e-9);  // at 25 °C
  EXPECT_NEAR(r->capacity_pct, r->ah_to_end, 1e-9);
  EXPECT_NEAR(r->mean_current_a, 10.0, 1e-9);
  EXPECT_GT(r->sigma_ah, 0.02 * r->capacity_ah);
  // Only the 80 Ah block reached 10.5 V on its own, in its collapse just past 95 % of its
  // capacity; the others stayed above it.
  ASSERT_EQ(r->block_capacity_ah.size(), 4u);
  EXPECT_FALSE(r->block_capacity_ah[0]);
  EXPECT_FALSE(r->block_capacity_ah[1]);
  ASSERT_TRUE(r->block_capacity_ah[3]);
  EXPECT_NEAR(*r->block_capacity_ah[3], 0.95 * 80.0, 1.0);
}

TEST(CapacityTest, ColderMeansMoreCapacityAt25C) {
  const auto warm = run(10.0, 25.0);
  const auto cold = run(10.0, 0.0);
  ASSERT_TRUE(warm && cold);
  // Same charge drawn (the synthetic blocks ignore temperature); at 0 °C that is 86 % of C25.
  EXPECT_NEAR(cold->capacity_ah, warm->capacity_ah / 0.86, 0.01);
}

TEST(CapacityTest, NotATest) {
  EXPECT_FALSE(run(20.0)) << "C/5 is outside the 10-hour rate's ±20 %";
  EXPECT_FALSE(run(10.0, 25.0, 50.0)) << "stopped before the end voltage";
  EXPECT_FALSE(run(10.0, 25.0, 1e9, 2.0)) << "current not steady (±20 %)";
  EXPECT_FALSE(run(10.0, 25.0, 15.0)) << "shorter than two hours";
}

}  // namespace
}  // namespace equalis::analysis
