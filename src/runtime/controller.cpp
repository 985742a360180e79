#include "runtime/controller.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <optional>
#include <variant>

#include <fmt/format.h>

#include "alarms/rules_json.hpp"
#include "audit/audit.hpp"
#include "bus/commissioning.hpp"
#include "config/diff.hpp"
#include "core/log.hpp"
#include "core/overloaded.hpp"
#include "model/chemistry.hpp"
#include "model/io_names.hpp"
#include "ops/backup.hpp"
#include "persist/files.hpp"

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

std::vector<std::size_t> blocksOf(const model::PlantConfig& plant) {
  const auto layout = layoutOf(plant);
  return {layout.begin(), layout.end()};
}

constexpr DurationMs kSimWarmStartMs = 2 * kDayMs;

DurationMs staleLimitMs(const model::BusConfig& bus) {
  return bus.sweep_interval_ms * bus.stale_after_sweeps;
}

// The text of a persisted file, or nullopt (missing or unreadable: logged).
std::optional<std::string> loadText(const std::string& path, const char* logger) {
  auto text = persist::readFile(path);
  if (!text) {
    log::get(logger)->warn("{}", text.error().message);
    return std::nullopt;
  }
  return *text;
}

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

TimeMs newestHistoryMs(const model::PlantConfig& plant) {
  const auto path = persist::historyPath(plant);
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

std::shared_ptr<sim::PlantSim> simulatedPlant(const model::PlantConfig& plant, TimeMs now_ms) {
  auto sim = std::make_shared<sim::PlantSim>(plant, now_ms - kSimWarmStartMs);
  sim->advanceTo(now_ms);
  return sim;
}

Controller::Controller(model::PlantConfig plant, Clock& clock,
                       std::shared_ptr<sim::PlantSim> plant_sim)
    : plant_(std::move(plant)),
      clock_(clock),
      started_ms_(clock.nowMs()),
      // Without module-bus lines the plant is simulated in-process.
      sim_(!plant_.bus.lines.empty() ? nullptr
           : plant_sim               ? std::move(plant_sim)
                                     : simulatedPlant(plant_, started_ms_)),
      analyzer_(plant_),
      alarms_(plant_),
      module_map_(blocksOf(plant_)),
      modules_view_(std::make_shared<const std::vector<bus::ModuleIdentity>>()),
      state_(layoutOf(plant_), staleLimitMs(plant_.bus)),
      recorder_(plant_.history),
      last_mode_(plant_.strings.size(), model::StringModeValue::kFloat),
      site_(sim_ ? std::make_unique<io::PlantSite>(*sim_) : nullptr),
      io_(std::make_unique<io::Hub>(plant_, clock_, site_.get())) {
  if (sim_) {
    sim_->advanceTo(started_ms_);
  }
  // Module-bus lines (docs/module-bus.md) or the in-process simulator; a line opens lazily, so
  // only a configuration the bus cannot use fails here (reported by open()).
  if (auto backend = bus::openBackend(plant_, clock_, sim_.get())) {
    backend_ = std::move(backend.value());
    frontend_ = std::make_unique<bus::Frontend>(*backend_, plant_);
  } else {
    backend_error_ = backend.error();
  }
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
    capacity_.emplace_back(static_cast<std::size_t>(sc.block_count), sc.capacity_ah);
    capacity_tests_.emplace_back(sc.chemistry, static_cast<std::size_t>(sc.block_count),
                                 sc.capacity_ah);
    runtime_.emplace_back(sc.chemistry, sc.capacity_ah);
    bands_.emplace_back(static_cast<std::size_t>(sc.block_count), sc.chemistry);
    health_.emplace_back(static_cast<std::size_t>(sc.block_count), sc.chemistry);
    health_view_.push_back(std::make_shared<const analysis::HealthTracker>(health_.back()));
    health_published_.push_back(0);
    recorders_.emplace_back(sc.chemistry, static_cast<std::size_t>(sc.block_count));
    reports_.emplace_back();
    runaway_.emplace_back(sc.name, sc.capacity_ah, plant_.thermal_runaway);
    protection_alarms_.emplace_back();
    bypass_power_w_.emplace_back(static_cast<std::size_t>(sc.block_count), 0.0);
    effort_.emplace_back(static_cast<std::size_t>(sc.block_count));
    ri_baseline_.emplace_back(static_cast<std::size_t>(sc.block_count), plant_.alarms);
  }
  rebuildRulesView();
}

void Controller::trackRi(const bus::Sweep& sweep) {
  for (std::size_t s = 0; s < ri_baseline_.size(); ++s) {
    std::vector<analysis::RiBaselineEvent> events;
    const auto& modules = sweep.modules[s];
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      if (m.usable()) {
        ri_baseline_[s].update(b, m.ri_mohm, sweep.time_ms, events);
      }
    }
    if (events.empty()) {
      continue;
    }
    for (const auto& e : events) {
      logRiBaselineEvent(s, e);
      if (e.kind == "replaced") {
        resetHealth(s, e.block_index);
      }
    }
    saveRiBaseline(s);
  }
}

void Controller::logRiBaselineEvent(std::size_t s, const analysis::RiBaselineEvent& e,
                                    const std::string& why) {
  const int block = static_cast<int>(e.block_index) + 1;
  std::string message;
  if (!why.empty()) {
    message = e.baseline_mohm > 0
                  ? fmt::format("String {}, block {}: Ri baseline reset: {} (was {:.3f} mΩ)", s + 1,
                                block, why, e.baseline_mohm)
                  : fmt::format("String {}, block {}: Ri baseline reset: {} (none established)",
                                s + 1, block, why);
  } else if (e.kind == "established") {
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
  logEvent({clock_.nowMs(), "ri_baseline", message, "", static_cast<int>(s) + 1, block});
}

void Controller::noteModules(TimeMs now_ms) {
  auto read = backend_->takeModuleIdentities();
  if (read.empty()) {
    return;
  }
  using Kind = bus::ModuleMap::Change::Kind;
  std::size_t recorded = 0;
  bool changed = false;
  for (const auto& m : read) {
    const auto c = module_map_.update(m);
    const int string_no = static_cast<int>(m.string_index) + 1;
    const int block_no = static_cast<int>(m.block_index) + 1;
    switch (c.kind) {
      case Kind::kSame:
        break;
      case Kind::kNew:
        recorded += 1;
        changed = true;
        break;
      case Kind::kFirmware: {
        changed = true;
        const auto text =
            fmt::format("String {}, block {}: module {} firmware {} → {}", string_no, block_no,
                        bus::formatSerial(m.serial), c.before->firmware(), m.firmware());
        log::get("bus")->info("{}", text);
        logEvent({now_ms, "module", text, "info", string_no, block_no});
        break;
      }
      case Kind::kMoved: {
        changed = true;
        const auto text = fmt::format(
            "String {}, block {}: now at address {} (was {}), module {} (the configuration "
            "changed)",
            string_no, block_no, m.address, c.before->address, bus::formatSerial(m.serial));
        log::get("bus")->info("{}", text);
        logEvent({now_ms, "module", text, "info", string_no, block_no});
        break;
      }
      case Kind::kReplaced: {
        changed = true;
        const auto text =
            fmt::format("String {}, block {}: module replaced (serial {} → {}, address {} on {})",
                        string_no, block_no, bus::formatSerial(c.before->serial),
                        bus::formatSerial(m.serial), m.address, m.line);
        log::get("bus")->warn("{}", text);
        logEvent({now_ms, "module", text, "warning", string_no, block_no});
        if (m.string_index < ri_baseline_.size() &&
            m.block_index < ri_baseline_[m.string_index].blockCount()) {
          auto e = ri_baseline_[m.string_index].reset(m.block_index);
          logRiBaselineEvent(m.string_index, e, "module replaced");
          saveRiBaseline(m.string_index);
          resetHealth(m.string_index, m.block_index);
        }
        break;
      }
    }
  }
  if (recorded > 0) {
    log::get("bus")->info("module map: {} modules recorded ({} known)", recorded,
                          module_map_.known());
  }
  if (!changed) {
    return;
  }
  modules_view_ = std::make_shared<const std::vector<bus::ModuleIdentity>>(module_map_.entries());
  const auto path = persist::modulesPath(plant_);
  if (auto st = persist::writeFileDurably(path, module_map_.serialize()); !st) {
    log::get("bus")->warn("{}", st.error().message);
  }
}

void Controller::saveRiBaseline(std::size_t s) {
  const auto path = persist::riBaselinePath(plant_, s);
  if (auto st = persist::writeFileDurably(path, ri_baseline_[s].serialize()); !st) {
    log::get("analysis")->warn("{}", st.error().message);
  }
}

Controller::~Controller() {
  stop();
}

Status Controller::open() {
  if (backend_error_) {
    return *backend_error_;
  }
  std::error_code ec;
  std::filesystem::create_directories(plant_.data_dir, ec);
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot create data directory '{}': {}",
                                                 plant_.data_dir, ec.message()));
  }
  auto store = history::Store::open(persist::historyPath(plant_), plant_.history.max_bytes);
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
    const auto path = persist::calibrationPath(plant_, s);
    const auto text = loadText(path, "calibration");
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
  // So do the blocks' capacity estimates.
  for (std::size_t s = 0; s < capacity_.size(); ++s) {
    const auto path = persist::capacityPath(plant_, s);
    const auto text = loadText(path, "analysis");
    if (!text) {
      continue;
    }
    auto loaded = analysis::StringCapacityEstimator::deserialize(*text, capacity_[s].blockCount(),
                                                                 plant_.strings[s].capacity_ah);
    if (!loaded) {
      log::get("analysis")->warn("ignoring {}: {}", path, loaded.error().message);
      continue;
    }
    capacity_[s] = std::move(loaded.value());
    shareCapacities(s);
  }
  // So do the hours in band.
  for (std::size_t s = 0; s < bands_.size(); ++s) {
    const auto path = persist::bandHoursPath(plant_, s);
    const auto text = loadText(path, "analysis");
    if (!text) {
      continue;
    }
    auto loaded = analysis::BandHours::deserialize(*text, bands_[s].blockCount(),
                                                   plant_.strings[s].chemistry);
    if (!loaded) {
      log::get("analysis")->warn("ignoring {}: {}", path, loaded.error().message);
      continue;
    }
    bands_[s] = std::move(loaded.value());
  }
  // So does the blocks' health.
  for (std::size_t s = 0; s < health_.size(); ++s) {
    const auto path = persist::healthPath(plant_, s);
    const auto text = loadText(path, "analysis");
    if (!text) {
      continue;
    }
    auto loaded = analysis::HealthTracker::deserialize(*text, health_[s].blockCount(),
                                                       plant_.strings[s].chemistry);
    if (!loaded) {
      log::get("analysis")->warn("ignoring {}: {}", path, loaded.error().message);
      continue;
    }
    health_[s] = std::move(loaded.value());
    health_view_[s] = std::make_shared<const analysis::HealthTracker>(health_[s]);
    health_published_[s] = health_[s].assessments();
  }
  // So do the discharge reports, and with them the load the autonomy is computed for.
  for (std::size_t s = 0; s < reports_.size(); ++s) {
    const auto path = persist::dischargeReportsPath(plant_, s);
    const auto text = loadText(path, "analysis");
    if (!text) {
      continue;
    }
    auto loaded = analysis::recordsFromJson(*text);
    if (!loaded) {
      log::get("analysis")->warn("ignoring {}: {}", path, loaded.error().message);
      continue;
    }
    reports_[s] = std::move(loaded.value());
    if (!reports_[s].empty()) {
      runtime_[s].setLastLoadA(reports_[s].back().meanCurrentA());
    }
  }
  // Ri baselines and alarm rule changes made at run time survive restarts too.
  for (std::size_t s = 0; s < ri_baseline_.size(); ++s) {
    const auto path = persist::riBaselinePath(plant_, s);
    const auto text = loadText(path, "analysis");
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
  // The module map: what each module said it is when last read (module-bus lines only).
  if (!simulated()) {
    const auto path = persist::modulesPath(plant_);
    if (const auto text = loadText(path, "bus")) {
      if (auto loaded = bus::ModuleMap::parse(*text, blocksOf(plant_))) {
        module_map_ = std::move(loaded.value());
        modules_view_ =
            std::make_shared<const std::vector<bus::ModuleIdentity>>(module_map_.entries());
      } else {
        log::get("bus")->warn("ignoring {}: {}", path, loaded.error().message);
        logEvent({clock_.nowMs(), "system",
                  fmt::format("module map {} ignored: {}", path, loaded.error().message),
                  "warning"});
      }
    }
  }
  const auto rules_path = persist::alarmRulesPath(plant_);
  if (const auto text = loadText(rules_path, "alarms")) {
    auto overrides = alarms::parseOverridesFile(*text);
    Status applied = overrides ? alarms_.setRuntimeOverrides(std::move(overrides.value()))
                               : Status(overrides.error());
    if (!applied) {
      log::get("alarms")->warn("ignoring {}: {}", rules_path, applied.error().message);
      logEvent({clock_.nowMs(), "system",
                fmt::format("alarm rule changes in {} ignored: {}", rules_path,
                            applied.error().message)});
    }
  }
  const auto names_path = persist::ioNamesPath(plant_);
  if (const auto text = loadText(names_path, "io")) {
    auto names = model::parseChannelNamesFile(*text);
    if (!names) {
      log::get("io")->warn("ignoring {}: {}", names_path, names.error().message);
      logEvent(
          {clock_.nowMs(), "system",
           fmt::format("I/O channel names in {} ignored: {}", names_path, names.error().message)});
    } else {
      io_names_ = std::move(*names);
      for (const auto& [id, name] : io_names_) {
        (void)io_->renameChannel(id, name);  // a channel no longer configured keeps its entry
      }
    }
  }
  flushEvents();
  // The rules and the I/O view are readable before the first sweep.
  rebuildRulesView();
  {
    state::StateStore::Writer w(state_);
    w.attach(buildPublished(clock_.nowMs()));
  }
  return {};
}

