// Event manager rules on a SimulatedClock with inline delivery into a recording sink.
#include "events/manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace equalis::events {
namespace {

using model::EventAction;
using model::EventActionType;
using model::EventRule;
using model::Trigger;

std::uint32_t bits(std::initializer_list<Trigger> ts) {
  std::uint32_t b = 0;
  for (auto t : ts) {
    b |= static_cast<std::uint32_t>(t);
  }
  return b;
}

EventAction action(EventActionType type) {
  EventAction a;
  a.type = type;
  return a;
}

model::EventsConfig baseConfig() {
  model::EventsConfig c;
  c.smtp.url = "smtp://mail.example.com:587";
  c.smtp.from = "Equalis <equalis@example.com>";
  c.smtp.to = {"ops@example.com"};
  return c;
}

alarms::AlarmEvent alarmEvent(std::string kind, TimeMs t, std::uint32_t id = 1, int s = 1,
                              int b = 3, alarms::Level level = alarms::Level::kAlarm,
                              std::string rule = "block.voltage_high") {
  alarms::AlarmEvent e;
  e.time_ms = t;
  e.kind = std::move(kind);
  e.alarm.id = id;
  e.alarm.rule_id = rule;
  e.alarm.key = rule + "/" + std::to_string(s) + "/" + std::to_string(b);
  e.alarm.level = e.kind == "cleared" ? alarms::Level::kNone : level;
  e.alarm.string_number = s;
  e.alarm.block_number = b;
  e.alarm.value = 14.52;
  e.alarm.threshold = 14.4;
  e.alarm.message = "String 1, block 3: voltage 14.52 V above alarm threshold 14.40 V";
  return e;
}

struct Fixture {
  SimulatedClock clock;
  std::vector<Outgoing> sent;
  std::unique_ptr<Manager> manager;

  explicit Fixture(model::EventsConfig cfg) {
    Manager::Options o;
    o.inline_delivery = true;
    o.procid = "77";
    o.sink = [this](const Outgoing& out) -> Result<std::string> {
      sent.push_back(out);
      return std::string();
    };
    manager = std::make_unique<Manager>(std::move(cfg), "Room 1", clock, o);
  }
  // Ticks every 10 s up to `until_ms`.
  void runTo(TimeMs until_ms) {
    while (clock.nowMs() + 10 * kSecondMs <= until_ms) {
      clock.advance(10 * kSecondMs);
      manager->tick(clock.nowMs());
    }
  }
};

TEST(EventManager, NoRulesSendNothing) {
  model::EventsConfig cfg = baseConfig();
  Fixture f(cfg);
  f.manager->onAlarmEvent(alarmEvent("raised", f.clock.nowMs()));
  f.manager->onSystemStart(f.clock.nowMs(), "started");
  f.runTo(f.clock.nowMs() + kDayMs);
  EXPECT_TRUE(f.sent.empty());
  EXPECT_FALSE(f.manager->active());
}

TEST(EventManager, EmailOnRaisedWithDefaultSubjectAndBody) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "ops";
  r.triggers = bits({Trigger::kAlarmRaised});
  r.actions.push_back(action(EventActionType::kEmail));
  cfg.rules.push_back(r);
  Fixture f(cfg);
  f.manager->onAlarmEvent(alarmEvent("raised", f.clock.nowMs()));
  ASSERT_EQ(f.sent.size(), 1u);
  const auto& o = f.sent[0];
  EXPECT_EQ(o.type, EventActionType::kEmail);
  EXPECT_EQ(o.target, "ops@example.com");
  EXPECT_EQ(o.subject,
            "[Room 1] alarm: String 1, block 3: voltage 14.52 V above alarm threshold 14.40 V");
  EXPECT_NE(o.text.find("String:    1\n"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("Block:     3\n"), std::string::npos);
  EXPECT_NE(o.text.find("Value:     14.52\n"), std::string::npos);
  EXPECT_NE(o.text.find("Threshold: 14.4\n"), std::string::npos);
  // Only raised: a clear sends nothing.
  f.manager->onAlarmEvent(alarmEvent("cleared", f.clock.nowMs()));
  EXPECT_EQ(f.sent.size(), 1u);
  const auto d = f.manager->takeDeliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].ok);
  EXPECT_EQ(describe(d[0]),
            "email to ops@example.com sent [rule 'ops', alarm_raised block.voltage_high/1/3]");
}

