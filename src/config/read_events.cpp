// [events], [events.smtp], [events.syslog], [events.webhook], [[events.rule]] and
// [[events.rule.action]]: the event manager (docs/events.md). Every key is looked up whether or
// not it applies, so that knownKeys() lists it; keys that do not apply to an action type are
// reported.
#include <filesystem>
#include <set>

#include "config/readers.hpp"

namespace equalis::config::detail {

namespace {

using model::EventActionType;
using model::Trigger;

constexpr double kTimeoutMinS = 1.0;
constexpr double kTimeoutMaxS = 600.0;
constexpr double kDelayMaxS = 7 * 86400.0;
constexpr double kPulseMaxS = 3600.0;
constexpr std::int64_t kQueueMax = 100000;
constexpr std::int64_t kRetriesMax = 10;
constexpr std::int64_t kRepeatCountMax = 100000;
constexpr std::int64_t kEveryMinMax = std::int64_t{7} * 24 * 60;
constexpr int kFacilityMax = 23;
constexpr std::size_t kHostnameMax = 255;
constexpr std::size_t kAppNameMax = 48;

const std::vector<std::string>& facilityNames() {
  static const std::vector<std::string> names = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
      "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
  return names;
}

bool printableAscii(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 127; });
}

// A list of strings: an array of strings, or one string.
std::optional<std::vector<std::string>> stringList(Section& s, std::string_view key) {
  const toml::node* node = s.lookup(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  if (const auto* one = node->as_string()) {
    return std::vector<std::string>{one->get()};
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    return s.wrongType(key, "an array of strings", *node);
  }
  std::vector<std::string> out;
  for (const auto& element : *array) {
    const auto* str = element.as_string();
    if (str == nullptr) {
      return s.reject(key, fmt::format("expected an array of strings, got an element that is {}",
                                       typeName(element)));
    }
    out.push_back(str->get());
  }
  return out;
}

std::optional<DurationMs> seconds(Section& s, std::string_view key, double min, double max) {
  if (const auto v = s.number(key, min, max, "s")) {
    return toMs(*v);
  }
  return std::nullopt;
}

void checkTemplate(Section& s, std::string_view key, const std::string& tmpl) {
  if (const auto bad = model::unknownEventPlaceholder(tmpl); !bad.empty()) {
    std::vector<std::string> names;
    for (const auto& p : model::eventPlaceholders()) {
      names.push_back("{" + p + "}");
    }
    s.issue(key, fmt::format("unknown placeholder {} (known: {}; write {{{{ for a literal brace)",
                             bad, joined(names)));
  }
}

void checkCaFile(Section& s, const std::string& path) {
  std::error_code ec;
  if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
    s.issue("ca_file", fmt::format("CA file '{}' does not exist or is not a file", path));
  }
}

