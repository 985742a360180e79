#include "events/manager.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/log.hpp"
#include "events/command.hpp"
#include "events/smtp.hpp"
#include "events/syslog.hpp"
#include "events/webhook.hpp"

namespace equalis::events {

namespace {

using model::EventActionType;
using model::Trigger;

constexpr std::size_t kRecentMax = 100;
constexpr std::size_t kCommandQueueSize = 32;
constexpr const char* kSdId = "equalis@32473";  // 32473: IANA's example enterprise number
constexpr const char* kImplicitSyslogRule = "syslog (all alarms)";
constexpr const char* kDefaultSubject = "[{site}] {level}: {message}";

std::uint32_t bit(Trigger t) {
  return static_cast<std::uint32_t>(t);
}

int levelRank(alarms::Level l) {
  return static_cast<int>(l);
}

bool isNetwork(EventActionType t) {
  return t == EventActionType::kEmail || t == EventActionType::kSyslog ||
         t == EventActionType::kWebhook;
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
    return "equalis";
  }
  return buf;
}

std::string joinedAddresses(const std::vector<std::string>& to) {
  std::string out;
  for (const auto& t : to) {
    out += (out.empty() ? "" : ", ") + model::mailAddress(t);
  }
  return out;
}

// The default email body: the message, then every field the event has.
std::string defaultBody(const Event& e, std::string_view site) {
  std::string body = e.message + "\n\n";
  auto line = [&](std::string_view label, const std::string& v) {
    if (!v.empty()) {
      body += fmt::format("{:<11}{}\n", label, v);
    }
  };
  line("Site:", std::string(site));
  line("Event:", e.event);
  line("Level:", e.level);
  line("Rule:", e.rule);
  line("Alarm key:", e.key);
  line("String:", e.string_number > 0 ? std::to_string(e.string_number) : "");
  line("Block:", e.block_number > 0 ? std::to_string(e.block_number) : "");
  line("Value:", e.value ? formatNumber(*e.value) : "");
  line("Threshold:", e.threshold ? formatNumber(*e.threshold) : "");
  line("Input:", e.channel);
  line("Time:", formatIso8601(e.time_ms));
  body += "\n-- \nequalisd event manager\n";
  return body;
}

std::string eventLabel(const Event& e) {
  return e.key.empty() ? e.event : fmt::format("{} {}", e.event, e.key);
}

}  // namespace

std::uint32_t alarmTrigger(const std::string& kind) {
  if (kind == "raised") {
    return bit(Trigger::kAlarmRaised);
  }
  if (kind == "escalated") {
    return bit(Trigger::kAlarmEscalated);
  }
  if (kind == "lowered") {
    return bit(Trigger::kAlarmLowered);
  }
  if (kind == "cleared") {
    return bit(Trigger::kAlarmCleared);
  }
  if (kind == "acknowledged") {
    return bit(Trigger::kAlarmAcknowledged);
  }
  return 0;
}

std::uint32_t protectionTrigger(const std::string& kind) {
  if (kind == "suspected") {
    return bit(Trigger::kProtectionSuspected);
  }
  if (kind == "alarm") {
    return bit(Trigger::kProtectionAlarm);
  }
  if (kind == "trip") {
    return bit(Trigger::kProtectionTrip);
  }
  if (kind == "cleared") {
    return bit(Trigger::kProtectionCleared);
  }
  if (kind == "reset") {
    return bit(Trigger::kProtectionReset);
  }
  if (kind == "charger_reduced") {
    return bit(Trigger::kProtectionChargerReduced);
  }
  return 0;
}

Manager::Manager(model::EventsConfig cfg, std::string site, Clock& clock)
    : Manager(std::move(cfg), std::move(site), clock, Options{}) {}

