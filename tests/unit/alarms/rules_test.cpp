// Every alarm class of the rule table, driven through the engine on simulated time: raise after
// the on-delay, escalate, hold inside the hysteresis band, clear after the off-delay. Plus
// overrides (config / REST), their validation, and the JSON forms.
#include <gtest/gtest.h>

#include <cmath>

#include "alarms/alarms.hpp"
#include "alarms/rules_json.hpp"

namespace equalis::alarms {
namespace {

using model::Quality;

struct Probe {
  model::PlantConfig plant = model::demoPlant();
  state::StateStore store{{32, 32}, 10 * kMinuteMs};
  Engine engine{plant};
  TimeMs now_ms = 0;

  // Sets the rule's point (string 1, block 1 where it is per block) and evaluates at now + dt.
  std::vector<AlarmEvent> at(const Rule& r, double v, DurationMs dt) {
    now_ms += dt;
    {
      state::StateStore::Writer w(store);
      w.set(r.point, 0, 0, {v, now_ms, Quality::kOk});
    }
    state::StateStore::Reader rd(store, now_ms);
    std::vector<AlarmEvent> mine;
    for (auto& e : engine.evaluate(rd, now_ms)) {
      if (e.alarm.rule_id == r.id) {
        mine.push_back(std::move(e));
      }
    }
    return mine;
  }
};

// A value `k` hystereses (at least a small margin) on the normal side of `threshold`.
double inside(const Rule& r, double threshold, double k) {
  const double step = std::max(r.hysteresis, 1e-3 * std::max(1.0, std::abs(threshold)));
  return r.direction == Direction::kHigh ? threshold - k * step : threshold + k * step;
}

double beyond(const Rule& /*r*/, double threshold) {
  return threshold;  // a level is reached at its threshold
}

bool atOrBeyond(const Rule& r, double v, double threshold) {
  return r.direction == Direction::kHigh ? v >= threshold : v <= threshold;
}

std::vector<Rule> valueRules() {
  std::vector<Rule> out;
  for (const auto& r : defaultRules(model::demoPlant().strings[0])) {
    if (r.source == Source::kValue) {
      out.push_back(r);
    }
  }
  for (const auto& r : defaultSystemRules()) {
    out.push_back(r);
  }
  return out;
}

model::AlarmRuleOverride ovr(std::string id, int string_number = 0) {
  model::AlarmRuleOverride o;
  o.rule_id = std::move(id);
  o.string_number = string_number;
  return o;
}

TEST(EveryAlarmClass, RaisesEscalatesAndClearsWithDelays) {
  const auto rules = valueRules();
  ASSERT_GE(rules.size(), 17u);  // block, string and system classes
  for (const auto& r : rules) {
    SCOPED_TRACE(r.id);
    Probe p;
    const DurationMs tick = std::max<DurationMs>(1, std::min(r.on_delay_ms, r.off_delay_ms) / 4);
    EXPECT_TRUE(p.at(r, inside(r, r.warning, 3), tick).empty());
    // Beyond warning: nothing before the on-delay has passed, then "raised" at warning.
    EXPECT_TRUE(p.at(r, beyond(r, r.warning), tick).empty());
    if (r.on_delay_ms > 2 * tick) {
      EXPECT_TRUE(p.at(r, beyond(r, r.warning), tick).empty());
    }
    auto e = p.at(r, beyond(r, r.warning), r.on_delay_ms);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].kind, "raised");
    EXPECT_EQ(e[0].alarm.level, Level::kWarning);
    EXPECT_DOUBLE_EQ(e[0].alarm.threshold, r.warning);
    EXPECT_NE(e[0].alarm.message.find(r.quantity), std::string::npos) << e[0].alarm.message;
    EXPECT_NE(e[0].alarm.message.find(r.id.starts_with("system") ? "System" : "String 1"),
              std::string::npos)
        << e[0].alarm.message;
    // Beyond the alarm level: escalates after the on-delay.
    if (r.alarm != r.warning) {
      EXPECT_TRUE(p.at(r, beyond(r, r.alarm), tick).empty());
      e = p.at(r, beyond(r, r.alarm), r.on_delay_ms);
      ASSERT_EQ(e.size(), 1u);
      EXPECT_EQ(e[0].kind, "escalated");
      EXPECT_EQ(e[0].alarm.level, Level::kAlarm);
      // Back to inside the warning band: lowered after the off-delay.
      EXPECT_TRUE(p.at(r, inside(r, r.alarm, 2), tick).empty() || r.off_delay_ms <= tick);
      e = p.at(r, inside(r, r.alarm, 2), r.off_delay_ms);
      ASSERT_EQ(e.size(), 1u);
      const bool still_warning = atOrBeyond(r, inside(r, r.alarm, 2), r.warning);
      EXPECT_EQ(e[0].kind, still_warning ? "lowered" : "cleared");
    }
    // Within the hysteresis band of the warning threshold: stays active.
    if (r.hysteresis > 0) {
      (void)p.at(r, beyond(r, r.warning), r.on_delay_ms);
      (void)p.at(r, beyond(r, r.warning), r.on_delay_ms);
      EXPECT_TRUE(p.at(r, inside(r, r.warning, 0.5), r.off_delay_ms * 3 + tick).empty());
      EXPECT_NE(p.engine.active().size(), 0u);
    }
    // Well back to normal: cleared only after the off-delay.
    if (r.off_delay_ms > 2 * tick) {
      EXPECT_TRUE(p.at(r, inside(r, r.warning, 3), tick).empty());
    }
    e = p.at(r, inside(r, r.warning, 3), r.off_delay_ms);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].kind, "cleared");
    EXPECT_TRUE(p.engine.active().empty());
  }
}

