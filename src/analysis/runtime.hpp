// Runtime of a string on battery (docs/analysis.md, "Runtime"): during a discharge, the time
// until its weakest block reaches the end voltage at the present load; outside one, the autonomy
// at the load of the last discharge.
//
// Block b holds C_b · F(I / C_b) · K_T(T_b) to the end voltage at a constant current I, where
//   C_b   its 10-hour capacity at 25 °C (block_capacity.hpp; the nominal one until estimated),
//   F     the charge a block delivers to the end voltage at that rate, as a fraction of C10
//         (model::capacityAtRate: the manufacturer's constant-current table),
//   K_T   the capacity at its temperature (model::capacityTemperatureFactor).
// Of it, Q_b = (1 − charge_b) · C_b is already out (the block's state of charge, analysis.hpp).
// Its runtime is (C_b·F·K_T − Q_b) / I, floored at 0; the string's is the least of them. The rate
// is that of the block's own capacity: a weak block (less active mass) carries the string's
// current at a higher rate and delivers a smaller fraction of its C10.
// The string's level (C_b in Ah) is the nominal one until a capacity test has measured it
// (block_capacity.hpp): an aged string without a test is predicted too long by its capacity loss.
// The load I is the discharge current averaged over the last kLoadTauS (a step in the load moves
// the figure within a few minutes, not at each sweep), counting only sweeps that draw at least
// the current that starts a discharge (mode.hpp: the tail after the mains return is not the
// load); between discharges it is the mean of those sweeps' current in the last discharge.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "analysis/block_capacity.hpp"
#include "analysis/discharge_record.hpp"
#include "core/clock.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {

struct RuntimeBlock {
  double capacity_ah = 0.0;      // C10 at 25 °C; NaN or ≤ 0: the nominal capacity
  double charge_fraction = 1.0;  // state of charge 0 … 1; NaN: unknown (the block is skipped)
  double temperature_c = 25.0;   // NaN: 25 °C
};

struct Runtime {
  double seconds = 0.0;     // to the first block at the end voltage
  std::size_t weakest = 0;  // 0-based block that gets there first
  double load_a = 0.0;      // the discharge current it is computed for (> 0)
  bool on_battery = false;  // during a discharge (else: autonomy at the last discharge's load)
};

// The runtime at a load (A, > 0) from the blocks' state; none when no block has a state of
// charge or the load is not positive.
std::optional<Runtime> runtimeAtLoad(model::Chemistry chemistry, double nominal_ah, double load_a,
                                     std::span<const RuntimeBlock> blocks);

// The string's level (the capacity of its mean block, Ah at 25 °C) from a discharge in which blocks
// reached the end voltage: each such block delivered Q_b (the charge out by then, plus what was
// missing at the start) = C_b · F(I/C_b) · K_T(T_b) at the discharge's mean current, solved for
// C_b; the level is C_b over the block's capacity relative to its string, weighted by the relative
// estimates' variances. Its σ adds kRateTableSigma, the rate table's own uncertainty (the
// manufacturers' tables differ by ≈ 5 % at one rate). None without a block at the end voltage,
// without relative capacities, or for a discharge too short (< 10 % of the nominal capacity out).
inline constexpr double kRateTableSigma = 0.05;
inline constexpr double kLevelDriftPerYear = 0.05;  // an older level's added σ per year
struct DischargeLevel {
  double capacity_ah = 0.0;
  double sigma_ah = 0.0;
  int blocks = 0;  // blocks that reached the end voltage
};
std::optional<DischargeLevel> levelFromDischarge(const DischargeRecord& r,
                                                 const StringCapacityEstimator& est,
                                                 model::Chemistry chemistry, double nominal_ah);
// Anchors the estimate's level with `level`, fused with an earlier anchor by their variances (the
// earlier one's σ grows by kLevelDriftPerYear of its level per year of age: a string loses a few %
// of its capacity a year). Returns the level now in force.
StringCapacityLevel fuseLevel(StringCapacityEstimator& est, const DischargeLevel& level,
                              TimeMs t_ms);

class RuntimePredictor {
 public:
  static constexpr double kLoadTauS = 120.0;

  RuntimePredictor(model::Chemistry chemistry, double nominal_ah);

  // One sweep: the string current (A, + charge; NaN: none) and whether the string discharges.
  void update(TimeMs t_ms, double current_a, bool discharging,
              std::span<const RuntimeBlock> blocks);
  // After update(): the runtime now; none before a first discharge (no load known) or without
  // any block state.
  const std::optional<Runtime>& runtime() const { return runtime_; }
  // The load the autonomy is computed for between discharges (0: none seen yet).
  double lastLoadA() const { return last_load_a_; }
  void setLastLoadA(double load_a) { last_load_a_ = load_a > 0.0 ? load_a : 0.0; }

 private:
  model::Chemistry chemistry_;
  double nominal_ah_;
  bool in_discharge_ = false;
  TimeMs last_ms_ = 0;
  double load_a_ = 0.0;      // averaged discharge current in this discharge
  double sum_amp_ms_ = 0.0;  // ∫ I dt over this discharge (mean load)
  double sum_ms_ = 0.0;
  double last_load_a_ = 0.0;  // the mean load of the last discharge
  std::optional<Runtime> runtime_;
};

}  // namespace equalis::analysis
