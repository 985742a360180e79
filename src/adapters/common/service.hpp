// What every protocol adapter gets and gives: read access to the live state (never the bus or
// the controller) and a handle to stop it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alarms/alarms.hpp"
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
  // Active alarms, worst first (empty function: no alarm source). Thread-safe to call.
  std::function<std::vector<alarms::ActiveAlarm>()> active_alarms;
  // Acknowledges the active alarm with this key (alarms::ActiveAlarm::key) and logs it to the
  // event log; empty function: acknowledging is not available. Thread-safe to call. Adapters
  // offer it only when their configuration enables writes (off by default).
  std::function<Result<alarms::AlarmEvent>(const std::string& key)> acknowledge_alarm = nullptr;
};

class Service {
 public:
  virtual ~Service() = default;
  // Stops serving; must be safe to call twice and from the destructor.
  virtual void stop() = 0;
  // "Modbus TCP on 127.0.0.1:1502", printed at start.
  virtual std::string describe() const = 0;
};

using ServicePtr = std::unique_ptr<Service>;

}  // namespace equalis::adapters
