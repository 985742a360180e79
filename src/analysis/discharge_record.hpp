// The report of every discharge of a string, recorded live by the controller from each sweep
// (docs/analysis.md, "Discharge reports"; served at /api/v1/strings/{n}/discharges/{id}/report):
// duration, charge and energy taken out, the string's and each block's lowest voltage, the order
// in which the blocks reached each voltage level, temperatures, early collapsers (the ranking of
// discharge_report.hpp at the lowest string voltage), the predicted against the actual runtime,
// and each block's capacity after the discharge.
//
// Constant memory per discharge: per block a handful of numbers, one crossing per level, and a
// runtime trace of at most kTracePoints points (every second point is dropped when it fills).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {

struct LevelCrossing {
  int block = 0;  // 1-based
  TimeMs time_ms = 0;
  double ah_out = 0.0;  // the string's charge out by then
};

struct DischargeBlockRecord {
  double start_voltage_v = 0.0;  // NaN: no reading at the start
  double min_voltage_v = 0.0;    // NaN: none during the discharge
  TimeMs min_voltage_ms = 0;
  double end_voltage_v = 0.0;  // at the lowest string voltage (the end-of-discharge ranking)
  double start_temperature_c = 0.0;
  double max_temperature_c = 0.0;
  double charge_start_pct = 0.0;  // the block's state of charge at the start and the end
  double charge_end_pct = 0.0;
  // The block's capacity after the discharge (NaN: not estimated): against the string's mean,
  // and in % of nominal once a capacity test has anchored the level.
  double capacity_relative_pct = 0.0;
  double capacity_relative_sigma_pct = 0.0;
  double capacity_pct = 0.0;
};

struct RuntimePoint {
  TimeMs time_ms = 0;
  double ah_out = 0.0;
  double remaining_s = 0.0;  // predicted runtime left at that moment
  int weakest = 0;           // 1-based block predicted to reach the end voltage first
};

struct DischargeRecord {
  TimeMs start_ms = 0;
  TimeMs last_ms = 0;  // the last sweep in discharge
  bool running = true;
  double ah_out = 0.0;
  double wh_out = 0.0;
  double max_current_a = 0.0;  // the highest discharge current (A, > 0)
  double start_voltage_v = 0.0;
  double min_voltage_v = 0.0;  // the string's lowest voltage (NaN: none)
  TimeMs min_voltage_ms = 0;
  double end_v_per_cell = 0.0;  // the chemistry's end-of-discharge voltage
  int cells_per_block = 0;
  // Voltage levels per cell, highest first; crossings[l]: the blocks that fell to or below
  // levels_v_per_cell[l], in the order they got there.
  std::vector<double> levels_v_per_cell;
  std::vector<std::vector<LevelCrossing>> crossings;
  std::vector<DischargeBlockRecord> blocks;
  std::vector<RuntimePoint> runtime_trace;
  // The first block at the end voltage (the last level): the actual runtime.
  std::optional<LevelCrossing> first_at_end;

  double durationS() const { return static_cast<double>(last_ms - start_ms) / 1000.0; }
  double meanCurrentA() const;
  // The prediction made when half of the actual runtime had passed, as a total runtime from the
  // start (the runtime trace's point nearest to it); none without a block at the end voltage.
  std::optional<double> predictedAtHalfS() const;
  double actualRuntimeS() const;  // first_at_end − start (requires first_at_end)
  // The runtime left when the discharge ended (the trace's last point); none without a trace.
  std::optional<double> remainingAtEndS() const;
};

// One block's reading for the recorder.
struct DischargeSweepBlock {
  double voltage_v = 0.0;      // NaN: no reading
  double temperature_c = 0.0;  // NaN: no reading
  double charge_pct = 0.0;     // NaN: unknown
};

class DischargeRecorder {
 public:
  static constexpr std::size_t kTracePoints = 256;

  DischargeRecorder(model::Chemistry chemistry, std::size_t blocks);

  // One sweep. Returns the finished record when a discharge has just ended.
  std::optional<DischargeRecord> update(TimeMs t_ms, bool discharging, double current_a,
                                        double string_voltage_v,
                                        std::span<const DischargeSweepBlock> blocks,
                                        std::optional<RuntimePoint> runtime);
  // The discharge in progress (running = true), or none.
  const std::optional<DischargeRecord>& current() const { return current_; }

 private:
  void addTrace(const RuntimePoint& p);

  model::Chemistry chemistry_;
  std::size_t n_blocks_;
  std::optional<DischargeRecord> current_;
  TimeMs last_ms_ = 0;
  double last_current_a_ = 0.0;
  double last_voltage_v_ = 0.0;
  std::size_t trace_stride_ = 1;  // keep every trace_stride_-th sweep
  std::size_t trace_count_ = 0;
  std::vector<std::size_t> levels_reached_;  // per block, of the current discharge
};

// The record as JSON (its stored and served form) and back; the parse checks every field and
// names the first wrong one.
std::string recordToJson(const DischargeRecord& r);
Result<DischargeRecord> recordFromJson(std::string_view text);

// The records of a string, newest last, at most kMaxRecords (the oldest are dropped): the
// content of its discharges-string-N.json.
inline constexpr std::size_t kMaxDischargeRecords = 50;
std::string recordsToJson(std::span<const DischargeRecord> records);
Result<std::vector<DischargeRecord>> recordsFromJson(std::string_view text);

}  // namespace equalis::analysis
