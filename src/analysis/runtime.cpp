#include "analysis/runtime.hpp"

#include <algorithm>
#include <cmath>

#include "analysis/mode.hpp"

namespace equalis::analysis {

std::optional<Runtime> runtimeAtLoad(model::Chemistry chemistry, double nominal_ah, double load_a,
                                     std::span<const RuntimeBlock> blocks) {
  if (!(load_a > 0.0) || !(nominal_ah > 0.0)) {
    return std::nullopt;
  }
  std::optional<Runtime> best;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const auto& blk = blocks[b];
    if (!std::isfinite(blk.charge_fraction)) {
      continue;
    }
    const double c_ah = blk.capacity_ah > 0.0 ? blk.capacity_ah : nominal_ah;
    const double t_c = std::isfinite(blk.temperature_c) ? blk.temperature_c : 25.0;
    const double out_ah = (1.0 - std::clamp(blk.charge_fraction, 0.0, 1.0)) * c_ah;
    const double available_ah = c_ah * model::capacityAtRate(chemistry, load_a / c_ah) *
                                    model::capacityTemperatureFactor(chemistry, t_c) -
                                out_ah;
    const double seconds = std::max(0.0, available_ah) / load_a * 3600.0;
    if (!best || seconds < best->seconds) {
      best = Runtime{seconds, b, load_a, false};
    }
  }
  return best;
}

std::optional<DischargeLevel> levelFromDischarge(const DischargeRecord& r,
                                                 const StringCapacityEstimator& est,
                                                 model::Chemistry chemistry, double nominal_ah) {
  const double load_a = r.meanCurrentA();
  if (r.crossings.empty() || !(load_a > 0.0) || r.ah_out < 0.1 * nominal_ah) {
    return std::nullopt;
  }
  double w_sum = 0.0;
  double wl_sum = 0.0;
  int blocks = 0;
  for (const auto& c : r.crossings.back()) {
    const auto b = static_cast<std::size_t>(c.block - 1);
    if (b >= est.blocks().size() || b >= r.blocks.size()) {
      continue;
    }
    const auto& cap = est.blocks()[b];
    const auto& rec = r.blocks[b];
    if (cap.events == 0 || !(cap.relative > 0.0) || !std::isfinite(rec.charge_start_pct)) {
      continue;
    }
    // What was missing at the start, in Ah: the block's charge against the capacity then assumed.
    const double missing_ah = (1.0 - std::clamp(rec.charge_start_pct / 100.0, 0.0, 1.0)) *
                              (cap.capacity_ah > 0.0 ? cap.capacity_ah : nominal_ah);
    const double delivered_ah = c.ah_out + missing_ah;
    double t_c = 25.0;
    if (std::isfinite(rec.start_temperature_c)) {
      t_c = std::isfinite(rec.max_temperature_c)
                ? 0.5 * (rec.start_temperature_c + rec.max_temperature_c)
                : rec.start_temperature_c;
    }
    const double k_t = model::capacityTemperatureFactor(chemistry, t_c);
    double c_ah = std::max(delivered_ah, 1e-3);
    for (int i = 0; i < 30; ++i) {  // F varies slowly with C: a fixed point in a few steps
      c_ah = delivered_ah / (model::capacityAtRate(chemistry, load_a / c_ah) * k_t);
    }
    const double rel_sd = std::max(1e-3, cap.relative_sigma / cap.relative);
    const double w = 1.0 / (rel_sd * rel_sd);
    w_sum += w;
    wl_sum += w * c_ah / cap.relative;
    ++blocks;
  }
  if (blocks == 0) {
    return std::nullopt;
  }
  const double level = wl_sum / w_sum;
  return DischargeLevel{level, level * std::hypot(kRateTableSigma, 1.0 / std::sqrt(w_sum)), blocks};
}

StringCapacityLevel fuseLevel(StringCapacityEstimator& est, const DischargeLevel& level,
                              TimeMs t_ms) {
  double capacity_ah = level.capacity_ah;
  double sigma_ah = level.sigma_ah;
  const auto& old = est.level();
  if (old.anchored) {
    constexpr double kYearMs = 365.25 * 24.0 * static_cast<double>(kHourMs);
    const double age_years = std::max(0.0, static_cast<double>(t_ms - est.anchoredMs()) / kYearMs);
    const double old_sigma =
        std::hypot(old.sigma_ah, kLevelDriftPerYear * old.capacity_ah * age_years);
    const double w_new = 1.0 / (sigma_ah * sigma_ah);
    const double w_old = 1.0 / (old_sigma * old_sigma);
    capacity_ah = (w_new * capacity_ah + w_old * old.capacity_ah) / (w_new + w_old);
    sigma_ah = 1.0 / std::sqrt(w_new + w_old);
  }
  est.anchor(capacity_ah, sigma_ah, t_ms);
  return est.level();
}

RuntimePredictor::RuntimePredictor(model::Chemistry chemistry, double nominal_ah)
    : chemistry_(chemistry), nominal_ah_(nominal_ah) {}

void RuntimePredictor::update(TimeMs t_ms, double current_a, bool discharging,
                              std::span<const RuntimeBlock> blocks) {
  const double draw_a = std::isfinite(current_a) ? std::max(0.0, -current_a) : std::nan("");
  // The tail of a discharge (the mains are back, the mode waits a minute before it leaves
  // discharge) is not the load: only a draw that would start a discharge counts.
  const bool loaded =
      std::isfinite(draw_a) && draw_a >= -ModeTracker::kDischargeEnterPerAh * nominal_ah_;
  if (discharging && !in_discharge_) {
    in_discharge_ = true;
    load_a_ = std::isfinite(draw_a) ? draw_a : 0.0;
    sum_amp_ms_ = 0.0;
    sum_ms_ = 0.0;
  } else if (discharging && loaded) {
    const double dt_ms = static_cast<double>(std::max<TimeMs>(0, t_ms - last_ms_));
    const double a = 1.0 - std::exp(-dt_ms / 1000.0 / kLoadTauS);
    load_a_ += a * (draw_a - load_a_);
    sum_amp_ms_ += draw_a * dt_ms;
    sum_ms_ += dt_ms;
  } else if (!discharging && in_discharge_) {
    in_discharge_ = false;
    if (sum_ms_ > 0.0 && sum_amp_ms_ > 0.0) {
      last_load_a_ = sum_amp_ms_ / sum_ms_;
    } else if (load_a_ > 0.0) {
      last_load_a_ = load_a_;
    }
  }
  last_ms_ = t_ms;
  runtime_ = runtimeAtLoad(chemistry_, nominal_ah_, in_discharge_ ? load_a_ : last_load_a_, blocks);
  if (runtime_) {
    runtime_->on_battery = in_discharge_;
  }
}

}  // namespace equalis::analysis