Status Controller::setScenario(sim::Scenario scenario) {
  if (!sim_) {
    return makeError(ErrorCode::kInvalidArgument,
                     "scenarios act on the simulated plant; with [[bus.line]] the plant is on "
                     "the module bus (run the scenario in equalis-sim --scenario)");
  }
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
    if (sim_) {
      sim_->advanceTo(at);
    }
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
      cs.valid[b] = m.usable();
      cs.voltage_v[b] = m.voltage_v;
      cs.ri_ohm[b] = m.ri_mohm / 1000.0;
      cs.temperature_c[b] = m.temperature_c;
    }
    calibration_[s].update(cs);
    if (calibration_[s].stringEvents() != calibration_saved_events_[s]) {
      saveCalibration(s);
    }
  }
}

void Controller::saveCalibration(std::size_t s) {
  calibration_saved_events_[s] = calibration_[s].stringEvents();
  const auto path = persist::calibrationPath(plant_, s);
  if (auto st = persist::writeFileDurably(path, calibration_[s].serialize()); !st) {
    log::get("calibration")->warn("{}", st.error().message);
    return;
  }
  logEvent({clock_.nowMs(), "calibration",
            fmt::format("{}: module self-calibration updated from discharge #{}",
                        plant_.strings[s].name, calibration_[s].stringEvents())});
}

void Controller::estimateCapacity(const bus::Sweep& sweep,
                                  const std::vector<analysis::StringSummary>& sums) {
  std::vector<double> v;
  std::vector<double> temps;
  for (std::size_t s = 0; s < capacity_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    const double nan = std::nan("");
    v.resize(modules.size());
    temps.resize(modules.size());
    for (std::size_t b = 0; b < modules.size(); ++b) {
      v[b] = modules[b].usable() ? modules[b].voltage_v : nan;
      temps[b] = modules[b].usable() ? modules[b].temperature_c : nan;
    }
    const double current_a = sums[s].current_quality == Quality::kOk ? sums[s].current_a : nan;
    const bool discharging =
        sums[s].mode_quality == Quality::kOk && sums[s].mode == model::StringModeValue::kDischarge;
    // The blocks' relative capacities first: a capacity test that ends here anchors them.
    const auto e = capacity_[s].update(sweep.time_ms, current_a, discharging, v);
    if (e) {
      saveCapacity(s, *e);
    }
    const auto r = capacity_tests_[s].update(sweep.time_ms, current_a, discharging, v, temps);
    if (r) {
      noteCapacityTest(s, *r);
    }
  }
}

void Controller::capacityChanged(std::size_t s, const analysis::CapacityEvent* event) {
  const auto path = persist::capacityPath(plant_, s);
  if (auto st = persist::writeFileDurably(path, capacity_[s].serialize()); !st) {
    log::get("analysis")->warn("{}", st.error().message);
  }
  shareCapacities(s);
  noteHealthCapacity(s, event);
}

void Controller::shareCapacities(std::size_t s) {
  const auto& blocks = capacity_[s].blocks();
  std::vector<double> c(blocks.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    c[b] = blocks[b].events > 0 ? blocks[b].capacity_ah : std::nan("");
  }
  analyzer_.setBlockCapacities(s, c);
}

void Controller::noteCapacityTest(std::size_t s, const analysis::CapacityTestResult& r) {
  const int anchors = analysis::anchorFromTest(capacity_[s], r);
  std::string anchored =
      "no block reached the end voltage on its own: block capacities stay relative";
  if (anchors > 0) {
    anchored = fmt::format("block capacities in Ah from {} block{} that reached it", anchors,
                           anchors == 1 ? "" : "s");
  }
  capacityChanged(s);
  const auto& info = model::chemistryInfo(plant_.strings[s].chemistry);
  logEvent({clock_.nowMs(), "analysis",
            fmt::format("{}: capacity test: {:.1f} Ah to {:.2f} V/cell in {:.1f} h at {:.1f} A, "
                        "{:.1f} °C: {:.1f} ± {:.1f} % of nominal at 25 °C; {}",
                        plant_.strings[s].name, r.ah_to_end, info.end_of_discharge_v_per_cell,
                        static_cast<double>(r.end_ms - r.start_ms) / kHourMs, r.mean_current_a,
                        r.mean_temperature_c, r.capacity_pct,
                        100.0 * r.sigma_ah / plant_.strings[s].capacity_ah, anchored)});
}

void Controller::saveCapacity(std::size_t s, const analysis::CapacityEvent& e) {
  const auto& name = plant_.strings[s].name;
  if (!e.used) {
    logEvent({clock_.nowMs(), "analysis",
              fmt::format("{}: discharge of {:.1f} Ah too short for block capacities (needs "
                          "{:.0f} % of the capacity in a steady window)",
                          name, e.ah_out,
                          100.0 * (analysis::StringCapacityEstimator::kWindowStartFraction +
                                   analysis::StringCapacityEstimator::kMinWindowFraction))});
    return;
  }
  capacityChanged(s, &e);
  // The weakest block now, for the log line.
  const auto& blocks = capacity_[s].blocks();
  std::size_t weakest = 0;
  for (std::size_t b = 1; b < blocks.size(); ++b) {
    if (blocks[b].events > 0 && blocks[b].relative < blocks[weakest].relative) {
      weakest = b;
    }
  }
  logEvent(
      {clock_.nowMs(), "analysis",
       fmt::format("{}: block capacities updated from a discharge of {:.1f} Ah (estimate #{}); "
                   "weakest block {} at {:.1f} ± {:.1f} % of the string's mean",
                   name, e.ah_out, capacity_[s].stringEvents(), weakest + 1,
                   100.0 * blocks[weakest].relative, 100.0 * blocks[weakest].relative_sigma)});
}

