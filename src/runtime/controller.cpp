#include "runtime/controller.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "alarms/rules_json.hpp"
#include "core/log.hpp"
#include "model/chemistry.hpp"

namespace equalis::runtime {

namespace {

using model::PointId;
using model::Quality;

std::vector<int> layoutOf(const model::PlantConfig& plant) {
  std::vector<int> blocks;
  for (const auto& s : plant.strings) {
    blocks.push_back(s.block_count);
  }
  return blocks;
}

constexpr DurationMs kSimWarmStartMs = 2 * kDayMs;

DurationMs staleLimitMs(const model::BusConfig& bus) {
  return bus.sweep_interval_ms * bus.stale_after_sweeps;
}

// Replaces `path` atomically (write a temporary file, then rename): never a half-written file.
Status writeFileAtomically(const std::string& path, const std::string& text) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      return makeError(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot replace {}: {}", path, ec.message()));
  }
  return {};
}

std::optional<std::string> readFileText(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string riBaselinePath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("ri-baseline-string-{}.txt", string_index + 1))
      .string();
}

std::string alarmRulesPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "alarm_rules.json").string();
}

std::string calibrationPath(const model::PlantConfig& plant, std::size_t string_index) {
  return (std::filesystem::path(plant.data_dir) /
          fmt::format("calibration-string-{}.txt", string_index + 1))
      .string();
}

std::string historyPath(const model::PlantConfig& plant) {
  return (std::filesystem::path(plant.data_dir) / "history.sqlite").string();
}

TimeMs newestHistoryMs(const model::PlantConfig& plant) {
  const auto path = historyPath(plant);
  if (!std::filesystem::exists(path)) {
    return -1;
  }
  auto store = history::Store::open(path, plant.history.max_bytes);
  if (!store) {
    return -1;  // open() reports the problem with its full context later
  }
  auto stats = (*store)->stats();
  return stats && stats->snapshot_count > 0 ? stats->newest_ms : -1;
}

Controller::Controller(model::PlantConfig plant, Clock& clock)
    : plant_(std::move(plant)),
      clock_(clock),
      started_ms_(clock.nowMs()),
      // The simulated plant has been floating (unequalized) for two days when the controller
      // starts, so it shows the float spread a real string has at commissioning.
      sim_(std::make_unique<sim::PlantSim>(plant_, started_ms_ - kSimWarmStartMs)),
      backend_(*sim_),
      frontend_(backend_, plant_),
      analyzer_(plant_),
      alarms_(plant_),
      state_(layoutOf(plant_), staleLimitMs(plant_.bus)),
      recorder_(plant_.history),
      last_mode_(plant_.strings.size(), model::StringModeValue::kFloat),
      io_(std::make_unique<io::Hub>(plant_, clock_, sim_.get())) {
  sim_->advanceTo(started_ms_);
  events_ = std::make_unique<events::Manager>(plant_.events, plant_.site.name, clock_);
  std::vector<alarms::InputRule> input_rules;
  for (const auto& dev : plant_.io.devices) {
    for (const auto& ch : dev.channels) {
      if (ch.kind != model::ChannelKind::kDigitalInput || ch.alarm_level == 0) {
        continue;
      }
      alarms::InputRule r;
      r.channel_id = dev.id + "." + ch.id;
      r.name = ch.name;
      r.level = ch.alarm_level >= 2 ? alarms::Level::kAlarm : alarms::Level::kWarning;
      const bool breaker = ch.role == model::ChannelRole::kBreakerStatus;
      r.alarm_when = !breaker;  // a breaker-status input alarms while the breaker is open
      r.on_delay_ms = ch.alarm_delay_ms;
      r.off_delay_ms = ch.alarm_delay_ms;
      r.string_number = breaker ? ch.string_number : 0;
      input_rules.push_back(std::move(r));
    }
  }
  alarms_.setInputRules(input_rules);
  // Relay and buzzer actions drive the I/O layer's outputs (the hub only records the command; a
  // real device's thread writes it).
  // A bare channel name ("buzzer") means the first output of that name.
  events_->setOutputHook([this](const std::string& id, bool on, DurationMs pulse_ms) {
    std::string target = id;
    if (id.find('.') == std::string::npos) {
      for (const auto& ch : io_->channels(clock_.nowMs())) {
        if (ch.output && ch.channel == id) {
          target = ch.id;
          break;
        }
      }
    }
    return pulse_ms > 0 && on ? io_->pulseOutput(target, pulse_ms) : io_->setOutput(target, on);
  });
  for (const auto& sc : plant_.strings) {
    equalizers_.emplace_back(sc, plant_.equalization);
    calibration_.emplace_back(static_cast<std::size_t>(sc.block_count),
                              analysis::CalibrationConfig::forString(sc));
    calibration_saved_events_.push_back(0);
    runaway_.emplace_back(sc.name, sc.capacity_ah, plant_.thermal_runaway);
    bypass_power_w_.emplace_back(static_cast<std::size_t>(sc.block_count), 0.0);
    effort_.emplace_back(static_cast<std::size_t>(sc.block_count));
    ri_baseline_.emplace_back(static_cast<std::size_t>(sc.block_count), plant_.alarms);
  }
}

