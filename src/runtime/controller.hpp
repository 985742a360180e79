// Controller: wires the plant (simulated today), the bus frontend, analysis, the state store and
// the history recorder, and runs one cycle per sweep in a fixed order:
//   advance plant → sweep bus → analyse → publish state → record history.
// The daemon runs it on a thread with a (possibly scaled) real clock; tests step it on a
// SimulatedClock.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "alarms/alarms.hpp"
#include "alarms/runaway.hpp"
#include "analysis/analysis.hpp"
#include "analysis/calibration.hpp"
#include "analysis/ri_baseline.hpp"
#include "bus/bus.hpp"
#include "bus/sim_backend.hpp"
#include "control/equalizer.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/manager.hpp"
#include "history/recorder.hpp"
#include "history/store.hpp"
#include "io/hub.hpp"
#include "model/io.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"
#include "state/state_store.hpp"

namespace equalis::runtime {

// Where the controller keeps the module self-calibration of a string.
std::string calibrationPath(const model::PlantConfig& plant, std::size_t string_index);

// Where the controller keeps the Ri baselines of a string.
std::string riBaselinePath(const model::PlantConfig& plant, std::size_t string_index);

// Where alarm rule changes made at run time (REST) persist.
std::string alarmRulesPath(const model::PlantConfig& plant);

// Where the controller keeps its history store.
std::string historyPath(const model::PlantConfig& plant);

// Plant time of the newest history record in plant.data_dir, or -1 when there is none. A
// simulated plant restarted with a time scale resumes after it, so history never runs backwards.
TimeMs newestHistoryMs(const model::PlantConfig& plant);

class Controller {
 public:
  Controller(model::PlantConfig plant, Clock& clock);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Opens the history store in plant.data_dir (created if missing). Fails with a clear error.
  Status open();
  // Runs a scenario on the simulated plant from now on (events at their times, logged as events).
  Status setScenario(sim::Scenario scenario);
  const sim::ScenarioRunner* scenario() const { return scenario_.get(); }
  // One cycle at the clock's current time.
  void cycle();
  // Runs cycles every bus.sweep_interval_ms until stop() is called.
  void run();
  void stop();
  // Steps a SimulatedClock: cycles every sweep interval until `until_ms` (tests, benchmarks).
  void runUntil(SimulatedClock& clock, TimeMs until_ms);

