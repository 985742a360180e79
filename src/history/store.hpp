// History store: snapshots of every block and string, plus events, in one SQLite file.
//
//  * WAL journal, synchronous=FULL by default (see docs/history.md), busy timeout, one
//    transaction per snapshot, prepared statements reused.
//  * Thread-safe: one writer connection and one reader connection, each behind its own mutex,
//    so queries never wait for a snapshot being written (WAL readers see the last commit).
//    CSV exports open a private connection and read in chunks.
//  * Compact: values are scaled integers; block samples live in a WITHOUT ROWID table keyed
//    by (string, block, time), so a block's series is one primary-key range scan.
//  * Bounded: when the used pages exceed max_bytes, the oldest snapshots (with their string
//    and block rows, and the events up to them) are deleted until ~90 % of the bound is used;
//    freed pages are reused, so the file stops growing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/quality.hpp"

namespace equalis::history {

// Indices are 0-based. NaN = no value (stored as NULL, read back with quality invalid).
struct BlockRecord {
  int string_index = 0;
  int block_index = 0;
  double voltage_v = 0.0;
  double temperature_c = 0.0;
  double ri_mohm = 0.0;
  double charge_pct = 0.0;
  double equalization_pct = 0.0;
  model::Quality quality = model::Quality::kOk;
  double equalization_wh_per_day = 0.0;  // equalization effort (bypass energy of the last 24 h)
};

struct StringRecord {
  int string_index = 0;
  double voltage_v = 0.0;
  double current_a = 0.0;
  double ac_current_a = 0.0;
  double charge_avg_pct = 0.0;
  int mode = 0;
  model::Quality quality = model::Quality::kOk;
};

// The battery room's air (the system points ambient_temperature_c, humidity_pct, hydrogen_pct),
// each with its quality: not_present without a sensor. NaN = no value.
struct RoomRecord {
  double ambient_temperature_c = 0.0;
  model::Quality ambient_quality = model::Quality::kNotPresent;
  double humidity_pct = 0.0;
  model::Quality humidity_quality = model::Quality::kNotPresent;
  double hydrogen_pct = 0.0;
  model::Quality hydrogen_quality = model::Quality::kNotPresent;
};

struct Snapshot {
  TimeMs time_ms = 0;
  std::string reason;  // "float", "discharge", "after-discharge", "event", "start"
  std::vector<StringRecord> strings;
  std::vector<BlockRecord> blocks;
  std::optional<RoomRecord> room;  // none: the snapshot has no room row
};

struct EventRecord {
  EventRecord() = default;
  EventRecord(TimeMs time, std::string kind_name, std::string text, std::string level_name = {},
              int string_no = 0, int block_no = 0)
      : time_ms(time),
        kind(std::move(kind_name)),
        message(std::move(text)),
        level(std::move(level_name)),
        string_number(string_no),
        block_number(block_no) {}