void Controller::reportDischarges(const bus::Sweep& sweep,
                                  const std::vector<analysis::StringSummary>& sums) {
  std::vector<analysis::RuntimeBlock> rb;
  std::vector<analysis::DischargeSweepBlock> db;
  const double nan = std::nan("");
  for (std::size_t s = 0; s < runtime_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    const auto& sum = sums[s];
    const bool current_ok = sum.current_quality == Quality::kOk;
    rb.resize(modules.size());
    db.resize(modules.size());
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const bool ok = modules[b].usable();
      const auto& cap = capacity_[s].blocks()[b];
      const double charge = current_ok ? sum.blocks[b].charge_pct : nan;
      rb[b] = {cap.events > 0 ? cap.capacity_ah : nan, charge / 100.0,
               ok ? modules[b].temperature_c : nan};
      db[b] = {ok ? modules[b].voltage_v : nan, ok ? modules[b].temperature_c : nan, charge};
    }
    const double current_a = current_ok ? sum.current_a : nan;
    const bool discharging =
        sum.mode_quality == Quality::kOk && sum.mode == model::StringModeValue::kDischarge;
    runtime_[s].update(sweep.time_ms, current_a, discharging, rb);
    std::optional<analysis::RuntimePoint> point;
    if (const auto& rt = runtime_[s].runtime(); rt && rt->on_battery) {
      point = analysis::RuntimePoint{sweep.time_ms, 0.0, rt->seconds,
                                     static_cast<int>(rt->weakest) + 1};
    }
    const double voltage_v = sum.voltage_quality == Quality::kOk ? sum.voltage_v : nan;
    if (auto done =
            recorders_[s].update(sweep.time_ms, discharging, current_a, voltage_v, db, point)) {
      saveDischargeReport(s, std::move(*done));
    }
  }
}

void Controller::anchorFromDischarge(std::size_t s, const analysis::DischargeRecord& r) {
  auto& est = capacity_[s];
  const auto& cfg = plant_.strings[s];
  if (const auto& test = est.lastTest(); test && test->time_ms >= r.start_ms) {
    return;  // a capacity test: it has set the level from this discharge already
  }
  const auto level = analysis::levelFromDischarge(r, est, cfg.chemistry, cfg.capacity_ah);
  if (!level) {
    return;
  }
  const auto fused = analysis::fuseLevel(est, *level, r.last_ms);
  const double capacity_ah = fused.capacity_ah;
  const double sigma_ah = fused.sigma_ah;
  capacityChanged(s);
  logEvent(
      {clock_.nowMs(), "analysis",
       fmt::format("{}: string level {:.1f} ± {:.1f} % of nominal from {} block{} that "
                   "reached the end voltage at {:.1f} A (the rate table), now {:.1f} ± {:.1f} %",
                   cfg.name, 100.0 * level->capacity_ah / cfg.capacity_ah,
                   100.0 * level->sigma_ah / cfg.capacity_ah, level->blocks,
                   level->blocks == 1 ? "" : "s", r.meanCurrentA(),
                   100.0 * capacity_ah / cfg.capacity_ah, 100.0 * sigma_ah / cfg.capacity_ah)});
}

void Controller::saveDischargeReport(std::size_t s, analysis::DischargeRecord r) {
  // Each block's capacity as it stands after this discharge (its estimate ran this sweep).
  const auto& est = capacity_[s];
  for (std::size_t b = 0; b < r.blocks.size() && b < est.blocks().size(); ++b) {
    const auto& cap = est.blocks()[b];
    if (cap.events == 0) {
      continue;
    }
    r.blocks[b].capacity_relative_pct = 100.0 * cap.relative;
    r.blocks[b].capacity_relative_sigma_pct = 100.0 * cap.relative_sigma;
    if (est.level().anchored) {
      r.blocks[b].capacity_pct = cap.capacity_pct;
    }
  }
  anchorFromDischarge(s, r);
  auto& list = reports_[s];
  list.push_back(std::move(r));
  if (list.size() > analysis::kMaxDischargeRecords) {
    list.erase(list.begin());
  }
  const auto path = persist::dischargeReportsPath(plant_, s);
  if (auto st = persist::writeFileDurably(path, analysis::recordsToJson(list)); !st) {
    log::get("analysis")->warn("{}", st.error().message);
  }
  const auto& d = list.back();
  std::string runtime = "no block reached the end voltage";
  if (d.first_at_end) {
    runtime = fmt::format("block {} reached {:.2f} V/cell first, after {:.1f} min",
                          d.first_at_end->block, d.end_v_per_cell, d.actualRuntimeS() / 60.0);
    if (const auto half = d.predictedAtHalfS()) {
      runtime += fmt::format(" (predicted at half time: {:.1f} min)", *half / 60.0);
    }
  } else if (const auto left = d.remainingAtEndS()) {
    runtime += fmt::format("; {:.0f} min of runtime were left", *left / 60.0);
  }
  logEvent({clock_.nowMs(), "analysis",
            fmt::format("{}: discharge report: {:.1f} Ah, {:.2f} kWh in {:.1f} min at {:.1f} A "
                        "mean; {}",
                        plant_.strings[s].name, d.ah_out, d.wh_out / 1000.0, d.durationS() / 60.0,
                        d.meanCurrentA(), runtime)});
}

void Controller::countBands(const bus::Sweep& sweep,
                            const std::vector<analysis::StringSummary>& sums) {
  std::vector<double> v;
  std::vector<double> temps;
  const double nan = std::nan("");
  for (std::size_t s = 0; s < bands_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    v.resize(modules.size());
    temps.resize(modules.size());
    for (std::size_t b = 0; b < modules.size(); ++b) {
      v[b] = modules[b].usable() ? modules[b].voltage_v : nan;
      temps[b] = modules[b].usable() ? modules[b].temperature_c : nan;
    }
    bands_[s].update(sweep.time_ms, v, temps, sums[s].target_voltage_v);
  }
  if (sweep.time_ms - bands_saved_ms_ < kHourMs) {
    return;
  }
  bands_saved_ms_ = sweep.time_ms;
  for (std::size_t s = 0; s < bands_.size(); ++s) {
    const auto path = persist::bandHoursPath(plant_, s);
    if (auto st = persist::writeFileDurably(path, bands_[s].serialize(sweep.time_ms)); !st) {
      log::get("analysis")->warn("{}", st.error().message);
    }
  }
}

void Controller::assessHealth(const bus::Sweep& sweep,
                              const std::vector<analysis::StringSummary>& sums) {
  std::vector<double> ri;
  std::vector<double> temps;
  std::vector<double> v;
  std::vector<double> eq;
  const double nan = std::nan("");
  for (std::size_t s = 0; s < health_.size(); ++s) {
    const auto& modules = sweep.modules[s];
    const std::size_t n = modules.size();
    ri.assign(n, nan);
    temps.assign(n, nan);
    v.assign(n, nan);
    eq.assign(n, nan);
    for (std::size_t b = 0; b < n; ++b) {
      const auto& m = modules[b];
      if (!m.usable()) {
        continue;
      }
      ri[b] = m.ri_mohm;
      temps[b] = m.temperature_c;
      v[b] = calibration_[s].corrected(b, m.voltage_v);
      eq[b] = sums[s].blocks[b].equalization_pct;
    }
    const bool floating =
        sums[s].mode_quality == Quality::kOk && sums[s].mode == model::StringModeValue::kFloat;
    health_[s].update(sweep.time_ms, floating, ri, temps, v, eq);
    logHealthChanges(s);
  }
  if (sweep.time_ms - health_saved_ms_ >= kDayMs) {
    saveHealth(sweep.time_ms);
  }
}

void Controller::noteHealthCapacity(std::size_t s, const analysis::CapacityEvent* event) {
  const auto& est = capacity_[s];
  const auto& blocks = est.blocks();
  std::vector<double> rel(blocks.size(), std::nan(""));
  std::vector<double> sigma(blocks.size(), std::nan(""));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    if (blocks[b].events > 0) {
      rel[b] = blocks[b].relative;
      sigma[b] = blocks[b].relative_sigma;
    }
  }
  const double nominal = plant_.strings[s].capacity_ah;
  const auto& level = est.level();
  const double level_pct = level.anchored ? 100.0 * level.capacity_ah / nominal : std::nan("");
  const double level_sigma = level.anchored ? 100.0 * level.sigma_ah / nominal : std::nan("");
  std::vector<double> event_rel;
  std::vector<double> event_sigma;
  if (event != nullptr) {
    analysis::eventRelatives(*event, event_rel, event_sigma);
  }
  health_[s].noteCapacity(clock_.nowMs(), rel, sigma, level_pct, level_sigma, event_rel,
                          event_sigma);
  logHealthChanges(s);
}

void Controller::resetHealth(std::size_t s, std::size_t b) {
  if (s < health_.size() && b < health_[s].blockCount()) {
    health_[s].resetBlock(b, clock_.nowMs());
    logHealthChanges(s);
  }
}

void Controller::logHealthChanges(std::size_t s) {
  auto& h = health_[s];
  for (const std::size_t b : h.warningsChanged()) {
    const auto& v = h.block(b);
    const int block = static_cast<int>(b) + 1;
    const auto message =
        v.warning
            ? fmt::format("{}, block {}: weak block: {}", plant_.strings[s].name, block, v.evidence)
            : fmt::format("{}, block {}: weak-block warning cleared{}{}", plant_.strings[s].name,
                          block, v.evidence.empty() ? "" : ": ", v.evidence);
    log::get("analysis")->info("{}", message);
    logEvent({clock_.nowMs(), "health", message, v.warning ? "warning" : "info",
              static_cast<int>(s) + 1, block});
  }
  if (h.assessments() != health_published_[s]) {
    health_published_[s] = h.assessments();
    health_view_[s] = std::make_shared<const analysis::HealthTracker>(h);
  }
}

