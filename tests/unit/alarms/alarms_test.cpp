#include "alarms/alarms.hpp"

#include <gtest/gtest.h>

namespace equalis::alarms {
namespace {

using model::PointId;
using model::Quality;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : plant_(model::demoPlant()), store_({32, 32}, 30'000), engine_(plant_) {}

  // Writes one block voltage (string 2, block 17) and evaluates at `t`.
  std::vector<AlarmEvent> voltage(double v, TimeMs t, Quality q = Quality::kOk) {
    {
      state::StateStore::Writer w(store_);
      w.set(PointId::kBlockVoltageV, 1, 16, {v, t, q});
    }
    state::StateStore::Reader r(store_, t);
    return engine_.evaluate(r, t);
  }

  model::PlantConfig plant_;
  state::StateStore store_;
  Engine engine_;
};

TEST(Rules, DefaultsAreOrderedForEveryChemistry) {
  for (const auto& chem : model::chemistries()) {
    auto s = model::demoPlant().strings[0];
    s.chemistry = chem.chemistry;
    for (const auto& r : defaultRules(s)) {
      EXPECT_TRUE(validateRule(r).ok()) << chem.key << " " << r.id;
    }
  }
  Rule bad = defaultRules(model::demoPlant().strings[0])[0];
  std::swap(bad.warning, bad.alarm);
  const auto st = validateRule(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("block.voltage_high"), std::string::npos);
  // A typed 14.4 equals the per-cell alarm 2.40 V × 6 (14.399999999999999 in binary).
  Rule equal = defaultRules(model::demoPlant().strings[0])[0];
  equal.alarm = 2.40 * 6;
  equal.warning = 14.4;
  EXPECT_TRUE(validateRule(equal).ok());
  equal.warning = 14.41;
  EXPECT_FALSE(validateRule(equal).ok());
}

// 12 V VRLA: high warning 14.10 V (2.35 V/cell), alarm 14.40 V; on-delay 60 s, off-delay 60 s,
// hysteresis 0.06 V.
TEST_F(EngineTest, RaiseEscalateClearWithDelaysAndHysteresis) {
  EXPECT_TRUE(voltage(13.60, 10'000).empty());
  EXPECT_TRUE(voltage(14.20, 20'000).empty());  // on-delay running
  auto e = voltage(14.20, 80'000);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "raised");
  EXPECT_EQ(e[0].alarm.level, Level::kWarning);
  EXPECT_EQ(e[0].alarm.key, "block.voltage_high/2/17");
  EXPECT_EQ(e[0].alarm.message,
            "String 2, block 17: voltage 14.200 V above warning threshold 14.100 V");
  EXPECT_EQ(engine_.blockLevel(1, 16), Level::kWarning);
  voltage(14.50, 90'000);
  e = voltage(14.50, 150'000);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "escalated");
  // Inside the hysteresis band: stays in alarm.
  EXPECT_TRUE(voltage(14.36, 300'000).empty());
  EXPECT_TRUE(voltage(14.36, 400'000).empty());
  // Well below: lowered, then cleared, each after the off-delay.
  voltage(14.20, 410'000);
  e = voltage(14.20, 470'000);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "lowered");
  voltage(13.60, 480'000);
  e = voltage(13.60, 540'000);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "cleared");
  EXPECT_TRUE(engine_.active().empty());
}

TEST_F(EngineTest, NoFlappingUnderNoiseAroundTheThreshold) {
  int events = 0;
  TimeMs t = 0;
  // ±20 mV of noise around the warning threshold, every 10 s for an hour.
  for (int i = 0; i < 360; ++i) {
    t += 10'000;
    events += static_cast<int>(voltage(14.10 + ((i % 2) != 0 ? 0.02 : -0.02), t).size());
  }
  EXPECT_LE(events, 1);
}

TEST_F(EngineTest, ShortExcursionDoesNotRaise) {
  voltage(14.20, 10'000);
  voltage(13.60, 40'000);  // back before the on-delay ends
  EXPECT_TRUE(voltage(14.20, 75'000).empty());
  EXPECT_TRUE(engine_.active().empty());
}

TEST_F(EngineTest, MissingDataRaisesNothingButCommLostDoes) {
  EXPECT_TRUE(voltage(16.0, 10'000, Quality::kInvalid).empty());
  // Invalid readings raise no voltage alarm, only the module fault (after its on-delay).
  auto fault = voltage(16.0, 100'000, Quality::kInvalid);
  ASSERT_EQ(fault.size(), 1u);
  EXPECT_EQ(fault[0].alarm.rule_id, "block.module_fault");
  EXPECT_NE(fault[0].alarm.message.find("String 2, block 17"), std::string::npos);
  auto e = voltage(13.6, 200'000, Quality::kCommLost);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].alarm.rule_id, "block.comm_lost");
  EXPECT_EQ(e[0].alarm.level, Level::kAlarm);
  e = voltage(13.6, 210'000, Quality::kOk);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "cleared");
}

TEST_F(EngineTest, Acknowledge) {
  voltage(14.5, 10'000);
  voltage(14.5, 80'000);
  ASSERT_EQ(engine_.active().size(), 1u);
  const auto key = engine_.active()[0].key;
  auto ack = engine_.acknowledge(key, 90'000);
  ASSERT_TRUE(ack.ok());
  EXPECT_TRUE(engine_.active()[0].acknowledged);
  EXPECT_FALSE(engine_.acknowledge("nope/1/1", 90'000).ok());
}

}  // namespace
}  // namespace equalis::alarms
