#include "adapters/modbus/register_map.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "adapters/common/alarm_text.hpp"

namespace equalis::modbus {

namespace {

using model::PointId;
using model::Quality;
using model::Scope;

std::string formatScaleStep(double scale) {
  // 1 / scale as the shortest decimal ("0.001", "0.1").
  return fmt::format("{}", 1.0 / scale);
}

// The unit of one register step: "0.001 V" for block.voltage_v at scale 1000.
std::string stepUnit(std::string_view unit, double scale) {
  if (scale == 1.0) {
    return std::string(unit);
  }
  return unit.empty() ? formatScaleStep(scale) : formatScaleStep(scale) + " " + std::string(unit);
}

std::string enumList(PointId id) {
  std::string out;
  for (int i = 0; !model::enumName(id, i).empty(); ++i) {
    out += fmt::format("{}{}={}", i == 0 ? "" : ", ", i, model::enumName(id, i));
  }
  return out;
}

// A field carrying a catalogue point; scale from the catalogue unless overridden.
FieldDef pointField(std::uint16_t offset, PointId id, Encoding encoding, bool measured = false,
                    double scale_override = 0.0) {
  const auto& def = model::point(id);
  FieldDef f;
  f.offset = offset;
  f.kind = FieldKind::kPoint;
  f.point = id;
  f.encoding = encoding;
  f.scale = scale_override > 0.0 ? scale_override : def.protocol_scale;
  f.measured = measured;
  f.name = std::string(def.name);
  f.unit = stepUnit(def.unit, f.scale);
  f.description = std::string(def.description);
  if (def.type == model::PointType::kEnum) {
    f.description += " (" + enumList(id) + ")";
  }
  return f;
}

FieldDef specialField(std::uint16_t offset, FieldKind kind, std::string name,
                      std::string description, Encoding encoding = Encoding::kUint16) {
  FieldDef f;
  f.offset = offset;
  f.kind = kind;
  f.encoding = encoding;
  f.name = std::move(name);
  f.description = std::move(description);
  return f;
}

constexpr const char* kFlagsText =
    "Quality flags of the record's values: 0x0001 stale, 0x0002 comm_lost, 0x0004 invalid, "
    "0x0008 not_present, 0x0010 out_of_range (0 = all values fresh)";
constexpr const char* kAgeText =
    "Seconds since the newest measured value of the record (65534 = that old or older; 65535 = "
    "never measured)";

void finish(SectionDef& s) {
  s.field_at.assign(s.size, -1);
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    for (int w = 0; w < s.fields[i].words(); ++w) {
      s.field_at.at(s.fields[i].offset + static_cast<std::size_t>(w)) =
          static_cast<std::int16_t>(i);
    }
  }
}

std::vector<SectionDef> buildRegisterLayout() {
  using enum PointId;
  using enum Encoding;
  std::vector<SectionDef> out;

  SectionDef general;
  general.name = "General (seed-compatible)";
  general.scope = Scope::kSystem;
  general.base = 1000;
  general.size = 10;
  general.fixed = true;
  general.description =
      "Registers 1000–1004 as on the seed product (GENEREX BACS), unsigned. 1005–1009 are "
      "reserved and read 0.";
  general.fields = {
      specialField(0, FieldKind::kGeneralFlags, "general_status_flags",
                   "BACS_STATE flags: 0x0001 running (a fresh bus sweep exists), 0x0004 module "
                   "lost (a block is comm_lost), 0x0008 discharging, 0x0010 charging, 0x0040 float "
                   "charging, 0x0080 equalisation (a block is bypassing); 0x0000 = no fresh sweep "
                   "(internal communication interrupted). Other BACS bits are not set."),
      specialField(1, FieldKind::kBatteryFlags, "battery_status_flags",
                   "Equalis-defined (the seed's table is unknown): 0x0001 a block is in warning, "
                   "0x0002 a block is in alarm, 0x0004 a block's status is unknown (stale or "
                   "missing data)"),
      specialField(2, FieldKind::kDataQualityFlags, "data_quality_flags",
                   "Equalis-defined (the seed's alarm-flag table is unknown): OR of the quality "
                   "flags of all block records"),
      pointField(3, kSystemStringCount, kUint16),
      pointField(4, kSystemModuleCount, kUint16),
  };
  out.push_back(std::move(general));

  SectionDef seed;
  seed.name = "Strings 1–10 (seed-compatible)";
  seed.scope = Scope::kString;
  seed.base = 1010;
  seed.string_stride = 5;
  seed.instances = kStringsPerUnit;
  seed.size = 5;
  seed.fixed = true;
  seed.description =
      "String n at 1010 + 5·(n−1), signed 16-bit, as on the seed product (n counts the strings "
      "of the unit id: string 10·(u−1) + n of the plant under unit id u, see \"Strings 11–64\"). "
      "Scales are chosen so that large strings fit 16 bits; the full-resolution values are in the "
      "string records at 2000. Strings that are not configured read the sentinel. Offset 4 is "
      "reserved (reads 0).";
  {
    auto avg = pointField(2, kStringVoltageV, kInt16, false, 1000.0);
    avg.kind = FieldKind::kStringAvgVoltage;
    avg.name = "string.avg_block_voltage (derived)";
    avg.description = "string.voltage_v / configured block count (BACS_StrAvgVolt)";
    seed.fields = {
        pointField(0, kStringCurrentA, kInt16, true, 10.0),
        pointField(1, kStringVoltageV, kInt16, true, 10.0),
        std::move(avg),
        pointField(3, kStringAcCurrentA, kInt16, false, 10.0),
    };
  }
  out.push_back(std::move(seed));

  SectionDef system;
  system.name = "System and environment";
  system.scope = Scope::kSystem;
  system.base = 1100;
  system.size = 20;
  system.description =
      "1100–1106 as since the first map; 1107–1111 were added later (humidity, hydrogen and the "
      "alarm counts, which read the sentinel until their points are published); 1112–1113 "
      "describe the unit id (see \"Strings 11–64\"); 1114 (shelved alarms) came with alarm "
      "shelving. Registers 1115–1119 are reserved (read 0).";
  system.fields = {
      pointField(0, kSystemAmbientTemperatureC, kInt16, true),
      specialField(1, FieldKind::kQualityFlags, "quality_flags", kFlagsText),
      specialField(2, FieldKind::kAgeS, "age_s", kAgeText),
      pointField(3, kSystemSweepCount, kUint32, true),
      pointField(5, kSystemSweepDurationMs, kUint16),
      pointField(6, kSystemModulesOkCount, kUint16),
      pointField(7, kSystemHumidityPct, kInt16, true),
      pointField(8, kSystemHydrogenPct, kInt16, true),
      pointField(9, kSystemAlarmCount, kUint16),
      pointField(10, kSystemWarningCount, kUint16),
      pointField(11, kSystemUnacknowledgedCount, kUint16),
      specialField(12, FieldKind::kUnitFirstString, "unit.first_string",
                   "Plant number of the string served as string 1 under this unit id: 1 under "
                   "unit id 1 (and every unit id without strings of its own), 11 under unit id 2, "
                   "… 10·(u−1) + 1 under unit id u"),
      specialField(13, FieldKind::kUnitCount, "unit.count",
                   "Unit ids that serve strings: ⌈string count / 10⌉ (1 up to 10 strings, 7 for "
                   "64); strings 10·(u−1) + 1 … 10·u are under unit id u"),
      pointField(14, kSystemShelvedCount, kUint16),
  };
  out.push_back(std::move(system));

  SectionDef strings;
  strings.name = "String records";
  strings.scope = Scope::kString;
  strings.base = 2000;
  strings.string_stride = 100;
  strings.instances = kStringsPerUnit;
  strings.size = 33;
  strings.description =
      "String n (1–10 of the unit id) at 2000 + 100·(n−1) + offset; every string point of the "
      "catalogue at its catalogue scale. Only configured strings exist; offsets 33–99 are not "
      "registers.";
  strings.fields = {
      pointField(0, kStringVoltageV, kInt32, true),
      pointField(2, kStringCurrentA, kInt32, true),
      pointField(4, kStringPowerKw, kInt32),
      pointField(6, kStringMode, kUint16),
      pointField(7, kStringTargetVoltageV, kInt16),
      pointField(8, kStringChargeAvgPct, kInt16),
      pointField(9, kStringAcCurrentA, kInt32),
      pointField(11, kStringBlockVoltageMinV, kInt16),
      pointField(12, kStringBlockVoltageMaxV, kInt16),
      pointField(13, kStringBlockVoltageSpreadV, kInt16),
      pointField(14, kStringTemperatureMaxC, kInt16),
      pointField(15, kStringEqualizationState, kUint16),
      pointField(16, kStringEqualizationPowerW, kInt32),
      specialField(18, FieldKind::kQualityFlags, "quality_flags", kFlagsText),
      specialField(19, FieldKind::kAgeS, "age_s", kAgeText),
      pointField(20, kStringProtectionState, kUint16),
      pointField(21, kStringElectrolyteLevel, kUint16),
      pointField(22, kStringChargerDeviationPct, kInt16),
      pointField(23, kStringCapacityPct, kInt16),
      pointField(24, kStringRuntimeS, kInt32),
      pointField(26, kStringRuntimeBlock, kUint16),
      pointField(27, kStringRuntimeLoadA, kInt32),
      pointField(29, kStringSohPct, kInt16),
      pointField(30, kStringRulYears, kInt16),
      pointField(31, kStringBlocksToReplace, kUint16),
      pointField(32, kStringHealthWarnings, kUint16),
  };
  out.push_back(std::move(strings));

  SectionDef blocks;
  blocks.name = "Block records";
  blocks.scope = Scope::kBlock;
  blocks.base = kBlockBase;
  blocks.string_stride = kBlockStringStride;
  blocks.block_stride = kBlockStride;
  blocks.instances = kStringsPerUnit;
  blocks.size = kBlockStride;
  blocks.description =
      "Block b (1–600) of string n (1–10 of the unit id) at 4000 + 6000·(n−1) + 10·(b−1) + "
      "offset, i.e. string 1 from 4000, string 2 from 10000 … string 10 up to 63999. Only "
      "configured blocks exist; the records of a string are contiguous, so up to 12 blocks fit "
      "one 125-register read.";
  blocks.fields = {
      pointField(0, kBlockVoltageV, kInt16, true),
      pointField(1, kBlockTemperatureC, kInt16, true),
      pointField(2, kBlockRiMohm, kInt16, true),
      pointField(3, kBlockChargePct, kInt16),
      pointField(4, kBlockEqualizationPct, kInt16),
      pointField(5, kBlockEqualizationLevel, kUint16),
      pointField(6, kBlockStatus, kUint16),
      specialField(7, FieldKind::kQualityFlags, "quality_flags", kFlagsText),
      specialField(8, FieldKind::kAgeS, "age_s", kAgeText),
      pointField(9, kBlockEqualizationWhPerDay, kInt16),
  };
  out.push_back(std::move(blocks));

  SectionDef summary;
  summary.name = "Alarm summary";
  summary.scope = Scope::kSystem;
  summary.base = kAlarmSummaryBase;
  summary.size = 12;
  summary.fixed = true;
  summary.alarms = true;
  summary.description =
      "Counts of the active alarms (alarm engine and thermal-runaway protection), live on every "
      "read. 3006–3009 are reserved (read 0). 3010–3011 is the acknowledge register (see "
      "\"Alarms\" above); it reads 0.";
  summary.fields = {
      specialField(0, FieldKind::kAlarmActiveCount, "alarm.active_count", "Active alarms"),
      specialField(1, FieldKind::kAlarmAlarmCount, "alarm.alarm_level_count",
                   "Active alarms at alarm level"),
      specialField(2, FieldKind::kAlarmWarningCount, "alarm.warning_level_count",
                   "Active alarms at warning level"),
      specialField(3, FieldKind::kAlarmUnacknowledgedCount, "alarm.unacknowledged_count",
                   "Active alarms not yet acknowledged"),
      specialField(4, FieldKind::kAlarmHighestLevel, "alarm.highest_level",
                   "Worst active level: 0 none, 1 warning, 2 alarm"),
      specialField(5, FieldKind::kAlarmTableCount, "alarm.table_entries",
                   "Entries used in the alarm table (at most 32; the worst alarms first)"),
      specialField(10, FieldKind::kAlarmAcknowledge, "alarm.acknowledge",
                   "Write an alarm id to acknowledge it (FC 06: 16-bit id, 0xFFFF = all; FC 16 "
                   "on 3010–3011: 32-bit id, 0xFFFFFFFF = all). Needs [modbus] writes = true. "
                   "Reads 0.",
                   Encoding::kUint32),
  };
  out.push_back(std::move(summary));

  SectionDef table;
  table.name = "Active alarm table";
  table.scope = Scope::kSystem;
  table.base = kAlarmTableBase;
  table.string_stride = kAlarmEntryStride;
  table.instances = kAlarmTableEntries;
  table.size = kAlarmEntryStride;
  table.fixed = true;
  table.alarms = true;
  table.description =
      "Entry e (1–32) at 3100 + 8·(e−1) + offset: the active alarms worst first (alarm level "
      "before warning level, as the REST API lists them), so an alarm may move to another entry "
      "when others come or go: identify it by its id. Unused entries read 0 (id 0 = empty). All "
      "32 entries are one 256-register block (read it in three requests of at most 125).";
  table.fields = {
      specialField(0, FieldKind::kAlarmEntryId, "alarm.id",
                   "Alarm id (unique per raise since start; as in the REST API and the SNMP "
                   "eqAlarmTable), 0 = empty entry",
                   Encoding::kUint32),
      specialField(2, FieldKind::kAlarmEntryRuleCode, "alarm.rule_code",
                   "Rule code (table \"Rule codes\" above), 0 = another rule"),
      specialField(3, FieldKind::kAlarmEntryLevel, "alarm.level", "1 warning, 2 alarm"),
      specialField(4, FieldKind::kAlarmEntryString, "alarm.string",
                   "String number (1-based), 0 = system"),
      specialField(5, FieldKind::kAlarmEntryBlock, "alarm.block",
                   "Block number (1-based), 0 = whole string or system"),
      specialField(6, FieldKind::kAlarmEntryAcknowledged, "alarm.acknowledged",
                   "1 = acknowledged, 0 = not"),
  };
  out.push_back(std::move(table));

  for (auto& s : out) {
    finish(s);
  }
  return out;
}

constexpr std::array<ExcludedPoint, 21> kExcluded = {{
    {PointId::kBlockVoltageCorrectedV,
     "no room: 10 registers per block × 600 blocks × 10 strings fill the address space"},
    {PointId::kBlockModuleErrorMv, "no room (as above)"},
    {PointId::kBlockCommOkCount, "no room (as above); diagnostic counter"},
    {PointId::kBlockCommErrorCount, "no room (as above); diagnostic counter"},
    {PointId::kBlockRiBaselineMohm,
     "no room (as above); block.ri_mohm and the block status are in the record"},
    {PointId::kBlockRiRisePct, "no room (as above); derived from ri_mohm and ri_baseline_mohm"},
    {PointId::kBlockCapacityPct, "no room (as above); over REST, SNMP, MQTT and Prometheus"},
    {PointId::kBlockCapacitySigmaPct, "no room (as above)"},
    {PointId::kBlockCapacityRelativePct, "no room (as above)"},
    {PointId::kBlockCapacityRelativeSigmaPct, "no room (as above)"},
    {PointId::kBlockCapacityEvents, "no room (as above)"},
    {PointId::kBlockLifeUsedPct, "no room (as above)"},
    {PointId::kBlockAgeingFactor, "no room (as above)"},
    {PointId::kBlockRiRise25cPct,
     "no room (as above); the block.ri_rise alarm is in the alarm table"},
    {PointId::kBlockSohPct,
     "no room (as above); string.soh_pct (the weakest block's) is in the string record"},
    {PointId::kBlockSohSigmaPct, "no room (as above)"},
    {PointId::kBlockHealthState, "no room (as above); derived from block.soh_pct (80 / 90 %)"},
    {PointId::kBlockWeakWarning, "no room (as above); the warning is in the alarm table"},
    {PointId::kBlockRulYears, "no room (as above); string.rul_years is in the string record"},
    {PointId::kBlockRulLowYears, "no room (as above)"},
    {PointId::kBlockRulHighYears, "no room (as above)"},
}};

std::string_view encodingName(Encoding e) {
  switch (e) {
    case Encoding::kInt16:
      return "int16";
    case Encoding::kUint16:
      return "uint16";
    case Encoding::kInt32:
      return "int32";
    case Encoding::kUint32:
      return "uint32";
  }
  return "";
}

}  // namespace

