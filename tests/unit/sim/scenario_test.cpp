// Scenario files (scenarios/*.toml, docs/scenarios.md): duration syntax, parse errors that name the
// event and key, validation against a plant, the runner, and the shipped scenarios.
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/plant_sim.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

const std::string kScenarioDir = std::string(EQUALIS_SOURCE_DIR) + "/scenarios";

std::string errorOf(std::string_view text) {
  const auto r = parseScenario(text, "test.toml");
  return r.ok() ? std::string("(parsed)") : r.error().message;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Scenario, DurationSyntax) {
  EXPECT_EQ(parseDuration("90s").valueOr(-1), 90 * kSecondMs);
  EXPECT_EQ(parseDuration("15min").valueOr(-1), 15 * kMinuteMs);
  EXPECT_EQ(parseDuration("2h").valueOr(-1), 2 * kHourMs);
  EXPECT_EQ(parseDuration("3d").valueOr(-1), 3 * kDayMs);
  EXPECT_EQ(parseDuration("1h30min").valueOr(-1), 90 * kMinuteMs);
  EXPECT_EQ(parseDuration("1.5h").valueOr(-1), 90 * kMinuteMs);
  EXPECT_EQ(parseDuration(" 2 h 5 s ").valueOr(-1), 2 * kHourMs + 5 * kSecondMs);
  EXPECT_EQ(parseDuration("250ms").valueOr(-1), 250);
  EXPECT_EQ(parseDuration("0").valueOr(-1), 0);
  EXPECT_EQ(parseDuration("0s").valueOr(-1), 0);
  for (const char* bad : {"", "2", "h", "2 hours", "-1h", "1..5h", "3w", "1e3s"}) {
    const auto r = parseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(contains(r.error().message, "invalid duration")) << bad;
    }
  }
}

TEST(Scenario, ParsesAllKeys) {
  const auto r = parseScenario(R"(
name = "all"
description = "every action"
[[event]]
at = "1h"
action = "fault"
string = 2
block = 7
kind = "dry_out"
r0_factor = 1.5
i0_factor = 3
time_constant = "3d"
[[event]]
at = "30min"
action = "charger"
temperature_compensation = false
float_v_per_cell = 2.25
[[event]]
at = "2h"
action = "discharge"
string = 1
current_a = 10
duration = "5h"
[[event]]
at = "2h"
action = "fault"
string = 1
kind = "charger_overvoltage"
factor = 1.04
[[event]]
at = "3h"
action = "ambient"
temperature_c = 30
daily_swing_c = 2
[[event]]
at = "4h"
action = "bypass"
string = 1
block = 2
duty = 0.5
[[event]]
at = "5h"
action = "replace_block"
string = 1
block = 3
[[event]]
at = "6h"
action = "outage"
load_kw = 5
duration = "10min"
[[event]]
at = "7h"
action = "clear_fault"
string = 2
block = 7
kind = "dry_out"
)",
                               "all.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Scenario& s = *r;
  EXPECT_EQ(s.name, "all");
  EXPECT_EQ(s.origin, "all.toml");
  ASSERT_EQ(s.events.size(), 9u);
  EXPECT_EQ(s.duration_ms, 7 * kHourMs);  // the last event's end (discharge ends at 7 h too)
  const auto& f = s.events[0];
  EXPECT_EQ(f.action, ScenarioAction::kFault);
  EXPECT_EQ(f.string_index, 1u);
  EXPECT_EQ(f.block_index, 6u);
  EXPECT_EQ(f.fault.kind, FaultKind::kDryOut);
  EXPECT_EQ(f.fault.r0_factor, 1.5);
  EXPECT_EQ(f.fault.i0_factor, 3.0);
  EXPECT_EQ(f.fault.time_constant_ms, 3 * kDayMs);
  EXPECT_FALSE(s.events[1].string_index.has_value());
  EXPECT_EQ(s.events[1].temperature_compensation, false);
  EXPECT_EQ(s.events[1].float_v_per_cell, 2.25);
  EXPECT_FALSE(s.events[1].charger_enabled.has_value());
  EXPECT_EQ(s.events[2].current_a, 10.0);
  EXPECT_EQ(s.events[2].duration_ms, 5 * kHourMs);
  EXPECT_EQ(s.events[3].fault.setpoint_factor, 1.04);
  EXPECT_FALSE(s.events[3].block_index.has_value());
  EXPECT_EQ(s.events[4].ambient_c, 30.0);
  EXPECT_EQ(s.events[5].duty, 0.5);
  EXPECT_EQ(s.events[6].soc, PlantSim::kNewBlockSoc);
  EXPECT_EQ(s.events[7].load_w, 5000.0);
  EXPECT_EQ(s.events[8].action, ScenarioAction::kClearFault);
}