namespace {

// With a syslog collector and no rule that sends to it, every alarm goes there.
// An action's target as logs, the event log and the API show it: never with credentials, a
// command line cut to 60 characters.
std::string targetLabel(EventActionType type, const std::string& target) {
  std::string label = redactSecrets(target);
  if (type == EventActionType::kCommand && label.size() > 60) {
    label = label.substr(0, 57) + "...";
  }
  return label;
}

model::EventsConfig withImplicitRules(model::EventsConfig cfg) {
  const bool any_syslog = std::any_of(cfg.rules.begin(), cfg.rules.end(), [](const auto& r) {
    return std::any_of(r.actions.begin(), r.actions.end(),
                       [](const auto& a) { return a.type == EventActionType::kSyslog; });
  });
  if (cfg.syslog.configured() && cfg.syslog.all_alarms && !any_syslog) {
    model::EventRule r;
    r.name = kImplicitSyslogRule;
    r.triggers = model::kAlarmTriggers | model::kProtectionTriggers;
    model::EventAction a;
    a.type = EventActionType::kSyslog;
    r.actions.push_back(a);
    cfg.rules.push_back(std::move(r));
  }
  return cfg;
}

}  // namespace

Manager::Manager(model::EventsConfig cfg, std::string site, Clock& clock, Options options)
    : cfg_(withImplicitRules(std::move(cfg))),
      site_(std::move(site)),
      clock_(clock),
      options_(std::move(options)),
      hostname_(cfg_.syslog.hostname.empty() ? hostName() : cfg_.syslog.hostname),
      procid_(options_.procid.empty() ? std::to_string(::getpid()) : options_.procid) {
  schedule_period_.assign(cfg_.rules.size(), -1);
  every_period_.assign(cfg_.rules.size(), -1);
  if (cfg_.syslog.configured()) {
    syslog_ = std::make_shared<SyslogSender>(cfg_.syslog);
  }
  startWorkers();
}

// The worker threads the rules need (a reload may add one; none is removed before the stop).
void Manager::startWorkers() {
  bool network = false;
  bool commands = false;
  for (const auto& r : cfg_.rules) {
    for (const auto& a : r.actions) {
      network = network || isNetwork(a.type);
      commands = commands || a.type == EventActionType::kCommand;
    }
  }
  if (!options_.inline_delivery) {
    auto done = [this](Delivery d) { record(std::move(d)); };
    if (network && !network_) {
      network_ = std::make_unique<DeliveryQueue>(
          "network", clock_, static_cast<std::size_t>(std::max(cfg_.queue_size, 1)),
          cfg_.retry_backoff_ms, done);
    }
    if (commands && !commands_) {
      commands_ = std::make_unique<DeliveryQueue>("command", clock_, kCommandQueueSize, 0, done);
    }
  }
}

model::EventsConfig Manager::config() const {
  std::lock_guard lock(mutex_);
  return cfg_;
}

std::size_t Manager::ruleCount() const {
  std::lock_guard lock(mutex_);
  return cfg_.rules.size();
}

std::size_t Manager::reconfigure(model::EventsConfig cfg) {
  cfg = withImplicitRules(std::move(cfg));
  std::lock_guard lock(mutex_);
  cfg.queue_size = cfg_.queue_size;
  cfg.retry_backoff_ms = cfg_.retry_backoff_ms;
  const auto find_rule = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < cfg.rules.size(); ++i) {
      if (cfg.rules[i].name == name) {
        return i;
      }
    }
    return std::nullopt;
  };
  // Pending runs of an unchanged action go on under the rule's new index.
  std::vector<Pending> kept;
  std::size_t cancelled = 0;
  for (auto& p : pending_) {
    const auto& old_rule = cfg_.rules[p.rule];
    const auto j = find_rule(old_rule.name);
    if (j && p.action < cfg.rules[*j].actions.size() &&
        cfg.rules[*j].actions[p.action] == old_rule.actions[p.action]) {
      p.rule = *j;
      kept.push_back(std::move(p));
    } else {
      ++cancelled;
    }
  }
  pending_ = std::move(kept);
  // Schedules keep their last period by rule name, so a reload does not fire them again.
  std::vector<std::int64_t> schedule(cfg.rules.size(), -1);
  std::vector<std::int64_t> every(cfg.rules.size(), -1);
  for (std::size_t i = 0; i < cfg_.rules.size(); ++i) {
    if (const auto j = find_rule(cfg_.rules[i].name)) {
      schedule[*j] = schedule_period_[i];
      every[*j] = every_period_[i];
    }
  }
  schedule_period_ = std::move(schedule);
  every_period_ = std::move(every);
  if (!(cfg.syslog == cfg_.syslog)) {
    syslog_ = cfg.syslog.configured() ? std::make_shared<SyslogSender>(cfg.syslog) : nullptr;
  }
  hostname_ = cfg.syslog.hostname.empty() ? hostName() : cfg.syslog.hostname;
  cfg_ = std::move(cfg);
  if (!stopped_) {
    startWorkers();
  }
  if (cancelled > 0) {
    std::lock_guard records(records_mutex_);
    stats_.cancelled += cancelled;
  }
  return cancelled;
}

