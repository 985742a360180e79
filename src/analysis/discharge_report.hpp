// Recorded discharges of a string, from its history series (docs/api.md, "Recorded
// discharges"). Pure functions on series, no store: the REST server reads the series and passes
// them here.
//
//  * A discharge is a run of snapshots whose string mode is `discharge` (analysis/mode.hpp):
//    it starts at the first of them and ends at the first snapshot recorded in another mode —
//    or is still running when the series ends in discharge.
//  * Its charge taken out is ∫ max(0, −I) dt over [start, end] (trapezoids between snapshots),
//    its minimum voltage the lowest string voltage in [start, end].
//  * End of discharge: the blocks' voltages at the snapshot where the string voltage was lowest,
//    ranked, each with its deviation from the median, and flagged `early_collapse` when it lies
//    more than max(0.3 V · nominal / 12 V, 4 · MAD) below the median (MAD: the median absolute
//    deviation of the blocks from their median).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/clock.hpp"

namespace equalis::analysis {

// One point of a series; value NaN = no value.
struct TimedValue {
  TimeMs time_ms = 0;
  double value = 0.0;
};

struct DischargeSpan {
  TimeMs start_ms = 0;           // first snapshot in discharge
  TimeMs last_ms = 0;            // last snapshot in discharge
  std::optional<TimeMs> end_ms;  // first snapshot after it in another mode; none: still running
  // The end of the span's data: end_ms, or last_ms while running.
  TimeMs untilMs() const { return end_ms.value_or(last_ms); }
};

// The runs of discharge in a mode series (ascending time; value: model::StringModeValue as a
// number, NaN = unknown, which is not discharge), oldest first.
std::vector<DischargeSpan> findDischarges(const std::vector<TimedValue>& mode);

struct DischargeSummary {
  double duration_s = 0.0;     // (end or last snapshot) − start
  double ah_out = 0.0;         // ∫ max(0, −current) dt, Ah
  double min_voltage_v = 0.0;  // NaN: no string voltage recorded in the span
  TimeMs min_voltage_ms = 0;   // when it was lowest (0: none)
};

// Summary of one discharge from the string's voltage and current series (ascending; points
// outside the span are ignored).
DischargeSummary summarizeDischarge(const DischargeSpan& span,
                                    const std::vector<TimedValue>& voltage_v,
                                    const std::vector<TimedValue>& current_a);

// The early-collapse margin below the median for a block of this nominal voltage:
// 0.3 V per 12 V of nominal (0.05 V per lead-acid cell: 0.3 V for a 12 V block, 0.05 V for a 2 V
// cell), or 4 · MAD when the blocks scatter more than that.
double collapseMarginV(double nominal_block_v, double mad_v);
inline constexpr double kCollapseFloorPer12V = 0.3;
inline constexpr double kCollapseMadFactor = 4.0;

struct EndOfDischargeBlock {
  int block = 0;             // 1-based
  double voltage_v = 0.0;    // NaN: no value at that snapshot
  double deviation_v = 0.0;  // voltage − median (NaN without value)
  bool early_collapse = false;
};

struct EndOfDischarge {
  double median_v = 0.0;  // NaN when no block has a value
  double mad_v = 0.0;
  double margin_v = 0.0;     // collapseMarginV(nominal, mad)
  double threshold_v = 0.0;  // median − margin: below it = early collapse
  // Ascending voltage; blocks without value last (in block order).
  std::vector<EndOfDischargeBlock> blocks;
};

// Ranks the blocks' voltages at one instant. blocks[i] is the 1-based number of voltage_v[i].
EndOfDischarge rankEndOfDischarge(const std::vector<int>& blocks,
                                  const std::vector<double>& voltage_v, double nominal_block_v);

// The index into times_ms at which to measure the end of discharge: the snapshot with the
// lowest string voltage in [start, end]; without string voltages, the one with the lowest mean
// block voltage. block_voltage_v[b][i] is block b's voltage at times_ms[i] (NaN: none). None when
// the span holds no snapshot with a block value.
std::optional<std::size_t> endOfDischargeIndex(
    const DischargeSpan& span, const std::vector<TimedValue>& string_voltage_v,
    const std::vector<TimeMs>& times_ms, const std::vector<std::vector<double>>& block_voltage_v);

}  // namespace equalis::analysis
