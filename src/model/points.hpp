// The point catalogue: the one list of every value Equalis exposes, with its name (unit in the
// name), type, unit, display decimals, integer protocol scale, indexing and access.
// REST field names, docs/points.md and (later) the protocol maps are all derived from it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace equalis::model {

enum class Scope { kSystem, kString, kBlock };
enum class PointType { kFloat, kInt, kEnum };
enum class Access { kRead, kReadWrite };

enum class PointId : std::uint16_t {
  // system
  kSystemStringCount,
  kSystemModuleCount,
  kSystemAmbientTemperatureC,
  kSystemSweepCount,
  kSystemSweepDurationMs,
  kSystemModulesOkCount,
  kSystemHumidityPct,
  kSystemHydrogenPct,
  kSystemAlarmCount,
  kSystemWarningCount,
  kSystemUnacknowledgedCount,
  kSystemShelvedCount,
  // string
  kStringVoltageV,
  kStringCurrentA,
  kStringPowerKw,
  kStringMode,
  kStringTargetVoltageV,
  kStringChargeAvgPct,
  kStringAcCurrentA,
  kStringBlockVoltageMinV,
  kStringBlockVoltageMaxV,
  kStringBlockVoltageSpreadV,
  kStringTemperatureMaxC,
  kStringEqualizationState,
  kStringEqualizationPowerW,
  kStringProtectionState,
  kStringElectrolyteLevel,
  kStringChargerDeviationPct,
  kStringCapacityPct,
  kStringRuntimeS,
  kStringRuntimeBlock,
  kStringRuntimeLoadA,
  kStringSohPct,
  kStringRulYears,
  kStringBlocksToReplace,
  kStringHealthWarnings,
  // block
  kBlockVoltageV,
  kBlockTemperatureC,
  kBlockRiMohm,
  kBlockChargePct,
  kBlockEqualizationPct,
  kBlockEqualizationLevel,
  kBlockStatus,
  kBlockEqualizationWhPerDay,
  kBlockVoltageCorrectedV,
  kBlockModuleErrorMv,
  kBlockCommOkCount,
  kBlockCommErrorCount,
  kBlockRiBaselineMohm,
  kBlockRiRisePct,
  kBlockCapacityPct,
  kBlockCapacitySigmaPct,
  kBlockCapacityRelativePct,
  kBlockCapacityRelativeSigmaPct,
  kBlockCapacityEvents,
  kBlockLifeUsedPct,
  kBlockAgeingFactor,
  kBlockRiRise25cPct,
  kBlockSohPct,
  kBlockSohSigmaPct,
  kBlockHealthState,
  kBlockWeakWarning,
  kBlockRulYears,
  kBlockRulLowYears,
  kBlockRulHighYears,
  kCount
};

constexpr std::size_t kPointCount = static_cast<std::size_t>(PointId::kCount);

struct PointDef {
  PointId id;
  std::string_view name;  // "<scope>.<field>", e.g. "block.voltage_v"
  Scope scope;
  PointType type;
  std::string_view unit;  // SI-style symbol, "" for counts and enums
  int decimals;           // display precision
  double protocol_scale;  // integer encoding: register = round(value × scale)
  Access access;
  bool history;                  // recorded by the history store
  std::string_view enum_values;  // comma-separated names for kEnum (index = value)
  std::string_view description;

  // The part after the scope, used as the REST/JSON field name ("voltage_v").
  std::string_view field() const;
};

std::span<const PointDef> catalogue();
const PointDef& point(PointId id);
const PointDef* findPoint(std::string_view name);
// Name of an enum value of a kEnum point ("float"), or "" when out of range.
std::string_view enumName(PointId id, int value);
int enumValue(PointId id, std::string_view name);  // -1 when unknown
std::string_view scopeName(Scope s);
std::string_view pointTypeName(PointType t);

// Enum values used in code (indices into the enum_values of their point).
enum class StringModeValue { kFloat = 0, kCharge = 1, kDischarge = 2, kRest = 3 };
enum class EqualizationLevel { kOff = 0, kEcoPlus, kEco, kNormal, kPower, kBoost };
enum class BlockStatus { kOk = 0, kWarning = 1, kAlarm = 2, kUnknown = 3 };
// block.health_state is analysis::HealthState; block.weak_warning is 0 (none) or 1 (warning).
enum class ElectrolyteLevel { kGood = 0, kWarning = 1, kAlarm = 2 };

// Seed bands: OFF, ECO+ 1–20 %, ECO 21–40 %, normal 41–60 %, power 61–80 %, boost > 80 %.
EqualizationLevel equalizationLevelFor(double duty_pct);

// Markdown table of the whole catalogue (the content of docs/points.md).
std::string catalogueMarkdown();

}  // namespace equalis::model
