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

// ---------------------------------------------------------------------------------- shelving

constexpr const char* kKey = "block.voltage_high/2/17";

TEST(Shelving, DurationText) {
  EXPECT_EQ(shelveDurationText(15 * kMinuteMs), "15 min");
  EXPECT_EQ(shelveDurationText(90 * kMinuteMs), "90 min");
  EXPECT_EQ(shelveDurationText(2 * kHourMs), "2 h");
  EXPECT_EQ(shelveDurationText(7 * kDayMs), "7 d");
  EXPECT_EQ(shelveDurationText(59 * kSecondMs), "59 s");
}

// Shelved: still active in the engine, but not counted and not in the block status; the shelf
// ends on the clock (at the first evaluation at or after its end) with an event.
TEST_F(EngineTest, ShelvedAlarmLeavesTheCountsAndBlockStatusUntilItsTimeIsOver) {
  voltage(14.5, 10'000);
  voltage(14.5, 80'000);  // alarm level after the 60 s on-delay
  ASSERT_EQ(engine_.active().size(), 1u);
  EXPECT_EQ(engine_.counts().alarm, 1);
  const TimeMs until = 90'000 + 2 * kHourMs;
  auto e = engine_.shelve(kKey, until, "  charger maintenance  ", "ada", 90'000);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->kind, "shelved");
  EXPECT_TRUE(e->alarm.shelved);
  EXPECT_EQ(e->alarm.shelve_reason, "charger maintenance");  // trimmed
  EXPECT_EQ(e->alarm.shelved_by, "ada");
  EXPECT_EQ(e->alarm.shelved_ms, 90'000);
  EXPECT_EQ(e->alarm.shelved_until_ms, until);

  const auto active = engine_.active();
  ASSERT_EQ(active.size(), 1u);  // still active in the engine
  EXPECT_TRUE(active[0].shelved);
  EXPECT_EQ(active[0].level, Level::kAlarm);
  const auto c = engine_.counts();
  EXPECT_EQ(c.alarm, 0);
  EXPECT_EQ(c.warning, 0);
  EXPECT_EQ(c.unacknowledged, 0);
  EXPECT_EQ(c.shelved, 1);
  EXPECT_EQ(engine_.blockLevel(1, 16), Level::kNone);
  std::vector<Level> levels(32);
  engine_.blockLevels(1, levels);
  EXPECT_EQ(levels[16], Level::kNone);

  // Still shelved a moment before the end; the evaluation at the end brings it back.
  EXPECT_TRUE(voltage(14.5, until - 1).empty());
  EXPECT_TRUE(engine_.active()[0].shelved);
  auto back = voltage(14.5, until);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].kind, "shelf_expired");
  EXPECT_EQ(back[0].alarm.key, kKey);
  EXPECT_EQ(back[0].alarm.level, Level::kAlarm);
  EXPECT_FALSE(back[0].alarm.shelved);
  EXPECT_FALSE(engine_.active()[0].shelved);
  EXPECT_EQ(engine_.counts().alarm, 1);
  EXPECT_EQ(engine_.counts().unacknowledged, 1);
  EXPECT_EQ(engine_.counts().shelved, 0);
  EXPECT_EQ(engine_.blockLevel(1, 16), Level::kAlarm);
  EXPECT_TRUE(voltage(14.5, until + 10'000).empty());  // once
}

// The shelf belongs to the key: an alarm that clears and comes back while it lasts stays
// shelved (a new raise, a new id); the events of a shelved alarm say so.
TEST_F(EngineTest, ReRaisedWhileShelvedStaysShelved) {
  voltage(14.5, 10'000);
  voltage(14.5, 80'000);
  const auto first_id = engine_.active().at(0).id;
  ASSERT_TRUE(engine_.shelve(kKey, 90'000 + kHourMs, "sensor swap", "ada", 90'000).ok());
  voltage(13.6, 100'000);
  auto e = voltage(13.6, 160'000);  // 60 s off-delay
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "cleared");
  EXPECT_TRUE(e[0].alarm.shelved);
  EXPECT_TRUE(engine_.active().empty());
  EXPECT_EQ(engine_.counts().shelved, 0);
  EXPECT_TRUE(engine_.shelved(kKey));  // the shelf stays with the key

  voltage(14.5, 200'000);
  e = voltage(14.5, 260'000);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "raised");
  EXPECT_TRUE(e[0].alarm.shelved);
  EXPECT_NE(e[0].alarm.id, first_id);
  ASSERT_EQ(engine_.active().size(), 1u);
  EXPECT_TRUE(engine_.active()[0].shelved);
  EXPECT_EQ(engine_.counts().alarm, 0);
  EXPECT_EQ(engine_.counts().shelved, 1);

  // Cleared again before the shelf ends: the end of the shelf is an event of an inactive alarm.
  voltage(13.6, 300'000);
  voltage(13.6, 360'000);
  e = voltage(13.6, 90'000 + kHourMs);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "shelf_expired");
  EXPECT_EQ(e[0].alarm.level, Level::kNone);
  EXPECT_FALSE(engine_.shelved(kKey));
}

TEST_F(EngineTest, ShelvingLimitsAndErrors) {
  voltage(14.5, 10'000);
  voltage(14.5, 80'000);
  const TimeMs now = 90'000;
  auto e = engine_.shelve(kKey, now + kMinuteMs - 1000, "why", "ada", now);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.error().message.find("shorter than the shortest, 1 min"), std::string::npos)
      << e.error().message;
  e = engine_.shelve(kKey, now + 7 * kDayMs + kMinuteMs, "why", "ada", now);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("longer than the longest, 7 d (10080 min)"), std::string::npos)
      << e.error().message;
  EXPECT_FALSE(engine_.active()[0].shelved);  // refused: nothing changed

  for (const std::string& bad :
       {std::string(), std::string("   "), std::string(201, 'x'), std::string("two\nlines")}) {
    e = engine_.shelve(kKey, now + kHourMs, bad, "ada", now);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(engine_.shelve(kKey, now + kHourMs, std::string(201, 'x'), "ada", now)
                .error()
                .message.find("at most 200"),
            std::string::npos);
  EXPECT_FALSE(engine_.shelved(kKey));

  // The limits themselves are allowed; 200 characters are 200 characters in any script.
  std::string umlauts;
  for (int i = 0; i < 200; ++i) {
    umlauts += "ü";
  }
  EXPECT_TRUE(engine_.shelve(kKey, now + kMinuteMs, umlauts, "ada", now).ok());
  EXPECT_TRUE(engine_.shelve(kKey, now + 7 * kDayMs, "long job", "bob", now).ok());
  // Shelving again replaces the shelf.
  EXPECT_EQ(engine_.active()[0].shelved_until_ms, now + 7 * kDayMs);
  EXPECT_EQ(engine_.active()[0].shelved_by, "bob");

  e = engine_.shelve("nope/1/1", now + kHourMs, "why", "ada", now);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kNotFound);
}

TEST_F(EngineTest, UnshelveBringsItBackAtOnce) {
  voltage(14.2, 10'000);
  voltage(14.2, 80'000);  // warning
  ASSERT_TRUE(engine_.shelve(kKey, 90'000 + kHourMs, "noise", "ada", 90'000).ok());
  EXPECT_EQ(engine_.counts().warning, 0);
  auto e = engine_.unshelve(kKey, 100'000);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, "unshelved");
  EXPECT_EQ(e->alarm.level, Level::kWarning);
  EXPECT_FALSE(e->alarm.shelved);
  EXPECT_EQ(engine_.counts().warning, 1);
  EXPECT_EQ(engine_.counts().shelved, 0);
  EXPECT_EQ(engine_.blockLevel(1, 16), Level::kWarning);
  e = engine_.unshelve(kKey, 100'000);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kNotFound);
  // Nothing expires later.
  EXPECT_TRUE(voltage(14.2, 90'000 + 2 * kHourMs).empty());
}

// Acknowledging a shelved alarm is allowed; it stays shelved.
TEST_F(EngineTest, AcknowledgeAShelvedAlarm) {
  voltage(14.5, 10'000);
  voltage(14.5, 80'000);
  ASSERT_TRUE(engine_.shelve(kKey, 90'000 + kHourMs, "noise", "ada", 90'000).ok());
  auto e = engine_.acknowledge(kKey, 95'000);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->alarm.shelved);
  EXPECT_TRUE(e->alarm.acknowledged);
}

}  // namespace
}  // namespace equalis::alarms
