// What a configuration reload changes: every changed key, live or restart-needed.
#include "config/diff.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace equalis::config {
namespace {

const std::string kSamplePath = std::string(EQUALIS_SOURCE_DIR) + "/config/equalis.sample.toml";

model::PlantConfig sample() {
  auto loaded = loadConfigFile(kSamplePath);
  EXPECT_TRUE(loaded.ok()) << loaded.describe(kSamplePath);
  return *loaded.config;
}

const Change* find(const std::vector<Change>& changes, const std::string& key) {
  const auto it =
      std::find_if(changes.begin(), changes.end(), [&](const Change& c) { return c.key == key; });
  return it == changes.end() ? nullptr : &*it;
}

TEST(ConfigDiff, SameConfigurationChangesNothing) {
  EXPECT_TRUE(diffConfig(sample(), sample()).empty());
}

TEST(ConfigDiff, ThresholdsAreLiveAndTheLayoutNeedsARestart) {
  const auto running = sample();
  auto next = running;
  next.thermal_runaway.hold_ms = 7 * kMinuteMs;
  next.equalization.deadband_mv = 2.5;
  next.history.float_interval_ms = 600 * kSecondMs;
  next.strings[0].block_count = 30;
  next.data_dir = "/srv/equalis";
  next.http.listen = "0.0.0.0:8080";
  const auto changes = diffConfig(running, next);
  ASSERT_EQ(changes.size(), 6u);

  const auto* hold = find(changes, "thermal_runaway.hold_min");
  ASSERT_NE(hold, nullptr);
  EXPECT_TRUE(hold->live);
  EXPECT_EQ(hold->from, "5");
  EXPECT_EQ(hold->to, "7");
  ASSERT_NE(find(changes, "equalization.deadband_mv"), nullptr);
  EXPECT_TRUE(find(changes, "equalization.deadband_mv")->live);
  ASSERT_NE(find(changes, "history.float_interval_s"), nullptr);
  EXPECT_TRUE(find(changes, "history.float_interval_s")->live);
  EXPECT_EQ(find(changes, "history.float_interval_s")->to, "600");

  const auto* blocks = find(changes, "strings[1].blocks");
  ASSERT_NE(blocks, nullptr);
  EXPECT_FALSE(blocks->live);
  EXPECT_EQ(blocks->from, "32");
  EXPECT_EQ(blocks->to, "30");
  ASSERT_NE(find(changes, "data_dir"), nullptr);
  EXPECT_FALSE(find(changes, "data_dir")->live);
  ASSERT_NE(find(changes, "http.listen"), nullptr);
  EXPECT_FALSE(find(changes, "http.listen")->live);
}

TEST(ConfigDiff, AlarmRulesAreLiveAndKeyedByRuleAndString) {
  const auto running = sample();
  auto next = running;
  model::AlarmRuleOverride o;
  o.rule_id = "block.temperature_high";
  o.warning = 31;
  next.alarms.overrides.push_back(o);
  o.string_number = 2;
  o.warning = 29;
  next.alarms.overrides.push_back(o);
  next.alarms.ri_baseline_samples = 12;
  const auto changes = diffConfig(running, next);
  ASSERT_EQ(changes.size(), 3u);
  const auto* all = find(changes, "alarms.rule[block.temperature_high]");
  ASSERT_NE(all, nullptr);
  EXPECT_TRUE(all->live);
  EXPECT_EQ(all->from, "");
  EXPECT_NE(all->to.find("31"), std::string::npos) << all->to;
  const auto* second = find(changes, "alarms.rule[block.temperature_high, string 2]");
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->live);
  // The Ri baseline is collected with the settings it started with.
  ASSERT_NE(find(changes, "alarms.ri_baseline_samples"), nullptr);
  EXPECT_FALSE(find(changes, "alarms.ri_baseline_samples")->live);

  // A removed override is a change back to "none".
  const auto back = diffConfig(next, running);
  ASSERT_NE(find(back, "alarms.rule[block.temperature_high]"), nullptr);
  EXPECT_EQ(find(back, "alarms.rule[block.temperature_high]")->to, "");
}

TEST(ConfigDiff, EventRulesCompareAsAWholeAndQueueSizeNeedsARestart) {
  auto running = sample();
  model::EventRule r;
  r.name = "ops";
  r.triggers = model::kAlarmTriggers;
  model::EventAction a;
  a.type = model::EventActionType::kCommand;
  a.command = "true";
  r.actions.push_back(a);
  running.events.rules.push_back(r);
  auto next = running;
  next.events.rules[0].actions[0].command = "logger alarm";
  next.events.queue_size = 64;
  auto changes = diffConfig(running, next);
  ASSERT_EQ(changes.size(), 2u);
  ASSERT_NE(find(changes, "events.rule[ops]"), nullptr);
  EXPECT_TRUE(find(changes, "events.rule[ops]")->live);
  ASSERT_NE(find(changes, "events.queue_size"), nullptr);
  EXPECT_FALSE(find(changes, "events.queue_size")->live);

  next = running;
  next.events.rules.clear();
  changes = diffConfig(running, next);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key, "events.rule[ops]");
  EXPECT_EQ(changes[0].to, "");
  EXPECT_TRUE(changes[0].live);
}

TEST(ConfigDiff, IoDevicesAndProtocolsNeedARestart) {
  const auto running = sample();
  auto next = running;
  ASSERT_FALSE(next.io.devices.empty());
  next.io.devices[0].poll_interval_ms = 2 * kSecondMs;
  next.protocols.modbus_tcp = "127.0.0.1:1502";
  const auto changes = diffConfig(running, next);
  ASSERT_EQ(changes.size(), 2u);
  const auto key = "io.device[" + running.io.devices[0].id + "]";
  ASSERT_NE(find(changes, key), nullptr);
  EXPECT_FALSE(find(changes, key)->live);
  ASSERT_NE(find(changes, "modbus.tcp"), nullptr);
  EXPECT_FALSE(find(changes, "modbus.tcp")->live);
}

TEST(ConfigDiff, ApplyLiveChangesTakesOnlyTheLivePart) {
  auto running = sample();
  auto next = running;
  next.thermal_runaway.hold_ms = 7 * kMinuteMs;
  next.strings[0].block_count = 30;
  next.events.queue_size = 64;
  next.events.retries = 5;
  applyLiveChanges(running, next);
  EXPECT_EQ(running.thermal_runaway.hold_ms, 7 * kMinuteMs);
  EXPECT_EQ(running.strings[0].block_count, 32);
  EXPECT_EQ(running.events.retries, 5);
  EXPECT_EQ(running.events.queue_size, sample().events.queue_size);
  // What is left differs only in what needs a restart.
  for (const auto& c : diffConfig(running, next)) {
    EXPECT_FALSE(c.live) << c.key;
  }
}

}  // namespace
}  // namespace equalis::config
