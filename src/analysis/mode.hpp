// Operating mode of a string from what the charger does, not from one current threshold:
//
//   discharge  current below −0.005 C (entered at once: a mains failure is a step); left only
//              after the current stayed above −0.002 C for a minute;
//   charge     the recharge after a discharge (or a charge seen from rest): constant current
//              with the voltage below the set-point, then constant voltage with the current
//              tapering. It ends — float — when the current has fallen to a float level, or when
//              it has stopped tapering (no new low for 30 min) while the charger holds the voltage;
//   float      the charger holds the set-point (constant voltage). A float current that rises —
//              ageing, a hot room, a runaway — stays float: the charger still holds the voltage.
//              Float is left for charge only when the voltage falls clearly below the set-point
//              with a charging current (the charger at its current limit);
//   rest       no current and no charger voltage (charger off, breaker open).
//
// Every change needs its condition to hold for a dwell time (hysteresis in time), and the
// thresholds differ for entering and leaving, so a current near a threshold cannot flap the mode.
#pragma once

#include "core/clock.hpp"
#include "model/points.hpp"

namespace equalis::analysis {

struct ModeInput {
  TimeMs time_ms = 0;
  double current_a = 0;             // + charge / − discharge
  double voltage_per_block_v = 0;   // mean block voltage
  double setpoint_per_block_v = 0;  // the charger's float set-point per block (compensated)
  double capacity_ah = 100;
};

class ModeTracker {
 public:
  explicit ModeTracker(model::StringModeValue initial = model::StringModeValue::kFloat)
      : mode_(initial) {}
  model::StringModeValue update(const ModeInput& in);
  model::StringModeValue mode() const { return mode_; }
  TimeMs sinceMs() const { return since_ms_; }  // when the present mode began (0 = start)
  // Thresholds, in A per Ah of capacity and as a fraction of the set-point.
  static constexpr double kDischargeEnterPerAh = -0.005;
  static constexpr double kDischargeLeavePerAh = -0.002;
  static constexpr double kFloatCurrentPerAh = 0.005;  // below: float current
  static constexpr double kCvFraction = 0.97;          // voltage held at ≥ this × set-point: CV
  static constexpr double kCcFraction = 0.96;          // float → charge below this × set-point
  static constexpr DurationMs kDwellMs = kMinuteMs;
  static constexpr DurationMs kTaperDwellMs = 30 * kMinuteMs;

 private:
  void enter(model::StringModeValue m, TimeMs t);
  // A condition must hold continuously for a dwell; `since` keeps when it started (−1 = not).
  static bool heldFor(bool condition, TimeMs now, TimeMs& since, DurationMs dwell);

  model::StringModeValue mode_;
  TimeMs since_ms_ = 0;
  TimeMs cond_a_ms_ = -1;  // condition timers of the present mode's exits (−1 = not holding)
  TimeMs cond_b_ms_ = -1;
  double taper_low_a_ = 0;  // lowest current since the charge reached constant voltage
  TimeMs taper_low_ms_ = -1;
};

}  // namespace equalis::analysis
