// Health of every block (docs/analysis.md, "Health of every block"): state of health fused from
// the block's capacity and its temperature-normalised internal resistance, the IEEE 450 / 1188
// states, robust trends, the weak-block early warning and the remaining useful life.
//
//  * Ri at 25 °C: every reading in settled float is normalised with the chemistry's temperature
//    coefficient (riAt25C), averaged per hour; the baseline is the median of the block's first
//    kBaselineHours such hours; the rise is the median of the last kRiseHours hours against it
//    (block.ri_rise_25c_pct, what the block.ri_rise alarm watches: a step shows within hours, a
//    cold night does not).
//  * SOH in % of nominal capacity, from two components, each with its σ:
//      capacity — the block's capacity from the string's discharges (relative to the string × the
//                 string's level, measured or, until measured, from the blocks' median Ri rise),
//                 carried forward from the time of the discharge by the block's own Ri trend
//                 (Theil–Sen, so a step such as a loosened connector is not taken for capacity
//                 lost; kSohPerRiRise), its σ growing with that change and with time;
//      Ri       — 100 % less kSohPerRiRise × the rise against the baseline (Battery University
//                 BU-802a: +25 % Ri goes with −20 % capacity; battery-science.md §2.6 calls Ri a
//                 lagging, weak indicator, hence the wide σ kRiSigmaPct: the level at the
//                 baseline is not known).
//    The Ri rise says how much a block changed since its baseline, not where it started: once a
//    capacity is measured, SOH is that capacity carried forward by the Ri trend; before, the Ri
//    component alone.
//    Float behaviour (the block's float voltage against the string's median, its equalization
//    duty) is kept and trended as evidence, not turned into capacity: no source gives a mapping.
//  * States (IEEE 450 / 1188): replace below 80 %; degraded below 90 % or 10 points below the
//    block's best weekly SOH; otherwise ok; unknown without any component.
//  * Trends: Theil–Sen slopes with Sen's distribution-free 80 % interval over the last
//    kTrendWeeks weekly points (the weekly point is the median of that week's hours). The SOH
//    trend is fitted to the capacity observations of the last two years (each discharge's own
//    estimate × the level), when there are kMinObservations over kMinObservedSpanMs; else to the
//    weekly SOH, else it is the Ri trend's image.
//  * Warning: a block whose SOH is falling (the interval's upper end below 0) and is projected to
//    cross 80 % within kWarnHorizonDays, or which is below 80 % beyond its uncertainty (SOH +
//    1.28 σ < 80 %); it names the evidence and the expected date with its interval.
//  * Remaining useful life to 80 %: from the trend when it is significant; otherwise from the rate
//    a block of the chemistry ages at its own temperatures (20 points over the design life at
//    25 °C, ×2 per 8 K: designLifeYears, hours_in_band.hpp), with a wide interval.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/chemistry.hpp"