TEST(Overrides, PlantWideAndPerStringWithOrigin) {
  auto plant = model::demoPlant();
  auto table = defaultRuleTable(plant);
  auto all = ovr("block.temperature_high");
  all.warning = 30.0;
  auto one = ovr("block.temperature_high", 2);
  one.alarm = 40.0;
  ASSERT_TRUE(applyOverrides(table, {all, one}, "config", plant.strings.size()).ok());
  auto find = [](const std::vector<Rule>& rules, const std::string& id) {
    return *std::find_if(rules.begin(), rules.end(), [&](const Rule& r) { return r.id == id; });
  };
  const auto s1 = find(table.strings[0], "block.temperature_high");
  const auto s2 = find(table.strings[1], "block.temperature_high");
  EXPECT_EQ(s1.warning, 30.0);
  EXPECT_EQ(s1.alarm, 45.0);
  EXPECT_EQ(s2.warning, 30.0);
  EXPECT_EQ(s2.alarm, 40.0);
  EXPECT_EQ(s2.origin, "config");
  EXPECT_EQ(find(table.strings[0], "block.voltage_high").origin, "default");
}

TEST(Overrides, ErrorsNameTheRuleAndTheProblem) {
  auto plant = model::demoPlant();
  auto table = defaultRuleTable(plant);
  const auto before = table.strings[0][0].warning;
  auto typo = ovr("block.voltage_hihg");
  typo.warning = 1.0;
  auto st = applyOverrides(table, {typo}, "api", 2);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
  EXPECT_NE(st.error().message.find("did you mean 'block.voltage_high'"), std::string::npos);
  auto order = ovr("block.voltage_high", 2);
  order.warning = 15.0;
  st = applyOverrides(table, {order}, "api", 2);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("string 2"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("warning 15 must be ≤ alarm 14.4"), std::string::npos)
      << st.error().message;
  const auto string9 = ovr("block.voltage_high", 9);
  EXPECT_FALSE(applyOverrides(table, {string9}, "api", 2).ok());
  EXPECT_EQ(table.strings[0][0].warning, before);  // nothing applied
}

TEST(Overrides, RuntimeChangesAreAllOrNothingAndDisablingClears) {
  Probe p;
  const Rule r = p.engine.rules(0)[0];  // block.voltage_high
  (void)p.at(r, 14.5, kSecondMs);
  ASSERT_EQ(p.at(r, 14.5, 2 * kMinuteMs).size(), 1u);
  ASSERT_EQ(p.engine.counts().alarm, 1);
  EXPECT_EQ(p.engine.counts().unacknowledged, 1);
  auto good = ovr(r.id);
  good.enabled = false;
  const auto bad = ovr("nope");
  EXPECT_FALSE(p.engine.setRuntimeOverrides({good, bad}).ok());
  EXPECT_TRUE(p.engine.rules(0)[0].enabled);
  ASSERT_TRUE(p.engine.setRuntimeOverrides({good}).ok());
  EXPECT_EQ(p.engine.rules(0)[0].origin, "api");
  auto e = p.at(r, 14.5, kSecondMs);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, "cleared");
  EXPECT_NE(e[0].alarm.message.find("disabled"), std::string::npos);
  EXPECT_EQ(p.engine.counts().alarm, 0);
  // Reverting brings the rule (and, after its on-delay, the alarm) back.
  ASSERT_TRUE(p.engine.setRuntimeOverrides({}).ok());
  (void)p.at(r, 14.5, kSecondMs);
  EXPECT_EQ(p.at(r, 14.5, 2 * kMinuteMs).size(), 1u);
}

