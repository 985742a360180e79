// The largest plant one controller supports (config/large-plant.toml: 64 strings × 64 blocks =
// 4096 modules) through the whole pipeline, and every protocol adapter exposing its last string
// and block: Modbus (register map of unit id 7), SNMP (eqBlockTable row 64.64), MQTT (topics and
// Home Assistant discovery) and Prometheus (/metrics text). Prints the sizes and times that
// docs/limits.md quotes (figures, never pass/fail on time).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "adapters/modbus/register_map.hpp"
#include "adapters/mqtt/mqtt_topics.hpp"
#include "adapters/rest/metrics.hpp"
#include "adapters/snmp/mib.hpp"
#include "config/config.hpp"
#include "functional/temp_dir.hpp"
#include "runtime/controller.hpp"

namespace equalis {
namespace {

using model::PointId;
using model::Quality;

using test::TempDir;

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// One controller on the large plant, a few sweeps in: every block has fresh values.
class LargePlantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded =
        config::loadConfigFile(std::string(EQUALIS_SOURCE_DIR) + "/config/large-plant.toml");
    ASSERT_TRUE(loaded.ok()) << loaded.describe("large-plant.toml");
    s_dir = new TempDir();
    auto plant = *loaded.config;
    plant.data_dir = s_dir->str();
    plant.simulation.ups.outages = false;
    s_clock = new SimulatedClock();
    s_controller = new runtime::Controller(plant, *s_clock);
    ASSERT_TRUE(s_controller->open());
    const auto t0 = std::chrono::steady_clock::now();
    s_controller->runUntil(*s_clock, s_clock->nowMs() + 5 * plant.bus.sweep_interval_ms);
    std::printf("scale: 5 controller cycles at 4096 blocks took %.1f ms\n", msSince(t0));
  }
  static void TearDownTestSuite() {
    delete s_controller;
    delete s_clock;
    delete s_dir;
    s_controller = nullptr;
    s_clock = nullptr;
    s_dir = nullptr;
  }

  static const model::PlantConfig& plant() { return s_controller->plant(); }
  static state::StateStore& store() { return s_controller->state(); }
  static state::Sample lastBlock(PointId id) {
    return state::StateStore::Reader(store(), s_clock->nowMs()).get(id, 63, 63);
  }

  static TempDir* s_dir;
  static SimulatedClock* s_clock;
  static runtime::Controller* s_controller;
};

TempDir* LargePlantTest::s_dir = nullptr;
SimulatedClock* LargePlantTest::s_clock = nullptr;
runtime::Controller* LargePlantTest::s_controller = nullptr;

TEST_F(LargePlantTest, PlantIsAtTheControllerLimits) {
  EXPECT_EQ(plant().strings.size(), static_cast<std::size_t>(config::kMaxStrings));
  EXPECT_EQ(plant().moduleCount(), config::kMaxModules);
  EXPECT_EQ(modbus::kMaxPlantStrings, config::kMaxStrings);
  EXPECT_LE(config::kMaxBlocksPerString, modbus::kMaxBlocksPerString);
  EXPECT_EQ(store().stringCount(), 64u);
  const auto v = lastBlock(PointId::kBlockVoltageV);
  EXPECT_EQ(v.quality, Quality::kOk);
  EXPECT_GT(v.value, 12.0);
  const state::StateStore::Reader r(store(), s_clock->nowMs());
  EXPECT_EQ(r.get(PointId::kSystemModulesOkCount).value, 4096.0);
}

