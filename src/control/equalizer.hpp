// Equalization (top balancing) controller for one string (seeds 000 "Balancing", 001
// "Equalization"): every module gets the string's target voltage and bleeds a bypass current
// while its block sits above it, so every block floats at the right voltage.
//
// Pure logic: inputs are the measured (and, with self-calibration, corrected) block voltages and
// the string state of one sweep; the output is a bypass duty 0 … 1 per module. The caller sends
// the duties to the modules and feeds the next sweep back.
#pragma once

#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"

namespace equalis::control {

enum class EqualizerState {
  kOff,              // disabled by configuration
  kPausedDischarge,  // string is discharging: bypass off
  kSettling,        // after a discharge/recharge, waiting for the string current to settle in float
  kPausedSchedule,  // inside a configured pause window (e.g. forming new batteries)
  kBalancing,       // top balancing active
  kNoData,          // not enough valid measurements
};

std::string_view equalizerStateName(EqualizerState s);

struct StringInput {
  TimeMs time_ms = 0;
  model::StringModeValue mode = model::StringModeValue::kFloat;
  bool mode_valid = false;
  double current_a = 0;           // + charge / − discharge
  double target_v = 0;            // per block: charger voltage / blocks (temperature-compensated)
  std::vector<double> voltage_v;  // per block, best estimate of the true voltage
  std::vector<bool> valid;        // per block: reading is fresh and ok
};

class StringEqualizer {
 public:
  StringEqualizer(const model::StringConfig& string_cfg, const model::EqualizationConfig& cfg);

  // One control step; returns the bypass duty per block (0 … 1).
  const std::vector<double>& update(const StringInput& in);

  // New equalization parameters (configuration reload); the duties and the state stay.
  void setConfig(const model::EqualizationConfig& cfg) { cfg_ = cfg; }

  const std::vector<double>& duties() const { return duty_; }
  EqualizerState state() const { return state_; }
  // The voltage the blocks are equalized to (per block) in the last step.
  double targetV() const { return target_v_; }

 private:
  bool inPauseWindow(TimeMs t_ms) const;

  struct BlockState {
    double v_prev = 0;
    double slope_v_per_s = 0;
    bool primed = false;
  };

  double leadAcidStep(std::size_t b, double v, double target, double dt_s);
  double lithiumStep(double v, double target) const;

  model::StringConfig string_cfg_;
  model::EqualizationConfig cfg_;
  bool lithium_ = false;
  double bypass_max_a_ = 0;         // module bypass current at full duty
  double float_capacitance_f_ = 0;  // float polarization capacitance of one block (plant model)
  std::vector<BlockState> blocks_;
  std::vector<double> duty_;
  // Duties of the last balanced state: balancing resumes from them after a pause, so a string
  // that was balanced before a mains failure is balanced again soon after the recharge.
  std::vector<double> resume_duty_;
  EqualizerState state_ = EqualizerState::kNoData;
  TimeMs last_ms_ = 0;
  TimeMs float_since_ms_ = 0;
  double target_v_ = 0;
  // When the string is beyond the modules' bypass authority (blocks pinned at full bypass above
  // the target and at zero bypass below it), the unsaturated blocks aim this much higher, which
  // lowers the string current until the two extremes deviate equally (min-max spread).
  double authority_offset_v_ = 0;
};

// Seconds-resolution energy counter: bypass energy per block (Wh) and the daily rate (Wh/day),
// the "equalization effort" health signal.
class EffortMeter {
 public:
  explicit EffortMeter(std::size_t blocks);
  // Adds bypass power (W) per block over the time since the last call.
  void add(TimeMs t_ms, const std::vector<double>& bypass_power_w);
  double energyWh(std::size_t block) const { return energy_wh_.at(block); }
  // Energy of the last complete 24 h window, or the running rate scaled to a day before that.
  double whPerDay(std::size_t block) const;

 private:
  std::vector<double> energy_wh_;
  std::vector<double> window_start_wh_;
  std::vector<double> last_day_wh_;
  TimeMs last_ms_ = 0;
  TimeMs window_start_ms_ = 0;
  bool have_full_day_ = false;
};

}  // namespace equalis::control
