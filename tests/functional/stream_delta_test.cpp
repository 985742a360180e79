// Live updates as changes: on the demo plant as `make run` starts it (mains outages, an old and a
// new string), at every state version the delta document applied to the state a viewer holds
// gives exactly the full status document of that version — applied as the web page applies it
// (web/src/lib/live.js applyDelta and refreshDerived, ported here).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/rest/json_view.hpp"
#include "core/clock.hpp"
#include "functional/temp_dir.hpp"
#include "runtime/controller.hpp"
#include "sim/scenario.hpp"

namespace equalis::runtime {
namespace {

using json = nlohmann::ordered_json;
using test::TempDir;

const std::vector<std::string> kQualityOrder = {"ok", "stale", "comm_lost", "invalid",
                                                "not_present"};

bool isValueObject(const json& v) {
  return v.is_object() && v.contains("quality") && v.contains("time");
}

TimeMs parseTime(const json& iso) {
  TimeMs t_ms = 0;
  EXPECT_TRUE(equalis::parseTime(iso.get<std::string>(), t_ms)) << iso;
  return t_ms;
}

void setAge(json& vo, TimeMs now_ms) {
  if (isValueObject(vo)) {
    vo["age_s"] = vo["time"].is_null()
                      ? json(nullptr)
                      : json(static_cast<double>(now_ms - parseTime(vo["time"])) / 1000.0);
  }
}

// web/src/lib/live.js refreshDerived().
void refreshDerived(json& doc) {
  const TimeMs now = doc["time_ms"].get<TimeMs>();
  for (auto& [k, v] : doc["system"].items()) {
    setAge(v, now);
  }
  for (auto& st : doc["strings"]) {
    for (auto& [k, v] : st.items()) {
      setAge(v, now);
    }
    for (auto& b : st["blocks"]) {
      std::size_t worst = 0;
      TimeMs newest = 0;
      for (auto& [k, v] : b.items()) {
        setAge(v, now);
      }
      for (const char* f : {"voltage_v", "temperature_c", "ri_mohm"}) {
        const auto& vo = b[f];
        const auto q =
            std::find(kQualityOrder.begin(), kQualityOrder.end(), vo["quality"].get<std::string>());
        worst = std::max(worst, static_cast<std::size_t>(q - kQualityOrder.begin()));
        if (!vo["time"].is_null()) {
          newest = std::max(newest, parseTime(vo["time"]));
        }
      }
      b["quality"] = kQualityOrder[worst];
      b["age_s"] = newest > 0 ? json(static_cast<double>(now - newest) / 1000.0) : json(nullptr);
    }
  }
}

// web/src/lib/live.js applyDelta().
void applyDelta(json& doc, const json& d) {
  doc["time"] = d["time"];
  doc["time_ms"] = d["time_ms"];
  for (const auto& [k, v] : d["system"].items()) {
    doc["system"][k] = v;
  }
  for (const auto& ds : d["strings"]) {
    auto& st = doc["strings"][ds["string"].get<std::size_t>() - 1];
    for (const auto& [k, v] : ds.items()) {
      if (k != "string" && k != "blocks" && k != "blocks_time") {
        st[k] = v;
      }
    }
    if (ds.contains("blocks_time")) {
      for (auto& b : st["blocks"]) {
        for (const auto& [f, t] : ds["blocks_time"].items()) {
          b[f]["time"] = t;
        }
      }
    }
    if (ds.contains("blocks")) {
      for (const auto& db : ds["blocks"]) {
        auto& b = st["blocks"][db["block"].get<std::size_t>() - 1];
        for (const auto& [k, v] : db.items()) {
          if (k != "block") {
            b[k].update(v);  // merged: the time stays unless given
          }
        }
      }
    }
  }
  refreshDerived(doc);
}

// Runs `c` for `duration_ms` of plant time in steps of 1 to 30 sweeps (a viewer sees every
// published state, not every sweep) and checks every delta; returns "N states, …" figures.
std::string checkDeltas(Controller& c, SimulatedClock& clock, DurationMs duration_ms,
                        std::uint64_t seed) {
  rest::ViewedPlant viewed;
  json held;
  std::size_t full_bytes = 0;
  std::size_t delta_bytes = 0;
  int versions = 0;
  const TimeMs end_ms = clock.nowMs() + duration_ms;
  while (clock.nowMs() < end_ms) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const int sweeps = 1 + static_cast<int>((seed >> 33U) % 30U);
    for (int i = 0; i < sweeps; ++i) {
      clock.advance(c.plant().bus.sweep_interval_ms);
      c.cycle();
    }
    const state::StateStore::Reader r(c.state(), clock.nowMs());
    const auto full = rest::statusDocument(c.plant(), r);
    auto now_viewed = rest::viewedPlant(c.plant(), r);
    if (versions > 0) {
      const auto delta = rest::deltaDocument(c.plant(), r, viewed, now_viewed,
                                             static_cast<std::uint64_t>(versions + 1));
      applyDelta(held, json::parse(delta));
      const json expected = json::parse(full);
      EXPECT_EQ(held, expected) << "state " << versions + 1 << "\ndelta: " << delta.substr(0, 3000);
      if (held != expected) {
        return "failed";
      }
      delta_bytes += delta.size();
      full_bytes += full.size();
    } else {
      held = json::parse(full);
    }
    viewed = std::move(now_viewed);
    ++versions;
  }
  EXPECT_GT(versions, 50);
  EXPECT_LT(delta_bytes, full_bytes);
  char text[160];
  std::snprintf(text, sizeof text, "%d states, full %zu bytes, deltas %zu bytes (%.1f %%)",
                versions, full_bytes, delta_bytes,
                100.0 * static_cast<double>(delta_bytes) / static_cast<double>(full_bytes));
  return text;
}

TEST(StreamDelta, AppliedDeltasGiveEveryFullStateOfTheDemoPlant) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();  // outages on, an old and a new string
  plant.data_dir = dir.str();
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  c.runUntil(clock, clock.nowMs() + 2 * kMinuteMs);
  std::printf("demo plant: %s\n", checkDeltas(c, clock, 12 * kHourMs, 1).c_str());
}

// Modules that stop answering and stuck sensors: blocks measured at other times than the rest
// of their string, stale and lost values.
TEST(StreamDelta, AppliedDeltasGiveEveryFullStateWithModuleFaults) {
  TempDir dir;
  SimulatedClock clock;
  auto plant = model::demoPlant();
  plant.data_dir = dir.str();
  Controller c(plant, clock);
  ASSERT_TRUE(c.open().ok());
  auto scenario =
      sim::loadScenarioFile(std::string(EQUALIS_SOURCE_DIR) + "/scenarios/sensor-faults.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  ASSERT_TRUE(c.setScenario(std::move(*scenario)).ok());
  std::printf("sensor faults: %s\n", checkDeltas(c, clock, 8 * kHourMs, 2).c_str());
}

}  // namespace
}  // namespace equalis::runtime