  const model::PlantConfig& plant() const { return plant_; }
  Clock& clock() { return clock_; }
  state::StateStore& state() { return state_; }
  history::Store* history() { return history_.get(); }
  sim::PlantSim& plantSim() { return *sim_; }
  const bus::Sweep& lastSweep() const { return frontend_.last(); }
  // Active alarms, worst first (thread-safe).
  std::vector<alarms::ActiveAlarm> activeAlarms() const;
  // Operator reset of a thermal-runaway trip: closes the string breaker again.
  Status resetProtection(std::size_t string_index);
  alarms::RunawayState protectionState(std::size_t string_index) const;
  // Acknowledges an active alarm by key; the acknowledgement goes to the event log.
  Result<alarms::AlarmEvent> acknowledgeAlarm(const std::string& key);
  // Alarm rules in force (defaults + config + run-time overrides), and the run-time overrides.
  alarms::RuleTable alarmRules() const;
  std::vector<model::AlarmRuleOverride> alarmOverrides() const;
  // Replaces the run-time overrides (validated all-or-nothing), persists them in the data
  // directory and logs `what` to the event log.
  Status setAlarmOverrides(const std::vector<model::AlarmRuleOverride>& overrides,
                           const std::string& what);
  // Operator: collect a new Ri baseline for a block (after maintenance, for example).
  Status resetRiBaseline(std::size_t string_index, std::size_t block_index);
  const analysis::RiBaseline& riBaseline(std::size_t string_index) const {
    return ri_baseline_.at(string_index);
  }
  const analysis::OffsetEstimator& calibration(std::size_t string_index) const {
    return calibration_.at(string_index);
  }
  const control::StringEqualizer& equalizer(std::size_t string_index) const {
    return equalizers_.at(string_index);
  }
  // ---- I/O and sensor devices (io::Hub, docs/io.md); all thread-safe ----
  // Digital-input changes since the last call, oldest first (for the event manager; each change
  // is also in the event log).
  std::vector<model::InputChange> takeInputChanges();
  // Commands an output channel ("aux1.relay2", "panel.buzzer"), or pulses it on for a while.
  Status setOutput(const std::string& id, bool on);
  Status pulseOutput(const std::string& id, DurationMs duration_ms);
  // Every channel with value, quality and time; every device with its transport and state.
  std::vector<io::ChannelSnapshot> ioChannels() const;
  std::vector<io::DeviceSnapshot> ioDevices() const;
  std::uint64_t sweepCount() const { return sweep_count_.load(); }
  std::uint64_t historyRecordCount() const { return history_records_.load(); }
  TimeMs startedMs() const { return started_ms_; }
  // Event manager (docs/events.md). The I/O layer connects its relay and buzzer outputs here …
  void setOutputHook(events::OutputHook hook);
  // … and reports digital-input changes here (thread-safe; handled at once, not at the next
  // cycle). Not from inside the output hook: the hook runs during a cycle, which holds the lock
  // this takes.
  void onInputChanges(std::vector<model::InputChange> changes);
  events::Manager& eventManager() { return *events_; }
  // Stops the event manager at shutdown: pending deliveries get `grace_ms` (real time), and
  // every outcome goes to the event log.
  void finishEvents(DurationMs grace_ms);
  bool simulated() const { return true; }

 private:
  void publishState(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void recordHistory(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void runScenario(TimeMs now_ms);
  void evaluateAlarms(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void logAlarmEvent(const alarms::AlarmEvent& e);
  void guardRunaway(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void logProtectionEvent(std::size_t string_index, const alarms::RunawayEvent& e);
  void calibrate(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void trackRi(const bus::Sweep& sweep);
  void logRiBaselineEvent(std::size_t string_index, const analysis::RiBaselineEvent& e);
  void saveRiBaseline(std::size_t string_index);
  void saveCalibration(std::size_t string_index);
  void equalize(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void logDeliveries();
  void noteModeChanges(const std::vector<analysis::StringSummary>& sums, TimeMs now_ms);
  void pollIo(TimeMs now_ms);
  void publishIo(state::StateStore::Writer& w, TimeMs now_ms);

  model::PlantConfig plant_;
  Clock& clock_;
  TimeMs started_ms_;
  std::unique_ptr<sim::PlantSim> sim_;
  bus::SimBackend backend_;
  bus::Frontend frontend_;
  analysis::Analyzer analyzer_;
  std::vector<control::StringEqualizer> equalizers_;
  alarms::Engine alarms_;
  std::vector<alarms::RunawayGuard> runaway_;
  mutable std::mutex alarm_mutex_;
  std::vector<analysis::OffsetEstimator> calibration_;
  std::vector<int> calibration_saved_events_;
  std::vector<control::EffortMeter> effort_;
  std::vector<analysis::RiBaseline> ri_baseline_;
  std::vector<std::vector<double>> bypass_power_w_;  // per module, from its reported duty
  state::StateStore state_;
  history::Recorder recorder_;
  std::unique_ptr<history::Store> history_;
  std::unique_ptr<events::Manager> events_;
  std::vector<model::StringModeValue> last_mode_;
  std::unique_ptr<sim::ScenarioRunner> scenario_;
  TimeMs scenario_start_ms_ = 0;
  bool pending_event_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sweep_count_{0};
  std::atomic<std::uint64_t> history_records_{0};
  std::mutex cycle_mutex_;
  std::unique_ptr<io::Hub> io_;  // after sim_: simulated devices read the plant
  std::mutex input_mutex_;
  std::vector<model::InputChange> input_changes_;
};

}  // namespace equalis::runtime