const std::vector<SectionDef>& registerLayout() {
  static const std::vector<SectionDef> layout = buildRegisterLayout();
  return layout;
}

std::span<const ExcludedPoint> excludedPoints() {
  return kExcluded;
}

std::uint32_t sentinelFor(Encoding encoding) {
  switch (encoding) {
    case Encoding::kInt16:
      return kSentinelInt16;
    case Encoding::kUint16:
      return kSentinelUint16;
    case Encoding::kInt32:
      return kSentinelInt32;
    case Encoding::kUint32:
      return kSentinelUint32;
  }
  return kSentinelUint32;
}

std::uint16_t qualityFlag(Quality q) {
  switch (q) {
    case Quality::kOk:
      return 0;
    case Quality::kStale:
      return kFlagStale;
    case Quality::kCommLost:
      return kFlagCommLost;
    case Quality::kInvalid:
      return kFlagInvalid;
    case Quality::kNotPresent:
      return kFlagNotPresent;
  }
  return kFlagInvalid;
}

std::uint32_t encodeSample(const state::Sample& sample, Encoding encoding, double scale,
                           bool* out_of_range) {
  if (out_of_range != nullptr) {
    *out_of_range = false;
  }
  if (sample.quality != Quality::kOk || sample.time_ms <= 0 || !std::isfinite(sample.value)) {
    return sentinelFor(encoding);
  }
  const double scaled = std::round(sample.value * scale);
  // The sentinel itself is not a valid value.
  double lo = 0;
  double hi = 0;
  switch (encoding) {
    case Encoding::kInt16:
      lo = -32767.0;
      hi = 32767.0;
      break;
    case Encoding::kUint16:
      lo = 0.0;
      hi = 65534.0;
      break;
    case Encoding::kInt32:
      lo = -2147483647.0;
      hi = 2147483647.0;
      break;
    case Encoding::kUint32:
      lo = 0.0;
      hi = 4294967294.0;
      break;
  }
  if (!(scaled >= lo && scaled <= hi)) {
    if (out_of_range != nullptr) {
      *out_of_range = true;
    }
    return sentinelFor(encoding);
  }
  const auto v = static_cast<std::int64_t>(scaled);
  if (encoding == Encoding::kInt16 || encoding == Encoding::kUint16) {
    return static_cast<std::uint32_t>(static_cast<std::uint16_t>(v & 0xFFFF));
  }
  return static_cast<std::uint32_t>(v & 0xFFFF'FFFF);
}

// ---------------------------------------------------------------------------------------------

int unitPageCount(std::size_t strings) {
  return std::max(1, static_cast<int>((strings + kStringsPerUnit - 1) / kStringsPerUnit));
}

int unitPage(int unit_id, int base_unit_id, int pages) {
  const int page = unit_id - base_unit_id;
  return page >= 1 && page < pages ? page : 0;
}

RegisterMap::RegisterMap(std::vector<int> blocks_per_string, DurationMs stale_after_ms, int page)
    : blocks_per_string_(std::move(blocks_per_string)),
      stale_after_ms_(stale_after_ms),
      page_(std::max(page, 0)),
      cells_(kSize) {
  first_string_ = static_cast<std::size_t>(page_) * kStringsPerUnit;
  served_strings_ =
      first_string_ < blocks_per_string_.size()
          ? std::min<std::size_t>(blocks_per_string_.size() - first_string_, kStringsPerUnit)
          : 0;
  for (const auto& section : registerLayout()) {
    switch (section.scope) {
      case Scope::kSystem:
        if (section.instances <= 1) {
          addRecord(section, section.base, -1, -1, true);
        } else {
          for (int e = 0; e < section.instances; ++e) {
            addRecord(section, section.base + static_cast<std::uint32_t>(e) * section.string_stride,
                      e, -1, true);
          }
        }
        break;
      case Scope::kString:
        for (int s = 0; s < section.instances; ++s) {
          const bool configured = static_cast<std::size_t>(s) < served_strings_;
          if (configured || section.fixed) {
            addRecord(section, section.base + static_cast<std::uint32_t>(s) * section.string_stride,
                      static_cast<int>(first_string_) + s, -1, configured);
          }
        }
        break;
      case Scope::kBlock:
        for (std::size_t s = 0; s < served_strings_; ++s) {
          const std::size_t plant_s = first_string_ + s;
          const int blocks = std::min(blocks_per_string_[plant_s], kMaxBlocksPerString);
          for (int b = 0; b < blocks; ++b) {
            addRecord(section,
                      section.base + static_cast<std::uint32_t>(s) * section.string_stride +
                          static_cast<std::uint32_t>(b) * section.block_stride,
                      static_cast<int>(plant_s), b, true);
          }
        }
        break;
    }
  }
}

void RegisterMap::addRecord(const SectionDef& section, std::uint32_t base, int string_index,
                            int block_index, bool configured) {
  records_.push_back(Record{&section, static_cast<std::int16_t>(string_index),
                            static_cast<std::int16_t>(block_index), configured});
  const auto index = static_cast<std::uint32_t>(records_.size());
  for (std::uint16_t o = 0; o < section.size && base + o < kSize; ++o) {
    cells_[base + o] = Cell{index, o};
  }
}

bool RegisterMap::readable(std::uint32_t start, std::uint32_t count) const {
  if (count == 0 || start >= kSize || count > kSize - start) {
    return false;
  }
  for (std::uint32_t a = start; a < start + count; ++a) {
    if (cells_[a].record_plus_one == 0) {
      return false;
    }
  }
  return true;
}

std::size_t RegisterMap::registerCount() const {
  return static_cast<std::size_t>(
      std::count_if(cells_.begin(), cells_.end(), [](const Cell& c) { return c.record_plus_one; }));
}

void RegisterMap::loadRecord(const state::StateStore::Reader& r, const Record& rec,
                             RecordValues& out) const {
  const auto& fields = rec.section->fields;
  const auto s = static_cast<std::size_t>(std::max<int>(rec.string_index, 0));
  const auto b = static_cast<std::size_t>(std::max<int>(rec.block_index, 0));
  std::uint16_t flags = 0;
  TimeMs newest_ms = 0;
  for (std::size_t i = 0; i < fields.size() && i < kMaxFields; ++i) {
    const auto& f = fields[i];
    switch (f.kind) {
      case FieldKind::kPoint:
      case FieldKind::kStringAvgVoltage: {
        if (!rec.configured) {
          out.raw[i] = sentinelFor(f.encoding);
          flags |= kFlagNotPresent;
          break;
        }
        auto sample = r.get(f.point, s, b);
        if (f.kind == FieldKind::kStringAvgVoltage) {
          const int blocks = blocks_per_string_.at(s);
          sample.value = blocks > 0 ? sample.value / blocks : std::nan("");
        }
        bool out_of_range = false;
        out.raw[i] = encodeSample(sample, f.encoding, f.scale, &out_of_range);
        flags |= qualityFlag(sample.quality);
        if (out_of_range) {
          flags |= kFlagOutOfRange;
        }
        if (f.measured && sample.quality != Quality::kNotPresent) {
          newest_ms = std::max(newest_ms, sample.time_ms);
        }
        break;
      }
      case FieldKind::kUnitFirstString:
        out.raw[i] = static_cast<std::uint32_t>(first_string_ + 1);
        break;
      case FieldKind::kUnitCount:
        out.raw[i] = static_cast<std::uint32_t>(unitPageCount(blocks_per_string_.size()));
        break;
      case FieldKind::kGeneralFlags:
      case FieldKind::kBatteryFlags:
      case FieldKind::kDataQualityFlags:  // read() fills these only when they are requested
      case FieldKind::kQualityFlags:
      case FieldKind::kAgeS:
      case FieldKind::kReserved:
      case FieldKind::kAlarmActiveCount:
      case FieldKind::kAlarmAlarmCount:
      case FieldKind::kAlarmWarningCount:
      case FieldKind::kAlarmUnacknowledgedCount:
      case FieldKind::kAlarmHighestLevel:
      case FieldKind::kAlarmTableCount:
      case FieldKind::kAlarmAcknowledge:
      case FieldKind::kAlarmEntryId:
      case FieldKind::kAlarmEntryRuleCode:
      case FieldKind::kAlarmEntryLevel:
      case FieldKind::kAlarmEntryString:
      case FieldKind::kAlarmEntryBlock:
      case FieldKind::kAlarmEntryAcknowledged:  // read() fills the alarm registers
        out.raw[i] = 0;
        break;
    }
  }
  // Second pass: the record-level registers.
  for (std::size_t i = 0; i < fields.size() && i < kMaxFields; ++i) {
    if (fields[i].kind == FieldKind::kQualityFlags) {
      out.raw[i] = flags;
    } else if (fields[i].kind == FieldKind::kAgeS) {
      if (newest_ms <= 0) {
        out.raw[i] = kSentinelUint16;
      } else {
        const auto age_s = std::max<TimeMs>(0, r.nowMs() - newest_ms) / 1000;
        out.raw[i] = static_cast<std::uint32_t>(std::min<TimeMs>(age_s, 65534));
      }
    }
  }
}

const RegisterMap::Summary& RegisterMap::summary(const state::StateStore::Reader& r) const {
  Summary& c = cached_summary_;
  const TimeMs now = r.nowMs();
  if (stale_after_ms_ <= 0 || !c.computed || c.version != r.version() || now < c.computed_ms ||
      now > c.valid_until_ms) {
    c = Summary{};
    computeSummary(r, c);
  }
  return c;
}

void RegisterMap::computeSummary(const state::StateStore::Reader& r, Summary& out) const {
  out.computed = true;
  out.version = r.version();
  out.computed_ms = r.nowMs();
  out.valid_until_ms = std::numeric_limits<TimeMs>::max();
  // Every sample read here: an ok one turns stale after time_ms + stale_after_ms.
  auto get = [&](PointId id, std::size_t s = 0, std::size_t b = 0) {
    const auto sample = r.get(id, s, b);
    if (sample.quality == Quality::kOk && sample.time_ms > 0) {
      out.valid_until_ms = std::min(out.valid_until_ms, sample.time_ms + stale_after_ms_);
    }
    return sample;
  };
  const SectionDef* block_section = nullptr;
  for (const auto& s : registerLayout()) {
    if (s.scope == Scope::kBlock) {
      block_section = &s;
    }
  }
  const bool running = get(PointId::kSystemSweepCount).quality == Quality::kOk;
  std::uint16_t general = running ? kStateRunning : 0;
  const int balancing = model::enumValue(PointId::kStringEqualizationState, "balancing");
  for (std::size_t s = 0; s < blocks_per_string_.size(); ++s) {
    const auto mode = get(PointId::kStringMode, s);
    if (mode.quality == Quality::kOk) {
      switch (static_cast<model::StringModeValue>(std::lround(mode.value))) {
        case model::StringModeValue::kDischarge:
          general |= kStateDischarging;
          break;
        case model::StringModeValue::kCharge:
          general |= kStateCharging;
          break;
        case model::StringModeValue::kFloat:
          general |= kStateFloatCharging;
          break;
        case model::StringModeValue::kRest:
          break;
      }
    }
    const auto eq = get(PointId::kStringEqualizationState, s);
    if (eq.quality == Quality::kOk && std::lround(eq.value) == balancing) {
      general |= kStateEqualisation;
    }
    for (int b = 0; b < blocks_per_string_[s]; ++b) {
      const auto bi = static_cast<std::size_t>(b);
      if (get(PointId::kBlockVoltageV, s, bi).quality == Quality::kCommLost) {
        general |= kStateModuleLost;
      }
      const auto duty = get(PointId::kBlockEqualizationPct, s, bi);
      if (duty.quality == Quality::kOk && duty.value >= 0.5) {
        general |= kStateEqualisation;
      }
      const auto status = get(PointId::kBlockStatus, s, bi);
      if (status.quality != Quality::kOk) {
        out.battery |= kBatteryUnknown;
      } else {
        switch (static_cast<model::BlockStatus>(std::lround(status.value))) {
          case model::BlockStatus::kOk:
            break;
          case model::BlockStatus::kWarning:
            out.battery |= kBatteryWarning;
            break;
          case model::BlockStatus::kAlarm:
            out.battery |= kBatteryAlarm;
            break;
          case model::BlockStatus::kUnknown:
            out.battery |= kBatteryUnknown;
            break;
        }
      }
      if (block_section != nullptr) {
        for (const auto& f : block_section->fields) {
          if (f.kind == FieldKind::kPoint) {
            bool oor = false;
            const auto sample = get(f.point, s, bi);
            (void)encodeSample(sample, f.encoding, f.scale, &oor);
            out.quality |= qualityFlag(sample.quality) | (oor ? kFlagOutOfRange : 0);
          }
        }
      }
    }
  }
  out.general = running ? general : 0;
}

bool RegisterMap::touchesAlarms(std::uint32_t start, std::uint32_t count) const {
  for (std::uint32_t a = start; a < start + count && a < kSize; ++a) {
    const Cell& cell = cells_[a];
    if (cell.record_plus_one != 0 && records_[cell.record_plus_one - 1].section->alarms) {
      return true;
    }
  }
  return false;
}

std::uint16_t alarmRegister(FieldKind kind, const std::vector<alarms::ActiveAlarm>& list, int entry,
                            int word) {
  const auto counts = adapters::countAlarms(list);
  auto clamp16 = [](int v) { return static_cast<std::uint16_t>(std::clamp(v, 0, 65534)); };
  const alarms::ActiveAlarm* a = entry >= 0 && static_cast<std::size_t>(entry) < list.size()
                                     ? &list[static_cast<std::size_t>(entry)]
                                     : nullptr;
  switch (kind) {
    case FieldKind::kAlarmActiveCount:
      return clamp16(counts.active);
    case FieldKind::kAlarmAlarmCount:
      return clamp16(counts.alarm);
    case FieldKind::kAlarmWarningCount:
      return clamp16(counts.warning);
    case FieldKind::kAlarmUnacknowledgedCount:
      return clamp16(counts.unacknowledged);
    case FieldKind::kAlarmHighestLevel:
      return static_cast<std::uint16_t>(counts.highest);
    case FieldKind::kAlarmTableCount:
      return clamp16(std::min(counts.active, kAlarmTableEntries));
    case FieldKind::kAlarmEntryId: {
      const std::uint32_t id = a ? adapters::protocolAlarmId(*a) : 0;
      return static_cast<std::uint16_t>(word == 0 ? id >> 16 : id & 0xFFFF);
    }
    case FieldKind::kAlarmEntryRuleCode:
      return a ? adapters::ruleCode(a->rule_id) : 0;
    case FieldKind::kAlarmEntryLevel:
      return a ? static_cast<std::uint16_t>(a->level) : 0;
    case FieldKind::kAlarmEntryString:
      return a ? clamp16(a->string_number) : 0;
    case FieldKind::kAlarmEntryBlock:
      return a ? clamp16(a->block_number) : 0;
    case FieldKind::kAlarmEntryAcknowledged:
      return a && a->acknowledged ? 1 : 0;
    default:
      return 0;
  }
}

void RegisterMap::read(const state::StateStore::Reader& r, std::uint16_t start, std::uint16_t count,
                       std::uint16_t* out,
                       const std::vector<alarms::ActiveAlarm>* alarm_list) const {
  RecordValues values;
  std::uint32_t loaded = 0;  // record_plus_one of `values`
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t address = start + i;
    out[i] = 0;
    if (address >= kSize) {
      continue;
    }
    const Cell& cell = cells_[address];
    if (cell.record_plus_one == 0) {
      continue;
    }
    const Record& rec = records_[cell.record_plus_one - 1];
    const auto field_index = rec.section->field_at[cell.offset];
    if (field_index < 0) {
      continue;
    }
    const auto& f = rec.section->fields[static_cast<std::size_t>(field_index)];
    if (rec.section->alarms) {
      if (alarm_list != nullptr) {
        out[i] = alarmRegister(f.kind, *alarm_list, rec.string_index, cell.offset - f.offset);
      }
      continue;
    }
    if (f.kind == FieldKind::kGeneralFlags || f.kind == FieldKind::kBatteryFlags ||
        f.kind == FieldKind::kDataQualityFlags) {
      const Summary& sum = summary(r);
      out[i] = f.kind == FieldKind::kGeneralFlags   ? sum.general
               : f.kind == FieldKind::kBatteryFlags ? sum.battery
                                                    : sum.quality;
      continue;
    }
    if (loaded != cell.record_plus_one) {
      loadRecord(r, rec, values);
      loaded = cell.record_plus_one;
    }
    const std::uint32_t raw = values.raw[static_cast<std::size_t>(field_index)];
    if (f.words() == 1) {
      out[i] = static_cast<std::uint16_t>(raw & 0xFFFF);
    } else {
      // Big-endian word order: high word at the lower address.
      out[i] = cell.offset == f.offset ? static_cast<std::uint16_t>(raw >> 16)
                                       : static_cast<std::uint16_t>(raw & 0xFFFF);
    }
  }
}

