// Capacity of every block of a string from its discharges, full or partial (docs/analysis.md,
// "Capacity of every block"; battery-science.md §3.4 method 2).
//
// Every block of a series string carries the same current. Over the steady part of a discharge a
// block's voltage falls with its own depth of discharge Q/C_b: its OCV, and the depletion
// overvoltage that makes a discharge curve fall faster than the OCV, both follow the depth. So
// every block follows one curve G stretched by its capacity:
//
//   V_b(t) ≈ α_b + ρ_b·(I(t) − I₀) + G(λ_b·D(t)),   λ_b = C_string / C_b,   D = Q / C_nom
//
// with C_string the harmonic mean of the blocks' capacities (so the λ_b average 1). G is fitted
// to the mean block V̄ as a quadratic in D; each block's deviation V_b − V̄ is fitted with the
// single curve regressor G(λD) − G(D) = (λ − 1)·(g1·D + g2·(λ + 1)·D²) by fixed-point iteration
// on λ, one shape parameter per block (V̄ is the mean of the stretched curves, not G: a second
// pass divides that out, and the λ_b are normalized to mean 1).
//
// In the deviation everything the blocks share cancels — load steps, the room temperature, the
// current sensor's gain — α_b absorbs the module's offset and the block's own OCV offset, ρ_b its
// resistance. ΔI is left out when it moves in step with D (a constant-power load), where it would
// be collinear with D. No chemistry constant enters, and no rest is needed. The window starts
// when the coup de fouet and the fast polarization have settled (kWindowStartFraction of the
// nominal capacity drawn and kWindowStartMs after the start). Only the moments of the
// regressions are kept: constant memory, whatever the length of the discharge.
//
// Successive events are fused per block by their inverse variances, older events fading with a
// half-life of kForgetHalfLifeMs, so a block that ages is followed. Each event's variance is the
// regression's plus a floor for what one discharge cannot separate: block-to-block scatter of
// the polarization growth (kEventFloorRelative, measured by `equalis-bench-analysis`).
//
// The block capacities are C_b = C_string / λ_b. C_string is the configured nominal capacity
// until an anchor (a capacity test) sets it; level() says which.
//
// Pure computation on what the sweeps deliver: no clock, no store, no simulator.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/discharge_counter.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::analysis {

// One block's result of one discharge.
struct BlockCapacityEvent {
  bool valid = false;        // the block had enough readings in the window
  double inv_dev = 0;        // x_b = λ_b − 1 = C_string / C_b − 1
  double inv_dev_sigma = 0;  // its standard deviation (regression + floor)
  double relative = 1;       // C_b / C_string = 1 / (1 + x_b), from this event alone
};

// One discharge, as the estimator saw it.
struct CapacityEvent {
  TimeMs start_ms = 0;
  TimeMs end_ms = 0;
  double ah_out = 0;               // charge drawn over the whole discharge (counted), Ah
  double window_ah = 0;            // charge drawn inside the regression window, Ah
  double mean_current_a = 0;       // mean discharge current in the window (positive), A
  int samples = 0;                 // sweeps in the window
  double mean_slope_v_per_ah = 0;  // s̄: the mean block's voltage slope in the window
  bool used = false;               // long enough to estimate from (else the blocks are not valid)
  std::vector<BlockCapacityEvent> blocks;
};

// One discharge's own estimate per block: C_b / C_string and its σ (NaN where the block had no
// valid estimate in it).
void eventRelatives(const CapacityEvent& e, std::vector<double>& relative,
                    std::vector<double>& sigma);

// A block's fused estimate.
struct BlockCapacity {
  int events = 0;                // discharges behind it (0: no estimate yet)
  double relative = 1;           // C_b / C_string
  double relative_sigma = 0;     // its standard deviation
  double capacity_ah = 0;        // C_b = relative · C_string
  double capacity_sigma_ah = 0;  // from relative_sigma and the string level's own uncertainty
  double capacity_pct = 0;       // C_b as % of the nominal capacity
  TimeMs last_event_ms = 0;
};

struct StringCapacityLevel {
  double capacity_ah = 0;  // C_string: the harmonic-mean block capacity
  double sigma_ah = 0;
  bool anchored = false;  // false: the nominal capacity, not yet measured
};

class StringCapacityEstimator {
 public:
  StringCapacityEstimator(std::size_t blocks, double nominal_ah);

  // One sweep: its time, the string current (A, + charge / − discharge), whether the string is in
  // discharge (analysis/mode.hpp), and the block voltages (NaN: no valid reading). Returns the
  // event when this sweep ended a discharge.
  std::optional<CapacityEvent> update(TimeMs t_ms, double current_a, bool discharging,
                                      std::span<const double> block_v);