TEST(EventManager, FiltersByRulePatternLevelStringAndBlock) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "filtered";
  r.triggers = model::kAlarmTriggers;
  r.rule_pattern = "block.*";
  r.min_level = 2;
  r.string_number = 1;
  r.block_number = 3;
  r.actions.push_back(action(EventActionType::kEmail));
  cfg.rules.push_back(r);
  Fixture f(cfg);
  const TimeMs t = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t, 1, 1, 3, alarms::Level::kWarning));  // level
  f.manager->onAlarmEvent(alarmEvent("raised", t, 2, 2, 3));                           // string
  f.manager->onAlarmEvent(alarmEvent("raised", t, 3, 1, 4));                           // block
  f.manager->onAlarmEvent(
      alarmEvent("raised", t, 4, 1, 3, alarms::Level::kAlarm, "string.voltage_high"));  // rule
  EXPECT_TRUE(f.sent.empty());
  f.manager->onAlarmEvent(alarmEvent("escalated", t, 1, 1, 3, alarms::Level::kAlarm));
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].event.event, "alarm_escalated");
  // Lowered back to warning and cleared: the alarm reached "alarm", so min_level still passes.
  f.manager->onAlarmEvent(alarmEvent("lowered", t, 1, 1, 3, alarms::Level::kWarning));
  f.manager->onAlarmEvent(alarmEvent("cleared", t, 1, 1, 3));
  ASSERT_EQ(f.sent.size(), 3u);
  EXPECT_EQ(f.sent[2].event.level, "cleared");
  // A cleared warning-only alarm does not pass.
  f.manager->onAlarmEvent(alarmEvent("raised", t, 5, 1, 3, alarms::Level::kWarning));
  f.manager->onAlarmEvent(alarmEvent("cleared", t, 5, 1, 3));
  EXPECT_EQ(f.sent.size(), 3u);
}

TEST(EventManager, DelayIsCancelledWhenTheAlarmClearsFirst) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "delayed";
  r.triggers = bits({Trigger::kAlarmRaised});
  auto a = action(EventActionType::kEmail);
  a.delay_ms = 5 * kMinuteMs;
  r.actions.push_back(a);
  cfg.rules.push_back(r);
  Fixture f(cfg);
  const TimeMs t0 = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t0, 1));
  f.runTo(t0 + 2 * kMinuteMs);
  f.manager->onAlarmEvent(alarmEvent("cleared", f.clock.nowMs(), 1));
  f.runTo(t0 + 30 * kMinuteMs);
  EXPECT_TRUE(f.sent.empty());
  EXPECT_EQ(f.manager->stats().cancelled, 1u);

  // A second alarm that stays: sent once the delay has passed, not before.
  const TimeMs t1 = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t1, 2));
  f.runTo(t1 + 4 * kMinuteMs);
  EXPECT_TRUE(f.sent.empty());
  f.runTo(t1 + 6 * kMinuteMs);
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].event.alarm_id, 2u);
  f.runTo(t1 + kHourMs);
  EXPECT_EQ(f.sent.size(), 1u);
}

TEST(EventManager, RepeatUntilClearedStopsAtClearOrAcknowledge) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "nag";
  r.triggers = bits({Trigger::kAlarmRaised, Trigger::kAlarmEscalated});
  auto a = action(EventActionType::kBuzzer);
  a.channel = "buzzer";
  a.pulse_ms = 2000;
  a.repeat_ms = kMinuteMs;
  a.until_cleared = true;
  r.actions.push_back(a);
  cfg.rules.push_back(r);
  Fixture f(cfg);
  const TimeMs t0 = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t0, 1, 1, 3, alarms::Level::kWarning));
  f.runTo(t0 + 5 * kMinuteMs + kSecondMs);
  EXPECT_EQ(f.sent.size(), 6u);  // at 0, 1, 2, 3, 4, 5 min
  // Escalation of the same alarm does not start a second series.
  f.manager->onAlarmEvent(alarmEvent("escalated", f.clock.nowMs(), 1));
  EXPECT_EQ(f.sent.size(), 6u);
  f.runTo(t0 + 10 * kMinuteMs + kSecondMs);
  EXPECT_EQ(f.sent.size(), 11u);
  EXPECT_EQ(f.sent.back().event.event, "alarm_escalated");
  f.manager->onAlarmEvent(alarmEvent("cleared", f.clock.nowMs(), 1));
  f.runTo(t0 + kHourMs);
  EXPECT_EQ(f.sent.size(), 11u);

  // Acknowledging stops it too.
  f.sent.clear();
  const TimeMs t1 = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t1, 2));
  f.runTo(t1 + 2 * kMinuteMs + kSecondMs);
  EXPECT_EQ(f.sent.size(), 3u);
  f.manager->onAlarmEvent(alarmEvent("acknowledged", f.clock.nowMs(), 2));
  f.runTo(t1 + kHourMs);
  EXPECT_EQ(f.sent.size(), 3u);
  EXPECT_EQ(f.manager->stats().pending_actions, 0u);
}

