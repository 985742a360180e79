#include "analysis/mode.hpp"

#include <cmath>

namespace equalis::analysis {

using model::StringModeValue;

bool ModeTracker::heldFor(bool condition, TimeMs now, TimeMs& since, DurationMs dwell) {
  if (!condition) {
    since = -1;
    return false;
  }
  if (since < 0) {
    since = now;
  }
  return now - since >= dwell;
}

void ModeTracker::enter(StringModeValue m, TimeMs t) {
  mode_ = m;
  since_ms_ = t;
  cond_a_ms_ = -1;
  cond_b_ms_ = -1;
  taper_low_ms_ = -1;
  taper_low_a_ = 0;
}

StringModeValue ModeTracker::update(const ModeInput& in) {
  const TimeMs t = in.time_ms;
  const double c_ah = std::max(in.capacity_ah, 1e-3);
  const double i = in.current_a;
  const double float_a = kFloatCurrentPerAh * c_ah;
  const bool at_cv = in.setpoint_per_block_v > 0 &&
                     in.voltage_per_block_v >= kCvFraction * in.setpoint_per_block_v;
  const bool below_cc =
      in.setpoint_per_block_v > 0 && in.voltage_per_block_v < kCcFraction * in.setpoint_per_block_v;

  if (mode_ != StringModeValue::kDischarge && i < kDischargeEnterPerAh * c_ah) {
    enter(StringModeValue::kDischarge, t);  // a mains failure is a step: no dwell
    return mode_;
  }
  switch (mode_) {
    case StringModeValue::kDischarge:
      if (heldFor(i > kDischargeLeavePerAh * c_ah, t, cond_a_ms_, kDwellMs)) {
        enter(i > float_a ? StringModeValue::kCharge
                          : (at_cv ? StringModeValue::kFloat : StringModeValue::kRest),
              t);
      }
      break;
    case StringModeValue::kCharge: {
      if (at_cv) {
        // Tapering: the current keeps making new lows (by more than its noise).
        const double margin_a = 0.01 * std::fabs(i) + 0.0002 * c_ah;
        if (taper_low_ms_ < 0 || i < taper_low_a_ - margin_a) {
          taper_low_a_ = i;
          taper_low_ms_ = t;
        }
      } else {
        taper_low_ms_ = -1;
      }
      const bool settled = heldFor(at_cv && i <= float_a, t, cond_a_ms_, 5 * kDwellMs);
      const bool taper_over = at_cv && taper_low_ms_ >= 0 && t - taper_low_ms_ >= kTaperDwellMs;
      if (settled || taper_over) {
        enter(StringModeValue::kFloat, t);
      } else if (heldFor(!at_cv && std::fabs(i) <= 0.2 * float_a, t, cond_b_ms_, 5 * kDwellMs)) {
        enter(StringModeValue::kRest, t);
      }
      break;
    }
    case StringModeValue::kFloat:
      if (heldFor(below_cc && i > float_a, t, cond_a_ms_, kDwellMs)) {
        enter(StringModeValue::kCharge, t);
      } else if (heldFor(!at_cv && i <= float_a, t, cond_b_ms_, 5 * kDwellMs)) {
        enter(StringModeValue::kRest, t);
      }
      break;
    case StringModeValue::kRest:
      if (heldFor(i > float_a, t, cond_a_ms_, kDwellMs)) {
        enter(StringModeValue::kCharge, t);
      } else if (heldFor(at_cv, t, cond_b_ms_, kDwellMs)) {
        enter(StringModeValue::kFloat, t);
      }
      break;
  }
  return mode_;
}

}  // namespace equalis::analysis
