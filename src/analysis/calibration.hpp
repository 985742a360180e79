// Module voltage self-calibration (battery-science.md §0 "The voltage-accuracy spec limits the
// ±0.01 V claim", §4.2): estimates each measuring module's fixed error V_meas − V_true near the
// float voltage from information the controller already has, so that equalization can work on
// corrected voltages. Method and measured accuracy: docs/calibration.md.
//
//  * Relative part (block against block), from the start of every discharge. All blocks come from
//    float at full charge, so V_true,i + |I|·R0_i = OCV_full + polarization is nearly the same for
//    every block in the first minutes of the discharge: the deviation of
//    V_meas,i + |I|·Ri_meas,i (− dOCV/dT·ΔT_i) from the string median is module error.
//  * Common part (mean over the string), from settled float: Σ V_true = charger set-point, so
//    (Σ V_meas − set-point)/N is the string's mean module error at the float voltage.
//  * The discharge-level relative error is extrapolated to the float voltage with the best linear
//    predictor under the datasheet's gain/offset split.
//  * Each block's relative error is a Kalman estimate over events with exponential forgetting; an
//    event far outside the estimate is held back, and two consecutive agreeing ones re-initialize
//    the block (a module whose offset jumped). Implausibly large deviations (faults) and frozen
//    readings (stuck sensors) are not learned.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"

namespace equalis::analysis {

// One sweep of one string, as the controller sees it.
struct CalibrationSample {
  TimeMs time_ms = 0;
  model::StringModeValue mode = model::StringModeValue::kFloat;
  bool mode_valid = false;
  double current_a = 0;  // + charge / − discharge
  bool current_valid = false;
  double charger_setpoint_v = 0;      // Σ of true block voltages in settled float (0 = unknown)
  std::vector<double> voltage_v;      // measured, per block
  std::vector<double> ri_ohm;         // measured R0, per block (empty: no discharge events)
  std::vector<double> temperature_c;  // per block (empty: no temperature correction)
  std::vector<bool> valid;            // per block, fresh and ok
};

// Tuning of the estimator. The defaults are for a string of 12 V 100 Ah VRLA blocks with C24
// modules; forString() derives them for other chemistries, capacities and module types.
struct CalibrationConfig {
  // ---- what a discharge event uses ----
  double capacity_ah = 100.0;           // nameplate capacity of the blocks (scales the thresholds)
  double min_discharge_c = 0.05;        // |I| ≥ this × C (A per Ah) to count as a discharge
  DurationMs skip_ms = 10 * kSecondMs;  // ignore the first seconds (double layer still discharging)
  double skip_charge_c = 0.0012;        // … and until this × C has been drawn (≈ C_f·E_float)
  DurationMs window_ms = 10 * kMinuteMs;         // use samples up to this long after the start
  double window_charge_c = 0.04;                 // … and until this × C has been drawn
  DurationMs min_float_before_ms = 2 * kHourMs;  // settled float this long before the discharge
  double settled_float_c = 0.01;                 // |I| below this × C counts as settled float
  DurationMs max_gap_ms = 60 * kSecondMs;        // a longer gap between samples aborts the event
  int min_samples = 3;                           // usable samples per event and block
  double min_valid_fraction = 0.6;               // of the blocks, for a sample's median

  // ---- physics of the block-to-block comparison ----
  double ocv_temp_coeff_v_per_k = 0.0012;  // entropic dOCV/dT per block (0.2 mV/K/cell, §6.3)
  double ocv_span_v = 0.95;                // OCV(full) − OCV(empty) per block (§6.4)
  double capacity_scatter = 0.03;          // σ of block capacities (2 % new, more when aged)
  double polarization_scatter = 0.02;  // σ of RC polarization as a share of |I|·Ri: R1 ≈ 0.2·Ri
                                       // (§6.4) with a 10 % block-to-block scatter [G]
  double polarization_tau_s = 100.0;  // its time constant (§6.4 τ1)

  // ---- the module error model (priors; datasheet) ----
  double nominal_float_v = 13.62;     // per block, until the charger set-point has been seen
  double gain_error_max = 0.003;      // |g| ≤ 0.3 % (uniform)
  double offset_error_max_v = 0.020;  // |o| ≤ 20 mV (uniform)
  double ri_error_max = 0.03;         // Ri accuracy (uniform), systematic per module
  double noise_v = 0.001;             // σ of one voltage read
  double event_noise_v = 0.0007;      // σ of what differs between events (SOC, temperature) [G]
  double setpoint_sigma_v = 0.0;      // σ of the charger set-point per block (0 = exact)
  // An event whose block-to-block deviation exceeds this is not a calibration error but a fault
  // (stuck sensor, a block that did not come from full charge) and is not used: 3× the datasheet
  // worst case (0.5 % of 13.6 V = 68 mV).
  double plausible_error_v = 0.2;
  // A block whose deviation moves within one event by more than this many times what noise and
  // scatter explain did not start the discharge like the others (a block left undercharged, or
  // not long enough at full charge: its coup de fouet differs from the string's): the event is
  // skipped for it, neither used nor counted as a fault.
  double consistency_factor = 4.0;
  // A reading that stays bit-identical while the string's median moves by more than this is a
  // stuck sensor: excluded until it changes.
  double frozen_change_v = 0.02;

