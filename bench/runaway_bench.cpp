// Thermal-runaway protection on randomized plants (issue: "trips in every runaway, and never in
// normal operation"). Every case is a plant, a seeded set of faults or normal-life events, and
// the simulator with its random mains failures on. The protection sees only what the controller
// sees (the bus sweep, its analysis and the guard, alarms/runaway.hpp); the simulator's truth is
// read here only to score.
//
//   runaway families: internal short in one block; blocked cooling + high I0; hot room; charger
//     over-voltage; compensation off — on 2 × 32 × 12 V VRLA, 240 × 2 V VRLA and 16 × LiFePO4,
//     with and without a room sensor, with and without a controllable charger.
//     Each case runs twice: without protection (ground truth: does a block reach 60 °C, when does
//     the runaway become detectable — a block ≥ 5 K above the room, the vendor criterion of
//     battery-science.md §3.6) and with it (alarm, trip, hottest block at the trip).
//   normal families: outages and deep discharges with recharge, hot summer days, new blocks in an
//     old string, equalization with bypass heat — on 2 × 32 × 12 V VRLA and 16 × LiFePO4, counted
//     in site-years; every protection trip or alarm there is false.
//
// Prints one JSON object per line: {"bench":"runaway","metric":…,"value":…,"unit":…,
// "conditions":{…}}. Deterministic from the seeds. Options:
//   --seeds N        runaway seeds per family (default 20)
//   --site-years N   normal operation in total (default 100)
//   --seed-base N    first seed (held-out runs use another base)
//   --threads N      worker threads (default: hardware)
//   --trace FAMILY SEED   print the guard's per-minute figures for one case and exit
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alarms/runaway.hpp"
#include "analysis/analysis.hpp"
#include "bus/bus.hpp"
#include "bus/sim_backend.hpp"
#include "control/equalizer.hpp"
#include "model/chemistry.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"

