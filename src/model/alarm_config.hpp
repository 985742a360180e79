// Alarm rule overrides from the configuration file ([[alarms.rule]]) and the REST API: any field
// of a default rule, for all strings or for one string. See docs/alarms.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace equalis::model {

struct AlarmRuleOverride {
  std::string rule_id;    // "block.voltage_high"
  int string_number = 0;  // 1-based; 0 = every string (and the system rules)
  std::optional<bool> enabled;
  std::optional<double> warning;
  std::optional<double> alarm;
  std::optional<double> hysteresis;
  std::optional<DurationMs> on_delay_ms;
  std::optional<DurationMs> off_delay_ms;

  bool operator==(const AlarmRuleOverride&) const = default;
};

// Per-block internal-resistance baseline (IEEE 1188 practice: trend against the block's own
// value, not a datasheet): the median of `ri_baseline_samples` readings taken
// `ri_baseline_interval_ms` apart, starting `ri_baseline_delay_ms` after first sight of the block
// (IEEE 1188 suggests about 6 months after installation for a new battery).
struct AlarmsConfig {
  std::vector<AlarmRuleOverride> overrides;  // applied in order; per-string after plant-wide
  int ri_baseline_samples = 24;
  DurationMs ri_baseline_interval_ms = kHourMs;
  DurationMs ri_baseline_delay_ms = 0;

  bool operator==(const AlarmsConfig&) const = default;
};

}  // namespace equalis::model