void Controller::trackRi(const bus::Sweep& sweep) {
  for (std::size_t s = 0; s < ri_baseline_.size(); ++s) {
    std::vector<analysis::RiBaselineEvent> events;
    const auto& modules = sweep.modules[s];
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      if (m.quality == Quality::kOk && m.time_ms == sweep.time_ms) {
        ri_baseline_[s].update(b, m.reading.ri_uohm / 1000.0, sweep.time_ms, events);
      }
    }
    if (events.empty()) {
      continue;
    }
    for (const auto& e : events) {
      logRiBaselineEvent(s, e);
    }
    saveRiBaseline(s);
  }
}

void Controller::logRiBaselineEvent(std::size_t s, const analysis::RiBaselineEvent& e) {
  const int block = static_cast<int>(e.block_index) + 1;
  std::string message;
  if (e.kind == "established") {
    message = fmt::format("String {}, block {}: Ri baseline established at {:.3f} mΩ", s + 1, block,
                          e.baseline_mohm);
  } else if (e.kind == "replaced") {
    message = fmt::format(
        "String {}, block {}: Ri stays far below its baseline {:.3f} mΩ (block replaced?); "
        "collecting a new baseline",
        s + 1, block, e.baseline_mohm);
  } else {
    message = fmt::format("String {}, block {}: Ri baseline reset by an operator (was {:.3f} mΩ)",
                          s + 1, block, e.baseline_mohm);
  }
  log::get("analysis")->info("{}", message);
  if (history_) {
    (void)history_->appendEvent(
        {clock_.nowMs(), "ri_baseline", message, "", static_cast<int>(s) + 1, block});
  }
}

void Controller::saveRiBaseline(std::size_t s) {
  if (auto st = writeFileAtomically(riBaselinePath(plant_, s), ri_baseline_[s].serialize()); !st) {
    log::get("analysis")->warn("{}", st.error().message);
  }
}

Status Controller::resetRiBaseline(std::size_t s, std::size_t b) {
  std::lock_guard cycle_lock(cycle_mutex_);
  if (s >= ri_baseline_.size() || b >= ri_baseline_[s].blockCount()) {
    return makeError(ErrorCode::kNotFound, "no such block");
  }
  logRiBaselineEvent(s, ri_baseline_[s].reset(b));
  saveRiBaseline(s);
  return {};
}

alarms::RuleTable Controller::alarmRules() const {
  std::lock_guard lock(alarm_mutex_);
  alarms::RuleTable t;
  for (std::size_t s = 0; s < plant_.strings.size(); ++s) {
    t.strings.push_back(alarms_.rules(s));
  }
  t.system = alarms_.systemRules();
  return t;
}

std::vector<model::AlarmRuleOverride> Controller::alarmOverrides() const {
  std::lock_guard lock(alarm_mutex_);
  return alarms_.runtimeOverrides();
}

Status Controller::setAlarmOverrides(const std::vector<model::AlarmRuleOverride>& overrides,
                                     const std::string& what) {
  std::lock_guard cycle_lock(cycle_mutex_);
  {
    std::lock_guard lock(alarm_mutex_);
    if (auto st = alarms_.setRuntimeOverrides(overrides); !st) {
      return st;
    }
  }
  if (auto st = writeFileAtomically(alarmRulesPath(plant_), alarms::overridesFileText(overrides));
      !st) {
    log::get("alarms")->warn("alarm rule change not persisted: {}", st.error().message);
  }
  log::get("alarms")->info("alarm rules changed: {}", what);
  if (history_) {
    (void)history_->appendEvent({clock_.nowMs(), "config", "alarm rules changed: " + what});
  }
  return {};
}

Controller::~Controller() {
  stop();
}

