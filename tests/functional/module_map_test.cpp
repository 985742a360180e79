// The controller's module map over a real line: the wire backend reads every module's identity
// (READ_INFO) from a responder on a pty, the controller stores modules.json; after a restart
// with one module swapped it reports that module once and restarts its block's Ri baseline.
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>

#include <gtest/gtest.h>

#include "bus/commissioning.hpp"
#include "bus/line_server.hpp"
#include "bus/module_map.hpp"
#include "bus/responder.hpp"
#include "bus/sim_backend.hpp"
#include "functional/temp_dir.hpp"
#include "persist/files.hpp"
#include "runtime/controller.hpp"

namespace equalis::runtime {
namespace {

using test::TempDir;

std::vector<std::size_t> blocksOf(const model::PlantConfig& plant) {
  std::vector<std::size_t> out;
  for (const auto& s : plant.strings) {
    out.push_back(static_cast<std::size_t>(s.block_count));
  }
  return out;
}

std::vector<history::EventRecord> eventsOf(Controller& c, const std::string& kind) {
  history::EventQuery q;
  q.from_ms = 0;
  q.to_ms = c.clock().nowMs() + kDayMs;
  q.kind = kind;
  auto events = c.history()->events(q);
  EXPECT_TRUE(events.ok());
  return events.ok() ? *events : std::vector<history::EventRecord>{};
}

TEST(ControllerModuleMap, RecordsTheMapAndReportsAReplacedModuleOnce) {
  TempDir dir;
  auto plant = model::demoPlant();
  plant.simulation.ups.outages = false;
  plant.data_dir = dir.str();
  // The plant's modules answer on a pty, as equalis-sim would.
  SimulatedClock clock;
  sim::PlantSim sim(plant, clock.nowMs());
  bus::SimBackend values(sim);
  std::mutex plant_mutex;
  std::vector<bus::LineString> strings;
  std::uint16_t next = 1;
  model::BusLineConfig line;
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    const auto blocks = static_cast<std::size_t>(plant.strings[s].block_count);
    strings.push_back({s, blocks, next, plant.strings[s].current_sensor.present});
    next = static_cast<std::uint16_t>(next + blocks);
    line.strings.push_back(static_cast<int>(s) + 1);
  }
  bus::LineResponder responder(strings, plant.ambient.sensor_present, 115200, values);
  auto server = bus::LineServer::openPty(responder, plant_mutex);
  ASSERT_TRUE(server.ok()) << server.error().message;
  (*server)->start();
  line.url = "serial:" + (*server)->path() + ":115200";
  plant.bus.lines.push_back(line);
  const std::size_t modules = plant.moduleCount();
  const auto interval = plant.bus.sweep_interval_ms;
  const auto path = persist::modulesPath(plant);

  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    ASSERT_FALSE(c.simulated());
    c.runUntil(clock, clock.nowMs() + 8 * interval);  // 16 identities per sweep
    const auto text = persist::readFile(path);
    ASSERT_TRUE(text.ok() && text->has_value()) << path;
    auto map = bus::ModuleMap::parse(**text, blocksOf(plant));
    ASSERT_TRUE(map.ok()) << map.error().message;
    ASSERT_EQ(map->known(), modules);
    EXPECT_EQ(map->at(0, 2)->serial, responder.serialOf(2));
    EXPECT_EQ(map->at(1, 0)->address, plant.strings[0].block_count + 1);
    ASSERT_TRUE(c.published()->modules);
    EXPECT_EQ(c.published()->modules->size(), modules);
    EXPECT_TRUE(eventsOf(c, "module").empty());
  }

  // String 1, block 3 swapped for a module addressed at the bench.
  {
    std::lock_guard lock(plant_mutex);
    responder.replaceModule(2, 0x0BADF00D, true);
  }
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    c.runUntil(clock, clock.nowMs() + 8 * interval);
    const auto replaced = eventsOf(c, "module");
    ASSERT_EQ(replaced.size(), 1u);
    EXPECT_EQ(replaced[0].string_number, 1);
    EXPECT_EQ(replaced[0].block_number, 3);
    EXPECT_EQ(replaced[0].level, "warning");
    EXPECT_NE(replaced[0].message.find("module replaced"), std::string::npos);
    EXPECT_NE(replaced[0].message.find(bus::formatSerial(0x45510003)), std::string::npos)
        << replaced[0].message;
    EXPECT_NE(replaced[0].message.find("0x0BADF00D"), std::string::npos) << replaced[0].message;
    std::size_t resets = 0;
    for (const auto& e : eventsOf(c, "ri_baseline")) {
      if (e.message.find("module replaced") != std::string::npos) {
        resets += 1;
        EXPECT_EQ(e.string_number, 1);
        EXPECT_EQ(e.block_number, 3);
      }
    }
    EXPECT_EQ(resets, 1u);
    const auto text = persist::readFile(path);
    auto map = bus::ModuleMap::parse(**text, blocksOf(plant));
    ASSERT_TRUE(map.ok());
    EXPECT_EQ(map->at(0, 2)->serial, 0x0BADF00Du);
    EXPECT_EQ(map->known(), modules);
  }
  (*server)->stop();
}

}  // namespace
}  // namespace equalis::runtime
