// What the event manager reacts to, flattened into one record that message templates, syslog
// severities, webhook bodies and command environments are made from. See docs/events.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace equalis::events {

struct Event {
  std::string event;  // trigger name: "alarm_raised", "input_change", "schedule", "system_start", …
  std::string level;           // "alarm", "warning", "cleared", "info"
  std::string rule;            // alarm rule id ("block.voltage_high"); "" for other events
  std::string key;             // alarm key ("block.voltage_high/1/17") or "protection/1"
  std::uint32_t alarm_id = 0;  // unique per raised alarm; 0 = not an alarm
  int string_number = 0;       // 1-based, 0 = none
  int block_number = 0;        // 1-based, 0 = none
  std::optional<double> value;
  std::optional<double> threshold;
  std::string message;
  std::string channel;  // input_change: the input's channel id
  TimeMs time_ms = 0;
};

// RFC 5424 severities.
enum class Severity {
  kEmergency = 0,
  kAlert = 1,
  kCritical = 2,
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInformational = 6,
  kDebug = 7
};

// alarm → critical, warning → warning, cleared (and acknowledged, reset) → notice, else info.
Severity severityOf(const Event& e);

// Expands {site}, {message}, {level}, {rule}, {string}, {block}, {value}, {threshold}, {time},
// {event}, {key}, {channel}. "{{" and "}}" are literal braces; an unknown placeholder is kept as
// written. Missing numbers expand to "" ({block} of a string alarm, {value} of a schedule).
std::string expandTemplate(std::string_view tmpl, const Event& e, std::string_view site);
// Shell-style glob: '*' any run, '?' one character, everything else literal (case-sensitive).
bool globMatch(std::string_view pattern, std::string_view text);

// A number as shown in messages: up to 3 decimals, trailing zeros dropped ("14.2", "1").
std::string formatNumber(double v);

// `text` (an action's target: a webhook URL, a command line) with credentials masked as "***":
// the password of a URL's user info, values of query or key=value parameters named like a
// secret (token, key, secret, password, pass, pwd, sig, auth), "Bearer …", and `-u user:pass` /
// `--user user:pass`. For logs, the event log and the API, which must not show secrets.
std::string redactSecrets(std::string_view text);

}  // namespace equalis::events