Status Controller::open() {
  std::error_code ec;
  std::filesystem::create_directories(plant_.data_dir, ec);
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot create data directory '{}': {}",
                                                 plant_.data_dir, ec.message()));
  }
  auto store = history::Store::open(historyPath(plant_), plant_.history.max_bytes);
  if (!store) {
    return store.error();
  }
  history_ = std::move(store.value());
  auto st = history_->appendEvent({clock_.nowMs(), "system",
                                   fmt::format("equalisd started: {} strings, {} modules",
                                               plant_.strings.size(), plant_.moduleCount())});
  if (!st) {
    return st.error();
  }
  events_->onSystemStart(
      clock_.nowMs(), fmt::format("equalisd started on {}: {} strings, {} modules",
                                  plant_.site.name, plant_.strings.size(), plant_.moduleCount()));
  pending_event_ = true;
  io_->start();  // poll threads of real I/O devices
  // Module self-calibration survives restarts (one small text file per string).
  for (std::size_t s = 0; s < calibration_.size(); ++s) {
    const auto path = calibrationPath(plant_, s);
    const auto text = readFileText(path);
    if (!text) {
      continue;
    }
    auto loaded = analysis::OffsetEstimator::deserialize(*text);
    if (!loaded || loaded->blockCount() != calibration_[s].blockCount()) {
      log::get("calibration")
          ->warn("ignoring {}: {}", path,
                 loaded ? "block count differs from the configuration" : loaded.error().message);
      continue;
    }
    calibration_[s] = std::move(loaded.value());
    calibration_saved_events_[s] = calibration_[s].stringEvents();
  }
  // Ri baselines and alarm rule changes made at run time survive restarts too.
  for (std::size_t s = 0; s < ri_baseline_.size(); ++s) {
    const auto path = riBaselinePath(plant_, s);
    const auto text = readFileText(path);
    if (!text) {
      continue;
    }
    auto loaded = analysis::RiBaseline::deserialize(*text, plant_.alarms);
    if (!loaded || loaded->blockCount() != ri_baseline_[s].blockCount()) {
      log::get("analysis")
          ->warn("ignoring {}: {}", path,
                 loaded ? "block count differs from the configuration" : loaded.error().message);
      continue;
    }
    ri_baseline_[s] = std::move(loaded.value());
  }
  if (const auto text = readFileText(alarmRulesPath(plant_))) {
    auto overrides = alarms::parseOverridesFile(*text);
    Status applied = overrides ? alarms_.setRuntimeOverrides(std::move(overrides.value()))
                               : Status(overrides.error());
    if (!applied) {
      log::get("alarms")->warn("ignoring {}: {}", alarmRulesPath(plant_), applied.error().message);
      (void)history_->appendEvent({clock_.nowMs(), "system",
                                   fmt::format("alarm rule changes in {} ignored: {}",
                                               alarmRulesPath(plant_), applied.error().message)});
    }
  }
  return {};
}

Status Controller::setScenario(sim::Scenario scenario) {
  if (auto st = sim::validate(scenario, plant_); !st) {
    return st;
  }
  std::lock_guard lock(cycle_mutex_);
  scenario_start_ms_ = clock_.nowMs();
  if (history_) {
    (void)history_->appendEvent(
        {scenario_start_ms_, "scenario",
         fmt::format("scenario '{}' started: {} events over {:.1f} h", scenario.name,
                     scenario.events.size(), static_cast<double>(scenario.duration_ms) / kHourMs)});
  }
  scenario_ = std::make_unique<sim::ScenarioRunner>(std::move(scenario));
  return {};
}

// Applies each due scenario step at its own time (the plant is advanced to it first).
void Controller::runScenario(TimeMs now_ms) {
  if (!scenario_) {
    return;
  }
  while (!scenario_->finished()) {
    const TimeMs at = scenario_start_ms_ + scenario_->nextAtMs();
    if (at > now_ms) {
      break;
    }
    sim_->advanceTo(at);
    const std::size_t errors_before = scenario_->errors().size();
    scenario_->applyDue(*sim_, scenario_start_ms_, at);
    pending_event_ = true;
    if (history_) {
      (void)history_->appendEvent(
          {at, "scenario",
           fmt::format("scenario '{}': step {}/{} applied", scenario_->scenario().name,
                       scenario_->appliedCount(), scenario_->stepCount())});
      for (std::size_t i = errors_before; i < scenario_->errors().size(); ++i) {
        (void)history_->appendEvent({at, "scenario", scenario_->errors()[i]});
      }
    }
  }
}

void Controller::calibrate(const bus::Sweep& sweep,
                           const std::vector<analysis::StringSummary>& sums) {
  for (std::size_t s = 0; s < calibration_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    analysis::CalibrationSample cs;
    cs.time_ms = sweep.time_ms;
    cs.mode = sums[s].mode;
    cs.mode_valid = sums[s].mode_quality == Quality::kOk;
    cs.current_a = sums[s].current_a;
    cs.current_valid = sums[s].current_quality == Quality::kOk;
    // In settled constant-voltage float the true block voltages sum to the charger set-point.
    cs.charger_setpoint_v = sums[s].target_voltage_v * static_cast<double>(modules.size());
    cs.voltage_v.resize(modules.size());
    cs.ri_ohm.resize(modules.size());
    cs.temperature_c.resize(modules.size());
    cs.valid.resize(modules.size());
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      cs.valid[b] = m.quality == Quality::kOk && m.time_ms == sweep.time_ms;
      cs.voltage_v[b] = m.reading.voltage_mv / 1000.0;
      cs.ri_ohm[b] = m.reading.ri_uohm / 1e6;
      cs.temperature_c[b] = m.reading.temperature_dc / 10.0;
    }
    calibration_[s].update(cs);
    if (calibration_[s].stringEvents() != calibration_saved_events_[s]) {
      saveCalibration(s);
    }
  }
}

