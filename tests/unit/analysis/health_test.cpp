#include "analysis/health.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::analysis {
namespace {

using model::Chemistry;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

TEST(TheilSen, FindsTheSlopeWithAnIntervalAndIgnoresOutliers) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.5);
  std::vector<double> x;
  std::vector<double> y;
  for (int i = 0; i < 40; ++i) {
    x.push_back(i);
    y.push_back(10.0 - 0.3 * i + noise(rng));
  }
  y[5] = 100.0;  // two wild points
  y[30] = -50.0;
  const auto s = theilSen(x, y);
  EXPECT_EQ(s.n, 40);
  EXPECT_NEAR(s.slope, -0.3, 0.03);
  EXPECT_LT(s.lo, -0.3);
  EXPECT_GT(s.hi, -0.3);
  EXPECT_LT(s.hi - s.lo, 0.1);
  EXPECT_NEAR(s.intercept, 10.0, 0.5);
  EXPECT_EQ(theilSen(std::vector<double>{1.0}, std::vector<double>{2.0}).n, 0);
}

TEST(Health, RiAt25CUndoesTheTemperature) {
  // R(T) = R25·exp(k·(25 − T)): 10 K colder reads 12.7 % higher for lead-acid.
  const double cold = 5.0 * std::exp(0.012 * 10.0);
  EXPECT_NEAR(riAt25C(cold, 15.0, Chemistry::kVrla12V), 5.0, 1e-12);
  EXPECT_NEAR(riAt25C(5.0, 25.0, Chemistry::kLiFePO4), 5.0, 1e-12);
}

// A plant of `n` blocks in float, read every 10 minutes.
struct Feed {
  HealthTracker h;
  TimeMs t = kT0;
  std::vector<double> ri_mohm, temp_c, volt_v, eq_pct;
  explicit Feed(std::size_t n, Chemistry c = Chemistry::kVrla12V)
      : h(n, c), ri_mohm(n, 5.0), temp_c(n, 25.0), volt_v(n, 13.62), eq_pct(n, 10.0) {}
  // `ri25` per block at 25 °C, the room swinging ±8 K over the day.
  void run(DurationMs d, const std::function<double(std::size_t, TimeMs)>& ri25,
           bool floating = true) {
    const TimeMs end = t + d;
    while (t < end) {
      t += 10 * kMinuteMs;
      const double room =
          25.0 + 8.0 * std::sin(2.0 * M_PI * static_cast<double>(t % kDayMs) / kDayMs);
      for (std::size_t b = 0; b < ri_mohm.size(); ++b) {
        temp_c[b] = room;
        ri_mohm[b] = ri25(b, t) * std::exp(0.012 * (25.0 - room));
      }
      h.update(t, floating, ri_mohm, temp_c, volt_v, eq_pct);
    }
  }
};

TEST(Health, TemperatureSwingsAreNoRiseAndAStepShowsWithinHours) {
  Feed f(4);
  f.run(3 * kDayMs, [](std::size_t, TimeMs) { return 5.0; });
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_NEAR(f.h.block(b).ri_baseline_25c_mohm, 5.0, 1e-9);
    EXPECT_NEAR(f.h.block(b).ri_rise_25c_pct, 0.0, 1e-9);  // ±8 K of room: no rise
  }
  // Block 3's connector loosens: +25 %.
  const TimeMs step = f.t;
  TimeMs seen = 0;
  while (f.t < step + kDayMs) {
    f.run(kHourMs, [&](std::size_t b, TimeMs) { return b == 3 ? 6.25 : 5.0; });
    if (seen == 0 && f.h.block(3).ri_rise_25c_pct >= 20.0) {
      seen = f.t;
    }
  }
  ASSERT_GT(seen, 0);
  EXPECT_LE(seen - step, 5 * kHourMs);
  EXPECT_NEAR(f.h.block(3).ri_rise_25c_pct, 25.0, 1e-9);
  EXPECT_NEAR(f.h.block(0).ri_rise_25c_pct, 0.0, 1e-9);
}

TEST(Health, ReadingsCountOnlyInSettledFloat) {
  Feed f(2);
  f.run(
      2 * kDayMs, [](std::size_t, TimeMs) { return 5.0; }, false);
  EXPECT_TRUE(std::isnan(f.h.block(0).ri_baseline_25c_mohm));
  EXPECT_EQ(f.h.block(0).state, HealthState::kUnknown);
  f.run(kHourMs * 25 + 2 * kHourMs, [](std::size_t, TimeMs) { return 5.0; });
  EXPECT_NEAR(f.h.block(0).ri_baseline_25c_mohm, 5.0, 1e-9);
}

