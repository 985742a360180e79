// What a configuration reload changes: the keys whose values differ between the configuration in
// force and a new one, each marked as applied live or as needing a restart (docs/operations.md).
//
// Live: alarm rules and the Ri-baseline-free part of [alarms] ([[alarms.rule]]), the event
// manager ([events] with its rules and notifier settings, except queue_size and
// retry_backoff_s), [thermal_runaway], [equalization] and the history cadence
// ([history] float_interval_s, fast_interval_s, fast_hold_s). Everything else — the plant layout
// (strings, blocks, chemistry, chargers), data_dir, listen addresses, protocol adapters, I/O
// devices, the bus, the simulation — needs a restart.
#pragma once

#include <string>
#include <vector>

#include "model/plant.hpp"

namespace equalis::config {

struct Change {
  std::string key;    // "thermal_runaway.hold_min", "strings[1].blocks", "events.rule[ops]"
  std::string from;   // the value in force ("" = not set)
  std::string to;     // the new value ("" = removed)
  bool live = false;  // applied by a reload; false = needs a restart
};

// Every changed key, in configuration-file order. Values are written as in the file where the
// key is a plain value (seconds, minutes as the key's unit says); whole tables (an event rule,
// an I/O device) are summarised.
std::vector<Change> diffConfig(const model::PlantConfig& running, const model::PlantConfig& next);

// Takes the live part of `next` over into `running`, member by member; everything that needs a
// restart stays as it runs (and other threads may go on reading it).
void applyLiveChanges(model::PlantConfig& running, const model::PlantConfig& next);

}  // namespace equalis::config
