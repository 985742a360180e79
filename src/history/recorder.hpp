// Recorder: when to take a history snapshot (the seed's autosave rules). Pure logic, no I/O.
//
//   first call                     → "start"
//   an event this sweep            → "event" (always, whatever the interval)
//   any string discharging         → every fast_interval_ms ("discharge"); the first sweep of a
//                                    discharge records at once if the fast interval has passed
//   fast_hold_ms after it ends     → every fast_interval_ms ("after-discharge")
//   otherwise                      → every float_interval_ms ("float")
// Intervals run from the last record (of any reason). A clock that steps backwards restarts
// the interval from the new time instead of suppressing records until it catches up.
#pragma once

#include <optional>
#include <string>

#include "core/clock.hpp"
#include "model/plant.hpp"

namespace equalis::history {

class Recorder {
 public:
  explicit Recorder(const model::HistoryConfig& cfg);

  // Called every sweep. Returns the reason to record now, or nullopt. `discharging` = any
  // string in discharge; `event` = an alarm/event happened this sweep.
  std::optional<std::string> shouldRecord(TimeMs now_ms, bool discharging, bool event);

  // New intervals (configuration reload); the time of the last record and the discharge state
  // stay, so the next record is due one new interval after the last one.
  void setConfig(const model::HistoryConfig& cfg);

  // The interval currently in force (fast during discharge and for fast_hold_ms after it).
  DurationMs currentIntervalMs(TimeMs now_ms) const;

  // True while discharging or within fast_hold_ms after the last discharge ended.
  bool fastMode(TimeMs now_ms) const;
  // Time of the last record; nullopt before the first call.
  std::optional<TimeMs> lastRecordMs() const;

 private:
  bool inHold(TimeMs now_ms) const;

  DurationMs float_interval_ms_ = 1;
  DurationMs fast_interval_ms_ = 1;
  DurationMs fast_hold_ms_ = 0;
  bool started_ = false;
  bool discharging_ = false;
  bool discharge_ended_ = false;  // a discharge has ended at discharge_end_ms_
  TimeMs discharge_end_ms_ = 0;
  TimeMs last_record_ms_ = 0;
};

}  // namespace equalis::history
