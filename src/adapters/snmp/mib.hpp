// EQUALIS-MIB and UPS-MIB battery group: OID layout, catalogue → column mapping, value encoding
// and the virtual tables the agent serves. Free of net-snmp so that it can be unit-tested alone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/common/service.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace equalis::snmp {

using Oid = std::vector<std::uint32_t>;

// --- OID layout (see mibs/EQUALIS-MIB.txt and docs/snmp.md) --------------------------------
// equalisMIB = netSnmpPlaypen.1 until a Private Enterprise Number is registered.
const Oid& equalisMibOid();                // 1.3.6.1.4.1.8072.9999.9999.1
const Oid& equalisDaemonOid();             // equalisMIB.3.1, the value of sysObjectID
const Oid& eqSystemOid();                  // equalisMIB.1.1 (scalars)
const Oid& eqStringEntryOid();             // equalisMIB.1.2.1
const Oid& eqBlockEntryOid();              // equalisMIB.1.3.1
const Oid& eqAlarmsOid();                  // equalisMIB.1.4 (eqAlarmsPresent .1, eqAlarmTable .2)
const Oid& eqAlarmEntryOid();              // equalisMIB.1.4.2.1
const Oid& equalisAgentStartOid();         // equalisMIB.0.1
const Oid& equalisAlarmRaisedOid();        // equalisMIB.0.2
const Oid& equalisAlarmClearedOid();       // equalisMIB.0.3
const Oid& equalisAlarmAcknowledgedOid();  // equalisMIB.0.4
const Oid& upsBatteryOid();                // 1.3.6.1.2.1.33.1.2
const Oid& systemGroupOid();               // 1.3.6.1.2.1.1
Oid concat(const Oid& prefix, std::initializer_list<std::uint32_t> tail);
std::string toString(const Oid& oid);  // "1.3.6.1…"

// Fixed (never renumbered) columns of the EQUALIS-MIB objects that are not catalogue points.
inline constexpr std::uint32_t kSysSiteName = 1;
inline constexpr std::uint32_t kSysSiteLocation = 2;
inline constexpr std::uint32_t kSysSoftwareVersion = 3;
inline constexpr std::uint32_t kStringName = 2;
inline constexpr std::uint32_t kStringBlockCount = 3;
inline constexpr std::uint32_t kStringQuality = 4;
inline constexpr std::uint32_t kBlockQuality = 3;
inline constexpr std::uint32_t kBlockAgeS = 4;
inline constexpr std::uint32_t kAlarmsPresent = 1;
// eqAlarmEntry columns (index eqAlarmId = the alarm's id, column 1).
inline constexpr std::uint32_t kAlarmCode = 2;
inline constexpr std::uint32_t kAlarmSeverity = 3;
inline constexpr std::uint32_t kAlarmStringIndex = 4;
inline constexpr std::uint32_t kAlarmBlockIndex = 5;
inline constexpr std::uint32_t kAlarmText = 6;
inline constexpr std::uint32_t kAlarmTime = 7;
inline constexpr std::uint32_t kAlarmValue = 8;
inline constexpr std::uint32_t kAlarmThreshold = 9;
inline constexpr std::uint32_t kAlarmAcknowledged = 10;  // read-write TruthValue
inline constexpr std::uint32_t kAlarmKey = 11;
inline constexpr std::int64_t kTruthTrue = 1;
inline constexpr std::int64_t kTruthFalse = 2;
// EqSeverity of an alarm level: warning(2), critical(3); info(1) for none.
int alarmSeverity(alarms::Level level);

// A catalogue point and the column (or scalar sub-identifier) that serves it.
struct PointColumn {
  model::PointId id;
  std::uint32_t column;
};
// One entry per catalogue point of the scope, in catalogue order; numbers are fixed forever.
std::span<const PointColumn> pointColumns(model::Scope scope);

// MIB naming derived from the catalogue: "block.voltage_v" → "eqBlockVoltageV";
// enum label "eco_plus" → "ecoPlus"; units in ASCII ("°C" → "degC"); DISPLAY-HINT "d-3" for
// protocol_scale 1000 ("" for 1); the TEXTUAL-CONVENTION used ("EqFixed3" or "Integer32").
std::string mibDescriptor(const model::PointDef& def);
std::string mibLabel(std::string_view snake_case);
std::string mibUnits(const model::PointDef& def);
int scaleDecimals(const model::PointDef& def);  // log10(protocol_scale), -1 if not a power of 10
std::string mibSyntax(const model::PointDef& def);

