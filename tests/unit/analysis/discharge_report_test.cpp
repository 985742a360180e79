#include "analysis/discharge_report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace equalis::analysis {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kFloat = 0;
constexpr double kCharge = 1;
constexpr double kDischarge = 2;

std::vector<TimedValue> series(const std::vector<double>& values, DurationMs step_ms = 10000) {
  std::vector<TimedValue> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.push_back(TimedValue{kT0 + static_cast<TimeMs>(i) * step_ms, values[i]});
  }
  return out;
}

TEST(DischargeReport, FindsRunsOfDischargeWithTheirEnds) {
  const auto mode = series({kFloat, kDischarge, kDischarge, kDischarge, kCharge, kCharge, kFloat,
                            kDischarge, kNaN, kDischarge, kDischarge});
  const auto spans = findDischarges(mode);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].start_ms, kT0 + 10000);
  EXPECT_EQ(spans[0].last_ms, kT0 + 30000);
  ASSERT_TRUE(spans[0].end_ms.has_value());
  EXPECT_EQ(*spans[0].end_ms, kT0 + 40000);  // the first snapshot in another mode
  EXPECT_EQ(spans[0].untilMs(), kT0 + 40000);
  // An unknown mode ends a run.
  EXPECT_EQ(spans[1].start_ms, kT0 + 70000);
  EXPECT_EQ(spans[1].end_ms, kT0 + 80000);
  // Still running at the end of the series.
  EXPECT_EQ(spans[2].start_ms, kT0 + 90000);
  EXPECT_EQ(spans[2].last_ms, kT0 + 100000);
  EXPECT_FALSE(spans[2].end_ms.has_value());
  EXPECT_EQ(spans[2].untilMs(), kT0 + 100000);

  EXPECT_TRUE(findDischarges({}).empty());
  EXPECT_TRUE(findDischarges(series({kFloat, kCharge, kFloat})).empty());
  ASSERT_EQ(findDischarges(series({kDischarge})).size(), 1u);
}

TEST(DischargeReport, SummaryIntegratesTheCurrentAndFindsTheMinimum) {
  // 30 min at −50 A (10-s snapshots), then back to +5 A: 25 Ah out.
  std::vector<double> mode;
  std::vector<double> current;
  std::vector<double> voltage;
  for (int i = 0; i <= 200; ++i) {
    const bool dis = i >= 10 && i < 190;  // 180 snapshots = 30 min
    mode.push_back(dis ? kDischarge : kFloat);
    current.push_back(dis ? -50.0 : 5.0);
    voltage.push_back(dis ? 430.0 - 0.1 * (i - 10) : 435.0);
  }
  voltage[100] = kNaN;  // a missing value is skipped
  current[101] = kNaN;  // bridged by its neighbours
  const auto spans = findDischarges(series(mode));
  ASSERT_EQ(spans.size(), 1u);
  const auto s = summarizeDischarge(spans[0], series(voltage), series(current));
  EXPECT_DOUBLE_EQ(s.duration_s, 1800.0);
  // From the first discharge snapshot (i = 10) to the first float one (i = 190): 179 intervals
  // at 50 A, the last trapezoid from −50 A to +5 A counts half of 50 A.
  EXPECT_NEAR(s.ah_out, 50.0 * (179 * 10.0 + 5.0) / 3600.0, 1e-9);
  EXPECT_NEAR(s.min_voltage_v, 430.0 - 0.1 * 179, 1e-9);
  EXPECT_EQ(s.min_voltage_ms, kT0 + 189 * 10000);

  // No voltage at all: NaN, not 0.
  const auto none = summarizeDischarge(spans[0], {}, {});
  EXPECT_TRUE(std::isnan(none.min_voltage_v));
  EXPECT_EQ(none.ah_out, 0.0);
}

TEST(DischargeReport, CollapseMarginScalesWithTheNominalVoltage) {
  EXPECT_DOUBLE_EQ(collapseMarginV(12.0, 0.0), 0.3);   // 12 V lead-acid block
  EXPECT_DOUBLE_EQ(collapseMarginV(2.0, 0.0), 0.05);   // 2 V cell: 0.05 V, not 0.3 V
  EXPECT_DOUBLE_EQ(collapseMarginV(6.0, 0.01), 0.15);  // 6 V block, tight scatter
  EXPECT_DOUBLE_EQ(collapseMarginV(12.0, 0.2), 0.8);   // scattered string: 4 · MAD
  EXPECT_DOUBLE_EQ(collapseMarginV(2.0, kNaN), 0.05);
}

