// Configuration reload through the operator-command path: live changes keep the controller's
// state (active alarms, run-time rule changes), an invalid file changes nothing, and what needs
// a restart is only reported.
#include <algorithm>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "functional/temp_dir.hpp"
#include "runtime/controller.hpp"

namespace equalis::runtime {
namespace {

const command::Origin kTestOrigin{"", "", "test"};

using test::TempDir;

model::AlarmRuleOverride temperatureWarning(double warning_c) {
  model::AlarmRuleOverride o;
  o.rule_id = "block.temperature_high";
  o.warning = warning_c;
  o.on_delay_ms = 0;
  return o;
}

const alarms::Rule& rule(const alarms::RuleTable& t, std::size_t s, const std::string& id) {
  const auto& rules = t.strings.at(s);
  return *std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.id == id; });
}

std::vector<history::EventRecord> configEvents(Controller& c) {
  history::EventQuery q;
  q.from_ms = 0;
  q.to_ms = c.clock().nowMs() + kDayMs;
  q.kind = "config";
  return c.history()->events(q).value();
}

// A controller whose reload reads `next` (the stand-in for the configuration file).
struct Fixture {
  TempDir dir;
  SimulatedClock clock;
  model::PlantConfig running;
  config::LoadResult next;
  std::unique_ptr<Controller> c;

  Fixture() {
    running = model::demoPlant();
    running.simulation.ups.outages = false;
    running.data_dir = dir.str();
    running.alarms.overrides.push_back(temperatureWarning(20.0));  // every block warns
    next.config = running;
    c = std::make_unique<Controller>(running, clock);
    EXPECT_TRUE(c->open().ok());
    c->setConfigSource({"/etc/equalis/equalis.toml", [this] { return next; }});
  }
  command::Outcome reload() { return c->execute({command::ReloadConfig{}, kTestOrigin}); }
};

TEST(Reload, LiveChangesKeepActiveAlarmsAndRunTimeRuleChanges) {
  Fixture f;
  model::AlarmRuleOverride api;
  api.rule_id = "block.voltage_high";
  api.enabled = false;
  ASSERT_TRUE(f.c->execute({command::ChangeAlarmRule{api}, kTestOrigin}).ok());
  f.c->runUntil(f.clock, f.clock.nowMs() + 5 * kMinuteMs);
  const auto before = f.c->activeAlarms();
  ASSERT_GE(before.size(), 64u);  // a temperature warning on every block

  f.next.config->thermal_runaway.hold_ms = 7 * kMinuteMs;
  f.next.config->equalization.deadband_mv = 1.0;
  auto done = f.reload();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->message, "configuration reloaded: 2 changes applied, 0 need a restart");
  ASSERT_EQ(done->changes.size(), 2u);
  EXPECT_EQ(f.c->plant().thermal_runaway.hold_ms, 7 * kMinuteMs);
  EXPECT_DOUBLE_EQ(f.c->plant().equalization.deadband_mv, 1.0);
  // The same alarms, raised at the same time; the run-time change is still there.
  f.c->runUntil(f.clock, f.clock.nowMs() + kMinuteMs);
  const auto after = f.c->activeAlarms();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].raised_ms, before[i].raised_ms);
  }
  EXPECT_FALSE(rule(f.c->alarmRules(), 0, "block.voltage_high").enabled);
  EXPECT_EQ(f.c->alarmOverrides().size(), 1u);

  // Raising the threshold in the file clears the warnings at the next evaluation.
  f.next.config->alarms.overrides = {temperatureWarning(40.0)};
  done = f.reload();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_DOUBLE_EQ(rule(f.c->alarmRules(), 0, "block.temperature_high").warning, 40.0);
  EXPECT_EQ(rule(f.c->alarmRules(), 0, "block.temperature_high").origin, "config");
  f.c->runUntil(f.clock, f.clock.nowMs() + 30 * kMinuteMs);
  const auto cleared = f.c->activeAlarms();
  EXPECT_TRUE(std::none_of(cleared.begin(), cleared.end(),
                           [](const auto& a) { return a.rule_id == "block.temperature_high"; }));

  const auto events = configEvents(*f.c);
  ASSERT_GE(events.size(), 2u);
  EXPECT_NE(events.back().message.find("configuration reloaded: 1 change applied, 0 need a "
                                       "restart (test); alarms.rule[block.temperature_high]"),
            std::string::npos)
      << events.back().message;
}

