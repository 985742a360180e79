#include "adapters/snmp/mib.hpp"

#include <memory>

#include "adapters/common/alarm_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>

namespace equalis::snmp {

namespace {

using model::PointId;

const Oid playpen_oid = {1, 3, 6, 1, 4, 1, 8072, 9999, 9999};

// Column numbers are part of the MIB: never renumber, only append.
constexpr std::array kSystemColumns = {
    PointColumn{PointId::kSystemStringCount, 4},
    PointColumn{PointId::kSystemModuleCount, 5},
    PointColumn{PointId::kSystemAmbientTemperatureC, 6},
    PointColumn{PointId::kSystemSweepCount, 7},
    PointColumn{PointId::kSystemSweepDurationMs, 8},
    PointColumn{PointId::kSystemModulesOkCount, 9},
    PointColumn{PointId::kSystemHumidityPct, 10},
    PointColumn{PointId::kSystemHydrogenPct, 11},
    PointColumn{PointId::kSystemAlarmCount, 12},
    PointColumn{PointId::kSystemWarningCount, 13},
    PointColumn{PointId::kSystemUnacknowledgedCount, 14},
    PointColumn{PointId::kSystemShelvedCount, 15},
};
constexpr std::array kStringColumns = {
    PointColumn{PointId::kStringVoltageV, 11},
    PointColumn{PointId::kStringCurrentA, 12},
    PointColumn{PointId::kStringPowerKw, 13},
    PointColumn{PointId::kStringMode, 14},
    PointColumn{PointId::kStringTargetVoltageV, 15},
    PointColumn{PointId::kStringChargeAvgPct, 16},
    PointColumn{PointId::kStringAcCurrentA, 17},
    PointColumn{PointId::kStringBlockVoltageMinV, 18},
    PointColumn{PointId::kStringBlockVoltageMaxV, 19},
    PointColumn{PointId::kStringBlockVoltageSpreadV, 20},
    PointColumn{PointId::kStringTemperatureMaxC, 21},
    PointColumn{PointId::kStringEqualizationState, 22},
    PointColumn{PointId::kStringEqualizationPowerW, 23},
    PointColumn{PointId::kStringProtectionState, 24},
    PointColumn{PointId::kStringElectrolyteLevel, 25},
    PointColumn{PointId::kStringChargerDeviationPct, 26},
    PointColumn{PointId::kStringCapacityPct, 27},
    PointColumn{PointId::kStringRuntimeS, 28},
    PointColumn{PointId::kStringRuntimeBlock, 29},
    PointColumn{PointId::kStringRuntimeLoadA, 30},
    PointColumn{PointId::kStringSohPct, 31},
    PointColumn{PointId::kStringRulYears, 32},
    PointColumn{PointId::kStringBlocksToReplace, 33},
    PointColumn{PointId::kStringHealthWarnings, 34},
};
constexpr std::array kBlockColumns = {
    PointColumn{PointId::kBlockVoltageV, 11},
    PointColumn{PointId::kBlockTemperatureC, 12},
    PointColumn{PointId::kBlockRiMohm, 13},
    PointColumn{PointId::kBlockChargePct, 14},
    PointColumn{PointId::kBlockEqualizationPct, 15},
    PointColumn{PointId::kBlockEqualizationLevel, 16},
    PointColumn{PointId::kBlockStatus, 17},
    PointColumn{PointId::kBlockEqualizationWhPerDay, 18},
    PointColumn{PointId::kBlockVoltageCorrectedV, 19},
    PointColumn{PointId::kBlockModuleErrorMv, 20},
    PointColumn{PointId::kBlockCommOkCount, 21},
    PointColumn{PointId::kBlockCommErrorCount, 22},
    PointColumn{PointId::kBlockRiBaselineMohm, 23},
    PointColumn{PointId::kBlockRiRisePct, 24},
    PointColumn{PointId::kBlockCapacityPct, 25},
    PointColumn{PointId::kBlockCapacitySigmaPct, 26},
    PointColumn{PointId::kBlockCapacityRelativePct, 27},
    PointColumn{PointId::kBlockCapacityRelativeSigmaPct, 28},
    PointColumn{PointId::kBlockCapacityEvents, 29},
    PointColumn{PointId::kBlockLifeUsedPct, 30},
    PointColumn{PointId::kBlockAgeingFactor, 31},
    PointColumn{PointId::kBlockRiRise25cPct, 32},
    PointColumn{PointId::kBlockSohPct, 33},
    PointColumn{PointId::kBlockSohSigmaPct, 34},
    PointColumn{PointId::kBlockHealthState, 35},
    PointColumn{PointId::kBlockWeakWarning, 36},
    PointColumn{PointId::kBlockRulYears, 37},
    PointColumn{PointId::kBlockRulLowYears, 38},
    PointColumn{PointId::kBlockRulHighYears, 39},
};

std::int32_t clampInt32(double v) {
  constexpr double kMin = std::numeric_limits<std::int32_t>::min();
  constexpr double kMax = std::numeric_limits<std::int32_t>::max();
  return static_cast<std::int32_t>(std::clamp(std::round(v), kMin, kMax));
}

bool isNumber(const state::Sample& s) {
  return std::isfinite(s.value);
}

// Same rule as the REST API: a value exists when it was measured, is present and is a number.
bool hasValue(const state::Sample& s) {
  return s.quality != model::Quality::kNotPresent && s.time_ms > 0 && isNumber(s);
}

// Lexicographic OID order; a proper prefix sorts first.
bool oidLess(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

Value qualityValue(const state::Sample& s) {
  return Value::integer(static_cast<std::int64_t>(s.quality));
}

std::optional<Value> pointValue(const model::PointDef& def, const state::Sample& s) {
  const auto v = encodeSample(def, s);
  if (!v) {
    return std::nullopt;
  }
  return Value::integer(*v);
}

template <std::size_t N>
const model::PointDef* pointForColumn(const std::array<PointColumn, N>& columns,
                                      std::uint32_t column) {
  for (const auto& pc : columns) {
    if (pc.column == column) {
      return &model::point(pc.id);
    }
  }
  return nullptr;
}

template <std::size_t N>
void appendColumns(std::vector<std::uint32_t>& out, const std::array<PointColumn, N>& columns) {
  for (const auto& pc : columns) {
    out.push_back(pc.column);
  }
  std::sort(out.begin(), out.end());
}

}  // namespace

const Oid& equalisMibOid() {
  static const Oid oid = concat(playpen_oid, {1});
  return oid;
}
const Oid& equalisDaemonOid() {
  static const Oid oid = concat(equalisMibOid(), {3, 1});
  return oid;
}
const Oid& eqSystemOid() {
  static const Oid oid = concat(equalisMibOid(), {1, 1});
  return oid;
}
const Oid& eqStringEntryOid() {
  static const Oid oid = concat(equalisMibOid(), {1, 2, 1});
  return oid;
}
const Oid& eqBlockEntryOid() {
  static const Oid oid = concat(equalisMibOid(), {1, 3, 1});
  return oid;
}
const Oid& eqAlarmsOid() {
  static const Oid oid = concat(equalisMibOid(), {1, 4});
  return oid;
}
const Oid& eqAlarmEntryOid() {
  static const Oid oid = concat(equalisMibOid(), {1, 4, 2, 1});
  return oid;
}
const Oid& equalisAlarmAcknowledgedOid() {
  static const Oid oid = concat(equalisMibOid(), {0, 4});
  return oid;
}
int alarmSeverity(alarms::Level level) {
  switch (level) {
    case alarms::Level::kAlarm:
      return 3;
    case alarms::Level::kWarning:
      return 2;
    case alarms::Level::kNone:
      break;
  }
  return 1;
}
const Oid& equalisAgentStartOid() {
  static const Oid oid = concat(equalisMibOid(), {0, 1});
  return oid;
}
const Oid& equalisAlarmRaisedOid() {
  static const Oid oid = concat(equalisMibOid(), {0, 2});
  return oid;
}
const Oid& equalisAlarmClearedOid() {
  static const Oid oid = concat(equalisMibOid(), {0, 3});
  return oid;
}
const Oid& upsBatteryOid() {
  static const Oid oid = {1, 3, 6, 1, 2, 1, 33, 1, 2};
  return oid;
}
const Oid& systemGroupOid() {
  static const Oid oid = {1, 3, 6, 1, 2, 1, 1};
  return oid;
}

Oid concat(const Oid& prefix, std::initializer_list<std::uint32_t> tail) {
  Oid out = prefix;
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

std::string toString(const Oid& oid) {
  std::string out;
  for (const auto id : oid) {
    out += (out.empty() ? "" : ".") + std::to_string(id);
  }
  return out;
}

std::span<const PointColumn> pointColumns(model::Scope scope) {
  switch (scope) {
    case model::Scope::kSystem:
      return kSystemColumns;
    case model::Scope::kString:
      return kStringColumns;
    case model::Scope::kBlock:
      return kBlockColumns;
  }
  return {};
}

std::string mibLabel(std::string_view snake_case) {
  std::string out;
  bool upper = false;
  for (const char c : snake_case) {
    if (c == '_' || c == '.' || c == '-') {
      upper = true;
    } else if (upper) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      upper = false;
    } else {
      out += c;
    }
  }
  return out;
}

std::string mibDescriptor(const model::PointDef& def) {
  // "block.voltage_v" → "eq" + "BlockVoltageV"
  std::string camel = mibLabel(def.name);
  if (!camel.empty()) {
    camel[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(camel[0])));
  }
  return "eq" + camel;
}

std::string mibUnits(const model::PointDef& def) {
  if (def.unit == "°C") {
    return "degC";
  }
  if (def.unit == "mΩ") {
    return "mOhm";
  }
  return std::string(def.unit);
}

int scaleDecimals(const model::PointDef& def) {
  double scale = 1.0;
  for (int decimals = 0; decimals <= 6; ++decimals, scale *= 10.0) {
    if (def.protocol_scale == scale) {
      return decimals;
    }
  }
  return -1;
}

std::string mibSyntax(const model::PointDef& def) {
  const int decimals = scaleDecimals(def);
  if (decimals > 0) {
    return "EqFixed" + std::to_string(decimals);
  }
  return "Integer32";
}

std::optional<std::int32_t> encodeSample(const model::PointDef& def, const state::Sample& s) {
  if (!hasValue(s)) {
    return std::nullopt;
  }
  return clampInt32(s.value * def.protocol_scale);
}

bool anyStringDischarging(const state::StateStore::Reader& r, std::size_t string_count) {
  const int discharge = static_cast<int>(model::StringModeValue::kDischarge);
  for (std::size_t i = 0; i < string_count; ++i) {
    const auto mode = r.get(PointId::kStringMode, i);
    if (isNumber(mode) && std::lround(mode.value) == discharge) {
      return true;
    }
  }
  return false;
}

UpsBattery computeUpsBattery(const state::StateStore::Reader& r, std::size_t string_count,
                             std::int64_t seconds_on_battery) {
  UpsBattery out;
  out.seconds_on_battery = seconds_on_battery;
  double voltage_sum = 0.0;
  int voltage_n = 0;
  double current_sum = 0.0;
  int current_n = 0;
  double charge_sum = 0.0;
  int charge_n = 0;
  double charge_min = std::numeric_limits<double>::infinity();
  double temperature_max = -std::numeric_limits<double>::infinity();
  bool all_ok = string_count > 0;
  for (std::size_t i = 0; i < string_count; ++i) {
    const auto v = r.get(PointId::kStringVoltageV, i);
    const auto c = r.get(PointId::kStringCurrentA, i);
    const auto q = r.get(PointId::kStringChargeAvgPct, i);
    const auto t = r.get(PointId::kStringTemperatureMaxC, i);
    all_ok = all_ok && v.quality == model::Quality::kOk && q.quality == model::Quality::kOk;
    if (isNumber(v)) {
      voltage_sum += v.value;
      ++voltage_n;
    }
    if (isNumber(c)) {
      current_sum += c.value;
      ++current_n;
    }
    if (isNumber(q)) {
      charge_sum += q.value;
      ++charge_n;
      charge_min = std::min(charge_min, q.value);
    }
    if (isNumber(t)) {
      temperature_max = std::max(temperature_max, t.value);
    }
  }
  if (voltage_n > 0) {
    out.voltage_dv = std::max(0, clampInt32(voltage_sum / voltage_n * 10.0));
  }
  if (current_n > 0) {
    out.current_da = clampInt32(current_sum * 10.0);
  }
  if (charge_n > 0) {
    out.charge_pct = std::clamp(clampInt32(charge_sum / charge_n), 0, 100);
  }
  if (std::isfinite(temperature_max)) {
    out.temperature_c = clampInt32(temperature_max);
  }
  if (!all_ok || charge_n == 0) {
    out.status = UpsBatteryStatus::kUnknown;
  } else if (charge_min < kDepletedChargePct) {
    out.status = UpsBatteryStatus::kDepleted;
  } else if (charge_min < kLowChargePct) {
    out.status = UpsBatteryStatus::kLow;
  } else {
    out.status = UpsBatteryStatus::kNormal;
  }
  return out;
}

std::int64_t OnBatteryTracker::update(bool discharging, TimeMs now_ms) {
  if (!discharging) {
    since_ms_ = -1;
    return 0;
  }
  if (since_ms_ < 0 || now_ms < since_ms_) {
    since_ms_ = now_ms;
  }
  return (now_ms - since_ms_) / 1000;
}

Lookup findCell(const TableDef& t, const Oid& oid, Cell& cell) {
  const std::size_t n = t.base.size();
  if (oid.size() <= n || !std::equal(t.base.begin(), t.base.end(), oid.begin())) {
    return Lookup::kNoSuchObject;
  }
  const auto column = oid[n];
  if (!std::binary_search(t.columns.begin(), t.columns.end(), column)) {
    return Lookup::kNoSuchObject;
  }
  const std::span<const std::uint32_t> index(oid.data() + n + 1, oid.size() - n - 1);
  const auto it = std::lower_bound(
      t.rows.begin(), t.rows.end(), index,
      [](const Oid& row, std::span<const std::uint32_t> key) { return oidLess(row, key); });
  if (it == t.rows.end() || !std::equal(it->begin(), it->end(), index.begin(), index.end())) {
    return Lookup::kNoSuchInstance;
  }
  cell = Cell{column, static_cast<std::size_t>(it - t.rows.begin())};
  return Lookup::kFound;
}

std::optional<Cell> nextCell(const TableDef& t, const Oid& oid) {
  if (t.rows.empty()) {
    return std::nullopt;
  }
  const std::size_t n = t.base.size();
  const std::size_t common = std::min(n, oid.size());
  const bool under = oid.size() > n && std::equal(t.base.begin(), t.base.end(), oid.begin());
  if (!under) {
    // At or before the base: the first cell; past the whole subtree: nothing.
    if (oidLess(std::span(oid), std::span(t.base)) ||
        std::equal(oid.begin(), oid.begin() + static_cast<std::ptrdiff_t>(common),
                   t.base.begin())) {
      return Cell{t.columns.front(), 0};
    }
    return std::nullopt;
  }
  const auto column = oid[n];
  const std::span<const std::uint32_t> index(oid.data() + n + 1, oid.size() - n - 1);
  for (const auto c : t.columns) {
    if (c < column) {
      continue;
    }
    if (c > column) {
      return Cell{c, 0};
    }
    const auto it = std::upper_bound(
        t.rows.begin(), t.rows.end(), index,
        [](std::span<const std::uint32_t> key, const Oid& row) { return oidLess(key, row); });
    if (it != t.rows.end()) {
      return Cell{c, static_cast<std::size_t>(it - t.rows.begin())};
    }
  }
  return std::nullopt;
}

Oid cellOid(const TableDef& t, const Cell& c) {
  Oid out = t.base;
  out.push_back(c.column);
  const auto& row = t.rows.at(c.row);
  out.insert(out.end(), row.begin(), row.end());
  return out;
}

std::vector<TableDef> buildTables(const adapters::Context& ctx,
                                  const std::function<std::int64_t()>& uptime_cs,
                                  OnBatteryTracker& tracker) {
  std::vector<TableDef> tables;
  const auto& plant = ctx.plant;
  const std::size_t string_count = ctx.state.stringCount();
  const std::string descr =
      "Equalis equalisd " + ctx.version + " battery monitoring and equalization controller";

  // SNMPv2-MIB system group (RFC 3418) scalars .1–.7.
  tables.push_back(
      TableDef{"system",
               systemGroupOid(),
               {1, 2, 3, 4, 5, 6, 7},
               {{0}},
               [descr, uptime_cs, &plant](const state::StateStore::Reader&, std::uint32_t column,
                                          std::size_t) -> std::optional<Value> {
                 switch (column) {
                   case 1:
                     return Value::string(descr);
                   case 2:
                     return Value::objectId(equalisDaemonOid());
                   case 3:
                     return Value::timeTicks(uptime_cs());
                   case 4:
                     return Value::string("");
                   case 5:
                     return Value::string(plant.site.name);
                   case 6:
                     return Value::string(plant.site.location);
                   case 7:
                     return Value::integer(72);  // application + end-to-end
                   default:
                     return std::nullopt;
                 }
               }});

  // UPS-MIB battery group: .1 status .2 seconds on battery .4 charge .5 V .6 A .7 °C.
  tables.push_back(TableDef{
      "upsBattery",
      upsBatteryOid(),
      {1, 2, 4, 5, 6, 7},
      {{0}},
      [string_count, &tracker](const state::StateStore::Reader& r, std::uint32_t column,
                               std::size_t) -> std::optional<Value> {
        const auto seconds = tracker.update(anyStringDischarging(r, string_count), r.nowMs());
        const auto ups = computeUpsBattery(r, string_count, seconds);
        auto integer = [](std::optional<std::int32_t> v) -> std::optional<Value> {
          return v ? std::optional(Value::integer(*v)) : std::nullopt;
        };
        switch (column) {
          case 1:
            return Value::integer(static_cast<std::int64_t>(ups.status));
          case 2:
            return Value::integer(ups.seconds_on_battery);
          case 4:
            return integer(ups.charge_pct);
          case 5:
            return integer(ups.voltage_dv);
          case 6:
            return integer(ups.current_da);
          case 7:
            return integer(ups.temperature_c);
          default:
            return std::nullopt;
        }
      }});

  // eqSystem scalars.
  {
    std::vector<std::uint32_t> columns = {kSysSiteName, kSysSiteLocation, kSysSoftwareVersion};
    appendColumns(columns, kSystemColumns);
    tables.push_back(TableDef{
        "eqSystem",
        eqSystemOid(),
        columns,
        {{0}},
        [&plant, version = ctx.version](const state::StateStore::Reader& r, std::uint32_t column,
                                        std::size_t) -> std::optional<Value> {
          switch (column) {
            case kSysSiteName:
              return Value::string(plant.site.name);
            case kSysSiteLocation:
              return Value::string(plant.site.location);
            case kSysSoftwareVersion:
              return Value::string(version);
            default:
              break;
          }
          const auto* def = pointForColumn(kSystemColumns, column);
          return def ? pointValue(*def, r.get(def->id)) : std::nullopt;
        }});
  }

  // eqStringTable, index eqStringIndex (1-based).
  {
    std::vector<std::uint32_t> columns = {kStringName, kStringBlockCount, kStringQuality};
    appendColumns(columns, kStringColumns);
    std::vector<Oid> rows;
    for (std::size_t i = 0; i < string_count; ++i) {
      rows.push_back({static_cast<std::uint32_t>(i + 1)});
    }
    tables.push_back(TableDef{
        "eqStringTable", eqStringEntryOid(), columns, rows,
        [&plant, &state = ctx.state](const state::StateStore::Reader& r, std::uint32_t column,
                                     std::size_t row) -> std::optional<Value> {
          switch (column) {
            case kStringName:
              return Value::string(row < plant.strings.size() ? plant.strings[row].name : "");
            case kStringBlockCount:
              return Value::integer(state.blockCount(row));
            case kStringQuality:
              return qualityValue(r.get(PointId::kStringVoltageV, row));
            default:
              break;
          }
          const auto* def = pointForColumn(kStringColumns, column);
          return def ? pointValue(*def, r.get(def->id, row)) : std::nullopt;
        }});
  }

  // eqBlockTable, index (eqBlockStringIndex, eqBlockIndex), both 1-based.
  {
    std::vector<std::uint32_t> columns = {kBlockQuality, kBlockAgeS};
    appendColumns(columns, kBlockColumns);
    std::vector<Oid> rows;
    for (std::size_t s = 0; s < string_count; ++s) {
      for (int b = 0; b < ctx.state.blockCount(s); ++b) {
        rows.push_back({static_cast<std::uint32_t>(s + 1), static_cast<std::uint32_t>(b + 1)});
      }
    }
    tables.push_back(TableDef{"eqBlockTable", eqBlockEntryOid(), columns, rows,
                              [rows](const state::StateStore::Reader& r, std::uint32_t column,
                                     std::size_t row) -> std::optional<Value> {
                                const std::size_t s = rows.at(row)[0] - 1;
                                const std::size_t b = rows.at(row)[1] - 1;
                                if (column == kBlockQuality || column == kBlockAgeS) {
                                  const auto v = r.get(PointId::kBlockVoltageV, s, b);
                                  if (column == kBlockQuality) {
                                    return qualityValue(v);
                                  }
                                  if (v.time_ms <= 0) {
                                    return Value::integer(-1);
                                  }
                                  return Value::integer(
                                      std::max<std::int64_t>(0, (r.nowMs() - v.time_ms) / 1000));
                                }
                                const auto* def = pointForColumn(kBlockColumns, column);
                                return def ? pointValue(*def, r.get(def->id, s, b)) : std::nullopt;
                              }});
  }

  // eqAlarmsPresent and the eqAlarmTable (index = alarm id), both from one alarm snapshot that
  // refresh() takes at the start of every request.
  auto snapshot = std::make_shared<std::vector<alarms::ActiveAlarm>>();
  auto refresh_snapshot = [snapshot, source = ctx.active_alarms] {
    *snapshot = source ? source() : std::vector<alarms::ActiveAlarm>{};
  };
  TableDef present{"eqAlarms",
                   eqAlarmsOid(),
                   {kAlarmsPresent},
                   {{0}},
                   [snapshot](const state::StateStore::Reader&, std::uint32_t,
                              std::size_t) -> std::optional<Value> {
                     return Value::gauge(static_cast<std::int64_t>(snapshot->size()));
                   }};
  present.refresh = [refresh_snapshot](TableDef&) { refresh_snapshot(); };
  tables.push_back(std::move(present));

  TableDef table{"eqAlarmTable",
                 eqAlarmEntryOid(),
                 {kAlarmCode, kAlarmSeverity, kAlarmStringIndex, kAlarmBlockIndex, kAlarmText,
                  kAlarmTime, kAlarmValue, kAlarmThreshold, kAlarmAcknowledged, kAlarmKey},
                 {},
                 nullptr};
  // Row r of the table is the alarm with the r-th smallest id: `order` maps rows to alarms.
  auto order = std::make_shared<std::vector<std::size_t>>();
  table.refresh = [refresh_snapshot, snapshot, order](TableDef& t) {
    refresh_snapshot();
    order->resize(snapshot->size());
    for (std::size_t i = 0; i < order->size(); ++i) {
      (*order)[i] = i;
    }
    std::sort(order->begin(), order->end(), [&](std::size_t a, std::size_t b) {
      return adapters::protocolAlarmId((*snapshot)[a]) < adapters::protocolAlarmId((*snapshot)[b]);
    });
    t.rows.clear();
    for (const auto i : *order) {
      t.rows.push_back({adapters::protocolAlarmId((*snapshot)[i])});
    }
  };
  table.get = [snapshot, order, &plant, uptime_cs](const state::StateStore::Reader& r,
                                                   std::uint32_t column,
                                                   std::size_t row) -> std::optional<Value> {
    if (row >= order->size()) {
      return std::nullopt;
    }
    const auto& a = (*snapshot)[(*order)[row]];
    switch (column) {
      case kAlarmCode:
        return Value::string(a.rule_id);
      case kAlarmSeverity:
        return Value::integer(alarmSeverity(a.level));
      case kAlarmStringIndex:
        return Value::integer(a.string_number);
      case kAlarmBlockIndex:
        return Value::integer(a.block_number);
      case kAlarmText:
        return Value::string(a.message);
      case kAlarmTime: {
        // sysUpTime at the raise: uptime now minus the (plant-clock) age of the alarm.
        const std::int64_t age_cs = std::max<std::int64_t>(0, (r.nowMs() - a.raised_ms) / 10);
        return Value::timeTicks(std::max<std::int64_t>(0, uptime_cs() - age_cs));
      }
      case kAlarmValue:
        return Value::string(adapters::alarmQuantityText(plant, a, a.value));
      case kAlarmThreshold:
        return Value::string(adapters::alarmQuantityText(plant, a, a.threshold));
      case kAlarmAcknowledged:
        return Value::integer(a.acknowledged ? kTruthTrue : kTruthFalse);
      case kAlarmKey:
        return Value::string(a.key);
      default:
        return std::nullopt;
    }
  };
  tables.push_back(std::move(table));
  return tables;
}

}  // namespace equalis::snmp