// ---------------------------------------------------------------------------------------------

std::string registerMapMarkdown() {
  std::string out =
      "# Modbus register map\n\n"
      "Generated from the point catalogue by `registerMapMarkdown()` "
      "(`src/adapters/modbus/register_map.cpp`); a unit test checks that this file matches. "
      "Start the server with `equalisd --modbus-tcp HOST:PORT` (Modbus TCP, any unit id) or "
      "`equalisd --modbus-rtu DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]` (Modbus RTU slave, defaults "
      "19200 baud, even parity, slave 1; 8 data bits, 1 stop bit), e.g. "
      "`--modbus-rtu /dev/ttyUSB0:19200:N:1`.\n\n"
      "## Conventions\n\n"
      "- **Addresses are 0-based PDU addresses**, as in the GENEREX/BACS documentation "
      "(\"these registers are in 0 base\"). Clients that count registers from 1 (\"40001\" style, "
      "or `mbpoll` without `-0`) must add 1: register 1003 is `mbpoll -0 -r 1003` or "
      "`mbpoll -r 1004`.\n"
      "- **Holding (FC 03) and input (FC 04) registers are the same table.** At most 125 "
      "registers per request.\n"
      "- Values are integers: register = round(value × scale); the *Step* column is the value "
      "of one count (`0.001 V` = mV). 16-bit values are signed (`int16`) or unsigned "
      "(`uint16`) as listed.\n"
      "- **32-bit values** (`int32`, `uint32`) take two registers, **high word first** (big-endian "
      "word order, \"ABCD\"; `mbpoll -t 4:int -B`). A read may start or end in the middle of "
      "one; the two halves of one request always belong to the same snapshot.\n"
      "- Enumerations are `uint16` indices; the values are listed in the description.\n\n"
      "## Data quality\n\n"
      "A register never shows an old value as if it were fresh. A value whose quality is not "
      "`ok` (stale, comm_lost, invalid, not_present), that was never measured, or that does not "
      "fit its register reads as the **sentinel**:\n\n"
      "| Type | Sentinel |\n|---|---|\n"
      "| int16 | 0x8000 (−32768) |\n| uint16 | 0xFFFF (65535) |\n"
      "| int32 | 0x80000000 |\n| uint32 | 0xFFFFFFFF |\n\n"
      "Every system, string and block record has a `quality_flags` register (OR over the "
      "record's values): 0x0001 stale, 0x0002 comm_lost, 0x0004 invalid, 0x0008 not_present, "
      "0x0010 out_of_range (fresh value that does not fit its register), and an `age_s` "
      "register: seconds since the newest measured value of the record (65534 = that old or "
      "older, 65535 = never measured). Register 1002 ORs the flags of all block records.\n\n"
      "## Errors\n\n"
      "| Request | Answer |\n|---|---|\n"
      "| FC 03/04 on an address that is not a register (see the sections below), or a range that "
      "includes one | exception 02 (illegal data address) |\n"
      "| FC 03/04 with a count of 0 or more than 125 | exception 03 (illegal data value) |\n"
      "| Any write (05, 06, 0F, 10, 16, 17) while `[modbus] writes` is false (the default) | "
      "exception 01 (illegal function) |\n"
      "| Modbus TCP: any write from an address that is not in `[modbus] write_allowlist` (when "
      "the key is set) | exception 01 (illegal function) |\n"
      "| With writes on: FC 06 or 10 anywhere but the acknowledge register 3010 (FC 10: 3010 "
      "with 1 or 2 registers) | exception 02 (illegal data address) |\n"
      "| With writes on: an id that is not an active alarm (or 0) | exception 03 (illegal data "
      "value) |\n"
      "| With writes on: the acknowledgement failed in the controller | exception 04 (server "
      "device failure) |\n"
      "| Any other function (coils/discrete inputs 01, 02, 05, 0F, 16, 17, …) | exception 01 "
      "(illegal function) |\n\n"
      "The only writable register is the alarm acknowledge register, and only with `writes = "
      "true` in the `[modbus]` section of the configuration (and, with `write_allowlist`, "
      "from the addresses listed there). Malformed frames are dropped (TCP: the connection is "
      "closed, see below; RTU: the line is flushed); the daemon keeps serving.\n\n"
      "## Modbus TCP connections\n\n"
      "The TCP server reads every connection without blocking: each connection has its own "
      "receive buffer, and a request is complete when as many bytes have arrived as its MBAP "
      "header says (7-byte header; its length field counts the unit id and the PDU, 2–254; at "
      "most 260 bytes in all). A client that sends slowly, or stops in the middle of a request, "
      "delays no other client. Requests on one connection are answered in order; a client may "
      "send the next before the answer to the previous one has arrived.\n\n"
      "| Situation | What happens |\n|---|---|\n"
      "| 32 connections open and another one comes | the new one is accepted and closed at "
      "once; the open ones stay (a warning) |\n"
      "| No complete request on a connection for 60 s | the connection is closed |\n"
      "| A request begun but not complete 5 s after its first byte | the connection is closed (a "
      "warning naming the client's address) |\n"
      "| An MBAP header with a protocol id other than 0, or a length outside 2–254 | the "
      "connection is closed at once, nothing is answered (a warning naming the address and the "
      "problem) |\n"
      "| A reply that cannot be sent at once (a client that does not read its replies) | the "
      "connection is closed |\n\n"
      "Warnings about clients are rate-limited: at most 5 lines of a kind (bad or incomplete "
      "requests, refused connections, refused writes) per 10 s; the next line written says how "
      "many were held back.\n\n"
      "**Write allowlist.** `[modbus] write_allowlist = [\"127.0.0.1\", \"10.0.0.0/8\", "
      "\"::1\"]` (addresses or CIDR prefixes, IPv4 and IPv6; an IPv4 client of a dual-stack "
      "IPv6 socket matches IPv4 entries) lets only clients at those addresses write. A write "
      "function (05, 06, 0F, 10, 16, 17) from any other address answers exception 01 (illegal "
      "function) — Modbus has no \"access denied\" exception; 01 is the one for a function the "
      "server does not offer, and the same answer as with writes off — and is logged with the "
      "address. Reads are not affected. Without the key every client may write as far as "
      "`writes` allows. The list applies to Modbus TCP (an RTU line has no addresses). The event "
      "log names the address an acknowledgement came from.\n\n"
      "## Alarms\n\n"
      "The alarm summary (3000–3005) and the active-alarm table (3100–3355, 32 entries of 8 "
      "registers) show the alarms of the alarm engine and of the thermal-runaway protection "
      "as the REST API does (`/api/v1/alarms`), read live on every request. An alarm keeps its "
      "id while it is active; a new raise gets a new id (alarms of the thermal-runaway "
      "protection: 1073741824 + 1000 · string + block). A shelved alarm (docs/alarms.md, "
      "\"Shelving\") is off the display: it is neither in the summary's counts nor in the table "
      "until its shelf ends; 1114 (`system.shelved_count`) counts the shelved alarms.\n\n"
      "**Acknowledging** (only with `[modbus] writes = true`): write the alarm's id to the "
      "acknowledge register — FC 06 to 3010 with a 16-bit id (ids up to 65534), or FC 16 to "
      "3010–3011 with the 32-bit id, high word first. 0xFFFF (FC 06) or 0xFFFFFFFF (FC 16) "
      "acknowledges every active alarm. The acknowledgement is the same as from the REST API "
      "(logged to the event log with the source); the entry's `acknowledged` register reads 1 "
      "afterwards. Acknowledging an acknowledged alarm again is accepted and changes nothing.\n\n"
      "```\n"
      "mbpoll -m tcp -p 1502 -a 1 -0 -r 3100 -c 8 -t 4 -1 127.0.0.1     # first alarm entry\n"
      "mbpoll -m tcp -p 1502 -a 1 -0 -r 3010 -t 4 127.0.0.1 17          # acknowledge alarm 17\n"
      "```\n\n"
      "### Rule codes\n\n"
      "Register `alarm.rule_code` of an entry; stable (codes are never reused). 0 = a rule "
      "not in this table (e.g. one added later); its rule id is in the REST API.\n\n"
      "| Code | Rule |\n|---|---|\n";
  for (const auto& rc : adapters::kRuleCodes) {
    out += fmt::format("| {} | `{}` |\n", rc.code, rc.rule_id);
  }
  out += fmt::format("| {} | `input.*` (any digital-input alarm) |\n", adapters::kInputRuleCode);
  out +=
      "\n"
      "## Strings 11–64: unit ids\n\n"
      "The 16-bit address space holds the records of 10 strings × 600 blocks (block records "
      "4000–63999), so a larger plant is served under several **unit ids**, each with the same "
      "map for the next ten strings. Nothing moves for strings 1–10: they stay at the addresses "
      "below under unit id 1 and under every unit id that has no strings of its own (0, 255, …), "
      "as every unit id read before. Under unit id u (2 ≤ u ≤ ⌈strings / 10⌉), \"string n\" of "
      "every section below is string 10·(u−1) + n of the plant:\n\n"
      "| Unit id (TCP) | RTU slave id | Strings | String n of the plant is |\n|---|---|---|---|\n";
  for (int u = 1; u <= kMaxUnitPages; ++u) {
    const int first = (u - 1) * kStringsPerUnit + 1;
    const int last = std::min(u * kStringsPerUnit, kMaxPlantStrings);
    out +=
        fmt::format("| {} | S{} | {}–{} | {} |\n", u == 1 ? "1 (and any other)" : std::to_string(u),
                    u == 1 ? "" : fmt::format(" + {}", u - 1), first, last,
                    u == 1 ? "n" : fmt::format("{} + n", first - 1));
  }
  out +=
      "\n"
      "Registers that are not per string are the same under every unit id: the general and "
      "system registers (1000–1009, 1100–1111 and 1114: counts and flags over the whole plant), "
      "the alarm "
      "summary, the acknowledge register and the alarm table (whose `alarm.string` is the plant "
      "string number, 1–64). Register 1112 (`unit.first_string`) tells which string is string 1 "
      "under the unit id read, 1113 (`unit.count`) how many unit ids carry strings. A unit id "
      "beyond the plant's strings (unit id 3 on a 15-string plant) reads strings 1–10, like "
      "unit id 1.\n\n"
      "**Modbus RTU:** the slave answers its slave id S (`--modbus-rtu DEVICE:BAUD:PARITY:S`) "
      "for strings 1–10 and, on a plant with more than 10 strings, also S + 1 … S + "
      "⌈strings / 10⌉ − 1 for the others (a 64-string plant with S = 1 answers slave ids 1–7): "
      "keep those ids free on the line. S + ⌈strings / 10⌉ − 1 must not exceed 247.\n\n"
      "String 64, block 64 (the last block of a 64 × 64 plant) is string 4 of unit id 7: its "
      "voltage is at 4000 + 6000·3 + 10·63 = 22630 under unit id 7 (`mbpoll -a 7 -0 -r 22630 -c "
      "10 -t 3 …`).\n"
      "\n"
      "## Register sections\n\n"
      "| Section | Addresses |\n|---|---|\n";
  for (const auto& s : registerLayout()) {
    std::uint32_t last = s.base + s.size - 1u;
    if (s.scope == Scope::kString || (s.scope == Scope::kSystem && s.instances > 1)) {
      last = s.base + static_cast<std::uint32_t>(s.instances - 1) * s.string_stride + s.size - 1u;
    } else if (s.scope == Scope::kBlock) {
      last = s.base + static_cast<std::uint32_t>(s.instances - 1) * s.string_stride +
             static_cast<std::uint32_t>(kMaxBlocksPerString - 1) * s.block_stride + s.size - 1u;
    }
    out += fmt::format("| {} | {}–{} |\n", s.name, s.base, last);
  }
  out += "\nAddresses between the sections are not registers (exception 02).\n";
  for (const auto& s : registerLayout()) {
    out += fmt::format("\n### {}\n\n{}\n\n", s.name, s.description);
    const bool templ = s.scope != Scope::kSystem || s.instances > 1;
    out += templ ? "| Offset | Name | Type | Step | Description |\n|---|---|---|---|---|\n"
                 : "| Address | Name | Type | Step | Description |\n|---|---|---|---|---|\n";
    for (const auto& f : s.fields) {
      const std::string where =
          templ ? fmt::format("+{}", f.offset) : fmt::format("{}", s.base + f.offset);
      const std::string range = f.words() == 2
                                    ? fmt::format("{}–{}", where,
                                                  templ ? fmt::format("+{}", f.offset + 1)
                                                        : fmt::format("{}", s.base + f.offset + 1))
                                    : where;
      out += fmt::format("| {} | `{}` | {} | {} | {} |\n", range, f.name, encodingName(f.encoding),
                         f.unit.empty() ? "1" : f.unit, f.description);
    }
  }
  out +=
      "\nExample: block 5 of string 2 has its voltage at 4000 + 6000·1 + 10·4 = 10040 and its "
      "quality flags at 10047 under unit id 1; block 5 of string 12 has the same addresses under "
      "unit id 2.\n";
  out += "\n## Catalogue points without a register\n\nServed by the REST API only.\n\n";
  out += "| Point | Reason |\n|---|---|\n";
  for (const auto& e : excludedPoints()) {
    out += fmt::format("| `{}` | {} |\n", model::point(e.point).name, e.reason);
  }
  out +=
      "\n## Limits\n\n"
      "| What | Limit |\n|---|---|\n"
      "| Strings | 64 (the configuration's limit): 10 per unit id, unit ids 1–7 |\n"
      "| Blocks per string | 600 (the configuration's limit): 600 records of 10 registers, 6000 "
      "registers per string |\n"
      "| Registers per request | 125 (12 block records) |\n"
      "| Alarm table | the 32 worst active alarms; the counts in the alarm summary cover all |\n"
      "| TCP clients | 32 connections at once; one more is closed at once (see \"Modbus TCP "
      "connections\") |\n"
      "| TCP timeouts | 60 s without a complete request; 5 s to complete a request once begun |\n"
      "| Reading every block of a 64 × 64 plant | 4096 records = 64 strings × 6 requests of up to "
      "12 records: 384 requests (see docs/limits.md for the measured time) |\n"
      "\n## Examples\n\n"
      "```\n"
      "mbpoll -m tcp -p 1502 -a 1 -0 -r 1000 -c 5 -t 4 -1 127.0.0.1   # general registers\n"
      "mbpoll -m tcp -p 1502 -a 1 -0 -r 4000 -c 10 -t 3 -1 127.0.0.1  # string 1, block 1\n"
      "mbpoll -m tcp -p 1502 -a 1 -0 -r 2000 -c 2 -t 4:int -B -1 127.0.0.1  # string 1 voltage\n"
      "mbpoll -m tcp -p 1502 -a 7 -0 -r 22630 -c 10 -t 3 -1 127.0.0.1  # string 64, block 64\n"
      "mbpoll -m rtu -b 19200 -P none -a 1 -0 -r 1003 -c 2 -1 /dev/ttyUSB0\n"
      "```\n";
  return out;
}

}  // namespace equalis::modbus
