// The event manager ("jobs"): rules from [[events.rule]] map triggers (alarm raised / escalated /
// lowered / cleared / acknowledged, thermal-runaway protection steps, digital-input changes,
// schedules, system start) to actions (email, syslog, webhook, command, relay, buzzer) with
// delays and repeats. Driven by the controller: events as they happen, tick() every cycle, on the
// controller's Clock (deterministic with a SimulatedClock). Network deliveries and commands run
// on worker threads (bounded queues, retries with backoff); relays and the buzzer go through an
// output hook on the calling thread. Every outcome is a Delivery the controller writes into the
// event log. See docs/events.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alarms/alarms.hpp"
#include "alarms/runaway.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/event.hpp"
#include "events/queue.hpp"
#include "model/events.hpp"
#include "model/io.hpp"

namespace equalis::events {

class SyslogSender;

// Sets (pulse_ms 0) or pulses an output channel: the I/O layer's relay and buzzer outputs.
using OutputHook =
    std::function<Status(const std::string& channel_id, bool on, DurationMs pulse_ms)>;

// What an action would send, for tests and the record (see Manager::Options::sink).
struct Outgoing {
  std::string rule;
  model::EventActionType type = model::EventActionType::kEmail;
  std::string target;
  std::string subject;  // email
  std::string text;     // email body, syslog frame, webhook JSON, command line
  Event event;
};

struct ManagerStats {
  std::uint64_t triggered = 0;  // actions started (each repeat counts)
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t dropped = 0;        // network queue full
  std::uint64_t cancelled = 0;      // delayed actions whose alarm resolved first
  std::size_t pending_actions = 0;  // delayed or repeating, waiting for their time
  std::size_t queued = 0;           // deliveries queued or running on the worker threads
};

// A rule as the settings page lists it: its actions' targets as the event log names them.
struct RuleView {
  model::EventRule rule;
  std::vector<std::string> targets;  // per action, without credentials
  bool implicit = false;             // added by the daemon, not written in the configuration
};

// One action of a rule's test (Manager::sendTest).
struct TestOutcome {
  std::string action;  // "email", "syslog", …
  std::string target;  // as in the event log: without credentials
  bool run = false;    // false: not run by a test (commands, relays, buzzer), `text` says why
  bool ok = false;
  std::string text;  // the error, the success detail, or why it was not run
};

class Manager {
 public:
  struct Options {
    // Replaces the real notifiers (tests): called instead of sending; its result is the outcome.
    std::function<Result<std::string>(const Outgoing&)> sink;
    // Run deliveries on the calling thread (deterministic tests; no retries, no queue).
    bool inline_delivery = false;
    std::string procid;  // syslog PROCID; "" = this process id
  };

  Manager(model::EventsConfig cfg, std::string site, Clock& clock);
  Manager(model::EventsConfig cfg, std::string site, Clock& clock, Options options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void setOutputHook(OutputHook hook);

  void onAlarmEvent(const alarms::AlarmEvent& e);
  void onProtectionEvent(int string_number, const alarms::RunawayEvent& e);
  void onInputChange(const model::InputChange& c);
  void onSystemStart(TimeMs now_ms, const std::string& message);
  // Schedules, delayed and repeated actions due at `now_ms`.
  void tick(TimeMs now_ms);

  // Deliveries completed since the last call (for the event log).
  std::vector<Delivery> takeDeliveries();
  // The last 100 deliveries, newest last.
  std::vector<Delivery> recentDeliveries() const;
  // The rules in force, with the implicit one (syslog of every alarm when no rule sends to
  // syslog), in their order.
  std::vector<RuleView> rules() const;
  // Sends a test message ("test" event, level info, naming `by`) through every email, syslog and
  // webhook action of the rule `rule_name` now, on the calling thread, once (no retries; each
  // sender's timeout bounds it), and records each delivery in the event log. Commands, relays
  // and the buzzer are not run by a test: they act on the site. kNotFound for an unknown rule.
  Result<std::vector<TestOutcome>> sendTest(const std::string& rule_name, const std::string& by);
  ManagerStats stats() const;
  // The rules in force (a copy: a reload may replace them).
  model::EventsConfig config() const;
  std::size_t ruleCount() const;
  bool active() const { return ruleCount() > 0; }
  // New rules and notifier settings (configuration reload). Delayed and repeating actions of a
  // rule whose action is unchanged go on; those of removed or changed actions are cancelled.
  // queue_size and retry_backoff are kept (they need a restart). Returns the number of pending
  // actions cancelled.
  std::size_t reconfigure(model::EventsConfig cfg);

  // Waits until the queues are empty (tests), at most `timeout_ms` of real time.
  bool waitIdle(DurationMs timeout_ms);
  // Stops: no more actions; pending deliveries get `grace_ms`, then the workers are joined.
  void stop(DurationMs grace_ms);

 private:
  struct Pending {
    std::size_t rule = 0;
    std::size_t action = 0;
    Event event;
    std::string resolve_key;  // "alarm/<id>" or "protection/<string>"; "" = never resolves
    TimeMs due_ms = 0;
    int runs = 0;
  };
  void dispatch(const Event& e, std::uint32_t trigger, const std::string& resolve_key,
                int level_rank);
  bool matches(const model::EventRule& r, const Event& e, std::uint32_t trigger,
               int level_rank) const;
  void resolve(const std::string& resolve_key);
  void start(std::size_t rule, std::size_t action, const Event& e, const std::string& resolve_key,
             TimeMs now_ms);
  void run(const Pending& p);
  Job makeJob(const model::EventRule& r, const model::EventAction& a, const Event& e) const;
  Delivery runNow(const Job& job) const;
  void record(Delivery d);
  Outgoing prepare(const model::EventRule& r, const model::EventAction& a, const Event& e) const;

  model::EventsConfig cfg_;
  std::string site_;
  Clock& clock_;
  Options options_;
  OutputHook output_;
  std::string hostname_;
  std::string procid_;

  mutable std::mutex mutex_;  // rule state below
  std::vector<Pending> pending_;
  std::map<std::string, int> max_level_;  // resolve key → highest level rank seen while active
  std::vector<std::int64_t> schedule_period_;  // per rule: last schedule period seen (−1 none)
  std::vector<std::int64_t> every_period_;
  bool stopped_ = false;

  mutable std::mutex records_mutex_;
  std::vector<Delivery> new_records_;
  std::vector<Delivery> recent_;
  ManagerStats stats_;

  void startWorkers();
  // Queued syslog jobs hold the sender they were made with (a reload may replace it).
  std::shared_ptr<SyslogSender> syslog_;
  std::unique_ptr<DeliveryQueue> network_;
  std::unique_ptr<DeliveryQueue> commands_;
};

// The trigger bit of an AlarmEvent / RunawayEvent kind; 0 for an unknown kind.
std::uint32_t alarmTrigger(const std::string& kind);
std::uint32_t protectionTrigger(const std::string& kind);

}  // namespace equalis::events
