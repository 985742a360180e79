// What every protocol adapter gets and gives: read access to the live state (never the bus or
// the controller), a door for operator commands, and a handle to stop it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alarms/alarms.hpp"
#include "command/command.hpp"
#include "command/published.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "state/state_store.hpp"

namespace equalis::adapters {

struct Context {
  const model::PlantConfig& plant;
  state::StateStore& state;
  Clock& clock;
  std::string version;
  // Active alarms on the display, worst first (empty function: no alarm source). Thread-safe to
  // call.
  std::function<std::vector<alarms::ActiveAlarm>()> active_alarms;
  // Acknowledges the active alarm with this key (alarms::ActiveAlarm::key) on behalf of
  // `origin`, which goes to the event log with it; empty function: acknowledging is not
  // available. Thread-safe to call. Adapters offer it only when their configuration enables
  // writes (off by default).
  std::function<Result<alarms::AlarmEvent>(const std::string& key, const command::Origin& origin)>
      acknowledge_alarm = nullptr;
};

// The daemon's sources for the two functions above: the alarm list of the newest committed state
// version without the shelved alarms (off the display, like in system.alarm_count: the protocols'
// alarm tables, counts and notifications agree with those points; docs/alarms.md#shelving), and
// an acknowledgement submitted to the operator-command queue (waiting for the cycle that applies
// it).
inline std::function<std::vector<alarms::ActiveAlarm>()> publishedAlarms(
    const state::StateStore& state, const Clock& clock) {
  return [&state, &clock] {
    auto list = command::activeAlarms(state, clock.nowMs());
    std::erase_if(list, [](const alarms::ActiveAlarm& a) { return a.shelved; });
    return list;
  };
}

inline std::function<Result<alarms::AlarmEvent>(const std::string&, const command::Origin&)>
queuedAcknowledge(command::Queue& queue) {
  return [&queue](const std::string& key,
                  const command::Origin& origin) -> Result<alarms::AlarmEvent> {
    auto outcome = queue.execute({command::AcknowledgeAlarm{key}, origin});
    if (!outcome) {
      return outcome.error();
    }
    alarms::AlarmEvent e;
    e.kind = "acknowledged";
    if (outcome->alarm) {
      e.alarm = *outcome->alarm;
      e.time_ms = e.alarm.changed_ms;
    }
    return e;
  };
}

class Service {
 public:
  virtual ~Service() = default;
  // Stops serving; must be safe to call twice and from the destructor.
  virtual void stop() = 0;
  // "Modbus TCP on 127.0.0.1:1502", printed at start.
  virtual std::string describe() const = 0;
  // What keeps it from serving now ("not connected to the broker: Connection refused"), "" when
  // nothing does. Thread-safe to call.
  virtual std::string condition() const { return {}; }
};

using ServicePtr = std::unique_ptr<Service>;

}  // namespace equalis::adapters
