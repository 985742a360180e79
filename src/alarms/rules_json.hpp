// Alarm rules and rule overrides as JSON: the REST representation and the file in which overrides
// made at run time persist (data_dir/alarm_rules.json).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alarms/alarms.hpp"
#include "core/result.hpp"
#include "model/alarm_config.hpp"

namespace equalis::alarms {

// {"id", "point", "direction", "warning", "alarm", "hysteresis", "on_delay_s", "off_delay_s",
//  "enabled", "unit", "origin"}
nlohmann::ordered_json ruleJson(const Rule& r);

// One override from a JSON object with any of enabled, warning, alarm, hysteresis, on_delay_s,
// off_delay_s (and, in the file, rule and string). Unknown keys and wrong types are errors that
// name the key.
Result<model::AlarmRuleOverride> overrideFromJson(const nlohmann::ordered_json& j,
                                                  bool with_target);
nlohmann::ordered_json overrideJson(const model::AlarmRuleOverride& o);

// The overrides file: {"version": 1, "overrides": [...]}.
std::string overridesFileText(const std::vector<model::AlarmRuleOverride>& overrides);
Result<std::vector<model::AlarmRuleOverride>> parseOverridesFile(const std::string& text);

}  // namespace equalis::alarms