TEST(DischargeReport, EndOfDischargeFlagsACollapsedBlockIn12VBlocks) {
  // 12 blocks near 11.0 V after a discharge, block 7 collapsed to 10.3 V, block 3 low but
  // within the scatter, block 9 without a value.
  std::vector<int> blocks;
  std::vector<double> v;
  const double values[] = {11.02, 10.98, 10.80, 11.01, 10.99, 11.03,
                           10.30, 11.00, kNaN,  10.97, 11.04, 11.02};
  for (int b = 0; b < 12; ++b) {
    blocks.push_back(b + 1);
    v.push_back(values[b]);
  }
  const auto r = rankEndOfDischarge(blocks, v, 12.0);
  EXPECT_NEAR(r.median_v, 11.00, 1e-9);
  EXPECT_NEAR(r.mad_v, 0.02, 1e-9);
  EXPECT_DOUBLE_EQ(r.margin_v, 0.3);
  EXPECT_NEAR(r.threshold_v, 10.70, 1e-9);
  ASSERT_EQ(r.blocks.size(), 12u);
  EXPECT_EQ(r.blocks[0].block, 7);
  EXPECT_TRUE(r.blocks[0].early_collapse);
  EXPECT_NEAR(r.blocks[0].deviation_v, 10.30 - 11.00, 1e-9);
  EXPECT_EQ(r.blocks[1].block, 3);
  EXPECT_FALSE(r.blocks[1].early_collapse);  // 0.20 V low: within the 0.3 V margin
  for (std::size_t i = 1; i + 1 < 11; ++i) {
    EXPECT_LE(r.blocks[i].voltage_v, r.blocks[i + 1].voltage_v);
  }
  // The block without value is last, unflagged.
  EXPECT_EQ(r.blocks.back().block, 9);
  EXPECT_TRUE(std::isnan(r.blocks.back().voltage_v));
  EXPECT_TRUE(std::isnan(r.blocks.back().deviation_v));
  EXPECT_FALSE(r.blocks.back().early_collapse);
  int flagged = 0;
  for (const auto& b : r.blocks) {
    flagged += b.early_collapse ? 1 : 0;
  }
  EXPECT_EQ(flagged, 1);
}

TEST(DischargeReport, EndOfDischargeScalesTo2VCells) {
  // 24 cells of 2 V near 1.85 V. A cell 0.12 V low is clearly collapsing for a 2 V cell
  // (0.3 V would never flag it: that would be a fixed 12 V margin).
  std::vector<int> blocks;
  std::vector<double> v;
  for (int b = 0; b < 24; ++b) {
    blocks.push_back(b + 1);
    v.push_back(1.85 + 0.003 * ((b % 5) - 2));
  }
  v[17] = 1.73;
  const auto r = rankEndOfDischarge(blocks, v, 2.0);
  EXPECT_DOUBLE_EQ(r.margin_v, 0.05);
  EXPECT_EQ(r.blocks[0].block, 18);
  EXPECT_TRUE(r.blocks[0].early_collapse);
  EXPECT_FALSE(r.blocks[1].early_collapse);
}

TEST(DischargeReport, WidelyScatteredStringFlagsOnlyOutliersOfItsScatter) {
  // An old string whose blocks spread ±0.4 V: the 4 · MAD margin takes over, so the spread
  // itself is not flagged, but a block far outside it is.
  std::vector<int> blocks;
  std::vector<double> v;
  for (int b = 0; b < 16; ++b) {
    blocks.push_back(b + 1);
    v.push_back(11.0 + 0.4 * ((b % 4) - 1.5) / 1.5);
  }
  auto r = rankEndOfDischarge(blocks, v, 12.0);
  EXPECT_GT(r.margin_v, 0.3);
  for (const auto& b : r.blocks) {
    EXPECT_FALSE(b.early_collapse) << b.block;
  }
  v[4] = 9.0;
  r = rankEndOfDischarge(blocks, v, 12.0);
  EXPECT_EQ(r.blocks[0].block, 5);
  EXPECT_TRUE(r.blocks[0].early_collapse);
  EXPECT_FALSE(r.blocks[1].early_collapse);
}

TEST(DischargeReport, FewBlocksOrNoneFlagNothing) {
  auto one = rankEndOfDischarge({1}, {10.0}, 12.0);
  ASSERT_EQ(one.blocks.size(), 1u);
  EXPECT_FALSE(one.blocks[0].early_collapse);
  auto two = rankEndOfDischarge({1, 2}, {11.0, 9.0}, 12.0);  // which one is wrong? neither flagged
  EXPECT_FALSE(two.blocks[0].early_collapse);
  EXPECT_FALSE(two.blocks[1].early_collapse);
  auto none = rankEndOfDischarge({1, 2}, {kNaN, kNaN}, 12.0);
  EXPECT_TRUE(std::isnan(none.median_v));
  EXPECT_FALSE(none.blocks[0].early_collapse);
  EXPECT_EQ(none.blocks[0].block, 1);
}

TEST(DischargeReport, EndOfDischargeIsWhereTheStringVoltageWasLowest) {
  const DischargeSpan span{kT0 + 20000, kT0 + 60000, kT0 + 70000};
  std::vector<TimeMs> times;
  for (int i = 0; i < 10; ++i) {
    times.push_back(kT0 + i * 10000);
  }
  std::vector<std::vector<double>> blocks(2, std::vector<double>(10, 12.0));
  // The string is lowest at i = 5 inside the span; lower still at i = 9, after it.
  const auto string_v = series({26, 26, 25, 24.5, 24.2, 23.9, 24.0, 25.0, 25.5, 20.0});
  auto at = endOfDischargeIndex(span, string_v, times, blocks);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, 5u);
  // Without string voltages: the lowest mean block voltage in the span.
  blocks[0][3] = 11.0;
  blocks[1][3] = 11.2;
  at = endOfDischargeIndex(span, {}, times, blocks);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, 3u);
  // A lowest string voltage whose snapshot has no block values is passed over: the next lowest.
  blocks[0][5] = kNaN;
  blocks[1][5] = kNaN;
  at = endOfDischargeIndex(span, string_v, times, blocks);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, 6u);
  EXPECT_FALSE(endOfDischargeIndex(span, string_v, {}, {}).has_value());
}

}  // namespace
}  // namespace equalis::analysis
