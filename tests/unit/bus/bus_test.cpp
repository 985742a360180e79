#include "bus/bus.hpp"

#include <gtest/gtest.h>

#include "bus/sim_backend.hpp"

namespace equalis::bus {
namespace {

using model::Quality;

// A scripted line: each module answers with a fixed voltage unless told to stay silent.
class ScriptedBackend final : public Backend {
 public:
  explicit ScriptedBackend(std::vector<std::size_t> blocks) : blocks_(std::move(blocks)) {}
  std::size_t stringCount() const override { return blocks_.size(); }
  std::size_t blockCount(std::size_t s) const override { return blocks_[s]; }
  Result<ModuleReading> readModule(std::size_t s, std::size_t b) override {
    requests += 1;
    if (silent_string == static_cast<int>(s) && silent_block == static_cast<int>(b)) {
      return makeError(ErrorCode::kTimeout, "silent");
    }
    if (flaky_once && !flaked) {
      flaked = true;
      return makeError(ErrorCode::kProtocol, "crc");
    }
    return ModuleReading{voltage_mv, 250, 5000, 0};
  }
  Result<StringSensorReading> readStringSensor(std::size_t) override {
    if (sensors_silent) {
      return makeError(ErrorCode::kTimeout, "silent");
    }
    return StringSensorReading{current_ma, 100};
  }
  Result<std::int16_t> readAmbientDc() override {
    if (sensors_silent) {
      return makeError(ErrorCode::kTimeout, "silent");
    }
    return std::int16_t{251};
  }
  Status writeBypass(std::size_t, std::size_t, std::uint8_t) override { return {}; }

  std::vector<std::size_t> blocks_;
  int silent_string = -1;
  int silent_block = -1;
  bool flaky_once = false;
  bool flaked = false;
  bool sensors_silent = false;  // string current and room sensors
  std::int32_t voltage_mv = 13'600;
  std::int32_t current_ma = 50;
  int requests = 0;
};

model::PlantConfig plantOf(int strings, int blocks) {
  auto p = model::demoPlant();
  p.strings.resize(static_cast<std::size_t>(strings), p.strings[0]);
  for (auto& s : p.strings) {
    s.block_count = blocks;
  }
  return p;
}

TEST(Frontend, SweepReadsEveryModule) {
  const auto plant = plantOf(2, 4);
  ScriptedBackend backend({4, 4});
  Frontend fe(backend, plant);
  const auto& sw = fe.sweep(10'000);
  EXPECT_EQ(sw.seq, 1u);
  EXPECT_EQ(sw.modules_ok, 8);
  EXPECT_EQ(backend.requests, 8);
  EXPECT_EQ(sw.modules[1][3].quality, Quality::kOk);
  EXPECT_EQ(sw.modules[1][3].reading.voltage_mv, 13'600);
  EXPECT_EQ(sw.modules[1][3].time_ms, 10'000);
  EXPECT_EQ(sw.string_sensors[0].reading.current_ma, 50);
  EXPECT_EQ(sw.ambient.temperature_dc, 251);
}

TEST(Frontend, RetriesOnceAndCountsErrors) {
  const auto plant = plantOf(1, 2);
  ScriptedBackend backend({2});
  backend.flaky_once = true;
  Frontend fe(backend, plant);
  const auto& sw = fe.sweep(1000);
  EXPECT_EQ(sw.modules_ok, 2);
  EXPECT_EQ(sw.comm[0][0].errors, 1u);
  EXPECT_EQ(sw.comm[0][0].ok, 1u);
  EXPECT_EQ(sw.comm[0][0].consecutive_failures, 0u);
}

TEST(Frontend, SilentModuleKeepsLastValueThenCommLost) {
  const auto plant = plantOf(1, 3);  // comm_lost_after_failures = 3
  ScriptedBackend backend({3});
  Frontend fe(backend, plant);
  fe.sweep(10'000);
  backend.silent_string = 0;
  backend.silent_block = 1;
  backend.voltage_mv = 13'000;
  for (int i = 1; i <= 2; ++i) {
    const auto& sw = fe.sweep(10'000 + i * 10'000);
    // Old reading, old time: consumers see its age (and the state store turns it stale).
    EXPECT_EQ(sw.modules[0][1].reading.voltage_mv, 13'600);
    EXPECT_EQ(sw.modules[0][1].time_ms, 10'000);
    EXPECT_EQ(sw.modules[0][1].quality, Quality::kOk);
  }
  const auto& sw = fe.sweep(40'000);
  EXPECT_EQ(sw.modules[0][1].quality, Quality::kCommLost);
  EXPECT_EQ(sw.comm[0][1].consecutive_failures, 3u);
  EXPECT_EQ(sw.comm[0][1].errors, 6u);  // two attempts per sweep
  EXPECT_EQ(sw.modules_ok, 2);
  EXPECT_EQ(sw.modules[0][0].reading.voltage_mv, 13'000);
  // Answers again: ok at once.
  backend.silent_string = -1;
  EXPECT_EQ(fe.sweep(50'000).modules[0][1].quality, Quality::kOk);
}

// A silent current or room sensor is treated like a silent module: the last reading keeps its
// time (so it turns stale), then comm-lost; it was reported "ok" with a frozen value before.
TEST(Frontend, SilentSensorsKeepTheirTimeThenCommLost) {
  const auto plant = plantOf(1, 2);  // comm_lost_after_failures = 3
  ScriptedBackend backend({2});
  Frontend fe(backend, plant);
  fe.sweep(10'000);
  backend.sensors_silent = true;
  for (int i = 1; i <= 2; ++i) {
    const auto& sw = fe.sweep(10'000 + i * 10'000);
    EXPECT_EQ(sw.string_sensors[0].time_ms, 10'000);
    EXPECT_EQ(sw.ambient.time_ms, 10'000);
  }
  const auto& sw = fe.sweep(40'000);
  EXPECT_EQ(sw.string_sensors[0].quality, Quality::kCommLost);
  EXPECT_EQ(sw.ambient.quality, Quality::kCommLost);
  backend.sensors_silent = false;
  const auto& back = fe.sweep(50'000);
  EXPECT_EQ(back.string_sensors[0].quality, Quality::kOk);
  EXPECT_EQ(back.string_sensors[0].time_ms, 50'000);
  EXPECT_EQ(back.ambient.quality, Quality::kOk);
}

TEST(Frontend, OutOfRangeReadingIsInvalid) {
  const auto plant = plantOf(1, 1);  // C24: 8–17 V
  ScriptedBackend backend({1});
  backend.voltage_mv = 30'000;
  Frontend fe(backend, plant);
  EXPECT_EQ(fe.sweep(1000).modules[0][0].quality, Quality::kInvalid);
}

TEST(Frontend, OutOfRangeCurrentIsInvalid) {
  auto plant = plantOf(1, 1);
  plant.strings[0].current_sensor.range_a = 50;
  ScriptedBackend backend({1});
  backend.current_ma = 80'000;
  Frontend fe(backend, plant);
  EXPECT_EQ(fe.sweep(1000).string_sensors[0].quality, Quality::kInvalid);
}

TEST(SimBackend, CommFaultIsATimeout) {
  const auto plant = model::demoPlant();
  sim::PlantSim sim(plant, 0);
  SimBackend backend(sim);
  ASSERT_TRUE(backend.readModule(0, 0).ok());
  sim.setModuleCommFault(0, 0, true);
  auto r = backend.readModule(0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_FALSE(backend.readModule(5, 0).ok());
  EXPECT_FALSE(backend.writeBypass(0, 99, 10).ok());
}

}  // namespace
}  // namespace equalis::bus