namespace {

// A figure that may be unknown (NaN): not_present then.
state::Sample knownOrAbsent(TimeMs t, double x) {
  return {std::isfinite(x) ? x : 0.0, t, std::isfinite(x) ? Quality::kOk : Quality::kNotPresent};
}

}  // namespace

void Controller::writeHealthPoints(state::StateStore::Writer& w, std::size_t s, std::size_t b,
                                   TimeMs t) const {
  const auto& v = health_[s].block(b);
  w.set(PointId::kBlockRiRise25cPct, s, b, knownOrAbsent(t, v.ri_rise_25c_pct));
  w.set(PointId::kBlockSohPct, s, b, knownOrAbsent(t, v.soh_pct));
  w.set(PointId::kBlockSohSigmaPct, s, b, knownOrAbsent(t, v.soh_sigma_pct));
  const bool unknown = v.state == analysis::HealthState::kUnknown;
  w.set(PointId::kBlockHealthState, s, b,
        {static_cast<double>(v.state), t, unknown ? Quality::kNotPresent : Quality::kOk});
  w.set(PointId::kBlockWeakWarning, s, b, {v.warning ? 1.0 : 0.0, t, Quality::kOk});
  w.set(PointId::kBlockRulYears, s, b, knownOrAbsent(t, v.rul_years));
  w.set(PointId::kBlockRulLowYears, s, b, knownOrAbsent(t, v.rul_low_years));
  w.set(PointId::kBlockRulHighYears, s, b, knownOrAbsent(t, v.rul_high_years));
}

void Controller::saveHealth(TimeMs now_ms) {
  health_saved_ms_ = now_ms;
  for (std::size_t s = 0; s < health_.size(); ++s) {
    const auto path = persist::healthPath(plant_, s);
    if (auto st = persist::writeFileDurably(path, health_[s].serialize(now_ms)); !st) {
      log::get("analysis")->warn("{}", st.error().message);
    }
  }
}

void Controller::cycle() {
  std::lock_guard lock(cycle_mutex_);
  if (!frontend_) {
    return;  // no bus (open() reported why)
  }
  const auto began = ops::Steady::now();
  const TimeMs now = clock_.nowMs();
  auto applied = applyCommands(now);
  // The simulated plant's own work (physics and answering the sweep) is counted apart: it is
  // the plant's cost, not the controller's (a real plant or equalis-sim runs elsewhere).
  const double plant_cpu_start_s = threadCpuSeconds();
  runScenario(now);
  if (sim_) {
    sim_->advanceTo(now);
  }
  const auto& sweep = frontend_->sweep(now);
  if (sim_) {
    plant_cpu_s_ += threadCpuSeconds() - plant_cpu_start_s;
  }
  noteModules(now);
  pollIo(now);
  const auto& sums = analyzer_.update(sweep);
  swept_ = true;
  calibrate(sweep, sums);
  estimateCapacity(sweep, sums);
  reportDischarges(sweep, sums);
  countBands(sweep, sums);
  trackRi(sweep);
  assessHealth(sweep, sums);
  equalize(sweep, sums);
  noteModeChanges(sums, now);
  guardRunaway(sweep, sums);
  commitState(sweep, sums, now, true);
  events_->tick(now);
  logDeliveries();
  const double history_cpu_start_s = threadCpuSeconds();
  recordHistory(now);
  flushEvents();
  history_cpu_s_ += threadCpuSeconds() - history_cpu_start_s;
  fulfil(applied);
  sweep_count_ += 1;
  std::int64_t comm_lost = 0;
  for (const auto& modules : sweep.modules) {
    comm_lost += std::count_if(modules.begin(), modules.end(),
                               [](const auto& m) { return m.quality == Quality::kCommLost; });
  }
  const auto ended = ops::Steady::now();
  runtime_stats_.cycleDone(ended - began, sweep.modules_ok, comm_lost, ended);
}

void Controller::run() {
  const DurationMs period = plant_.bus.sweep_interval_ms;
  TimeMs next = clock_.nowMs();
  while (!stop_.load()) {
    cycle();
    next += period;
    if (next < clock_.nowMs()) {
      // Behind (very high time scale): skip the missed sweeps, the plant integrates the gap.
      next = clock_.nowMs();
    }
    // Until the next sweep, operator commands are applied as they come.
    while (!stop_.load()) {
      const TimeMs now = clock_.nowMs();
      if (now >= next) {
        break;
      }
      const double scale = clock_.timeScale();
      if (scale <= 0) {  // a stepped clock: jump to the next sweep
        if (!clock_.sleepUntil(next)) {
          return;
        }
        break;
      }
      const auto wait_ms = std::clamp<std::int64_t>(
          static_cast<std::int64_t>(std::ceil(static_cast<double>(next - now) / scale)), 1, 1000);
      if (commands_.waitForWork(std::chrono::milliseconds(wait_ms))) {
        applyCommandsNow();
      }
    }
  }
  saveHealth(clock_.nowMs());
}