TEST(Reload, InvalidFileChangesNothing) {
  Fixture f;
  f.c->runUntil(f.clock, f.clock.nowMs() + kMinuteMs);
  f.next = config::LoadResult{
      std::nullopt, {{"thermal_runaway.hold_min", "must be between 0 and 120 min, got 700"}}};
  const auto done = f.reload();
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(done.error().message,
            "/etc/equalis/equalis.toml: thermal_runaway.hold_min: must be between 0 and 120 min, "
            "got 700\n/etc/equalis/equalis.toml: 1 problem(s), configuration rejected");
  EXPECT_EQ(f.c->plant().thermal_runaway.hold_ms, 5 * kMinuteMs);
  EXPECT_DOUBLE_EQ(rule(f.c->alarmRules(), 0, "block.temperature_high").warning, 20.0);
  const auto events = configEvents(*f.c);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().message.rfind("configuration reload rejected (test): ", 0), 0u)
      << events.back().message;
  EXPECT_EQ(f.c->runtimeStats().snapshot().reloads_rejected, 1u);
}

TEST(Reload, RuleChangesThatNoLongerFitAreRefusedWhole) {
  Fixture f;
  // A run-time change of the warning level only …
  model::AlarmRuleOverride api;
  api.rule_id = "block.temperature_high";
  api.warning = 32.0;
  ASSERT_TRUE(f.c->execute({command::ChangeAlarmRule{api}, kTestOrigin}).ok());
  // … and a file that is valid alone but puts the alarm level below that warning.
  auto file_rule = temperatureWarning(28.0);
  file_rule.alarm = 31.0;
  f.next.config->alarms.overrides = {file_rule};
  f.next.config->thermal_runaway.hold_ms = 9 * kMinuteMs;
  const auto done = f.reload();
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().message.find("do not fit the new configuration"), std::string::npos)
      << done.error().message;
  // Nothing of the reload was applied, not even the valid part.
  EXPECT_EQ(f.c->plant().thermal_runaway.hold_ms, 5 * kMinuteMs);
  EXPECT_DOUBLE_EQ(rule(f.c->alarmRules(), 0, "block.temperature_high").warning, 32.0);
  EXPECT_EQ(f.c->plant().alarms.overrides.size(), 1u);
}

TEST(Reload, LayoutChangesAreReportedNotApplied) {
  Fixture f;
  f.next.config->strings[0].block_count = 30;
  f.next.config->http.listen = "0.0.0.0:9999";
  f.next.config->history.fast_interval_ms = 20 * kSecondMs;
  const auto done = f.reload();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->message, "configuration reloaded: 1 change applied, 2 need a restart");
  EXPECT_EQ(f.c->plant().strings[0].block_count, 32);
  EXPECT_EQ(f.c->plant().http.listen, model::demoPlant().http.listen);
  EXPECT_EQ(f.c->plant().history.fast_interval_ms, 20 * kSecondMs);
  const auto events = configEvents(*f.c);
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back().message.find("restart needed for strings[1].blocks"), std::string::npos)
      << events.back().message;
}

TEST(Reload, WithoutAConfigurationFileItIsRefused) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();
  plant.data_dir = dir.str();
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  const auto done = c.execute({command::ReloadConfig{}, kTestOrigin});
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(done.error().message.find("started without --config"), std::string::npos);
}

}  // namespace
}  // namespace equalis::runtime