void readSmtp(Section& events, model::SmtpConfig& smtp) {
  Section s = events.child("smtp");
  const auto url = s.string("url");
  const auto username = s.string("username");
  const auto password = s.secret("password");
  const auto from = s.string("from");
  const auto to = stringList(s, "to");
  const auto starttls = s.string("starttls");
  const auto ca_file = s.string("ca_file");
  const auto insecure = s.boolean("insecure");
  const auto timeout = seconds(s, "timeout_s", kTimeoutMinS, kTimeoutMaxS);
  const bool any =
      url || username || password || from || to || starttls || ca_file || insecure || timeout;
  if (!any) {
    s.finish();
    return;
  }
  if (!url) {
    if (!s.rejected("url")) {
      s.issue("url", "missing: the SMTP server, \"smtp://HOST:587\" or \"smtps://HOST:465\"");
    }
  } else if (const auto problem = model::smtpUrlProblem(*url); !problem.empty()) {
    s.issue("url", problem);
  } else {
    smtp.url = *url;
  }
  if (username && !password && !s.rejected("password")) {
    s.issue("password", "missing (username is set; AUTH needs both)");
  }
  if (password && !username && !s.rejected("username")) {
    s.issue("username", "missing (password is set; AUTH needs both)");
  }
  smtp.username = username.value_or("");
  smtp.password = password.value_or("");
  if (!from) {
    if (!s.rejected("from")) {
      s.issue("from", "missing: the sender address, e.g. \"Equalis <equalis@example.com>\"");
    }
  } else if (const auto problem = model::mailboxProblem(*from); !problem.empty()) {
    s.issue("from", problem);
  } else {
    smtp.from = *from;
  }
  if (to) {
    for (const auto& r : *to) {
      if (const auto problem = model::mailboxProblem(r); !problem.empty()) {
        s.issue("to", problem);
      }
    }
    smtp.to = *to;
  }
  if (starttls) {
    const std::string v = lower(*starttls);
    if (v == "required") {
      smtp.starttls = model::StartTls::kRequired;
    } else if (v == "opportunistic") {
      smtp.starttls = model::StartTls::kOpportunistic;
    } else if (v == "off") {
      smtp.starttls = model::StartTls::kOff;
    } else {
      s.issue("starttls",
              unknownName("starttls mode", *starttls, {"required", "opportunistic", "off"}));
    }
    if (url && url->rfind("smtps://", 0) == 0) {
      s.issue("starttls", "applies to smtp:// only (smtps:// is TLS from the start); remove it");
    }
  }
  if (ca_file) {
    checkCaFile(s, *ca_file);
    smtp.ca_file = *ca_file;
  }
  smtp.insecure = insecure.value_or(smtp.insecure);
  smtp.timeout_ms = timeout.value_or(smtp.timeout_ms);
  s.finish();
}

void readSyslog(Section& events, model::SyslogConfig& syslog) {
  Section s = events.child("syslog");
  const auto target = s.string("target");
  const toml::node* facility = s.lookup("facility");
  const auto hostname = s.string("hostname");
  const auto app_name = s.string("app_name");
  const auto all_alarms = s.boolean("all_alarms");
  const auto bom = s.boolean("utf8_bom");
  const auto timeout = seconds(s, "timeout_s", kTimeoutMinS, kTimeoutMaxS);
  if (target) {
    if (auto st = model::parseSyslogTarget(*target, syslog); !st) {
      s.issue("target", st.error().message);
    }
  } else if ((facility || hostname || app_name || all_alarms || bom || timeout) &&
             !s.rejected("target")) {
    s.issue("target", "missing: the collector, \"udp://HOST:514\" or \"tcp://HOST:514\"");
  }
  if (facility != nullptr) {
    if (const auto* i = facility->as_integer()) {
      if (i->get() < 0 || i->get() > kFacilityMax) {
        s.issue("facility",
                fmt::format("must be between 0 and {}, got {}", kFacilityMax, i->get()));
      } else {
        syslog.facility = static_cast<int>(i->get());
      }
    } else if (const auto* name = facility->as_string()) {
      const auto& names = facilityNames();
      const auto it = std::find(names.begin(), names.end(), lower(name->get()));
      if (it == names.end()) {
        s.issue("facility", unknownName("syslog facility", name->get(), names));
      } else {
        syslog.facility = static_cast<int>(it - names.begin());
      }
    } else {
      s.wrongType("facility", "a facility name (\"local0\") or number (0 to 23)", *facility);
    }
  }
  if (hostname) {
    if (hostname->size() > kHostnameMax || !printableAscii(*hostname)) {
      s.issue("hostname", fmt::format("must be 1 to {} printable ASCII characters without spaces",
                                      kHostnameMax));
    } else {
      syslog.hostname = *hostname;
    }
  }
  if (app_name) {
    if (app_name->empty() || app_name->size() > kAppNameMax || !printableAscii(*app_name)) {
      s.issue("app_name", fmt::format("must be 1 to {} printable ASCII characters without spaces",
                                      kAppNameMax));
    } else {
      syslog.app_name = *app_name;
    }
  }
  syslog.all_alarms = all_alarms.value_or(syslog.all_alarms);
  syslog.utf8_bom = bom.value_or(syslog.utf8_bom);
  syslog.timeout_ms = timeout.value_or(syslog.timeout_ms);
  s.finish();
}

