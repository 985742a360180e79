#include "runtime/controller.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

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

}  // namespace

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
      last_mode_(plant_.strings.size(), model::StringModeValue::kFloat) {
  sim_->advanceTo(started_ms_);
  events_ = std::make_unique<events::Manager>(plant_.events, plant_.site.name, clock_);
  for (const auto& sc : plant_.strings) {
    equalizers_.emplace_back(sc, plant_.equalization);
    calibration_.emplace_back(static_cast<std::size_t>(sc.block_count),
                              analysis::CalibrationConfig::forString(sc));
    calibration_saved_events_.push_back(0);
    runaway_.emplace_back(sc.name, sc.capacity_ah, plant_.thermal_runaway);
    bypass_power_w_.emplace_back(static_cast<std::size_t>(sc.block_count), 0.0);
    effort_.emplace_back(static_cast<std::size_t>(sc.block_count));
  }
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
  // Module self-calibration survives restarts (one small text file per string).
  for (std::size_t s = 0; s < calibration_.size(); ++s) {
    const auto path = calibrationPath(plant_, s);
    std::ifstream in(path);
    if (!in) {
      continue;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto loaded = analysis::OffsetEstimator::deserialize(text.str());
    if (!loaded || loaded->blockCount() != calibration_[s].blockCount()) {
      log::get("calibration")
          ->warn("ignoring {}: {}", path,
                 loaded ? "block count differs from the configuration" : loaded.error().message);
      continue;
    }
    calibration_[s] = std::move(loaded.value());
    calibration_saved_events_[s] = calibration_[s].stringEvents();
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
  const auto path = calibrationPath(plant_, s);
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << calibration_[s].serialize();
    if (!out) {
      log::get("calibration")->warn("cannot write {}", tmp);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // atomic replace: never a half-written file
  if (ec) {
    log::get("calibration")->warn("cannot replace {}: {}", path, ec.message());
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
  const auto& sweep = frontend_.sweep(now);
  const auto& sums = analyzer_.update(sweep);
  calibrate(sweep, sums);
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
  for (const auto& e : events) {
    logAlarmEvent(e);
  }
  // Block status = worst active alarm level; unknown while the block has no fresh data.
  state::StateStore::Writer w(state_);
  std::lock_guard lock(alarm_mutex_);
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
    const auto& modules = sweep.modules[s];
    alarms::RunawayInput in;
    in.time_ms = sweep.time_ms;
    in.mode_valid = sums[s].mode_quality == Quality::kOk;
    in.mode = sums[s].mode;
    in.current_valid = sums[s].current_quality == Quality::kOk;
    in.current_a = sums[s].current_a;
    in.ambient_valid =
        sweep.ambient.quality == Quality::kOk && sweep.ambient.time_ms == sweep.time_ms;
    in.ambient_c = sweep.ambient.temperature_dc / 10.0;
    in.temperature_c.resize(modules.size());
    in.valid.resize(modules.size());
    for (std::size_t b = 0; b < modules.size(); ++b) {
      in.valid[b] = modules[b].quality == Quality::kOk && modules[b].time_ms == sweep.time_ms;
      in.temperature_c[b] = modules[b].reading.temperature_dc / 10.0;
    }
    std::vector<alarms::RunawayEvent> events;
    {
      std::lock_guard lock(alarm_mutex_);
      events = runaway_[s].update(in);
    }
    for (const auto& e : events) {
      if (e.open_breaker) {
        // The protection relay (GX_R_AUX-style output) opens the string breaker.
        sim_->setBreakerClosed(s, false);
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
        {e.time_ms, "protection", fmt::format("[string {}] {}: {}", s + 1, e.kind, e.message)});
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
        fmt::format("{}: protection is not tripped; nothing to reset", plant_.strings[s].name));
  }
  sim_->setBreakerClosed(s, true);
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
         fmt::format("[{}] {} {}: {}", e.alarm.key, lvl, e.kind, e.alarm.message)});
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
    a.level = g.state() == alarms::RunawayState::kSuspect ? alarms::Level::kWarning
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

}  // namespace equalis::runtime
