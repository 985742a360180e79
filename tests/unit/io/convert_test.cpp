#include "io/convert.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::io {
namespace {

using model::AnalogSignal;
using model::Quality;

model::IoChannelConfig analogInput(AnalogSignal signal, double lo, double hi) {
  model::IoChannelConfig c;
  c.id = "ai1";
  c.kind = model::ChannelKind::kAnalogInput;
  c.signal = signal;
  c.range_min = lo;
  c.range_max = hi;
  return c;
}

TEST(IoConvert, FourToTwentyMilliampsScalesLinearly) {
  const auto at = [](double ma) { return scaleSignal(AnalogSignal::kCurrent4To20, ma, 0.0, 4.0); };
  EXPECT_DOUBLE_EQ(at(4.0).value, 0.0);
  EXPECT_DOUBLE_EQ(at(12.0).value, 2.0);
  EXPECT_DOUBLE_EQ(at(20.0).value, 4.0);
  EXPECT_EQ(at(12.0).quality, Quality::kOk);
  // Offset ranges: −20 … 80 °C transmitter at 8 mA → 5 °C.
  EXPECT_DOUBLE_EQ(scaleSignal(AnalogSignal::kCurrent4To20, 8.0, -20.0, 80.0).value, 5.0);
}

TEST(IoConvert, OpenLoopBelowThreePointSixMilliampsIsInvalid) {
  const auto at = [](double ma) {
    return scaleSignal(AnalogSignal::kCurrent4To20, ma, 0.0, 100.0);
  };
  EXPECT_EQ(at(3.59).quality, Quality::kInvalid);
  EXPECT_EQ(at(0.0).quality, Quality::kInvalid);    // broken wire
  EXPECT_EQ(at(21.01).quality, Quality::kInvalid);  // short circuit
  // NE 43 saturation band: still a measurement, clamped to the range.
  EXPECT_EQ(at(3.7).quality, Quality::kOk);
  EXPECT_DOUBLE_EQ(at(3.7).value, 0.0);
  EXPECT_EQ(at(20.8).quality, Quality::kOk);
  EXPECT_DOUBLE_EQ(at(20.8).value, 100.0);
}

TEST(IoConvert, ZeroToTenVolts) {
  EXPECT_DOUBLE_EQ(scaleSignal(AnalogSignal::kVoltage0To10, 2.5, 0.0, 100.0).value, 25.0);
  EXPECT_EQ(scaleSignal(AnalogSignal::kVoltage0To10, 11.0, 0.0, 100.0).quality, Quality::kInvalid);
  EXPECT_EQ(scaleSignal(AnalogSignal::kVoltage0To10, -1.0, 0.0, 100.0).quality, Quality::kInvalid);
  EXPECT_EQ(scaleSignal(AnalogSignal::kVoltage0To10, NAN, 0.0, 100.0).quality, Quality::kInvalid);
}

TEST(IoConvert, RegisterScaleThenSignalScale) {
  // A SITEMANAGER-style input register in µA: 12000 → 12 mA → mid-range.
  auto c = analogInput(AnalogSignal::kCurrent4To20, 0.0, 4.0);
  c.reg = model::RegisterMap{model::RegisterTable::kInput, 0, 1, false, 0.001, 0.0};
  EXPECT_DOUBLE_EQ(analogReading(c, 12000).value, 2.0);
  EXPECT_EQ(analogReading(c, 3000).quality, Quality::kInvalid);  // 3 mA: open loop
}

TEST(IoConvert, DecodesSignedAnd32BitRegisters) {
  model::RegisterMap m;
  const std::vector<std::uint16_t> neg = {0xFFFE, 0};
  EXPECT_DOUBLE_EQ(decodeRegisters(m, neg), 65534.0);
  m.is_signed = true;
  EXPECT_DOUBLE_EQ(decodeRegisters(m, neg), -2.0);
  m.words = 2;
  m.is_signed = false;
  const std::vector<std::uint16_t> big = {0x0001, 0x86A0};  // 100000, high word first
  EXPECT_DOUBLE_EQ(decodeRegisters(m, big), 100000.0);
  m.is_signed = true;
  const std::vector<std::uint16_t> minus = {0xFFFF, 0xFFFF};
  EXPECT_DOUBLE_EQ(decodeRegisters(m, minus), -1.0);
}

TEST(IoConvert, SensorPlausibility) {
  model::IoChannelConfig h;
  h.kind = model::ChannelKind::kHumidity;
  h.reg = model::RegisterMap{model::RegisterTable::kInput, 1, 1, false, 0.1, 0.0};
  EXPECT_DOUBLE_EQ(analogReading(h, 455).value, 45.5);
  EXPECT_EQ(analogReading(h, 455).quality, Quality::kOk);
  EXPECT_EQ(analogReading(h, 1200).quality, Quality::kInvalid);  // 120 % RH
  model::IoChannelConfig t;
  t.kind = model::ChannelKind::kTemperature;
  t.reg = model::RegisterMap{model::RegisterTable::kInput, 0, 1, true, 0.1, 0.0};
  EXPECT_DOUBLE_EQ(analogReading(t, -55).value, -5.5);
  EXPECT_EQ(analogReading(t, 32767 * 1.0).quality, Quality::kInvalid);  // sensor fault code
  model::IoChannelConfig e;
  e.kind = model::ChannelKind::kElectrolyteLevel;
  EXPECT_EQ(analogReading(e, 1).quality, Quality::kOk);
  EXPECT_EQ(analogReading(e, 7).quality, Quality::kInvalid);
}

TEST(IoConvert, ActiveLowInverts) {
  model::IoChannelConfig c;
  EXPECT_TRUE(logicalState(c, true));
  c.active_low = true;
  EXPECT_FALSE(logicalState(c, true));
  EXPECT_TRUE(logicalState(c, false));
}

}  // namespace
}  // namespace equalis::io