// Integer encoding: round(value × protocol_scale) clamped to Integer32; nullopt (no instance)
// when the REST API shows null too: never measured, quality not_present, or not a number.
std::optional<std::int32_t> encodeSample(const model::PointDef& def, const state::Sample& s);

// --- UPS-MIB (RFC 1628) battery group computed from the string points ----------------------
inline constexpr double kLowChargePct = 25.0;      // batteryLow below this (lowest string)
inline constexpr double kDepletedChargePct = 5.0;  // batteryDepleted below this
enum class UpsBatteryStatus { kUnknown = 1, kNormal = 2, kLow = 3, kDepleted = 4 };

struct UpsBattery {
  UpsBatteryStatus status = UpsBatteryStatus::kUnknown;
  std::int64_t seconds_on_battery = 0;
  std::optional<std::int32_t> charge_pct;     // average of string.charge_avg_pct, 0..100
  std::optional<std::int32_t> voltage_dv;     // average string voltage, 0.1 V
  std::optional<std::int32_t> current_da;     // sum of string currents, 0.1 A (+ charge)
  std::optional<std::int32_t> temperature_c;  // highest string.temperature_max_c, 1 °C
};
UpsBattery computeUpsBattery(const state::StateStore::Reader& r, std::size_t string_count,
                             std::int64_t seconds_on_battery);
bool anyStringDischarging(const state::StateStore::Reader& r, std::size_t string_count);

// Seconds since the plant went on battery (a string in mode "discharge"), 0 when not.
class OnBatteryTracker {
 public:
  std::int64_t update(bool discharging, TimeMs now_ms);

 private:
  TimeMs since_ms_ = -1;
};

// --- Virtual tables ----------------------------------------------------------------------
struct Value {
  enum class Kind { kInteger, kGauge, kTimeTicks, kString, kOid };
  Kind kind = Kind::kInteger;
  std::int64_t number = 0;
  std::string text;
  Oid oid;
  static Value integer(std::int64_t v) { return {Kind::kInteger, v, {}, {}}; }
  static Value gauge(std::int64_t v) { return {Kind::kGauge, v, {}, {}}; }
  static Value timeTicks(std::int64_t v) { return {Kind::kTimeTicks, v, {}, {}}; }
  static Value string(std::string v) { return {Kind::kString, 0, std::move(v), {}}; }
  static Value objectId(Oid v) { return {Kind::kOid, 0, {}, std::move(v)}; }
};

// A conceptual table below `base` (an entry OID, or a scalar group with the single row {0}):
// instance = base.column.index…; rows sorted ascending, columns ascending. A getter returning
// nullopt leaves a hole (GET: noSuchInstance, GETNEXT: skipped).
struct TableDef {
  std::string name;
  Oid base;
  std::vector<std::uint32_t> columns;
  std::vector<Oid> rows;
  std::function<std::optional<Value>(const state::StateStore::Reader&, std::uint32_t column,
                                     std::size_t row)>
      get;
  // Tables whose rows change (the alarm table): called once per request before any lookup,
  // updates `rows` (and whatever `get` reads). Empty for fixed tables.
  std::function<void(TableDef&)> refresh = nullptr;
};

struct Cell {
  std::uint32_t column;
  std::size_t row;
};
enum class Lookup { kFound, kNoSuchObject, kNoSuchInstance };
// Exact lookup of a full OID (GET).
Lookup findCell(const TableDef& t, const Oid& oid, Cell& cell);
// The first cell strictly after `oid` (GETNEXT); `oid` may lie before the base.
std::optional<Cell> nextCell(const TableDef& t, const Oid& oid);
Oid cellOid(const TableDef& t, const Cell& c);

// The agent's tables: system group, UPS battery group, EQUALIS-MIB scalars and tables.
// `uptime_cs` gives sysUpTime (centiseconds); `tracker` is updated on each UPS-group read.
std::vector<TableDef> buildTables(const adapters::Context& ctx,
                                  const std::function<std::int64_t()>& uptime_cs,
                                  OnBatteryTracker& tracker);

}  // namespace equalis::snmp