// Shelving (docs/events.md): a shelved alarm starts nothing, shelving stops its repeats, and
// it is announced again as raised when it comes back from the shelf still active.
TEST(EventManager, ShelvedAlarmsStartNothingAndAreAnnouncedWhenBack) {
  model::EventsConfig cfg = baseConfig();
  EventRule mail;
  mail.name = "ops";
  mail.triggers = model::kAlarmTriggers;
  mail.actions.push_back(action(EventActionType::kEmail));
  cfg.rules.push_back(mail);
  EventRule nag;
  nag.name = "nag";
  nag.triggers = bits({Trigger::kAlarmRaised});
  auto buzz = action(EventActionType::kBuzzer);
  buzz.channel = "buzzer";
  buzz.pulse_ms = 2000;
  buzz.repeat_ms = kMinuteMs;
  buzz.until_cleared = true;
  nag.actions.push_back(buzz);
  cfg.rules.push_back(nag);
  Fixture f(cfg);
  const auto count = [&f](EventActionType type) {
    return std::count_if(f.sent.begin(), f.sent.end(),
                         [type](const Outgoing& o) { return o.type == type; });
  };
  const TimeMs t0 = f.clock.nowMs();
  f.manager->onAlarmEvent(alarmEvent("raised", t0, 1));
  f.runTo(t0 + 2 * kMinuteMs + kSecondMs);
  EXPECT_EQ(count(EventActionType::kEmail), 1);
  EXPECT_EQ(count(EventActionType::kBuzzer), 3);  // at 0, 1, 2 min
  EXPECT_EQ(f.manager->stats().pending_actions, 1u);

  // Shelved: the repeating buzzer stops, nothing is sent for the shelving itself.
  auto shelved = alarmEvent("shelved", f.clock.nowMs(), 1);
  shelved.alarm.shelved = true;
  f.manager->onAlarmEvent(shelved);
  EXPECT_EQ(f.manager->stats().pending_actions, 0u);
  // Cleared and raised again (a new id) while the shelf lasts: nothing.
  for (const auto& [kind, id] :
       {std::pair{"cleared", 1u}, {"raised", 2u}, {"escalated", 2u}, {"acknowledged", 2u}}) {
    auto e = alarmEvent(kind, f.clock.nowMs(), id);
    e.alarm.shelved = true;
    f.manager->onAlarmEvent(e);
  }
  f.runTo(t0 + kHourMs);
  EXPECT_EQ(count(EventActionType::kEmail), 1);
  EXPECT_EQ(count(EventActionType::kBuzzer), 3);

  // The shelf time is over and the alarm is still active: announced again as raised.
  f.manager->onAlarmEvent(alarmEvent("shelf_expired", f.clock.nowMs(), 2));
  EXPECT_EQ(count(EventActionType::kEmail), 2);
  EXPECT_EQ(count(EventActionType::kBuzzer), 4);
  EXPECT_EQ(f.sent.back().event.event, "alarm_raised");
  // Unshelved after it cleared (level none): nothing.
  auto gone = alarmEvent("unshelved", f.clock.nowMs(), 3);
  gone.alarm.level = alarms::Level::kNone;
  f.manager->onAlarmEvent(gone);
  EXPECT_EQ(f.sent.size(), 6u);
}

