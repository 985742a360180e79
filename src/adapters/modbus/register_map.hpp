// The Modbus register map, generated from the point catalogue: one layout (sections of records
// with a fixed stride), instantiated for a plant into a flat address table that the servers read
// from. docs/modbus.md is generated from the same layout (registerMapMarkdown()).
//
// Addresses are 0-based PDU addresses (as in the GENEREX/BACS documentation); holding (FC3) and
// input (FC4) registers are the same table.
//
// The 16-bit address space holds 10 strings × 600 blocks. Larger plants are served under more
// unit ids, each with the same layout for the next 10 strings: unit id 1 (and every unit id that
// is not one of the others) serves strings 1–10 as before, unit id 2 strings 11–20, … unit id 7
// strings 61–64 (docs/modbus.md "Strings 11–64: unit ids"). A RegisterMap is the map of one unit.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alarms/alarms.hpp"
#include "model/points.hpp"
#include "model/quality.hpp"
#include "state/state_store.hpp"

namespace equalis::modbus {

enum class Encoding : std::uint8_t { kInt16, kUint16, kInt32, kUint32 };

// Sentinels: what a register reads when its value is stale, missing, invalid or does not fit.
constexpr std::uint16_t kSentinelInt16 = 0x8000;
constexpr std::uint16_t kSentinelUint16 = 0xFFFF;
constexpr std::uint32_t kSentinelInt32 = 0x8000'0000;
constexpr std::uint32_t kSentinelUint32 = 0xFFFF'FFFF;

// Quality flag bits (per record and in the summary register 1002).
constexpr std::uint16_t kFlagStale = 0x0001;
constexpr std::uint16_t kFlagCommLost = 0x0002;
constexpr std::uint16_t kFlagInvalid = 0x0004;
constexpr std::uint16_t kFlagNotPresent = 0x0008;
constexpr std::uint16_t kFlagOutOfRange = 0x0010;  // ok value that does not fit its register

// General status flags (register 1000), BACS_STATE_* values of the seed product.
constexpr std::uint16_t kStateRunning = 0x0001;
constexpr std::uint16_t kStateModuleLost = 0x0004;
constexpr std::uint16_t kStateDischarging = 0x0008;
constexpr std::uint16_t kStateCharging = 0x0010;
constexpr std::uint16_t kStateFloatCharging = 0x0040;
constexpr std::uint16_t kStateEqualisation = 0x0080;

// Battery status flags (register 1001), Equalis-defined.
constexpr std::uint16_t kBatteryWarning = 0x0001;
constexpr std::uint16_t kBatteryAlarm = 0x0002;
constexpr std::uint16_t kBatteryUnknown = 0x0004;

// Layout constants.
constexpr int kStringsPerUnit = 10;  // strings one unit id serves (one 16-bit address space)
constexpr int kMaxBlocksPerString = 600;
constexpr int kMaxPlantStrings = 64;  // config::kMaxStrings (a test checks they agree)
constexpr int kMaxUnitPages = (kMaxPlantStrings + kStringsPerUnit - 1) / kStringsPerUnit;  // 7
constexpr std::uint16_t kBlockBase = 4000;
constexpr std::uint16_t kBlockStringStride = 6000;
constexpr std::uint16_t kBlockStride = 10;

// Alarm registers (docs/modbus.md "Alarms"): a summary, the acknowledge register and a table of
// the active alarms, worst first.
constexpr std::uint16_t kAlarmSummaryBase = 3000;
constexpr std::uint16_t kAlarmAckRegister = 3010;  // 3010–3011: write an alarm id to acknowledge
constexpr std::uint16_t kAckAll16 = 0xFFFF;        // FC 06 / one register: every active alarm
constexpr std::uint32_t kAckAll32 = 0xFFFF'FFFF;   // FC 16 with two registers: every alarm
constexpr std::uint16_t kAlarmTableBase = 3100;
constexpr int kAlarmTableEntries = 32;
constexpr std::uint16_t kAlarmEntryStride = 8;

enum class FieldKind : std::uint8_t {
  kPoint,             // a catalogue point, value × scale
  kStringAvgVoltage,  // string.voltage_v / block count
  kQualityFlags,      // OR of the quality flags of the record's points
  kAgeS,              // seconds since the newest measured value of the record
  kGeneralFlags,      // register 1000
  kBatteryFlags,      // register 1001
  kDataQualityFlags,  // register 1002: OR of all block quality flags
  kReserved,          // reads 0
  kUnitFirstString,   // the plant string number served as string 1 under this unit id
  kUnitCount,         // unit ids that serve strings (⌈strings / 10⌉)
  // Alarm summary (from the active alarms, not from the state store).
  kAlarmActiveCount,
  kAlarmAlarmCount,
  kAlarmWarningCount,
  kAlarmUnacknowledgedCount,
  kAlarmHighestLevel,
  kAlarmTableCount,
  kAlarmAcknowledge,  // the write-only acknowledge register: reads 0
  // One entry of the active-alarm table (all 0 when the entry is empty).
  kAlarmEntryId,
  kAlarmEntryRuleCode,
  kAlarmEntryLevel,
  kAlarmEntryString,
  kAlarmEntryBlock,
  kAlarmEntryAcknowledged,
};

struct FieldDef {
  std::uint16_t offset = 0;
  FieldKind kind = FieldKind::kReserved;
  model::PointId point = model::PointId::kCount;  // kPoint, kStringAvgVoltage
  Encoding encoding = Encoding::kUint16;
  double scale = 1.0;
  bool measured = false;  // counts for kAgeS
  std::string name;       // catalogue name or a register name ("quality_flags")
  std::string unit;       // of one register step ("mV", "0.1 °C"), "" for flags and counts
  std::string description;

