// What every protocol adapter shows of an active alarm beyond its raw fields: a stable numeric
// code per rule id (Modbus), the protocol row id, the value and threshold as text with the unit
// of the rule, and the alarm counts. Header-only; the rule units come from the plant's rule
// table (alarms::defaultRules / defaultSystemRules).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "alarms/alarms.hpp"
#include "model/plant.hpp"

namespace equalis::adapters {

struct RuleCode {
  std::uint16_t code;
  std::string_view rule_id;
};

// Numeric rule codes: part of the Modbus map (docs/modbus.md); never renumber, only append.
// 0 = a rule not in this list.
inline constexpr std::array<RuleCode, 25> kRuleCodes = {{
    {1, "block.voltage_high"},
    {2, "block.voltage_low"},
    {3, "block.temperature_high"},
    {4, "block.temperature_low"},
    {5, "block.ri_high"},
    {6, "block.equalization_high"},
    {7, "block.comm_lost"},
    {8, "block.ri_rise"},
    {9, "block.module_fault"},
    {10, "block.health"},
    {11, "block.weak"},
    {20, "string.voltage_high"},
    {21, "string.voltage_low"},
    {22, "string.deviation_high"},
    {23, "string.discharge_current_high"},
    {24, "string.charge_current_high"},
    {25, "string.ripple_high"},
    {26, "string.thermal_runaway"},
    {27, "string.electrolyte_low"},
    {28, "string.charger_voltage_high"},
    {29, "string.charger_voltage_low"},
    {40, "system.ambient_high"},
    {41, "system.ambient_low"},
    {42, "system.humidity_high"},
    {43, "system.hydrogen_high"},
}};

// Digital-input alarms ("input.aux1.di3") share one code.
inline constexpr std::uint16_t kInputRuleCode = 60;

inline std::uint16_t ruleCode(std::string_view rule_id) {
  if (rule_id.starts_with("input.")) {
    return kInputRuleCode;
  }
  for (const auto& rc : kRuleCodes) {
    if (rc.rule_id == rule_id) {
      return rc.code;
    }
  }
  return 0;
}

// Alarms raised outside the rule engine (thermal-runaway protection) carry id 0; they get a
// stable id per string and block above the engine's range: 2^30 + string · 1000 + block.
inline constexpr std::uint32_t kExternalAlarmIdBase = 1u << 30;
inline std::uint32_t protocolAlarmId(const alarms::ActiveAlarm& a) {
  if (a.id != 0) {
    return a.id;
  }
  return kExternalAlarmIdBase + static_cast<std::uint32_t>(a.string_number) * 1000u +
         static_cast<std::uint32_t>(a.block_number);
}

// "14.620 V": a value of the alarm's rule with that rule's unit and decimals; plain "%g" for
// rules the default tables do not know.
inline std::string alarmQuantityText(const model::PlantConfig& plant, const alarms::ActiveAlarm& a,
                                     double value) {
  if (!std::isfinite(value)) {
    return "";
  }
  std::vector<alarms::Rule> rules = alarms::defaultSystemRules();
  if (!plant.strings.empty()) {
    const auto s =
        a.string_number >= 1 && static_cast<std::size_t>(a.string_number) <= plant.strings.size()
            ? static_cast<std::size_t>(a.string_number - 1)
            : 0;
    auto string_rules = alarms::defaultRules(plant.strings[s]);
    rules.insert(rules.end(), string_rules.begin(), string_rules.end());
  }
  for (const auto& r : rules) {
    if (r.id == a.rule_id) {
      const std::string number = fmt::format("{:.{}f}", value, std::max(0, r.decimals));
      return r.unit.empty() ? number : number + " " + r.unit;
    }
  }
  return fmt::format("{:g}", value);
}

struct AlarmCounts {
  int active = 0;
  int alarm = 0;    // at alarm level
  int warning = 0;  // at warning level
  int unacknowledged = 0;
  alarms::Level highest = alarms::Level::kNone;
};

inline AlarmCounts countAlarms(const std::vector<alarms::ActiveAlarm>& list) {
  AlarmCounts c;
  for (const auto& a : list) {
    ++c.active;
    c.alarm += a.level == alarms::Level::kAlarm ? 1 : 0;
    c.warning += a.level == alarms::Level::kWarning ? 1 : 0;
    c.unacknowledged += a.acknowledged ? 0 : 1;
    if (a.level > c.highest) {
      c.highest = a.level;
    }
  }
  return c;
}

}  // namespace equalis::adapters
