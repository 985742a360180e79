// [events] configuration: what is read into model::EventsConfig and what is rejected, with which
// message.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace equalis::config {
namespace {

const std::string kPlant = "[[string]]\nblocks = 8\n[[string]]\nblocks = 4\n";

LoadResult parse(const std::string& events) {
  return parseConfig(kPlant + events, "t.toml");
}

std::string dump(const LoadResult& r) {
  return r.describe("t.toml");
}

// The one issue of a result ("key: message"), or all of them.
TEST(ConfigEvents, NothingConfiguredIsValidAndEmpty) {
  const auto r = parse("");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.config->events.rules.empty());
  EXPECT_FALSE(r.config->events.smtp.configured());
  EXPECT_FALSE(r.config->events.syslog.configured());
}

TEST(ConfigEvents, ReadsAFullExample) {
  const auto r = parse(R"(
[events]
queue_size = 64
retries = 2
retry_backoff_s = 0.5

[events.smtp]
url = "smtp://mail.example.com:587"
username = "equalis"
password = "secret"
from = "Equalis <equalis@example.com>"
to = ["ops@example.com", "Night <night@example.com>"]
starttls = "opportunistic"
insecure = true
timeout_s = 20

[events.syslog]
target = "tcp://10.0.0.5:6514"
facility = "local3"
hostname = "bms-1"
app_name = "equalis"
all_alarms = false
utf8_bom = true

[events.webhook]
url = "https://hooks.example.com/equalis"
bearer_token = "abc123"
timeout_s = 5

[[events.rule]]
name = "Voltage alarms to ops"
trigger = ["alarm_raised", "alarm_escalated"]
rule = "block.voltage_*"
min_level = "alarm"
string = 1
block = 8

[[events.rule.action]]
type = "email"
subject = "[{site}] {level}: {message}"
delay_s = 60

[[events.rule.action]]
type = "buzzer"
pulse_s = 2
repeat_s = 30
until_cleared = true

[[events.rule]]
name = "door"
trigger = "input_change"
input = "aux1.di*"
input_value = true

[[events.rule.action]]
type = "relay"
channel = "aux1.do2"
on = false

[[events.rule.action]]
type = "command"
command = "logger door opened"
timeout_s = 10

[[events.rule]]
name = "daily"
trigger = "schedule"
daily_at = "07:30"

[[events.rule.action]]
type = "webhook"

[[events.rule.action]]
type = "syslog"
message = "daily check {time}"
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& e = r.config->events;
  EXPECT_EQ(e.queue_size, 64);
  EXPECT_EQ(e.retries, 2);
  EXPECT_EQ(e.retry_backoff_ms, 500);
  EXPECT_EQ(e.smtp.url, "smtp://mail.example.com:587");
  EXPECT_EQ(e.smtp.username, "equalis");
  EXPECT_EQ(e.smtp.to.size(), 2u);
  EXPECT_EQ(e.smtp.starttls, model::StartTls::kOpportunistic);
  EXPECT_TRUE(e.smtp.insecure);
  EXPECT_EQ(e.smtp.timeout_ms, 20000);
  EXPECT_EQ(e.syslog.transport, model::SyslogTransport::kTcp);
  EXPECT_EQ(e.syslog.host, "10.0.0.5");
  EXPECT_EQ(e.syslog.port, 6514);
  EXPECT_EQ(e.syslog.facility, 19);
  EXPECT_EQ(e.syslog.hostname, "bms-1");
  EXPECT_FALSE(e.syslog.all_alarms);
  EXPECT_TRUE(e.syslog.utf8_bom);
  EXPECT_EQ(e.webhook.bearer_token, "abc123");
  ASSERT_EQ(e.rules.size(), 3u);
  const auto& v = e.rules[0];
  EXPECT_EQ(v.name, "Voltage alarms to ops");
  EXPECT_TRUE(v.has(model::Trigger::kAlarmRaised));
  EXPECT_TRUE(v.has(model::Trigger::kAlarmEscalated));
  EXPECT_FALSE(v.has(model::Trigger::kAlarmCleared));
  EXPECT_EQ(v.rule_pattern, "block.voltage_*");
  EXPECT_EQ(v.min_level, 2);
  EXPECT_EQ(v.string_number, 1);
  EXPECT_EQ(v.block_number, 8);
  ASSERT_EQ(v.actions.size(), 2u);
  EXPECT_EQ(v.actions[0].delay_ms, 60000);
  EXPECT_EQ(v.actions[1].type, model::EventActionType::kBuzzer);
  EXPECT_EQ(v.actions[1].channel, "buzzer");
  EXPECT_EQ(v.actions[1].pulse_ms, 2000);
  EXPECT_EQ(v.actions[1].repeat_ms, 30000);
  EXPECT_TRUE(v.actions[1].until_cleared);
  const auto& door = e.rules[1];
  EXPECT_EQ(door.input_pattern, "aux1.di*");
  ASSERT_TRUE(door.input_value.has_value());
  EXPECT_TRUE(*door.input_value);
  EXPECT_FALSE(door.actions[0].on);
  EXPECT_EQ(door.actions[1].timeout_ms, 10000);
  EXPECT_EQ(e.rules[2].daily_minute_utc, 7 * 60 + 30);
}

struct Bad {
  const char* toml;
  const char* expected;  // "key: message" substring
};

class ConfigEventsRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(ConfigEventsRejects, WithAClearMessage) {
  const auto r = parse(GetParam().toml);
  ASSERT_FALSE(r.ok()) << "accepted:\n" << GetParam().toml;
  EXPECT_NE(r.issueLines().find(GetParam().expected), std::string::npos)
      << "got:\n"
      << r.issueLines() << "\nexpected: " << GetParam().expected;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigEventsRejects,
    ::testing::Values(
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm_raisd'\n[[events.rule.action]]\n"
            "type='buzzer'\n",
            "events.rule[1].trigger: unknown trigger \"alarm_raisd\" (known: alarm_raised"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm_raisd'\n[[events.rule.action]]\n"
            "type='buzzer'\n",
            "did you mean 'alarm_raised'?"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='email'\n",
            "events.rule[1].action[1].type: an email action needs an SMTP server: set url in "
            "[events.smtp]"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='syslog'\n",
            "events.rule[1].action[1].type: a syslog action needs a collector"},
        Bad{"[events.smtp]\nurl='http://mail:25'\nfrom='a@b.c'\n",
            "events.smtp.url: must start with smtp://"},
        Bad{"[events.smtp]\nurl='smtp://mail:99999'\nfrom='a@b.c'\n",
            "events.smtp.url: port must be between 1 and 65535"},
        Bad{"[events.smtp]\nurl='smtp://mail'\n", "events.smtp.from: missing"},
        Bad{"[events.smtp]\nurl='smtp://mail'\nfrom='a@b.c'\nto=['nobody']\n",
            "events.smtp.to: \"nobody\" is not an email address"},
        Bad{"[events.smtp]\nurl='smtp://mail'\nfrom='a@b.c'\nusername='u'\n",
            "events.smtp.password: missing (username is set"},
        Bad{"[events.smtp]\nurl='smtps://mail'\nfrom='a@b.c'\nstarttls='required'\n",
            "events.smtp.starttls: applies to smtp:// only"},
        Bad{"[events.smtp]\nurl='smtp://mail'\nfrom='a@b.c'\nstarttls='maybe'\n",
            "events.smtp.starttls: unknown starttls mode \"maybe\""},
        Bad{"[events.smtp]\nurl='smtp://mail'\nfrom='a@b.c'\nca_file='/nonexistent/ca.pem'\n",
            "events.smtp.ca_file: CA file '/nonexistent/ca.pem' does not exist"},
        Bad{"[events.smtp]\nurl='smtp://mail'\nfrom='a@b.c'\n[[events.rule]]\nname='x'\n"
            "trigger='alarm'\n[[events.rule.action]]\ntype='email'\n",
            "events.rule[1].action[1].to: no recipients"},
        Bad{"[events.syslog]\ntarget='10.0.0.1:514'\n",
            "events.syslog.target: must be \"udp://HOST[:PORT]\" or \"tcp://HOST[:PORT]\""},
        Bad{"[events.syslog]\nfacility='local9'\ntarget='udp://x'\n",
            "events.syslog.facility: unknown syslog facility \"local9\""},
        Bad{"[events.syslog]\nfacility=24\ntarget='udp://x'\n",
            "events.syslog.facility: must be between 0 and 23"},
        Bad{"[events.syslog]\napp_name='equalis d'\ntarget='udp://x'\n",
            "events.syslog.app_name: must be 1 to 48 printable ASCII"},
        Bad{"[events.webhook]\nurl='ftp://x'\n", "events.webhook.url: must start with http://"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\n"
            "type='webhook'\n",
            "events.rule[1].action[1].url: missing: set url here or in [events.webhook]"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='schedule'\ndaily_at='25:00'\n"
            "[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].daily_at: must be \"HH:MM\" (UTC, 00:00 to 23:59), got \"25:00\""},
        Bad{"[[events.rule]]\nname='x'\ntrigger='schedule'\n[[events.rule.action]]\n"
            "type='buzzer'\n",
            "events.rule[1].trigger: a schedule trigger needs daily_at"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm_raised'\ndaily_at='07:00'\n"
            "[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].daily_at: only filters schedule triggers"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='system_start'\nstring=1\n"
            "[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].string: only filters alarm and protection triggers"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\nstring=3\n[[events.rule.action]]\n"
            "type='buzzer'\n",
            "events.rule[1].string: string 3 does not exist (the plant has 2 strings)"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\nstring=2\nblock=5\n"
            "[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].block: block 5 does not exist (string 2 has 4 blocks)"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\nmin_level='critical'\n"
            "[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].min_level: unknown level \"critical\""},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n", "events.rule[1].action: no "},
        Bad{"[[events.rule]]\ntrigger='alarm'\n[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[1].name: missing"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='buzzer'\n"
            "[[events.rule]]\nname='X'\ntrigger='alarm'\n[[events.rule.action]]\ntype='buzzer'\n",
            "events.rule[2].name: duplicate rule name \"X\""},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='sms'\n",
            "events.rule[1].action[1].type: unknown action type \"sms\""},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='buzzer'\n"
            "url='http://x'\n",
            "events.rule[1].action[1].url: not used by a 'buzzer' action (only by webhook)"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\ntype='relay'\n",
            "events.rule[1].action[1].channel: missing"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\n"
            "type='command'\n",
            "events.rule[1].action[1].command: missing"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm_raised'\n[[events.rule.action]]\n"
            "type='buzzer'\nrepeat_s=30\n",
            "events.rule[1].action[1].repeat_s: repeats forever"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='system_start'\n[[events.rule.action]]\n"
            "type='buzzer'\nrepeat_s=30\nuntil_cleared=true\n",
            "events.rule[1].action[1].until_cleared: needs a rule triggered only by"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\n"
            "type='command'\ncommand='true'\nmessage='{sight}'\n",
            "events.rule[1].action[1].message: unknown placeholder {sight}"},
        Bad{"[[events.rule]]\nname='x'\ntrigger='alarm'\n[[events.rule.action]]\n"
            "type='buzzer'\ndelay='5'\n",
            "events.rule[1].action[1].delay: unknown key, did you mean 'delay_s'?"},
        Bad{"[events]\nretries=11\n", "events.retries: must be between 0 and 10"}));

TEST(ConfigEvents, KnownKeysListTheRuleAndActionKeys) {
  const auto keys = knownKeys();
  for (const char* key : {"events", "events.queue_size", "events.smtp.url", "events.smtp.starttls",
                          "events.syslog.target", "events.syslog.facility",
                          "events.webhook.bearer_token", "events.rule", "events.rule.trigger",
                          "events.rule.daily_at", "events.rule.action", "events.rule.action.type",
                          "events.rule.action.until_cleared", "events.rule.action.pulse_s"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
}

}  // namespace
}  // namespace equalis::config
