#include "analysis/calibration.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "model/chemistry.hpp"

namespace equalis::analysis {

namespace {

constexpr std::string_view kMagic = "equalis-offset-calibration";
constexpr int kFormatVersion = 1;

// Median of v (reorders v). v must not be empty.
double medianOf(std::vector<double>& v) {
  const std::size_t n = v.size();
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (n % 2 == 0) {
    m = 0.5 * (m + *std::max_element(v.begin(), mid));
  }
  return m;
}

// ---- configuration fields, by name (serialization) ----
struct DoubleField {
  std::string_view name;
  double CalibrationConfig::*member;
};
struct DurationField {
  std::string_view name;
  DurationMs CalibrationConfig::*member;
};
struct IntField {
  std::string_view name;
  int CalibrationConfig::*member;
};

constexpr DoubleField kDoubleFields[] = {
    {"capacity_ah", &CalibrationConfig::capacity_ah},
    {"min_discharge_c", &CalibrationConfig::min_discharge_c},
    {"skip_charge_c", &CalibrationConfig::skip_charge_c},
    {"window_charge_c", &CalibrationConfig::window_charge_c},
    {"settled_float_c", &CalibrationConfig::settled_float_c},
    {"min_valid_fraction", &CalibrationConfig::min_valid_fraction},
    {"ocv_temp_coeff_v_per_k", &CalibrationConfig::ocv_temp_coeff_v_per_k},
    {"ocv_span_v", &CalibrationConfig::ocv_span_v},
    {"capacity_scatter", &CalibrationConfig::capacity_scatter},
    {"polarization_scatter", &CalibrationConfig::polarization_scatter},
    {"polarization_tau_s", &CalibrationConfig::polarization_tau_s},
    {"nominal_float_v", &CalibrationConfig::nominal_float_v},
    {"gain_error_max", &CalibrationConfig::gain_error_max},
    {"offset_error_max_v", &CalibrationConfig::offset_error_max_v},
    {"ri_error_max", &CalibrationConfig::ri_error_max},
    {"noise_v", &CalibrationConfig::noise_v},
    {"event_noise_v", &CalibrationConfig::event_noise_v},
    {"setpoint_sigma_v", &CalibrationConfig::setpoint_sigma_v},
    {"plausible_error_v", &CalibrationConfig::plausible_error_v},
    {"consistency_factor", &CalibrationConfig::consistency_factor},
    {"frozen_change_v", &CalibrationConfig::frozen_change_v},
    {"forgetting", &CalibrationConfig::forgetting},
    {"jump_sigma", &CalibrationConfig::jump_sigma},
    {"jump_min_v", &CalibrationConfig::jump_min_v},
    {"calibrated_sigma_v", &CalibrationConfig::calibrated_sigma_v},
};
constexpr DurationField kDurationFields[] = {
    {"skip_ms", &CalibrationConfig::skip_ms},
    {"window_ms", &CalibrationConfig::window_ms},
    {"min_float_before_ms", &CalibrationConfig::min_float_before_ms},
    {"max_gap_ms", &CalibrationConfig::max_gap_ms},
    {"float_mean_tau_ms", &CalibrationConfig::float_mean_tau_ms},
};
constexpr IntField kIntFields[] = {
    {"min_samples", &CalibrationConfig::min_samples},
};

void appendDouble(std::string& out, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

template <class Int>
void appendInt(std::string& out, Int v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Whitespace-separated tokens of one line.
std::vector<std::string_view> tokens(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      ++i;
    }
    if (i > start) {
      out.push_back(line.substr(start, i - start));
    }
  }
  return out;
}

std::optional<double> parseDouble(std::string_view t) {
  double v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

template <class Int>
std::optional<Int> parseInt(std::string_view t) {
  Int v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    return std::nullopt;
  }
  return v;
}

Error parseError(std::size_t line_no, std::string_view what) {
  std::string msg = "offset calibration: line ";
  appendInt(msg, line_no);
  msg += ": ";
  msg += what;
  return makeError(ErrorCode::kInvalidArgument, std::move(msg));
}

}  // namespace

// ==================================================================== configuration

CalibrationConfig CalibrationConfig::forString(const model::StringConfig& string_cfg) {
  CalibrationConfig c;
  const auto& chem = model::chemistryInfo(string_cfg.chemistry);
  const auto& module = model::moduleTypeInfo(string_cfg.module_type);
  const double v_scale = chem.nominal_voltage_v / 12.0;
  if (string_cfg.capacity_ah > 0.0) {
    c.capacity_ah = string_cfg.capacity_ah;
  }
  c.nominal_float_v = string_cfg.charger.float_v_per_cell * chem.cells_per_block;
  c.ocv_span_v = chem.ocv_full_v - chem.ocv_empty_v;
  // Entropic coefficient: +0.2 mV/K/cell for lead-acid (§6.3 [G]); none assumed otherwise.
  const bool lead_acid = string_cfg.chemistry == model::Chemistry::kVrla12V ||
                         string_cfg.chemistry == model::Chemistry::kVrla2V ||
                         string_cfg.chemistry == model::Chemistry::kVented2V;
  c.ocv_temp_coeff_v_per_k = lead_acid ? 0.0002 * chem.cells_per_block : 0.0;
  // The datasheet's total accuracy split as in §6.3: gain 0.6 of it, offset 20 mV per 12 V.
  c.gain_error_max = 0.6 * module.voltage_accuracy_pct / 100.0;
  c.offset_error_max_v = 0.020 * v_scale;
  c.ri_error_max = module.ri_accuracy_pct / 100.0;
  c.noise_v = 0.001 * v_scale;
  c.event_noise_v = 0.0007 * v_scale;
  c.jump_min_v = 0.006 * v_scale;
  c.plausible_error_v = 0.2 * v_scale;
  c.frozen_change_v = 0.02 * v_scale;
  c.calibrated_sigma_v = 0.008 * v_scale;
  return c;
}

// ==================================================================== estimator

OffsetEstimator::OffsetEstimator(std::size_t blocks) : OffsetEstimator(blocks, {}) {}

OffsetEstimator::OffsetEstimator(std::size_t blocks, const CalibrationConfig& config)
    : config_(config),
      blocks_(blocks),
      acc_(blocks),
      event_excluded_(blocks, false),
      screen_(blocks),
      ok_(blocks, false) {
  scratch_.reserve(blocks);
}

void OffsetEstimator::update(const CalibrationSample& s) {
  const std::size_t n = blocks_.size();
  if (n == 0 || s.voltage_v.size() != n || s.valid.size() != n ||
      (!s.ri_ohm.empty() && s.ri_ohm.size() != n) ||
      (!s.temperature_c.empty() && s.temperature_c.size() != n)) {
    return;
  }
  if (last_time_ms_ >= 0 && s.time_ms <= last_time_ms_) {
    return;  // repeated or out-of-order sweep
  }
  const double dt_s =
      last_time_ms_ >= 0 ? static_cast<double>(s.time_ms - last_time_ms_) / 1000.0 : 0.0;
  last_time_ms_ = s.time_ms;
  screenBlocks(s);

  const double cap = std::max(1e-9, config_.capacity_ah);
  const bool current_ok = s.current_valid && std::isfinite(s.current_a);
  const bool discharge = s.mode_valid && s.mode == model::StringModeValue::kDischarge;
  const bool qualifying = discharge && current_ok && s.current_a <= -config_.min_discharge_c * cap;
  const bool settled_float = s.mode_valid && s.mode == model::StringModeValue::kFloat &&
                             current_ok && std::fabs(s.current_a) < config_.settled_float_c * cap;

  // ---- discharge events ----
  if (in_event_) {
    if (s.mode_valid && !discharge) {
      finishEvent();
      in_event_ = false;
    } else if (qualifying) {
      const DurationMs gap_ms = s.time_ms - event_last_ms_;
      event_last_ms_ = s.time_ms;
      if (gap_ms > config_.max_gap_ms) {
        event_done_ = true;  // lost track of the charge drawn: drop this event
      }
      event_charge_ah_ += -s.current_a * static_cast<double>(gap_ms) / kHourMs;
      if (!event_done_ && event_eligible_) {
        const DurationMs elapsed_ms = s.time_ms - event_start_ms_;
        if (elapsed_ms > config_.window_ms || event_charge_ah_ > config_.window_charge_c * cap) {
          finishEvent();
          event_done_ = true;
        } else if (elapsed_ms >= config_.skip_ms &&
                   event_charge_ah_ >= config_.skip_charge_c * cap) {
          accumulate(s, static_cast<double>(elapsed_ms) / 1000.0, event_charge_ah_);
        }
      }
    }
  } else if (qualifying) {
    in_event_ = true;
    event_done_ = false;
    // Only a discharge from full charge: the string must have been in settled float long enough.
    event_eligible_ =
        float_since_ms_ >= 0 && s.time_ms - float_since_ms_ >= config_.min_float_before_ms;
    event_start_ms_ = s.time_ms;
    event_last_ms_ = s.time_ms;
    event_charge_ah_ = 0.0;
    std::fill(acc_.begin(), acc_.end(), Accum{});
    std::fill(event_excluded_.begin(), event_excluded_.end(), false);
  }

  // ---- settled float: period tracking and the mean error from the set-point ----
  if (settled_float) {
    if (float_since_ms_ < 0) {
      float_since_ms_ = s.time_ms;
    }
    updateFloatMean(s, dt_s);
  } else if (s.mode_valid) {
    float_since_ms_ = -1;
  }
}

// Usable readings of this sweep: valid, finite, and not frozen. A reading that stays bit-identical
// while the string's median moves by more than frozen_change_v is a stuck sensor (a live
// reading carries ~1 mV of noise and follows the string); it stays excluded until it changes,
// and its samples of the running event are dropped.
void OffsetEstimator::screenBlocks(const CalibrationSample& s) {
  const std::size_t n = blocks_.size();
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (s.valid[i] && std::isfinite(s.voltage_v[i])) {
      scratch_.push_back(s.voltage_v[i]);
    }
  }
  const double med = scratch_.empty() ? 0.0 : medianOf(scratch_);
  for (std::size_t i = 0; i < n; ++i) {
    const bool live = s.valid[i] && std::isfinite(s.voltage_v[i]);
    Screen& sc = screen_[i];
    if (live) {
      if (sc.seen && s.voltage_v[i] == sc.last_v) {
        if (!sc.frozen && std::fabs(med - sc.median_at_last_v) > config_.frozen_change_v) {
          sc.frozen = true;
          acc_[i] = Accum{};
          event_excluded_[i] = true;
        }
      } else {
        sc.seen = true;
        sc.frozen = false;
        sc.last_v = s.voltage_v[i];
        sc.median_at_last_v = med;
      }
    }
    ok_[i] = live && !sc.frozen;
  }
}

