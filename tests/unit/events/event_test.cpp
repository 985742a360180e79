#include "events/event.hpp"

#include <gtest/gtest.h>

#include "model/events.hpp"

namespace equalis::events {
namespace {

Event sampleEvent() {
  Event e;
  e.event = "alarm_raised";
  e.level = "alarm";
  e.rule = "block.voltage_high";
  e.key = "block.voltage_high/2/17";
  e.string_number = 2;
  e.block_number = 17;
  e.value = 14.5;
  e.threshold = 14.4;
  e.message = "String 2, block 17: voltage 14.50 V above alarm threshold 14.40 V";
  e.time_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  return e;
}

TEST(EventTemplate, ExpandsEveryPlaceholder) {
  const Event e = sampleEvent();
  EXPECT_EQ(expandTemplate("{site}|{event}|{level}|{rule}|{string}|{block}|{value}|{threshold}|"
                           "{time}|{key}|{channel}",
                           e, "Room 1"),
            "Room 1|alarm_raised|alarm|block.voltage_high|2|17|14.5|14.4|"
            "2026-01-01T00:00:00.000Z|block.voltage_high/2/17|");
  EXPECT_EQ(expandTemplate("ALARM {message}", e, "x"), "ALARM " + e.message);
}

TEST(EventTemplate, MissingValuesAreEmptyAndBracesEscape) {
  Event e;
  e.event = "schedule";
  EXPECT_EQ(expandTemplate("[{string}/{block}] v={value} t={threshold}", e, "s"), "[/] v= t=");
  EXPECT_EQ(expandTemplate("{{literal}} {event}", e, "s"), "{literal} schedule");
  // Unknown placeholders and unclosed braces stay as written.
  EXPECT_EQ(expandTemplate("{nope} {event", e, "s"), "{nope} {event");
}

TEST(EventTemplate, UnknownPlaceholderIsFound) {
  EXPECT_EQ(model::unknownEventPlaceholder("{site} {message}"), "");
  EXPECT_EQ(model::unknownEventPlaceholder("{site} {mesage}"), "{mesage}");
  EXPECT_EQ(model::unknownEventPlaceholder("{{not one}} {value}"), "");
  EXPECT_EQ(model::unknownEventPlaceholder("oops {site"), "{site");
}

TEST(EventGlob, MatchesLikeAShell) {
  EXPECT_TRUE(globMatch("block.*", "block.voltage_high"));
  EXPECT_FALSE(globMatch("block.*", "string.voltage_high"));
  EXPECT_TRUE(globMatch("*voltage*", "string.voltage_low"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("aux?.di*", "aux1.di3"));
  EXPECT_FALSE(globMatch("aux?.di*", "aux10.di3"));
  EXPECT_TRUE(globMatch("block.comm_lost", "block.comm_lost"));
  EXPECT_FALSE(globMatch("block.comm_lost", "block.comm_lost2"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYbc"));
}

TEST(EventSeverity, FollowsTheLevel) {
  Event e = sampleEvent();
  EXPECT_EQ(severityOf(e), Severity::kCritical);
  e.level = "warning";
  EXPECT_EQ(severityOf(e), Severity::kWarning);
  e.level = "cleared";
  EXPECT_EQ(severityOf(e), Severity::kNotice);
  e.level = "info";
  EXPECT_EQ(severityOf(e), Severity::kInformational);
}

TEST(EventNumber, ShortForm) {
  EXPECT_EQ(formatNumber(14.2), "14.2");
  EXPECT_EQ(formatNumber(1.0), "1");
  EXPECT_EQ(formatNumber(0.0004), "0");
  EXPECT_EQ(formatNumber(-2.5), "-2.5");
  EXPECT_EQ(formatNumber(13.6199999), "13.62");
}

}  // namespace
}  // namespace equalis::events

namespace equalis::events {
namespace {

TEST(Redact, CredentialsAreMasked) {
  EXPECT_EQ(redactSecrets("https://ops:s3cret@hooks.example.org/bms?token=abc123&site=1"),
            "https://ops:***@hooks.example.org/bms?token=***&site=1");
  EXPECT_EQ(redactSecrets("https://hooks.example.org/x?api_key=K&Signature=S"),
            "https://hooks.example.org/x?api_key=***&Signature=***");
  EXPECT_EQ(redactSecrets("curl -u admin:hunter2 -H 'Authorization: Bearer eyJabc' https://x"),
            "curl -u admin:*** -H 'Authorization: Bearer ***' https://x");
  EXPECT_EQ(redactSecrets("/usr/local/bin/notify --password=pw1 --level {level}"),
            "/usr/local/bin/notify --password=*** --level {level}");
  // Nothing secret: unchanged.
  EXPECT_EQ(redactSecrets("https://hooks.example.org/bms?site=1"),
            "https://hooks.example.org/bms?site=1");
  EXPECT_EQ(redactSecrets("aux1.relay3"), "aux1.relay3");
}

}  // namespace
}  // namespace equalis::events
