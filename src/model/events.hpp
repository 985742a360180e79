// Configuration of the event manager: triggers → actions (email, syslog, relays, buzzer,
// webhooks, commands). See docs/events.md. Read from [events], [events.smtp], [events.syslog],
// [events.webhook] and [[events.rule]] by src/config/read_events.cpp, which validates it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::model {

enum class StartTls {
  kRequired,       // smtp://: STARTTLS or fail (the default)
  kOpportunistic,  // smtp://: STARTTLS when the server offers it, else plain text
  kOff,            // smtp://: never (plain text; only for a relay on the same host)
};

struct SmtpConfig {
  std::string url;  // "smtp://mail.example.com:587" or "smtps://mail.example.com:465"; "" = none
  std::string username;  // AUTH when set
  std::string password;
  std::string from;             // "Equalis <equalis@example.com>" or a bare address
  std::vector<std::string> to;  // default recipients of email actions
  StartTls starttls = StartTls::kRequired;
  std::string ca_file;    // PEM bundle to verify the server with; "" = the system's
  bool insecure = false;  // skip certificate and host name verification (test servers only)
  DurationMs timeout_ms = 30 * kSecondMs;
  bool configured() const { return !url.empty(); }

  bool operator==(const SmtpConfig&) const = default;
};

enum class SyslogTransport { kUdp, kTcp };

struct SyslogConfig {
  std::string target;  // "udp://host:port" or "tcp://host:port"; "" = none
  SyslogTransport transport = SyslogTransport::kUdp;
  std::string host;
  int port = 514;
  int facility = 16;     // RFC 5424 facility code, 16 = local0
  std::string hostname;  // HOSTNAME field; "" = the machine's host name
  std::string app_name = "equalisd";
  // Every alarm and protection event goes to syslog when no rule has a syslog action.
  bool all_alarms = true;
  // Put the UTF-8 BOM before MSG (RFC 5424 MSG-UTF8). Off by default: many collectors show it
  // as stray bytes; the text is UTF-8 either way.
  bool utf8_bom = false;
  DurationMs timeout_ms = 5 * kSecondMs;  // TCP connect and send
  bool configured() const { return !target.empty(); }

  bool operator==(const SyslogConfig&) const = default;
};

struct WebhookConfig {
  std::string url;           // default URL of webhook actions; "" = each action names its own
  std::string bearer_token;  // "Authorization: Bearer …" when set
  std::string ca_file;
  bool insecure = false;
  DurationMs timeout_ms = 10 * kSecondMs;

  bool operator==(const WebhookConfig&) const = default;
};

enum class EventActionType { kEmail, kSyslog, kWebhook, kCommand, kRelay, kBuzzer };

struct EventAction {
  EventActionType type = EventActionType::kEmail;
  DurationMs delay_ms = 0;     // wait this long after the trigger (cancelled when it resolves)
  DurationMs repeat_ms = 0;    // 0 = once
  int repeat_count = 0;        // repeats after the first run; 0 = unlimited (with until_cleared)
  bool until_cleared = false;  // repeat only while the triggering alarm is unresolved
  // email
  std::vector<std::string> to;  // empty = [events.smtp] to
  std::string subject;          // template; "" = the default subject
  // email, syslog, webhook, command: the text (template); "" = the default text
  std::string message;
  // webhook
  std::string url;  // "" = [events.webhook] url
  // command
  std::string command;  // run with /bin/sh -c
  DurationMs timeout_ms = 30 * kSecondMs;
  // relay, buzzer
  std::string channel;      // output channel id ("aux1.do1"); buzzer default "buzzer"
  bool on = true;           // state to set (or pulse to)
  DurationMs pulse_ms = 0;  // 0 = set and keep; > 0 = pulse for this long

  bool operator==(const EventAction&) const = default;
};

// What a rule reacts to. Names as in the file: see docs/events.md.
enum class Trigger : std::uint32_t {
  kAlarmRaised = 1u << 0,
  kAlarmEscalated = 1u << 1,
  kAlarmLowered = 1u << 2,
  kAlarmCleared = 1u << 3,
  kAlarmAcknowledged = 1u << 4,
  kInputChange = 1u << 5,
  kSchedule = 1u << 6,
  kSystemStart = 1u << 7,
  kProtectionSuspected = 1u << 8,
  kProtectionAlarm = 1u << 9,
  kProtectionTrip = 1u << 10,
  kProtectionCleared = 1u << 11,
  kProtectionReset = 1u << 12,
  kProtectionChargerReduced = 1u << 13,
};

struct EventRule {
  std::string name;
  std::uint32_t triggers = 0;  // bit set of Trigger
  // Filters (alarm and protection triggers): empty / 0 = any.
  std::string rule_pattern;  // glob on the alarm rule id: "block.*", "*voltage*"
  int min_level = 0;         // 0 any, 1 warning, 2 alarm (alarms::Level)
  int string_number = 0;     // 1-based
  int block_number = 0;      // 1-based
  // Input filter (input_change): glob on the channel id; value filter unset = any change.
  std::string input_pattern;
  std::optional<bool> input_value;
  // Schedule: daily at minute-of-day UTC (−1 = none) and/or every N minutes (0 = none).
  int daily_minute_utc = -1;
  int every_min = 0;
  std::vector<EventAction> actions;

  bool has(Trigger t) const { return (triggers & static_cast<std::uint32_t>(t)) != 0; }

  bool operator==(const EventRule&) const = default;
};

struct EventsConfig {
  SmtpConfig smtp;
  SyslogConfig syslog;
  WebhookConfig webhook;
  std::vector<EventRule> rules;
  int queue_size = 256;  // pending network deliveries; when full the oldest is dropped
  int retries = 3;       // further attempts of a failed network delivery
  DurationMs retry_backoff_ms = 2 * kSecondMs;  // doubles at each retry

  bool operator==(const EventsConfig&) const = default;
};

// Names as written in the configuration. "alarm" stands for all five alarm triggers and
// "protection" for all six protection triggers.
std::optional<std::uint32_t> parseEventTrigger(std::string_view name);
std::vector<std::string> eventTriggerNames();
// The name of one trigger bit ("alarm_raised").
std::string_view eventTriggerName(Trigger t);
inline constexpr std::uint32_t kAlarmTriggers = 0x1F;
inline constexpr std::uint32_t kProtectionTriggers = 0x3F00;
std::optional<EventActionType> parseEventActionType(std::string_view name);
std::string_view eventActionTypeName(EventActionType t);
std::vector<std::string> eventActionTypeNames();

// Message template placeholders ({site}, {message}, …) and the first unknown "{name}" of a
// template ("" when all are known; "{{" and "}}" are literal braces).
const std::vector<std::string>& eventPlaceholders();
std::string unknownEventPlaceholder(std::string_view tmpl);

// The bare address of "Name <addr>" or "addr" (trimmed).
std::string mailAddress(std::string_view mailbox);
// Why a mailbox is unusable, or "" (local@domain, no spaces or line breaks).
std::string mailboxProblem(std::string_view mailbox);
// Why a URL is unusable as an SMTP server / webhook, or "".
std::string smtpUrlProblem(std::string_view url);
std::string httpUrlProblem(std::string_view url);
// "udp://HOST[:PORT]" or "tcp://HOST[:PORT]" (HOST may be "[v6]"; port 514 by default) into
// cfg.transport, host and port.
Status parseSyslogTarget(std::string_view text, SyslogConfig& cfg);

}  // namespace equalis::model