  // ---- adaptation ----
  double forgetting = 0.9;    // per event: the estimate's variance is divided by this
  double jump_sigma = 4.0;    // an event this many σ off the estimate is held back …
  double jump_min_v = 0.006;  // … if it is also at least this far off
  // calibrated() when uncertaintyV() is below this: 3σ = 24 mV keeps a block within the ±25 mV
  // goal even when the string mean is unknown (a module missing in float).
  double calibrated_sigma_v = 0.008;
  DurationMs float_mean_tau_ms = 2 * kDayMs;  // memory of the float-level mean error

  // Scales the voltage figures to the block's nominal voltage and the thresholds to its capacity
  // and module type (Ri accuracy, voltage accuracy).
  static CalibrationConfig forString(const model::StringConfig& string_cfg);
};

class OffsetEstimator {
 public:
  explicit OffsetEstimator(std::size_t blocks);
  OffsetEstimator(std::size_t blocks, const CalibrationConfig& config);

  // Feeds one sweep (in time order; repeated or older times are ignored, as are samples whose
  // vectors do not have one entry per block).
  void update(const CalibrationSample& s);

  std::size_t blockCount() const { return blocks_.size(); }
  const CalibrationConfig& config() const { return config_; }

  // Estimated V_meas − V_true near the float voltage (the per-block reference voltage).
  double errorV(std::size_t block) const;
  // 1-σ of that estimate (the datasheet prior until the block has seen an event).
  double uncertaintyV(std::size_t block) const;
  // Discharge events used for this block so far (reset to the confirming events after a jump).
  int events(std::size_t block) const;
  // Events not used for this block because its deviation was implausibly large. Such a block
  // also stops the float-sum mean (which is reset) until an event of it is plausible again.
  int rejectedEvents(std::size_t block) const;
  // Events skipped for this block since start-up: its deviation moved within the event (not
  // persisted).
  int inconsistentEvents(std::size_t block) const;
  // The block's reading is frozen (stuck sensor) and is ignored until it changes.
  bool frozen(std::size_t block) const;
  // Offset jumps detected and followed for this block.
  int jumps(std::size_t block) const;
  bool calibrated(std::size_t block) const;
  // measured − errorV(block) once calibrated, else measured unchanged.
  double corrected(std::size_t block, double measured_v) const;

  // The string's mean module error at float (from the charger set-point) and whether it is known.
  double meanErrorV() const { return mean_err_v_; }
  bool meanKnown() const { return mean_weight_ > 0.0; }
  // Per-block reference voltage the errors refer to (charger set-point / blocks; 0 = not seen).
  double referenceV() const { return v_ref_; }
  // Discharges of this string that updated at least one block.
  int stringEvents() const { return string_events_; }

  // Persistence: a versioned text format (calibration state and configuration; an event in
  // progress is not kept).
  std::string serialize() const;
  static Result<OffsetEstimator> deserialize(std::string_view text);

 private:
  struct Block {
    double rel_v = 0;    // relative error at the discharge level (against the string)
    double var_v2 = 0;   // variance of rel_v (statistical part)
    double level_v = 0;  // block voltage level of the events (for the gain extrapolation)
    double drop_v = 0;   // |I|·Ri of the events (for the Ri-accuracy term)
    int events = 0;
    int jumps = 0;
    int rejected = 0;
    int inconsistent = 0;  // events skipped: the block's deviation moved within the event
    bool suspect = false;  // the last event was implausible: keep it out of the float sum
    bool pending = false;  // an outlier event waits for confirmation
    double pending_v = 0;
    double pending_var_v2 = 0;
  };
  struct Accum {  // one block in the running event
    double sw = 0, swd = 0, swd2 = 0, sw2 = 0, swphys = 0, swlevel = 0, swdrop = 0;
    int n = 0;
  };

  struct Screen {  // stuck-sensor detection (not persisted)
    bool seen = false;
    bool frozen = false;
    double last_v = 0;
    double median_at_last_v = 0;
  };

  void screenBlocks(const CalibrationSample& s);
  void updateFloatMean(const CalibrationSample& s, double dt_s);
  void accumulate(const CalibrationSample& s, double elapsed_s, double charge_ah);
  void finishEvent();
  void applyEvent(std::size_t b, double value_v, double var_v2, double level_v, double drop_v);
  double priorSigmaV() const;
  double beta(double level_v) const;
  double relCenterV() const;

  CalibrationConfig config_;
  std::vector<Block> blocks_;

  // float-level mean error
  double mean_err_v_ = 0;
  double mean_weight_ = 0;  // exponentially weighted sample count
  double v_ref_ = 0;        // per-block reference (set-point / N), running mean
  int string_events_ = 0;

  // running state (not persisted)
  TimeMs last_time_ms_ = -1;
  TimeMs float_since_ms_ = -1;  // start of the current settled-float period
  bool in_event_ = false;
  bool event_eligible_ = false;
  bool event_done_ = false;
  TimeMs event_start_ms_ = 0;
  TimeMs event_last_ms_ = 0;
  double event_charge_ah_ = 0;
  std::vector<Accum> acc_;
  std::vector<bool> event_excluded_;
  std::vector<Screen> screen_;
  std::vector<bool> ok_;  // usable readings of the current sweep
  std::vector<double> scratch_;
};

}  // namespace equalis::analysis
