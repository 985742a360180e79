#include "model/events.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

namespace equalis::model {

namespace {

struct TriggerName {
  std::string_view name;
  std::uint32_t bits;
};

constexpr std::uint32_t bit(Trigger t) {
  return static_cast<std::uint32_t>(t);
}

constexpr std::array<TriggerName, 16> kTriggers = {{
    {"alarm_raised", bit(Trigger::kAlarmRaised)},
    {"alarm_escalated", bit(Trigger::kAlarmEscalated)},
    {"alarm_lowered", bit(Trigger::kAlarmLowered)},
    {"alarm_cleared", bit(Trigger::kAlarmCleared)},
    {"alarm_acknowledged", bit(Trigger::kAlarmAcknowledged)},
    {"input_change", bit(Trigger::kInputChange)},
    {"schedule", bit(Trigger::kSchedule)},
    {"system_start", bit(Trigger::kSystemStart)},
    {"protection_suspected", bit(Trigger::kProtectionSuspected)},
    {"protection_alarm", bit(Trigger::kProtectionAlarm)},
    {"protection_trip", bit(Trigger::kProtectionTrip)},
    {"protection_cleared", bit(Trigger::kProtectionCleared)},
    {"protection_reset", bit(Trigger::kProtectionReset)},
    {"protection_charger_reduced", bit(Trigger::kProtectionChargerReduced)},
    {"alarm", kAlarmTriggers},
    {"protection", kProtectionTriggers},
}};

constexpr std::array<std::pair<std::string_view, EventActionType>, 6> kActionTypes = {{
    {"email", EventActionType::kEmail},
    {"syslog", EventActionType::kSyslog},
    {"webhook", EventActionType::kWebhook},
    {"command", EventActionType::kCommand},
    {"relay", EventActionType::kRelay},
    {"buzzer", EventActionType::kBuzzer},
}};

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// What follows "scheme://" up to the path: must name a host, with an optional valid port.
std::string authorityProblem(std::string_view url, std::string_view rest) {
  if (url.find_first_of(" \t\r\n") != std::string_view::npos) {
    return fmt::format("must not contain spaces or line breaks: \"{}\"", url);
  }
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      return fmt::format("no host in \"{}\"", url);
    }
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return fmt::format("expected ':PORT' after ']' in \"{}\"", url);
      }
      port = authority.substr(close + 2);
      if (port.empty()) {
        return fmt::format("port missing after ':' in \"{}\"", url);
      }
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon == 0 || authority.empty()) {
      return fmt::format("no host in \"{}\"", url);
    }
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return fmt::format("port missing after ':' in \"{}\"", url);
      }
    }
  }
  if (!port.empty()) {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        });
    const int value = digits ? std::stoi(std::string(port)) : 0;
    if (value < 1 || value > 65535) {
      return fmt::format("port must be between 1 and 65535, got \"{}\"", port);
    }
  }
  return {};
}

}  // namespace

std::optional<std::uint32_t> parseEventTrigger(std::string_view name) {
  for (const auto& t : kTriggers) {
    if (t.name == name) {
      return t.bits;
    }
  }
  return std::nullopt;
}

std::vector<std::string> eventTriggerNames() {
  std::vector<std::string> out;
  out.reserve(kTriggers.size());
  for (const auto& t : kTriggers) {
    out.emplace_back(t.name);
  }
  return out;
}

std::string_view eventTriggerName(Trigger t) {
  for (const auto& n : kTriggers) {
    if (n.bits == bit(t)) {
      return n.name;
    }
  }
  return "unknown";
}

std::optional<EventActionType> parseEventActionType(std::string_view name) {
  for (const auto& [n, t] : kActionTypes) {
    if (n == name) {
      return t;
    }
  }
  return std::nullopt;
}

std::string_view eventActionTypeName(EventActionType t) {
  for (const auto& [n, type] : kActionTypes) {
    if (type == t) {
      return n;
    }
  }
  return "unknown";
}

std::vector<std::string> eventActionTypeNames() {
  std::vector<std::string> out;
  out.reserve(kActionTypes.size());
  for (const auto& [n, t] : kActionTypes) {
    out.emplace_back(n);
  }
  return out;
}

const std::vector<std::string>& eventPlaceholders() {
  static const std::vector<std::string> names = {"site",   "message", "level", "rule",
                                                 "string", "block",   "value", "threshold",
                                                 "time",   "event",   "key",   "channel"};
  return names;
}

std::string unknownEventPlaceholder(std::string_view tmpl) {
  const auto& known = eventPlaceholders();
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      ++i;
      continue;
    }
    const auto close = tmpl.find('}', i + 1);
    if (close == std::string_view::npos) {
      return std::string(tmpl.substr(i));
    }
    const auto name = tmpl.substr(i + 1, close - i - 1);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return fmt::format("{{{}}}", name);
    }
    i = close;
  }
  return {};
}

std::string mailAddress(std::string_view mailbox) {
  const auto open = mailbox.rfind('<');
  const auto close = mailbox.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return std::string(trimmed(mailbox.substr(open + 1, close - open - 1)));
  }
  return std::string(trimmed(mailbox));
}

std::string mailboxProblem(std::string_view mailbox) {
  if (mailbox.find_first_of("\r\n") != std::string_view::npos) {
    return "must not contain line breaks";
  }
  const std::string addr = mailAddress(mailbox);
  if (addr.empty()) {
    return "is empty";
  }
  const auto at = addr.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == addr.size() ||
      addr.find('@', at + 1) != std::string::npos) {
    return fmt::format("\"{}\" is not an email address (local@domain)", addr);
  }
  if (addr.find_first_of(" \t<>,;\"") != std::string::npos) {
    return fmt::format("\"{}\" is not an email address (no spaces, brackets or commas)", addr);
  }
  return {};
}

std::string smtpUrlProblem(std::string_view url) {
  for (const std::string_view scheme : {"smtp://", "smtps://"}) {
    if (url.rfind(scheme, 0) == 0) {
      return authorityProblem(url, url.substr(scheme.size()));
    }
  }
  return fmt::format(
      "must start with smtp:// (port 587 or 25, STARTTLS) or smtps:// (port 465, TLS), got "
      "\"{}\"",
      url);
}

std::string httpUrlProblem(std::string_view url) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (url.rfind(scheme, 0) == 0) {
      return authorityProblem(url, url.substr(scheme.size()));
    }
  }
  return fmt::format("must start with http:// or https://, got \"{}\"", url);
}

Status parseSyslogTarget(std::string_view text, SyslogConfig& cfg) {
  std::string_view rest;
  SyslogTransport transport = SyslogTransport::kUdp;
  if (text.rfind("udp://", 0) == 0) {
    rest = text.substr(6);
  } else if (text.rfind("tcp://", 0) == 0) {
    transport = SyslogTransport::kTcp;
    rest = text.substr(6);
  } else {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("must be \"udp://HOST[:PORT]\" or \"tcp://HOST[:PORT]\", got \"{}\"", text));
  }
  if (const auto problem = authorityProblem(text, rest); !problem.empty()) {
    return makeError(ErrorCode::kInvalidArgument, problem);
  }
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("expected only HOST[:PORT] after the scheme, got \"{}\"", text));
  }
  std::string host;
  std::string_view port;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    host = std::string(rest.substr(1, close - 1));
    port = close + 1 < rest.size() ? rest.substr(close + 2) : std::string_view();
  } else {
    const auto colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  }
  cfg.transport = transport;
  cfg.host = std::move(host);
  cfg.port = port.empty() ? 514 : std::stoi(std::string(port));
  cfg.target = std::string(text);
  return {};
}

}  // namespace equalis::model
