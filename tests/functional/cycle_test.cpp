// The control cycle's contracts, on the demo plant as `make run` starts it (mains outages on,
// an old and a new string): history records what was live, every committed state version is
// internally consistent, and concurrent operator commands are all applied.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "command/published.hpp"
#include "functional/temp_dir.hpp"
#include "persist/files.hpp"
#include "runtime/controller.hpp"

namespace equalis::runtime {
namespace {

using model::PointId;
using model::Quality;

const command::Origin kTestOrigin{"", "", "test"};

using test::TempDir;

model::PlantConfig demoPlant(const std::string& dir) {
  auto p = model::demoPlant();  // outages on, as `make run`
  p.data_dir = dir;
  return p;
}

// Equal within half a storage step (the history keeps mV, 0.1 °C, µΩ, 0.1 %, 1 %, 0.1 Wh/d).
bool same(double recorded, const state::Sample& live, double step) {
  if (std::isnan(recorded)) {
    return live.quality != Quality::kOk || std::isnan(live.value);
  }
  return std::abs(recorded - live.value) <= step / 2 + 1e-9;
}

// Each history snapshot holds, field by field, what the state store showed after that cycle
// (the equalization effort was recorded as 0 for months because one field was left out).
TEST(Cycle, HistoryRecordsTheLiveValues) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlant(dir.str());
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  // More than a day: the effort meter has a full 24 h window and outages bring fast recording.
  const TimeMs end = clock.nowMs() + 28 * kHourMs;
  int compared = 0;
  double effort_sum = 0;
  std::uint64_t records = c.historyRecordCount();
  struct Field {
    history::BlockQuantity quantity;
    PointId id;
    double step;  // storage resolution
  };
  const std::vector<Field> fields = {
      {history::BlockQuantity::kVoltageV, PointId::kBlockVoltageV, 0.001},
      {history::BlockQuantity::kTemperatureC, PointId::kBlockTemperatureC, 0.1},
      {history::BlockQuantity::kRiMohm, PointId::kBlockRiMohm, 0.001},
      {history::BlockQuantity::kChargePct, PointId::kBlockChargePct, 0.1},
      {history::BlockQuantity::kEqualizationPct, PointId::kBlockEqualizationPct, 1.0},
      {history::BlockQuantity::kEqualizationWhPerDay, PointId::kBlockEqualizationWhPerDay, 0.1},
  };
  while (clock.nowMs() < end) {
    clock.advance(plant.bus.sweep_interval_ms);
    c.cycle();
    if (c.historyRecordCount() == records) {
      continue;
    }
    records = c.historyRecordCount();
    // Compare every fourth snapshot in full (the rest of the time the test just runs).
    if (records % 4 != 0) {
      continue;
    }
    const TimeMs t = clock.nowMs();
    const state::StateStore::Reader r(c.state(), t);
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      for (std::size_t b = 0; b < static_cast<std::size_t>(plant.strings[s].block_count); ++b) {
        for (const auto& [q, id, step] : fields) {
          auto series =
              c.history()->blockSeries(static_cast<int>(s), static_cast<int>(b), q, t, t + 1, 10);
          ASSERT_TRUE(series.ok());
          ASSERT_EQ(series->size(), 1u);
          const auto live = r.get(id, s, b);
          EXPECT_TRUE(same(series->front().value, live, step))
              << "string " << s + 1 << " block " << b + 1 << " " << model::point(id).field()
              << ": recorded " << series->front().value << ", live " << live.value;
          if (q == history::BlockQuantity::kEqualizationWhPerDay) {
            effort_sum += series->front().value;
          }
        }
      }
    }
    compared += 1;
  }
  EXPECT_GE(compared, 10);
  EXPECT_GT(effort_sum, 1.0) << "the equalization effort must reach the history";
}