TEST(EventManager, RepeatCountWithoutAnAlarm) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "door";
  r.triggers = bits({Trigger::kInputChange});
  r.input_pattern = "aux1.di*";
  r.input_value = true;
  auto a = action(EventActionType::kEmail);
  a.repeat_ms = 10 * kMinuteMs;
  a.repeat_count = 2;
  a.subject = "{site}: {message} ({channel})";
  r.actions.push_back(a);
  cfg.rules.push_back(r);
  Fixture f(cfg);
  const TimeMs t0 = f.clock.nowMs();
  f.manager->onInputChange({"aux2.di1", "Other", true, t0});
  f.manager->onInputChange({"aux1.di3", "Door contact", false, t0});
  EXPECT_TRUE(f.sent.empty());
  f.manager->onInputChange({"aux1.di3", "Door contact", true, t0});
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].subject, "Room 1: input Door contact (aux1.di3) active (aux1.di3)");
  f.runTo(t0 + 2 * kHourMs);
  EXPECT_EQ(f.sent.size(), 3u);  // first + 2 repeats
}

TEST(EventManager, ScheduleDailyAndEvery) {
  model::EventsConfig cfg = baseConfig();
  EventRule daily;
  daily.name = "daily";
  daily.triggers = bits({Trigger::kSchedule});
  daily.daily_minute_utc = 7 * 60 + 30;
  daily.actions.push_back(action(EventActionType::kEmail));
  EventRule every;
  every.name = "quarter";
  every.triggers = bits({Trigger::kSchedule});
  every.every_min = 15;
  every.actions.push_back(action(EventActionType::kEmail));
  cfg.rules = {daily, every};
  Fixture f(cfg);
  // Start 2026-01-01T00:00:00Z; run two days.
  const TimeMs t0 = f.clock.nowMs();
  f.manager->tick(t0);
  f.runTo(t0 + 2 * kDayMs);
  int daily_count = 0;
  int every_count = 0;
  std::vector<TimeMs> daily_times;
  for (const auto& o : f.sent) {
    if (o.rule == "daily") {
      ++daily_count;
      daily_times.push_back(o.event.time_ms);
    } else {
      ++every_count;
    }
  }
  EXPECT_EQ(daily_count, 2);
  ASSERT_EQ(daily_times.size(), 2u);
  EXPECT_EQ(daily_times[0], t0 + 7 * kHourMs + 30 * kMinuteMs);
  EXPECT_EQ(daily_times[1], t0 + kDayMs + 7 * kHourMs + 30 * kMinuteMs);
  EXPECT_EQ(every_count, 2 * 24 * 4);
  EXPECT_EQ(f.sent[0].event.event, "schedule");
}

TEST(EventManager, SystemStartAndProtection) {
  model::EventsConfig cfg = baseConfig();
  EventRule start;
  start.name = "start";
  start.triggers = bits({Trigger::kSystemStart});
  start.actions.push_back(action(EventActionType::kEmail));
  EventRule trip;
  trip.name = "trip";
  trip.triggers = model::kProtectionTriggers;
  trip.min_level = 2;
  trip.string_number = 2;
  auto relay = action(EventActionType::kRelay);
  relay.channel = "aux1.do4";
  trip.actions.push_back(relay);
  cfg.rules = {start, trip};
  Fixture f(cfg);
  f.manager->onSystemStart(f.clock.nowMs(), "equalisd started");
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].event.event, "system_start");
  const TimeMs t = f.clock.nowMs();
  f.manager->onProtectionEvent(2, {t, "suspected", "suspected", false});   // warning only
  f.manager->onProtectionEvent(1, {t, "trip", "string 1 tripped", true});  // other string
  EXPECT_EQ(f.sent.size(), 1u);
  f.manager->onProtectionEvent(2, {t, "trip", "String 2: breaker OPENED", true});
  ASSERT_EQ(f.sent.size(), 2u);
  EXPECT_EQ(f.sent[1].type, EventActionType::kRelay);
  EXPECT_EQ(f.sent[1].target, "aux1.do4");
  EXPECT_EQ(f.sent[1].event.event, "protection_trip");
  EXPECT_EQ(f.sent[1].event.level, "alarm");
}

