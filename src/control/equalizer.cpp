#include "control/equalizer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/chemistry.hpp"

namespace equalis::control {

namespace {

// Float polarization capacitance per Ah of a lead-acid or NiCd block: C_f =
// τ_float·(c_u/n_c)·I_float (battery-science.md §1.4, §6.3: τ_float 1 h for 12 V blocks and 2 h for
// 2 V cells; c_u = 11 /V per cell; float current ≈ 0.24 mA/Ah at 2.27 V/cell, §1.2). It converts a
// voltage slope into the current imbalance that causes it: ΔI = C_f·dV/dt.
double floatCapacitancePerAh(const model::ChemistryInfo& chem) {
  constexpr double kCuPerCell = 11.0;
  constexpr double kFloatCurrentPerAh = 0.24e-3;
  const double tau_s = chem.cells_per_block > 1 ? 3600.0 : 7200.0;
  return tau_s * kCuPerCell / chem.cells_per_block * kFloatCurrentPerAh;
}

// Time constant of the voltage-slope filter: the module noise (a few mV per reading) must not
// turn into bypass noise.
constexpr double kSlopeFilterS = 300.0;
// Time constant with which the bypass command follows its set-point.
constexpr double kCommandFilterS = 120.0;
// Time constant of the authority offset (slow against the block response).
constexpr double kAuthorityFilterS = 1800.0;
// Duty limits taken as saturated.
constexpr double kSaturatedHigh = 0.99;
constexpr double kSaturatedLow = 0.001;
// Lithium: blocks within this of the top-balance target per cell are left alone — module
// offsets of a few mV would otherwise bleed charge out of cells that are in fact balanced.
constexpr double kLithiumDeadbandVPerCell = 0.010;
// Lithium: full bypass at this many volts above the top-balance target per cell.
constexpr double kLithiumFullDutyVPerCell = 0.020;
// LiFePO4 cell voltage at 80 % charge (A123 table, battery-science.md §2.4: 74.2 % 3.29 V,
// 87.1 % 3.313 V, interpolated).
constexpr double kLithium80PctVPerCell = 3.302;

}  // namespace

std::string_view equalizerStateName(EqualizerState s) {
  switch (s) {
    case EqualizerState::kOff:
      return "off";
    case EqualizerState::kPausedDischarge:
      return "paused_discharge";
    case EqualizerState::kSettling:
      return "settling";
    case EqualizerState::kPausedSchedule:
      return "paused_schedule";
    case EqualizerState::kBalancing:
      return "balancing";
    case EqualizerState::kNoData:
      return "no_data";
  }
  return "unknown";
}

StringEqualizer::StringEqualizer(const model::StringConfig& string_cfg,
                                 const model::EqualizationConfig& cfg)
    : string_cfg_(string_cfg), cfg_(cfg) {
  const auto& chem = model::chemistryInfo(string_cfg.chemistry);
  lithium_ = string_cfg.chemistry == model::Chemistry::kLiFePO4;
  const auto& module = model::moduleTypeInfo(string_cfg.module_type);
  const double float_block_v = string_cfg.charger.float_v_per_cell * chem.cells_per_block;
  bypass_max_a_ = std::min(module.bypass_current_a, module.bypass_power_max_w / float_block_v);
  float_capacitance_f_ = floatCapacitancePerAh(chem) * string_cfg.capacity_ah;
  const auto n = static_cast<std::size_t>(string_cfg.block_count);
  blocks_.resize(n);
  duty_.assign(n, 0.0);
}

bool StringEqualizer::inPauseWindow(TimeMs t_ms) const {
  return std::any_of(cfg_.pauses.begin(), cfg_.pauses.end(), [&](const model::TimeWindow& w) {
    return t_ms >= w.from_ms && t_ms < w.to_ms;
  });
}

double StringEqualizer::lithiumStep(double v, double target) const {
  const double cells = model::chemistryInfo(string_cfg_.chemistry).cells_per_block;
  const double above = v - target;
  if (above <= std::max(cfg_.deadband_mv / 1000.0, kLithiumDeadbandVPerCell * cells)) {
    return 0.0;
  }
  return std::clamp(above / (kLithiumFullDutyVPerCell * cells), 0.0, 1.0);
}

// Lead-acid / NiCd in float: the block voltage follows C_f·dV/dt = I_cell − I_float(V). The bypass
// that would hold the voltage still is I_b + C_f·dV/dt; on top of it, C_f·e/τ brings the error
// e to zero with the response time τ. The command follows that set-point through a short filter.
double StringEqualizer::leadAcidStep(std::size_t b, double v, double target, double dt_s) {
  auto& st = blocks_[b];
  if (!st.primed) {
    st.v_prev = v;
    st.slope_v_per_s = 0;
    st.primed = true;
  }
  const double raw_slope = dt_s > 0 ? (v - st.v_prev) / dt_s : 0.0;
  st.slope_v_per_s += (raw_slope - st.slope_v_per_s) * std::min(1.0, dt_s / kSlopeFilterS);
  st.v_prev = v;

  double error_v = v - target;
  const double deadband_v = cfg_.deadband_mv / 1000.0;
  if (std::abs(error_v) < deadband_v) {
    error_v = 0;
  }
  const double response_s =
      static_cast<double>(std::max<DurationMs>(cfg_.response_ms, 1000)) / 1000.0;
  const double bypass_a = duty_[b] * bypass_max_a_;
  const double hold_a = bypass_a + float_capacitance_f_ * st.slope_v_per_s;
  const double setpoint_a = hold_a + float_capacitance_f_ * error_v / response_s;
  const double next_a = bypass_a + (setpoint_a - bypass_a) * std::min(1.0, dt_s / kCommandFilterS);
  return std::clamp(next_a / bypass_max_a_, 0.0, 1.0);
}

const std::vector<double>& StringEqualizer::update(const StringInput& in) {
  const double dt_s = last_ms_ > 0 ? static_cast<double>(in.time_ms - last_ms_) / 1000.0 : 0.0;
  last_ms_ = in.time_ms;
  const auto& chem = model::chemistryInfo(string_cfg_.chemistry);

  auto stop = [&](EqualizerState s) -> const std::vector<double>& {
    if (state_ == EqualizerState::kBalancing) {
      resume_duty_ = duty_;
    }
    state_ = s;
    std::fill(duty_.begin(), duty_.end(), 0.0);
    for (auto& b : blocks_) {
      b.primed = false;
    }
    return duty_;
  };

  if (!cfg_.enabled) {
    return stop(EqualizerState::kOff);
  }
  if (!in.mode_valid) {
    float_since_ms_ = 0;
    return stop(EqualizerState::kNoData);
  }
  if (in.mode == model::StringModeValue::kDischarge) {
    float_since_ms_ = 0;
    return stop(EqualizerState::kPausedDischarge);
  }
  // Top balancing only in float, and only once the string current settled after a recharge.
  if (in.mode != model::StringModeValue::kFloat) {
    float_since_ms_ = 0;
    return stop(EqualizerState::kSettling);
  }
  if (float_since_ms_ == 0) {
    float_since_ms_ = in.time_ms;
  }
  if (in.time_ms - float_since_ms_ < cfg_.settle_ms) {
    return stop(EqualizerState::kSettling);
  }
  if (inPauseWindow(in.time_ms)) {
    return stop(EqualizerState::kPausedSchedule);
  }

  // Valid blocks and their mean.
  double sum_v = 0;
  std::size_t n_valid = 0;
  for (std::size_t b = 0; b < duty_.size() && b < in.voltage_v.size(); ++b) {
    if (b < in.valid.size() && in.valid[b] && std::isfinite(in.voltage_v[b])) {
      sum_v += in.voltage_v[b];
      ++n_valid;
    }
  }
  if (n_valid * 5 < duty_.size() * 4) {  // fewer than 80 % of the blocks answer
    return stop(EqualizerState::kNoData);
  }
  const double mean_v = sum_v / static_cast<double>(n_valid);

  if (lithium_) {
    const double per_cell = cfg_.lithium_hold_80pct      ? kLithium80PctVPerCell
                            : cfg_.target_v_per_cell > 0 ? cfg_.target_v_per_cell
                                                         : string_cfg_.charger.float_v_per_cell;
    target_v_ = per_cell * chem.cells_per_block;
  } else if (cfg_.target_v_per_cell > 0) {
    target_v_ = cfg_.target_v_per_cell * chem.cells_per_block;
  } else {
    // Charger voltage / blocks. The measured mean is used in its place: in constant-voltage float
    // the true block voltages sum to the charger voltage, so the mean carries the charger's real
    // set-point plus the common module error — aiming at the nominal target instead would make
    // every block bleed against the charger.
    target_v_ = n_valid == duty_.size() ? mean_v : in.target_v;
  }

  // Authority limit: both ends pinned → balance the two extremes instead of the middle.
  if (!lithium_) {
    double high_sat_v = -1e9;
    double low_zero_v = 1e9;
    for (std::size_t b = 0; b < duty_.size() && b < in.voltage_v.size(); ++b) {
      if (b >= in.valid.size() || !in.valid[b]) {
        continue;
      }
      const double e = in.voltage_v[b] - target_v_;
      if (duty_[b] >= kSaturatedHigh && e > 0) {
        high_sat_v = std::max(high_sat_v, e);
      } else if (duty_[b] <= kSaturatedLow && e < 0) {
        low_zero_v = std::min(low_zero_v, e);
      }
    }
    const bool pinned = high_sat_v > 0 && low_zero_v < 0;
    const double wanted = pinned ? std::max(0.0, (high_sat_v + low_zero_v) / 2.0) : 0.0;
    authority_offset_v_ += (wanted - authority_offset_v_) * std::min(1.0, dt_s / kAuthorityFilterS);
  }

  if (state_ != EqualizerState::kBalancing && resume_duty_.size() == duty_.size()) {
    duty_ = resume_duty_;
  }
  state_ = EqualizerState::kBalancing;
  double min_duty = 1.0;
  for (std::size_t b = 0; b < duty_.size(); ++b) {
    const bool valid = b < in.valid.size() && in.valid[b] && b < in.voltage_v.size() &&
                       std::isfinite(in.voltage_v[b]);
    if (!valid) {
      duty_[b] = 0;  // no bleeding on a block we cannot see
      blocks_[b].primed = false;
      continue;
    }
    const double v = in.voltage_v[b];
    duty_[b] = lithium_ ? lithiumStep(v, target_v_)
                        : leadAcidStep(b, v, target_v_ + authority_offset_v_, dt_s);
    min_duty = std::min(min_duty, duty_[b]);
  }
  // A bypass common to every block only raises the string current: remove it (energy).
  if (!lithium_ && min_duty > 0 && min_duty < 1.0) {
    for (std::size_t b = 0; b < duty_.size(); ++b) {
      duty_[b] = std::max(0.0, duty_[b] - min_duty * std::min(1.0, dt_s / kCommandFilterS));
    }
  }
  return duty_;
}

EffortMeter::EffortMeter(std::size_t blocks)
    : energy_wh_(blocks, 0.0), window_start_wh_(blocks, 0.0), last_day_wh_(blocks, 0.0) {}

void EffortMeter::add(TimeMs t_ms, const std::vector<double>& bypass_power_w) {
  if (last_ms_ == 0) {
    last_ms_ = t_ms;
    window_start_ms_ = t_ms;
    return;
  }
  const double dt_h = static_cast<double>(t_ms - last_ms_) / kHourMs;
  last_ms_ = t_ms;
  for (std::size_t b = 0; b < energy_wh_.size() && b < bypass_power_w.size(); ++b) {
    energy_wh_[b] += bypass_power_w[b] * dt_h;
  }
  if (t_ms - window_start_ms_ >= kDayMs) {
    for (std::size_t b = 0; b < energy_wh_.size(); ++b) {
      last_day_wh_[b] = energy_wh_[b] - window_start_wh_[b];
      window_start_wh_[b] = energy_wh_[b];
    }
    window_start_ms_ = t_ms;
    have_full_day_ = true;
  }
}

double EffortMeter::whPerDay(std::size_t block) const {
  if (have_full_day_) {
    return last_day_wh_.at(block);
  }
  const double elapsed_day = static_cast<double>(last_ms_ - window_start_ms_) / kDayMs;
  if (elapsed_day <= 0) {
    return 0.0;
  }
  return (energy_wh_.at(block) - window_start_wh_.at(block)) / elapsed_day;
}

}  // namespace equalis::control
