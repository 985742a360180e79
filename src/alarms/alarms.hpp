// Alarm rules as a table (data, not scattered code) and their evaluator: warning and alarm
// levels, hysteresis, on- and off-delays, per-chemistry defaults. Missing or stale data never
// raises (or clears) a measurement alarm; a module that stops answering raises comm_lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace equalis::alarms {

enum class Level { kNone = 0, kWarning = 1, kAlarm = 2 };
std::string_view levelName(Level l);

enum class Direction { kHigh, kLow };

// What a rule looks at.
enum class Source {
  kValue,     // the point's value
  kCommLost,  // 1 while the point's quality is comm_lost (thresholds 1/1)
  kInvalid,   // 1 while the module answers with values outside its measuring range (1/1)
  kInput,     // a digital input (see InputRule): 1 while in its alarm state
};

// An alarm on a digital input of the I/O layer ("door open", "fan failure", "breaker open").
struct InputRule {
  std::string channel_id;  // "aux1.di3"
  std::string name;        // "Door contact"
  Level level = Level::kAlarm;
  bool alarm_when = true;  // the input state that alarms (a breaker status alarms on false)
  DurationMs on_delay_ms = 0;
  DurationMs off_delay_ms = 0;
  int string_number = 0;  // 1-based (breaker status), 0 = system
};

// The present state of a digital input (NaN value or a bad quality: no alarm change).
struct InputSample {
  std::string channel_id;
  state::Sample sample;
};

struct Rule {
  std::string id;  // "block.voltage_high"
  model::PointId point;
  Source source = Source::kValue;
  Direction direction = Direction::kHigh;
  double warning = 0;     // threshold of the warning level
  double alarm = 0;       // threshold of the alarm level (beyond the warning)
  double hysteresis = 0;  // a level clears only this far back inside its threshold
  DurationMs on_delay_ms = 0;
  DurationMs off_delay_ms = 0;
  bool enabled = true;
  std::string quantity;  // "voltage", used in messages
  std::string unit;      // "V"
  int decimals = 2;
  std::string origin = "default";  // where the values come from: default | config | api
  bool input_alarm_when = true;    // Source::kInput: the input state that alarms
};

// The default rule table of one string (per chemistry, scaled to its blocks and capacity).
std::vector<Rule> defaultRules(const model::StringConfig& string_cfg);
// Plant-wide rules (ambient).
std::vector<Rule> defaultSystemRules();
// Limit ordering: for high rules warning ≤ alarm, for low rules warning ≥ alarm; hysteresis ≥ 0;
// delays ≥ 0. The error names the rule and what is wrong.
Status validateRule(const Rule& rule);

// Applies overrides in order (plant-wide ones to every string and the system rules, per-string
// ones to their string) to the default rules of `plant`, marking changed rules with `origin`.
// Fails, naming the override, when a rule id or string does not exist or a resulting rule is
// invalid (ordering, negative hysteresis or delay). `where` prefixes errors ("alarms.rule[2]").
struct RuleTable {
  std::vector<std::vector<Rule>> strings;  // [string][rule]
  std::vector<Rule> system;
};
RuleTable defaultRuleTable(const model::PlantConfig& plant);
Status applyOverrides(RuleTable& table, const std::vector<model::AlarmRuleOverride>& overrides,
                      const std::string& origin, std::size_t string_count);
// Every rule id that can be overridden (string rules then system rules).
std::vector<std::string> ruleIds();

struct ActiveAlarm {
  std::uint32_t id = 0;  // unique per raise since start (1, 2, …): stable protocol index
  std::string key;       // "block.voltage_high/1/17": rule/string/block (1-based, 0 = none)
  std::string rule_id;
  Level level = Level::kNone;
  int string_number = 0;  // 1-based, 0 for system rules
  int block_number = 0;   // 1-based, 0 for string/system rules
  double value = 0;
  double threshold = 0;
  TimeMs raised_ms = 0;   // when it first became active
  TimeMs changed_ms = 0;  // last level change
  bool acknowledged = false;
  std::string message;
  // Shelved (ISA-18.2): off the operators' display until shelved_until_ms, with a reason. Still
  // evaluated (it clears and is raised as usual), but not counted, not in the block status and no
  // event-manager action. Filled in from the engine's shelves by key (see Engine::shelve).
  bool shelved = false;
  TimeMs shelved_ms = 0;  // when it was shelved
  TimeMs shelved_until_ms = 0;
  std::string shelve_reason;
  std::string shelved_by;  // the account (or where the command came from)
};

struct AlarmEvent {
  TimeMs time_ms = 0;
  // "raised", "escalated", "lowered", "cleared", "acknowledged"; shelving: "shelved",
  // "unshelved" (by an operator), "shelf_expired" (its shelf time is over).
  std::string kind;
  ActiveAlarm alarm;
};

// Shelving limits: 1 min … 7 days, a reason of 1–200 characters (not only white space).
constexpr DurationMs kShelveMinMs = kMinuteMs;
constexpr DurationMs kShelveMaxMs = 7 * kDayMs;
constexpr std::size_t kShelveReasonMaxChars = 200;
// The error names the limit ("shelf time 8 d is longer than the longest, 7 d (10080 min)").
Status checkShelveDuration(DurationMs duration_ms);
// The error says what is wrong (empty, too long, control characters); counts UTF-8 characters.
Status checkShelveReason(std::string_view reason);
// "15 min", "2 h", "7 d", "90 min": the shortest exact form.
std::string shelveDurationText(DurationMs duration_ms);

