#include "analysis/hours_in_band.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::analysis {
namespace {

using model::Chemistry;

constexpr double kTarget = 13.62;  // 2.27 V/cell × 6

// A day at 33 °C uses the life of two days at 25 °C (halving per 8 K); the hours land in their
// bands, and a gap in the readings counts in none.
TEST(BandHours, CountsTheTimePerBandAndTheLifeUsed) {
  BandHours h(2, Chemistry::kVrla12V);
  TimeMs t = 1'000'000;
  const std::vector<double> v{kTarget, kTarget - 6 * 0.1};  // on target; 100 mV/cell below
  const std::vector<double> temps{33.0, 22.0};
  h.update(t, v, temps, kTarget);  // the first reading starts the count
  for (int i = 0; i < 24 * 60; ++i) {
    t += kMinuteMs;
    h.update(t, v, temps, kTarget);
  }
  const auto& hot = h.blocks()[0];
  EXPECT_NEAR(hot.observed_s, 86400.0, 1e-6);
  EXPECT_NEAR(hot.temperature_s[5], 86400.0, 1e-6);  // 30–35 °C
  EXPECT_NEAR(hot.voltage_s[3], 86400.0, 1e-6);      // −20 … +20 mV/cell
  EXPECT_NEAR(h.ageingFactor(0), 2.0, 1e-9);
  EXPECT_NEAR(h.lifeUsedPct(0), 100.0 * 2.0 / (10.0 * 365.25), 1e-9);
  const auto& cool = h.blocks()[1];
  EXPECT_NEAR(cool.temperature_s[3], 86400.0, 1e-6);  // 20–25 °C
  EXPECT_NEAR(cool.voltage_s[1], 86400.0, 1e-6);      // −150 … −50 mV/cell
  EXPECT_NEAR(h.ageingFactor(1), std::exp2(-3.0 / 8.0), 1e-9);
  // An hour without readings, then one: the gap is not counted.
  t += kHourMs;
  h.update(t, v, temps, kTarget);
  EXPECT_NEAR(h.blocks()[0].observed_s, 86400.0, 1e-6);
  // Without a target, only the temperature counts.
  t += kMinuteMs;
  h.update(t, v, temps, std::nan(""));
  EXPECT_NEAR(h.blocks()[0].observed_s, 86460.0, 1e-6);
  EXPECT_NEAR(h.blocks()[0].voltage_s[3], 86400.0, 1e-6);
  EXPECT_TRUE(std::isnan(BandHours(1, Chemistry::kVrla12V).ageingFactor(0)));
}

TEST(BandHours, RoundTripAndNameWhatIsWrong) {
  BandHours h(2, Chemistry::kVrla2V);
  const std::vector<double> v{2.25, 2.20};
  const std::vector<double> temps{27.0, 41.0};
  for (TimeMs t = kMinuteMs; t < kHourMs; t += kMinuteMs) {
    h.update(t, v, temps, 2.25);
  }
  const auto text = h.serialize(123);
  const auto back = BandHours::deserialize(text, 2, Chemistry::kVrla2V);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(123), text);
  EXPECT_TRUE(BandHours::deserialize(text));
  EXPECT_NE(BandHours::deserialize(text, 3, Chemistry::kVrla2V).error().message.find("3 blocks"),
            std::string::npos);
  EXPECT_NE(BandHours::deserialize(text, 2, Chemistry::kVrla12V).error().message.find("chemistry"),
            std::string::npos);
  auto negative = text;
  negative.replace(negative.find("\"observed_s\":") + 13, 1, "-");
  const auto bad = BandHours::deserialize(negative, 2, Chemistry::kVrla2V);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("block 1"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(BandHours::deserialize("[]"));
}

}  // namespace
}  // namespace equalis::analysis