// Every error names the event (1-based) and the key; all errors of a file are reported together.
TEST(Scenario, ErrorsNameEventAndKey) {
  const std::string e = errorOf(R"(
name = "bad"
[[event]]
at = "1h"
action = "fault"
string = 1
block = 1
kind = "blocked_cooling"
[[event]]
at = "2 hours"
action = "outage"
load_kw = 5
duration = "1h"
[[event]]
at = "3h"
action = "fault"
string = 1
block = 2
kind = "dryout"
[[event]]
at = "4h"
action = "fualt"
[[event]]
at = "5h"
action = "fault"
string = 1
block = 3
kind = "blocked_cooling"
facter = 0.5
[[event]]
at = "6h"
action = "fault"
string = 0
block = "7"
kind = "internal_short"
resistance_ohm = 0.01
[[event]]
at = "7h"
action = "fault"
string = 1
block = 3
kind = "charger_overvoltage"
[[event]]
at = "8h"
action = "discharge"
string = 1
)");
  std::printf("%s\n", e.c_str());
  EXPECT_TRUE(contains(e, "test.toml: event[2].at: invalid duration \"2 hours\""));
  EXPECT_TRUE(contains(
      e, "test.toml: event[3].kind: unknown fault kind 'dryout', did you mean 'dry_out'?"));
  EXPECT_TRUE(contains(e, "event[4].action: unknown action 'fualt', did you mean 'fault'?"));
  EXPECT_TRUE(contains(e,
                       "event[5].facter: unknown key for action 'fault' (kind "
                       "blocked_cooling), did you mean 'factor'?"));
  EXPECT_TRUE(contains(e, "event[6].string: must be ≥ 1 (indices are 1-based), got 0"));
  EXPECT_TRUE(contains(e, "event[6].block: expected an integer (1-based), got a string"));
  EXPECT_TRUE(contains(e, "event[6].resistance_ohm: 0.01 Ω is outside 1 … 1e+06 Ω"));
  EXPECT_TRUE(contains(e, "event[7].block: not used: charger_overvoltage is a string-level fault"));
  EXPECT_TRUE(contains(e, "event[8].current_a: missing"));
  EXPECT_TRUE(contains(e, "event[8].duration: missing"));
  EXPECT_FALSE(contains(e, "event[1]"));
  // Top level.
  EXPECT_TRUE(contains(errorOf("description = \"x\"\n"), "test.toml: name: missing"));
  EXPECT_TRUE(contains(errorOf("name = \"x\"\n"), "event: no [[event]] defined"));
  EXPECT_TRUE(contains(errorOf("name = \"x\"\nevent = 3\n"), "event: expected an array of tables"));
  EXPECT_TRUE(contains(errorOf("name = \"x\"\nnmae = 1\n[[event]]\nat = \"1h\"\naction = "
                               "\"ambient\"\ntemperature_c = 30\n"),
                       "nmae: unknown key, did you mean 'name'?"));
  EXPECT_TRUE(contains(errorOf("name = [\n"), "TOML syntax error at line"));
  EXPECT_TRUE(contains(errorOf("name = \"x\"\nduration = \"1h\"\n[[event]]\nat = \"2h\"\naction = "
                               "\"ambient\"\ntemperature_c = 30\n"),
                       "duration: 3600 s ends before the last event"));
}

