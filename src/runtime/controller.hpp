// Controller: wires the plant (simulated today), the bus frontend, analysis, control, alarms,
// the state store and the history recorder, and runs one control cycle per sweep in one written
// order (docs/architecture.md):
//   operator commands → scenario → sweep (SI units) → analysis → calibration, Ri, equalization
//   → protection → alarms evaluated on the cycle's values → commit ONE state version (points,
//   block status, alarm counts and the published alarm/rule/I/O view together) → events →
//   history (recorded from the committed version).
// Operator commands (src/command) are the only way to change it at run time; adapters submit
// them to commands() and read the state store, never the controller. The daemon runs it on a
// thread with a (possibly scaled) real clock; tests step it on a SimulatedClock.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "alarms/alarms.hpp"
#include "alarms/runaway.hpp"
#include "analysis/analysis.hpp"
#include "analysis/block_capacity.hpp"
#include "analysis/calibration.hpp"
#include "analysis/capacity_test.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/health.hpp"
#include "analysis/hours_in_band.hpp"
#include "analysis/ri_baseline.hpp"
#include "analysis/runtime.hpp"
#include "bus/bus.hpp"
#include "bus/module_map.hpp"
#include "bus/sim_backend.hpp"
#include "bus/wire_backend.hpp"
#include "command/command.hpp"
#include "command/published.hpp"
#include "config/config.hpp"
#include "control/equalizer.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/manager.hpp"
#include "history/recorder.hpp"
#include "history/store.hpp"
#include "io/hub.hpp"
#include "io/plant_site.hpp"
#include "model/io.hpp"
#include "model/plant.hpp"
#include "ops/stats.hpp"
#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"
#include "state/state_store.hpp"

namespace equalis::runtime {

// Where a configuration reload reads from: the file the daemon was started with, loaded with the
// command-line overrides (--http, --data-dir, --seed) applied again, so that they do not show as
// changes.
struct ConfigSource {
  std::string path;
  std::function<config::LoadResult()> load;
};

// Plant time of the newest history record in plant.data_dir, or -1 when there is none. A
// simulated plant restarted with a time scale resumes after it, so history never runs backwards.
TimeMs newestHistoryMs(const model::PlantConfig& plant);

}  // namespace equalis::runtime
namespace equalis::audit {
class Log;
}  // namespace equalis::audit
namespace equalis::runtime {

// The in-process simulated plant a controller without module-bus lines reads, as it starts: it has
// been floating (unequalized) for two days at `now_ms`, so it shows the float spread a real
// string has at commissioning. Whoever makes it holds the simulator's truth: tests and
// benchmarks score with it; the controller only reads it through its module bus and I/O.
std::shared_ptr<sim::PlantSim> simulatedPlant(const model::PlantConfig& plant, TimeMs now_ms);

class Controller {
 public:
  // Without module-bus lines the plant is simulated in-process: `plant_sim` (from
  // simulatedPlant()) when given, else one of its own that nothing outside can reach. The
  // controller hands no simulator handle out (docs/simulator.md, "Truth firewall").
  Controller(model::PlantConfig plant, Clock& clock,
             std::shared_ptr<sim::PlantSim> plant_sim = nullptr);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Opens the history store in plant.data_dir (created if missing) and loads what persists
  // there (alarm-rule changes, calibration, Ri baselines). Fails with a clear error.
  Status open();
  // Runs a scenario on the simulated plant from now on (events at their times, logged as events).
  Status setScenario(sim::Scenario scenario);
  const sim::ScenarioRunner* scenario() const { return scenario_.get(); }
  // One control cycle at the clock's current time.
  void cycle();
  // Runs cycles every bus.sweep_interval_ms until stop() is called; operator commands that
  // arrive between two sweeps are applied at once (and commit their own state version).
  void run();
  void stop();
  // Steps a SimulatedClock: cycles every sweep interval until `until_ms` (tests, benchmarks).
  void runUntil(SimulatedClock& clock, TimeMs until_ms);