bool OffsetEstimator::frozen(std::size_t block) const {
  return screen_.at(block).frozen;
}

void OffsetEstimator::updateFloatMean(const CalibrationSample& s, double dt_s) {
  const std::size_t n = blocks_.size();
  if (!(s.charger_setpoint_v > 0.0) || !std::isfinite(s.charger_setpoint_v)) {
    return;
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!ok_[i] || blocks_[i].suspect) {
      return;  // the sum constraint needs every block, and every block plausible
    }
    sum += s.voltage_v[i];
  }
  const double nd = static_cast<double>(n);
  const double y = (sum - s.charger_setpoint_v) / nd;
  const double tau_s =
      static_cast<double>(std::max<DurationMs>(1, config_.float_mean_tau_ms)) / 1000.0;
  mean_weight_ = mean_weight_ * std::exp(-std::max(0.0, dt_s) / tau_s) + 1.0;
  mean_err_v_ += (y - mean_err_v_) / mean_weight_;
  v_ref_ += (s.charger_setpoint_v / nd - v_ref_) / mean_weight_;
}

void OffsetEstimator::accumulate(const CalibrationSample& s, double elapsed_s, double charge_ah) {
  const std::size_t n = blocks_.size();
  if (s.ri_ohm.empty()) {
    return;  // without Ri the IR drop cannot be taken out
  }
  const double i_a = -s.current_a;
  std::size_t count = 0;
  auto usable = [&](std::size_t i) {
    return ok_[i] && !event_excluded_[i] && std::isfinite(s.ri_ohm[i]) && s.ri_ohm[i] > 0.0;
  };
  for (std::size_t i = 0; i < n; ++i) {
    count += usable(i) ? 1 : 0;
  }
  const auto min_count = static_cast<std::size_t>(
      std::max(3.0, std::ceil(config_.min_valid_fraction * static_cast<double>(n))));
  if (count < min_count) {
    return;
  }

  // Median temperature, Ri and voltage of the usable blocks.
  const bool have_t = !s.temperature_c.empty();
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (usable(i) && have_t && std::isfinite(s.temperature_c[i])) {
      scratch_.push_back(s.temperature_c[i]);
    }
  }
  const bool t_ok = scratch_.size() >= min_count;
  const double t_med = t_ok ? medianOf(scratch_) : 0.0;
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (usable(i)) {
      scratch_.push_back(s.ri_ohm[i]);
    }
  }
  const double ri_med = medianOf(scratch_);
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (usable(i)) {
      scratch_.push_back(s.voltage_v[i]);
    }
  }
  const double level_v = medianOf(scratch_);

  // x_i = V_meas + |I|·Ri − dOCV/dT·(T_i − T_med): the same for every block but module error.
  auto x_of = [&](std::size_t i) {
    double x = s.voltage_v[i] + i_a * s.ri_ohm[i];
    if (t_ok && std::isfinite(s.temperature_c[i])) {
      x -= config_.ocv_temp_coeff_v_per_k * (s.temperature_c[i] - t_med);
    }
    return x;
  };
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (usable(i)) {
      scratch_.push_back(x_of(i));
    }
  }
  const double x_med = medianOf(scratch_);

  // Weight: read noise plus what grows between blocks as the discharge goes on — capacity
  // scatter (OCV falls ∝ charge/C_i) and RC polarization scatter (∝ the blocks' resistances).
  const double dod = charge_ah / std::max(1e-9, config_.capacity_ah);
  const double sig_cap = config_.capacity_scatter * config_.ocv_span_v * dod;
  const double sig_rc = config_.polarization_scatter * i_a * ri_med *
                        (1.0 - std::exp(-elapsed_s / std::max(1e-9, config_.polarization_tau_s)));
  const double phys = sig_cap * sig_cap + sig_rc * sig_rc;
  const double w = 1.0 / (config_.noise_v * config_.noise_v + phys);

  for (std::size_t i = 0; i < n; ++i) {
    if (!usable(i)) {
      continue;
    }
    const double d = x_of(i) - x_med;
    Accum& a = acc_[i];
    a.sw += w;
    a.swd += w * d;
    a.swd2 += w * d * d;
    a.sw2 += w * w;
    a.swphys += w * phys;
    a.swlevel += w * level_v;
    a.swdrop += w * i_a * s.ri_ohm[i];
    ++a.n;
  }
}

