// Battery-room model: hydrogen (Faraday, EN IEC 62485-2, first-order mixing), humidity,
// electrolyte level, and the scenario actions that drive them.
#include "sim/room.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "sim/plant_sim.hpp"
#include "sim/scenario.hpp"
#include "sim_test_util.hpp"

namespace equalis::sim {
namespace {

using test::kT0;
using test::quietDemo;

TEST(Room, HydrogenPerAmpereHourFollowsFaraday) {
  EXPECT_NEAR(hydrogenLitresPerAh(0.0), 0.418, 0.001);   // EN IEC 62485-2: q = 0.42 L/Ah
  EXPECT_NEAR(hydrogenLitresPerAh(25.0), 0.456, 0.001);  // 0.45 L/Ah at 25 °C
}

TEST(Room, RequiredVentilationIsTheStandardFormula) {
  // 24 cells (a 48 V string) of 100 Ah, VRLA in float: I_gas = 1 mA/Ah × f_g 0.2 × f_s 5 = 1.
  EXPECT_NEAR(requiredVentilationM3PerH(24, 1.0, 100.0), 0.12, 1e-12);
  // 192 vented cells of 500 Ah in boost: I_gas = 20 mA/Ah → 96 m³/h.
  EXPECT_NEAR(requiredVentilationM3PerH(192, 20.0, 500.0), 96.0, 1e-9);
}

// A room ventilated exactly as EN IEC 62485-2 requires for the emission it gets settles at
// q / (v·q·s) = 0.42e-3 / 0.05 ≈ 0.84 % (the factor 5 below 4 %, with v = 24).
TEST(Room, SteadyStateAtTheRequiredVentilation) {
  const int cells = 192;
  const double capacity_ah = 200.0;
  const double i_gas_ma_per_ah = 1.0;
  const double q_m3_per_h = requiredVentilationM3PerH(cells, i_gas_ma_per_ah, capacity_ah);
  model::RoomConfig cfg;
  cfg.volume_m3 = 20.0;
  cfg.air_changes_per_h = q_m3_per_h / cfg.volume_m3;
  RoomModel room(cfg, 25.0, 1);
  const double emission_cell_a = cells * i_gas_ma_per_ah * 1e-3 * capacity_ah;
  const double expected_pct = 100.0 * hydrogenLitresPerAh(0.0) / 1000.0 / 0.05;
  EXPECT_NEAR(room.steadyStateHydrogenPct(emission_cell_a, 0.0), expected_pct, 1e-9);
  EXPECT_NEAR(expected_pct, 0.836, 0.001);
  // Integrating: after 20 time constants the room is at the closed-form value.
  const double tau_h = 1.0 / cfg.air_changes_per_h;
  for (int i = 0; i < 2000; ++i) {
    room.step(tau_h * 3600.0 / 100.0, emission_cell_a, 0.0);
  }
  EXPECT_NEAR(room.hydrogenPct(), expected_pct, expected_pct * 1e-6);
}

TEST(Room, FirstOrderApproachAndStepSizeIndependence) {
  model::RoomConfig cfg;
  cfg.volume_m3 = 40.0;
  cfg.air_changes_per_h = 0.5;  // τ = 2 h
  const double emission = 2.0;  // A·cells
  RoomModel coarse(cfg, 25.0, 1);
  RoomModel fine(cfg, 25.0, 1);
  coarse.step(2 * 3600.0, emission, 25.0);
  for (int i = 0; i < 7200; ++i) {
    fine.step(1.0, emission, 25.0);
  }
  const double ss = coarse.steadyStateHydrogenPct(emission, 25.0);
  EXPECT_NEAR(coarse.hydrogenPct(), ss * (1.0 - std::exp(-1.0)), ss * 1e-9);
  EXPECT_NEAR(fine.hydrogenPct(), coarse.hydrogenPct(), ss * 1e-9);
}

TEST(Room, VentilationFailureRisesLinearly) {
  model::RoomConfig cfg;
  cfg.volume_m3 = 40.0;
  cfg.air_changes_per_h = 0.0;
  RoomModel room(cfg, 25.0, 1);
  const double emission = 2.0;
  room.step(10 * 3600.0, emission, 25.0);
  // G/V per hour: 2 A × 0.456 L/Ah = 0.912 L/h into 40 000 L.
  const double expected = 100.0 * 10.0 * emission * hydrogenLitresPerAh(25.0) / 40000.0;
  EXPECT_NEAR(room.hydrogenPct(), expected, expected * 1e-9);
  EXPECT_EQ(room.steadyStateHydrogenPct(emission, 25.0), 100.0);
}

// The demo plant: the room settles at G/Q with G from the blocks' gassing currents.
TEST(Room, PlantHydrogenMatchesClosedFormAndRisesWithoutVentilation) {
  auto cfg = quietDemo();
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 2 * kDayMs);  // ≫ τ = 1 h
  double emission = 0.0;
  for (std::size_t s = 0; s < sim.stringCount(); ++s) {
    for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
      emission += 0.2 * 6 * sim.blockTruth(s, b).gassing_current_a;  // VRLA f_g, 6 cells
    }
  }
  const double closed = sim.room().steadyStateHydrogenPct(emission, sim.ambientTemperatureC());
  std::printf("demo room: emission %.3f A·cells, %.3f L/h H2, %.4f %% vol (closed form %.4f %%)\n",
              emission, sim.room().hydrogenLitresPerHour(), sim.roomHydrogenPct(), closed);
  EXPECT_GT(closed, 0.0);
  EXPECT_NEAR(sim.roomHydrogenPct(), closed, closed * 0.01);
  // Ventilation failure: a day later the concentration has grown by ≈ G·t/V.
  const double before = sim.roomHydrogenPct();
  sim.setRoomVentilation(0.0);
  sim.advanceTo(kT0 + 3 * kDayMs);
  const double rise =
      100.0 * 24.0 * sim.room().hydrogenLitresPerHour() / 1000.0 / cfg.io.room.volume_m3;
  std::printf("ventilation failed: %.4f %% → %.4f %% in 24 h\n", before, sim.roomHydrogenPct());
  EXPECT_NEAR(sim.roomHydrogenPct() - before, rise, rise * 0.02);
  EXPECT_GT(sim.roomHydrogenPct(), 10.0 * before);
}