TEST(EventManager, RelayAndBuzzerGoThroughTheOutputHook) {
  model::EventsConfig cfg = baseConfig();
  EventRule r;
  r.name = "outputs";
  r.triggers = bits({Trigger::kAlarmRaised});
  auto relay = action(EventActionType::kRelay);
  relay.channel = "aux1.do1";
  auto buzzer = action(EventActionType::kBuzzer);
  buzzer.channel = "buzzer";
  buzzer.pulse_ms = 3000;
  r.actions = {relay, buzzer};
  cfg.rules.push_back(r);
  SimulatedClock clock;
  Manager::Options o;
  o.inline_delivery = true;
  Manager m(cfg, "Room 1", clock, o);
  // Without a hook: a clear error in the record.
  m.onAlarmEvent(alarmEvent("raised", clock.nowMs(), 1));
  auto d = m.takeDeliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_FALSE(d[0].ok);
  EXPECT_EQ(d[0].error, "no output hook (the I/O layer is not connected)");

  struct Call {
    std::string channel;
    bool on;
    DurationMs pulse_ms;
  };
  std::vector<Call> calls;
  m.setOutputHook([&](const std::string& ch, bool on, DurationMs pulse) -> Status {
    calls.push_back({ch, on, pulse});
    if (ch == "buzzer") {
      return makeError(ErrorCode::kNotFound, "no channel 'buzzer'");
    }
    return {};
  });
  m.onAlarmEvent(alarmEvent("raised", clock.nowMs(), 2));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].channel, "aux1.do1");
  EXPECT_TRUE(calls[0].on);
  EXPECT_EQ(calls[0].pulse_ms, 0);
  EXPECT_EQ(calls[1].channel, "buzzer");
  EXPECT_EQ(calls[1].pulse_ms, 3000);
  d = m.takeDeliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(d[0].ok);
  EXPECT_EQ(describe(d[0]),
            "relay to aux1.do1 set (on) [rule 'outputs', alarm_raised block.voltage_high/1/3]");
  EXPECT_FALSE(d[1].ok);
  EXPECT_EQ(d[1].error, "no channel 'buzzer'");
}

TEST(EventManager, SyslogByDefaultForEveryAlarmWhenNoRuleUsesIt) {
  model::EventsConfig cfg = baseConfig();
  ASSERT_TRUE(model::parseSyslogTarget("udp://127.0.0.1:5514", cfg.syslog).ok());
  cfg.syslog.hostname = "bms1";
  Fixture f(cfg);
  EXPECT_TRUE(f.manager->active());
  f.manager->onAlarmEvent(alarmEvent("raised", 1'767'225'600'000, 9));
  ASSERT_EQ(f.sent.size(), 1u);
  EXPECT_EQ(f.sent[0].rule, "syslog (all alarms)");
  EXPECT_EQ(f.sent[0].text,
            "<130>1 2026-01-01T00:00:00.000Z bms1 equalisd 77 alarm_raised [equalis@32473 "
            "event=\"alarm_raised\" level=\"alarm\" rule=\"block.voltage_high\" "
            "key=\"block.voltage_high/1/3\" string=\"1\" block=\"3\" value=\"14.52\" "
            "threshold=\"14.4\" site=\"Room 1\"] String 1, block 3: voltage 14.52 V above alarm "
            "threshold 14.40 V");
  f.manager->onAlarmEvent(alarmEvent("cleared", 1'767'225'660'000, 9));
  ASSERT_EQ(f.sent.size(), 2u);
  EXPECT_EQ(f.sent[1].text.rfind("<133>1 ", 0), 0u);  // local0.notice

  // all_alarms = false: nothing without a rule.
  cfg.syslog.all_alarms = false;
  Fixture g(cfg);
  g.manager->onAlarmEvent(alarmEvent("raised", 1'767'225'600'000, 9));
  EXPECT_TRUE(g.sent.empty());
}