void Controller::stop() {
  stop_ = true;
  commands_.close("equalisd is stopping; the command was not applied");
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

// ------------------------------------------------------------------------- operator commands

command::Outcome Controller::execute(command::Command command) {
  auto future = commands_.submit(std::move(command));
  applyCommandsNow();
  return future.get();
}

void Controller::applyCommandsNow() {
  std::lock_guard lock(cycle_mutex_);
  const TimeMs now = clock_.nowMs();
  auto applied = applyCommands(now);
  if (applied.empty()) {
    return;
  }
  if (swept_) {
    commitState(frontend_->last(), analyzer_.summaries(), now, false);
  } else {
    state::StateStore::Writer w(state_);
    w.attach(buildPublished(now));
  }
  logDeliveries();
  flushEvents();
  fulfil(applied);
}

std::vector<Controller::Applied> Controller::applyCommands(TimeMs now_ms) {
  std::vector<Applied> out;
  for (auto& p : commands_.drain()) {
    const auto before = audit_ != nullptr ? auditBefore(p.command.action) : std::string();
    auto outcome = apply(p.command, now_ms);
    recordAudit(p.command, before, outcome);
    const auto what = command::describe(p.command.action);
    const auto who = p.command.origin.describe();
    runtime_stats_.commandDone(outcome.ok());
    if (outcome) {
      log::get("command")->info("{} ({}): {}", what, who, outcome->message);
    } else {
      log::get("command")->warn("{} ({}) refused: {}", what, who, outcome.error().message);
    }
    out.push_back({std::move(p.promise), std::move(outcome)});
  }
  return out;
}

namespace {

// The audit trail's view of a command: its action name, what it acts on and the new value.
struct AuditFields {
  const char* action;
  std::string target;
  std::string new_value;
};

AuditFields auditFields(const command::Action& action) {
  return std::visit(
      Overloaded{
          [](const command::AcknowledgeAlarm& a) {
            return AuditFields{audit::action::kAlarmAcknowledge, a.key, "acknowledged"};
          },
          [](const command::ShelveAlarm& a) {
            return AuditFields{audit::action::kAlarmShelve, a.key,
                               fmt::format("shelved for {}: {}",
                                           alarms::shelveDurationText(a.duration_ms), a.reason)};
          },
          [](const command::UnshelveAlarm& a) {
            return AuditFields{audit::action::kAlarmUnshelve, a.key, "not shelved"};
          },
          [](const command::ChangeAlarmRule& a) {
            return AuditFields{audit::action::kRuleChange,
                               fmt::format("{}/{}", a.change.rule_id, a.change.string_number),
                               alarms::overrideJson(a.change).dump()};
          },
          [](const command::RevertAlarmRule& a) {
            return AuditFields{audit::action::kRuleRevert,
                               fmt::format("{}/{}", a.rule_id, a.string_number), "(defaults)"};
          },
          [](const command::SetOutput& a) {
            return AuditFields{audit::action::kOutputSet, a.channel_id, a.on ? "on" : "off"};
          },
          [](const command::PulseOutput& a) {
            return AuditFields{audit::action::kOutputPulse, a.channel_id,
                               fmt::format("pulse {} ms", a.duration_ms)};
          },
          [](const command::ResetProtection& a) {
            return AuditFields{audit::action::kProtectionReset,
                               fmt::format("string {}", a.string_index + 1), "reset"};
          },
          [](const command::ResetRiBaseline& a) {
            return AuditFields{
                audit::action::kRiBaselineReset,
                fmt::format("string {}, block {}", a.string_index + 1, a.block_index + 1),
                "collecting"};
          },
          [](const command::RenameChannel& a) {
            return AuditFields{audit::action::kIoRename, a.channel_id,
                               a.name.empty() ? "(configured name)" : a.name};
          },
          [](const command::ReloadConfig&) {
            return AuditFields{audit::action::kConfigReload, "configuration", ""};
          },
          [](const command::StageRestore& a) {
            return AuditFields{audit::action::kRestoreStage, a.description, "staged"};
          },
      },
      action);
}

}  // namespace

// The value a command is about to change, for the audit trail's old → new.
std::string Controller::auditBefore(const command::Action& action) const {
  const auto rule_override = [this](const std::string& rule_id, int string_number) {
    for (const auto& o : alarms_.runtimeOverrides()) {
      if (o.rule_id == rule_id && o.string_number == string_number) {
        return alarms::overrideJson(o).dump();
      }
    }
    return std::string("(no run-time change)");
  };
  if (const auto* c = std::get_if<command::ChangeAlarmRule>(&action)) {
    return rule_override(c->change.rule_id, c->change.string_number);
  }
  const auto shelf = [this](const std::string& key) {
    for (const auto& a : alarms_.active()) {
      if (a.key == key && a.shelved) {
        return fmt::format("shelved until {} by {}: {}", formatIso8601(a.shelved_until_ms),
                           a.shelved_by, a.shelve_reason);
      }
    }
    return std::string(alarms_.shelved(key) ? "shelved (alarm not active)" : "not shelved");
  };
  if (const auto* sh = std::get_if<command::ShelveAlarm>(&action)) {
    return shelf(sh->key);
  }
  if (const auto* u = std::get_if<command::UnshelveAlarm>(&action)) {
    return shelf(u->key);
  }
  if (const auto* r = std::get_if<command::RevertAlarmRule>(&action)) {
    return rule_override(r->rule_id, r->string_number);
  }
  if (const auto* n = std::get_if<command::RenameChannel>(&action)) {
    if (const auto it = io_names_.find(n->channel_id); it != io_names_.end()) {
      return it->second;
    }
    const auto configured = io_->configuredNames();
    const auto c = configured.find(n->channel_id);
    return c == configured.end() ? std::string() : c->second + " (configured name)";
  }
  return {};
}

void Controller::recordAudit(const command::Command& cmd, const std::string& before,
                             const command::Outcome& outcome) {
  if (audit_ == nullptr) {
    return;
  }
  auto fields = auditFields(cmd.action);
  audit::Entry e;
  e.user = cmd.origin.user;
  e.address = cmd.origin.address;
  e.via = cmd.origin.via;
  e.action = fields.action;
  e.target = std::move(fields.target);
  e.old_value = before;
  e.new_value = outcome ? std::move(fields.new_value) : std::string();
  e.outcome = outcome ? audit::outcome::kOk : audit::outcome::kRefused;
  e.detail = outcome ? outcome->message : outcome.error().message;
  if (auto st = audit_->append(std::move(e)); !st) {
    log::get("audit")->error("cannot record {}: {}", command::describe(cmd.action),
                             st.error().message);
  }
}

void Controller::fulfil(std::vector<Applied>& applied) {
  for (auto& a : applied) {
    a.promise.set_value(std::move(a.outcome));
  }
  applied.clear();
}

command::Outcome Controller::apply(const command::Command& cmd, TimeMs now_ms) {
  const auto who = cmd.origin.describe();
  return std::visit(
      Overloaded{
          [&](const command::AcknowledgeAlarm& a) -> command::Outcome {
            auto e = a.key.rfind("string.thermal_runaway/", 0) == 0
                         ? acknowledgeProtection(a.key, now_ms)
                         : alarms_.acknowledge(a.key, now_ms);
            if (!e) {
              return e.error();
            }
            e->alarm.message += fmt::format(" (acknowledged by {})", who);
            logAlarmEvent(*e);
            return command::Reply{fmt::format("{} acknowledged", a.key), e->alarm, {}};
          },
          [&](const command::ShelveAlarm& a) -> command::Outcome {
            // A safety function's alarm stays on the display (ISA-18.2 excludes such alarms
            // from shelving): its state is the breaker and the charger, not a nuisance.
            if (a.key.rfind("string.thermal_runaway/", 0) == 0) {
              return makeError(ErrorCode::kInvalidArgument,
                               fmt::format("{} is the thermal-runaway protection's alarm; it "
                                           "cannot be shelved",
                                           a.key));
            }
            const auto by = cmd.origin.user.empty() ? who : cmd.origin.user;
            auto e = alarms_.shelve(a.key, now_ms + a.duration_ms, a.reason, by, now_ms);
            if (!e) {
              return e.error();
            }
            logAlarmEvent(*e);
            return command::Reply{
                fmt::format("{} shelved for {} until {} by {}: {}", a.key,
                            alarms::shelveDurationText(a.duration_ms),
                            formatIso8601(e->alarm.shelved_until_ms), by, e->alarm.shelve_reason),
                e->alarm,
                {}};
          },
          [&](const command::UnshelveAlarm& a) -> command::Outcome {
            auto e = alarms_.unshelve(a.key, now_ms);
            if (!e) {
              return e.error();
            }
            const auto by = cmd.origin.user.empty() ? who : cmd.origin.user;
            logAlarmEvent(*e, by);
            return command::Reply{fmt::format("{} unshelved by {}", a.key, by), e->alarm, {}};
          },
          [&](const command::ChangeAlarmRule& a) -> command::Outcome {
            auto overrides = alarms_.runtimeOverrides();
            const auto& change = a.change;
            auto same = std::find_if(overrides.begin(), overrides.end(), [&](const auto& o) {
              return o.rule_id == change.rule_id && o.string_number == change.string_number;
            });
            if (same != overrides.end()) {
              const auto merge = [](auto& into, const auto& from) {
                if (from) {
                  into = from;
                }
              };
              merge(same->enabled, change.enabled);
              merge(same->warning, change.warning);
              merge(same->alarm, change.alarm);
              merge(same->hysteresis, change.hysteresis);
              merge(same->on_delay_ms, change.on_delay_ms);
              merge(same->off_delay_ms, change.off_delay_ms);
            } else {
              overrides.push_back(change);
            }
            return applyRuleChange(overrides,
                                   fmt::format("{} ({})", alarms::overrideJson(change).dump(), who),
                                   now_ms);
          },
          [&](const command::RevertAlarmRule& a) -> command::Outcome {
            auto overrides = alarms_.runtimeOverrides();
            const auto before = overrides.size();
            std::erase_if(overrides, [&](const auto& o) {
              return o.rule_id == a.rule_id && o.string_number == a.string_number;
            });
            const auto which = a.string_number == 0
                                   ? a.rule_id
                                   : fmt::format("{} of string {}", a.rule_id, a.string_number);
            if (overrides.size() == before) {
              return makeError(ErrorCode::kNotFound,
                               fmt::format("rule {} has no run-time change to revert", which));
            }
            return applyRuleChange(overrides, fmt::format("{} reverted ({})", which, who), now_ms);
          },
          [&](const command::SetOutput& a) -> command::Outcome {
            if (auto st = io_->setOutput(a.channel_id, a.on); !st) {
              return st.error();
            }
            io_->poll(now_ms);
            const auto text =
                fmt::format("output {} switched {} ({})", a.channel_id, a.on ? "on" : "off", who);
            logEvent({now_ms, "command", text});
            return command::Reply{text, std::nullopt, {}};
          },
          [&](const command::PulseOutput& a) -> command::Outcome {
            if (auto st = io_->pulseOutput(a.channel_id, a.duration_ms); !st) {
              return st.error();
            }
            io_->poll(now_ms);
            const auto text =
                fmt::format("output {} pulsed for {} ms ({})", a.channel_id, a.duration_ms, who);
            logEvent({now_ms, "command", text});
            return command::Reply{text, std::nullopt, {}};
          },
          [&](const command::ResetProtection& a) -> command::Outcome {
            auto out = resetProtection(a.string_index, now_ms);
            if (out) {
              logEvent({now_ms, "command", fmt::format("{} ({})", out->message, who), "",
                        static_cast<int>(a.string_index) + 1, 0});
            }
            return out;
          },
          [&](const command::ResetRiBaseline& a) -> command::Outcome {
            if (a.string_index >= ri_baseline_.size() ||
                a.block_index >= ri_baseline_[a.string_index].blockCount()) {
              return makeError(ErrorCode::kNotFound, "no such block");
            }
            auto e = ri_baseline_[a.string_index].reset(a.block_index);
            logRiBaselineEvent(a.string_index, e);
            saveRiBaseline(a.string_index);
            resetHealth(a.string_index, a.block_index);
            return command::Reply{fmt::format("Ri baseline of string {}, block {} reset ({})",
                                              a.string_index + 1, a.block_index + 1, who),
                                  std::nullopt,
                                  {}};
          },
          [&](const command::RenameChannel& a) { return renameChannel(a, who, now_ms); },
          [&](const command::ReloadConfig&) { return reloadConfig(who, now_ms); },
          [&](const command::StageRestore& a) -> command::Outcome {
            // Only the rename happens here; the archive was checked by the submitter.
            const auto pending = ops::pendingRestoreDir(plant_.data_dir);
            std::error_code ec;
            std::filesystem::remove_all(pending, ec);
            std::filesystem::rename(a.staged_dir, pending, ec);
            if (ec) {
              std::filesystem::remove_all(a.staged_dir, ec);
              return makeError(ErrorCode::kIo,
                               fmt::format("cannot stage the restore in {}", pending));
            }
            const auto text = fmt::format("restore of {} staged ({}): restart equalisd to apply it",
                                          a.description, who);
            log::get("ops")->warn("{}", text);
            logEvent({now_ms, "system", text});
            return command::Reply{text, std::nullopt, {}};
          },
      },
      cmd.action);
}

// Re-reads the configuration file; on any problem nothing changes. The live part is handed to the
// components (their state stays: active alarms, equalizer duties, protection evidence, pending
// event actions); what needs a restart is only reported.
command::Outcome Controller::reloadConfig(const std::string& who, TimeMs now_ms) {
  const auto reject = [&](const std::string& why) -> command::Outcome {
    runtime_stats_.reloadDone(false);
    const auto text = fmt::format("configuration reload rejected ({}): {}", who, why);
    log::get("config")->warn("{}", text);
    logEvent({now_ms, "config", text, "warning"});
    return makeError(ErrorCode::kInvalidArgument, why);
  };
  if (!config_source_.load) {
    runtime_stats_.reloadDone(false);
    return makeError(ErrorCode::kUnavailable,
                     "equalisd runs the built-in demo plant (started without --config): there is "
                     "no configuration file to reload");
  }
  const auto loaded = config_source_.load();
  if (!loaded.ok()) {
    // The same text as equalisd --check-config.
    return reject(fmt::format("{}{}: {} problem(s), configuration rejected",
                              loaded.describe(config_source_.path), config_source_.path,
                              loaded.issues.size()));
  }
  const auto& next = *loaded.config;
  const auto changes = config::diffConfig(plant_, next);
  if (!(next.alarms.overrides == plant_.alarms.overrides)) {
    if (auto st = alarms_.setConfigOverrides(next.alarms.overrides); !st) {
      return reject(st.error().message);
    }
  }
  if (!(next.events == plant_.events)) {
    if (const auto cancelled = events_->reconfigure(next.events); cancelled > 0) {
      log::get("events")->info("reload cancelled {} pending action(s) of changed rules", cancelled);
    }
  }
  for (auto& g : runaway_) {
    g.setConfig(next.thermal_runaway);
  }
  for (auto& e : equalizers_) {
    e.setConfig(next.equalization);
  }
  recorder_.setConfig(next.history);
  config::applyLiveChanges(plant_, next);
  rebuildRulesView();

  std::size_t live = 0;
  std::string details;
  for (const auto& c : changes) {
    live += c.live ? 1 : 0;
    details += c.live ? fmt::format("; {}: {} → {}", c.key, c.from.empty() ? "(none)" : c.from,
                                    c.to.empty() ? "(removed)" : c.to)
                      : fmt::format("; restart needed for {}", c.key);
  }
  const std::size_t restart = changes.size() - live;
  const auto summary =
      fmt::format("configuration reloaded: {} change{} applied, {} need{} a restart", live,
                  live == 1 ? "" : "s", restart, restart == 1 ? "s" : "");
  log::get("config")->info("{} ({}){}", summary, who, details);
  logEvent({now_ms, "config", fmt::format("{} ({}){}", summary, who, details)});
  runtime_stats_.reloadDone(true);
  return command::Reply{summary, std::nullopt, changes};
}

// Validates the whole new override list (all or nothing), persists it and renews the rules view.
command::Outcome Controller::renameChannel(const command::RenameChannel& a, const std::string& who,
                                           TimeMs now_ms) {
  const auto configured = io_->configuredNames();
  const auto it = configured.find(a.channel_id);
  if (it == configured.end()) {
    return makeError(ErrorCode::kNotFound, fmt::format("no I/O channel '{}'", a.channel_id));
  }
  const std::string name = model::trimmedChannelName(a.name);
  if (!name.empty()) {
    if (const auto why = model::channelNameProblem(name); !why.empty()) {
      return makeError(ErrorCode::kInvalidArgument, why);
    }
  }
  auto names = io_names_;
  const auto old = names.count(a.channel_id) != 0 ? names[a.channel_id] : it->second;
  if (name.empty() || name == it->second) {
    names.erase(a.channel_id);
  } else {
    names[a.channel_id] = name;
  }
  const auto path = persist::ioNamesPath(plant_);
  if (auto st = persist::writeFileDurably(path, model::channelNamesFileText(names)); !st) {
    return makeError(ErrorCode::kIo, fmt::format("the name is not kept: {}", st.error().message));
  }
  io_names_ = std::move(names);
  (void)io_->renameChannel(a.channel_id, name);  // "" = the configured name
  const auto text = fmt::format("I/O channel {} renamed '{}' → '{}' ({})", a.channel_id, old,
                                name.empty() ? it->second : name, who);
  log::get("io")->info("{}", text);
  logEvent({now_ms, "config", text});
  return command::Reply{text, std::nullopt, {}};
}

command::Outcome Controller::applyRuleChange(const std::vector<model::AlarmRuleOverride>& overrides,
                                             const std::string& what, TimeMs now_ms) {
  if (auto st = alarms_.setRuntimeOverrides(overrides); !st) {
    return st.error();
  }
  rebuildRulesView();
  const auto path = persist::alarmRulesPath(plant_);
  if (auto st = persist::writeFileDurably(path, alarms::overridesFileText(overrides)); !st) {
    log::get("alarms")->warn("alarm rule change not persisted: {}", st.error().message);
  }
  const auto text = "alarm rules changed: " + what;
  log::get("alarms")->info("{}", text);
  logEvent({now_ms, "config", text});
  return command::Reply{text, std::nullopt, {}};
}

void Controller::rebuildRulesView() {
  auto view = std::make_shared<command::RulesView>();
  for (std::size_t s = 0; s < plant_.strings.size(); ++s) {
    view->table.strings.push_back(alarms_.rules(s));
  }
  view->table.system = alarms_.systemRules();
  view->overrides = alarms_.runtimeOverrides();
  rules_view_ = std::move(view);
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
      in.valid[b] = m.usable();
      const double measured_v = m.voltage_v;
      in.voltage_v[b] = plant_.equalization.self_calibration
                            ? calibration_[s].corrected(b, measured_v)
                            : measured_v;
      // Bypass power the module reports it applies (duty × its current, capped by its power).
      const auto& type = model::moduleTypeInfo(plant_.strings[s].module_type);
      const double v = measured_v;
      const double i_a =
          std::min(type.bypass_current_a, type.bypass_power_max_w / std::max(v, 0.1));
      power_w[b] = in.valid[b] ? m.bypass_duty * i_a * v : 0.0;
    }
    effort_[s].add(sweep.time_ms, power_w);
    const auto& duties = equalizers_[s].update(in);
    for (std::size_t b = 0; b < duties.size(); ++b) {
      frontend_->commandBypass(s, b, static_cast<std::uint8_t>(std::lround(duties[b] * 100.0)));
    }
  }
}