void Controller::saveCalibration(std::size_t s) {
  calibration_saved_events_[s] = calibration_[s].stringEvents();
  if (auto st = writeFileAtomically(calibrationPath(plant_, s), calibration_[s].serialize()); !st) {
    log::get("calibration")->warn("{}", st.error().message);
    return;
  }
  if (history_) {
    (void)history_->appendEvent(
        {clock_.nowMs(), "calibration",
         fmt::format("{}: module self-calibration updated from discharge #{}",
                     plant_.strings[s].name, calibration_[s].stringEvents())});
  }
}

void Controller::cycle() {
  std::lock_guard lock(cycle_mutex_);
  const TimeMs now = clock_.nowMs();
  runScenario(now);
  sim_->advanceTo(now);
  pollIo(now);
  const auto& sweep = frontend_.sweep(now);
  const auto& sums = analyzer_.update(sweep);
  calibrate(sweep, sums);
  trackRi(sweep);
  equalize(sweep, sums);
  noteModeChanges(sums, now);
  guardRunaway(sweep, sums);
  publishState(sweep, sums);
  evaluateAlarms(sweep, sums);
  events_->tick(now);
  logDeliveries();
  recordHistory(sweep, sums);
  sweep_count_ += 1;
}

void Controller::run() {
  const DurationMs period = plant_.bus.sweep_interval_ms;
  TimeMs next = clock_.nowMs();
  while (!stop_.load()) {
    cycle();
    next += period;
    const TimeMs now = clock_.nowMs();
    if (next < now) {
      // Behind (very high time scale): skip the missed sweeps, the plant integrates the gap.
      next = now;
    }
    if (!clock_.sleepUntil(next)) {
      break;
    }
  }
}

void Controller::stop() {
  stop_ = true;
  io_->stop();
  clock_.wake();
  state_.notifyAll();
}

void Controller::runUntil(SimulatedClock& clock, TimeMs until_ms) {
  while (clock.nowMs() + plant_.bus.sweep_interval_ms <= until_ms) {
    clock.advance(plant_.bus.sweep_interval_ms);
    cycle();
  }
}

void Controller::equalize(const bus::Sweep& sweep,
                          const std::vector<analysis::StringSummary>& sums) {
  for (std::size_t s = 0; s < equalizers_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    control::StringInput in;
    in.time_ms = sweep.time_ms;
    in.mode = sums[s].mode;
    in.mode_valid = sums[s].mode_quality == Quality::kOk;
    in.current_a = sums[s].current_a;
    in.target_v = sums[s].target_voltage_v;
    in.voltage_v.resize(modules.size());
    in.valid.resize(modules.size());
    auto& power_w = bypass_power_w_[s];
    power_w.assign(modules.size(), 0.0);
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      in.valid[b] = m.quality == Quality::kOk && m.time_ms == sweep.time_ms;
      const double measured_v = m.reading.voltage_mv / 1000.0;
      in.voltage_v[b] = plant_.equalization.self_calibration
                            ? calibration_[s].corrected(b, measured_v)
                            : measured_v;
      // Bypass power the module reports it applies (duty × its current, capped by its power).
      const auto& type = model::moduleTypeInfo(plant_.strings[s].module_type);
      const double v = measured_v;
      const double i_a =
          std::min(type.bypass_current_a, type.bypass_power_max_w / std::max(v, 0.1));
      power_w[b] = in.valid[b] ? m.reading.bypass_duty_pct / 100.0 * i_a * v : 0.0;
    }
    effort_[s].add(sweep.time_ms, power_w);
    const auto& duties = equalizers_[s].update(in);
    for (std::size_t b = 0; b < duties.size(); ++b) {
      frontend_.commandBypass(s, b, static_cast<std::uint8_t>(std::lround(duties[b] * 100.0)));
    }
  }
}