TEST(Room, HumidityVariesSlowlyOverTheDay) {
  auto cfg = quietDemo();
  PlantSim sim(cfg, kT0);
  double lo = 100.0;
  double hi = 0.0;
  double max_step = 0.0;
  double prev = sim.roomHumidityPct();
  for (int i = 1; i <= 144; ++i) {  // one day in 10-minute steps
    sim.advanceTo(kT0 + i * 10 * kMinuteMs);
    const double rh = sim.roomHumidityPct();
    lo = std::min(lo, rh);
    hi = std::max(hi, rh);
    max_step = std::max(max_step, std::fabs(rh - prev));
    prev = rh;
  }
  EXPECT_GT(lo, 30.0);
  EXPECT_LT(hi, 60.0);
  EXPECT_GT(hi - lo, 5.0);   // a visible day/night swing (± 5 %)
  EXPECT_LT(max_step, 0.5);  // and a slow one
  // Warmer air with the same water vapour has a lower relative humidity.
  model::AmbientConfig warm = sim.ambientConfig();
  const double before = sim.roomHumidityPct();
  warm.temperature_c += 5.0;
  sim.setAmbient(warm);
  EXPECT_LT(sim.roomHumidityPct(), before * 0.8);
}

TEST(Room, ElectrolyteFallsWithTheEmittedGas) {
  auto cfg = quietDemo();
  PlantSim sim(cfg, kT0);
  sim.advanceTo(kT0 + 10 * kDayMs);
  const double level = sim.electrolyteLevelPct(0, 0);
  EXPECT_LT(level, kInitialElectrolytePct);
  EXPECT_GT(level, kInitialElectrolytePct - 1.0);  // VRLA: years, not days
  EXPECT_EQ(electrolyteState(level), model::ElectrolyteLevel::kGood);
  EXPECT_EQ(electrolyteState(20.0), model::ElectrolyteLevel::kWarning);
  EXPECT_EQ(electrolyteState(5.0), model::ElectrolyteLevel::kAlarm);
}

TEST(Room, Deterministic) {
  auto cfg = quietDemo();
  PlantSim a(cfg, kT0);
  PlantSim b(cfg, kT0);
  a.advanceTo(kT0 + 6 * kHourMs);
  for (int i = 1; i <= 36; ++i) {
    b.advanceTo(kT0 + i * 10 * kMinuteMs);  // other step pattern, same result
  }
  EXPECT_EQ(a.roomHumidityPct(), b.roomHumidityPct());
  EXPECT_NEAR(a.roomHydrogenPct(), b.roomHydrogenPct(), a.roomHydrogenPct() * 1e-9);
  EXPECT_NEAR(a.electrolyteLevelPct(0, 0), b.electrolyteLevelPct(0, 0), 1e-9);
  auto other = cfg;
  other.simulation.seed = 2;
  PlantSim c(other, kT0);
  c.advanceTo(kT0 + 6 * kHourMs);
  EXPECT_NE(a.roomHumidityPct(), c.roomHumidityPct());  // the weather drift's phase
}