namespace {

using namespace equalis;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr double kDangerC = 60.0;          // goal: trip before any block reaches this
constexpr double kDetectableK = 5.0;       // a block this far above the room: detectable
constexpr DurationMs kSweepMs = 30 * kSecondMs;

enum class PlantKind { kVrla12, kVrla2, kLfp };
const char* plantName(PlantKind k) {
  switch (k) {
    case PlantKind::kVrla12:
      return "2x32x12V-VRLA";
    case PlantKind::kVrla2:
      return "240x2V-VRLA";
    case PlantKind::kLfp:
      return "16xLiFePO4";
  }
  return "";
}

model::StringConfig stringOf(PlantKind k, const char* name, double age_years) {
  model::StringConfig s;
  s.name = name;
  s.age_years = age_years;
  switch (k) {
    case PlantKind::kVrla12:
      s.block_count = 32;
      s.chemistry = model::Chemistry::kVrla12V;
      s.capacity_ah = 100;
      s.module_type = model::ModuleType::kC24;
      break;
    case PlantKind::kVrla2:
      s.block_count = 240;
      s.chemistry = model::Chemistry::kVrla2V;
      s.capacity_ah = 1000;
      s.module_type = model::ModuleType::kC44;
      s.charger.current_limit_a = 100;
      s.current_sensor.range_a = 1000;
      break;
    case PlantKind::kLfp:
      s.block_count = 16;
      s.chemistry = model::Chemistry::kLiFePO4;
      s.capacity_ah = 100;
      s.module_type = model::ModuleType::kC44;
      s.charger.temperature_compensation = false;
      break;
  }
  const auto& chem = model::chemistryInfo(s.chemistry);
  s.charger.float_v_per_cell = chem.float_v_per_cell;
  s.charger.temp_comp_mv_per_k_per_cell = chem.temp_comp_mv_per_k_per_cell;
  if (s.chemistry == model::Chemistry::kLiFePO4) {
    s.charger.temperature_compensation = false;
  }
  return s;
}

// One case: a plant, its events, how long to run, and what to score.
struct Case {
  std::string family;
  bool runaway = false;  // a runaway family (else normal operation)
  PlantKind plant_kind = PlantKind::kVrla12;
  std::uint64_t seed = 0;
  model::PlantConfig plant;
  sim::Scenario scenario;
  DurationMs duration_ms = 0;
  DurationMs onset_ms = 0;  // runaway families: when the fault begins
  std::size_t fault_string = 0;
  bool charger_controllable = false;
};

struct Rng {
  std::mt19937_64 g;
  explicit Rng(std::uint64_t seed) : g(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(g); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(g); }
};

std::uint64_t mix(std::uint64_t seed, const std::string& family) {
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : family) {
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return h ^ (seed * 0x9E3779B97F4A7C15ull);
}

sim::ScenarioEvent event(sim::ScenarioAction a, DurationMs at_ms) {
  sim::ScenarioEvent e;
  e.action = a;
  e.at_ms = at_ms;
  return e;
}

sim::ScenarioEvent faultEvent(DurationMs at_ms, std::size_t s, std::size_t b, sim::Fault f) {
  auto e = event(sim::ScenarioAction::kFault, at_ms);
  e.string_index = s;
  e.block_index = b;
  e.fault = f;
  return e;
}

sim::ScenarioEvent chargerEvent(DurationMs at_ms, std::optional<std::size_t> s,
                                std::optional<bool> compensation) {
  auto e = event(sim::ScenarioAction::kCharger, at_ms);
  e.string_index = s;
  e.temperature_compensation = compensation;
  return e;
}

sim::ScenarioEvent ambientEvent(DurationMs at_ms, double c, std::optional<double> swing) {
  auto e = event(sim::ScenarioAction::kAmbient, at_ms);
  e.ambient_c = c;
  e.daily_swing_c = swing;
  return e;
}

model::PlantConfig plantFor(PlantKind k, Rng& rng, bool ambient_sensor, double age_old) {
  model::PlantConfig p;
  if (k == PlantKind::kVrla12) {
    p.strings = {stringOf(k, "String 1", age_old), stringOf(k, "String 2", rng.uniform(0, 2))};
  } else {
    p.strings = {stringOf(k, "String 1", age_old)};
  }
  p.ambient.sensor_present = ambient_sensor;
  p.ambient.temperature_c = rng.uniform(20, 27);
  p.ambient.daily_swing_c = rng.uniform(0, 3);
  // The UPS load scales with the plant: the demo's 20 kW for 2 × 32 × 12 V 100 Ah.
  double wh = 0;
  for (const auto& s : p.strings) {
    wh += s.capacity_ah * model::chemistryInfo(s.chemistry).nominal_voltage_v * s.block_count;
  }
  p.simulation.ups.load_kw = 20.0 * wh / 76800.0 * rng.uniform(0.5, 1.2);
  p.simulation.ups.outage_mean_interval_h = rng.uniform(4, 12);
  p.io.devices.clear();
  return p;
}

// ---------------------------------------------------------------- runaway families

Case runawayCase(const std::string& family, std::uint64_t seed) {
  Rng rng(mix(seed, family));
  Case c;
  c.family = family;
  c.runaway = true;
  c.seed = seed;
  c.plant_kind = static_cast<PlantKind>(seed % 3);
  const bool ambient_sensor = (seed / 3) % 2 == 0;
  c.charger_controllable = (seed / 6) % 2 == 1;
  c.plant = plantFor(c.plant_kind, rng, ambient_sensor, rng.uniform(2, 8));
  c.plant.simulation.seed = seed + 1;
  c.onset_ms = static_cast<DurationMs>(rng.uniform(6, 48) * kHourMs);
  c.duration_ms = c.onset_ms + 5 * kDayMs;
  c.fault_string = 0;
  const auto& sc = c.plant.strings[0];
  const auto block = static_cast<std::size_t>(rng.integer(0, sc.block_count - 1));
  auto& ev = c.scenario.events;
  c.scenario.name = family;
  const auto n_blocks = static_cast<std::size_t>(sc.block_count);
  // A fault on every block of string 1 (a cabinet's blocked vents, a string dried out by heat).
  const auto every_block = [&](sim::Fault f) {
    for (std::size_t b = 0; b < n_blocks; ++b) {
      ev.push_back(faultEvent(c.onset_ms, 0, b, f));
    }
  };
  if (family == "internal_short") {
    // A short whose heat would lift the block 100–300 K above the room in steady state (G_th of
    // a 12 V 100 Ah block ≈ 0.69 W/K, scaled with the surface; the block's neighbours and its
    // falling charge take much of it), half of them in a badly ventilated place. The model's
    // smallest leak is 1 Ω: a 2 V cell cannot get there.
    sim::Fault f = sim::makeFault(sim::FaultKind::kInternalShort);
    const auto& chem = model::chemistryInfo(sc.chemistry);
    const double v_block = chem.nominal_voltage_v * 1.07;
    const double g_w_per_k =
        0.69 * std::pow(sc.capacity_ah / 100.0 * chem.nominal_voltage_v / 12.0, 2.0 / 3.0);
    const double p_w = rng.uniform(100, 300) * g_w_per_k;
    f.leak_ohm = std::clamp(v_block * v_block / p_w, 1.0, 1000.0);  // the model's range
    ev.push_back(faultEvent(c.onset_ms, 0, block, f));
    if (rng.uniform(0, 1) < 0.5) {
      sim::Fault cool = sim::makeFault(sim::FaultKind::kBlockedCooling);
      cool.cooling_factor = rng.uniform(0.2, 0.6);
      ev.push_back(faultEvent(c.onset_ms, 0, block, cool));
    }
  } else if (family == "cooling_high_i0") {
    // §6.4 recipe on a whole string: blocked cooling (×0.1–0.3), I0 ×10–40 (dry-out) and no
    // temperature compensation. (On one block of a long string the recipe does not run away:
    // the string current is set by the others, scenarios.md.)
    sim::Fault cool = sim::makeFault(sim::FaultKind::kBlockedCooling);
    cool.cooling_factor = rng.uniform(0.1, 0.3);
    sim::Fault i0 = sim::makeFault(sim::FaultKind::kHighI0);
    i0.i0_factor = rng.uniform(10, 40);
    every_block(cool);
    every_block(i0);
    ev.push_back(chargerEvent(c.onset_ms, 0, false));
  } else if (family == "hot_room") {
    // A failed air conditioning: the room at 45–55 °C (compensation clamps at 40 °C), an aged
    // string (I0 ×3–10), the charger within its tolerance.
    ev.push_back(ambientEvent(c.onset_ms, rng.uniform(45, 55), rng.uniform(0, 4)));
    sim::Fault i0 = sim::makeFault(sim::FaultKind::kHighI0);
    i0.i0_factor = rng.uniform(3, 10);
    every_block(i0);
    sim::Fault ov = sim::makeFault(sim::FaultKind::kChargerOvervoltage);
    ov.setpoint_factor = rng.uniform(1.0, 1.03);
    ev.push_back(faultEvent(c.onset_ms, 0, 0, ov));
  } else if (family == "charger_overvoltage") {
    sim::Fault ov = sim::makeFault(sim::FaultKind::kChargerOvervoltage);
    ov.setpoint_factor = rng.uniform(1.12, 1.25);
    ev.push_back(faultEvent(c.onset_ms, 0, 0, ov));
  } else if (family == "compensation_off") {
    ev.push_back(chargerEvent(c.onset_ms, 0, false));
    ev.push_back(ambientEvent(c.onset_ms, rng.uniform(38, 48), rng.uniform(0, 4)));
    sim::Fault ov = sim::makeFault(sim::FaultKind::kChargerOvervoltage);
    ov.setpoint_factor = rng.uniform(1.05, 1.12);
    ev.push_back(faultEvent(c.onset_ms, 0, 0, ov));
  }
  for (std::size_t i = 0; i < ev.size(); ++i) {
    ev[i].number = i + 1;
  }
  c.scenario.duration_ms = c.duration_ms;
  return c;
}

// ---------------------------------------------------------------- normal families

Case normalCase(const std::string& family, std::uint64_t seed, DurationMs duration_ms) {
  Rng rng(mix(seed, family));
  Case c;
  c.family = family;
  c.seed = seed;
  // Normal operation on the common site (2 × 32 × 12 V) and on a lithium string; the 240-cell
  // plant is in the runaway families only (a site-year of it costs four of the others).
  c.plant_kind = seed % 2 == 0 ? PlantKind::kVrla12 : PlantKind::kLfp;
  const bool ambient_sensor = (seed / 2) % 2 == 0;
  c.charger_controllable = (seed / 4) % 2 == 1;
  const double age_old = family == "new_blocks" ? rng.uniform(6, 12) : rng.uniform(0, 8);
  c.plant = plantFor(c.plant_kind, rng, ambient_sensor, age_old);
  c.plant.simulation.seed = seed + 1;
  c.duration_ms = duration_ms;
  auto& ev = c.scenario.events;
  c.scenario.name = family;
  const auto strings = c.plant.strings.size();
  if (family == "outages") {
    // Deep discharges (a long mains failure, a capacity test) with recharge, every 1–4 weeks.
    for (TimeMs t = static_cast<TimeMs>(rng.uniform(1, 7) * kDayMs); t < duration_ms;
         t += static_cast<TimeMs>(rng.uniform(7, 28) * kDayMs)) {
      auto e = event(sim::ScenarioAction::kDischarge, t);
      e.string_index = static_cast<std::size_t>(rng.integer(0, static_cast<int>(strings) - 1));
      e.current_a = c.plant.strings[*e.string_index].capacity_ah * rng.uniform(0.05, 0.3);
      e.duration_ms = static_cast<DurationMs>(rng.uniform(1, 10) * kHourMs);
      ev.push_back(e);
    }
  } else if (family == "hot_summer") {
    // Weather: every 1–4 days the room settles at a new temperature, 18–38 °C with a day/night
    // swing of up to 8 K (an unconditioned shelter in summer).
    for (TimeMs t = 0; t < duration_ms; t += static_cast<TimeMs>(rng.uniform(1, 4) * kDayMs)) {
      ev.push_back(ambientEvent(t, rng.uniform(18, 38), rng.uniform(2, 8)));
    }
  } else if (family == "new_blocks") {
    for (TimeMs t = static_cast<TimeMs>(rng.uniform(1, 20) * kDayMs); t < duration_ms;
         t += static_cast<TimeMs>(rng.uniform(10, 60) * kDayMs)) {
      auto e = event(sim::ScenarioAction::kReplaceBlock, t);
      e.string_index = static_cast<std::size_t>(rng.integer(0, static_cast<int>(strings) - 1));
      e.block_index = static_cast<std::size_t>(
          rng.integer(0, c.plant.strings[*e.string_index].block_count - 1));
      e.soc = rng.uniform(0.7, 0.95);
      ev.push_back(e);
    }
  } else if (family == "equalization") {
    // Full bypass on a few blocks for hours to days (a block far from target): the module's
    // bypass heat on its block, the hottest normal case for one block against its neighbours.
    for (TimeMs t = static_cast<TimeMs>(rng.uniform(0.5, 5) * kDayMs); t < duration_ms;
         t += static_cast<TimeMs>(rng.uniform(3, 20) * kDayMs)) {
      const auto s = static_cast<std::size_t>(rng.integer(0, static_cast<int>(strings) - 1));
      const int n = rng.integer(1, 3);
      const auto len = static_cast<DurationMs>(rng.uniform(2, 72) * kHourMs);
      for (int i = 0; i < n; ++i) {
        auto on = event(sim::ScenarioAction::kBypass, t);
        on.string_index = s;
        on.block_index =
            static_cast<std::size_t>(rng.integer(0, c.plant.strings[s].block_count - 1));
        on.duty = 1.0;
        auto off = on;
        off.at_ms = t + len;
        off.duty = 0.0;
        ev.push_back(on);
        ev.push_back(off);
      }
    }
    std::stable_sort(ev.begin(), ev.end(),
                     [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  }
  for (std::size_t i = 0; i < ev.size(); ++i) {
    ev[i].number = i + 1;
  }
  c.scenario.duration_ms = duration_ms;
  return c;
}

// ---------------------------------------------------------------- one run

struct Outcome {
  bool alarmed = false;  // on the fault string (runaway) / anywhere (normal)
  TimeMs alarm_ms = -1;  // relative to the start
  bool tripped = false;
  TimeMs trip_ms = -1;
  bool charger_reduced = false;  // the protection lowered the fault string's charger
  double hottest_at_trip_c = 0;  // true, on the tripped string
  double hottest_c = 0;          // true, whole run, fault string
  TimeMs danger_ms = -1;         // first true block ≥ 60 °C on the fault string
  TimeMs detectable_ms = -1;     // first true block ≥ room + 5 K on the fault string (on charge)
  int false_trips = 0;           // trips of strings without a fault / normal cases
  int false_alarms = 0;
  double simulated_days = 0;
  std::vector<std::string> false_messages;
};

Outcome run(const Case& c, bool protect, bool trace) {
  Outcome o;
  sim::PlantSim sim(c.plant, kT0 - 2 * kDayMs);
  sim.advanceTo(kT0);
  bus::SimBackend backend(sim);
  bus::Frontend frontend(backend, c.plant);
  analysis::Analyzer analyzer(c.plant);
  std::vector<alarms::RunawayGuard> guards;
  std::vector<control::StringEqualizer> equalizers;
  for (const auto& sc : c.plant.strings) {
    guards.emplace_back(sc.name, sc.capacity_ah, c.plant.thermal_runaway);
    guards.back().setChargerControllable(c.charger_controllable);
    equalizers.emplace_back(sc, c.plant.equalization);
  }
  sim::ScenarioRunner runner(c.scenario);
  const std::size_t n_strings = c.plant.strings.size();
  std::vector<bool> tripped(n_strings, false);
  std::vector<bool> alarmed(n_strings, false);
  const TimeMs end = kT0 + c.duration_ms;
  for (TimeMs t = kT0 + kSweepMs; t <= end; t += kSweepMs) {
    while (!runner.finished() && kT0 + runner.nextAtMs() <= t) {
      const TimeMs at = kT0 + runner.nextAtMs();
      sim.advanceTo(at);
      runner.applyDue(sim, kT0, at);
    }
    sim.advanceTo(t);
    const auto& sweep = frontend.sweep(t);
    const auto& sums = analyzer.update(sweep);
    for (std::size_t s = 0; s < n_strings; ++s) {
      // Equalization as the controller runs it (raw module voltages).
      control::StringInput in;
      const auto& modules = sweep.modules[s];
      in.time_ms = t;
      in.mode = sums[s].mode;
      in.mode_valid = sums[s].mode_quality == model::Quality::kOk;
      in.current_a = sums[s].current_a;
      in.target_v = sums[s].target_voltage_v;
      in.voltage_v.resize(modules.size());
      in.valid.resize(modules.size());
      for (std::size_t b = 0; b < modules.size(); ++b) {
        in.valid[b] = modules[b].usable();
        in.voltage_v[b] = modules[b].voltage_v;
      }
      const auto& duties = equalizers[s].update(in);
      for (std::size_t b = 0; b < duties.size(); ++b) {
        frontend.commandBypass(s, b, static_cast<std::uint8_t>(std::lround(duties[b] * 100.0)));
      }
      if (!protect) {
        continue;
      }
      for (const auto& e : guards[s].update(alarms::runawayInputFrom(sweep, s, sums[s]))) {
        if (trace) {
          std::printf("# %.2f h %s: %s\n", static_cast<double>(t - kT0) / kHourMs, e.kind.c_str(),
                      e.message.c_str());
        }
        if (e.kind == "alarm" && !alarmed[s]) {
          alarmed[s] = true;
          if (c.runaway && s == c.fault_string) {
            o.alarmed = true;
            o.alarm_ms = t - kT0;
          } else {
            ++o.false_alarms;
            o.false_messages.push_back(e.message);
          }
        }
        if (e.reduce_charger) {
          sim.setChargerReduced(s, true);
          o.charger_reduced = o.charger_reduced || (c.runaway && s == c.fault_string);
        }
        if (e.open_breaker) {
          sim.setBreakerClosed(s, false);
          tripped[s] = true;
          double hot = 0;
          for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
            hot = std::max(hot, sim.blockTruth(s, b).temperature_c);
          }
          if (c.runaway && s == c.fault_string) {
            o.tripped = true;
            o.trip_ms = t - kT0;
            o.hottest_at_trip_c = hot;
          } else {
            ++o.false_trips;
            o.false_messages.push_back(e.message);
          }
        }
      }
    }
    // Truth, for the score only.
    if (c.runaway && (t - kT0) % kMinuteMs == 0) {
      const std::size_t s = c.fault_string;
      double hot = -1e9;
      for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
        hot = std::max(hot, sim.blockTruth(s, b).temperature_c);
      }
      o.hottest_c = std::max(o.hottest_c, hot);
      if (o.danger_ms < 0 && hot >= kDangerC) {
        o.danger_ms = t - kT0;
      }
      const bool on_charge = sim.stringTruth(s).current_a > 0 && !tripped[s];
      if (o.detectable_ms < 0 && t - kT0 >= c.onset_ms && on_charge &&
          hot - sim.ambientTemperatureC() >= kDetectableK) {
        o.detectable_ms = t - kT0;
      }
      if (trace && (t - kT0) % (10 * kMinuteMs) == 0) {
        const auto& f = guards[s].figures();
        std::printf(
            "%7.2f h true %5.1f amb %5.1f | hot b%-3d %5.1f med %5.1f mean %5.1f (hist %5.1f) "
            "slope hot %+5.2f mean %+5.2f | I %7.3f ref %6.3f dI %+6.3f/h | V %6.1f/%6.1f | "
            "B%d S%d %s mode %d\n",
            static_cast<double>(t - kT0) / kHourMs, hot, sim.ambientTemperatureC(), f.hot_block,
            f.hot_c, f.median_c, f.mean_c, f.history_min_c, f.hot_slope_k_per_h,
            f.mean_slope_k_per_h, f.current_a, f.current_ref_a, f.current_slope_a_per_h,
            f.voltage_v, f.setpoint_v, f.block_evidence ? 1 : 0, f.string_evidence ? 1 : 0,
            std::string(alarms::runawayStateName(guards[s].state())).c_str(),
            static_cast<int>(sums[s].mode));
      }
      if (!protect && o.danger_ms >= 0 && o.detectable_ms >= 0) {
        break;  // ground truth known
      }
      if (protect && tripped[s] && t - kT0 >= o.trip_ms + kHourMs) {
        break;  // tripped: the string cools down from here
      }
    }
  }
  o.simulated_days = static_cast<double>(c.duration_ms) / kDayMs;
  for (const auto& e : runner.errors()) {
    std::fprintf(stderr, "%s seed %llu: scenario event rejected: %s\n", c.family.c_str(),
                 static_cast<unsigned long long>(c.seed), e.c_str());
  }
  return o;
}

// ---------------------------------------------------------------- report

std::string machine() {
  utsname u{};
  uname(&u);
  return u.machine;
}

void emit(const std::string& metric, double value, const char* unit, const std::string& cond) {
  std::printf(
      "{\"bench\":\"runaway\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\","
      "\"conditions\":%s}\n",
      metric.c_str(), value, unit, cond.c_str());
  std::fflush(stdout);
}

template <class Job>
void parallel(std::size_t n, int threads, const Job& job) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < std::max(1, threads); ++i) {
    pool.emplace_back([&] {
      for (std::size_t k = next++; k < n; k = next++) {
        job(k);
      }
    });
  }
  for (auto& t : pool) {
    t.join();
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return -1;
  }
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;
  double site_years = 100;
  std::uint64_t seed_base = 1;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string trace_family;
  std::uint64_t trace_seed = 0;
  bool trace_unprotected = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--seeds") {
      seeds = std::atoi(next());
    } else if (a == "--site-years") {
      site_years = std::atof(next());
    } else if (a == "--seed-base") {
      seed_base = std::strtoull(next(), nullptr, 10);
    } else if (a == "--threads") {
      threads = std::atoi(next());
    } else if (a == "--trace" || a == "--trace-unprotected") {
      trace_unprotected = a == "--trace-unprotected";
      trace_family = next();
      trace_seed = std::strtoull(next(), nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seeds N] [--site-years N] [--seed-base N] [--threads N] "
                   "[--trace FAMILY SEED]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::vector<std::string> runaway_families = {
      "internal_short", "cooling_high_i0", "hot_room", "charger_overvoltage", "compensation_off"};
  const std::vector<std::string> normal_families = {"outages", "hot_summer", "new_blocks",
                                                    "equalization"};
  constexpr DurationMs kNormalCaseMs = 365 * kDayMs / 2;  // half a site-year per case

  if (!trace_family.empty()) {
    const bool runaway = std::find(runaway_families.begin(), runaway_families.end(),
                                   trace_family) != runaway_families.end();
    Case c = runaway ? runawayCase(trace_family, trace_seed)
                     : normalCase(trace_family, trace_seed, kNormalCaseMs);
    c.runaway = true;  // trace the first string's figures
    std::printf("# %s seed %llu plant %s onset %.1f h room sensor %d charger controllable %d\n",
                trace_family.c_str(), static_cast<unsigned long long>(trace_seed),
                plantName(c.plant_kind), static_cast<double>(c.onset_ms) / kHourMs,
                c.plant.ambient.sensor_present ? 1 : 0, c.charger_controllable ? 1 : 0);
    const Outcome o = run(c, !trace_unprotected, true);
    std::printf(
        "# alarm %.2f h trip %.2f h hottest at trip %.1f °C, detectable %.2f h, 60 °C %.2f h\n",
        static_cast<double>(o.alarm_ms) / kHourMs, static_cast<double>(o.trip_ms) / kHourMs,
        o.hottest_at_trip_c, static_cast<double>(o.detectable_ms) / kHourMs,
        static_cast<double>(o.danger_ms) / kHourMs);
    return 0;
  }

  const auto wall0 = std::chrono::steady_clock::now();
  const std::string base_cond =
      "\"seeds\":" + std::to_string(seeds) + ",\"seed_base\":" + std::to_string(seed_base) +
      ",\"sweep_s\":" + std::to_string(kSweepMs / 1000) + ",\"machine\":\"" + machine() + "\"";

  // Runaway families: a ground-truth run and a protected run per case.
  std::vector<Case> cases;
  for (const auto& f : runaway_families) {
    for (int i = 0; i < seeds; ++i) {
      cases.push_back(runawayCase(f, seed_base + static_cast<std::uint64_t>(i)));
    }
  }
  std::vector<Outcome> truth(cases.size());
  std::vector<Outcome> guarded(cases.size());
  parallel(cases.size() * 2, threads, [&](std::size_t k) {
    const std::size_t i = k / 2;
    if (k % 2 == 0) {
      truth[i] = run(cases[i], false, false);
    } else {
      guarded[i] = run(cases[i], true, false);
    }
  });
  int all_runaways = 0;
  int all_before_60 = 0;
  for (const auto& f : runaway_families) {
    int n = 0;
    int detected = 0;
    int tripped = 0;
    int before_60 = 0;
    int by_charger = 0;
    int other_string_trips = 0;
    std::vector<double> to_alarm_h;
    std::vector<double> detect_to_alarm_min;
    std::vector<double> to_trip_h;
    std::vector<double> hot_at_trip;
    int non_runaway = 0;
    int non_runaway_alarmed = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].family != f) {
        continue;
      }
      other_string_trips += guarded[i].false_trips;
      if (truth[i].danger_ms < 0) {
        ++non_runaway;  // stayed below 60 °C without protection: a fault, not a runaway
        non_runaway_alarmed += guarded[i].alarmed ? 1 : 0;
        continue;
      }
      ++n;
      const auto& g = guarded[i];
      detected += g.alarmed ? 1 : 0;
      tripped += g.tripped ? 1 : 0;
      // Safe: the breaker opened below 60 °C, or the lowered charger stopped the runaway (no
      // block reached 60 °C in the protected run).
      const bool by_trip = g.tripped && g.hottest_at_trip_c < kDangerC;
      const bool by_reduction = !g.tripped && g.charger_reduced && g.hottest_c < kDangerC;
      const bool safe = by_trip || by_reduction;
      before_60 += safe ? 1 : 0;
      by_charger += by_reduction ? 1 : 0;
      if (!safe) {
        std::fprintf(stderr, "runaway not stopped below 60 °C: %s seed %llu (%s)\n", f.c_str(),
                     static_cast<unsigned long long>(cases[i].seed),
                     plantName(cases[i].plant_kind));
      }
      if (g.alarmed) {
        to_alarm_h.push_back(static_cast<double>(g.alarm_ms - cases[i].onset_ms) / kHourMs);
        if (truth[i].detectable_ms >= 0) {
          detect_to_alarm_min.push_back(static_cast<double>(g.alarm_ms - truth[i].detectable_ms) /
                                        kMinuteMs);
        }
      }
      if (g.tripped) {
        to_trip_h.push_back(static_cast<double>(g.trip_ms - cases[i].onset_ms) / kHourMs);
        hot_at_trip.push_back(g.hottest_at_trip_c);
      }
    }
    all_runaways += n;
    all_before_60 += before_60;
    const std::string cond = "{\"family\":\"" + f + "\",\"runaways\":" + std::to_string(n) +
                             ",\"faults_below_60C\":" + std::to_string(non_runaway) + "," +
                             base_cond + "}";
    emit("detection_rate", n > 0 ? 100.0 * detected / n : -1, "%", cond);
    emit("stopped_below_60C", n > 0 ? 100.0 * before_60 / n : -1, "%", cond);
    emit("stopped_by_lowered_charger", n > 0 ? 100.0 * by_charger / n : -1, "%", cond);
    emit("onset_to_alarm_median", percentile(to_alarm_h, 0.5), "h", cond);
    emit("detectable_to_alarm_median", percentile(detect_to_alarm_min, 0.5), "min", cond);
    emit("detectable_to_alarm_max", percentile(detect_to_alarm_min, 1.0), "min", cond);
    emit("onset_to_trip_median", percentile(to_trip_h, 0.5), "h", cond);
    emit("hottest_block_at_trip_median", percentile(hot_at_trip, 0.5), "degC", cond);
    emit("hottest_block_at_trip_max", percentile(hot_at_trip, 1.0), "degC", cond);
    emit("faults_below_60C_alarmed",
         non_runaway > 0 ? 100.0 * non_runaway_alarmed / non_runaway : -1, "%", cond);
    emit("healthy_string_trips", other_string_trips, "count", cond);
  }
  emit("runaways_stopped_below_60C", all_runaways > 0 ? 100.0 * all_before_60 / all_runaways : -1,
       "%", "{\"runaways\":" + std::to_string(all_runaways) + "," + base_cond + "}");

  // Normal families: site-years of operation; every alarm or trip is false.
  const double case_years = static_cast<double>(kNormalCaseMs) / (365.0 * kDayMs);
  const int per_family =
      std::max(1, static_cast<int>(std::ceil(site_years / case_years /
                                             static_cast<double>(normal_families.size()))));
  std::vector<Case> normal;
  for (const auto& f : normal_families) {
    for (int i = 0; i < per_family; ++i) {
      normal.push_back(normalCase(f, seed_base + static_cast<std::uint64_t>(i), kNormalCaseMs));
    }
  }
  std::vector<Outcome> normal_out(normal.size());
  parallel(normal.size(), threads,
           [&](std::size_t i) { normal_out[i] = run(normal[i], true, false); });
  double total_years = 0;
  int total_trips = 0;
  int total_alarms = 0;
  for (const auto& f : normal_families) {
    double years = 0;
    int trips = 0;
    int alarms_n = 0;
    for (std::size_t i = 0; i < normal.size(); ++i) {
      if (normal[i].family != f) {
        continue;
      }
      years += normal_out[i].simulated_days / 365.0;
      trips += normal_out[i].false_trips;
      alarms_n += normal_out[i].false_alarms;
      for (const auto& m : normal_out[i].false_messages) {
        std::fprintf(stderr, "false protection event: %s seed %llu (%s): %s\n", f.c_str(),
                     static_cast<unsigned long long>(normal[i].seed),
                     plantName(normal[i].plant_kind), m.c_str());
      }
    }
    total_years += years;
    total_trips += trips;
    total_alarms += alarms_n;
    const std::string cond =
        "{\"family\":\"" + f + "\",\"site_years\":" + std::to_string(years) + "," + base_cond + "}";
    emit("false_trips_per_site_year", years > 0 ? trips / years : -1, "1/a", cond);
    emit("false_alarms_per_site_year", years > 0 ? alarms_n / years : -1, "1/a", cond);
  }
  const std::string cond = "{\"site_years\":" + std::to_string(total_years) + "," + base_cond + "}";
  emit("false_trips", total_trips, "count", cond);
  emit("false_alarms", total_alarms, "count", cond);
  emit("wall_time", std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count(),
       "s", cond);
  return 0;
}
