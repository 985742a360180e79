// Per-sweep analysis: string summaries (Σ voltage, current, power, mode, target voltage,
// ripple, spread) and per-block derived values (estimated charge, equalization band, status).
#pragma once

#include <vector>

#include "analysis/mode.hpp"
#include "bus/bus.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "model/quality.hpp"

namespace equalis::analysis {

struct BlockDerived {
  // The string's counted charge taken out against the block's own capacity (setBlockCapacities;
  // the nominal one until known): a weak block shows its deeper discharge.
  double charge_pct = 100.0;
  double equalization_pct = 0.0;
  model::EqualizationLevel equalization_level = model::EqualizationLevel::kOff;
  model::BlockStatus status = model::BlockStatus::kUnknown;
};

struct StringSummary {
  double voltage_v = 0;  // Σ of block voltages that are ok
  model::Quality voltage_quality = model::Quality::kNotPresent;
  double current_a = 0;
  double power_kw = 0;
  double ac_current_a = 0;
  model::Quality current_quality = model::Quality::kNotPresent;
  TimeMs current_time_ms = 0;  // when the string current was measured
  model::StringModeValue mode = model::StringModeValue::kFloat;
  model::Quality mode_quality = model::Quality::kNotPresent;
  double target_voltage_v = 0;  // per block
  // String voltage against the charger's set-point (n × target) in %, while floating.
  double charger_deviation_pct = 0;
  model::Quality charger_deviation_quality = model::Quality::kNotPresent;
  double charge_avg_pct = 0;
  double block_voltage_min_v = 0;
  double block_voltage_max_v = 0;
  double block_voltage_spread_v = 0;  // max |V_i − mean|
  double temperature_max_c = 0;
  int blocks_ok = 0;
  std::vector<BlockDerived> blocks;
};

// One-shot classification of a string's operating mode from its current and voltage (the
// charger's float current is a few tens of mA per 100 Ah; anything clearly above is recharge,
// below is discharge). The Analyzer uses ModeTracker (mode.hpp), which adds the charger's state,
// hysteresis and dwell times; this is for tools and tests that see single samples.
model::StringModeValue classifyMode(double current_a, double capacity_ah,
                                    double voltage_per_block_v, double float_per_block_v);

// Target (per block) = charger float voltage per block with temperature compensation.
double targetVoltagePerBlockV(const model::StringConfig& cfg, double temperature_c);

class Analyzer {
 public:
  explicit Analyzer(const model::PlantConfig& plant);
  // Updates the estimates with a new sweep; returns one summary per string.
  const std::vector<StringSummary>& update(const bus::Sweep& sweep);
  const std::vector<StringSummary>& summaries() const { return summaries_; }
  bool anyDischarging() const;
  // The blocks' capacities (Ah; NaN or ≤ 0: unknown, the nominal capacity is used) for their
  // state of charge: the string's counted charge taken out, against each block's own capacity.
  void setBlockCapacities(std::size_t string_index, const std::vector<double>& capacity_ah);

 private:
  const model::PlantConfig& plant_;
  std::vector<StringSummary> summaries_;
  std::vector<double> soc_;  // coulomb-counted state of charge per string, 0 … 1
  std::vector<std::vector<double>> block_capacity_ah_;  // per string and block (NaN: nominal)
  TimeMs last_time_ms_ = 0;
  std::vector<TimeMs> float_since_ms_;
  std::vector<ModeTracker> modes_;
};

}  // namespace equalis::analysis