  int words() const {
    return encoding == Encoding::kInt32 || encoding == Encoding::kUint32 ? 2 : 1;
  }
};

struct SectionDef {
  std::string name;
  model::Scope scope = model::Scope::kSystem;
  std::uint16_t base = 0;
  std::uint16_t string_stride = 0;  // between string records (kString) or string areas (kBlock)
  std::uint16_t block_stride = 0;   // between block records (kBlock)
  int instances = 1;    // strings served (kString, kBlock); entries of the alarm table (kSystem)
  bool alarms = false;  // filled from the active alarms (entry n of a table: string_stride apart)
  std::uint16_t size = 0;  // registers per record (fields + reserved ones)
  // True: every record of every instance is readable, unconfigured strings read sentinels.
  // False: only records of configured strings/blocks exist (others answer exception 02).
  bool fixed = false;
  std::string description;
  std::vector<FieldDef> fields;
  std::vector<std::int16_t> field_at;  // offset → index into fields, -1 = reserved
};

// Why a catalogue point has no register (the REST API serves it).
struct ExcludedPoint {
  model::PointId point;
  std::string_view reason;
};

// The one function that builds the layout from the catalogue.
const std::vector<SectionDef>& registerLayout();
std::span<const ExcludedPoint> excludedPoints();

// Encodes one sample: sentinel unless quality is ok, the value is finite, measured, and fits.
// Returns the raw register bits (one word in the low 16 bits for 16-bit encodings).
std::uint32_t encodeSample(const state::Sample& sample, Encoding encoding, double scale,
                           bool* out_of_range = nullptr);
std::uint32_t sentinelFor(Encoding encoding);
std::uint16_t qualityFlag(model::Quality q);

// Unit ids that serve strings for a plant of `strings` strings: ⌈strings / 10⌉, at least 1.
int unitPageCount(std::size_t strings);
// The page (0 = strings 1–10, 1 = strings 11–20, …) a request to `unit_id` reads, where
// `base_unit_id` serves page 0 (TCP: 1; RTU: the slave id). Unit ids that are not
// base + 1 … base + pages − 1 read page 0, as every unit id did before pages existed.
int unitPage(int unit_id, int base_unit_id, int pages);

// The layout instantiated for a plant and one unit id: a flat table address → register.
class RegisterMap {
 public:
  // stale_after_ms > 0 lets the summary registers (1000–1002) be cached until the state changes
  // or a value in them could turn stale; 0 = recompute on every read. `page` selects the
  // strings: 10·page + 1 … 10·page + 10 appear as strings 1–10 of the layout.
  explicit RegisterMap(std::vector<int> blocks_per_string, DurationMs stale_after_ms = 0,
                       int page = 0);

  bool readable(std::uint32_t address) const {
    return address < kSize && cells_[address].record_plus_one != 0;
  }
  // True when every address in [start, start + count) exists.
  bool readable(std::uint32_t start, std::uint32_t count) const;
  // Fills out[0..count) from the state (call readable() first; missing addresses read 0).
  // Not thread-safe (summary cache): one map per serving thread.
  // `alarm_list` (worst first) fills the alarm registers; nullptr reads them as 0.
  void read(const state::StateStore::Reader& r, std::uint16_t start, std::uint16_t count,
            std::uint16_t* out, const std::vector<alarms::ActiveAlarm>* alarm_list = nullptr) const;
  // True when [start, start + count) touches an alarm register (the caller then fetches alarms).
  bool touchesAlarms(std::uint32_t start, std::uint32_t count) const;
  std::size_t registerCount() const;
  // Configured strings this map serves (0–10) and the first one (0-based plant index).
  std::size_t servedStrings() const { return served_strings_; }
  std::size_t firstString() const { return first_string_; }
  int page() const { return page_; }

  static constexpr std::uint32_t kSize = 65536;

 private:
  struct Record {
    const SectionDef* section;
    std::int16_t string_index;  // 0-based plant index, -1 for system; entry of an alarm table
    std::int16_t block_index;   // 0-based, -1 for system/string
    bool configured;
  };
  // One per register address: record + 1 (0 = no register) and offset within the record.
  struct Cell {
    std::uint32_t record_plus_one = 0;
    std::uint16_t offset = 0;
  };
  struct Summary {
    bool computed = false;
    std::uint16_t general = 0;
    std::uint16_t battery = 0;
    std::uint16_t quality = 0;
    std::uint64_t version = 0;
    TimeMs computed_ms = 0;
    TimeMs valid_until_ms = 0;  // the first time an ok value in it may turn stale
  };
  static constexpr std::size_t kMaxFields = 32;
  // The encoded fields of one record, read once per request.
  struct RecordValues {
    std::array<std::uint32_t, kMaxFields> raw{};
  };

  void addRecord(const SectionDef& section, std::uint32_t base, int string_index, int block_index,
                 bool configured);
  void loadRecord(const state::StateStore::Reader& r, const Record& rec, RecordValues& out) const;
  void computeSummary(const state::StateStore::Reader& r, Summary& s) const;

  const Summary& summary(const state::StateStore::Reader& r) const;

  std::vector<int> blocks_per_string_;
  DurationMs stale_after_ms_ = 0;
  mutable Summary cached_summary_;
  std::size_t served_strings_ = 0;
  std::size_t first_string_ = 0;
  int page_ = 0;
  std::vector<Record> records_;
  std::vector<Cell> cells_;
};

// The value of an alarm register (kind kAlarm*) of alarm table entry `entry` (0-based; ignored
// for summary kinds) and word `word` of 32-bit fields (0 = high).
std::uint16_t alarmRegister(FieldKind kind, const std::vector<alarms::ActiveAlarm>& list, int entry,
                            int word);

// docs/modbus.md.
std::string registerMapMarkdown();

}  // namespace equalis::modbus