void readWebhook(Section& events, model::WebhookConfig& webhook) {
  Section s = events.child("webhook");
  if (const auto url = s.string("url")) {
    if (const auto problem = model::httpUrlProblem(*url); !problem.empty()) {
      s.issue("url", problem);
    } else {
      webhook.url = *url;
    }
  }
  if (const auto token = s.secret("bearer_token")) {
    if (token->empty() || token->find_first_of(" \t\r\n") != std::string::npos) {
      s.issue("bearer_token", "must be non-empty, without spaces or line breaks");
    } else {
      webhook.bearer_token = *token;
    }
  }
  if (const auto ca = s.string("ca_file")) {
    checkCaFile(s, *ca);
    webhook.ca_file = *ca;
  }
  webhook.insecure = s.boolean("insecure").value_or(webhook.insecure);
  webhook.timeout_ms =
      seconds(s, "timeout_s", kTimeoutMinS, kTimeoutMaxS).value_or(webhook.timeout_ms);
  s.finish();
}

// "HH:MM" → minute of the day, or nullopt.
std::optional<int> parseHhMm(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const auto hh = text.substr(0, colon);
  const auto mm = text.substr(colon + 1);
  if (!digits(hh) || !digits(mm)) {
    return std::nullopt;
  }
  const int h = std::stoi(std::string(hh));
  const int m = std::stoi(std::string(mm));
  if (h > 23 || m > 59) {
    return std::nullopt;
  }
  return h * 60 + m;
}

// The triggers an until_cleared action can follow: they belong to an alarm that resolves.
constexpr std::uint32_t kResolvable = static_cast<std::uint32_t>(Trigger::kAlarmRaised) |
                                      static_cast<std::uint32_t>(Trigger::kAlarmEscalated) |
                                      static_cast<std::uint32_t>(Trigger::kAlarmLowered) |
                                      static_cast<std::uint32_t>(Trigger::kProtectionSuspected) |
                                      static_cast<std::uint32_t>(Trigger::kProtectionAlarm) |
                                      static_cast<std::uint32_t>(Trigger::kProtectionTrip);

