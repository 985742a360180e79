// A capacity test recognised in a string's discharges (docs/analysis.md, "Capacity test";
// battery-science.md §3.5, IEEE 450): a discharge at a steady current near the 10-hour rate that
// runs until the string reaches its end voltage.
//
// Recognised, without anyone having to declare it, when all of these hold:
//   * the discharge lasted at least kMinDurationMs;
//   * its current was steady: standard deviation ≤ kMaxCurrentScatter of the mean;
//   * the mean current lies within ±kRateTolerance of C/10 (the rating's rate: no rate
//     correction is needed, its residue is in the uncertainty);
//   * the discharge ran to the end: when the current stopped, the mean block voltage was within
//     kEndMargin of the chemistry's end voltage per cell (1.75 V for lead-acid), or a block had
//     reached it (a weak block that collapses takes the string to its cut-off; past its end
//     voltage it may even leave its module's measuring range).
// Results (IEEE 450 time-adjusted: at the 10-hour rate the time ratio is the charge ratio, and
// K_T is the capacity's temperature factor at the blocks' mean temperature, model/chemistry.hpp):
//   * the string's capacity: the charge drawn until the end, C = Q_end / K_T — what the string
//     delivers, its weakest blocks included;
//   * each block that reached the end voltage on its own: its capacity Q_b / K_T, Q_b the charge
//     drawn until its voltage first fell to the end voltage. These are absolute capacities of
//     single blocks: the anchor that turns the blocks' relative capacities (block_capacity.hpp)
//     into ampere-hours.
// Uncertainty: the current sensor (1 %) and the rate tolerance (3 %).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "analysis/block_capacity.hpp"
#include "analysis/discharge_counter.hpp"
#include "core/clock.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {

struct CapacityTestResult {
  TimeMs start_ms = 0;
  TimeMs end_ms = 0;     // the last sweep with current flowing
  double ah_to_end = 0;  // charge drawn until then
  double mean_current_a = 0;
  double mean_temperature_c = 0;
  double capacity_ah = 0;  // the string's, at 25 °C
  double sigma_ah = 0;
  double capacity_pct = 0;  // of the nominal capacity
  // Per block: its capacity at 25 °C when it reached the end voltage on its own (none else).
  std::vector<std::optional<double>> block_capacity_ah;
  double relative_sigma = 0;  // of every figure above (sensor, rate)
};

class CapacityTestDetector {
 public:
  CapacityTestDetector(model::Chemistry chemistry, std::size_t blocks, double nominal_ah);

  // One sweep: time, string current (A, + charge; NaN: none), whether the string is in discharge,
  // the block voltages and temperatures (NaN: no valid reading). Returns the result when this
  // sweep ended a discharge that was a capacity test.
  std::optional<CapacityTestResult> update(TimeMs t_ms, double current_a, bool discharging,
                                           std::span<const double> block_v,
                                           std::span<const double> block_t);

  static constexpr DurationMs kMinDurationMs = 2 * kHourMs;
  static constexpr double kMaxCurrentScatter = 0.05;
  static constexpr double kRateTolerance = 0.2;
  static constexpr double kSensorSigma = 0.01;
  static constexpr double kRateSigma = 0.03;
  static constexpr double kEndMargin = 0.02;
  static constexpr double kFlowingPerAh = 0.002;  // a discharge current flows (A per Ah)

 private:
  model::Chemistry chemistry_;
  std::size_t n_blocks_;
  double nominal_ah_;
  double end_block_v_;  // the end voltage per block

  bool active_ = false;
  TimeMs start_ms_ = 0;
  DischargeCounter drawn_;
  double n_ = 0, i_sum_ = 0, i_sq_ = 0;  // current statistics (discharge positive)
  double t_sum_ = 0, t_n_ = 0;           // temperature statistics
  TimeMs flowing_ms_ = 0;                // the last sweep with current flowing …
  double q_flowing_ah_ = 0;              // … the charge drawn until then …
  bool at_end_ = false;                  // … and whether it was at the end voltage
  std::vector<double> block_q_end_ah_;   // NaN: not reached
};

// The string's level from a capacity test: every block that reached the end voltage on its own
// has an absolute capacity; over its capacity relative to the string (the estimator's) each gives
// C_string, averaged by their variances; the sensor and rate uncertainty is common to all. Records
// the test in the estimator and anchors it; returns how many blocks anchored it (0: none, the
// estimator's level is left as it was).
int anchorFromTest(StringCapacityEstimator& est, const CapacityTestResult& r);

}  // namespace equalis::analysis