// Block status, alarm counts and the published alarm list of one version belong together. A
// reader sampling versions while the plant runs with alarms never sees a version whose alarms
// are missing from the block status (the status page used to flicker green).
TEST(Cycle, EveryCommittedVersionIsConsistent) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlant(dir.str());
  const auto plant_sim = simulatedPlant(plant, clock.nowMs());
  Controller c(plant, clock, plant_sim);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, clock.nowMs() + 10 * kMinuteMs);
  // Silent modules raise comm-lost alarms; a loose connector raises Ri alarms on another block.
  plant_sim->setModuleCommFault(0, 4, true);
  plant_sim->setModuleCommFault(1, 20, true);
  ASSERT_TRUE(plant_sim->injectFault(1, 9, sim::makeFault(sim::FaultKind::kLooseConnector)).ok());

  std::atomic<bool> done{false};
  std::atomic<int> versions_checked{0};
  std::atomic<int> versions_with_alarms{0};
  std::vector<std::string> problems;
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const state::StateStore::Reader r(c.state(), clock.nowMs());
      if (r.version() == last) {
        std::this_thread::yield();
        continue;
      }
      last = r.version();
      const auto pub = command::published(r);
      int alarm_count = 0;
      int warning_count = 0;
      for (const auto& a : pub->alarms) {
        (a.level == alarms::Level::kAlarm ? alarm_count : warning_count) += 1;
      }
      const auto counted_alarms = r.get(PointId::kSystemAlarmCount).value;
      const auto counted_warnings = r.get(PointId::kSystemWarningCount).value;
      if (counted_alarms != alarm_count || counted_warnings != warning_count) {
        problems.push_back("version " + std::to_string(last) + ": counts " +
                           std::to_string(counted_alarms) + "/" + std::to_string(counted_warnings) +
                           " vs list " + std::to_string(alarm_count) + "/" +
                           std::to_string(warning_count));
      }
      for (const auto& a : pub->alarms) {
        if (a.block_number == 0 || a.rule_id == "string.thermal_runaway") {
          continue;
        }
        const auto s = static_cast<std::size_t>(a.string_number - 1);
        const auto b = static_cast<std::size_t>(a.block_number - 1);
        const auto status =
            static_cast<model::BlockStatus>(r.get(PointId::kBlockStatus, s, b).value);
        const auto want = a.level == alarms::Level::kAlarm ? model::BlockStatus::kAlarm
                                                           : model::BlockStatus::kWarning;
        if (status != model::BlockStatus::kUnknown && status != want &&
            status != model::BlockStatus::kAlarm) {
          problems.push_back("version " + std::to_string(last) + ": " + a.key + " active but " +
                             "block status " + std::to_string(static_cast<int>(status)));
        }
      }
      versions_checked += 1;
      versions_with_alarms += pub->alarms.empty() ? 0 : 1;
    }
  });
  for (int i = 0; i < 360; ++i) {  // an hour, slowly enough for the reader to see most versions
    clock.advance(plant.bus.sweep_interval_ms);
    c.cycle();
    if (i % 30 == 0) {
      const auto alarms = c.activeAlarms();
      if (!alarms.empty()) {  // an operator acknowledges between two sweeps
        ASSERT_TRUE(c.execute({command::AcknowledgeAlarm{alarms.back().key}, kTestOrigin}).ok());
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  done = true;
  reader.join();
  EXPECT_TRUE(problems.empty()) << problems.size() << " inconsistent versions, first: "
                                << (problems.empty() ? "" : problems.front());
  EXPECT_GT(versions_checked.load(), 100);
  EXPECT_GT(versions_with_alarms.load(), 50);
  // One version per cycle, plus one per command applied between two sweeps.
  EXPECT_LE(c.state().version(), 1 + c.sweepCount() + 12 + 1);
}

// Twenty-six operators change different rules at the same moment; every change survives, in
// the running rules and in the file that carries them across a restart.
TEST(Cycle, ConcurrentRuleEditsAllSurvive) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlant(dir.str());
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    std::atomic<bool> running{true};
    std::thread cycles([&] {
      while (running.load()) {
        clock.advance(plant.bus.sweep_interval_ms);
        c.cycle();
      }
    });
    const std::vector<std::string> rules = {"block.temperature_high", "block.voltage_high",
                                            "block.ri_high"};
    std::vector<std::thread> editors;
    std::atomic<int> ok{0};
    for (int i = 0; i < 26; ++i) {
      editors.emplace_back([&, i] {
        model::AlarmRuleOverride o;
        o.rule_id = rules[static_cast<std::size_t>(i) % rules.size()];
        o.string_number = 1 + (i / static_cast<int>(rules.size())) % 2;
        // Different fields of the same rule from different operators must merge.
        if (i / 6 % 2 == 0) {
          o.on_delay_ms = (10 + i) * kSecondMs;
        } else {
          o.off_delay_ms = (10 + i) * kSecondMs;
        }
        if (c.commands().execute({command::ChangeAlarmRule{o}, kTestOrigin}).ok()) {
          ok += 1;
        }
      });
    }
    for (auto& t : editors) {
      t.join();
    }
    running = false;
    cycles.join();
    EXPECT_EQ(ok.load(), 26);
  }
  // What each editor set is in force after a restart: the last writer of each field wins.
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  const auto overrides = c.alarmOverrides();
  int fields_set = 0;
  for (const auto& o : overrides) {
    fields_set += o.on_delay_ms ? 1 : 0;
    fields_set += o.off_delay_ms ? 1 : 0;
  }
  // 3 rules × 2 strings, each with an on-delay and an off-delay change.
  EXPECT_EQ(overrides.size(), 6u);
  EXPECT_EQ(fields_set, 12);
}