void Controller::evaluateAlarms(const bus::Sweep& sweep,
                                const std::vector<analysis::StringSummary>& sums) {
  std::vector<alarms::AlarmEvent> events;
  {
    std::lock_guard lock(alarm_mutex_);
    state::StateStore::Reader r(state_, sweep.time_ms);
    events = alarms_.evaluate(r, sweep.time_ms);
  }
  // Digital-input alarms from the I/O layer's present input states.
  std::vector<alarms::InputSample> inputs;
  for (const auto& ch : io_->channels(sweep.time_ms)) {
    if (ch.kind == model::ChannelKind::kDigitalInput) {
      inputs.push_back({ch.id, {ch.value, ch.time_ms, ch.quality}});
    }
  }
  {
    std::lock_guard lock(alarm_mutex_);
    auto input_events = alarms_.evaluateInputs(inputs, sweep.time_ms);
    events.insert(events.end(), input_events.begin(), input_events.end());
  }
  for (const auto& e : events) {
    logAlarmEvent(e);
  }
  // Lock order: alarm_mutex_ before the state store's lock (as above), never the other way.
  const auto active = activeAlarms();
  std::lock_guard lock(alarm_mutex_);
  state::StateStore::Writer w(state_);
  int alarm_count = 0;
  int warning_count = 0;
  int unacknowledged = 0;
  for (const auto& a : active) {
    (a.level == alarms::Level::kAlarm ? alarm_count : warning_count) += 1;
    unacknowledged += a.acknowledged ? 0 : 1;
  }
  w.setSystem(PointId::kSystemAlarmCount,
              {static_cast<double>(alarm_count), sweep.time_ms, Quality::kOk});
  w.setSystem(PointId::kSystemWarningCount,
              {static_cast<double>(warning_count), sweep.time_ms, Quality::kOk});
  w.setSystem(PointId::kSystemUnacknowledgedCount,
              {static_cast<double>(unacknowledged), sweep.time_ms, Quality::kOk});
  // Block status = worst active alarm level; unknown while the block has no fresh data.
  for (std::size_t s = 0; s < sums.size(); ++s) {
    for (std::size_t b = 0; b < sums[s].blocks.size(); ++b) {
      auto status = sums[s].blocks[b].status;
      if (status != model::BlockStatus::kUnknown) {
        const auto level = alarms_.blockLevel(s, b);
        if (level == alarms::Level::kAlarm) {
          status = model::BlockStatus::kAlarm;
        } else if (level == alarms::Level::kWarning) {
          status = model::BlockStatus::kWarning;
        }
      }
      w.set(PointId::kBlockStatus, s, b,
            {static_cast<double>(status), sweep.time_ms, Quality::kOk});
    }
  }
}

void Controller::guardRunaway(const bus::Sweep& sweep,
                              const std::vector<analysis::StringSummary>& sums) {
  for (std::size_t s = 0; s < runaway_.size(); ++s) {
    const auto in = alarms::runawayInputFrom(sweep, s, sums[s]);
    const auto reduce_relay = io_->chargerReduceRelay(s);
    std::vector<alarms::RunawayEvent> events;
    {
      std::lock_guard lock(alarm_mutex_);
      runaway_[s].setChargerControllable(reduce_relay.has_value());
      events = runaway_[s].update(in);
    }
    for (const auto& e : events) {
      if (e.reduce_charger && reduce_relay) {
        // The charger's "reduce voltage" input: a simulated relay lowers the simulated charger at
        // once; a real one is written by its device thread right away.
        if (auto st = io_->setOutput(*reduce_relay, true); !st) {
          log::get("protection")->error("{}: {}", *reduce_relay, st.error().message);
        }
        io_->poll(sweep.time_ms);
      }
      if (e.open_breaker) {
        if (const auto relay = io_->breakerTripRelay(s)) {
          // Through the configured breaker_trip relay (a simulated one opens the simulated
          // breaker at once; a real one is written by its device thread right away).
          if (auto st = io_->setOutput(*relay, true); !st) {
            log::get("protection")->error("{}: {}", *relay, st.error().message);
          }
          io_->poll(sweep.time_ms);
        } else {
          // No relay configured: the simulated protection relay opens the string breaker.
          sim_->setBreakerClosed(s, false);
        }
      }
      logProtectionEvent(s, e);
    }
  }
}

void Controller::logProtectionEvent(std::size_t s, const alarms::RunawayEvent& e) {
  pending_event_ = true;
  if (e.kind == "cleared" || e.kind == "reset") {
    log::get("protection")->info("{}", e.message);
  } else {
    log::get("protection")->warn("{}", e.message);
  }
  if (history_) {
    (void)history_->appendEvent(
        {e.time_ms, "protection", fmt::format("[string {}] {}: {}", s + 1, e.kind, e.message),
         e.kind == "cleared" || e.kind == "reset" ? "none" : "alarm", static_cast<int>(s) + 1, 0});
  }
  events_->onProtectionEvent(static_cast<int>(s) + 1, e);
}

Status Controller::resetProtection(std::size_t s) {
  if (s >= runaway_.size()) {
    return makeError(ErrorCode::kNotFound, "no such string");
  }
  std::lock_guard cycle_lock(cycle_mutex_);
  std::vector<alarms::RunawayEvent> events;
  {
    std::lock_guard lock(alarm_mutex_);
    events = runaway_[s].reset(clock_.nowMs());
  }
  if (events.empty()) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format(
            "{}: protection is neither tripped nor holding the charger lowered; nothing to reset",
            plant_.strings[s].name));
  }
  if (const auto relay = io_->breakerTripRelay(s)) {
    (void)io_->setOutput(*relay, false);  // release the trip coil
  }
  const bool release_charger =
      std::any_of(events.begin(), events.end(), [](const auto& e) { return e.release_charger; });
  if (const auto relay = io_->chargerReduceRelay(s); relay && release_charger) {
    (void)io_->setOutput(*relay, false);  // the charger returns to its float voltage
  }
  sim_->setBreakerClosed(s, true);  // the operator closes the breaker again (simulated plant)
  for (const auto& e : events) {
    logProtectionEvent(s, e);
  }
  return {};
}