TEST(Scenario, ValidateAgainstPlant) {
  const auto r = parseScenario(R"(
name = "idx"
[[event]]
at = "1h"
action = "fault"
string = 3
block = 1
kind = "dry_out"
[[event]]
at = "1h"
action = "bypass"
string = 2
block = 33
duty = 1
[[event]]
at = "1h"
action = "bypass"
string = 2
block = 32
duty = 1
)",
                               "idx.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Status st = validate(*r, model::demoPlant());
  ASSERT_FALSE(st.ok());
  const std::string& e = st.error().message;
  EXPECT_TRUE(contains(e,
                       "idx.toml: event[1].string: string 3 does not exist (the plant has 2 "
                       "strings)"));
  EXPECT_TRUE(contains(e, "event[2].block: block 33 does not exist (string 2 has 32 blocks)"));
  EXPECT_FALSE(contains(e, "event[3]"));
}

// Each event is applied once, when its time has come, in time order; a discharge ends by itself.
TEST(Scenario, RunnerAppliesEventsOnceInTimeOrder) {
  const auto r = parseScenario(R"(
name = "run"
[[event]]
at = "2h"
action = "bypass"
string = 1
block = 2
duty = 0.5
[[event]]
at = "1h"
action = "discharge"
string = 1
current_a = 5
duration = "30min"
[[event]]
at = "3h"
action = "fault"
string = 1
block = 4
kind = "module_comm_loss"
[[event]]
at = "4h"
action = "clear_fault"
string = 1
block = 4
kind = "module_comm_loss"
)",
                               "run.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  PlantSim sim(test::oneString(4), kT0);
  ScenarioRunner runner(*r);
  EXPECT_EQ(runner.stepCount(), 5u);         // 4 events + the discharge's end
  runner.applyDue(sim, kT0, kT0 - kHourMs);  // before the start: nothing
  EXPECT_EQ(runner.appliedCount(), 0u);
  EXPECT_EQ(runner.nextAtMs(), kHourMs);
  std::vector<std::size_t> applied_at;
  for (TimeMs t = kT0; t <= kT0 + 5 * kHourMs; t += 10 * kSecondMs) {
    const std::size_t before = runner.appliedCount();
    runner.applyDue(sim, kT0, t);
    runner.applyDue(sim, kT0, t);  // a second call in the same cycle applies nothing new
    for (std::size_t i = before; i < runner.appliedCount(); ++i) {
      applied_at.push_back(static_cast<std::size_t>((t - kT0) / kMinuteMs));
    }
    if (t == kT0 + 90 * kMinuteMs - 10 * kSecondMs) {
      EXPECT_EQ(sim.stringTruth(0).mode, StringMode::kDischarge);
    }
    if (t == kT0 + 150 * kMinuteMs) {
      EXPECT_NE(sim.stringTruth(0).mode, StringMode::kDischarge);
      EXPECT_EQ(sim.measureModule(0, 1).bypass_duty, 0.5);
    }
    if (t == kT0 + 210 * kMinuteMs) {
      EXPECT_TRUE(sim.moduleCommFault(0, 3));
    }
    sim.advanceTo(t + 10 * kSecondMs);
  }
  EXPECT_TRUE(runner.finished());
  EXPECT_EQ(runner.nextAtMs(), -1);
  EXPECT_EQ(applied_at, (std::vector<std::size_t>{60, 90, 120, 180, 240}));
  EXPECT_FALSE(sim.moduleCommFault(0, 3));
  EXPECT_TRUE(runner.errors().empty());
}

// Events whose indices the plant does not have are skipped and reported, never thrown.
TEST(Scenario, RunnerReportsEventsThePlantRejects) {
  const auto r = parseScenario(R"(
name = "x"
[[event]]
at = "0s"
action = "fault"
string = 2
block = 1
kind = "dry_out"
)",
                               "x.toml");
  ASSERT_TRUE(r.ok());
  PlantSim sim(test::oneString(4), kT0);
  ScenarioRunner runner(*r);
  runner.applyDue(sim, kT0, kT0);
  ASSERT_EQ(runner.errors().size(), 1u);
  EXPECT_TRUE(contains(runner.errors()[0], "x.toml: event[1] (fault)"));
}