  const std::vector<BlockCapacity>& blocks() const { return blocks_; }
  std::size_t blockCount() const { return n_blocks_; }
  const StringCapacityLevel& level() const { return level_; }
  // Sets the string's level (C_string and its σ) from a capacity test (capacity_test.hpp).
  void anchor(double capacity_ah, double sigma_ah, TimeMs t_ms);
  TimeMs anchoredMs() const { return anchored_ms_; }  // when the level was last anchored
  // The string's own capacity from its last capacity test (what it delivered to the end
  // voltage, weakest blocks included), kept with the estimates.
  struct TestRecord {
    double capacity_ah = 0;
    double sigma_ah = 0;
    TimeMs time_ms = 0;
  };
  void recordTest(const TestRecord& t) { test_ = t; }
  const std::optional<TestRecord>& lastTest() const { return test_; }
  // Discharges fused so far (each used event counts once).
  int stringEvents() const { return string_events_; }

  // What survives a restart: the fused estimates (not a discharge in progress), as JSON:
  //   {"format":"equalis-block-capacity","version":1,"nominal_ah":100,"events":3,
  //    "last_event_ms":…,"blocks":[{"w":…,"wx":…,"events":2,"last_event_ms":…},…],
  //    "level":{"capacity_ah":92.1,"sigma_ah":2.9,"time_ms":…},   ("level" once anchored)
  //    "test":{"capacity_ah":80.2,"sigma_ah":2.5,"time_ms":…}}    ("test" after a capacity test)
  std::string serialize() const;
  // Rebuilds an estimator for `blocks` blocks of `nominal_ah` from serialize()'s text; an error
  // that names what is wrong for anything else (another format or version, another string's
  // size, a number out of range). A state written for another nominal capacity is refused too:
  // its relative estimates would be read against the wrong level.
  static Result<StringCapacityEstimator> deserialize(std::string_view text, std::size_t blocks,
                                                     double nominal_ah);
  // The same, taking the block count and nominal capacity from the text (checking a backup
  // without its plant).
  static Result<StringCapacityEstimator> deserialize(std::string_view text);

  // Regression window: after this share of the nominal capacity has been drawn and this long
  // after the start (coup de fouet and the fast polarization have settled) …
  static constexpr double kWindowStartFraction = 0.03;
  // … up to this share (a deeper discharge, a capacity test, ends in the knee before the end
  // voltage, where a weak block collapses: not a scaled copy of the mean any more).
  static constexpr double kWindowEndFraction = 0.4;
  static constexpr DurationMs kWindowStartMs = 5 * kMinuteMs;
  // … and an event counts when its window spans at least this share of the nominal capacity
  // and this many sweeps.
  static constexpr double kMinWindowFraction = 0.02;
  static constexpr int kMinSamples = 10;
  // Per-event floor on the relative capacity error (1 σ), from block-to-block polarization
  // scatter that a single discharge cannot separate from capacity.
  static constexpr double kEventFloorRelative = 0.03;
  static constexpr DurationMs kForgetHalfLifeMs = 365 * kDayMs;

  // Moments of a regression of y on [1, ΔI, D, D²] (D: depth of discharge since the start, as a
  // fraction of the nominal capacity): XᵀX, Xᵀy and yᵀy.
  struct Sums {
    std::array<std::array<double, 4>, 4> xx{};
    std::array<double, 4> xy{};
    double yy = 0;
    void add(double d, double di_a, double y);
  };

 private:
  CapacityEvent finish(TimeMs t_ms);
  void fuse(const CapacityEvent& e);
  void refreshBlocks();

  std::size_t n_blocks_;
  double nominal_ah_;
  StringCapacityLevel level_;

  bool active_ = false;
  TimeMs start_ms_ = 0;
  DischargeCounter drawn_;    // since the start of the discharge
  double window_q0_ah_ = -1;  // Q when the window opened (−1: not yet)
  double window_q1_ah_ = 0;   // Q at the window's last sample
  double i_ref_a_ = 0;        // current at the window's first sample (ΔI's origin)
  int window_samples_ = 0;
  std::vector<Sums> sums_;
  Sums mean_sums_;  // the same for the mean block V̄

  // Fused per block: Σ w·e and Σ w with w = 1/σ², decayed to last_fuse_ms_.
  std::vector<double> w_sum_;
  std::vector<double> we_sum_;
  std::vector<int> events_;
  std::vector<TimeMs> last_event_ms_;
  TimeMs last_fuse_ms_ = 0;
  int string_events_ = 0;
  TimeMs anchored_ms_ = 0;
  std::optional<TestRecord> test_;
  std::vector<BlockCapacity> blocks_;
};

}  // namespace equalis::analysis