alarms::RunawayState Controller::protectionState(std::size_t s) const {
  std::lock_guard lock(alarm_mutex_);
  return runaway_.at(s).state();
}

void Controller::logAlarmEvent(const alarms::AlarmEvent& e) {
  pending_event_ = true;  // the history records a snapshot at every alarm event
  const auto lvl = std::string(alarms::levelName(e.alarm.level));
  if (e.kind == "raised" || e.kind == "escalated") {
    log::get("alarms")->warn("{} {}: {}", lvl, e.kind, e.alarm.message);
  } else {
    log::get("alarms")->info("{}: {}", e.kind, e.alarm.message);
  }
  if (history_) {
    (void)history_->appendEvent(
        {e.time_ms, "alarm",
         fmt::format("[{}] {} {}: {}", e.alarm.key, lvl, e.kind, e.alarm.message), lvl,
         e.alarm.string_number, e.alarm.block_number});
  }
  events_->onAlarmEvent(e);
}

void Controller::setOutputHook(events::OutputHook hook) {
  events_->setOutputHook(std::move(hook));
}

void Controller::onInputChanges(std::vector<model::InputChange> changes) {
  std::lock_guard lock(cycle_mutex_);
  for (auto& c : changes) {
    if (c.time_ms <= 0) {
      c.time_ms = clock_.nowMs();
    }
    events_->onInputChange(c);
  }
  logDeliveries();
}

// Outcomes of event-manager actions ("email to ops@… sent") into the event log.
void Controller::logDeliveries() {
  for (const auto& d : events_->takeDeliveries()) {
    if (history_) {
      if (auto st = history_->appendEvent({d.time_ms, "action", events::describe(d)}); !st) {
        log::get("history")->warn("event not stored: {}", st.error().message);
      }
    }
  }
}

void Controller::finishEvents(DurationMs grace_ms) {
  events_->stop(grace_ms);
  std::lock_guard lock(cycle_mutex_);
  logDeliveries();
}

std::vector<alarms::ActiveAlarm> Controller::activeAlarms() const {
  std::lock_guard lock(alarm_mutex_);
  auto out = alarms_.active();
  // Thermal-runaway protection: suspect = warning; countdown and tripped = alarm (latched).
  for (std::size_t s = 0; s < runaway_.size(); ++s) {
    const auto& g = runaway_[s];
    if (g.state() == alarms::RunawayState::kNormal) {
      continue;
    }
    alarms::ActiveAlarm a;
    a.rule_id = "string.thermal_runaway";
    a.string_number = static_cast<int>(s) + 1;
    a.block_number = g.hotBlock();
    a.key = fmt::format("{}/{}/{}", a.rule_id, a.string_number, a.block_number);
    // Suspect and a charger held lowered after the evidence went away are warnings.
    a.level =
        g.state() == alarms::RunawayState::kSuspect || g.state() == alarms::RunawayState::kReduced
            ? alarms::Level::kWarning
            : alarms::Level::kAlarm;
    a.message = g.lastMessage();
    out.insert(out.begin(), a);
  }
  return out;
}

Result<alarms::AlarmEvent> Controller::acknowledgeAlarm(const std::string& key) {
  Result<alarms::AlarmEvent> e = makeError(ErrorCode::kNotFound, "");
  {
    std::lock_guard lock(alarm_mutex_);
    e = alarms_.acknowledge(key, clock_.nowMs());
  }
  if (e) {
    std::lock_guard lock(cycle_mutex_);
    logAlarmEvent(*e);
  }
  return e;
}

void Controller::noteModeChanges(const std::vector<analysis::StringSummary>& sums, TimeMs now_ms) {
  for (std::size_t s = 0; s < sums.size(); ++s) {
    if (sums[s].mode_quality != Quality::kOk || sums[s].mode == last_mode_[s]) {
      continue;
    }
    const auto from = model::enumName(PointId::kStringMode, static_cast<int>(last_mode_[s]));
    const auto to = model::enumName(PointId::kStringMode, static_cast<int>(sums[s].mode));
    last_mode_[s] = sums[s].mode;
    pending_event_ = true;
    if (history_) {
      const auto message =
          fmt::format("{}: mode {} → {} (current {:.1f} A, voltage {:.1f} V)",
                      plant_.strings[s].name, from, to, sums[s].current_a, sums[s].voltage_v);
      if (auto st = history_->appendEvent({now_ms, "mode", message}); !st) {
        log::get("history")->warn("event not stored: {}", st.error().message);
      }
    }
  }
}