// A channel renamed through the command path is shown by its new name (and its input changes
// are), refused names change nothing, the name survives a restart, and "" gives back the
// configured one; a damaged io_names.json is ignored with an event, never a failed start.
TEST(Cycle, ChannelNamesChangeThroughCommandsAndSurviveARestart) {
  TempDir dir;
  SimulatedClock clock;
  const auto plant = demoPlant(dir.str());
  const auto name_of = [](const Controller& c, const std::string& id) {
    for (const auto& ch : c.ioChannels()) {
      if (ch.id == id) {
        return ch.name;
      }
    }
    return std::string("(missing)");
  };
  std::string configured;
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    configured = name_of(c, "aux1.di3");
    ASSERT_NE(configured, "(missing)");
    std::atomic<bool> running{true};
    std::thread cycles([&] {
      while (running.load()) {
        clock.advance(plant.bus.sweep_interval_ms);
        c.cycle();
      }
    });
    const auto rename = [&](const std::string& id, const std::string& name) {
      return c.commands().execute({command::RenameChannel{id, name}, kTestOrigin});
    };
    EXPECT_TRUE(rename("aux1.di3", "  Battery room door ").ok());
    const auto bad = rename("aux1.di3", std::string("Door\x07"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "the name holds a control character");
    EXPECT_FALSE(rename("aux1.di3", std::string(65, 'x')).ok());
    const auto unknown = rename("aux9.di1", "Nowhere");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
    running = false;
    cycles.join();
    c.cycle();
    EXPECT_EQ(name_of(c, "aux1.di3"), "Battery room door");
  }
  {
    Controller c(plant, clock);
    ASSERT_TRUE(c.open().ok());
    EXPECT_EQ(name_of(c, "aux1.di3"), "Battery room door");
    ASSERT_TRUE(c.commands().submit({command::RenameChannel{"aux1.di3", ""}, kTestOrigin}).valid());
    c.cycle();
    EXPECT_EQ(name_of(c, "aux1.di3"), configured);
  }
  // Back to the configured name: nothing left in the file.
  const auto text = persist::readFile(persist::ioNamesPath(plant));
  ASSERT_TRUE(text.ok() && text->has_value());
  EXPECT_EQ(text->value().find("aux1.di3"), std::string::npos) << text->value();
  // A damaged file: the configured names, and the start goes on.
  ASSERT_TRUE(persist::writeFileDurably(persist::ioNamesPath(plant), "{\"names\": [").ok());
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  EXPECT_EQ(name_of(c, "aux1.di3"), configured);
}

}  // namespace
}  // namespace equalis::runtime