void OffsetEstimator::finishEvent() {
  if (!event_eligible_ || event_done_) {
    return;
  }
  const std::size_t n = blocks_.size();
  struct Result1 {
    bool ok = false;
    double x = 0, var = 0, level = 0, drop = 0;
  };
  std::vector<Result1> r(n);
  // How much a block's deviation moves within the event: against what noise and the modelled
  // scatter explain, or the string's median movement when the blocks scatter more than modelled.
  const auto spread2_of = [](const Accum& a) {
    const double mean = a.swd / a.sw;
    return a.swd2 / a.sw - mean * mean;
  };
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (acc_[i].n >= config_.min_samples && acc_[i].sw > 0.0) {
      scratch_.push_back(spread2_of(acc_[i]));
    }
  }
  const double median_spread2 = scratch_.empty() ? 0.0 : medianOf(scratch_);
  for (std::size_t i = 0; i < n; ++i) {
    const Accum& a = acc_[i];
    if (a.n < config_.min_samples || !(a.sw > 0.0)) {
      continue;
    }
    const double mean = a.swd / a.sw;
    const double spread2 = spread2_of(a);
    const double expected2 =
        std::max(config_.noise_v * config_.noise_v + a.swphys / a.sw, median_spread2);
    if (spread2 > config_.consistency_factor * config_.consistency_factor * expected2) {
      ++blocks_[i].inconsistent;
      continue;
    }
    const double s2 = std::max(spread2, config_.noise_v * config_.noise_v);
    const double n_eff = a.sw * a.sw / a.sw2;
    r[i].ok = true;
    r[i].x = mean;
    r[i].var = s2 / n_eff + a.swphys / a.sw + config_.event_noise_v * config_.event_noise_v;
    r[i].level = a.swlevel / a.sw;
    r[i].drop = a.swdrop / a.sw;
  }
  // Align the event to the existing estimates: the sample medians of two events need not refer
  // to the same blocks (invalid modules, a jumped module). Median of the differences.
  scratch_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (r[i].ok && blocks_[i].events > 0) {
      scratch_.push_back(r[i].x - blocks_[i].rel_v);
    }
  }
  const double align = scratch_.size() >= 3 ? medianOf(scratch_) : 0.0;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!r[i].ok) {
      continue;
    }
    if (std::fabs(r[i].x - align) > config_.plausible_error_v) {
      // Not a calibration error: the reading is faulty, and so is the float sum that includes it.
      ++blocks_[i].rejected;
      blocks_[i].suspect = true;
      mean_weight_ = 0.0;
      mean_err_v_ = 0.0;
      continue;
    }
    blocks_[i].suspect = false;
    applyEvent(i, r[i].x - align, r[i].var, r[i].level, r[i].drop);
    any = true;
  }
  if (any) {
    ++string_events_;
  }
}