void Controller::publishState(const bus::Sweep& sweep,
                              const std::vector<analysis::StringSummary>& sums) {
  const TimeMs t = sweep.time_ms;
  state::StateStore::Writer w(state_);
  w.setSystem(PointId::kSystemStringCount,
              {static_cast<double>(plant_.strings.size()), t, Quality::kOk});
  w.setSystem(PointId::kSystemModuleCount,
              {static_cast<double>(plant_.moduleCount()), t, Quality::kOk});
  w.setSystem(PointId::kSystemSweepCount, {static_cast<double>(sweep.seq), t, Quality::kOk});
  w.setSystem(PointId::kSystemSweepDurationMs, {sweep.duration_ms, t, Quality::kOk});
  w.setSystem(PointId::kSystemModulesOkCount,
              {static_cast<double>(sweep.modules_ok), t, Quality::kOk});
  w.setSystem(PointId::kSystemAmbientTemperatureC,
              {sweep.ambient.temperature_dc / 10.0, sweep.ambient.time_ms, sweep.ambient.quality});
  publishIo(w, t);

  for (std::size_t s = 0; s < sums.size(); ++s) {
    const auto& sum = sums[s];
    const Quality vq = sum.voltage_quality;
    const Quality iq = sum.current_quality;
    const Quality pq =
        (vq == Quality::kOk && iq == Quality::kOk) ? Quality::kOk : (vq != Quality::kOk ? vq : iq);
    const Quality bq = sum.blocks_ok > 0 ? Quality::kOk : Quality::kCommLost;
    w.set(PointId::kStringVoltageV, s, 0, {sum.voltage_v, t, vq});
    w.set(PointId::kStringCurrentA, s, 0, {sum.current_a, t, iq});
    w.set(PointId::kStringPowerKw, s, 0, {sum.power_kw, t, pq});
    w.set(PointId::kStringMode, s, 0, {static_cast<double>(sum.mode), t, sum.mode_quality});
    w.set(PointId::kStringTargetVoltageV, s, 0, {sum.target_voltage_v, t, Quality::kOk});
    w.set(PointId::kStringChargeAvgPct, s, 0, {sum.charge_avg_pct, t, iq});
    w.set(PointId::kStringAcCurrentA, s, 0, {sum.ac_current_a, t, iq});
    w.set(PointId::kStringBlockVoltageMinV, s, 0, {sum.block_voltage_min_v, t, bq});
    w.set(PointId::kStringBlockVoltageMaxV, s, 0, {sum.block_voltage_max_v, t, bq});
    w.set(PointId::kStringBlockVoltageSpreadV, s, 0, {sum.block_voltage_spread_v, t, bq});
    w.set(PointId::kStringTemperatureMaxC, s, 0, {sum.temperature_max_c, t, bq});
    w.set(PointId::kStringChargerDeviationPct, s, 0,
          {sum.charger_deviation_pct, t, sum.charger_deviation_quality});
    w.set(PointId::kStringProtectionState, s, 0,
          {static_cast<double>(runaway_[s].state()), t, Quality::kOk});
    w.set(PointId::kStringEqualizationState, s, 0,
          {static_cast<double>(equalizers_[s].state()), t, Quality::kOk});
    double eq_power_w = 0;

    const auto& modules = sweep.modules[s];
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      const auto& d = sum.blocks[b];
      const auto& comm = sweep.comm[s][b];
      w.set(PointId::kBlockVoltageV, s, b, {m.reading.voltage_mv / 1000.0, m.time_ms, m.quality});
      w.set(PointId::kBlockTemperatureC, s, b,
            {m.reading.temperature_dc / 10.0, m.time_ms, m.quality});
      w.set(PointId::kBlockRiMohm, s, b, {m.reading.ri_uohm / 1000.0, m.time_ms, m.quality});
      const auto& rb = ri_baseline_[s];
      if (rb.established(b)) {
        w.set(PointId::kBlockRiBaselineMohm, s, b, {rb.baselineMohm(b), t, Quality::kOk});
        w.set(PointId::kBlockRiRisePct, s, b,
              {rb.risePct(b, m.reading.ri_uohm / 1000.0), m.time_ms, m.quality});
      } else {
        w.set(PointId::kBlockRiBaselineMohm, s, b, {0.0, t, Quality::kNotPresent});
        w.set(PointId::kBlockRiRisePct, s, b, {0.0, t, Quality::kNotPresent});
      }
      w.set(PointId::kBlockChargePct, s, b, {d.charge_pct, t, iq});
      w.set(PointId::kBlockEqualizationPct, s, b, {d.equalization_pct, m.time_ms, m.quality});
      w.set(PointId::kBlockEqualizationLevel, s, b,
            {static_cast<double>(d.equalization_level), m.time_ms, m.quality});
      // Status is derived every sweep; it is "unknown" (not stale) when the data is missing.
      w.set(PointId::kBlockStatus, s, b, {static_cast<double>(d.status), t, Quality::kOk});
      w.set(PointId::kBlockEqualizationWhPerDay, s, b, {effort_[s].whPerDay(b), t, Quality::kOk});
      const auto& cal = calibration_[s];
      const double measured_v = m.reading.voltage_mv / 1000.0;
      w.set(PointId::kBlockVoltageCorrectedV, s, b,
            {cal.corrected(b, measured_v), m.time_ms, m.quality});
      w.set(PointId::kBlockModuleErrorMv, s, b,
            {cal.errorV(b) * 1000.0, t, cal.calibrated(b) ? Quality::kOk : Quality::kNotPresent});
      eq_power_w += bypass_power_w_[s][b];
      w.set(PointId::kBlockCommOkCount, s, b, {static_cast<double>(comm.ok), t, Quality::kOk});
      w.set(PointId::kBlockCommErrorCount, s, b,
            {static_cast<double>(comm.errors), t, Quality::kOk});
    }
    w.set(PointId::kStringEqualizationPowerW, s, 0, {eq_power_w, t, bq});
  }
}