// ------------------------------------------------------------------ the cycle's state version

void Controller::commitState(const bus::Sweep& sweep,
                             const std::vector<analysis::StringSummary>& sums, TimeMs now_ms,
                             bool evaluate) {
  // Digital-input alarms from the I/O layer's present input states (read before the lock).
  std::vector<alarms::InputSample> inputs;
  if (evaluate) {
    for (const auto& ch : io_->channels(sweep.time_ms)) {
      if (ch.kind == model::ChannelKind::kDigitalInput) {
        inputs.push_back({ch.id, {ch.value, ch.time_ms, ch.quality}});
      }
    }
  }
  {
    state::StateStore::Writer w(state_);
    if (evaluate) {
      writePoints(w, sweep, sums);
      // The rules see exactly the values this version commits.
      const state::StateStore::Reader r(w, sweep.time_ms);
      alarm_events_ = alarms_.evaluate(r, sweep.time_ms);
      auto input_events = alarms_.evaluateInputs(inputs, sweep.time_ms);
      alarm_events_.insert(alarm_events_.end(), input_events.begin(), input_events.end());
    }
    auto published = buildPublished(now_ms);
    writeAlarmPoints(w, sums, published->alarms, evaluate ? sweep.time_ms : now_ms);
    w.attach(std::move(published));
  }
  // Logged after the commit: the event log and the event manager never run under the lock.
  for (const auto& e : alarm_events_) {
    logAlarmEvent(e);
  }
  alarm_events_.clear();
}

// Block status (worst active alarm level; unknown without fresh data), the alarm counts and
// the protection state.
void Controller::writeAlarmPoints(state::StateStore::Writer& w,
                                  const std::vector<analysis::StringSummary>& sums,
                                  const std::vector<alarms::ActiveAlarm>& active, TimeMs t) {
  int alarm_count = 0;
  int warning_count = 0;
  int unacknowledged = 0;
  int shelved = 0;
  for (const auto& a : active) {
    if (a.shelved) {  // off the display: counted only as shelved
      ++shelved;
      continue;
    }
    (a.level == alarms::Level::kAlarm ? alarm_count : warning_count) += 1;
    unacknowledged += a.acknowledged ? 0 : 1;
  }
  w.setSystem(PointId::kSystemAlarmCount, {static_cast<double>(alarm_count), t, Quality::kOk});
  w.setSystem(PointId::kSystemWarningCount, {static_cast<double>(warning_count), t, Quality::kOk});
  w.setSystem(PointId::kSystemUnacknowledgedCount,
              {static_cast<double>(unacknowledged), t, Quality::kOk});
  w.setSystem(PointId::kSystemShelvedCount, {static_cast<double>(shelved), t, Quality::kOk});
  std::vector<alarms::Level> levels;
  for (std::size_t s = 0; s < sums.size(); ++s) {
    w.set(PointId::kStringProtectionState, s, 0,
          {static_cast<double>(runaway_[s].state()), t, Quality::kOk});
    levels.resize(sums[s].blocks.size());
    alarms_.blockLevels(s, levels);
    for (std::size_t b = 0; b < sums[s].blocks.size(); ++b) {
      auto status = sums[s].blocks[b].status;
      if (status != model::BlockStatus::kUnknown) {
        const auto level = levels[b];
        if (level == alarms::Level::kAlarm) {
          status = model::BlockStatus::kAlarm;
        } else if (level == alarms::Level::kWarning) {
          status = model::BlockStatus::kWarning;
        }
      }
      w.set(PointId::kBlockStatus, s, b, {static_cast<double>(status), t, Quality::kOk});
    }
  }
}

std::shared_ptr<const command::Published> Controller::buildPublished(TimeMs now_ms) const {
  auto p = std::make_shared<command::Published>();
  p->alarms = collectAlarms();
  p->rules = rules_view_;
  for (const auto& g : runaway_) {
    p->protection.push_back(g.state());
  }
  p->io_channels = io_->channels(now_ms);
  p->io_devices = io_->devices();
  p->bus_lines = lineHealth();
  p->modules = modules_view_;
  p->health = health_view_;
  return p;
}

std::shared_ptr<const command::Published> Controller::published() const {
  const state::StateStore::Reader r(state_, clock_.nowMs());
  return command::published(r);
}

alarms::RunawayState Controller::protectionState(std::size_t s) const {
  const auto p = published();
  return s < p->protection.size() ? p->protection[s] : alarms::RunawayState::kNormal;
}