// The settings page's "Send test": every email, syslog and webhook action of one rule, at once,
// in the rule's order, whatever its triggers, delays and repeats; commands and outputs are not
// run. Each delivery is recorded; an unknown rule is an error naming it.
TEST(EventManager, SendTestRunsTheRulesMessagesOnceAndNothingThatActsOnTheSite) {
  model::EventsConfig cfg = baseConfig();
  ASSERT_TRUE(model::parseSyslogTarget("udp://127.0.0.1:5514", cfg.syslog).ok());
  cfg.webhook.url = "https://hooks.example.com/x?token=s3cret";
  EventRule r;
  r.name = "night shift";
  r.triggers = bits({Trigger::kAlarmRaised});
  r.min_level = 2;
  auto mail = action(EventActionType::kEmail);
  mail.delay_ms = 10 * kMinuteMs;
  mail.repeat_ms = kHourMs;
  mail.subject = "[{site}] {level}: {message}";
  auto cmd = action(EventActionType::kCommand);
  cmd.command = "/usr/local/bin/page-oncall";
  auto relay = action(EventActionType::kRelay);
  relay.channel = "aux1.do1";
  r.actions = {mail, cmd, action(EventActionType::kSyslog), relay,
               action(EventActionType::kWebhook)};
  cfg.rules.push_back(r);
  Fixture f(cfg);
  bool hooked = false;
  f.manager->setOutputHook([&](const std::string&, bool, DurationMs) -> Status {
    hooked = true;
    return {};
  });

  const auto views = f.manager->rules();
  ASSERT_EQ(views.size(), 1u);  // a rule sends to syslog: no implicit syslog rule
  EXPECT_EQ(views[0].rule.name, "night shift");
  EXPECT_FALSE(views[0].implicit);
  EXPECT_EQ(views[0].targets,
            (std::vector<std::string>{"ops@example.com", "/usr/local/bin/page-oncall",
                                      "udp://127.0.0.1:5514", "aux1.do1",
                                      "https://hooks.example.com/x?token=***"}));

  auto results = f.manager->sendTest("night shift", "ada");
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_EQ(results->size(), 5u);
  const std::vector<std::string> order{"email", "command", "syslog", "relay", "webhook"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ((*results)[i].action, order[i]);
  }
  EXPECT_TRUE((*results)[0].run && (*results)[0].ok);
  EXPECT_FALSE((*results)[1].run);
  EXPECT_NE((*results)[1].text.find("not run by a test"), std::string::npos);
  EXPECT_TRUE((*results)[2].run && (*results)[2].ok);
  EXPECT_FALSE((*results)[3].run);
  EXPECT_TRUE((*results)[4].run && (*results)[4].ok);
  EXPECT_EQ((*results)[4].target, "https://hooks.example.com/x?token=***");
  EXPECT_FALSE(hooked);
  // Sent at once, without the delay, once: email, syslog and webhook.
  ASSERT_EQ(f.sent.size(), 3u);
  EXPECT_EQ(f.sent[0].subject, "[Room 1] info: Test of event rule 'night shift' sent by ada");
  EXPECT_NE(f.sent[1].text.find(" test [equalis@32473 event=\"test\" level=\"info\""),
            std::string::npos)
      << f.sent[1].text;
  f.runTo(f.clock.nowMs() + 2 * kHourMs);
  EXPECT_EQ(f.sent.size(), 3u);  // no repeat
  const auto d = f.manager->takeDeliveries();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].event, "test");

  const auto unknown = f.manager->sendTest("day shift", "ada");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message, "no event rule named 'day shift'");
}

TEST(EventManager, WorkerQueueDeliversAndRecords) {
  model::EventsConfig cfg = baseConfig();
  cfg.retries = 2;
  cfg.retry_backoff_ms = 1;
  EventRule r;
  r.name = "hook";
  r.triggers = bits({Trigger::kAlarmRaised});
  auto a = action(EventActionType::kWebhook);
  a.url = "http://127.0.0.1:1/hook";
  r.actions.push_back(a);
  cfg.rules.push_back(r);
  SimulatedClock clock;
  int calls = 0;
  Manager::Options o;
  o.sink = [&](const Outgoing& out) -> Result<std::string> {
    ++calls;
    EXPECT_NE(out.text.find("\"event\":\"alarm_raised\""), std::string::npos) << out.text;
    return makeError(ErrorCode::kUnavailable, "connection refused");
  };
  Manager m(cfg, "Room 1", clock, o);
  m.onAlarmEvent(alarmEvent("raised", clock.nowMs(), 1));
  ASSERT_TRUE(m.waitIdle(10000));
  EXPECT_EQ(calls, 3);
  const auto d = m.takeDeliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FALSE(d[0].ok);
  EXPECT_EQ(d[0].attempts, 3);
  EXPECT_EQ(describe(d[0]),
            "webhook to http://127.0.0.1:1/hook failed after 3 attempts: connection refused "
            "[rule 'hook', alarm_raised block.voltage_high/1/3]");
  m.stop(100);
  EXPECT_EQ(m.stats().failed, 1u);
}

}  // namespace
}  // namespace equalis::events
