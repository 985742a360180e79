// A block's health set by a scenario (action age_block) and the truth stream that reports it:
// the true capacity, Ri and float current land where the file says, the state of charge is kept,
// ageing goes on from there, and bad values are refused with the reason.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "sim/fault.hpp"
#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"
#include "sim/truth.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;

// String 1 block 3 → 62.5 % capacity, Ri ×1.8, I0 ×3; string 2 block 1 → Ri ×2.5 (at 10 min).
const std::string kWeakBlock = std::string(EQUALIS_SOURCE_DIR) + "/tests/fixtures/weak-block.toml";

TEST(AgeBlock, SetsTrueCapacityRiAndFloatCurrent) {
  const auto cfg = test::quietDemo();
  PlantSim sim(cfg, kT0);
  auto scenario = loadScenarioFile(kWeakBlock);
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  ASSERT_TRUE(validate(*scenario, cfg).ok());
  ScenarioRunner runner(std::move(*scenario));
  const BlockTruth before = sim.blockTruth(0, 2);
  EXPECT_GT(before.capacity_ah, 0.8 * cfg.strings[0].capacity_ah);  // not weak yet
  for (TimeMs t = kT0; t <= kT0 + 30 * kMinuteMs; t += 10 * kSecondMs) {
    runner.applyDue(sim, kT0, t);
    sim.advanceTo(t);
  }
  EXPECT_TRUE(runner.errors().empty());
  const BlockTruth after = sim.blockTruth(0, 2);
  // Ageing goes on at float-years per year: within 30 min nothing measurable moves.
  EXPECT_NEAR(after.capacity_ah, 0.625 * cfg.strings[0].capacity_ah, 1e-3);
  EXPECT_NEAR(after.ri_ohm / after.initial_ri_ohm, 1.8, 1e-3);
  EXPECT_NEAR(after.gas_i0_a / after.initial_gas_i0_a, 3.0, 1e-3);
  EXPECT_NEAR(after.soc, before.soc, 0.01);  // kept as a fraction
  const BlockTruth resistive = sim.blockTruth(1, 0);
  EXPECT_NEAR(resistive.ri_ohm / resistive.initial_ri_ohm, 2.5, 1e-3);
  // Its neighbours are untouched.
  EXPECT_GT(sim.blockTruth(0, 3).capacity_ah, 0.8 * cfg.strings[0].capacity_ah);
}

TEST(AgeBlock, ValuesOutOfRangeAreRefused) {
  PlantSim sim(test::quietDemo(), kT0);
  BlockHealth h;
  h.capacity_pct = 0.0;
  const auto st = sim.setBlockHealth(0, 0, h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("capacity_pct 0 is outside"), std::string::npos);
  EXPECT_FALSE(sim.setBlockHealth(0, 99, BlockHealth{}).ok());
  const auto bad = parseScenario(R"(
name = "x"
[[event]]
action = "age_block"
string = 1
block = 1
)",
                                 "x.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("needs capacity_pct, ri_factor and/or i0_factor"),
            std::string::npos);
  const auto high = parseScenario(R"(
name = "x"
[[event]]
action = "age_block"
string = 1
block = 1
ri_factor = 50
)",
                                  "x.toml");
  ASSERT_FALSE(high.ok());
  EXPECT_NE(high.error().message.find("ri_factor"), std::string::npos);
}

