// The REST history documents on a small store written here: a string's block pattern and its
// recorded discharges (a synthetic 20-minute discharge with one collapsing block).
#include "adapters/rest/history_view.hpp"

#include <cmath>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "functional/temp_dir.hpp"
#include "model/points.hpp"

namespace equalis::rest {
namespace {

const std::vector<analysis::DischargeRecord> kNoReports;

using nlohmann::json;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int kBlocks = 8;
constexpr int kCollapsing = 6;  // 1-based
constexpr TimeMs kStep = 10 * kSecondMs;
// The discharge: snapshots 60 … 179 (20 min) in discharge; 180 onwards charge.
constexpr int kFirst = 60;
constexpr int kAfter = 180;
constexpr int kSnapshots = 600;

model::PlantConfig plant() {
  auto p = model::demoPlant();
  p.strings.resize(1);
  p.strings[0].block_count = kBlocks;
  return p;
}

// One string of kBlocks 12 V blocks: float, a 20-minute discharge at 40 A during which block 6
// falls away at the end, then charge.
std::unique_ptr<history::Store> writeStore(const std::string& path) {
  auto opened = history::Store::open(path, 64ull << 20, {history::Durability::kNormal});
  EXPECT_TRUE(opened.ok());
  auto store = std::move(opened).value();
  for (int i = 0; i < kSnapshots; ++i) {
    const bool dis = i >= kFirst && i < kAfter;
    const double progress = dis ? static_cast<double>(i - kFirst) / (kAfter - kFirst) : 0.0;
    history::Snapshot s;
    s.time_ms = kT0 + i * kStep;
    s.reason = dis ? "discharge" : "float";
    double sum = 0.0;
    for (int b = 0; b < kBlocks; ++b) {
      double v = dis ? 12.6 - 1.4 * progress + 0.01 * b : 13.62 + 0.005 * b;
      if (dis && b + 1 == kCollapsing) {
        v -= 1.2 * progress * progress;  // down to ~10.0 V at the end
      }
      history::BlockRecord r;
      r.string_index = 0;
      r.block_index = b;
      r.voltage_v = v;
      r.temperature_c = 24.0;
      r.ri_mohm = 4.0;
      r.charge_pct = dis ? 100.0 - 40.0 * progress : 100.0;
      s.blocks.push_back(r);
      sum += v;
    }
    history::StringRecord sr;
    sr.string_index = 0;
    sr.voltage_v = sum;
    sr.current_a = dis ? -40.0 : (i >= kAfter ? 8.0 : 0.3);
    sr.mode = static_cast<int>(
        dis ? model::StringModeValue::kDischarge
            : (i >= kAfter ? model::StringModeValue::kCharge : model::StringModeValue::kFloat));
    s.strings.push_back(sr);
    EXPECT_TRUE(store->append(s).ok());
  }
  return store;
}

class HistoryView : public ::testing::Test {
 protected:
  void SetUp() override { store_ = writeStore(dir_.str() + "/h.db"); }
  test::TempDir dir_;
  std::unique_ptr<history::Store> store_;
  model::PlantConfig plant_ = plant();
  TimeMs now_ = kT0 + kSnapshots * kStep;
};

TEST_F(HistoryView, BlockPatternSharesOneAxisAndDownsamples) {
  const auto& def = model::point(model::PointId::kBlockVoltageV);
  auto doc = blockPatternDocument(*store_, 0, history::BlockQuantity::kVoltageV, def, kT0, now_,
                                  10000, std::nullopt);
  ASSERT_TRUE(doc.ok());
  const auto j = json::parse(*doc);
  EXPECT_EQ(j["string"], 1);
  EXPECT_EQ(j["quantity"], "voltage_v");
  EXPECT_EQ(j["unit"], "V");
  EXPECT_EQ(j["times_ms"].size(), static_cast<std::size_t>(kSnapshots));
  EXPECT_EQ(j["downsampled"], false);
  EXPECT_EQ(j["source_count"], kSnapshots);
  ASSERT_EQ(j["blocks"].size(), static_cast<std::size_t>(kBlocks));
  for (int b = 0; b < kBlocks; ++b) {
    EXPECT_EQ(j["blocks"][b]["block"], b + 1);
    EXPECT_EQ(j["blocks"][b]["values"].size(), static_cast<std::size_t>(kSnapshots));
  }
  // limit without max_points: the oldest snapshots of the range.
  auto limited = json::parse(blockPatternDocument(*store_, 0, history::BlockQuantity::kVoltageV,
                                                  def, kT0, now_, 100, std::nullopt)
                                 .value());
  EXPECT_EQ(limited["times_ms"].size(), 100u);
  EXPECT_EQ(limited["times_ms"].back(), kT0 + 99 * kStep);

  auto thin = json::parse(blockPatternDocument(*store_, 0, history::BlockQuantity::kVoltageV, def,
                                               kT0, now_, 10000, std::size_t{50})
                              .value());
  EXPECT_EQ(thin["downsampled"], true);
  EXPECT_EQ(thin["source_count"], kSnapshots);
  ASSERT_LE(thin["times_ms"].size(), 50u);
  // The collapsed block's lowest value (the last discharge snapshot) is kept.
  bool found = false;
  for (std::size_t i = 0; i < thin["times_ms"].size(); ++i) {
    if (thin["times_ms"][i] == kT0 + (kAfter - 1) * kStep) {
      found = true;
      EXPECT_LT(thin["blocks"][kCollapsing - 1]["values"][i].get<double>(), 10.3);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HistoryView, ListsTheDischargeWithItsSummary) {
  auto doc = dischargeListDocument(*store_, plant_, 0, kT0, now_, now_, kNoReports);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  const auto j = json::parse(*doc);
  ASSERT_EQ(j["discharges"].size(), 1u);
  const auto& d = j["discharges"][0];
  EXPECT_EQ(d["id"], kT0 + kFirst * kStep);
  EXPECT_EQ(d["start_ms"], kT0 + kFirst * kStep);
  EXPECT_EQ(d["start"], "2026-01-01T00:10:00.000Z");
  EXPECT_EQ(d["end_ms"], kT0 + kAfter * kStep);
  EXPECT_DOUBLE_EQ(d["duration_s"].get<double>(), 1200.0);
  // 119 intervals of 10 s at 40 A, then half of one (−40 A → +8 A counts 0 A at its end).
  EXPECT_NEAR(d["ah_out"].get<double>(), 40.0 * (119 * 10 + 5) / 3600.0, 0.001);
  EXPECT_LT(d["min_voltage_v"].get<double>(), 8 * 11.3);
  EXPECT_EQ(d["block_count"], kBlocks);

  // A range that only touches the middle of the discharge still finds its true start and end.
  const TimeMs mid = kT0 + 100 * kStep;
  const auto inner =
      json::parse(dischargeListDocument(*store_, plant_, 0, mid, mid, now_, kNoReports).value());
  ASSERT_EQ(inner["discharges"].size(), 1u);
  EXPECT_EQ(inner["discharges"][0]["id"], kT0 + kFirst * kStep);
  EXPECT_EQ(inner["discharges"][0]["end_ms"], kT0 + kAfter * kStep);
  // A range between two snapshots of the discharge holds none of them, yet overlaps it.
  const auto between = json::parse(
      dischargeListDocument(*store_, plant_, 0, mid + 5000, mid + 6000, now_, kNoReports).value());
  ASSERT_EQ(between["discharges"].size(), 1u);
  EXPECT_EQ(between["discharges"][0]["id"], kT0 + kFirst * kStep);
  // Before or after it: none.
  EXPECT_TRUE(
      json::parse(dischargeListDocument(*store_, plant_, 0, kT0, kT0 + 50 * kStep, now_, kNoReports)
                      .value())["discharges"]
          .empty());
}

TEST_F(HistoryView, StillRunningWhenTheRecordEndsInDischarge) {
  const TimeMs t = kT0 + 120 * kStep;  // "now" in the middle of the discharge
  auto spans = recordedDischarges(*store_, 0, kT0, t, t);
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 1u);
  EXPECT_FALSE((*spans)[0].end_ms.has_value());
  const auto j =
      json::parse(dischargeListDocument(*store_, plant_, 0, kT0, t, t, kNoReports).value());
  EXPECT_TRUE(j["discharges"][0]["end"].is_null());
  EXPECT_TRUE(j["discharges"][0]["end_ms"].is_null());
  EXPECT_DOUBLE_EQ(j["discharges"][0]["duration_s"].get<double>(), 600.0);
}

TEST_F(HistoryView, DetailHasSeriesEveryBlockAndTheEndOfDischarge) {
  const TimeMs id = kT0 + kFirst * kStep;
  auto doc = dischargeDetailDocument(*store_, plant_, 0, id, now_, 2000, kNoReports);
  ASSERT_TRUE(doc.ok());
  ASSERT_TRUE(doc->has_value());
  const auto j = json::parse(**doc);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["from_ms"], id - 10 * kMinuteMs);
  EXPECT_EQ(j["to_ms"], kT0 + kAfter * kStep + kHourMs);
  const auto& ss = j["string_series"];
  // 10 min before (from snapshot 0) … 1 h after the end (snapshot 180 + 360): every snapshot.
  constexpr int kWindow = kAfter + 360 + 1;
  EXPECT_EQ(ss["times_ms"].size(), static_cast<std::size_t>(kWindow));
  EXPECT_EQ(ss["times_ms"].front(), kT0);
  EXPECT_EQ(ss["times_ms"].back(), kT0 + (kWindow - 1) * kStep);
  EXPECT_EQ(ss["voltage_v"].size(), ss["times_ms"].size());
  EXPECT_EQ(ss["current_a"].size(), ss["times_ms"].size());
  EXPECT_EQ(ss["downsampled"], false);
  const auto& bv = j["blocks"];
  ASSERT_EQ(bv["blocks"].size(), static_cast<std::size_t>(kBlocks));
  for (int b = 0; b < kBlocks; ++b) {
    EXPECT_EQ(bv["blocks"][b]["block"], b + 1);
    EXPECT_EQ(bv["blocks"][b]["values"].size(), bv["times_ms"].size());
  }
  // Lowest string voltage: the last discharge snapshot.
  EXPECT_EQ(j["end_of_discharge_at"]["time_ms"], kT0 + (kAfter - 1) * kStep);
  EXPECT_DOUBLE_EQ(j["end_of_discharge_at"]["margin_v"].get<double>(), 0.3);
  const auto& eod = j["end_of_discharge"];
  ASSERT_EQ(eod.size(), static_cast<std::size_t>(kBlocks));
  EXPECT_EQ(eod[0]["block"], kCollapsing);
  EXPECT_EQ(eod[0]["early_collapse"], true);
  for (std::size_t i = 1; i < eod.size(); ++i) {
    EXPECT_EQ(eod[i]["early_collapse"], false) << eod[i].dump();
    EXPECT_LE(eod[i - 1]["voltage_v"].get<double>(), eod[i]["voltage_v"].get<double>());
  }

  // max_points thins both, keeping the lowest string voltage.
  const auto thin =
      json::parse(dischargeDetailDocument(*store_, plant_, 0, id, now_, 40, kNoReports)->value());
  EXPECT_LE(thin["string_series"]["times_ms"].size(), 40u);
  EXPECT_EQ(thin["string_series"]["downsampled"], true);
  EXPECT_EQ(thin["string_series"]["source_count"], kAfter + 360 + 1);
  EXPECT_LE(thin["blocks"]["times_ms"].size(), 40u);
  EXPECT_EQ(thin["end_of_discharge"][0]["block"], kCollapsing);  // measured before thinning
  bool lowest_kept = false;
  for (const auto& t : thin["string_series"]["times_ms"]) {
    lowest_kept = lowest_kept || t == kT0 + (kAfter - 1) * kStep;
  }
  EXPECT_TRUE(lowest_kept);

  // Not the start of a discharge: none.
  auto other = dischargeDetailDocument(*store_, plant_, 0, id + kStep, now_, 2000, kNoReports);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

}  // namespace
}  // namespace equalis::rest