class Engine {
 public:
  explicit Engine(const model::PlantConfig& plant);

  // Evaluates every rule instance against the state at `now_ms`; returns what changed.
  std::vector<AlarmEvent> evaluate(const state::StateStore::Reader& r, TimeMs now_ms);
  std::vector<ActiveAlarm> active() const;
  // Worst active level per block (for the status page and the block status point).
  Level blockLevel(std::size_t string_index, std::size_t block_index) const;
  // The same for every block of a string at once (out.size() = its blocks).
  void blockLevels(std::size_t string_index, std::vector<Level>& out) const;
  Result<AlarmEvent> acknowledge(const std::string& key, TimeMs now_ms);
  // Shelving (ISA-18.2). Takes the active alarm `key` off the display until `until_ms`
  // (kShelveMinMs … kShelveMaxMs after now_ms) with a reason; shelving a shelved alarm replaces
  // its shelf. The shelf belongs to the key: an alarm that clears and is raised again while it
  // lasts stays shelved. kNotFound without an active alarm of that key, kInvalidArgument for a
  // time or reason out of limits. Kept in memory only (like acknowledgements).
  Result<AlarmEvent> shelve(const std::string& key, TimeMs until_ms, const std::string& reason,
                            const std::string& user, TimeMs now_ms);
  // Ends a shelf early; kNotFound when the key is not shelved. The event carries the alarm as it
  // is now (level none when it cleared meanwhile).
  Result<AlarmEvent> unshelve(const std::string& key, TimeMs now_ms);
  // Ends every shelf whose time is over at now_ms ("shelf_expired" events); evaluate() calls it.
  std::vector<AlarmEvent> expireShelves(TimeMs now_ms);
  bool shelved(const std::string& key) const { return shelves_.count(key) != 0; }
  const std::vector<Rule>& rules(std::size_t string_index) const {
    return string_rules_.at(string_index);
  }
  const std::vector<Rule>& systemRules() const { return system_rules_; }
  // Replaces the overrides made at run time (REST), on top of defaults and config overrides;
  // all-or-nothing: on error nothing changes. Active alarms of a rule that gets disabled clear
  // at the next evaluation.
  Status setRuntimeOverrides(std::vector<model::AlarmRuleOverride> overrides);
  const std::vector<model::AlarmRuleOverride>& runtimeOverrides() const { return runtime_; }
  // Replaces the configuration file's overrides ([[alarms.rule]], configuration reload); the
  // run-time overrides stay on top. All-or-nothing: on error (an override that does not apply,
  // or a run-time change that no longer fits) nothing changes. Active alarms keep their state
  // and are judged by the new thresholds at the next evaluation.
  Status setConfigOverrides(const std::vector<model::AlarmRuleOverride>& overrides);
  // Counts of active alarms: [alarm level, warning level, not acknowledged] of those on the
  // display, and the shelved ones (counted only there).
  struct Counts {
    int alarm = 0;
    int warning = 0;
    int unacknowledged = 0;
    int shelved = 0;
  };
  Counts counts() const;
  // Digital-input alarms: replaces the input rules (instances of unchanged ids keep their state)
  // and evaluates them against the inputs' present states.
  void setInputRules(const std::vector<InputRule>& rules);
  std::vector<AlarmEvent> evaluateInputs(const std::vector<InputSample>& inputs, TimeMs now_ms);
  const std::vector<Rule>& inputRules() const { return input_rules_; }

 private:
  // One per rule and block: small, so that a sweep over thousands of blocks stays in cache; the
  // alarm's details exist from its first raise on.
  struct Instance {
    Level level = Level::kNone;
    Level pending = Level::kNone;
    TimeMs pending_since_ms = 0;
    std::unique_ptr<ActiveAlarm> alarm;  // set while level != kNone (kept after a clear)
  };
  void step(const Rule& rule, Instance& inst, const state::Sample& sample, int s, int b,
            TimeMs now_ms, std::vector<AlarmEvent>& events);
  struct Shelf {
    TimeMs since_ms = 0;
    TimeMs until_ms = 0;
    std::string reason;
    std::string user;
  };
  // The instance whose alarm has this key (active only, or also one that cleared), or null.
  Instance* find(const std::string& key, bool active_only);
  // Fills in the shelving fields of `a` from its key's shelf.
  void decorate(ActiveAlarm& a) const;
  bool isShelved(const Instance& inst) const {
    return !shelves_.empty() && inst.level != Level::kNone && shelves_.count(inst.alarm->key) != 0;
  }

  const model::PlantConfig& plant_;
  RuleTable base_;  // defaults + config overrides
  std::vector<model::AlarmRuleOverride> runtime_;
  std::vector<std::vector<Rule>> string_rules_;
  std::vector<Rule> system_rules_;
  // instances_[string][rule][block or 0]; system_instances_[rule]
  std::vector<std::vector<std::vector<Instance>>> instances_;
  std::vector<Instance> system_instances_;
  std::vector<Rule> input_rules_;  // id "input.<channel>"; warning/alarm thresholds 1/1 or 1/2
  std::vector<int> input_strings_;
  std::vector<Instance> input_instances_;
  std::uint32_t next_id_ = 1;
  std::map<std::string, Shelf> shelves_;  // by alarm key
};

}  // namespace equalis::alarms