TEST(Truth, OneLinePerStringAndBlockWithTheTrueValues) {
  const auto cfg = test::quietDemo();
  PlantSim sim(cfg, kT0);
  BlockHealth h;
  h.capacity_pct = 70.0;
  ASSERT_TRUE(sim.setBlockHealth(1, 4, h).ok());
  sim.advanceTo(kT0 + kMinuteMs);
  std::istringstream in(truthLines(sim, kT0 + kMinuteMs));
  std::string line;
  int strings = 0;
  int blocks = 0;
  bool seen = false;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["t_ms"].get<TimeMs>(), kT0 + kMinuteMs);
    if (j["kind"] == "string") {
      ++strings;
      EXPECT_GT(j["charger_setpoint_v"].get<double>(), 0.0);
      continue;
    }
    ++blocks;
    const auto s = j["string"].get<std::size_t>() - 1;
    const auto b = j["block"].get<std::size_t>() - 1;
    const BlockTruth t = sim.blockTruth(s, b);
    EXPECT_NEAR(j["capacity_ah"].get<double>(), t.capacity_ah, 1e-4 * t.capacity_ah);
    EXPECT_NEAR(j["soc"].get<double>(), t.soc, 1e-5);
    EXPECT_NEAR(j["module_offset_v"].get<double>(), sim.moduleOffsetV(s, b), 1e-8);
    if (s == 1 && b == 4) {
      seen = true;
      EXPECT_NEAR(j["capacity_pct"].get<double>(), 70.0, 1e-3);
    }
  }
  EXPECT_EQ(strings, 2);
  EXPECT_EQ(blocks, 64);
  EXPECT_TRUE(seen);
}

// A snapshot goes on exactly as the plant would under the same calls (states, faults and every
// random stream copied), and using it leaves the plant untouched.
TEST(Snapshot, GoesOnExactlyAsThePlantWould) {
  auto cfg = model::demoPlant();  // mains failures on: the UPS stream is copied too
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 6 * kHourMs);
  ASSERT_TRUE(sim.injectFault(0, 4, makeFault(FaultKind::kLooseConnector)).ok());
  const auto copy = sim.snapshot();
  ASSERT_EQ(copy->timeMs(), sim.timeMs());
  for (TimeMs t = sim.timeMs(); t < kT0 + 60 * kHourMs; t += 10 * kMinuteMs) {
    sim.advanceTo(t);
    copy->advanceTo(t);
    for (std::size_t s = 0; s < sim.stringCount(); ++s) {
      ASSERT_EQ(sim.stringTruth(s).current_a, copy->stringTruth(s).current_a) << t;
      ASSERT_EQ(sim.measureStringCurrent(s).current_a, copy->measureStringCurrent(s).current_a);
      for (std::size_t b = 0; b < sim.blockCount(s); b += 7) {
        ASSERT_EQ(sim.blockTruth(s, b).voltage_v, copy->blockTruth(s, b).voltage_v) << t;
        ASSERT_EQ(sim.measureModule(s, b).ri_ohm, copy->measureModule(s, b).ri_ohm) << t;
      }
    }
  }
  EXPECT_EQ(sim.outageActive(), copy->outageActive());
}

// The scorer's question on a copy: how many Ah would string 1 give at C/10 to the cut-off from
// here? The plant itself does not move.
TEST(Snapshot, WhatWouldTheStringDeliverToTheCutOff) {
  const auto cfg = test::quietDemo();
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + kHourMs);
  const double soc_before = sim.blockTruth(0, 0).soc;
  const auto copy = sim.snapshot();
  const double current_a = cfg.strings[0].capacity_ah / 10.0;
  copy->setDischargeCurrent(0, current_a);
  double delivered_ah = 0;
  TimeMs t = copy->timeMs();
  while (!copy->lowVoltageCutOff(0) && t < kT0 + 20 * kHourMs) {
    t += kMinuteMs;
    copy->advanceTo(t);
    delivered_ah += -copy->stringTruth(0).current_a / 60.0;
  }
  EXPECT_TRUE(copy->lowVoltageCutOff(0));
  // A 12 V 100 Ah string of the demo (2 years old) gives most of its C10 capacity at C/10.
  EXPECT_GT(delivered_ah, 0.7 * cfg.strings[0].capacity_ah);
  EXPECT_LT(delivered_ah, 1.1 * cfg.strings[0].capacity_ah);
  EXPECT_EQ(sim.timeMs(), kT0 + kHourMs);
  EXPECT_EQ(sim.blockTruth(0, 0).soc, soc_before);
  EXPECT_FALSE(sim.lowVoltageCutOff(0));
}