void OffsetEstimator::applyEvent(std::size_t b, double value_v, double var_v2, double level_v,
                                 double drop_v) {
  Block& k = blocks_[b];
  if (k.events == 0) {
    k.rel_v = value_v;
    k.var_v2 = var_v2;
    k.level_v = level_v;
    k.drop_v = drop_v;
    k.events = 1;
    k.pending = false;
    return;
  }
  const double p = k.var_v2 / std::clamp(config_.forgetting, 1e-3, 1.0);
  const double innovation = value_v - k.rel_v;
  const double threshold = std::max(config_.jump_sigma * std::sqrt(p + var_v2), config_.jump_min_v);
  if (std::fabs(innovation) > threshold) {
    const double confirm =
        std::max(config_.jump_sigma * std::sqrt(k.pending_var_v2 + var_v2), config_.jump_min_v);
    if (k.pending && std::fabs(value_v - k.pending_v) <= confirm) {
      // Two consecutive events agree with each other and not with the estimate: the module's
      // error has changed. Restart the block from these two events.
      const double w1 = 1.0 / k.pending_var_v2;
      const double w2 = 1.0 / var_v2;
      k.rel_v = (w1 * k.pending_v + w2 * value_v) / (w1 + w2);
      k.var_v2 = 1.0 / (w1 + w2);
      k.level_v = level_v;
      k.drop_v = drop_v;
      k.events = 2;
      ++k.jumps;
      k.pending = false;
    } else {
      k.pending = true;  // hold back until the next event confirms or refutes it
      k.pending_v = value_v;
      k.pending_var_v2 = var_v2;
    }
    return;
  }
  const double gain = p / (p + var_v2);
  k.rel_v += gain * innovation;
  k.var_v2 = (1.0 - gain) * p;
  k.level_v += gain * (level_v - k.level_v);
  k.drop_v += gain * (drop_v - k.drop_v);
  ++k.events;
  k.pending = false;
}