Manager::~Manager() {
  stop(0);
}

void Manager::setOutputHook(OutputHook hook) {
  std::lock_guard lock(mutex_);
  output_ = std::move(hook);
}

bool Manager::matches(const model::EventRule& r, const Event& e, std::uint32_t trigger,
                      int level_rank) const {
  if ((r.triggers & trigger) == 0) {
    return false;
  }
  const bool alarm_like = (trigger & (model::kAlarmTriggers | model::kProtectionTriggers)) != 0;
  if (alarm_like) {
    if (!r.rule_pattern.empty() && !globMatch(r.rule_pattern, e.rule)) {
      return false;
    }
    if (level_rank < r.min_level) {
      return false;
    }
    if (r.string_number != 0 && r.string_number != e.string_number) {
      return false;
    }
    if (r.block_number != 0 && r.block_number != e.block_number) {
      return false;
    }
  }
  if (trigger == bit(Trigger::kInputChange)) {
    if (!r.input_pattern.empty() && !globMatch(r.input_pattern, e.channel)) {
      return false;
    }
    if (r.input_value && e.value && (*e.value != 0) != *r.input_value) {
      return false;
    }
  }
  return true;
}

void Manager::dispatch(const Event& e, std::uint32_t trigger, const std::string& resolve_key,
                       int level_rank) {
  if (stopped_) {
    return;
  }
  for (std::size_t i = 0; i < cfg_.rules.size(); ++i) {
    if (!matches(cfg_.rules[i], e, trigger, level_rank)) {
      continue;
    }
    for (std::size_t j = 0; j < cfg_.rules[i].actions.size(); ++j) {
      start(i, j, e, resolve_key, e.time_ms);
    }
  }
}

void Manager::start(std::size_t rule, std::size_t action, const Event& e,
                    const std::string& resolve_key, TimeMs now_ms) {
  const auto& a = cfg_.rules[rule].actions[action];
  // One schedule per rule, action and alarm: a second trigger (escalated after raised) updates
  // the event that pending runs report instead of starting a second series.
  if (!resolve_key.empty()) {
    for (auto& p : pending_) {
      if (p.rule == rule && p.action == action && p.resolve_key == resolve_key) {
        p.event = e;
        return;
      }
    }
  }
  Pending p{rule, action, e, resolve_key, now_ms + a.delay_ms, 0};
  if (a.delay_ms > 0) {
    pending_.push_back(std::move(p));
    return;
  }
  run(p);
  p.runs = 1;
  const bool repeats =
      a.repeat_ms > 0 && (a.repeat_count > 0 || (a.until_cleared && !resolve_key.empty()));
  if (repeats) {
    p.due_ms = now_ms + a.repeat_ms;
    pending_.push_back(std::move(p));
  }
}

void Manager::resolve(const std::string& resolve_key) {
  const auto before = pending_.size();
  std::size_t cancelled = 0;
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Pending& p) {
                                  if (p.resolve_key != resolve_key) {
                                    return false;
                                  }
                                  const auto& a = cfg_.rules[p.rule].actions[p.action];
                                  if (p.runs == 0) {
                                    ++cancelled;
                                    return true;
                                  }
                                  return a.until_cleared;
                                }),
                 pending_.end());
  if (before != pending_.size()) {
    std::lock_guard lock(records_mutex_);
    stats_.cancelled += cancelled;
  }
}