TEST(Health, SohFusesCapacityAndRiWithTheirStates) {
  Feed f(3);
  f.run(2 * kDayMs, [](std::size_t, TimeMs) { return 5.0; });
  // No capacity yet: the Ri component alone, wide.
  EXPECT_NEAR(f.h.block(0).soh_pct, 100.0, 1e-9);
  EXPECT_NEAR(f.h.block(0).soh_sigma_pct, HealthTracker::kRiSigmaPct, 1e-9);
  EXPECT_EQ(f.h.block(0).state, HealthState::kOk);
  // A discharge: blocks at 100, 85 and 75 % of the string (level measured 95 ± 2 %).
  const std::vector<double> rel{1.0, 0.85, 0.75};
  const std::vector<double> sig{0.01, 0.01, 0.01};
  f.h.noteCapacity(f.t, rel, sig, 95.0, 2.0);
  const auto& b1 = f.h.block(1);
  EXPECT_NEAR(b1.capacity_soh_pct, 80.75, 1e-9);
  EXPECT_NEAR(b1.capacity_sigma_pct, std::hypot(0.95, 0.85 * 2.0), 1e-9);
  // The measured capacity, carried forward by the Ri change since (none here).
  EXPECT_NEAR(b1.soh_pct, 80.75, 1e-9);
  EXPECT_NEAR(b1.ri_soh_pct, 100.0, 1e-9);
  EXPECT_EQ(b1.state, HealthState::kDegraded);
  EXPECT_EQ(f.h.block(2).state, HealthState::kReplace);
  EXPECT_EQ(f.h.block(0).state, HealthState::kOk);
  EXPECT_EQ(f.h.summary().weakest, 2);
  EXPECT_TRUE(f.h.block(2).warning);  // below 80 % already
  EXPECT_NE(f.h.block(2).evidence.find("replace"), std::string::npos);
  // Block 2, and block 1: at 81 % it reaches 80 % within the year at the chemistry's rate.
  EXPECT_EQ(f.h.summary().blocks_to_replace, 2);
  EXPECT_EQ(f.h.block(1).rul_basis, "temperature");
  EXPECT_LT(f.h.block(1).rul_years, 1.0);
}

// Block 1 corrodes: its Ri rises 12.5 % a year at 25 °C (−10 SOH points a year); capacity
// checks every 30 days see it too. It is warned months before it reaches 80 %, with a remaining
// life from its trend; the others are not.
TEST(Health, WarnsOfAFallingBlockAheadOfTime) {
  Feed f(4);
  const auto ri = [&](std::size_t b, TimeMs t) {
    const double years = static_cast<double>(t - kT0) / (365.25 * kDayMs);
    return b == 1 ? 5.0 * (1.0 + 0.125 * years) : 5.0 * (1.0 + 0.01 * years);
  };
  // SOH of block 1: 96 % at the start, −10/year; it reaches 80 % after 1.6 years.
  const double cross_years = 1.6;
  TimeMs warned = 0;
  for (int month = 0; month < 22; ++month) {
    f.run(30 * kDayMs, ri);
    const double years = static_cast<double>(f.t - kT0) / (365.25 * kDayMs);
    const std::vector<double> rel{1.02, (96.0 - 10.0 * years) / (99.0 - 0.8 * years), 1.0, 0.99};
    const std::vector<double> sig(4, 0.015);
    f.h.noteCapacity(f.t, rel, sig, 99.0 - 0.8 * years, 2.0);
    if (warned == 0 && f.h.block(1).warning) {
      warned = f.t;
      const auto& v = f.h.block(1);
      EXPECT_EQ(v.rul_basis, "trend");
      const double truth = cross_years - years;
      EXPECT_NEAR(v.rul_years, truth, 0.25 * truth);
      EXPECT_LE(v.rul_low_years, truth);
      EXPECT_GE(v.rul_high_years, truth);
      EXPECT_NE(v.evidence.find("80 % expected"), std::string::npos) << v.evidence;
    }
    for (std::size_t b : {0u, 2u, 3u}) {
      EXPECT_FALSE(f.h.block(b).warning) << b << ": " << f.h.block(b).evidence;
    }
  }
  ASSERT_GT(warned, 0);
  EXPECT_LE(warned, kT0 + static_cast<TimeMs>((cross_years - 0.5) * 365.25 * kDayMs));
  EXPECT_LT(f.h.block(1).soh_trend.slope, -7.0);
  EXPECT_GT(f.h.block(1).soh_trend.slope, -13.0);
  EXPECT_NEAR(f.h.block(1).ri_trend.slope, 12.5, 1.0);
  EXPECT_EQ(f.h.summary().rul_block, 1);
  // Block 0 loses 0.8 points a year (the string's level): decades to go.
  EXPECT_GT(f.h.block(0).rul_years, 10.0);
}