  // ---- operator commands: the one way to change anything at run time ----
  // The queue adapters submit to (thread-safe).
  command::Queue& commands() { return commands_; }
  // Enables command::ReloadConfig (without a source it is refused: the built-in demo plant).
  void setConfigSource(ConfigSource source) { config_source_ = std::move(source); }
  // Every applied or refused operator command is recorded there (who, from where, what, the
  // old and new value, the outcome); null: not recorded.
  void setAudit(audit::Log* log) { audit_ = log; }

  // Submits a command and applies it at once on the calling thread (serialized with the cycle):
  // the CLI-less path for tests and tools that own the controller.
  command::Outcome execute(command::Command command);

  const model::PlantConfig& plant() const { return plant_; }
  Clock& clock() { return clock_; }
  state::StateStore& state() { return state_; }
  // The reports of the string's last discharges, oldest first (discharge_record.hpp).
  const std::vector<analysis::DischargeRecord>& dischargeReports(std::size_t string_index) const {
    return reports_.at(string_index);
  }
  history::Store* history() { return history_.get(); }
  const bus::Sweep& lastSweep() const { return frontend_->last(); }
  // Health of each module-bus line (empty with the in-process simulator). Control thread.
  std::vector<bus::LineHealth> lineHealth() const {
    return backend_ ? backend_->lineHealth() : std::vector<bus::LineHealth>{};
  }
  // ---- read from the newest committed state version (thread-safe) ----
  std::shared_ptr<const command::Published> published() const;
  std::vector<alarms::ActiveAlarm> activeAlarms() const { return published()->alarms; }
  alarms::RuleTable alarmRules() const { return published()->rules->table; }
  std::vector<model::AlarmRuleOverride> alarmOverrides() const {
    return published()->rules->overrides;
  }
  alarms::RunawayState protectionState(std::size_t string_index) const;
  std::vector<io::ChannelSnapshot> ioChannels() const { return published()->io_channels; }
  std::vector<io::DeviceSnapshot> ioDevices() const { return published()->io_devices; }
  // ---- control-thread state (tests and tools that step the controller themselves) ----
  const analysis::RiBaseline& riBaseline(std::size_t string_index) const {
    return ri_baseline_.at(string_index);
  }
  const analysis::OffsetEstimator& calibration(std::size_t string_index) const {
    return calibration_.at(string_index);
  }
  const control::StringEqualizer& equalizer(std::size_t string_index) const {
    return equalizers_.at(string_index);
  }
  // Digital-input changes since the last call, oldest first (each change is also in the event
  // log). Thread-safe.
  std::vector<model::InputChange> takeInputChanges();
  std::uint64_t sweepCount() const { return sweep_count_.load(); }
  // CPU time the simulated plant took on the control thread (physics and answering the sweeps),
  // so that the controller's own cost can be told apart. Control thread only.
  double plantCpuSeconds() const { return plant_cpu_s_; }
  // CPU time of writing history snapshots and the event log on the control thread.
  double historyCpuSeconds() const { return history_cpu_s_; }
  std::uint64_t historyRecordCount() const { return history_records_.load(); }
  TimeMs startedMs() const { return started_ms_; }
  // The control cycle's own figures (health endpoints, self-metrics); thread-safe to read.
  const ops::RuntimeStats& runtimeStats() const { return runtime_stats_; }
  ops::RuntimeStats& runtimeStats() { return runtime_stats_; }
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
  // True when the plant is the in-process simulator (no [[bus.line]]).
  bool simulated() const { return sim_ != nullptr; }