// Saved state: a plant written to a file mid-run (a fault, a changed charger, an open breaker, a
// contact, mains failures on) and restored from the same configuration goes on exactly as the
// plant does — states, module reads and the outage schedule.
TEST(SavedState, RestoredPlantGoesOnExactlyAsThePlantWould) {
  const auto cfg = model::demoPlant();
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 30 * kHourMs);
  ASSERT_TRUE(sim.injectFault(1, 3, makeFault(FaultKind::kInternalShort)).ok());
  auto charger = sim.chargerConfig(0);
  charger.float_v_per_cell = 2.25;
  sim.setChargerConfig(0, charger);
  sim.setContact("door", true);
  sim.setBypassDuty(0, 5, 0.5);
  sim.advanceTo(kT0 + 31 * kHourMs);
  const std::string path = ::testing::TempDir() + "/plant-state.bin";
  ASSERT_TRUE(sim.saveState(path).ok());
  auto restored = PlantSim::loadState(cfg, path);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  PlantSim& copy = **restored;
  EXPECT_EQ(copy.timeMs(), sim.timeMs());
  EXPECT_EQ(copy.chargerConfig(0).float_v_per_cell, 2.25);
  EXPECT_EQ(copy.contact("door"), std::optional<bool>(true));
  EXPECT_EQ(copy.nextScheduledOutageMs(), sim.nextScheduledOutageMs());
  for (TimeMs t = sim.timeMs(); t < kT0 + 80 * kHourMs; t += 10 * kMinuteMs) {
    sim.advanceTo(t);
    copy.advanceTo(t);
    for (std::size_t s = 0; s < sim.stringCount(); ++s) {
      ASSERT_EQ(sim.stringTruth(s).current_a, copy.stringTruth(s).current_a) << t;
      ASSERT_EQ(sim.measureStringCurrent(s).current_a, copy.measureStringCurrent(s).current_a);
      for (std::size_t b = 0; b < sim.blockCount(s); b += 5) {
        const auto a = sim.blockTruth(s, b);
        const auto c = copy.blockTruth(s, b);
        ASSERT_EQ(a.voltage_v, c.voltage_v) << t;
        ASSERT_EQ(a.temperature_c, c.temperature_c) << t;
        ASSERT_EQ(a.capacity_fade, c.capacity_fade) << t;
        ASSERT_EQ(sim.measureModule(s, b).voltage_v, copy.measureModule(s, b).voltage_v) << t;
      }
    }
  }
  EXPECT_EQ(sim.outageActive(), copy.outageActive());
  EXPECT_EQ(sim.blockStepCount(), copy.blockStepCount());
}

// Bad bytes give an error that names what is wrong, never a plant.
TEST(SavedState, RejectsDamagedForeignAndMismatchedStates) {
  const auto cfg = test::oneString(4);
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + kHourMs);
  const std::string good = sim.saveState();
  ASSERT_TRUE(PlantSim::restoreState(cfg, good).ok());
  const auto message = [&](const model::PlantConfig& c, const std::string& bytes) {
    auto r = PlantSim::restoreState(c, bytes);
    return r.ok() ? std::string("accepted") : r.error().message;
  };
  EXPECT_NE(message(cfg, "plant.toml contents").find("does not start with"), std::string::npos);
  EXPECT_NE(message(cfg, good.substr(0, good.size() / 2)).find("present"), std::string::npos);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  EXPECT_NE(message(cfg, flipped).find("checksum"), std::string::npos);
  auto other = cfg;
  other.strings[0].block_count = 5;
  EXPECT_NE(message(other, good).find("another plant"), std::string::npos);
  other = cfg;
  other.simulation.seed += 1;
  EXPECT_NE(message(other, good).find("another plant"), std::string::npos);
  auto missing = PlantSim::loadState(cfg, ::testing::TempDir() + "/no-such-state.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace equalis::sim
