#include "model/points.hpp"

#include <array>

#include <fmt/format.h>

namespace equalis::model {

namespace {

using enum PointId;
// One- and two-letter aliases keep the catalogue table below readable.
// NOLINTBEGIN(readability-identifier-naming)
constexpr auto R = Access::kRead;
constexpr auto SY = Scope::kSystem;
constexpr auto ST = Scope::kString;
constexpr auto BL = Scope::kBlock;
constexpr auto F = PointType::kFloat;
constexpr auto I = PointType::kInt;
constexpr auto E = PointType::kEnum;
// NOLINTEND(readability-identifier-naming)

// clang-format off
constexpr std::array<PointDef, kPointCount> kCatalogue = {{
  {kSystemStringCount, "system.string_count", SY, I, "", 0, 1, R, false, "", "Number of configured battery strings"},
  {kSystemModuleCount, "system.module_count", SY, I, "", 0, 1, R, false, "", "Number of configured measuring modules (blocks)"},
  {kSystemAmbientTemperatureC, "system.ambient_temperature_c", SY, F, "°C", 1, 10, R, true, "", "Battery-room ambient temperature"},
  {kSystemSweepCount, "system.sweep_count", SY, I, "", 0, 1, R, false, "", "Bus sweeps completed since start"},
  {kSystemSweepDurationMs, "system.sweep_duration_ms", SY, F, "ms", 1, 1, R, false, "", "Wall-clock time of the last bus sweep"},
  {kSystemModulesOkCount, "system.modules_ok_count", SY, I, "", 0, 1, R, false, "", "Modules that answered the last sweep"},
  {kSystemHumidityPct, "system.humidity_pct", SY, F, "%", 1, 10, R, true, "", "Battery-room relative humidity (temperature/humidity sensor); not_present without one"},
  {kSystemHydrogenPct, "system.hydrogen_pct", SY, F, "%", 2, 100, R, true, "", "Hydrogen concentration in the battery-room air, % by volume (LEL 4 %); not_present without a sensor"},
  {kSystemAlarmCount, "system.alarm_count", SY, I, "", 0, 1, R, false, "", "Active alarms at alarm level"},
  {kSystemWarningCount, "system.warning_count", SY, I, "", 0, 1, R, false, "", "Active alarms at warning level"},
  {kSystemUnacknowledgedCount, "system.unacknowledged_count", SY, I, "", 0, 1, R, false, "", "Active alarms not yet acknowledged"},
  {kSystemShelvedCount, "system.shelved_count", SY, I, "", 0, 1, R, false, "", "Active alarms shelved by an operator (off the display; not in the other counts)"},

  {kStringVoltageV, "string.voltage_v", ST, F, "V", 2, 100, R, true, "", "String voltage (sum of block voltages)"},
  {kStringCurrentA, "string.current_a", ST, F, "A", 2, 100, R, true, "", "DC string current, + charge / − discharge"},
  {kStringPowerKw, "string.power_kw", ST, F, "kW", 2, 100, R, false, "", "DC power, + charge / − discharge"},
  {kStringMode, "string.mode", ST, E, "", 0, 1, R, true, "float,charge,discharge,rest", "Operating mode derived from current and voltage"},
  {kStringTargetVoltageV, "string.target_voltage_v", ST, F, "V", 2, 100, R, false, "", "Equalization target per block (charger voltage / blocks)"},
  {kStringChargeAvgPct, "string.charge_avg_pct", ST, F, "%", 1, 10, R, true, "", "Average estimated state of charge of the blocks"},
  {kStringAcCurrentA, "string.ac_current_a", ST, F, "A", 2, 100, R, true, "", "AC ripple current (RMS)"},
  {kStringBlockVoltageMinV, "string.block_voltage_min_v", ST, F, "V", 3, 1000, R, false, "", "Lowest block voltage"},
  {kStringBlockVoltageMaxV, "string.block_voltage_max_v", ST, F, "V", 3, 1000, R, false, "", "Highest block voltage"},
  {kStringBlockVoltageSpreadV, "string.block_voltage_spread_v", ST, F, "V", 3, 1000, R, false, "", "Largest deviation of a block from the string mean (the ± spread)"},
  {kStringTemperatureMaxC, "string.temperature_max_c", ST, F, "°C", 1, 10, R, false, "", "Highest block temperature"},
  {kStringEqualizationState, "string.equalization_state", ST, E, "", 0, 1, R, false, "off,paused_discharge,settling,paused_schedule,balancing,no_data", "Equalization controller state: balancing only in settled float"},
  {kStringEqualizationPowerW, "string.equalization_power_w", ST, F, "W", 1, 10, R, false, "", "Total bypass power of the string's modules"},
  {kStringProtectionState, "string.protection_state", ST, E, "", 0, 1, R, false, "normal,suspect,countdown,tripped,reduced", "Thermal-runaway protection: tripped = string breaker opened; reduced = charger voltage held lowered (both reset by an operator)"},
  {kStringElectrolyteLevel, "string.electrolyte_level", ST, E, "", 0, 1, R, false, "good,warning,alarm", "Electrolyte level of the string's pilot cell (ELS sensor); not_present without one"},
  {kStringChargerDeviationPct, "string.charger_deviation_pct", ST, F, "%", 2, 100, R, true, "", "String voltage against the charger's configured float set-point (temperature-compensated) while the string floats; not_present in other modes"},
  {kStringCapacityPct, "string.capacity_pct", ST, F, "%", 1, 10, R, false, "", "The string's capacity at 25 °C as % of nominal, from its last capacity test (a steady discharge at the 10-hour rate to the end voltage, IEEE 450 time-adjusted); not_present until one has been run"},
  {kStringRuntimeS, "string.runtime_s", ST, F, "s", 0, 1, R, false, "", "Runtime on battery: during a discharge, the time left until the weakest block reaches the end voltage at the present load (averaged over 2 min); between discharges, the autonomy at the mean load of the last one. From each block's capacity, state of charge and temperature and the manufacturer's rate table; not_present before a first discharge"},
  {kStringRuntimeBlock, "string.runtime_block", ST, I, "", 0, 1, R, false, "", "The block that string.runtime_s expects to reach the end voltage first (1-based)"},
  {kStringRuntimeLoadA, "string.runtime_load_a", ST, F, "A", 2, 100, R, false, "", "The discharge current string.runtime_s is computed for"},

  {kStringSohPct, "string.soh_pct", ST, F, "%", 1, 10, R, false, "", "State of health of the string: its weakest block's block.soh_pct (what the string can deliver); not_present while no block's is known"},
  {kStringRulYears, "string.rul_years", ST, F, "a", 1, 10, R, false, "", "Remaining useful life of the string: the years until its first block reaches 80 % (block.rul_years); the replacement list is at /api/v1/strings/{n}/health"},
  {kStringBlocksToReplace, "string.blocks_to_replace", ST, I, "", 0, 1, R, false, "", "Blocks to replace: below 80 % (block.health_state replace) or expected there within a year"},
  {kStringHealthWarnings, "string.health_warnings", ST, I, "", 0, 1, R, false, "", "Blocks with a weak-block warning (block.weak_warning)"},
  {kBlockVoltageV, "block.voltage_v", BL, F, "V", 3, 1000, R, true, "", "Block voltage"},
  {kBlockTemperatureC, "block.temperature_c", BL, F, "°C", 1, 10, R, true, "", "Block (terminal) temperature"},
  {kBlockRiMohm, "block.ri_mohm", BL, F, "mΩ", 2, 100, R, true, "", "Internal resistance"},
  {kBlockChargePct, "block.charge_pct", BL, F, "%", 1, 10, R, true, "", "Estimated state of charge"},
  {kBlockEqualizationPct, "block.equalization_pct", BL, F, "%", 0, 1, R, true, "", "Bypass (equalization) duty of the module"},
  {kBlockEqualizationLevel, "block.equalization_level", BL, E, "", 0, 1, R, false, "off,eco_plus,eco,normal,power,boost", "Equalization band: off, ECO+ 1–20 %, ECO 21–40 %, normal 41–60 %, power 61–80 %, boost > 80 %"},
  {kBlockStatus, "block.status", BL, E, "", 0, 1, R, false, "ok,warning,alarm,unknown", "Block status (unknown while data is stale or missing)"},
  {kBlockEqualizationWhPerDay, "block.equalization_wh_per_day", BL, F, "Wh/d", 1, 10, R, true, "", "Bypass energy of the last 24 h (equalization effort, a health signal)"},
  {kBlockVoltageCorrectedV, "block.voltage_corrected_v", BL, F, "V", 3, 1000, R, false, "", "Block voltage corrected by the module's self-calibrated error (what equalization uses)"},
  {kBlockModuleErrorMv, "block.module_error_mv", BL, F, "mV", 1, 10, R, false, "", "Estimated module voltage error (measured − true) from self-calibration; not_present until calibrated"},
  {kBlockCommOkCount, "block.comm_ok_count", BL, I, "", 0, 1, R, false, "", "Module answers since start"},
  {kBlockCommErrorCount, "block.comm_error_count", BL, I, "", 0, 1, R, false, "", "Module requests without a valid answer since start"},
  {kBlockRiBaselineMohm, "block.ri_baseline_mohm", BL, F, "mΩ", 2, 100, R, false, "", "Internal-resistance baseline of the block (median of its first readings after commissioning or replacement)"},
  {kBlockRiRisePct, "block.ri_rise_pct", BL, F, "%", 1, 10, R, false, "", "Internal-resistance rise against the block's baseline"},
  {kBlockCapacityPct, "block.capacity_pct", BL, F, "%", 1, 10, R, false, "", "Estimated capacity of the block as % of the string's nominal capacity: its capacity against the string's mean block times the string's level, measured by a capacity test or by a discharge in which blocks reached the end voltage; not_present until both are known"},
  {kBlockCapacitySigmaPct, "block.capacity_sigma_pct", BL, F, "%", 1, 10, R, false, "", "Uncertainty (1 σ) of block.capacity_pct, the string level's included"},
  {kBlockCapacityRelativePct, "block.capacity_relative_pct", BL, F, "%", 1, 10, R, false, "", "Capacity of the block against the string's mean block (harmonic mean = 100 %), from the string's discharges (at least 5 % of the capacity each): what finds the weak blocks; not_present until one has been analysed"},
  {kBlockCapacityRelativeSigmaPct, "block.capacity_relative_sigma_pct", BL, F, "%", 1, 10, R, false, "", "Uncertainty (1 σ) of block.capacity_relative_pct"},
  {kBlockCapacityEvents, "block.capacity_events", BL, I, "", 0, 1, R, false, "", "Discharges behind the block's capacity estimate"},
  {kBlockLifeUsedPct, "block.life_used_pct", BL, F, "%", 2, 100, R, false, "", "Float life used by temperature since monitoring began: each hour at T counts 2^((T − 25 °C)/8 K) hours at 25 °C, against the chemistry's design life at 25 °C (12 V VRLA 10 years); the time per temperature and voltage band is at /api/v1/strings/{n}/hours-in-band"},
  {kBlockAgeingFactor, "block.ageing_factor", BL, F, "", 2, 100, R, false, "", "The block's mean ageing rate from its temperatures against 25 °C since monitoring began (2^((T − 25 °C)/8 K) averaged over time; 1.00: as at 25 °C, 2.00: life halved)"},
  {kBlockRiRise25cPct, "block.ri_rise_25c_pct", BL, F, "%", 1, 10, R, false, "", "Internal-resistance rise at 25 °C against the block's baseline at 25 °C: the median of its last 6 hours in float, each reading normalised with the chemistry's temperature coefficient (lead-acid 1.2 %/K), against the median of its first 24 such hours; what the block.ri_rise alarm watches (a cold night is no rise)"},
  {kBlockSohPct, "block.soh_pct", BL, F, "%", 1, 10, R, false, "", "State of health: the block's capacity in % of nominal as measured in the string's discharges, carried forward since by its Ri trend at 25 °C; before any discharge has measured it, 100 % less 0.8 × its Ri rise at 25 °C (σ 10 %). The evidence is at /api/v1/strings/{n}/health"},
  {kBlockSohSigmaPct, "block.soh_sigma_pct", BL, F, "%", 1, 10, R, false, "", "Uncertainty (1 σ) of block.soh_pct: 10 points from the Ri rise alone; with a measured capacity, its σ and the string level's (a few points once a capacity test or a discharge to the end voltage has measured the level, about 10 before)"},
  {kBlockHealthState, "block.health_state", BL, E, "", 0, 1, R, false, "ok,degraded,replace,unknown", "IEEE 450 / 1188 state from block.soh_pct: replace below 80 %, degraded below 90 % or 10 points below its best; not_present while unknown"},
  {kBlockWeakWarning, "block.weak_warning", BL, E, "", 0, 1, R, false, "none,weak", "Weak-block early warning: its SOH falls (a significant Theil–Sen trend) and is expected at 80 % within a year, or is below 80 % beyond its uncertainty (SOH + 1.28 σ); the evidence and the expected date are in the event log and at /api/v1/strings/{n}/health"},
  {kBlockRulYears, "block.rul_years", BL, F, "a", 1, 10, R, false, "", "Remaining useful life: years until block.soh_pct reaches 80 %, from its own trend or, without a significant one, from the chemistry's design life at the block's temperatures"},
  {kBlockRulLowYears, "block.rul_low_years", BL, F, "a", 1, 10, R, false, "", "Lower end of the 80 % interval of block.rul_years"},
  {kBlockRulHighYears, "block.rul_high_years", BL, F, "a", 1, 10, R, false, "", "Upper end of the 80 % interval of block.rul_years"},
}};
// clang-format on

constexpr bool catalogueIsOrdered() {
  for (std::size_t i = 0; i < kCatalogue.size(); ++i) {
    if (static_cast<std::size_t>(kCatalogue[i].id) != i) {
      return false;
    }
  }
  return true;
}
static_assert(catalogueIsOrdered(), "kCatalogue must list every PointId in enum order");

}  // namespace

std::string_view PointDef::field() const {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

std::span<const PointDef> catalogue() {
  return kCatalogue;
}

const PointDef& point(PointId id) {
  return kCatalogue.at(static_cast<std::size_t>(id));
}

const PointDef* findPoint(std::string_view name) {
  for (const auto& p : kCatalogue) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

std::string_view enumName(PointId id, int value) {
  std::string_view values = point(id).enum_values;
  int index = 0;
  while (!values.empty()) {
    const auto comma = values.find(',');
    const auto item = values.substr(0, comma);
    if (index == value) {
      return item;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    values.remove_prefix(comma + 1);
    ++index;
  }
  return {};
}

int enumValue(PointId id, std::string_view name) {
  for (int i = 0;; ++i) {
    const auto item = enumName(id, i);
    if (item.empty()) {
      return -1;
    }
    if (item == name) {
      return i;
    }
  }
}

std::string_view scopeName(Scope s) {
  switch (s) {
    case Scope::kSystem:
      return "system";
    case Scope::kString:
      return "string";
    case Scope::kBlock:
      return "block";
  }
  return "";
}

std::string_view pointTypeName(PointType t) {
  switch (t) {
    case PointType::kFloat:
      return "float";
    case PointType::kInt:
      return "int";
    case PointType::kEnum:
      return "enum";
  }
  return "";
}

EqualizationLevel equalizationLevelFor(double duty_pct) {
  if (duty_pct < 0.5) {
    return EqualizationLevel::kOff;
  }
  if (duty_pct <= 20.0) {
    return EqualizationLevel::kEcoPlus;
  }
  if (duty_pct <= 40.0) {
    return EqualizationLevel::kEco;
  }
  if (duty_pct <= 60.0) {
    return EqualizationLevel::kNormal;
  }
  if (duty_pct <= 80.0) {
    return EqualizationLevel::kPower;
  }
  return EqualizationLevel::kBoost;
}

std::string catalogueMarkdown() {
  std::string out =
      "# Point catalogue\n\n"
      "Generated from `src/model/points.cpp` by `equalisctl points --markdown`; a test checks that "
      "this file matches the catalogue.\n\n"
      "Every point is served with its `quality` (ok, stale, comm_lost, invalid, not_present) and "
      "the time it was measured. String points are indexed by string (1…), block points by string "
      "and block (1…). The REST field name is the part after the scope "
      "(`block.voltage_v` → `voltage_v`). `Scale` is the integer encoding used by register-based "
      "protocols: register = round(value × scale).\n\n"
      "| Name | Scope | Type | Unit | Decimals | Scale | Access | History | Values | Description "
      "|\n"
      "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& p : kCatalogue) {
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", p.name,
                       scopeName(p.scope), pointTypeName(p.type), p.unit, p.decimals,
                       p.protocol_scale, p.access == Access::kRead ? "read" : "read/write",
                       p.history ? "yes" : "no", p.enum_values, p.description);
  }
  return out;
}

}  // namespace equalis::model
