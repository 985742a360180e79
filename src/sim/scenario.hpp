// Scenarios: scripted plant events (faults, outages, charger and ambient changes, bypass, block
// replacement) over simulated time, read from TOML files (scenarios/*.toml, docs/scenarios.md).
//
//   name = "thermal-runaway"
//   description = "…"
//   duration = "3d"          # optional run length (default: the last event's end)
//   [[event]]
//   at = "2h"                # "500ms", "90s", "15min", "2h", "3d", "1h30min", "1.5h"
//   action = "fault"         # fault | clear_fault | outage | discharge | charger | ambient |
//                            # bypass | replace_block | input | ventilation | electrolyte |
//                            # humidity
//   string = 1               # 1-based
//   block = 7                # 1-based
//   kind = "blocked_cooling"
//   factor = 0.3
//
// Parsing never throws; every error names the event (1-based, in file order) and the key, e.g.
// "event[3].kind: unknown fault kind 'dryout', did you mean 'dry_out'?".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "sim/fault.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::sim {

enum class ScenarioAction {
  kFault,         // inject `fault` into string/block
  kClearFault,    // clear fault.kind from string/block
  kOutage,        // mains failure: load_w for duration_ms (all strings)
  kDischarge,     // constant-current test load current_a on one string for duration_ms
  kCharger,       // change one string's (or every string's) charger settings
  kAmbient,       // change the room temperature and/or its daily swing
  kBypass,        // set a module's bypass duty
  kReplaceBlock,  // replace a block by a new one (rested at `soc`)
  kInput,         // set a simulated digital input's contact (`channel`, `active`)
  kVentilation,   // battery-room ventilation: air changes per hour (0 = failed)
  kElectrolyte,   // set a block's electrolyte level (% between the min and max marks)
  kHumidity,      // battery-room relative humidity: mean and/or day/night swing
  kAgeBlock,      // set a block's health: true capacity, Ri and float current (BlockHealth)
};

std::string_view scenarioActionName(ScenarioAction action);

struct ScenarioEvent {
  std::size_t number = 0;  // 1-based position in the file (for messages)
  DurationMs at_ms = 0;    // relative to the scenario start
  ScenarioAction action = ScenarioAction::kFault;
  std::optional<std::size_t> string_index;  // 0-based; charger without `string`: all strings
  std::optional<std::size_t> block_index;   // 0-based
  Fault fault;                              // kFault (all fields), kClearFault (kind)
  double load_w = 0;                        // kOutage
  double current_a = 0;                     // kDischarge
  DurationMs duration_ms = 0;               // kOutage, kDischarge
  // kCharger: only the given settings change.
  std::optional<bool> charger_enabled;
  std::optional<bool> temperature_compensation;
  std::optional<double> float_v_per_cell;
  std::optional<double> current_limit_a;
  // kAmbient
  std::optional<double> ambient_c;
  std::optional<double> daily_swing_c;
  double duty = 0;                      // kBypass
  double soc = PlantSim::kNewBlockSoc;  // kReplaceBlock
  std::string channel_id;               // kInput: "aux1.di3"
  bool active = false;                  // kInput
  double air_changes_per_h = 0;         // kVentilation
  double level_pct = 0;                 // kElectrolyte
  std::optional<double> humidity_pct;   // kHumidity
  std::optional<double> humidity_swing_pct;
  BlockHealth health;  // kAgeBlock
};

struct Scenario {
  std::string name;
  std::string description;
  std::string origin;                 // file name or other label given to parseScenario
  DurationMs duration_ms = 0;         // how long to run it
  std::vector<ScenarioEvent> events;  // in file order
};

// "90s" → 90000. Accepts a sequence of <number><unit> with unit ms, s, min, h, d ("1h30min",
// "1.5h"); spaces between parts are allowed; "0" alone is zero.
Result<DurationMs> parseDuration(std::string_view text);

Result<Scenario> parseScenario(std::string_view toml_text, std::string_view origin);
Result<Scenario> loadScenarioFile(const std::string& path);

// Checks the string and block indices of every event against the plant, and that an input
// event names a digital input of a simulated I/O device.
Status validate(const Scenario& scenario, const model::PlantConfig& plant);

// Applies a scenario's events to a PlantSim as simulated time passes. Call applyDue() every
// controller cycle, before advancing the plant past now_ms: each event is applied exactly once,
// at the first call with now_ms ≥ start_ms + at (in time order, file order for equal times). A
// discharge's end is an event of its own at at + duration.
class ScenarioRunner {
 public:
  explicit ScenarioRunner(Scenario scenario);

  void applyDue(PlantSim& sim, TimeMs start_ms, TimeMs now_ms);

  const Scenario& scenario() const { return scenario_; }
  // Events (including discharge ends) applied so far / in total.
  std::size_t appliedCount() const { return next_; }
  std::size_t stepCount() const { return steps_.size(); }
  bool finished() const { return next_ >= steps_.size(); }
  // Relative time of the next pending step, or -1 when finished.
  DurationMs nextAtMs() const;
  // Messages of events the plant rejected (e.g. indices not validated against it).
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct Step {
    DurationMs at_ms;
    std::size_t event;  // index into scenario_.events
    bool end;           // the end of a discharge
  };
  void apply(PlantSim& sim, const Step& step);

  Scenario scenario_;
  std::vector<Step> steps_;
  std::size_t next_ = 0;
  std::vector<std::string> errors_;
};

}  // namespace equalis::sim