void readAction(Section& a, const model::EventsConfig& events, const model::EventRule& rule,
                bool triggers_ok, model::EventAction& out, bool& ok) {
  const auto type = a.string("type");
  const auto delay = seconds(a, "delay_s", 0.0, kDelayMaxS);
  const auto repeat = seconds(a, "repeat_s", 0.0, kDelayMaxS);
  const auto repeat_count = a.integer("repeat_count", 0, kRepeatCountMax);
  const auto until_cleared = a.boolean("until_cleared");
  const auto to = stringList(a, "to");
  const auto subject = a.string("subject");
  const auto message = a.string("message");
  const auto url = a.string("url");
  const auto command = a.string("command");
  const auto timeout = seconds(a, "timeout_s", kTimeoutMinS, kTimeoutMaxS);
  const auto channel = a.string("channel");
  const auto on = a.boolean("on");
  const auto pulse = seconds(a, "pulse_s", 0.0, kPulseMaxS);

  if (!type) {
    if (!a.rejected("type")) {
      a.issue("type", fmt::format("missing: one of {}", joined(model::eventActionTypeNames())));
    }
    ok = false;
    return;
  }
  const auto parsed = model::parseEventActionType(lower(*type));
  if (!parsed) {
    a.issue("type", unknownName("action type", *type, model::eventActionTypeNames()));
    ok = false;
    return;
  }
  out.type = *parsed;
  const std::string type_name(model::eventActionTypeName(out.type));

  // Keys that only some types use.
  struct Use {
    const char* key;
    bool present;
    std::vector<EventActionType> types;
  };
  const std::vector<Use> uses = {
      {"to", to.has_value() || a.rejected("to"), {EventActionType::kEmail}},
      {"subject", subject.has_value() || a.rejected("subject"), {EventActionType::kEmail}},
      {"message",
       message.has_value() || a.rejected("message"),
       {EventActionType::kEmail, EventActionType::kSyslog, EventActionType::kWebhook,
        EventActionType::kCommand}},
      {"url", url.has_value() || a.rejected("url"), {EventActionType::kWebhook}},
      {"command", command.has_value() || a.rejected("command"), {EventActionType::kCommand}},
      {"timeout_s", timeout.has_value() || a.rejected("timeout_s"), {EventActionType::kCommand}},
      {"channel",
       channel.has_value() || a.rejected("channel"),
       {EventActionType::kRelay, EventActionType::kBuzzer}},
      {"on",
       on.has_value() || a.rejected("on"),
       {EventActionType::kRelay, EventActionType::kBuzzer}},
      {"pulse_s",
       pulse.has_value() || a.rejected("pulse_s"),
       {EventActionType::kRelay, EventActionType::kBuzzer}},
  };
  for (const auto& u : uses) {
    if (u.present && std::find(u.types.begin(), u.types.end(), out.type) == u.types.end()) {
      std::vector<std::string> names;
      for (const auto t : u.types) {
        names.emplace_back(model::eventActionTypeName(t));
      }
      a.issue(u.key, fmt::format("not used by a '{}' action (only by {}); remove it", type_name,
                                 joined(names)));
      ok = false;
    }
  }

  out.delay_ms = delay.value_or(0);
  out.repeat_ms = repeat.value_or(0);
  out.repeat_count = static_cast<int>(repeat_count.value_or(0));
  out.until_cleared = until_cleared.value_or(false);
  if (out.repeat_ms > 0 && out.repeat_ms < kSecondMs) {
    a.issue("repeat_s", "must be 0 (no repeat) or at least 1 s");
    ok = false;
  }
  if (out.repeat_count > 0 && out.repeat_ms == 0 && !a.rejected("repeat_s")) {
    a.issue("repeat_count", "needs repeat_s (the interval between repeats)");
    ok = false;
  }
  if (out.repeat_ms > 0 && out.repeat_count == 0 && !out.until_cleared) {
    a.issue("repeat_s",
            "repeats forever: set repeat_count, or until_cleared = true to stop when the alarm "
            "clears or is acknowledged");
    ok = false;
  }
  if (out.until_cleared && triggers_ok && (rule.triggers & ~kResolvable) != 0) {
    a.issue("until_cleared",
            "needs a rule triggered only by alarm_raised, alarm_escalated, alarm_lowered or "
            "protection_suspected / protection_alarm / protection_trip (an alarm that can clear)");
    ok = false;
  }
  if (subject) {
    checkTemplate(a, "subject", *subject);
    out.subject = *subject;
  }
  if (message) {
    checkTemplate(a, "message", *message);
    out.message = *message;
  }

  switch (out.type) {
    case EventActionType::kEmail:
      if (!events.smtp.configured()) {
        a.issue("type", "an email action needs an SMTP server: set url in [events.smtp]");
        ok = false;
      }
      if (to) {
        for (const auto& r : *to) {
          if (const auto problem = model::mailboxProblem(r); !problem.empty()) {
            a.issue("to", problem);
            ok = false;
          }
        }
        out.to = *to;
      }
      if (events.smtp.configured() && out.to.empty() && events.smtp.to.empty() &&
          !a.rejected("to")) {
        a.issue("to", "no recipients: set to here or in [events.smtp]");
        ok = false;
      }
      break;
    case EventActionType::kSyslog:
      if (!events.syslog.configured()) {
        a.issue("type", "a syslog action needs a collector: set target in [events.syslog]");
        ok = false;
      }
      break;
    case EventActionType::kWebhook:
      if (url) {
        if (const auto problem = model::httpUrlProblem(*url); !problem.empty()) {
          a.issue("url", problem);
          ok = false;
        } else {
          out.url = *url;
        }
      } else if (events.webhook.url.empty() && !a.rejected("url")) {
        a.issue("url", "missing: set url here or in [events.webhook]");
        ok = false;
      }
      break;
    case EventActionType::kCommand:
      if (!command || trim(*command).empty()) {
        if (!a.rejected("command")) {
          a.issue("command", "missing: the shell command to run (/bin/sh -c)");
        }
        ok = false;
      } else {
        out.command = *command;
      }
      out.timeout_ms = timeout.value_or(out.timeout_ms);
      break;
    case EventActionType::kRelay:
    case EventActionType::kBuzzer:
      if (channel && !trim(*channel).empty()) {
        out.channel = *channel;
      } else if (out.type == EventActionType::kBuzzer && !channel) {
        out.channel = "buzzer";
      } else if (!a.rejected("channel")) {
        a.issue("channel", "missing: the output channel id, e.g. \"aux1.do1\"");
        ok = false;
      }
      out.on = on.value_or(true);
      out.pulse_ms = pulse.value_or(0);
      if (out.pulse_ms > 0 && !out.on) {
        a.issue("pulse_s", "a pulse switches the output on; remove on = false");
        ok = false;
      }
      break;
  }
}