void Manager::onAlarmEvent(const alarms::AlarmEvent& ae) {
  const auto& a = ae.alarm;
  // Shelving (docs/alarms.md#shelving): a shelved alarm is off the operators' display, so its
  // raise, escalation, lowering, clear or acknowledgement starts no action, and shelving it stops
  // its delayed and repeating ones. Back from the shelf while still active it is announced
  // again as raised.
  if (ae.kind == "unshelved" || ae.kind == "shelf_expired") {
    if (a.level != alarms::Level::kNone) {
      onAlarmEvent(alarms::AlarmEvent{ae.time_ms, "raised", a});
    }
    return;
  }
  if (ae.kind == "shelved" || a.shelved) {
    std::lock_guard lock(mutex_);
    const std::string key = fmt::format("alarm/{}", a.id);
    resolve(key);
    if (ae.kind == "cleared") {
      max_level_.erase(key);
    }
    return;
  }
  const std::uint32_t trigger = alarmTrigger(ae.kind);
  if (trigger == 0) {
    return;
  }
  std::lock_guard lock(mutex_);
  Event e;
  e.event = std::string(model::eventTriggerName(static_cast<Trigger>(trigger)));
  e.level = ae.kind == "cleared" ? "cleared" : std::string(alarms::levelName(a.level));
  e.rule = a.rule_id;
  e.key = a.key;
  e.alarm_id = a.id;
  e.string_number = a.string_number;
  e.block_number = a.block_number;
  e.value = a.value;
  e.threshold = a.threshold;
  e.message = a.message;
  e.time_ms = ae.time_ms;
  const std::string key = fmt::format("alarm/{}", a.id);
  int& seen = max_level_[key];
  seen = std::max(seen, levelRank(a.level));
  const int rank = seen;
  const bool resolving = ae.kind == "cleared" || ae.kind == "acknowledged";
  if (ae.kind == "cleared") {
    max_level_.erase(key);
  }
  if (resolving) {
    resolve(key);
  }
  dispatch(e, trigger, resolving ? std::string() : key, rank);
}

void Manager::onProtectionEvent(int string_number, const alarms::RunawayEvent& pe) {
  const std::uint32_t trigger = protectionTrigger(pe.kind);
  if (trigger == 0) {
    return;
  }
  std::lock_guard lock(mutex_);
  Event e;
  e.event = std::string(model::eventTriggerName(static_cast<Trigger>(trigger)));
  const bool resolving = pe.kind == "cleared" || pe.kind == "reset";
  e.level = resolving ? "cleared" : (pe.kind == "suspected" ? "warning" : "alarm");
  e.rule = "string.thermal_runaway";
  e.key = fmt::format("string.thermal_runaway/{}", string_number);
  e.string_number = string_number;
  e.message = pe.message;
  e.time_ms = pe.time_ms;
  const std::string key = fmt::format("protection/{}", string_number);
  int& seen = max_level_[key];
  seen = std::max(seen, resolving ? 0 : (pe.kind == "suspected" ? 1 : 2));
  const int rank = seen;
  if (resolving) {
    max_level_.erase(key);
    resolve(key);
  }
  dispatch(e, trigger, resolving ? std::string() : key, rank);
}

void Manager::onInputChange(const model::InputChange& c) {
  std::lock_guard lock(mutex_);
  Event e;
  e.event = "input_change";
  e.level = "info";
  e.channel = c.channel_id;
  e.value = c.value ? 1.0 : 0.0;
  e.message =
      c.name.empty()
          ? fmt::format("input {} {}", c.channel_id, c.value ? "active" : "inactive")
          : fmt::format("input {} ({}) {}", c.name, c.channel_id, c.value ? "active" : "inactive");
  e.time_ms = c.time_ms > 0 ? c.time_ms : clock_.nowMs();
  dispatch(e, bit(Trigger::kInputChange), {}, 0);
}

void Manager::onSystemStart(TimeMs now_ms, const std::string& message) {
  std::lock_guard lock(mutex_);
  Event e;
  e.event = "system_start";
  e.level = "info";
  e.message = message;
  e.time_ms = now_ms;
  dispatch(e, bit(Trigger::kSystemStart), {}, 0);
}