TEST(RulesJson, OverridesFileRoundTripsAndRejectsBadInput) {
  auto o = ovr("block.ri_rise", 2);
  o.enabled = true;
  o.warning = 25.0;
  o.on_delay_ms = 90 * kSecondMs;
  auto back = parseOverridesFile(overridesFileText({o}));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].rule_id, "block.ri_rise");
  EXPECT_EQ((*back)[0].string_number, 2);
  EXPECT_EQ((*back)[0].warning, 25.0);
  EXPECT_FALSE((*back)[0].alarm.has_value());
  EXPECT_EQ((*back)[0].on_delay_ms, 90 * kSecondMs);
  EXPECT_FALSE(parseOverridesFile("{not json").ok());
  auto bad = parseOverridesFile(R"({"version":1,"overrides":[{"rule":"x","warning":"high"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("overrides[1].warning"), std::string::npos);
  auto neg = overrideFromJson(nlohmann::ordered_json{{"on_delay_s", -1}}, false);
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message.find("on_delay_s"), std::string::npos);
  EXPECT_FALSE(overrideFromJson(nlohmann::ordered_json{{"rule", "x"}}, false).ok());
}

}  // namespace
}  // namespace equalis::alarms

namespace equalis::alarms {
namespace {

std::vector<AlarmEvent> inputAt(Engine& e, const std::string& id, double v, TimeMs t,
                                model::Quality q = model::Quality::kOk) {
  return e.evaluateInputs({{id, {v, t, q}}}, t);
}

TEST(InputAlarms, RaiseAfterDelayClearAndBreakerOpen) {
  const auto plant = model::demoPlant();
  Engine e(plant);
  InputRule door;
  door.channel_id = "aux1.di3";
  door.name = "Door contact";
  door.level = Level::kWarning;
  door.on_delay_ms = 30 * kSecondMs;
  door.off_delay_ms = 30 * kSecondMs;
  InputRule breaker;
  breaker.channel_id = "aux1.di1";
  breaker.name = "String 1 breaker closed";
  breaker.alarm_when = false;
  breaker.string_number = 1;
  e.setInputRules({door, breaker});

  EXPECT_TRUE(inputAt(e, "aux1.di3", 1, 0).empty());
  EXPECT_TRUE(inputAt(e, "aux1.di3", 1, 20 * kSecondMs).empty());  // on-delay
  auto ev = inputAt(e, "aux1.di3", 1, 31 * kSecondMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "raised");
  EXPECT_EQ(ev[0].alarm.level, Level::kWarning);
  EXPECT_EQ(ev[0].alarm.key, "input.aux1.di3/0/0");
  EXPECT_EQ(ev[0].alarm.message, "System: input aux1.di3 (Door contact) active (warning)");
  // Stale or missing input data changes nothing.
  EXPECT_TRUE(inputAt(e, "aux1.di3", 0, 100 * kSecondMs, model::Quality::kCommLost).empty());
  EXPECT_EQ(e.counts().warning, 1);
  // Rules replaced with the same ids keep their state.
  e.setInputRules({door, breaker});
  EXPECT_EQ(e.counts().warning, 1);
  EXPECT_TRUE(inputAt(e, "aux1.di3", 0, 110 * kSecondMs).empty());  // off-delay
  ev = inputAt(e, "aux1.di3", 0, 141 * kSecondMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "cleared");

  EXPECT_TRUE(inputAt(e, "aux1.di1", 1, 150 * kSecondMs).empty());  // closed: fine
  ev = inputAt(e, "aux1.di1", 0, 151 * kSecondMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].alarm.level, Level::kAlarm);
  EXPECT_EQ(ev[0].alarm.string_number, 1);
  EXPECT_NE(ev[0].alarm.message.find("String 1: input aux1.di1"), std::string::npos);
  EXPECT_NE(ev[0].alarm.message.find("breaker open"), std::string::npos);
  EXPECT_TRUE(e.acknowledge(ev[0].alarm.key, 152 * kSecondMs).ok());
}

}  // namespace
}  // namespace equalis::alarms