void readRule(Context& ctx, Section& r, const model::EventsConfig& events,
              const model::PlantConfig& plant, std::set<std::string>& names, model::EventRule& rule,
              bool& ok) {
  const auto name = r.string("name");
  const auto triggers = stringList(r, "trigger");
  const auto pattern = r.string("rule");
  const auto min_level = r.string("min_level");
  const auto string_number = r.integer("string", 1, kMaxStrings);
  const auto block_number = r.integer("block", 1, kMaxBlocksPerString);
  const auto input = r.string("input");
  const auto input_value = r.boolean("input_value");
  const auto daily_at = r.string("daily_at");
  const auto every_min = r.integer("every_min", 1, kEveryMinMax, "min");

  if (!name || trim(*name).empty()) {
    if (!r.rejected("name")) {
      r.issue("name", name ? "must not be empty" : "missing: a name for the event log");
    }
    ok = false;
  } else if (!names.insert(lower(trim(*name))).second) {
    r.issue("name", fmt::format("duplicate rule name \"{}\"", *name));
    ok = false;
  } else {
    rule.name = *name;
  }

  bool triggers_ok = true;
  if (!triggers || triggers->empty()) {
    if (!r.rejected("trigger")) {
      r.issue("trigger",
              fmt::format("missing: one or more of {}", joined(model::eventTriggerNames())));
    }
    triggers_ok = false;
  } else {
    for (const auto& t : *triggers) {
      if (const auto bits = model::parseEventTrigger(lower(t))) {
        rule.triggers |= *bits;
      } else {
        r.issue("trigger", unknownName("trigger", t, model::eventTriggerNames()));
        triggers_ok = false;
      }
    }
  }
  ok = ok && triggers_ok;

  const bool alarm_like =
      (rule.triggers & (model::kAlarmTriggers | model::kProtectionTriggers)) != 0;
  auto only_with = [&](const char* key, bool present, bool applies, const char* needs) {
    if (present && triggers_ok && !applies) {
      r.issue(key, fmt::format("only filters {} triggers; remove it or add such a trigger", needs));
      ok = false;
    }
  };
  only_with("rule", pattern.has_value(), alarm_like, "alarm and protection");
  only_with("min_level", min_level.has_value(), alarm_like, "alarm and protection");
  only_with("string", string_number.has_value(), alarm_like, "alarm and protection");
  only_with("block", block_number.has_value(), alarm_like, "alarm and protection");
  only_with("input", input.has_value(), rule.has(Trigger::kInputChange), "input_change");
  only_with("input_value", input_value.has_value(), rule.has(Trigger::kInputChange),
            "input_change");
  only_with("daily_at", daily_at.has_value(), rule.has(Trigger::kSchedule), "schedule");
  only_with("every_min", every_min.has_value(), rule.has(Trigger::kSchedule), "schedule");

  rule.rule_pattern = pattern.value_or("");
  if (min_level) {
    const std::string v = lower(*min_level);
    if (v == "warning") {
      rule.min_level = 1;
    } else if (v == "alarm") {
      rule.min_level = 2;
    } else {
      r.issue("min_level", unknownName("level", *min_level, {"warning", "alarm"}));
      ok = false;
    }
  }
  if (string_number) {
    if (static_cast<std::size_t>(*string_number) > plant.strings.size()) {
      r.issue("string",
              fmt::format("string {} does not exist (the plant has {} string{})", *string_number,
                          plant.strings.size(), plant.strings.size() == 1 ? "" : "s"));
      ok = false;
    }
    rule.string_number = static_cast<int>(*string_number);
  }
  if (block_number) {
    int most = 0;
    for (const auto& s : plant.strings) {
      most = std::max(most, s.block_count);
    }
    const auto s = rule.string_number;
    const int limit = s > 0 && static_cast<std::size_t>(s) <= plant.strings.size()
                          ? plant.strings[static_cast<std::size_t>(s - 1)].block_count
                          : most;
    if (*block_number > limit && !plant.strings.empty()) {
      r.issue("block",
              fmt::format("block {} does not exist ({} has {} blocks)", *block_number,
                          s > 0 ? fmt::format("string {}", s) : "the longest string", limit));
      ok = false;
    }
    rule.block_number = static_cast<int>(*block_number);
  }
  rule.input_pattern = input.value_or("");
  rule.input_value = input_value;
  if (daily_at) {
    if (const auto minute = parseHhMm(*daily_at)) {
      rule.daily_minute_utc = *minute;
    } else {
      r.issue("daily_at",
              fmt::format("must be \"HH:MM\" (UTC, 00:00 to 23:59), got \"{}\"", *daily_at));
      ok = false;
    }
  }
  rule.every_min = static_cast<int>(every_min.value_or(0));
  if (triggers_ok && rule.has(Trigger::kSchedule) && !daily_at && !every_min &&
      !r.rejected("daily_at") && !r.rejected("every_min")) {
    r.issue("trigger", "a schedule trigger needs daily_at = \"HH:MM\" (UTC) or every_min = N");
    ok = false;
  }

  bool any_action = false;
  forEachTable(ctx, r, "action", [&](Section& a, int /*index*/) {
    any_action = true;
    model::EventAction action;
    bool action_ok = true;
    readAction(a, events, rule, triggers_ok, action, action_ok);
    if (action_ok) {
      rule.actions.push_back(std::move(action));
    }
    ok = ok && action_ok;
  });
  if (!any_action && !r.rejected("action")) {
    r.issue("action", "no [[events.rule.action]]: a rule needs at least one action");
    ok = false;
  }
}

}  // namespace

void readEvents(Context& ctx, Section& top, model::PlantConfig& plant) {
  Section s = top.child("events");
  model::EventsConfig& events = plant.events;
  events.queue_size =
      static_cast<int>(s.integer("queue_size", 1, kQueueMax).value_or(events.queue_size));
  events.retries = static_cast<int>(s.integer("retries", 0, kRetriesMax).value_or(events.retries));
  events.retry_backoff_ms =
      seconds(s, "retry_backoff_s", 0.1, kTimeoutMaxS).value_or(events.retry_backoff_ms);
  readSmtp(s, events.smtp);
  readSyslog(s, events.syslog);
  readWebhook(s, events.webhook);
  std::set<std::string> names;
  forEachTable(ctx, s, "rule", [&](Section& r, int /*index*/) {
    model::EventRule rule;
    bool ok = true;
    readRule(ctx, r, events, plant, names, rule, ok);
    if (ok) {
      events.rules.push_back(std::move(rule));
    }
  });
  s.finish();
}

}  // namespace equalis::config::detail