double OffsetEstimator::priorSigmaV() const {
  const double v = v_ref_ > 0.0 ? v_ref_ : config_.nominal_float_v;
  const double sg = config_.gain_error_max * v;
  const double so = config_.offset_error_max_v;
  return std::sqrt((sg * sg + so * so) / 3.0);
}

// Best linear predictor of the error at the float voltage V_f from the error at the discharge
// level V_d, for independent uniform gain and offset errors:
//   β = (σg²·V_f·V_d + σo²) / (σg²·V_d² + σo²).
double OffsetEstimator::beta(double level_v) const {
  const double vf = v_ref_ > 0.0 ? v_ref_ : config_.nominal_float_v;
  const double vd = level_v > 0.0 ? level_v : vf;
  const double sg2 = config_.gain_error_max * config_.gain_error_max / 3.0;
  const double so2 = config_.offset_error_max_v * config_.offset_error_max_v / 3.0;
  const double den = sg2 * vd * vd + so2;
  return den > 0.0 ? (sg2 * vf * vd + so2) / den : 1.0;
}

double OffsetEstimator::relCenterV() const {
  double sum = 0.0;
  int count = 0;
  for (const Block& k : blocks_) {
    if (k.events > 0) {
      sum += k.rel_v;
      ++count;
    }
  }
  return count > 0 ? sum / count : 0.0;
}