  TimeMs time_ms = 0;
  std::string kind;  // "alarm", "protection", "mode", "system", "scenario", …
  std::string message;
  std::string level;      // alarm events: "warning", "alarm", "none"; else ""
  int string_number = 0;  // 1-based; 0 = not about one string
  int block_number = 0;   // 1-based; 0 = not about one block
};

// Event log query: time range plus optional filters (empty / 0 = any).
struct EventQuery {
  TimeMs from_ms = 0;
  TimeMs to_ms = 0;
  std::size_t limit = 0;  // 0 = no limit
  std::string kind;
  std::string level;
  int string_number = 0;
  int block_number = 0;
  // Substring of the message, case-insensitive for ASCII letters (other characters must match
  // exactly: SQLite's lower() folds ASCII only); empty = any.
  std::string text;
  // Order in which matches are counted, skipped (offset) and returned: oldest first (time, then
  // insertion order) or newest first (the reverse).
  bool newest_first = false;
  std::size_t offset = 0;  // matches skipped before the first returned one
};

struct SeriesPoint {
  TimeMs time_ms = 0;
  double value = 0.0;
  model::Quality quality = model::Quality::kOk;
};

// One row of the snapshot table (without its samples).
struct SnapshotInfo {
  TimeMs time_ms = 0;
  std::string reason;
  int string_count = 0;
  int block_count = 0;
};

// One quantity of every block of a string on one time axis: the times of the string's snapshots
// in the range, and per block the value at each of them (NaN = no value or no sample).
struct BlockMatrix {
  std::vector<TimeMs> times_ms;             // ascending
  std::vector<int> block_indices;           // 0-based, ascending: the blocks ever recorded
  std::vector<std::vector<double>> values;  // [block][time], same order as block_indices
};

enum class BlockQuantity {
  kVoltageV,
  kTemperatureC,
  kRiMohm,
  kChargePct,
  kEqualizationPct,
  kEqualizationWhPerDay
};
enum class StringQuantity { kVoltageV, kCurrentA, kAcCurrentA, kChargeAvgPct, kMode };
enum class RoomQuantity { kAmbientTemperatureC, kHumidityPct, kHydrogenPct };

// "voltage_v", "temperature_c", "ri_mohm", "charge_pct", "equalization_pct",
// "equalization_wh_per_day"
std::optional<BlockQuantity> parseBlockQuantity(std::string_view field);
// "voltage_v", "current_a", "ac_current_a", "charge_avg_pct", "mode"
std::optional<StringQuantity> parseStringQuantity(std::string_view field);
// "ambient_temperature_c", "humidity_pct", "hydrogen_pct" (the system points' field names)
std::optional<RoomQuantity> parseRoomQuantity(std::string_view field);
std::string_view roomQuantityName(RoomQuantity q);
std::string_view blockQuantityName(BlockQuantity q);
std::string_view stringQuantityName(StringQuantity q);

// Storage resolution of each quantity (the smallest step that round-trips).
double blockQuantityResolution(BlockQuantity q);
double stringQuantityResolution(StringQuantity q);
double roomQuantityResolution(RoomQuantity q);

enum class Durability {
  kFull,    // PRAGMA synchronous=FULL: a returned append() survives power loss (fsync per commit)
  kNormal,  // synchronous=NORMAL: survives a process crash; power loss may drop recent commits
};

struct StoreOptions {
  Durability durability = Durability::kFull;
  DurationMs busy_timeout_ms = 5 * kSecondMs;
  // Page size of a new database file (ignored for an existing one). Every snapshot rewrites
  // about one leaf page per block, so smaller pages mean fewer bytes written per snapshot.
  int page_size = 4096;
};

class Store {
 public:
  // Opens or creates the database file at `path`; the directory must exist. max_bytes > 0 bounds
  // the used pages (the file can exceed it by one snapshot plus the WAL).
  static Result<std::unique_ptr<Store>> open(const std::string& path, std::uint64_t max_bytes,
                                             const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // One transaction: the snapshot's rows, then the size bound. A snapshot with the same time as
  // an existing one replaces it. Negative indices or duplicate blocks → kInvalidArgument.
  Status append(const Snapshot& s);
  Status appendEvent(const EventRecord& e);
  // Several events in one transaction (one sync instead of one per event: an alarm storm).
  Status appendEvents(const std::vector<EventRecord>& events);

  // Series in ascending time, from_ms ≤ time ≤ to_ms, at most `limit` points (0 = no limit;
  // the oldest points of the range come first, so a caller pages with from = last + 1).
  Result<std::vector<SeriesPoint>> blockSeries(int string_index, int block_index, BlockQuantity q,
                                               TimeMs from_ms, TimeMs to_ms,
                                               std::size_t limit) const;
  Result<std::vector<SeriesPoint>> stringSeries(int string_index, StringQuantity q, TimeMs from_ms,
                                                TimeMs to_ms, std::size_t limit) const;
  // The battery room's air: the snapshots that carried a room record.
  Result<std::vector<SeriesPoint>> roomSeries(RoomQuantity q, TimeMs from_ms, TimeMs to_ms,
                                              std::size_t limit) const;
  // Every recorded block of a string (0-based) on the shared time axis of its snapshots,
  // from_ms ≤ time ≤ to_ms: one statement (each block's samples are one primary-key range).
  Result<BlockMatrix> stringBlockSeries(int string_index, BlockQuantity q, TimeMs from_ms,
                                        TimeMs to_ms) const;
  Result<std::vector<EventRecord>> events(TimeMs from_ms, TimeMs to_ms, std::size_t limit) const;
  // Events matching `q`: q.offset skipped, then at most q.limit, in the query's order.
  Result<std::vector<EventRecord>> events(const EventQuery& q) const;
  // How many events match q's range and filters (limit and offset ignored), counting at most
  // `cap` (0 = no cap).
  Result<std::size_t> countEvents(const EventQuery& q, std::size_t cap) const;
  Result<std::vector<SnapshotInfo>> snapshots(TimeMs from_ms, TimeMs to_ms,
                                              std::size_t limit) const;

  // CSV of the block records with from_ms ≤ time ≤ to_ms, header
  // "time,string,block,voltage_v,temperature_c,ri_mohm,charge_pct,equalization_pct,
  // equalization_wh_per_day,quality",
  // time ISO 8601 UTC, string/block 1-based, empty field = no value. string_index (0-based)
  // filters one string, -1 = all. Rows go to `sink` in chunks of ~64 KiB; the export reads on its
  // own connection, a bounded number of snapshots per query. A sink returning false cancels the
  // export (→ kUnavailable).
  Status exportBlocksCsv(TimeMs from_ms, TimeMs to_ms, int string_index,
                         const std::function<bool(std::string_view chunk)>& sink) const;

  struct Stats {
    std::uint64_t snapshot_count = 0;
    std::uint64_t block_record_count = 0;
    std::uint64_t used_bytes = 0;  // (page_count − freelist_count) · page_size
    std::uint64_t file_bytes = 0;  // database file + WAL file on disk
    std::uint64_t max_bytes = 0;
    TimeMs oldest_ms = 0;  // oldest / newest snapshot, 0 when empty
    TimeMs newest_ms = 0;
  };
  Result<Stats> stats() const;

  // PRAGMA integrity_check; ok or kIo listing the first problems.
  Status checkIntegrity() const;
  // Copies the WAL into the database and truncates it (PRAGMA wal_checkpoint(TRUNCATE)).
  Status checkpoint();
  // A consistent copy of the whole store in `target` (a new file), with SQLite's online backup
  // API on a connection of its own: one read transaction, so snapshots appended meanwhile are
  // either all in the copy or not at all, and the writer is never blocked (WAL).
  Status backupTo(const std::string& target) const;

  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace equalis::history