void Controller::recordHistory(const bus::Sweep& sweep,
                               const std::vector<analysis::StringSummary>& sums) {
  if (!history_) {
    return;
  }
  const bool event = pending_event_;
  pending_event_ = false;
  const auto reason = recorder_.shouldRecord(sweep.time_ms, analyzer_.anyDischarging(), event);
  if (!reason) {
    return;
  }
  history::Snapshot snap;
  snap.time_ms = sweep.time_ms;
  snap.reason = *reason;
  for (std::size_t s = 0; s < sums.size(); ++s) {
    const auto& sum = sums[s];
    snap.strings.push_back(
        {static_cast<int>(s), sum.voltage_v, sum.current_a, sum.ac_current_a, sum.charge_avg_pct,
         static_cast<int>(sum.mode),
         sum.voltage_quality == Quality::kOk ? sum.current_quality : sum.voltage_quality});
    const auto& modules = sweep.modules[s];
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      // Only this sweep's readings are recorded as measured; older ones go in as comm_lost.
      const bool fresh = m.time_ms == sweep.time_ms;
      const Quality q =
          fresh ? m.quality : (m.quality == Quality::kOk ? Quality::kStale : m.quality);
      const double nan = std::nan("");
      snap.blocks.push_back(
          {static_cast<int>(s), static_cast<int>(b), fresh ? m.reading.voltage_mv / 1000.0 : nan,
           fresh ? m.reading.temperature_dc / 10.0 : nan, fresh ? m.reading.ri_uohm / 1000.0 : nan,
           sum.blocks[b].charge_pct, sum.blocks[b].equalization_pct, q});
    }
  }
  if (auto st = history_->append(snap); !st) {
    log::get("history")->error("snapshot not stored: {}", st.error().message);
    return;
  }
  history_records_ += 1;
}

// ------------------------------------------------------------------------------ I/O devices

void Controller::pollIo(TimeMs now_ms) {
  io_->poll(now_ms);
  auto changes = io_->drainChanges();
  if (changes.empty()) {
    return;
  }
  constexpr std::size_t kMaxQueued = 1000;  // unconsumed changes: the newest are kept
  for (const auto& c : changes) {
    const auto text =
        fmt::format("{} ({}): {}", c.channel_id, c.name, c.value ? "active" : "inactive");
    log::get("io")->info("input {}", text);
    pending_event_ = true;
    if (history_) {
      (void)history_->appendEvent({c.time_ms, "input", text});
    }
    events_->onInputChange(c);  // input_change rules of the event manager
  }
  std::lock_guard lock(input_mutex_);
  input_changes_.insert(input_changes_.end(), changes.begin(), changes.end());
  if (input_changes_.size() > kMaxQueued) {
    input_changes_.erase(input_changes_.begin(),
                         input_changes_.end() - static_cast<std::ptrdiff_t>(kMaxQueued));
  }
}

// Environment points: not_present without a sensor, else the feeding channel's value, time and
// quality (comm_lost while its device is silent; stale by age in the state store). A channel
// feeding the ambient temperature replaces the bus's ambient sensor.
void Controller::publishIo(state::StateStore::Writer& w, TimeMs now_ms) {
  const state::Sample absent{std::nan(""), 0, Quality::kNotPresent};
  w.setSystem(PointId::kSystemHumidityPct, absent);
  w.setSystem(PointId::kSystemHydrogenPct, absent);
  for (std::size_t s = 0; s < plant_.strings.size(); ++s) {
    w.set(PointId::kStringElectrolyteLevel, s, 0, absent);
  }
  for (const auto& p : io_->pointSamples(now_ms)) {
    w.set(p.id, p.string_index, 0, {p.value, p.time_ms, p.quality});
  }
}

std::vector<model::InputChange> Controller::takeInputChanges() {
  std::lock_guard lock(input_mutex_);
  std::vector<model::InputChange> out;
  out.swap(input_changes_);
  return out;
}

Status Controller::setOutput(const std::string& id, bool on) {
  return io_->setOutput(id, on);
}

Status Controller::pulseOutput(const std::string& id, DurationMs duration_ms) {
  return io_->pulseOutput(id, duration_ms);
}

std::vector<io::ChannelSnapshot> Controller::ioChannels() const {
  return io_->channels(clock_.nowMs());
}

std::vector<io::DeviceSnapshot> Controller::ioDevices() const {
  return io_->devices();
}

}  // namespace equalis::runtime