double OffsetEstimator::errorV(std::size_t block) const {
  const Block& k = blocks_.at(block);
  if (k.events == 0) {
    return mean_err_v_;
  }
  return mean_err_v_ + beta(k.level_v) * (k.rel_v - relCenterV());
}

double OffsetEstimator::uncertaintyV(std::size_t block) const {
  const Block& k = blocks_.at(block);
  const double prior = priorSigmaV();
  if (k.events == 0) {
    return prior;
  }
  const double nd = static_cast<double>(blocks_.size());
  const double var_mean = mean_weight_ > 0.0
                              ? config_.noise_v * config_.noise_v / nd / mean_weight_ +
                                    config_.setpoint_sigma_v * config_.setpoint_sigma_v
                              : prior * prior / nd;
  // What the gain/offset split leaves unexplained when moving from V_d to V_f:
  //   σg²·σo²·(V_f − V_d)² / (σg²·V_d² + σo²).
  const double vf = v_ref_ > 0.0 ? v_ref_ : config_.nominal_float_v;
  const double vd = k.level_v > 0.0 ? k.level_v : vf;
  const double sg2 = config_.gain_error_max * config_.gain_error_max / 3.0;
  const double so2 = config_.offset_error_max_v * config_.offset_error_max_v / 3.0;
  const double den = sg2 * vd * vd + so2;
  const double var_extrap = den > 0.0 ? sg2 * so2 * (vf - vd) * (vf - vd) / den : 0.0;
  // Systematic Ri error of the module: |I|·Ri·ε with ε uniform within the Ri accuracy.
  const double sri = config_.ri_error_max * k.drop_v / std::sqrt(3.0);
  // The block's own RC polarization is a property of the block, the same in every event: its
  // scatter does not average out either (at most the full |I|·Ri share; the window sees less).
  const double src = config_.polarization_scatter * k.drop_v;
  const double b = beta(k.level_v);
  return std::sqrt(b * b * k.var_v2 + var_mean + var_extrap + sri * sri + src * src);
}

int OffsetEstimator::events(std::size_t block) const {
  return blocks_.at(block).events;
}

int OffsetEstimator::rejectedEvents(std::size_t block) const {
  return blocks_.at(block).rejected;
}

int OffsetEstimator::inconsistentEvents(std::size_t block) const {
  return blocks_.at(block).inconsistent;
}