 private:
  // A command applied, waiting for the state version that shows its effect.
  struct Applied {
    std::promise<command::Outcome> promise;
    command::Outcome outcome;
  };
  std::vector<Applied> applyCommands(TimeMs now_ms);
  std::string auditBefore(const command::Action& action) const;
  void recordAudit(const command::Command& cmd, const std::string& before,
                   const command::Outcome& outcome);
  command::Outcome apply(const command::Command& command, TimeMs now_ms);
  command::Outcome renameChannel(const command::RenameChannel& a, const std::string& who,
                                 TimeMs now_ms);
  command::Outcome applyRuleChange(const std::vector<model::AlarmRuleOverride>& overrides,
                                   const std::string& what, TimeMs now_ms);
  command::Outcome resetProtection(std::size_t string_index, TimeMs now_ms);
  command::Outcome reloadConfig(const std::string& who, TimeMs now_ms);
  void applyCommandsNow();
  static void fulfil(std::vector<Applied>& applied);
  // Writes the cycle's one state version. With `evaluate` the alarm rules run on the values
  // being committed; without, only the alarm-derived points and the published view are renewed
  // (a command between two sweeps).
  void commitState(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums,
                   TimeMs now_ms, bool evaluate);
  void writePoints(state::StateStore::Writer& w, const bus::Sweep& sweep,
                   const std::vector<analysis::StringSummary>& sums);
  void writeAlarmPoints(state::StateStore::Writer& w,
                        const std::vector<analysis::StringSummary>& sums,
                        const std::vector<alarms::ActiveAlarm>& active, TimeMs t);
  std::shared_ptr<const command::Published> buildPublished(TimeMs now_ms) const;
  std::vector<alarms::ActiveAlarm> collectAlarms() const;
  void rebuildRulesView();
  void recordHistory(TimeMs now_ms);
  void runScenario(TimeMs now_ms);
  // `by`: who ended a shelf (kind "unshelved").
  void logAlarmEvent(const alarms::AlarmEvent& e, const std::string& by = {});
  void guardRunaway(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void logProtectionEvent(std::size_t string_index, const alarms::RunawayEvent& e);
  void calibrate(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void trackRi(const bus::Sweep& sweep);
  void logRiBaselineEvent(std::size_t string_index, const analysis::RiBaselineEvent& e,
                          const std::string& why = {});
  // Module identities read in this sweep against the stored map (modules.json): a replaced
  // module is logged and its block's Ri baseline restarts.
  void noteModules(TimeMs now_ms);
  void saveRiBaseline(std::size_t string_index);
  void saveCalibration(std::size_t string_index);
  void estimateCapacity(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void saveCapacity(std::size_t string_index, const analysis::CapacityEvent& e);
  void noteCapacityTest(std::size_t string_index, const analysis::CapacityTestResult& r);
  // The estimates changed: stored (capacity-string-N.json) and handed on (shareCapacities).
  // `event`: the discharge that changed them (its own per-block estimates), if one did.
  void capacityChanged(std::size_t string_index, const analysis::CapacityEvent* event = nullptr);
  // Hands the blocks' capacities to the analyzer (their state of charge).
  void shareCapacities(std::size_t string_index);
  // Runtime prediction and the report of every discharge (discharges-string-N.json).
  void reportDischarges(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void saveDischargeReport(std::size_t string_index, analysis::DischargeRecord r);
  // Hours in band and life used (hours-in-band-string-N.json, written hourly).
  void countBands(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  // A discharge in which blocks reached the end voltage measures the string's level (runtime.hpp,
  // levelFromDischarge), fused with an earlier one.
  void anchorFromDischarge(std::size_t string_index, const analysis::DischargeRecord& r);
  void equalize(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void logDeliveries();
  void logEvent(const history::EventRecord& e);
  void flushEvents();
  void noteModeChanges(const std::vector<analysis::StringSummary>& sums, TimeMs now_ms);
  void pollIo(TimeMs now_ms);
  void publishIo(state::StateStore::Writer& w, TimeMs now_ms);

  model::PlantConfig plant_;
  Clock& clock_;
  TimeMs started_ms_;
  std::shared_ptr<sim::PlantSim> sim_;  // null with module-bus lines
  std::unique_ptr<bus::Backend> backend_;
  std::unique_ptr<bus::Frontend> frontend_;
  std::optional<Error> backend_error_;
  analysis::Analyzer analyzer_;
  std::vector<control::StringEqualizer> equalizers_;
  alarms::Engine alarms_;
  std::vector<alarms::RunawayGuard> runaway_;
  // The thermal-runaway protection's alarm per string as operators see it: when it was raised and
  // last changed level, and whether it was acknowledged (an escalation asks again).
  struct ProtectionAlarm {
    alarms::Level level = alarms::Level::kNone;
    TimeMs raised_ms = 0;
    TimeMs changed_ms = 0;
    bool acknowledged = false;
  };
  std::vector<ProtectionAlarm> protection_alarms_;
  void trackProtectionAlarm(std::size_t s, TimeMs now_ms);
  std::optional<alarms::ActiveAlarm> protectionAlarm(std::size_t s) const;
  Result<alarms::AlarmEvent> acknowledgeProtection(const std::string& key, TimeMs now_ms);
  std::vector<analysis::OffsetEstimator> calibration_;
  std::vector<int> calibration_saved_events_;
  std::vector<analysis::StringCapacityEstimator> capacity_;
  std::vector<analysis::CapacityTestDetector> capacity_tests_;
  std::vector<analysis::RuntimePredictor> runtime_;
  std::vector<analysis::BandHours> bands_;
  TimeMs bands_saved_ms_ = 0;
  // The blocks' health (health-string-N.json, written daily); a copy per string is published
  // to the adapters after each hourly assessment.
  std::vector<analysis::HealthTracker> health_;
  std::vector<std::shared_ptr<const analysis::HealthTracker>> health_view_;
  std::vector<std::uint64_t> health_published_;
  TimeMs health_saved_ms_ = 0;
  void assessHealth(const bus::Sweep& sweep, const std::vector<analysis::StringSummary>& sums);
  void noteHealthCapacity(std::size_t s, const analysis::CapacityEvent* event);
  void logHealthChanges(std::size_t s);
  void resetHealth(std::size_t s, std::size_t b);
  void saveHealth(TimeMs now_ms);
  void writeHealthPoints(state::StateStore::Writer& w, std::size_t s, std::size_t b,
                         TimeMs t) const;
  std::vector<analysis::DischargeRecorder> recorders_;
  std::vector<std::vector<analysis::DischargeRecord>> reports_;  // per string, oldest first
  std::vector<control::EffortMeter> effort_;
  std::vector<analysis::RiBaseline> ri_baseline_;
  bus::ModuleMap module_map_;
  std::shared_ptr<const std::vector<bus::ModuleIdentity>> modules_view_;
  std::vector<std::vector<double>> bypass_power_w_;  // per module, from its reported duty
  state::StateStore state_;
  history::Recorder recorder_;
  std::unique_ptr<history::Store> history_;
  std::unique_ptr<events::Manager> events_;
  std::vector<model::StringModeValue> last_mode_;
  std::unique_ptr<sim::ScenarioRunner> scenario_;
  TimeMs scenario_start_ms_ = 0;
  bool pending_event_ = false;
  bool swept_ = false;
  double plant_cpu_s_ = 0.0;
  double history_cpu_s_ = 0.0;  // a sweep has run: lastSweep() and the summaries are valid
  std::shared_ptr<const command::RulesView> rules_view_;
  std::vector<alarms::AlarmEvent> alarm_events_;    // raised in the commit, logged after it
  std::vector<history::EventRecord> event_buffer_;  // the event log's entries of this cycle
  command::Queue commands_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sweep_count_{0};
  std::atomic<std::uint64_t> history_records_{0};
  ops::RuntimeStats runtime_stats_;
  ConfigSource config_source_;
  audit::Log* audit_ = nullptr;
  std::mutex cycle_mutex_;
  std::unique_ptr<io::SimulatedSite> site_;      // the simulated devices' wiring to sim_
  std::unique_ptr<io::Hub> io_;                  // after site_: simulated devices read the plant
  std::map<std::string, std::string> io_names_;  // run-time channel names (io_names.json)
  std::mutex input_mutex_;
  std::vector<model::InputChange> input_changes_;
};

}  // namespace equalis::runtime