void Controller::guardRunaway(const bus::Sweep& sweep,
                              const std::vector<analysis::StringSummary>& sums) {
  for (std::size_t s = 0; s < runaway_.size(); ++s) {
    const auto in = alarms::runawayInputFrom(sweep, s, sums[s]);
    const auto reduce_relay = io_->chargerReduceRelay(s);
    runaway_[s].setChargerControllable(reduce_relay.has_value());
    const auto events = runaway_[s].update(in);
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
          if (sim_) {
            sim_->setBreakerClosed(s, false);
          } else {
            log::get("protection")
                ->error("{}: no breaker_trip relay configured; the breaker cannot be opened",
                        plant_.strings[s].name);
          }
        }
      }
      logProtectionEvent(s, e);
    }
    trackProtectionAlarm(s, sweep.time_ms);
  }
}

void Controller::logProtectionEvent(std::size_t s, const alarms::RunawayEvent& e) {
  pending_event_ = true;
  if (e.kind == "cleared" || e.kind == "reset") {
    log::get("protection")->info("{}", e.message);
  } else {
    log::get("protection")->warn("{}", e.message);
  }
  logEvent({e.time_ms, "protection", fmt::format("[string {}] {}: {}", s + 1, e.kind, e.message),
            e.kind == "cleared" || e.kind == "reset" ? "none" : "alarm", static_cast<int>(s) + 1,
            0});
  events_->onProtectionEvent(static_cast<int>(s) + 1, e);
}

command::Outcome Controller::resetProtection(std::size_t s, TimeMs now_ms) {
  if (s >= runaway_.size()) {
    return makeError(ErrorCode::kNotFound, "no such string");
  }
  const auto events = runaway_[s].reset(now_ms);
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
  io_->poll(now_ms);
  if (sim_) {
    sim_->setBreakerClosed(s, true);  // the operator closes the breaker again (simulated plant)
  }
  for (const auto& e : events) {
    logProtectionEvent(s, e);
  }
  trackProtectionAlarm(s, now_ms);
  return command::Reply{
      fmt::format("{}: protection reset", plant_.strings[s].name), std::nullopt, {}};
}

void Controller::logAlarmEvent(const alarms::AlarmEvent& e, const std::string& by) {
  pending_event_ = true;  // the history records a snapshot at every alarm event
  const auto& a = e.alarm;
  const auto lvl = std::string(alarms::levelName(a.level));
  std::string text;
  if (e.kind == "shelved") {
    text = fmt::format("[{}] {} shelved for {} by {}: {} (until {}) — {}", a.key, lvl,
                       alarms::shelveDurationText(a.shelved_until_ms - a.shelved_ms), a.shelved_by,
                       a.shelve_reason, formatIso8601(a.shelved_until_ms), a.message);
  } else if (e.kind == "unshelved" || e.kind == "shelf_expired") {
    const auto what =
        e.kind == "unshelved" ? fmt::format("unshelved by {}", by) : std::string("shelf time over");
    text = a.level == alarms::Level::kNone
               ? fmt::format("[{}] {} (the alarm is no longer active)", a.key, what)
               : fmt::format("[{}] {} {}: back on the display — {}", a.key, lvl, what, a.message);
  } else {
    text = fmt::format("[{}] {} {}: {}{}", a.key, lvl, e.kind, a.message,
                       a.shelved
                           ? fmt::format(" (shelved until {})", formatIso8601(a.shelved_until_ms))
                           : std::string());
  }
  if ((e.kind == "raised" || e.kind == "escalated") && !a.shelved) {
    log::get("alarms")->warn("{} {}: {}", lvl, e.kind, a.message);
  } else if (e.kind == "shelved" || e.kind == "unshelved" || e.kind == "shelf_expired") {
    log::get("alarms")->info("{}", text);
  } else {
    log::get("alarms")->info("{}: {}{}", e.kind, a.message, a.shelved ? " (shelved)" : "");
  }
  logEvent({e.time_ms, "alarm", text, lvl, a.string_number, a.block_number});
  // The event manager leaves shelved alarms alone and announces one back from its shelf again
  // (events::Manager::onAlarmEvent).
  events_->onAlarmEvent(e);
}

// Events of a cycle are written together at its end (flushEvents): one transaction, one sync.
void Controller::logEvent(const history::EventRecord& e) {
  if (history_) {
    event_buffer_.push_back(e);
  }
}

void Controller::flushEvents() {
  if (!history_ || event_buffer_.empty()) {
    return;
  }
  if (auto st = history_->appendEvents(event_buffer_); !st) {
    log::get("history")->warn("{} events not stored: {}", event_buffer_.size(), st.error().message);
  }
  event_buffer_.clear();
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
  flushEvents();
}

// Outcomes of event-manager actions ("email to ops@… sent") into the event log.
void Controller::logDeliveries() {
  for (const auto& d : events_->takeDeliveries()) {
    logEvent({d.time_ms, "action", events::describe(d)});
  }
}

void Controller::finishEvents(DurationMs grace_ms) {
  events_->stop(grace_ms);
  std::lock_guard lock(cycle_mutex_);
  logDeliveries();
  flushEvents();
}

// Active alarms, worst first: the rule engine's and the thermal-runaway protection's.
std::vector<alarms::ActiveAlarm> Controller::collectAlarms() const {
  std::vector<alarms::ActiveAlarm> out;  // the protection's first, string by string
  for (std::size_t s = 0; s < runaway_.size(); ++s) {
    if (auto a = protectionAlarm(s)) {
      out.push_back(std::move(*a));
    }
  }
  auto engine = alarms_.active();
  out.insert(out.end(), std::make_move_iterator(engine.begin()),
             std::make_move_iterator(engine.end()));
  return out;
}

// Thermal-runaway protection: suspect and a charger held lowered after the evidence went away
// are warnings; countdown and tripped are alarms (latched until an operator resets them).
std::optional<alarms::ActiveAlarm> Controller::protectionAlarm(std::size_t s) const {
  const auto& g = runaway_[s];
  if (g.state() == alarms::RunawayState::kNormal) {
    return std::nullopt;
  }
  alarms::ActiveAlarm a;
  a.rule_id = "string.thermal_runaway";
  a.string_number = static_cast<int>(s) + 1;
  a.block_number = g.hotBlock();
  a.key = fmt::format("{}/{}/{}", a.rule_id, a.string_number, a.block_number);
  a.level =
      g.state() == alarms::RunawayState::kSuspect || g.state() == alarms::RunawayState::kReduced
          ? alarms::Level::kWarning
          : alarms::Level::kAlarm;
  const auto& tracked = protection_alarms_[s];
  a.raised_ms = tracked.raised_ms;
  a.changed_ms = tracked.changed_ms;
  a.acknowledged = tracked.acknowledged && tracked.level == a.level;
  a.message = g.lastMessage();
  return a;
}

void Controller::trackProtectionAlarm(std::size_t s, TimeMs now_ms) {
  auto& t = protection_alarms_[s];
  const auto a = protectionAlarm(s);
  const auto level = a ? a->level : alarms::Level::kNone;
  if (level == t.level) {
    return;
  }
  if (t.level == alarms::Level::kNone) {
    t.raised_ms = now_ms;
  }
  if (level > t.level) {
    t.acknowledged = false;  // raised or escalated: acknowledged anew
  }
  t.level = level;
  t.changed_ms = now_ms;
  if (level == alarms::Level::kNone) {
    t = {};
  }
}

Result<alarms::AlarmEvent> Controller::acknowledgeProtection(const std::string& key,
                                                             TimeMs now_ms) {
  for (std::size_t s = 0; s < runaway_.size(); ++s) {
    auto a = protectionAlarm(s);
    if (!a || a->key != key) {
      continue;
    }
    protection_alarms_[s].acknowledged = true;
    a->acknowledged = true;
    return alarms::AlarmEvent{now_ms, "acknowledged", *a};
  }
  return makeError(ErrorCode::kNotFound, fmt::format("no active alarm '{}'", key));
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
    logEvent({now_ms, "mode",
              fmt::format("{}: mode {} → {} (current {:.1f} A, voltage {:.1f} V)",
                          plant_.strings[s].name, from, to, sums[s].current_a, sums[s].voltage_v)});
  }
}