namespace equalis::analysis {

enum class HealthState : int { kOk = 0, kDegraded = 1, kReplace = 2, kUnknown = 3 };
std::string_view healthStateName(HealthState s);

// Temperature coefficient k of the ohmic resistance, R(T) = R(25 °C)·exp(k·(25 − T)) [G]: the
// acid's (or electrolyte's) conductivity falls as it cools: lead-acid 1.2 %/K, LiFePO4 2 %/K,
// NiCd 1 %/K.
double riTemperaturePerK(model::Chemistry c);
double riAt25C(double ri_mohm, double temperature_c, model::Chemistry c);

// Theil–Sen slope (median of the pairwise slopes) with Sen's (1968) distribution-free interval:
// the ranks (N ∓ z·√(n(n−1)(2n+5)/18))/2 of the N sorted pairwise slopes. z = 1.2816: 80 %.
struct SenSlope {
  double slope = 0;
  double lo = 0;
  double hi = 0;
  double intercept = 0;  // y at x = 0 (median of y − slope·x)
  int n = 0;             // points (0: no fit)
};
SenSlope theilSen(std::span<const double> x, std::span<const double> y, double z = 1.2816);

// One week of a block, the median of its hours.
struct HealthWeek {
  TimeMs time_ms = 0;    // the week's end
  double ri25_mohm = 0;  // NaN: no reading
  double soh_pct = 0;    // NaN: not known
  double soh_sigma_pct = 0;
  double float_dev_mv = 0;  // per cell, against the string's median
  double effort_pct = 0;    // equalization duty
};

// A block's capacity from one discharge (that discharge's own estimate × the string's level).
struct CapacityObservation {
  TimeMs time_ms = 0;
  double soh_pct = 0;
  double sigma_pct = 0;
  double level_pct = 0;         // the string level it was scaled with
  bool level_measured = false;  // … measured (else stood in for by the Ri rise)
};

struct BlockHealthView {
  double soh_pct = 0;  // NaN: unknown
  double soh_sigma_pct = 0;
  HealthState state = HealthState::kUnknown;
  double capacity_soh_pct = 0;  // NaN: no capacity component
  double capacity_sigma_pct = 0;
  double ri_soh_pct = 0;  // NaN: no Ri component
  double ri_sigma_pct = 0;
  double ri25_mohm = 0;             // the last day's median at 25 °C (NaN: none)
  double ri_baseline_25c_mohm = 0;  // NaN: not yet
  double ri_rise_25c_pct = 0;       // NaN: not yet
  double float_dev_mv = 0;          // NaN: none
  double effort_pct = 0;            // NaN: none
  double ageing_factor = 0;         // mean 2^((T − 25)/8 K) of the hours seen (NaN: none)
  SenSlope soh_trend;               // % per year
  std::string soh_trend_basis;      // "capacity", "weekly SOH" (none: empty)
  SenSlope ri_trend;                // % of the baseline per year
  SenSlope float_trend;             // mV per cell per year
  SenSlope effort_trend;            // % per year
  double rul_years = 0;             // NaN: unknown
  double rul_low_years = 0;
  double rul_high_years = 0;
  std::string rul_basis;  // "trend", "temperature", "below 80 %"
  bool warning = false;
  TimeMs warning_since_ms = 0;
  TimeMs crossing_ms = 0;  // expected date at 80 % (0: none)
  TimeMs crossing_early_ms = 0;
  TimeMs crossing_late_ms = 0;
  std::string evidence;  // why (empty when nothing to say)
  int weeks = 0;         // weekly points kept
};

struct StringHealthView {
  double soh_pct = 0;    // the weakest block's (what the string can deliver); NaN: none known
  int weakest = -1;      // 0-based
  double rul_years = 0;  // the first block to reach 80 %; NaN: unknown
  double rul_low_years = 0;
  double rul_high_years = 0;
  int rul_block = -1;
  int blocks_to_replace = 0;  // replace state, or expected at 80 % within a year
  int warnings = 0;
};

class HealthTracker {
 public:
  static constexpr int kBaselineHours = 24;
  static constexpr int kRiseHours = 6;
  static constexpr std::size_t kTrendWeeks = 104;
  static constexpr std::size_t kMaxWeeks = 260;
  static constexpr int kMinTrendWeeks = 8;
  static constexpr int kMinObservations = 6;  // capacity observations for an SOH trend …
  static constexpr DurationMs kMinObservedSpanMs = 120 * kDayMs;  // … over at least this
  static constexpr std::size_t kMaxObservations = 260;
  static constexpr double kSohPerRiRise = 0.8;  // SOH points per % of Ri rise
  static constexpr double kRiSigmaPct = 10.0;
  static constexpr double kCarrySigmaFraction = 0.5;       // of the Ri-carried change
  static constexpr double kCapacityDriftPctPerYear = 2.0;  // σ added per year since measured
  static constexpr int kWarnHorizonDays = 365;
  static constexpr double kWarnBelowPct = 90.0;  // a projection warns only below this SOH
  static constexpr DurationMs kSettleMs = 2 * kHourMs;
  static constexpr DurationMs kMaxGapMs = 6 * kHourMs;  // longer: the hour's sums are dropped

  HealthTracker(std::size_t blocks, model::Chemistry chemistry);

  // One sweep. Per block Ri (mΩ), temperature (°C), voltage (V; the calibrated reading) and
  // equalization duty (%); NaN: no usable reading. `floating`: the string is in float now.
  // Readings count only after kSettleMs of float.
  void update(TimeMs t_ms, bool floating, std::span<const double> ri_mohm,
              std::span<const double> temperature_c, std::span<const double> voltage_v,
              std::span<const double> equalization_pct);