std::vector<std::filesystem::path> scenarioFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kScenarioDir)) {
    if (entry.path().extension() == ".toml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every shipped scenario parses and validates against the demo plant.
TEST(Scenario, ShippedFilesParseAndValidate) {
  const auto files = scenarioFiles();
  std::vector<std::string> names;
  for (const auto& path : files) {
    const auto r = loadScenarioFile(path.string());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->name, path.stem().string());
    EXPECT_FALSE(r->description.empty()) << path;
    EXPECT_GT(r->duration_ms, 0) << path;
    const Status st = validate(*r, model::demoPlant());
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    names.push_back(r->name);
  }
  for (const char* required :
       {"thermal-runaway", "deep-discharge", "ageing-faults", "sensor-faults", "new-blocks"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  }
  EXPECT_FALSE(loadScenarioFile(kScenarioDir + "/does-not-exist.toml").ok());
}

// Every shipped scenario runs to its end on the demo plant with a 60-s controller cycle: all events
// are accepted and the plant stays finite and physical.
TEST(Scenario, ShippedFilesRunOnDemoPlant) {
  for (const auto& path : scenarioFiles()) {
    const auto r = loadScenarioFile(path.string());
    ASSERT_TRUE(r.ok()) << r.error().message;
    PlantSim sim(test::quietDemo(), kT0);
    ScenarioRunner runner(*r);
    for (TimeMs t = kT0; t <= kT0 + r->duration_ms; t += kMinuteMs) {
      runner.applyDue(sim, kT0, t);
      sim.advanceTo(t);
    }
    EXPECT_TRUE(runner.finished()) << path;
    EXPECT_TRUE(runner.errors().empty()) << path;
    double t_max = 0;
    for (std::size_t s = 0; s < sim.stringCount(); ++s) {
      EXPECT_TRUE(std::isfinite(sim.stringTruth(s).voltage_v)) << path;
      for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
        const auto t = sim.blockTruth(s, b);
        EXPECT_TRUE(std::isfinite(t.voltage_v) && t.voltage_v > 0.0) << path;
        EXPECT_TRUE(t.soc >= 0.0 && t.soc <= 1.0) << path;
        t_max = std::max(t_max, t.temperature_c);
      }
    }
    std::printf("%s: %zu events, %.1f d, hottest block %.1f °C, string 1 %.2f V / %.3f A\n",
                r->name.c_str(), r->events.size(), static_cast<double>(r->duration_ms) / kDayMs,
                t_max, sim.stringTruth(0).voltage_v, sim.stringTruth(0).current_a);
  }
}

// thermal-runaway.toml: string 1 block 7 ends well above its neighbours (> 10 K); string 2's deep
// discharge and recharge warm it by a few K at most, and it is nearly full again at the end (its
// blocks with the lowest charge efficiency still take charge 26 h into the recharge, while the
// full ones gas and warm).
TEST(Scenario, ThermalRunawayScenarioOnDemoPlant) {
  const auto r = loadScenarioFile(kScenarioDir + "/thermal-runaway.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  PlantSim sim(test::quietDemo(), kT0);
  ScenarioRunner runner(*r);
  double max_other_rise_k = 0;
  bool string2_discharged = false;
  for (TimeMs t = kT0; t <= kT0 + r->duration_ms; t += kMinuteMs) {
    runner.applyDue(sim, kT0, t);
    sim.advanceTo(t);
    for (std::size_t b = 0; b < 32; ++b) {
      max_other_rise_k = std::max(max_other_rise_k,
                                  sim.blockTruth(1, b).temperature_c - sim.ambientTemperatureC());
    }
    string2_discharged |= sim.lowVoltageCutOff(1);
  }
  EXPECT_TRUE(runner.finished());
  EXPECT_TRUE(runner.errors().empty());
  const double t7 = sim.blockTruth(0, 6).temperature_c;
  const double t_nb =
      std::max(sim.blockTruth(0, 5).temperature_c, sim.blockTruth(0, 7).temperature_c);
  std::printf(
      "thermal-runaway: S1B7 %.1f °C, neighbours ≤ %.1f °C (+%.1f K); string 2 hottest "
      "block ≤ %.2f K above ambient during its deep discharge and recharge\n",
      t7, t_nb, t7 - t_nb, max_other_rise_k);
  EXPECT_GT(t7 - t_nb, 10.0);
  EXPECT_TRUE(string2_discharged);
  EXPECT_LT(max_other_rise_k, 5.0);
  EXPECT_GT(test::minSoc(sim, 1), 0.97);
  EXPECT_EQ(sim.stringTruth(1).mode, StringMode::kFloat);
}

}  // namespace
}  // namespace equalis::sim