int OffsetEstimator::jumps(std::size_t block) const {
  return blocks_.at(block).jumps;
}

bool OffsetEstimator::calibrated(std::size_t block) const {
  return blocks_.at(block).events > 0 && uncertaintyV(block) < config_.calibrated_sigma_v;
}

double OffsetEstimator::corrected(std::size_t block, double measured_v) const {
  return calibrated(block) ? measured_v - errorV(block) : measured_v;
}

// ==================================================================== persistence

std::string OffsetEstimator::serialize() const {
  std::string out;
  out += kMagic;
  out += " v";
  appendInt(out, kFormatVersion);
  out += "\nblocks ";
  appendInt(out, blocks_.size());
  out += '\n';
  for (const auto& f : kDoubleFields) {
    out += "config ";
    out += f.name;
    out += ' ';
    appendDouble(out, config_.*f.member);
    out += '\n';
  }
  for (const auto& f : kDurationFields) {
    out += "config ";
    out += f.name;
    out += ' ';
    appendInt(out, config_.*f.member);
    out += '\n';
  }
  for (const auto& f : kIntFields) {
    out += "config ";
    out += f.name;
    out += ' ';
    appendInt(out, config_.*f.member);
    out += '\n';
  }
  out += "mean ";
  appendDouble(out, mean_err_v_);
  out += ' ';
  appendDouble(out, mean_weight_);
  out += ' ';
  appendDouble(out, v_ref_);
  out += ' ';
  appendInt(out, string_events_);
  out += '\n';
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const Block& k = blocks_[i];
    out += "block ";
    appendInt(out, i);
    for (double v : {k.rel_v, k.var_v2, k.level_v, k.drop_v}) {
      out += ' ';
      appendDouble(out, v);
    }
    out += ' ';
    appendInt(out, k.events);
    out += ' ';
    appendInt(out, k.jumps);
    out += ' ';
    appendInt(out, k.rejected);
    out += k.suspect ? " 1" : " 0";
    out += k.pending ? " 1 " : " 0 ";
    appendDouble(out, k.pending_v);
    out += ' ';
    appendDouble(out, k.pending_var_v2);
    out += '\n';
  }
  out += "end\n";
  return out;
}