  // The string's capacity estimate after a discharge: per block C_b / C_string and its σ
  // (relative ≤ 0 or NaN: none), the string level C_string in % of nominal and its σ (NaN: not
  // measured; the string's mean Ri rise stands in).
  // `event_relative` / `event_sigma` (optional): this discharge's own estimate per block (NaN:
  // none); they make the capacity observations the SOH trend is fitted to (the fused estimate
  // forgets slowly and would damp the trend).
  void noteCapacity(TimeMs t_ms, std::span<const double> relative,
                    std::span<const double> relative_sigma, double level_pct,
                    double level_sigma_pct, std::span<const double> event_relative = {},
                    std::span<const double> event_sigma = {});

  // The block was replaced: its history starts again.
  void resetBlock(std::size_t b, TimeMs t_ms);

  const BlockHealthView& block(std::size_t b) const { return views_.at(b); }
  const StringHealthView& summary() const { return summary_; }
  const std::vector<HealthWeek>& weeks(std::size_t b) const { return blocks_.at(b).weeks; }
  const std::vector<CapacityObservation>& observations(std::size_t b) const {
    return blocks_.at(b).observations;
  }
  std::size_t blockCount() const { return blocks_.size(); }
  model::Chemistry chemistry() const { return chemistry_; }
  // Set when a block's warning was raised or cleared by the last update (for the event log).
  const std::vector<std::size_t>& warningsChanged() const { return warnings_changed_; }
  // Counts the assessments (hourly, and after a capacity or a reset): a new value means new
  // views.
  std::uint64_t assessments() const { return assessments_; }

  // What survives a restart, as JSON ("format":"equalis-health","version":1).
  std::string serialize(TimeMs as_of_ms) const;
  static Result<HealthTracker> deserialize(std::string_view text, std::size_t blocks,
                                           model::Chemistry chemistry);
  static Result<HealthTracker> deserialize(std::string_view text);

 private:
  struct Hour {
    double ri25_mohm;
    double temperature_c;
    double float_dev_mv;
    double effort_pct;
  };
  struct Capacity {
    TimeMs time_ms = 0;
    double soh_pct = 0;
    double sigma_pct = 0;
  };
  struct Block {
    std::vector<CapacityObservation> observations;  // one per discharge that estimated the block
    // This hour's sums.
    double ri_sum = 0;
    int ri_n = 0;
    double t_sum = 0;
    int t_n = 0;
    double dev_sum = 0;
    int dev_n = 0;
    double eq_sum = 0;
    int eq_n = 0;
    std::vector<Hour> hours;             // this week's
    std::vector<double> recent_ri25;     // the last kBaselineHours hourly values
    std::vector<double> baseline_hours;  // while the baseline is collected
    double baseline_mohm = 0;            // 0: not yet
    TimeMs baseline_ms = 0;
    double arrhenius_sum = 0;
    double arrhenius_hours = 0;
    std::optional<Capacity> capacity;
    std::vector<HealthWeek> weeks;
    double best_soh_pct = 0;
    TimeMs warning_since_ms = 0;  // 0: no warning
  };

  void closeHour(TimeMs t_ms);
  void closeWeek(TimeMs t_ms);
  void fitTrends(TimeMs t_ms);
  void assess(TimeMs t_ms);
  void assessBlock(std::size_t b, TimeMs t_ms);
  double risePct(const Block& blk, std::size_t hours) const;
  double medianRisePct() const;

  model::Chemistry chemistry_;
  int cells_;
  std::vector<Block> blocks_;
  std::vector<BlockHealthView> views_;
  StringHealthView summary_;
  std::vector<std::size_t> warnings_changed_;
  TimeMs float_since_ms_ = -1;
  TimeMs hour_start_ms_ = -1;
  TimeMs week_start_ms_ = -1;
  std::uint64_t assessments_ = 0;
  // The level given by the last capacity estimate and the string's mean Ri rise then.
  double level_pct_ = 0;  // NaN or 0: none
  double level_sigma_pct_ = 0;
  double level_ms_ = 0;        // when it was given
  double prev_level_pct_ = 0;  // the measured level before it (0: none)
  double prev_level_ms_ = 0;
  // The string level now: the last measured one carried forward at the rate its measurements
  // show (two of them at least 90 days apart), else at the chemistry's rate at the blocks'
  // temperatures; its σ grows by half the change.
  std::pair<double, double> levelNow(TimeMs t_ms) const;
  std::vector<double> dev_scratch_;
};

}  // namespace equalis::analysis