TEST(Room, ScenarioActionsDriveInputsAndRoom) {
  const auto sc = parseScenario(R"(
name = "room"
[[event]]
at = "1h"
action = "ventilation"
air_changes_per_h = 0
[[event]]
at = "1h"
action = "input"
channel = "aux1.di3"
active = true
[[event]]
at = "2h"
action = "electrolyte"
string = 1
block = 1
level_pct = 20
[[event]]
at = "2h"
action = "humidity"
humidity_pct = 85
swing_pct = 0
)",
                                "room.toml");
  ASSERT_TRUE(sc.ok()) << sc.error().message;
  const auto cfg = quietDemo();
  ASSERT_TRUE(validate(*sc, cfg).ok());
  PlantSim sim(cfg, kT0);
  ScenarioRunner runner(*sc);
  runner.applyDue(sim, kT0, kT0 + 3 * kHourMs);
  EXPECT_TRUE(runner.errors().empty());
  EXPECT_EQ(sim.room().config().air_changes_per_h, 0.0);
  EXPECT_EQ(sim.contact("aux1.di3"), std::optional<bool>(true));
  EXPECT_EQ(sim.electrolyteLevelPct(0, 0), 20.0);
  EXPECT_NEAR(sim.roomHumidityPct(), 85.0, 85.0 * 0.05);  // ± the weather drift (swing 0)
}

TEST(Room, ScenarioInputErrorsNameTheChannel) {
  const auto sc = parseScenario(R"(
name = "bad"
[[event]]
at = "1h"
action = "input"
channel = "aux1.di9"
active = true
[[event]]
at = "1h"
action = "input"
channel = "aux1.di1"
active = false
[[event]]
at = "1h"
action = "input"
channel = "aux1.relay1"
active = false
)",
                                "bad.toml");
  ASSERT_TRUE(sc.ok()) << sc.error().message;
  const Status st = validate(*sc, quietDemo());
  ASSERT_FALSE(st.ok());
  const std::string& m = st.error().message;
  EXPECT_NE(m.find("event[1].channel: no simulated digital input 'aux1.di9', did you mean"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("event[2].channel: 'aux1.di1' is a breaker_status input"), std::string::npos)
      << m;
  EXPECT_NE(m.find("event[3].channel: 'aux1.relay1' is not a digital input"), std::string::npos)
      << m;
  const auto missing =
      parseScenario("name = \"x\"\n[[event]]\nat = \"1h\"\naction = \"ventilation\"\n", "x.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("event[1].air_changes_per_h: missing"), std::string::npos)
      << missing.error().message;
}

}  // namespace
}  // namespace equalis::sim

namespace equalis::sim {
namespace {

// battery-room.toml: without ventilation and with the chargers at 2.40 V/cell the hydrogen
// climbs well above its ventilated level; repaired ventilation brings it back down.
TEST(Room, BatteryRoomScenario) {
  const auto r = loadScenarioFile(std::string(EQUALIS_SOURCE_DIR) + "/scenarios/battery-room.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  PlantSim sim(test::quietDemo(), kT0);
  ScenarioRunner runner(*r);
  double peak = 0.0;
  double at_1h = 0.0;
  for (TimeMs t = kT0; t <= kT0 + r->duration_ms; t += kMinuteMs) {
    runner.applyDue(sim, kT0, t);
    sim.advanceTo(t);
    if (t == kT0 + kHourMs) {
      at_1h = sim.roomHydrogenPct();
    }
    peak = std::max(peak, sim.roomHydrogenPct());
  }
  std::printf("battery-room: H2 %.4f %% at 1 h, peak %.3f %%, end %.4f %%; pilot cell %.0f %%\n",
              at_1h, peak, sim.roomHydrogenPct(), sim.electrolyteLevelPct(0, 0));
  EXPECT_TRUE(runner.errors().empty());
  EXPECT_GT(peak, 50.0 * at_1h);
  EXPECT_LT(sim.roomHydrogenPct(), 0.1 * peak);  // ventilated again for 12 h (τ = 1 h)
  EXPECT_EQ(electrolyteState(sim.electrolyteLevelPct(0, 0)), model::ElectrolyteLevel::kAlarm);
}

}  // namespace
}  // namespace equalis::sim