Result<OffsetEstimator> OffsetEstimator::deserialize(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::size_t li = 0;
  auto next = [&]() -> std::vector<std::string_view> {
    while (li < lines.size()) {
      auto t = tokens(lines[li++]);
      if (!t.empty()) {
        return t;
      }
    }
    return {};
  };

  auto t = next();
  if (t.size() != 2 || t[0] != kMagic) {
    return makeError(ErrorCode::kInvalidArgument,
                     "offset calibration: not an offset-calibration record (bad header)");
  }
  std::string expected_version = "v";
  appendInt(expected_version, kFormatVersion);
  if (t[1] != expected_version) {
    return parseError(li, "unsupported format version '" + std::string(t[1]) + "'");
  }
  t = next();
  std::optional<std::size_t> n;
  if (t.size() == 2 && t[0] == "blocks") {
    n = parseInt<std::size_t>(t[1]);
  }
  if (!n || *n == 0 || *n > 100000) {
    return parseError(li, "expected 'blocks <count>'");
  }

  CalibrationConfig cfg;
  std::vector<bool> block_seen(*n, false);
  bool mean_seen = false;
  double mean_err = 0, mean_weight = 0, v_ref = 0;
  int string_events = 0;
  std::vector<Block> blocks(*n);
  bool end_seen = false;
  while (!(t = next()).empty()) {
    if (t[0] == "end" && t.size() == 1) {
      end_seen = true;
      break;
    }
    if (t[0] == "config" && t.size() == 3) {
      bool known = false;
      for (const auto& f : kDoubleFields) {
        if (f.name == t[1]) {
          const auto v = parseDouble(t[2]);
          if (!v) {
            return parseError(li, "bad number for " + std::string(t[1]));
          }
          cfg.*f.member = *v;
          known = true;
        }
      }
      for (const auto& f : kDurationFields) {
        if (f.name == t[1]) {
          const auto v = parseInt<DurationMs>(t[2]);
          if (!v || *v < 0) {
            return parseError(li, "bad duration for " + std::string(t[1]));
          }
          cfg.*f.member = *v;
          known = true;
        }
      }
      for (const auto& f : kIntFields) {
        if (f.name == t[1]) {
          const auto v = parseInt<int>(t[2]);
          if (!v) {
            return parseError(li, "bad integer for " + std::string(t[1]));
          }
          cfg.*f.member = *v;
          known = true;
        }
      }
      if (!known) {
        return parseError(li, "unknown config field '" + std::string(t[1]) + "'");
      }
      continue;
    }
    if (t[0] == "mean" && t.size() == 5) {
      const auto a = parseDouble(t[1]);
      const auto b = parseDouble(t[2]);
      const auto c = parseDouble(t[3]);
      const auto d = parseInt<int>(t[4]);
      if (!a || !b || !c || !d || *b < 0.0 || *c < 0.0 || *d < 0) {
        return parseError(li, "bad 'mean' record");
      }
      mean_err = *a;
      mean_weight = *b;
      v_ref = *c;
      string_events = *d;
      mean_seen = true;
      continue;
    }
    if (t[0] == "block" && t.size() == 13) {
      const auto idx = parseInt<std::size_t>(t[1]);
      if (!idx || *idx >= *n) {
        return parseError(li, "block index out of range");
      }
      if (block_seen[*idx]) {
        return parseError(li, "duplicate block record");
      }
      double vals[4];
      for (int j = 0; j < 4; ++j) {
        const auto v = parseDouble(t[2 + static_cast<std::size_t>(j)]);
        if (!v) {
          return parseError(li, "bad number in block record");
        }
        vals[j] = *v;
      }
      const auto ev = parseInt<int>(t[6]);
      const auto jumps = parseInt<int>(t[7]);
      const auto rejected = parseInt<int>(t[8]);
      const auto suspect = parseInt<int>(t[9]);
      const auto pend = parseInt<int>(t[10]);
      const auto pv = parseDouble(t[11]);
      const auto pvar = parseDouble(t[12]);
      if (!ev || !jumps || !rejected || !suspect || !pend || !pv || !pvar || *ev < 0 ||
          *jumps < 0 || *rejected < 0 || (*suspect != 0 && *suspect != 1) ||
          (*pend != 0 && *pend != 1) || vals[1] < 0.0 || *pvar < 0.0 ||
          (*pend == 1 && !(*pvar > 0.0))) {
        return parseError(li, "bad block record");
      }
      Block& k = blocks[*idx];
      k.rel_v = vals[0];
      k.var_v2 = vals[1];
      k.level_v = vals[2];
      k.drop_v = vals[3];
      k.events = *ev;
      k.jumps = *jumps;
      k.rejected = *rejected;
      k.suspect = *suspect == 1;
      k.pending = *pend == 1;
      k.pending_v = *pv;
      k.pending_var_v2 = *pvar;
      block_seen[*idx] = true;
      continue;
    }
    return parseError(li, "unexpected record '" + std::string(t[0]) + "'");
  }
  if (!end_seen) {
    return parseError(li, "truncated record (no 'end')");
  }
  if (!mean_seen || std::find(block_seen.begin(), block_seen.end(), false) != block_seen.end()) {
    return parseError(li, "missing 'mean' or 'block' records");
  }
  if (!next().empty()) {
    return parseError(li, "data after 'end'");
  }
  OffsetEstimator e(*n, cfg);
  e.blocks_ = std::move(blocks);
  e.mean_err_v_ = mean_err;
  e.mean_weight_ = mean_weight;
  e.v_ref_ = v_ref;
  e.string_events_ = string_events;
  return e;
}

}  // namespace equalis::analysis