TEST_F(LargePlantTest, ModbusServesString64Block64UnderUnitId7) {
  std::vector<int> layout;
  for (const auto& s : plant().strings) {
    layout.push_back(s.block_count);
  }
  const int units = modbus::unitPageCount(layout.size());
  ASSERT_EQ(units, 7);
  const int page = modbus::unitPage(7, 1, units);
  const modbus::RegisterMap map(layout, store().staleAfterMs(), page);
  const std::uint16_t address = 4000 + 6000 * 3 + 10 * 63;  // string 4 of unit 7, block 64
  ASSERT_TRUE(map.readable(address, 10));
  std::uint16_t regs[10] = {};
  map.read(state::StateStore::Reader(store(), s_clock->nowMs()), address, 10, regs);
  const auto v = lastBlock(PointId::kBlockVoltageV);
  EXPECT_EQ(regs[0], static_cast<std::uint16_t>(std::lround(v.value * 1000)));
  EXPECT_EQ(regs[7], 0);  // quality flags: fresh
  std::uint16_t unit[2] = {};
  map.read(state::StateStore::Reader(store(), s_clock->nowMs()), 1112, 2, unit);
  EXPECT_EQ(unit[0], 61);
  EXPECT_EQ(unit[1], 7);
  // Every block of the plant under exactly one unit id and address.
  std::size_t blocks = 0;
  for (int p = 0; p < units; ++p) {
    const modbus::RegisterMap m(layout, 0, p);
    for (std::size_t n = 0; n < m.servedStrings(); ++n) {
      for (int b = 0; b < layout[m.firstString() + n]; ++b) {
        const auto record = 4000 + 6000 * n + std::size_t{10} * static_cast<std::size_t>(b);
        blocks += m.readable(static_cast<std::uint32_t>(record), 10) ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(blocks, 4096u);
}

TEST_F(LargePlantTest, SnmpBlockTableHasRow64Dot64) {
  const adapters::Context ctx{plant(), store(), *s_clock, "test", {}, {}};
  snmp::OnBatteryTracker tracker;
  auto tables = snmp::buildTables(
      ctx, [] { return std::int64_t{100}; }, tracker);
  const snmp::TableDef* blocks = nullptr;
  const snmp::TableDef* strings = nullptr;
  for (const auto& t : tables) {
    blocks = t.name == "eqBlockTable" ? &t : blocks;
    strings = t.name == "eqStringTable" ? &t : strings;
  }
  ASSERT_NE(blocks, nullptr);
  ASSERT_NE(strings, nullptr);
  EXPECT_EQ(blocks->rows.size(), 4096u);
  EXPECT_EQ(strings->rows.size(), 64u);
  std::uint32_t voltage_column = 0;
  for (const auto& pc : snmp::pointColumns(model::Scope::kBlock)) {
    voltage_column = pc.id == PointId::kBlockVoltageV ? pc.column : voltage_column;
  }
  ASSERT_NE(voltage_column, 0u);
  const auto oid = snmp::concat(snmp::eqBlockEntryOid(), {voltage_column, 64, 64});
  snmp::Cell cell{};
  ASSERT_EQ(snmp::findCell(*blocks, oid, cell), snmp::Lookup::kFound) << snmp::toString(oid);
  const state::StateStore::Reader r(store(), s_clock->nowMs());
  const auto value = blocks->get(r, cell.column, cell.row);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->number, std::lround(lastBlock(PointId::kBlockVoltageV).value * 1000));
  // The walk ends after 64.64: the next cell is the next column's first row.
  const auto next = snmp::nextCell(*blocks, oid);
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->column, voltage_column);
  EXPECT_EQ(next->row, 0u);
  EXPECT_EQ(snmp::findCell(*blocks, snmp::concat(snmp::eqBlockEntryOid(), {voltage_column, 64, 65}),
                           cell),
            snmp::Lookup::kNoSuchInstance);
  // Walk the whole block table cell by cell (what snmpwalk asks for, without the network).
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t cells = 0;
  snmp::Oid at = snmp::eqBlockEntryOid();
  while (const auto c = snmp::nextCell(*blocks, at)) {
    at = snmp::cellOid(*blocks, *c);
    cells += blocks->get(r, c->column, c->row).has_value() ? 1 : 0;
  }
  std::printf("scale: SNMP eqBlockTable: %zu cells with values, walked in-process in %.1f ms\n",
              cells, msSince(t0));
  EXPECT_GE(cells, 4096u * 10);
}

TEST_F(LargePlantTest, MqttTopicsAndDiscoveryCoverEveryString) {
  const mqtt::Topics topics{mqtt::defaultPrefix(plant())};
  EXPECT_EQ(topics.string(64), "equalis/equalis-large-plant/string/64/state");
  EXPECT_EQ(topics.block(64, 64), "equalis/equalis-large-plant/string/64/block/64/state");
  const state::StateStore::Reader r(store(), s_clock->nowMs());
  const auto payload = mqtt::blockPayload(r, 63, 63);
  EXPECT_EQ(payload["string"], 64);
  EXPECT_EQ(payload["block"], 64);
  EXPECT_EQ(payload["voltage_v"]["quality"], "ok");
  // One full state publish: every topic's payload (what publishStates() builds each sweep).
  auto t0 = std::chrono::steady_clock::now();
  std::size_t state_bytes = mqtt::systemPayload(plant(), r).dump().size();
  std::size_t state_topics = 1;
  for (std::size_t s = 0; s < plant().strings.size(); ++s) {
    state_bytes += mqtt::stringPayload(plant(), r, s).dump().size();
    ++state_topics;
    for (int b = 0; b < plant().strings[s].block_count; ++b) {
      state_bytes += mqtt::blockPayload(r, s, static_cast<std::size_t>(b)).dump().size();
      ++state_topics;
    }
  }
  std::printf("scale: MQTT state: %zu topics, %zu bytes, built in %.1f ms\n", state_topics,
              state_bytes, msSince(t0));
  EXPECT_EQ(state_topics, 1u + 64 + 4096);

  t0 = std::chrono::steady_clock::now();
  const auto all = mqtt::discoveryMessages(plant(), topics,
                                           {mqtt::DiscoveryMode::kAll, "homeassistant", "test"});
  std::size_t bytes = 0;
  std::set<std::string> ids;
  for (const auto& m : all) {
    bytes += m.topic.size() + m.config.dump().size();
    ids.insert(m.unique_id);
  }
  std::printf("scale: MQTT discovery=all: %zu configs, %zu bytes, built in %.1f ms\n", all.size(),
              bytes, msSince(t0));
  const std::size_t per_block = mqtt::blockSensors().size();
  const std::size_t per_string = mqtt::stringSensors().size() + 1;  // + the alarm binary sensor
  EXPECT_EQ(all.size(), 4096 * per_block + 64 * per_string + mqtt::systemSensors().size() + 4);
  EXPECT_EQ(ids.size(), all.size());
  EXPECT_TRUE(ids.contains("equalis_equalis_large_plant_s64_b64_voltage"));
  EXPECT_TRUE(ids.contains("equalis_equalis_large_plant_s64_alarm"));
  const auto strings_only = mqtt::discoveryMessages(
      plant(), topics, {mqtt::DiscoveryMode::kStrings, "homeassistant", "test"});
  std::size_t strings_bytes = 0;
  for (const auto& m : strings_only) {
    strings_bytes += m.topic.size() + m.config.dump().size();
  }
  std::printf("scale: MQTT discovery=strings: %zu configs, %zu bytes\n", strings_only.size(),
              strings_bytes);
  EXPECT_EQ(strings_only.size(), 64 * per_string + mqtt::systemSensors().size() + 4);
  // The alarm state names every string.
  const auto alarm_state = mqtt::alarmStatePayload(plant(), {});
  EXPECT_EQ(alarm_state["strings"]["64"], "OFF");
}

TEST_F(LargePlantTest, MetricsCoverString64Block64) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string text =
      rest::renderMetrics(plant(), state::StateStore::Reader(store(), s_clock->nowMs()));
  std::printf("scale: /metrics: %zu bytes, %zu lines, rendered in %.1f ms\n", text.size(),
              static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), msSince(t0));
  const auto v = lastBlock(PointId::kBlockVoltageV);
  EXPECT_NE(text.find(fmt::format("equalis_block_voltage_volts{{string=\"64\",block=\"64\"}} {}\n",
                                  v.value)),
            std::string::npos);
  EXPECT_NE(text.find("equalis_block_up{string=\"64\",block=\"64\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("equalis_string_up{string=\"64\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("string=\"65\""), std::string::npos);
}

}  // namespace
}  // namespace equalis