void Manager::tick(TimeMs now_ms) {
  std::lock_guard lock(mutex_);
  if (stopped_) {
    return;
  }
  // Schedules: a rule fires once when its period index moves on (never for periods before the
  // first tick, and once only after a gap).
  for (std::size_t i = 0; i < cfg_.rules.size(); ++i) {
    const auto& r = cfg_.rules[i];
    if (!r.has(Trigger::kSchedule)) {
      continue;
    }
    auto fire = [&](std::int64_t& last, std::int64_t period, std::string what) {
      if (last >= 0 && period > last) {
        Event e;
        e.event = "schedule";
        e.level = "info";
        e.message = fmt::format("scheduled event of rule '{}' ({})", r.name, what);
        e.time_ms = now_ms;
        if (matches(r, e, bit(Trigger::kSchedule), 0)) {
          for (std::size_t j = 0; j < r.actions.size(); ++j) {
            start(i, j, e, {}, now_ms);
          }
        }
      }
      last = std::max(last, period);
    };
    if (r.daily_minute_utc >= 0) {
      const auto offset = static_cast<TimeMs>(r.daily_minute_utc) * kMinuteMs;
      const std::int64_t period = (now_ms - offset) >= 0 ? (now_ms - offset) / kDayMs : -1;
      fire(schedule_period_[i], period,
           fmt::format("daily at {:02d}:{:02d} UTC", r.daily_minute_utc / 60,
                       r.daily_minute_utc % 60));
    }
    if (r.every_min > 0) {
      fire(every_period_[i], now_ms / (static_cast<TimeMs>(r.every_min) * kMinuteMs),
           fmt::format("every {} min", r.every_min));
    }
  }
  // Delayed and repeating actions that are due.
  for (std::size_t k = 0; k < pending_.size();) {
    Pending& p = pending_[k];
    if (p.due_ms > now_ms) {
      ++k;
      continue;
    }
    const auto& a = cfg_.rules[p.rule].actions[p.action];
    run(p);
    p.runs += 1;
    const int repeats_done = p.runs - 1;
    const bool more =
        a.repeat_ms > 0 && (a.repeat_count > 0 ? repeats_done < a.repeat_count
                                               : a.until_cleared && !p.resolve_key.empty());
    if (more) {
      // The next run keeps to the grid of the first: a late tick does not shift it.
      while (p.due_ms <= now_ms) {
        p.due_ms += a.repeat_ms;
      }
      ++k;
    } else {
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
}

Outgoing Manager::prepare(const model::EventRule& r, const model::EventAction& a,
                          const Event& e) const {
  Outgoing o;
  o.rule = r.name;
  o.type = a.type;
  o.event = e;
  switch (a.type) {
    case EventActionType::kEmail: {
      const auto& to = a.to.empty() ? cfg_.smtp.to : a.to;
      o.target = joinedAddresses(to);
      o.subject = expandTemplate(a.subject.empty() ? kDefaultSubject : a.subject, e, site_);
      o.text = a.message.empty() ? defaultBody(e, site_) : expandTemplate(a.message, e, site_);
      break;
    }
    case EventActionType::kSyslog: {
      SyslogMessage m;
      m.facility = cfg_.syslog.facility;
      m.severity = static_cast<int>(severityOf(e));
      m.time_ms = e.time_ms;
      m.hostname = hostname_;
      m.app_name = cfg_.syslog.app_name;
      m.procid = procid_;
      m.msgid = e.event;
      m.sd_id = kSdId;
      auto param = [&](const char* name, const std::string& v) {
        if (!v.empty()) {
          m.sd_params.emplace_back(name, v);
        }
      };
      param("event", e.event);
      param("level", e.level);
      param("rule", e.rule);
      param("key", e.key);
      param("string", e.string_number > 0 ? std::to_string(e.string_number) : "");
      param("block", e.block_number > 0 ? std::to_string(e.block_number) : "");
      param("value", e.value ? formatNumber(*e.value) : "");
      param("threshold", e.threshold ? formatNumber(*e.threshold) : "");
      param("channel", e.channel);
      param("site", site_);
      m.msg = expandTemplate(a.message.empty() ? "{message}" : a.message, e, site_);
      m.bom = cfg_.syslog.utf8_bom;
      o.target = cfg_.syslog.target;
      o.text = formatRfc5424(m);
      break;
    }
    case EventActionType::kWebhook:
      o.target = a.url.empty() ? cfg_.webhook.url : a.url;
      o.text = webhookBody(e, site_,
                           expandTemplate(a.message.empty() ? "{message}" : a.message, e, site_));
      break;
    case EventActionType::kCommand:
      o.target = a.command;
      o.text = expandTemplate(a.message.empty() ? "{message}" : a.message, e, site_);
      break;
    case EventActionType::kRelay:
    case EventActionType::kBuzzer:
      o.target = a.channel;
      o.text = a.pulse_ms > 0 ? fmt::format("pulse {} ms", a.pulse_ms) : (a.on ? "on" : "off");
      break;
  }
  return o;
}

// The work of one action for one event, with what the record says of it.
Job Manager::makeJob(const model::EventRule& r, const model::EventAction& a, const Event& e) const {
  Outgoing o = prepare(r, a, e);
  const std::string action_name(model::eventActionTypeName(a.type));
  const std::string target_label = targetLabel(a.type, o.target);
  Job job;
  job.rule = r.name;
  job.action = action_name;
  job.target = target_label;
  job.event = eventLabel(e);
  job.max_attempts = isNetwork(a.type) ? 1 + std::max(cfg_.retries, 0) : 1;

  if (options_.sink) {
    auto sink = options_.sink;
    job.run = [sink, o](const std::atomic<bool>&) { return sink(o); };
  } else {
    switch (a.type) {
      case EventActionType::kEmail: {
        MailMessage m{cfg_.smtp.from, a.to.empty() ? cfg_.smtp.to : a.to, o.subject, o.text};
        job.run = [smtp = cfg_.smtp, m](const std::atomic<bool>& abort) -> Result<std::string> {
          if (auto st = sendMail(smtp, m, &abort); !st) {
            return st.error();
          }
          return std::string();
        };
        break;
      }
      case EventActionType::kSyslog:
        job.run = [sender = syslog_,
                   frame = o.text](const std::atomic<bool>&) -> Result<std::string> {
          if (!sender) {
            return makeError(ErrorCode::kUnavailable, "no [events.syslog] target configured");
          }
          if (auto st = sender->send(frame); !st) {
            return st.error();
          }
          return std::string();
        };
        break;
      case EventActionType::kWebhook: {
        WebhookRequest req{o.target, cfg_.webhook.bearer_token, cfg_.webhook.ca_file,
                           cfg_.webhook.insecure, cfg_.webhook.timeout_ms};
        job.run = [req, body = o.text](const std::atomic<bool>& abort) -> Result<std::string> {
          if (auto st = postJson(req, body, &abort); !st) {
            return st.error();
          }
          return std::string();
        };
        break;
      }
      case EventActionType::kCommand: {
        const Environment env = eventEnvironment(e, site_, o.text);
        job.run = [cmd = a.command, env,
                   timeout = a.timeout_ms](const std::atomic<bool>& abort) -> Result<std::string> {
          auto result = runCommand(cmd, env, timeout, &abort);
          if (!result) {
            return result.error();
          }
          const std::string text = describe(*result, timeout);
          if (result->exit_status != 0) {
            return makeError(ErrorCode::kUnavailable, text);
          }
          return text;
        };
        break;
      }
      case EventActionType::kRelay:
      case EventActionType::kBuzzer: {
        job.run = [hook = output_, channel = a.channel, on = a.on,
                   pulse = a.pulse_ms](const std::atomic<bool>&) -> Result<std::string> {
          if (!hook) {
            return makeError(ErrorCode::kUnavailable,
                             "no output hook (the I/O layer is not connected)");
          }
          if (auto st = hook(channel, on, pulse); !st) {
            return st.error();
          }
          return pulse > 0 ? fmt::format("pulse {} ms", pulse) : std::string(on ? "on" : "off");
        };
        break;
      }
    }
  }

  return job;
}

void Manager::run(const Pending& p) {
  const auto& r = cfg_.rules[p.rule];
  const auto& a = r.actions[p.action];
  Job job = makeJob(r, a, p.event);
  {
    std::lock_guard lock(records_mutex_);
    stats_.triggered += 1;
  }
  // Relays and the buzzer act at once on this thread (the I/O layer only records the request);
  // so does everything in inline mode.
  const bool now = options_.inline_delivery || a.type == EventActionType::kRelay ||
                   a.type == EventActionType::kBuzzer;
  DeliveryQueue* queue = isNetwork(a.type) ? network_.get() : commands_.get();
  if (!now && queue != nullptr) {
    queue->push(std::move(job));
    return;
  }
  record(runNow(job));
}

// Runs a job on this thread, once: its delivery record.
Delivery Manager::runNow(const Job& job) const {
  static const std::atomic<bool> no_abort{false};
  Result<std::string> result = makeError(ErrorCode::kUnavailable, "not run");
  try {
    result = job.run(no_abort);
  } catch (const std::exception& ex) {
    result = makeError(ErrorCode::kUnavailable, fmt::format("internal error: {}", ex.what()));
  }
  Delivery d;
  d.time_ms = clock_.nowMs();
  d.rule = job.rule;
  d.action = job.action;
  d.target = job.target;
  d.event = job.event;
  d.ok = result.ok();
  d.error = result ? std::string() : result.error().message;
  d.detail = result ? result.value() : std::string();
  d.attempts = 1;
  return d;
}

void Manager::record(Delivery d) {
  const std::string text = describe(d);
  if (d.ok) {
    log::get("events")->info("{}", text);
  } else {
    log::get("events")->warn("{}", text);
  }
  std::lock_guard lock(records_mutex_);
  (d.ok ? stats_.delivered : stats_.failed) += 1;
  recent_.push_back(d);
  if (recent_.size() > kRecentMax) {
    recent_.erase(recent_.begin());
  }
  new_records_.push_back(std::move(d));
}

std::vector<Delivery> Manager::takeDeliveries() {
  std::lock_guard lock(records_mutex_);
  std::vector<Delivery> out;
  out.swap(new_records_);
  return out;
}

std::vector<Delivery> Manager::recentDeliveries() const {
  std::lock_guard lock(records_mutex_);
  return recent_;
}

std::vector<RuleView> Manager::rules() const {
  std::lock_guard lock(mutex_);
  std::vector<RuleView> out;
  const Event none;
  for (const auto& r : cfg_.rules) {
    RuleView v{r, {}, r.name == kImplicitSyslogRule};
    for (const auto& a : r.actions) {
      v.targets.push_back(targetLabel(a.type, prepare(r, a, none).target));
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<TestOutcome>> Manager::sendTest(const std::string& rule_name,
                                                   const std::string& by) {
  std::vector<TestOutcome> out;  // in the order of the rule's actions
  std::vector<std::pair<std::size_t, Job>> jobs;
  {
    std::lock_guard lock(mutex_);
    const auto it = std::find_if(cfg_.rules.begin(), cfg_.rules.end(),
                                 [&](const model::EventRule& r) { return r.name == rule_name; });
    if (it == cfg_.rules.end()) {
      return makeError(ErrorCode::kNotFound, fmt::format("no event rule named '{}'", rule_name));
    }
    Event e;
    e.event = "test";
    e.level = "info";
    e.time_ms = clock_.nowMs();
    e.message = fmt::format("Test of event rule '{}' sent by {}", rule_name, by);
    for (const auto& a : it->actions) {
      Job job = makeJob(*it, a, e);
      TestOutcome t;
      t.action = job.action;
      t.target = job.target;
      if (isNetwork(a.type)) {
        jobs.emplace_back(out.size(), std::move(job));
      } else {
        t.text = a.type == EventActionType::kCommand
                     ? "not run by a test: it would run the command on this machine"
                     : "not run by a test: it would switch the output";
      }
      out.push_back(std::move(t));
    }
  }
  for (const auto& [index, job] : jobs) {
    Delivery d = runNow(job);
    TestOutcome& t = out[index];
    t.run = true;
    t.ok = d.ok;
    t.text = d.ok ? d.detail : d.error;
    record(std::move(d));
  }
  return out;
}

ManagerStats Manager::stats() const {
  ManagerStats s;
  {
    std::lock_guard lock(records_mutex_);
    s = stats_;
  }
  std::lock_guard lock(mutex_);
  s.dropped = network_ ? network_->dropped() : 0;
  s.queued = (network_ ? network_->pending() : 0) + (commands_ ? commands_->pending() : 0);
  s.pending_actions = pending_.size();
  return s;
}

bool Manager::waitIdle(DurationMs timeout_ms) {
  bool ok = true;
  if (network_) {
    ok = network_->waitIdle(timeout_ms) && ok;
  }
  if (commands_) {
    ok = commands_->waitIdle(timeout_ms) && ok;
  }
  return ok;
}

void Manager::stop(DurationMs grace_ms) {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    pending_.clear();
  }
  const TimeMs start = wallNowMs();
  if (network_) {
    network_->stop(grace_ms);
  }
  if (commands_) {
    commands_->stop(std::max<DurationMs>(0, grace_ms - (wallNowMs() - start)));
  }
}

}  // namespace equalis::events