// Every measured and derived point of the cycle (the alarm-derived ones: writeAlarmPoints).
void Controller::writePoints(state::StateStore::Writer& w, const bus::Sweep& sweep,
                             const std::vector<analysis::StringSummary>& sums) {
  const TimeMs t = sweep.time_ms;
  w.setSystem(PointId::kSystemStringCount,
              {static_cast<double>(plant_.strings.size()), t, Quality::kOk});
  w.setSystem(PointId::kSystemModuleCount,
              {static_cast<double>(plant_.moduleCount()), t, Quality::kOk});
  w.setSystem(PointId::kSystemSweepCount, {static_cast<double>(sweep.seq), t, Quality::kOk});
  w.setSystem(PointId::kSystemSweepDurationMs, {sweep.duration_ms, t, Quality::kOk});
  w.setSystem(PointId::kSystemModulesOkCount,
              {static_cast<double>(sweep.modules_ok), t, Quality::kOk});
  w.setSystem(PointId::kSystemAmbientTemperatureC,
              {sweep.ambient.temperature_c, sweep.ambient.time_ms, sweep.ambient.quality});
  publishIo(w, t);

  for (std::size_t s = 0; s < sums.size(); ++s) {
    const auto& sum = sums[s];
    const Quality vq = sum.voltage_quality;
    const Quality iq = sum.current_quality;
    const Quality pq =
        (vq == Quality::kOk && iq == Quality::kOk) ? Quality::kOk : (vq != Quality::kOk ? vq : iq);
    const Quality bq = sum.blocks_ok > 0 ? Quality::kOk : Quality::kCommLost;
    w.set(PointId::kStringVoltageV, s, 0, {sum.voltage_v, t, vq});
    w.set(PointId::kStringCurrentA, s, 0, {sum.current_a, sum.current_time_ms, iq});
    w.set(PointId::kStringPowerKw, s, 0, {sum.power_kw, t, pq});
    w.set(PointId::kStringMode, s, 0, {static_cast<double>(sum.mode), t, sum.mode_quality});
    w.set(PointId::kStringTargetVoltageV, s, 0, {sum.target_voltage_v, t, Quality::kOk});
    w.set(PointId::kStringChargeAvgPct, s, 0, {sum.charge_avg_pct, t, iq});
    w.set(PointId::kStringAcCurrentA, s, 0, {sum.ac_current_a, sum.current_time_ms, iq});
    w.set(PointId::kStringBlockVoltageMinV, s, 0, {sum.block_voltage_min_v, t, bq});
    w.set(PointId::kStringBlockVoltageMaxV, s, 0, {sum.block_voltage_max_v, t, bq});
    w.set(PointId::kStringBlockVoltageSpreadV, s, 0, {sum.block_voltage_spread_v, t, bq});
    w.set(PointId::kStringTemperatureMaxC, s, 0, {sum.temperature_max_c, t, bq});
    w.set(PointId::kStringChargerDeviationPct, s, 0,
          {sum.charger_deviation_pct, t, sum.charger_deviation_quality});
    w.set(PointId::kStringEqualizationState, s, 0,
          {static_cast<double>(equalizers_[s].state()), t, Quality::kOk});
    double eq_power_w = 0;

    const auto& modules = sweep.modules[s];
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      const auto& d = sum.blocks[b];
      const auto& comm = sweep.comm[s][b];
      w.set(PointId::kBlockVoltageV, s, b, {m.voltage_v, m.time_ms, m.quality});
      w.set(PointId::kBlockTemperatureC, s, b, {m.temperature_c, m.time_ms, m.quality});
      w.set(PointId::kBlockRiMohm, s, b, {m.ri_mohm, m.time_ms, m.quality});
      const auto& rb = ri_baseline_[s];
      if (rb.established(b)) {
        w.set(PointId::kBlockRiBaselineMohm, s, b, {rb.baselineMohm(b), t, Quality::kOk});
        w.set(PointId::kBlockRiRisePct, s, b, {rb.risePct(b, m.ri_mohm), m.time_ms, m.quality});
      } else {
        w.set(PointId::kBlockRiBaselineMohm, s, b, {0.0, t, Quality::kNotPresent});
        w.set(PointId::kBlockRiRisePct, s, b, {0.0, t, Quality::kNotPresent});
      }
      w.set(PointId::kBlockChargePct, s, b, {d.charge_pct, t, iq});
      w.set(PointId::kBlockEqualizationPct, s, b, {d.equalization_pct, m.time_ms, m.quality});
      w.set(PointId::kBlockEqualizationLevel, s, b,
            {static_cast<double>(d.equalization_level), m.time_ms, m.quality});
      w.set(PointId::kBlockEqualizationWhPerDay, s, b, {effort_[s].whPerDay(b), t, Quality::kOk});
      const auto& cal = calibration_[s];
      w.set(PointId::kBlockVoltageCorrectedV, s, b,
            {cal.corrected(b, m.voltage_v), m.time_ms, m.quality});
      w.set(PointId::kBlockModuleErrorMv, s, b,
            {cal.errorV(b) * 1000.0, t, cal.calibrated(b) ? Quality::kOk : Quality::kNotPresent});
      eq_power_w += bypass_power_w_[s][b];
      const auto& cap = capacity_[s].blocks()[b];
      const auto cq = cap.events > 0 ? Quality::kOk : Quality::kNotPresent;
      // In % of nominal only once a capacity test has measured the string's level: before, it
      // would be the relative figure times an assumed level.
      const auto aq = capacity_[s].level().anchored ? cq : Quality::kNotPresent;
      w.set(PointId::kBlockCapacityPct, s, b, {cap.capacity_pct, t, aq});
      w.set(PointId::kBlockCapacitySigmaPct, s, b,
            {100.0 * cap.capacity_sigma_ah / plant_.strings[s].capacity_ah, t, aq});
      w.set(PointId::kBlockCapacityRelativePct, s, b, {100.0 * cap.relative, t, cq});
      w.set(PointId::kBlockCapacityRelativeSigmaPct, s, b, {100.0 * cap.relative_sigma, t, cq});
      w.set(PointId::kBlockCapacityEvents, s, b,
            {static_cast<double>(cap.events), t, Quality::kOk});
      const auto& band = bands_[s];
      const double factor = band.ageingFactor(b);
      const auto lq = std::isfinite(factor) ? Quality::kOk : Quality::kNotPresent;
      w.set(PointId::kBlockLifeUsedPct, s, b, {band.lifeUsedPct(b), t, lq});
      w.set(PointId::kBlockAgeingFactor, s, b, {std::isfinite(factor) ? factor : 0.0, t, lq});
      writeHealthPoints(w, s, b, t);
      w.set(PointId::kBlockCommOkCount, s, b, {static_cast<double>(comm.ok), t, Quality::kOk});
      w.set(PointId::kBlockCommErrorCount, s, b,
            {static_cast<double>(comm.errors), t, Quality::kOk});
    }
    w.set(PointId::kStringEqualizationPowerW, s, 0, {eq_power_w, t, bq});
    const auto& rt = runtime_[s].runtime();
    const auto rq = rt ? Quality::kOk : Quality::kNotPresent;
    w.set(PointId::kStringRuntimeS, s, 0, {rt ? rt->seconds : 0.0, t, rq});
    w.set(PointId::kStringRuntimeBlock, s, 0,
          {rt ? static_cast<double>(rt->weakest + 1) : 0.0, t, rq});
    const auto& hs = health_[s].summary();
    w.set(PointId::kStringSohPct, s, 0, knownOrAbsent(t, hs.soh_pct));
    w.set(PointId::kStringRulYears, s, 0, knownOrAbsent(t, hs.rul_years));
    w.set(PointId::kStringBlocksToReplace, s, 0,
          {static_cast<double>(hs.blocks_to_replace), t, Quality::kOk});
    w.set(PointId::kStringHealthWarnings, s, 0,
          {static_cast<double>(hs.warnings), t, Quality::kOk});
    w.set(PointId::kStringRuntimeLoadA, s, 0, {rt ? rt->load_a : 0.0, t, rq});
    const auto& test = capacity_[s].lastTest();
    w.set(PointId::kStringCapacityPct, s, 0,
          {test ? 100.0 * test->capacity_ah / plant_.strings[s].capacity_ah : 0.0, t,
           test ? Quality::kOk : Quality::kNotPresent});
  }
}

// A history snapshot is taken from the version just committed, field by field with the point
// it stores, so what the history holds is what was live.
void Controller::recordHistory(TimeMs now_ms) {
  if (!history_) {
    return;
  }
  const bool event = pending_event_;
  pending_event_ = false;
  const auto reason = recorder_.shouldRecord(now_ms, analyzer_.anyDischarging(), event);
  if (!reason) {
    return;
  }
  const state::StateStore::Reader r(state_, now_ms);
  const double nan = std::nan("");
  // Only this cycle's measurements are recorded as values; older ones go in as not measured.
  const auto measured = [&](const state::Sample& x) {
    return x.time_ms == now_ms && x.quality == Quality::kOk ? x.value : nan;
  };
  history::Snapshot snap;
  snap.time_ms = now_ms;
  snap.reason = *reason;
  for (std::size_t s = 0; s < plant_.strings.size(); ++s) {
    const auto voltage = r.get(PointId::kStringVoltageV, s);
    const auto current = r.get(PointId::kStringCurrentA, s);
    history::StringRecord sr;
    sr.string_index = static_cast<int>(s);
    sr.voltage_v = voltage.value;
    sr.current_a = current.value;
    sr.ac_current_a = r.get(PointId::kStringAcCurrentA, s).value;
    sr.charge_avg_pct = r.get(PointId::kStringChargeAvgPct, s).value;
    sr.mode = static_cast<int>(r.get(PointId::kStringMode, s).value);
    sr.quality = voltage.quality == Quality::kOk ? current.quality : voltage.quality;
    snap.strings.push_back(sr);
    for (std::size_t b = 0; b < static_cast<std::size_t>(plant_.strings[s].block_count); ++b) {
      const auto voltage_b = r.get(PointId::kBlockVoltageV, s, b);
      history::BlockRecord br;
      br.string_index = static_cast<int>(s);
      br.block_index = static_cast<int>(b);
      br.voltage_v = measured(voltage_b);
      br.temperature_c = measured(r.get(PointId::kBlockTemperatureC, s, b));
      br.ri_mohm = measured(r.get(PointId::kBlockRiMohm, s, b));
      br.charge_pct = r.get(PointId::kBlockChargePct, s, b).value;
      br.equalization_pct = r.get(PointId::kBlockEqualizationPct, s, b).value;
      br.equalization_wh_per_day = r.get(PointId::kBlockEqualizationWhPerDay, s, b).value;
      // A reading of an earlier sweep is recorded as stale (or as its comm_lost/invalid state).
      br.quality = voltage_b.time_ms == now_ms || voltage_b.quality != Quality::kOk
                       ? voltage_b.quality
                       : Quality::kStale;
      snap.blocks.push_back(br);
    }
  }
  // The room's air as the state has it (a sensor reads at its own pace): the value while it is
  // ok, its quality always (not_present without a sensor).
  const auto room = [&](PointId id, double& value, Quality& quality) {
    const auto x = r.get(id);
    value = x.quality == Quality::kOk ? x.value : nan;
    quality = x.quality;
  };
  history::RoomRecord rr;
  room(PointId::kSystemAmbientTemperatureC, rr.ambient_temperature_c, rr.ambient_quality);
  room(PointId::kSystemHumidityPct, rr.humidity_pct, rr.humidity_quality);
  room(PointId::kSystemHydrogenPct, rr.hydrogen_pct, rr.hydrogen_quality);
  snap.room = rr;
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
    logEvent({c.time_ms, "input", text});
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

}  // namespace equalis::runtime