// A loosened connector (+40 % Ri from one hour to the next) after the capacity was measured is
// no capacity lost: SOH stays; the rise at 25 °C shows it (the block.ri_rise alarm's point).
TEST(Health, AnRiStepIsNoCapacityLost) {
  Feed f(2);
  f.run(10 * 7 * kDayMs, [](std::size_t, TimeMs) { return 5.0; });
  f.h.noteCapacity(f.t, std::vector<double>{1.0, 0.9}, std::vector<double>(2, 0.01), 95.0, 2.0);
  const double before = f.h.block(1).soh_pct;
  f.run(14 * kDayMs, [](std::size_t b, TimeMs) { return b == 1 ? 7.0 : 5.0; });
  EXPECT_NEAR(f.h.block(1).ri_rise_25c_pct, 40.0, 1e-6);
  EXPECT_NEAR(f.h.block(1).soh_pct, before, 0.5);
  EXPECT_NE(f.h.block(1).state, HealthState::kReplace);
  EXPECT_FALSE(f.h.block(1).warning);
}

TEST(Health, SurvivesARestartAndRejectsBadFiles) {
  Feed f(3);
  const auto ri = [](std::size_t b, TimeMs t) {
    return 5.0 *
           (1.0 + 0.2 * static_cast<double>(b) * static_cast<double>(t - kT0) / (365.25 * kDayMs));
  };
  f.run(70 * kDayMs, ri);
  f.h.noteCapacity(f.t, std::vector<double>{1.0, 0.9, 0.8}, std::vector<double>(3, 0.02), kNan,
                   kNan);
  f.run(20 * kDayMs, ri);
  const auto text = f.h.serialize(f.t);
  auto back = HealthTracker::deserialize(text, 3, Chemistry::kVrla12V);
  ASSERT_TRUE(back) << back.error().message;
  for (std::size_t b = 0; b < 3; ++b) {
    EXPECT_EQ(back->weeks(b).size(), f.h.weeks(b).size());
    EXPECT_NEAR(back->block(b).soh_pct, f.h.block(b).soh_pct, 1e-9);
    EXPECT_NEAR(back->block(b).ri_rise_25c_pct, f.h.block(b).ri_rise_25c_pct, 1e-9);
    EXPECT_NEAR(back->block(b).ri_trend.slope, f.h.block(b).ri_trend.slope, 1e-9);
  }
  EXPECT_TRUE(HealthTracker::deserialize(text));
  const auto bad = [](const std::string& t) {
    return HealthTracker::deserialize(t, 3, Chemistry::kVrla12V).error().message;
  };
  EXPECT_NE(bad("{").find("not JSON"), std::string::npos);
  EXPECT_NE(bad(R"({"format":"x"})").find("format"), std::string::npos);
  EXPECT_FALSE(HealthTracker::deserialize(text, 4, Chemistry::kVrla12V));
  EXPECT_FALSE(HealthTracker::deserialize(text, 3, Chemistry::kLiFePO4));
  std::string broken = text;
  broken.replace(broken.find("\"weeks\":[[") + 10, 1, "\"x\",");
  EXPECT_NE(bad(broken).find("week"), std::string::npos) << bad(broken);
}

TEST(Health, AReplacedBlockStartsAgain) {
  Feed f(2);
  f.run(2 * kDayMs, [](std::size_t b, TimeMs) { return b == 0 ? 7.0 : 5.0; });
  f.h.noteCapacity(f.t, std::vector<double>{0.7, 1.0}, std::vector<double>(2, 0.01), 95.0, 2.0);
  ASSERT_TRUE(f.h.block(0).warning);
  f.h.resetBlock(0, f.t);
  EXPECT_FALSE(f.h.block(0).warning);
  EXPECT_EQ(f.h.warningsChanged(), std::vector<std::size_t>{0});
  EXPECT_EQ(f.h.block(0).state, HealthState::kUnknown);
  EXPECT_TRUE(std::isnan(f.h.block(0).ri_baseline_25c_mohm));
}

}  // namespace
}  // namespace equalis::analysis
