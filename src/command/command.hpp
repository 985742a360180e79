// Operator commands: every change an operator makes at run time (acknowledge an alarm, edit an
// alarm rule, switch an output, reset a protection trip or an Ri baseline) is a Command that
// carries who asked and from where. Adapters (REST, Modbus, SNMP, MQTT, the CLI through REST)
// submit commands to one Queue; the control cycle drains it at the start of a cycle, applies each
// command in order, records it in the event log and commits the result with the cycle's state
// version. Nothing else changes the controller's state, so concurrent edits cannot be lost and
// every write has one place to be checked and recorded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "alarms/alarms.hpp"
#include "config/diff.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"

namespace equalis::command {

// Who asked, and through which door.
struct Origin {
  std::string user;     // account or API-token name; empty for local tools and the protocols
  std::string address;  // peer address ("127.0.0.1"); empty for local tools
  std::string via;      // "rest", "modbus", "snmp", "mqtt", "cli", "sighup", "test"
  // "REST from 127.0.0.1", "alice via REST from 10.1.2.3": for the event log.
  std::string describe() const;
};

struct AcknowledgeAlarm {
  std::string key;  // alarms::ActiveAlarm::key, e.g. "block.voltage_high/2/17"
};
// Shelving (ISA-18.2, docs/alarms.md#shelving): takes an active alarm off the display for
// `duration_ms` from when the command is applied (alarms::kShelveMinMs … kShelveMaxMs), with a
// reason; the account of the origin is recorded as who shelved it.
struct ShelveAlarm {
  std::string key;
  DurationMs duration_ms = 0;
  std::string reason;
};
// Ends a shelf before its time.
struct UnshelveAlarm {
  std::string key;
};
// Merges a change into the run-time override of the same rule and string (fields left empty
// keep their present override).
struct ChangeAlarmRule {
  model::AlarmRuleOverride change;
};
// Reverts the run-time change of a rule (back to the configuration file / defaults).
struct RevertAlarmRule {
  std::string rule_id;
  int string_number = 0;  // 0 = the change made for every string
};
struct SetOutput {
  std::string channel_id;  // "aux1.relay2"
  bool on = false;
};
struct PulseOutput {
  std::string channel_id;
  DurationMs duration_ms = 0;
};
struct ResetProtection {
  std::size_t string_index = 0;
};
struct ResetRiBaseline {
  std::size_t string_index = 0;
  std::size_t block_index = 0;
};

// Gives an I/O channel the name it is shown by (model::channelNameProblem); an empty name goes
// back to the configuration's. Kept in <data_dir>/io_names.json.
struct RenameChannel {
  std::string channel_id;  // "aux1.di3"
  std::string name;
};

// Re-reads the configuration file the daemon was started with and applies what can change live
// (docs/operations.md); an invalid file is refused and the running configuration stays.
struct ReloadConfig {};
// Makes a checked, staged backup (ops::stageBackup) the restore applied at the next start
// (docs/operations.md); an earlier staged restore is replaced.
struct StageRestore {
  std::string staged_dir;
  std::string description;  // "backup of 'Site' created 2024-… (equalis 0.1.0, 5 files)"
};

using Action = std::variant<AcknowledgeAlarm, ShelveAlarm, UnshelveAlarm, ChangeAlarmRule,
                            RevertAlarmRule, SetOutput, PulseOutput, ResetProtection,
                            ResetRiBaseline, RenameChannel, ReloadConfig, StageRestore>;

// "acknowledge block.voltage_high/2/17", for logs and errors.
std::string describe(const Action& action);

struct Command {
  Action action;
  Origin origin;
};

// What an applied command did.
struct Reply {
  std::string message;                       // as written to the event log
  std::optional<alarms::ActiveAlarm> alarm;  // the acknowledged, shelved or unshelved alarm
  std::vector<config::Change> changes;       // a configuration reload: every changed key
};

using Outcome = Result<Reply>;

// A command waiting in the queue, with the promise its submitter waits on.
struct Pending {
  Command command;
  std::promise<Outcome> promise;
};

class Queue {
 public:
  explicit Queue(std::size_t capacity = 1000) : capacity_(capacity) {}

  // Queues a command; the future is fulfilled when a cycle has applied it and committed the
  // state version that shows its effect. A full or closed queue fails at once (kUnavailable).
  std::future<Outcome> submit(Command command);
  // Submits and waits up to `timeout` (real time) for the outcome. Never call it while holding a
  // state::StateStore::Reader: the cycle that applies the command must commit a state version.
  Outcome execute(Command command, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The control loop: takes every queued command, oldest first.
  std::vector<Pending> drain();
  // The control loop: waits until a command is queued, the queue closes or `timeout` passes.
  // Returns true when commands are waiting.
  bool waitForWork(std::chrono::milliseconds timeout);
  // Fails every queued and later command with `reason` and wakes the control loop.
  void close(const std::string& reason);
  std::size_t depth() const;
  std::uint64_t submittedCount() const;

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closed_ = false;
  std::string closed_reason_;
  std::uint64_t submitted_ = 0;
};

}  // namespace equalis::command
