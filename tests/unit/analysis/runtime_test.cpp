#include "analysis/runtime.hpp"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "analysis/block_capacity.hpp"
#include "analysis/discharge_record.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {
namespace {

using model::Chemistry;

// The rate table reproduces the manufacturer's runtimes it was typed from (USF12-100A, 1.75
// V/cell).
TEST(CapacityAtRate, ReproducesTheTable) {
  EXPECT_NEAR(model::capacityAtRate(Chemistry::kVrla12V, 0.105) * 100.0 / 10.5, 10.0, 0.01);
  EXPECT_NEAR(model::capacityAtRate(Chemistry::kVrla12V, 0.68) * 100.0 / 68.0, 1.0, 0.001);
  // Between rows: between their fractions; beyond the ends: flat.
  const double mid = model::capacityAtRate(Chemistry::kVrla12V, 0.5);
  EXPECT_GT(mid, 0.68);
  EXPECT_LT(mid, 0.788);
  EXPECT_DOUBLE_EQ(model::capacityAtRate(Chemistry::kVrla12V, 10.0),
                   model::capacityAtRate(Chemistry::kVrla12V, 2.164));
  EXPECT_DOUBLE_EQ(model::capacityAtRate(Chemistry::kVrla12V, 0.001),
                   model::capacityAtRate(Chemistry::kVrla12V, 0.0558));
  // Higher rate, less charge, for every chemistry.
  for (const auto c :
       {Chemistry::kVrla12V, Chemistry::kVrla2V, Chemistry::kLiFePO4, Chemistry::kNiCd}) {
    EXPECT_GT(model::capacityAtRate(c, 0.1), model::capacityAtRate(c, 1.0));
  }
}

TEST(RuntimeAtLoad, TheWeakestBlockSetsIt) {
  std::vector<RuntimeBlock> blocks(4, RuntimeBlock{100.0, 1.0, 25.0});
  blocks[2].capacity_ah = 70.0;
  const auto rt = runtimeAtLoad(Chemistry::kVrla12V, 100.0, 10.0, blocks);
  ASSERT_TRUE(rt);
  EXPECT_EQ(rt->weakest, 2u);
  EXPECT_NEAR(rt->seconds,
              70.0 * model::capacityAtRate(Chemistry::kVrla12V, 10.0 / 70.0) / 10.0 * 3600.0, 1e-6);
  // Half discharged: half the charge less; cold: less again.
  blocks[2].charge_fraction = 0.5;
  EXPECT_LT(runtimeAtLoad(Chemistry::kVrla12V, 100.0, 10.0, blocks)->seconds, rt->seconds - 3500);
  blocks[2].charge_fraction = 1.0;
  for (auto& b : blocks) {
    b.temperature_c = 0.0;
  }
  EXPECT_NEAR(runtimeAtLoad(Chemistry::kVrla12V, 100.0, 10.0, blocks)->seconds / rt->seconds, 0.86,
              1e-9);
  // No load, no state: no runtime.
  EXPECT_FALSE(runtimeAtLoad(Chemistry::kVrla12V, 100.0, 0.0, blocks));
  for (auto& b : blocks) {
    b.charge_fraction = std::nan("");
  }
  EXPECT_FALSE(runtimeAtLoad(Chemistry::kVrla12V, 100.0, 10.0, blocks));
}

TEST(RuntimePredictor, CountsDownThenGivesTheAutonomyAtTheLastLoad) {
  RuntimePredictor p(Chemistry::kVrla12V, 100.0);
  std::vector<RuntimeBlock> blocks(3, RuntimeBlock{100.0, 1.0, 25.0});
  p.update(0, 0.05, false, blocks);
  EXPECT_FALSE(p.runtime());  // no load known yet
  double last = 1e12;
  TimeMs t = 0;
  for (int i = 0; i < 60; ++i) {
    t += 10'000;
    for (auto& b : blocks) {
      b.charge_fraction -= 20.0 * 10.0 / 3600.0 / 100.0;
    }
    p.update(t, -20.0, true, blocks);
    ASSERT_TRUE(p.runtime());
    EXPECT_TRUE(p.runtime()->on_battery);
    EXPECT_LT(p.runtime()->seconds, last);
    last = p.runtime()->seconds;
  }
  EXPECT_NEAR(p.runtime()->load_a, 20.0, 1e-9);
  // The mains return: the tail of small currents is not the load.
  for (int i = 0; i < 6; ++i) {
    t += 10'000;
    p.update(t, -0.1, true, blocks);
    EXPECT_NEAR(p.runtime()->load_a, 20.0, 1e-9);
  }
  p.update(t + 10'000, 5.0, false, blocks);
  ASSERT_TRUE(p.runtime());
  EXPECT_FALSE(p.runtime()->on_battery);
  EXPECT_NEAR(p.lastLoadA(), 20.0, 1e-9);
}

DischargeRecord recordOfADischarge() {
  DischargeRecorder rec(Chemistry::kVrla12V, 3);
  std::vector<DischargeSweepBlock> blocks(3, DischargeSweepBlock{13.5, 25.0, 100.0});
  TimeMs t = 1'000'000;
  EXPECT_FALSE(rec.update(t, false, 0.1, 40.5, blocks, std::nullopt));
  for (int i = 0; i < 1000; ++i) {
    t += 10'000;
    blocks[0].voltage_v -= 0.002;
    blocks[1].voltage_v -= 0.003;  // the weak one
    blocks[2].voltage_v -= 0.002;
    blocks[1].temperature_c += 0.001;
    const double v = blocks[0].voltage_v + blocks[1].voltage_v + blocks[2].voltage_v;
    EXPECT_FALSE(rec.update(t, true, -10.0, v, blocks, RuntimePoint{t, 0.0, 10000.0 - 8.0 * i, 2}));
  }
  auto done = rec.update(t + 10'000, false, 2.0, 41.0, blocks, std::nullopt);
  EXPECT_TRUE(done);
  return done.value_or(DischargeRecord{});
}

TEST(DischargeRecorder, RecordsTheOrderOfTheBlocksAndTheRuntime) {
  const auto r = recordOfADischarge();
  EXPECT_FALSE(r.running);
  EXPECT_NEAR(r.ah_out, 10.0 * 999 * 10.0 / 3600.0, 1e-6);  // from the first sweep in discharge
  EXPECT_GT(r.wh_out, 30.0 * r.ah_out);
  // 12 V block: levels 11.7 … 10.5 V; block 2 falls fastest and gets to each first.
  ASSERT_EQ(r.levels_v_per_cell.size(), 5u);
  EXPECT_DOUBLE_EQ(r.levels_v_per_cell.front(), 1.95);
  EXPECT_DOUBLE_EQ(r.levels_v_per_cell.back(), 1.75);
  ASSERT_FALSE(r.crossings[0].empty());
  EXPECT_EQ(r.crossings[0].front().block, 2);
  ASSERT_TRUE(r.first_at_end);
  EXPECT_EQ(r.first_at_end->block, 2);
  // 13.5 − 0.003·k ≤ 10.5 at k = 1000: the last sweep.
  EXPECT_NEAR(r.actualRuntimeS(), 10000.0, 10.0);
  EXPECT_NEAR(r.blocks[1].min_voltage_v, 10.5, 1e-6);
  EXPECT_NEAR(r.blocks[1].max_temperature_c, 26.0, 1e-6);
  // The trace is thinned to its bound and keeps its ends.
  EXPECT_LE(r.runtime_trace.size(), DischargeRecorder::kTracePoints);
  EXPECT_GT(r.runtime_trace.size(), DischargeRecorder::kTracePoints / 4);
  EXPECT_EQ(r.runtime_trace.front().time_ms, r.start_ms);
  EXPECT_EQ(r.runtime_trace.back().time_ms, r.last_ms);
  // Predicted at half time: elapsed + what was predicted then (10000 − 8·500 s).
  ASSERT_TRUE(r.predictedAtHalfS());
  EXPECT_NEAR(*r.predictedAtHalfS(), 5000.0 + 6000.0, 200.0);
}

TEST(DischargeRecords, RoundTripAndNameWhatIsWrong) {
  const auto r = recordOfADischarge();
  const std::vector<DischargeRecord> list{r, r};
  const auto text = recordsToJson(list);
  const auto back = recordsFromJson(text);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(recordsToJson(*back), text);
  EXPECT_EQ((*back)[1].first_at_end->block, 2);

  EXPECT_FALSE(recordsFromJson("{"));
  EXPECT_NE(
      recordsFromJson(R"({"format":"x","version":1,"records":[]})").error().message.find("format"),
      std::string::npos);
  auto broken = text;
  broken.replace(broken.find("\"ah_out\""), 8, "\"ah_cut\"");
  const auto bad = recordsFromJson(broken);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ah_out"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("record 1"), std::string::npos) << bad.error().message;
  // A crossing naming a block the string does not have.
  auto alien = text;
  const auto at = alien.find("[[2,");
  ASSERT_NE(at, std::string::npos);
  alien.replace(at, 4, "[[9,");
  EXPECT_FALSE(recordsFromJson(alien));
  // At most kMaxDischargeRecords are written: the newest.
  const std::vector<DischargeRecord> many(kMaxDischargeRecords + 3, r);
  EXPECT_EQ(recordsFromJson(recordsToJson(many))->size(), kMaxDischargeRecords);
}

// Two blocks of 100 Ah nominal, the second at 0.7 of the string's mean (as a capacity file holds
// them: relative = 1 / (1 + wx / w)).
StringCapacityEstimator twoBlocks() {
  const double x = 1.0 / 0.7 - 1.0;
  const std::string text =
      R"({"format":"equalis-block-capacity","version":1,"nominal_ah":100.0,"events":1,)"
      R"("last_event_ms":0,"blocks":[{"w":10000.0,"wx":0.0,"events":1,"last_event_ms":0},)"
      R"({"w":10000.0,"wx":)" +
      std::to_string(1e4 * x) + R"(,"events":1,"last_event_ms":0}]})";
  auto est = StringCapacityEstimator::deserialize(text, 2, 100.0);
  EXPECT_TRUE(est) << est.error().message;
  return std::move(est.value());
}

// A discharge at 30 A in which block 2 reached the end voltage after what a 63 Ah block delivers
// at that rate: the string's level is 63 / 0.7 = 90 Ah.
TEST(LevelFromDischarge, MeasuresTheLevelFromTheBlocksAtTheEndVoltage) {
  auto est = twoBlocks();
  ASSERT_NEAR(est.blocks()[1].relative, 0.7, 1e-6);
  const double delivered_ah = 63.0 * model::capacityAtRate(Chemistry::kVrla12V, 30.0 / 63.0);
  DischargeRecord r;
  r.start_ms = 0;
  r.last_ms = static_cast<TimeMs>(delivered_ah / 30.0 * 3600.0 * 1000.0);
  r.ah_out = delivered_ah;
  r.levels_v_per_cell = {1.95, 1.75};
  r.crossings = {{{2, r.last_ms, delivered_ah}}, {{2, r.last_ms, delivered_ah}}};
  r.blocks.resize(2);
  for (auto& b : r.blocks) {
    b.charge_start_pct = 100.0;
    b.start_temperature_c = 25.0;
    b.max_temperature_c = 25.0;
  }
  const auto level = levelFromDischarge(r, est, Chemistry::kVrla12V, 100.0);
  ASSERT_TRUE(level);
  EXPECT_EQ(level->blocks, 1);
  EXPECT_NEAR(level->capacity_ah, 90.0, 0.01);
  EXPECT_GE(level->sigma_ah, kRateTableSigma * 90.0 - 1e-9);
  // A first level anchors; a second one a year later is fused with it, weighted by their σ.
  EXPECT_NEAR(fuseLevel(est, *level, r.last_ms).capacity_ah, 90.0, 0.01);
  EXPECT_TRUE(est.level().anchored);
  EXPECT_NEAR(est.blocks()[1].capacity_ah, 63.0, 0.01);
  const TimeMs year_ms = static_cast<TimeMs>(365.25 * 24.0) * kHourMs;
  const auto later = fuseLevel(est, DischargeLevel{80.0, level->sigma_ah, 1}, r.last_ms + year_ms);
  EXPECT_GT(later.capacity_ah, 80.0);
  EXPECT_LT(later.capacity_ah, 85.0);  // the older one has lost weight
  // Without a block at the end voltage, or too little charge out, nothing is measured.
  r.crossings.back().clear();
  EXPECT_FALSE(levelFromDischarge(r, est, Chemistry::kVrla12V, 100.0));
  r.crossings.back() = {{2, r.last_ms, delivered_ah}};
  r.ah_out = 5.0;
  EXPECT_FALSE(levelFromDischarge(r, est, Chemistry::kVrla12V, 100.0));
}

}  // namespace
}  // namespace equalis::analysis
