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
