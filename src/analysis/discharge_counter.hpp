// The charge drawn from a string since a discharge began: trapezoids of the discharge current
// between sweeps (a charging current counts as none; a sweep without a current reading is
// bridged by the next one). Used by the block-capacity estimate and the capacity-test detector.
#pragma once

#include <algorithm>
#include <cmath>

#include "core/clock.hpp"

namespace equalis::analysis {

class DischargeCounter {
 public:
  // A discharge begins at `t_ms` with `current_a` (A, + charge; NaN: no reading).
  void start(TimeMs t_ms, double current_a) {
    last_ms_ = t_ms;
    last_current_a_ = std::isfinite(current_a) ? current_a : 0.0;
    ah_ = 0.0;
  }
  // The next sweep's current.
  void add(TimeMs t_ms, double current_a) {
    if (!std::isfinite(current_a)) {
      return;
    }
    const double dt_h = static_cast<double>(t_ms - last_ms_) / static_cast<double>(kHourMs);
    ah_ += std::max(0.0, -0.5 * (current_a + last_current_a_)) * std::max(0.0, dt_h);
    last_ms_ = t_ms;
    last_current_a_ = current_a;
  }
  double ah() const { return ah_; }

 private:
  TimeMs last_ms_ = 0;
  double last_current_a_ = 0;
  double ah_ = 0;
};

}  // namespace equalis::analysis
