#include "history/store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

#include "history/schema.hpp"

namespace equalis::history {

namespace {

constexpr std::size_t kExportChunkBytes = std::size_t{64} * 1024;
constexpr int kExportSnapshotsPerQuery = 256;
constexpr int kMaxTrimRounds = 64;

// Storage scales (value × scale = stored integer) and the decimals that represent them.
struct Scale {
  double factor;
  int decimals;
};
constexpr Scale kVoltageScale{1000.0, 3};    // V → mV
constexpr Scale kTemperatureScale{10.0, 1};  // °C → 0.1 °C
constexpr Scale kRiScale{1000.0, 3};         // mΩ → µΩ
constexpr Scale kChargeScale{10.0, 1};       // % → 0.1 %
constexpr Scale kEqualizationScale{1.0, 0};  // % → 1 %
constexpr Scale kEffortScale{10.0, 1};       // Wh/day → 0.1 Wh/day
constexpr Scale kCurrentScale{1000.0, 3};    // A → mA
constexpr Scale kModeScale{1.0, 0};
constexpr Scale kHumidityScale{10.0, 1};     // % → 0.1 %
constexpr Scale kHydrogenScale{10000.0, 4};  // % by volume → ppm

Scale blockScale(BlockQuantity q) {
  switch (q) {
    case BlockQuantity::kVoltageV:
      return kVoltageScale;
    case BlockQuantity::kTemperatureC:
      return kTemperatureScale;
    case BlockQuantity::kRiMohm:
      return kRiScale;
    case BlockQuantity::kChargePct:
      return kChargeScale;
    case BlockQuantity::kEqualizationPct:
      return kEqualizationScale;
    case BlockQuantity::kEqualizationWhPerDay:
      return kEffortScale;
  }
  return kVoltageScale;
}

Scale stringScale(StringQuantity q) {
  switch (q) {
    case StringQuantity::kVoltageV:
      return kVoltageScale;
    case StringQuantity::kCurrentA:
    case StringQuantity::kAcCurrentA:
      return kCurrentScale;
    case StringQuantity::kChargeAvgPct:
      return kChargeScale;
    case StringQuantity::kMode:
      return kModeScale;
  }
  return kVoltageScale;
}

Scale roomScale(RoomQuantity q) {
  switch (q) {
    case RoomQuantity::kAmbientTemperatureC:
      return kTemperatureScale;
    case RoomQuantity::kHumidityPct:
      return kHumidityScale;
    case RoomQuantity::kHydrogenPct:
      return kHydrogenScale;
  }
  return kTemperatureScale;
}

// Column of the value in kBlockSeries / kStringSeries (column 0 is the time).
constexpr int kBlockSeriesQualityColumn = 7;
constexpr int kStringSeriesQualityColumn = 6;
int blockColumn(BlockQuantity q) {
  return 1 + static_cast<int>(q);
}
int stringColumn(StringQuantity q) {
  return 1 + static_cast<int>(q);
}
// kRoomSeries: the value and the quality of each quantity side by side.
int roomColumn(RoomQuantity q) {
  return 1 + (2 * static_cast<int>(q));
}

std::optional<std::int64_t> toScaled(double v, Scale s) {
  if (!std::isfinite(v)) {
    return std::nullopt;
  }
  const double scaled = std::round(v * s.factor);
  if (std::fabs(scaled) > 9.0e15) {  // beyond exact doubles: not a measurement
    return std::nullopt;
  }
  return static_cast<std::int64_t>(scaled);
}

model::Quality qualityFromInt(std::int64_t v) {
  if (v < 0 || v > static_cast<std::int64_t>(model::Quality::kNotPresent)) {
    return model::Quality::kInvalid;
  }
  return static_cast<model::Quality>(v);
}

// A missing value cannot be "ok": report it invalid, keep the more specific bad qualities.
model::Quality qualityForValue(bool has_value, model::Quality stored) {
  if (!has_value && (stored == model::Quality::kOk || stored == model::Quality::kStale)) {
    return model::Quality::kInvalid;
  }
  return stored;
}

void appendInt(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;
  out.append(buf.data(), end);
}

// Fixed-point integer → decimal text, exactly (13512 with 3 decimals → "13.512").
void appendFixed(std::string& out, std::int64_t v, int decimals) {
  std::uint64_t u = static_cast<std::uint64_t>(v);
  if (v < 0) {
    out += '-';
    u = 0 - u;
  }
  std::uint64_t pow = 1;
  for (int i = 0; i < decimals; ++i) {
    pow *= 10;
  }
  appendInt(out, u / pow);
  if (decimals > 0) {
    out += '.';
    std::string frac;
    appendInt(frac, u % pow);
    out.append(static_cast<std::size_t>(decimals) - frac.size(), '0');
    out += frac;
  }
}

std::uint64_t fileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::int64_t sqlLimit(std::size_t limit) {
  if (limit == 0 || limit > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    return -1;  // SQLite: negative LIMIT = no limit
  }
  return static_cast<std::int64_t>(limit);
}

// Resets a statement (and drops its bindings) when the scope ends.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* s) : s_(s) {}
  ~ScopedReset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* s_;
};

// One SQLite connection and the statements prepared on it (finalized before closing).
class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status open(const std::string& path, bool create, DurationMs busy_timeout_ms) {
    path_ = path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;  // callers serialize with a mutex
    if (create) {
      flags |= SQLITE_OPEN_CREATE;
    }
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = "history store '" + path + "': cannot open: ";
      msg += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      if (rc == SQLITE_CANTOPEN) {
        msg += " (does the directory exist and is it writable?)";
      }
      close();
      return makeError(ErrorCode::kIo, std::move(msg));
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(std::clamp<DurationMs>(busy_timeout_ms, 0, 600000)));
    return {};
  }

  void close() {
    for (sqlite3_stmt* s : statements_) {
      sqlite3_finalize(s);
    }
    statements_.clear();
    if (db_ != nullptr) {
      sqlite3_close(db_);
      db_ = nullptr;
    }
  }

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

  Error error(std::string_view what, int rc) const {
    const int primary = rc & 0xff;
    const ErrorCode code = primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH ||
                                   primary == SQLITE_TOOBIG || primary == SQLITE_RANGE
                               ? ErrorCode::kInvalidArgument
                           : primary == SQLITE_BUSY || primary == SQLITE_LOCKED
                               ? ErrorCode::kTimeout
                               : ErrorCode::kIo;
    std::string msg = "history store '" + path_ + "': " + std::string(what) + ": ";
    msg += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    return makeError(code, std::move(msg));
  }

  Result<sqlite3_stmt*> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      return error("prepare", rc);
    }
    statements_.push_back(s);
    return s;
  }

  Status exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return error(what, rc);
    }
    return {};
  }

  // Steps a statement that returns no rows, or whose rows are ignored, to completion.
  Status run(sqlite3_stmt* s, std::string_view what) {
    ScopedReset reset(s);
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) {
      rc = sqlite3_step(s);
    }
    if (rc != SQLITE_DONE) {
      return error(what, rc);
    }
    return {};
  }

  // First column of the first row as an integer; nullopt when no row or NULL.
  Result<std::optional<std::int64_t>> queryInt(sqlite3_stmt* s, std::string_view what) {
    ScopedReset reset(s);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
      return std::optional<std::int64_t>{};
    }
    if (rc != SQLITE_ROW) {
      return error(what, rc);
    }
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
      return std::optional<std::int64_t>{};
    }
    return std::optional<std::int64_t>{sqlite3_column_int64(s, 0)};
  }

  // A one-shot text query (PRAGMAs whose answer is text).
  Result<std::string> queryText(const char* sql, std::string_view what) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc != SQLITE_OK) {
      return error(what, rc);
    }
    std::string text;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      if (t != nullptr) {
        text = reinterpret_cast<const char*>(t);
      }
      rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
      Error e = error(what, rc);
      sqlite3_finalize(s);
      return e;
    }
    sqlite3_finalize(s);
    return text;
  }

  Result<std::int64_t> queryIntOnce(const char* sql, std::string_view what) {
    auto text = queryText(sql, what);
    if (!text) {
      return text.error();
    }
    std::int64_t v = 0;
    std::from_chars(text->data(), text->data() + text->size(), v);
    return v;
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

void bindScaled(sqlite3_stmt* s, int index, double v, Scale scale) {
  if (auto scaled = toScaled(v, scale)) {
    sqlite3_bind_int64(s, index, *scaled);
  } else {
    sqlite3_bind_null(s, index);
  }
}

void bindOptional(sqlite3_stmt* s, int index, std::optional<TimeMs> v) {
  if (v) {
    sqlite3_bind_int64(s, index, *v);
  } else {
    sqlite3_bind_null(s, index);
  }
}

void bindText(sqlite3_stmt* s, int index, std::string_view text) {
  // The text outlives the step; bindings are cleared by ScopedReset (SQLITE_STATIC semantics).
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), nullptr);
}

std::string columnText(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  if (t == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

Status openConnection(Connection& c, const std::string& path, bool create,
                      const StoreOptions& options) {
  return c.open(path, create, options.busy_timeout_ms);
}

}  // namespace

// Names come from blockQuantityName()/stringQuantityName(): one list, read both ways.
std::optional<BlockQuantity> parseBlockQuantity(std::string_view field) {
  for (int i = 0; i <= static_cast<int>(BlockQuantity::kEqualizationWhPerDay); ++i) {
    const auto q = static_cast<BlockQuantity>(i);
    if (blockQuantityName(q) == field) {
      return q;
    }
  }
  return std::nullopt;
}

std::optional<StringQuantity> parseStringQuantity(std::string_view field) {
  for (int i = 0; i <= static_cast<int>(StringQuantity::kMode); ++i) {
    const auto q = static_cast<StringQuantity>(i);
    if (stringQuantityName(q) == field) {
      return q;
    }
  }
  return std::nullopt;
}

std::optional<RoomQuantity> parseRoomQuantity(std::string_view field) {
  for (const auto q : {RoomQuantity::kAmbientTemperatureC, RoomQuantity::kHumidityPct,
                       RoomQuantity::kHydrogenPct}) {
    if (roomQuantityName(q) == field) {
      return q;
    }
  }
  return std::nullopt;
}

std::string_view roomQuantityName(RoomQuantity q) {
  switch (q) {
    case RoomQuantity::kAmbientTemperatureC:
      return "ambient_temperature_c";
    case RoomQuantity::kHumidityPct:
      return "humidity_pct";
    case RoomQuantity::kHydrogenPct:
      return "hydrogen_pct";
  }
  return "?";
}

std::string_view blockQuantityName(BlockQuantity q) {
  switch (q) {
    case BlockQuantity::kVoltageV:
      return "voltage_v";
    case BlockQuantity::kTemperatureC:
      return "temperature_c";
    case BlockQuantity::kRiMohm:
      return "ri_mohm";
    case BlockQuantity::kChargePct:
      return "charge_pct";
    case BlockQuantity::kEqualizationPct:
      return "equalization_pct";
    case BlockQuantity::kEqualizationWhPerDay:
      return "equalization_wh_per_day";
  }
  return "?";
}

std::string_view stringQuantityName(StringQuantity q) {
  switch (q) {
    case StringQuantity::kVoltageV:
      return "voltage_v";
    case StringQuantity::kCurrentA:
      return "current_a";
    case StringQuantity::kAcCurrentA:
      return "ac_current_a";
    case StringQuantity::kChargeAvgPct:
      return "charge_avg_pct";
    case StringQuantity::kMode:
      return "mode";
  }
  return "?";
}

double blockQuantityResolution(BlockQuantity q) {
  return 1.0 / blockScale(q).factor;
}
double stringQuantityResolution(StringQuantity q) {
  return 1.0 / stringScale(q).factor;
}
double roomQuantityResolution(RoomQuantity q) {
  return 1.0 / roomScale(q).factor;
}

struct Store::Impl {
  std::string path;
  std::uint64_t max_bytes = 0;
  StoreOptions options;
  std::int64_t page_size = 4096;

  // ---- writer (append, appendEvent, checkpoint) ----
  std::mutex write_mutex;
  Connection writer;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* snapshot_exists = nullptr;
  sqlite3_stmt* insert_snapshot = nullptr;
  sqlite3_stmt* insert_string = nullptr;
  sqlite3_stmt* insert_room = nullptr;
  sqlite3_stmt* insert_block = nullptr;
  sqlite3_stmt* insert_block_key = nullptr;
  sqlite3_stmt* insert_event = nullptr;
  sqlite3_stmt* w_page_count = nullptr;
  sqlite3_stmt* w_freelist_count = nullptr;
  sqlite3_stmt* count_snapshots = nullptr;
  sqlite3_stmt* nth_oldest = nullptr;
  sqlite3_stmt* delete_blocks = nullptr;
  sqlite3_stmt* delete_strings = nullptr;
  sqlite3_stmt* delete_room = nullptr;
  sqlite3_stmt* delete_snapshots = nullptr;
  sqlite3_stmt* delete_events_up_to = nullptr;
  sqlite3_stmt* count_events = nullptr;
  sqlite3_stmt* delete_oldest_events = nullptr;
  std::set<std::pair<int, int>> block_keys;  // mirror of the block_key table (committed)

  // ---- reader (queries, stats) ----
  mutable std::mutex read_mutex;
  Connection reader;
  sqlite3_stmt* block_series = nullptr;
  sqlite3_stmt* string_series = nullptr;
  sqlite3_stmt* room_series = nullptr;
  sqlite3_stmt* string_blocks = nullptr;
  sqlite3_stmt* events = nullptr;
  sqlite3_stmt* events_newest = nullptr;
  sqlite3_stmt* count_matching_events = nullptr;
  sqlite3_stmt* snapshots = nullptr;
  sqlite3_stmt* snapshot_totals = nullptr;
  sqlite3_stmt* r_page_count = nullptr;
  sqlite3_stmt* r_freelist_count = nullptr;

  Status openWriter();
  Status initSchema();
  Status openReader();

  Result<std::uint64_t> usedBytesWriter();
  Status deleteSnapshots(TimeMs lo, TimeMs hi, std::optional<TimeMs> keep,
                         const std::set<std::pair<int, int>>& extra_keys);
  Status enforceBound(std::optional<TimeMs> keep, const std::set<std::pair<int, int>>& extra_keys);
  Status appendInTransaction(const Snapshot& s, std::set<std::pair<int, int>>& new_keys);
  Status finishTransaction(Status body);
};

Status Store::Impl::openWriter() {
  if (auto st = openConnection(writer, path, true, options); !st) {
    return st;
  }
  // Only takes effect on a new, empty file; does not read the file.
  const std::string page_sql = "PRAGMA page_size=" + std::to_string(options.page_size);
  if (auto st = writer.exec(page_sql.c_str(), "set page size"); !st) {
    return st;
  }
  // The first statement that reads the file: a non-SQLite file fails here ("file is not a
  // database"), before anything is written.
  auto mode = writer.queryText("PRAGMA journal_mode=WAL", "set WAL journal mode");
  if (!mode) {
    return mode.error();
  }
  if (*mode != "wal") {
    return makeError(ErrorCode::kIo, "history store '" + path +
                                         "': WAL journal mode refused (got '" + *mode + "')");
  }
  const char* sync = options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                             : "PRAGMA synchronous=NORMAL";
  if (auto st = writer.exec(sync, "set synchronous"); !st) {
    return st;
  }
  auto ps = writer.queryIntOnce("PRAGMA page_size", "read page size");
  if (!ps) {
    return ps.error();
  }
  page_size = std::max<std::int64_t>(512, *ps);
  // Checkpoint the WAL often enough that it stays small next to the bound (≤ 1/8 of it, between
  // 64 and SQLite's default 1000 pages), and truncate it back after a checkpoint.
  const std::int64_t bound_pages = static_cast<std::int64_t>(max_bytes) / page_size;
  const std::int64_t wal_pages = std::clamp<std::int64_t>(bound_pages / 8, 64, 1000);
  const std::string wal_sql =
      "PRAGMA wal_autocheckpoint=" + std::to_string(wal_pages) +
      "; PRAGMA journal_size_limit=" + std::to_string(wal_pages * (page_size + 24));
  if (auto st = writer.exec(wal_sql.c_str(), "configure WAL checkpoints"); !st) {
    return st;
  }
  if (auto st = initSchema(); !st) {
    return st;
  }

  struct Prep {
    sqlite3_stmt** slot;
    const char* sql;
  };
  const Prep preps[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&snapshot_exists, sql::kSnapshotExists},
      {&insert_snapshot, sql::kInsertSnapshot},
      {&insert_string, sql::kInsertString},
      {&insert_room, sql::kInsertRoom},
      {&insert_block, sql::kInsertBlock},
      {&insert_block_key, sql::kInsertBlockKey},
      {&insert_event, sql::kInsertEvent},
      {&w_page_count, "PRAGMA page_count"},
      {&w_freelist_count, "PRAGMA freelist_count"},
      {&count_snapshots, sql::kCountSnapshots},
      {&nth_oldest, sql::kNthOldestSnapshot},
      {&delete_blocks, sql::kDeleteBlocks},
      {&delete_strings, sql::kDeleteStrings},
      {&delete_room, sql::kDeleteRoom},
      {&delete_snapshots, sql::kDeleteSnapshots},
      {&delete_events_up_to, sql::kDeleteEventsUpTo},
      {&count_events, sql::kCountEvents},
      {&delete_oldest_events, sql::kDeleteOldestEvents},
  };
  for (const Prep& p : preps) {
    auto s = writer.prepare(p.sql);
    if (!s) {
      return s.error();
    }
    *p.slot = *s;
  }

  auto keys = writer.prepare(sql::kSelectBlockKeys);
  if (!keys) {
    return keys.error();
  }
  ScopedReset reset(*keys);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(*keys)) == SQLITE_ROW) {
    block_keys.emplace(sqlite3_column_int(*keys, 0), sqlite3_column_int(*keys, 1));
  }
  if (rc != SQLITE_DONE) {
    return writer.error("read block keys", rc);
  }
  return {};
}

Status Store::Impl::initSchema() {
  if (auto st = writer.exec("BEGIN IMMEDIATE", "begin schema transaction"); !st) {
    return st;
  }
  auto body = [&]() -> Status {
    auto app_id = writer.queryIntOnce("PRAGMA application_id", "read application id");
    if (!app_id) {
      return app_id.error();
    }
    auto version = writer.queryIntOnce("PRAGMA user_version", "read schema version");
    if (!version) {
      return version.error();
    }
    auto objects = writer.queryIntOnce("SELECT count(*) FROM sqlite_schema", "read schema");
    if (!objects) {
      return objects.error();
    }
    if (*app_id != sql::kApplicationId && (*app_id != 0 || *objects != 0)) {
      return makeError(
          ErrorCode::kInvalidArgument,
          "history store '" + path + "': an SQLite database, but not an Equalis history store");
    }
    if (*version > sql::kSchemaVersion) {
      return makeError(ErrorCode::kInvalidArgument,
                       "history store '" + path + "': schema version " + std::to_string(*version) +
                           " is newer than this build supports (" +
                           std::to_string(sql::kSchemaVersion) + ")");
    }
    if (auto st = writer.exec(sql::kCreateSchema, "create schema"); !st) {
      return st;
    }
    if (*version == 1 && *objects != 0) {
      if (auto st = writer.exec(sql::kMigrateV1, "migrate schema v1 to v2"); !st) {
        return st;
      }
    }
    if (*version >= 1 && *version <= 2 && *objects != 0) {
      if (auto st = writer.exec(sql::kMigrateV2, "migrate schema v2 to v3"); !st) {
        return st;
      }
    }
    const std::string ids = "PRAGMA application_id=" + std::to_string(sql::kApplicationId) +
                            "; PRAGMA user_version=" + std::to_string(sql::kSchemaVersion);
    return writer.exec(ids.c_str(), "write schema version");
  };
  Status st = body();
  if (!st) {
    (void)writer.exec("ROLLBACK", "rollback");
    return st;
  }
  return writer.exec("COMMIT", "commit schema");
}

Status Store::Impl::openReader() {
  if (auto st = openConnection(reader, path, false, options); !st) {
    return st;
  }
  if (auto st = reader.exec("PRAGMA query_only=1", "configure reader"); !st) {
    return st;
  }
  struct Prep {
    sqlite3_stmt** slot;
    const char* sql;
  };
  const Prep preps[] = {
      {&block_series, sql::kBlockSeries},
      {&string_series, sql::kStringSeries},
      {&room_series, sql::kRoomSeries},
      {&string_blocks, sql::kStringBlocks},
      {&events, sql::kEvents},
      {&events_newest, sql::kEventsNewestFirst},
      {&count_matching_events, sql::kCountMatchingEvents},
      {&snapshots, sql::kSnapshots},
      {&snapshot_totals, sql::kSnapshotTotals},
      {&r_page_count, "PRAGMA page_count"},
      {&r_freelist_count, "PRAGMA freelist_count"},
  };
  for (const Prep& p : preps) {
    auto s = reader.prepare(p.sql);
    if (!s) {
      return s.error();
    }
    *p.slot = *s;
  }
  return {};
}

Result<std::uint64_t> Store::Impl::usedBytesWriter() {
  auto pages = writer.queryInt(w_page_count, "read page count");
  if (!pages) {
    return pages.error();
  }
  auto free_pages = writer.queryInt(w_freelist_count, "read freelist count");
  if (!free_pages) {
    return free_pages.error();
  }
  const std::int64_t used = pages->value_or(0) - free_pages->value_or(0);
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, used) * page_size);
}

Status Store::Impl::deleteSnapshots(TimeMs lo, TimeMs hi, std::optional<TimeMs> keep,
                                    const std::set<std::pair<int, int>>& extra_keys) {
  auto delete_key = [&](const std::pair<int, int>& key) -> Status {
    sqlite3_bind_int(delete_blocks, 1, key.first);
    sqlite3_bind_int(delete_blocks, 2, key.second);
    sqlite3_bind_int64(delete_blocks, 3, lo);
    sqlite3_bind_int64(delete_blocks, 4, hi);
    bindOptional(delete_blocks, 5, keep);
    return writer.run(delete_blocks, "delete block samples");
  };
  for (const auto& key : block_keys) {
    if (auto st = delete_key(key); !st) {
      return st;
    }
  }
  for (const auto& key : extra_keys) {
    if (block_keys.count(key) == 0) {
      if (auto st = delete_key(key); !st) {
        return st;
      }
    }
  }
  sqlite3_bind_int64(delete_strings, 1, lo);
  sqlite3_bind_int64(delete_strings, 2, hi);
  bindOptional(delete_strings, 3, keep);
  if (auto st = writer.run(delete_strings, "delete string samples"); !st) {
    return st;
  }
  sqlite3_bind_int64(delete_room, 1, lo);
  sqlite3_bind_int64(delete_room, 2, hi);
  bindOptional(delete_room, 3, keep);
  if (auto st = writer.run(delete_room, "delete room samples"); !st) {
    return st;
  }
  sqlite3_bind_int64(delete_snapshots, 1, lo);
  sqlite3_bind_int64(delete_snapshots, 2, hi);
  bindOptional(delete_snapshots, 3, keep);
  return writer.run(delete_snapshots, "delete snapshots");
}

// Deletes the oldest snapshots (never `keep`), and the events up to them, until the used pages
// are ≤ 90 % of the bound. Runs inside the caller's transaction.
Status Store::Impl::enforceBound(std::optional<TimeMs> keep,
                                 const std::set<std::pair<int, int>>& extra_keys) {
  auto used = usedBytesWriter();
  if (!used) {
    return used.error();
  }
  if (*used <= max_bytes) {
    return {};
  }
  const std::uint64_t target = max_bytes - max_bytes / 10;
  for (int round = 0; round<kMaxTrimRounds&& * used> target; ++round) {
    bindOptional(count_snapshots, 1, keep);
    auto count = writer.queryInt(count_snapshots, "count snapshots");
    if (!count) {
      return count.error();
    }
    const std::int64_t n = count->value_or(0);
    if (n > 0) {
      // Assume the used pages are spread evenly over the snapshots (+1: the kept one).
      const std::uint64_t per_snapshot =
          std::max<std::uint64_t>(1, *used / static_cast<std::uint64_t>(n + 1));
      const std::uint64_t excess = *used - target;
      const std::int64_t k = std::clamp<std::int64_t>(
          static_cast<std::int64_t>((excess + per_snapshot - 1) / per_snapshot), 1, n);
      bindOptional(nth_oldest, 1, keep);
      sqlite3_bind_int64(nth_oldest, 2, k - 1);
      auto cutoff = writer.queryInt(nth_oldest, "find oldest snapshots");
      if (!cutoff) {
        return cutoff.error();
      }
      if (!cutoff->has_value()) {
        break;
      }
      if (auto st = deleteSnapshots(std::numeric_limits<TimeMs>::min(), **cutoff, keep, extra_keys);
          !st) {
        return st;
      }
      sqlite3_bind_int64(delete_events_up_to, 1, **cutoff);
      if (auto st = writer.run(delete_events_up_to, "delete old events"); !st) {
        return st;
      }
    } else {
      // Only events (and the kept snapshot) left: drop the oldest tenth of the events.
      auto events_count = writer.queryInt(count_events, "count events");
      if (!events_count) {
        return events_count.error();
      }
      const std::int64_t e = events_count->value_or(0);
      if (e == 0) {
        break;  // the bound is smaller than one snapshot: keep it anyway
      }
      sqlite3_bind_int64(delete_oldest_events, 1, std::max<std::int64_t>(1, e / 10));
      if (auto st = writer.run(delete_oldest_events, "delete oldest events"); !st) {
        return st;
      }
    }
    used = usedBytesWriter();
    if (!used) {
      return used.error();
    }
  }
  return {};
}

Status Store::Impl::appendInTransaction(const Snapshot& s,
                                        std::set<std::pair<int, int>>& new_keys) {
  sqlite3_bind_int64(snapshot_exists, 1, s.time_ms);
  auto exists = writer.queryInt(snapshot_exists, "look up snapshot");
  if (!exists) {
    return exists.error();
  }
  if (exists->has_value()) {  // same time again: the new snapshot replaces the old one
    if (auto st = deleteSnapshots(s.time_ms, s.time_ms, std::nullopt, {}); !st) {
      return st;
    }
  }

  sqlite3_bind_int64(insert_snapshot, 1, s.time_ms);
  bindText(insert_snapshot, 2, s.reason);
  sqlite3_bind_int64(insert_snapshot, 3, static_cast<std::int64_t>(s.strings.size()));
  sqlite3_bind_int64(insert_snapshot, 4, static_cast<std::int64_t>(s.blocks.size()));
  if (auto st = writer.run(insert_snapshot, "insert snapshot"); !st) {
    return st;
  }

  for (const StringRecord& r : s.strings) {
    sqlite3_bind_int64(insert_string, 1, s.time_ms);
    sqlite3_bind_int(insert_string, 2, r.string_index);
    bindScaled(insert_string, 3, r.voltage_v, kVoltageScale);
    bindScaled(insert_string, 4, r.current_a, kCurrentScale);
    bindScaled(insert_string, 5, r.ac_current_a, kCurrentScale);
    bindScaled(insert_string, 6, r.charge_avg_pct, kChargeScale);
    sqlite3_bind_int(insert_string, 7, r.mode);
    sqlite3_bind_int(insert_string, 8, static_cast<int>(r.quality));
    if (auto st = writer.run(insert_string, "insert string sample"); !st) {
      return st;
    }
  }

  if (s.room) {
    const RoomRecord& r = *s.room;
    sqlite3_bind_int64(insert_room, 1, s.time_ms);
    bindScaled(insert_room, 2, r.ambient_temperature_c, kTemperatureScale);
    sqlite3_bind_int(insert_room, 3, static_cast<int>(r.ambient_quality));
    bindScaled(insert_room, 4, r.humidity_pct, kHumidityScale);
    sqlite3_bind_int(insert_room, 5, static_cast<int>(r.humidity_quality));
    bindScaled(insert_room, 6, r.hydrogen_pct, kHydrogenScale);
    sqlite3_bind_int(insert_room, 7, static_cast<int>(r.hydrogen_quality));
    if (auto st = writer.run(insert_room, "insert room sample"); !st) {
      return st;
    }
  }

  for (const BlockRecord& r : s.blocks) {
    const std::pair<int, int> key{r.string_index, r.block_index};
    if (block_keys.count(key) == 0 && new_keys.count(key) == 0) {
      sqlite3_bind_int(insert_block_key, 1, r.string_index);
      sqlite3_bind_int(insert_block_key, 2, r.block_index);
      if (auto st = writer.run(insert_block_key, "insert block key"); !st) {
        return st;
      }
      new_keys.insert(key);
    }
    sqlite3_bind_int(insert_block, 1, r.string_index);
    sqlite3_bind_int(insert_block, 2, r.block_index);
    sqlite3_bind_int64(insert_block, 3, s.time_ms);
    bindScaled(insert_block, 4, r.voltage_v, kVoltageScale);
    bindScaled(insert_block, 5, r.temperature_c, kTemperatureScale);
    bindScaled(insert_block, 6, r.ri_mohm, kRiScale);
    bindScaled(insert_block, 7, r.charge_pct, kChargeScale);
    bindScaled(insert_block, 8, r.equalization_pct, kEqualizationScale);
    sqlite3_bind_int(insert_block, 9, static_cast<int>(r.quality));
    bindScaled(insert_block, 10, r.equalization_wh_per_day, kEffortScale);
    if (auto st = writer.run(insert_block, "insert block sample"); !st) {
      return st;
    }
  }
  return enforceBound(s.time_ms, new_keys);
}

Status Store::Impl::finishTransaction(Status body) {
  if (!body) {
    (void)writer.run(rollback, "rollback");
    return body;
  }
  if (auto st = writer.run(commit, "commit"); !st) {
    (void)writer.run(rollback, "rollback");
    return st;
  }
  return {};
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const {
  return impl_->path;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, std::uint64_t max_bytes,
                                           const StoreOptions& options) {
  if (path.empty() || path == ":memory:") {
    return makeError(ErrorCode::kInvalidArgument,
                     "history store '" + path + "': a database file path is required");
  }
  if (max_bytes == 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     "history store '" + path + "': max_bytes must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->max_bytes = max_bytes;
  impl->options = options;
  if (auto st = impl->openWriter(); !st) {
    return st.error();
  }
  if (auto st = impl->openReader(); !st) {
    return st.error();
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::append(const Snapshot& s) {
  for (const StringRecord& r : s.strings) {
    if (r.string_index < 0) {
      return makeError(ErrorCode::kInvalidArgument,
                       "history store '" + impl_->path + "': negative string index");
    }
  }
  for (const BlockRecord& r : s.blocks) {
    if (r.string_index < 0 || r.block_index < 0) {
      return makeError(ErrorCode::kInvalidArgument,
                       "history store '" + impl_->path + "': negative block index");
    }
  }
  Impl& m = *impl_;
  std::lock_guard lock(m.write_mutex);
  if (auto st = m.writer.run(m.begin, "begin transaction"); !st) {
    return st;
  }
  std::set<std::pair<int, int>> new_keys;
  if (auto st = m.finishTransaction(m.appendInTransaction(s, new_keys)); !st) {
    return st;
  }
  m.block_keys.insert(new_keys.begin(), new_keys.end());
  return {};
}

Status Store::appendEvent(const EventRecord& e) {
  return appendEvents({e});
}

Status Store::appendEvents(const std::vector<EventRecord>& events) {
  if (events.empty()) {
    return {};
  }
  Impl& m = *impl_;
  std::lock_guard lock(m.write_mutex);
  if (auto st = m.writer.run(m.begin, "begin transaction"); !st) {
    return st;
  }
  auto body = [&]() -> Status {
    for (const auto& e : events) {
      sqlite3_bind_int64(m.insert_event, 1, e.time_ms);
      bindText(m.insert_event, 2, e.kind);
      bindText(m.insert_event, 3, e.message);
      bindText(m.insert_event, 4, e.level);
      sqlite3_bind_int(m.insert_event, 5, e.string_number);
      sqlite3_bind_int(m.insert_event, 6, e.block_number);
      if (auto st = m.writer.run(m.insert_event, "insert event"); !st) {
        return st;
      }
    }
    return m.enforceBound(std::nullopt, {});
  };
  return m.finishTransaction(body());
}

// Rows of a bound series statement: (time, value columns…, quality) → points.
Result<std::vector<SeriesPoint>> readSeries(const Connection& c, sqlite3_stmt* s, int col,
                                            Scale scale, int quality_col, const char* what) {
  std::vector<SeriesPoint> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    SeriesPoint p;
    p.time_ms = sqlite3_column_int64(s, 0);
    const bool has = sqlite3_column_type(s, col) != SQLITE_NULL;
    p.value = has ? static_cast<double>(sqlite3_column_int64(s, col)) / scale.factor
                  : std::numeric_limits<double>::quiet_NaN();
    p.quality = qualityForValue(has, qualityFromInt(sqlite3_column_int64(s, quality_col)));
    out.push_back(p);
  }
  if (rc != SQLITE_DONE) {
    return c.error(what, rc);
  }
  return out;
}

Result<std::vector<SeriesPoint>> Store::blockSeries(int string_index, int block_index,
                                                    BlockQuantity q, TimeMs from_ms, TimeMs to_ms,
                                                    std::size_t limit) const {
  Impl& m = *impl_;
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = m.block_series;
  ScopedReset reset(s);
  sqlite3_bind_int(s, 1, string_index);
  sqlite3_bind_int(s, 2, block_index);
  sqlite3_bind_int64(s, 3, from_ms);
  sqlite3_bind_int64(s, 4, to_ms);
  sqlite3_bind_int64(s, 5, sqlLimit(limit));
  return readSeries(m.reader, s, blockColumn(q), blockScale(q), kBlockSeriesQualityColumn,
                    "query block series");
}

Result<std::vector<SeriesPoint>> Store::stringSeries(int string_index, StringQuantity q,
                                                     TimeMs from_ms, TimeMs to_ms,
                                                     std::size_t limit) const {
  Impl& m = *impl_;
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = m.string_series;
  ScopedReset reset(s);
  sqlite3_bind_int(s, 1, string_index);
  sqlite3_bind_int64(s, 2, from_ms);
  sqlite3_bind_int64(s, 3, to_ms);
  sqlite3_bind_int64(s, 4, sqlLimit(limit));
  return readSeries(m.reader, s, stringColumn(q), stringScale(q), kStringSeriesQualityColumn,
                    "query string series");
}

Result<std::vector<SeriesPoint>> Store::roomSeries(RoomQuantity q, TimeMs from_ms, TimeMs to_ms,
                                                   std::size_t limit) const {
  Impl& m = *impl_;
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = m.room_series;
  ScopedReset reset(s);
  sqlite3_bind_int64(s, 1, from_ms);
  sqlite3_bind_int64(s, 2, to_ms);
  sqlite3_bind_int64(s, 3, sqlLimit(limit));
  return readSeries(m.reader, s, roomColumn(q), roomScale(q), roomColumn(q) + 1,
                    "query room series");
}

Result<std::vector<EventRecord>> Store::events(TimeMs from_ms, TimeMs to_ms,
                                               std::size_t limit) const {
  EventQuery q;
  q.from_ms = from_ms;
  q.to_ms = to_ms;
  q.limit = limit;
  return events(q);
}

namespace {

// ASCII lower case (what SQLite's lower() does to the message).
std::string asciiLower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

// Binds the range and filters of an event query (?1, ?2, ?4 … ?8).
void bindEventFilters(sqlite3_stmt* s, const EventQuery& q, const std::string& lower_text) {
  sqlite3_bind_int64(s, 1, q.from_ms);
  sqlite3_bind_int64(s, 2, q.to_ms);
  auto optional_text = [s](int index, const std::string& text) {
    if (text.empty()) {
      sqlite3_bind_null(s, index);
    } else {
      bindText(s, index, text);
    }
  };
  optional_text(4, q.kind);
  sqlite3_bind_int(s, 5, q.string_number);
  sqlite3_bind_int(s, 6, q.block_number);
  optional_text(7, q.level);
  optional_text(8, lower_text);
}

}  // namespace

Result<std::vector<EventRecord>> Store::events(const EventQuery& q) const {
  Impl& m = *impl_;
  const std::string text = asciiLower(q.text);
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = q.newest_first ? m.events_newest : m.events;
  ScopedReset reset(s);
  bindEventFilters(s, q, text);
  sqlite3_bind_int64(s, 3, sqlLimit(q.limit));
  sqlite3_bind_int64(s, 9,
                     std::min<std::uint64_t>(q.offset, std::numeric_limits<std::int64_t>::max()));
  std::vector<EventRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.push_back(EventRecord{sqlite3_column_int64(s, 0), columnText(s, 1), columnText(s, 2),
                              columnText(s, 3), sqlite3_column_int(s, 4),
                              sqlite3_column_int(s, 5)});
  }
  if (rc != SQLITE_DONE) {
    return m.reader.error("query events", rc);
  }
  return out;
}

Result<std::size_t> Store::countEvents(const EventQuery& q, std::size_t cap) const {
  Impl& m = *impl_;
  const std::string text = asciiLower(q.text);
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = m.count_matching_events;
  ScopedReset reset(s);
  bindEventFilters(s, q, text);
  sqlite3_bind_int64(s, 3, sqlLimit(cap));
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    return m.reader.error("count events", rc);
  }
  return static_cast<std::size_t>(std::max<std::int64_t>(0, sqlite3_column_int64(s, 0)));
}

Result<BlockMatrix> Store::stringBlockSeries(int string_index, BlockQuantity q, TimeMs from_ms,
                                             TimeMs to_ms) const {
  // Rows arrive block by block, each block in time order.
  struct Column {
    int block_index = 0;
    std::vector<TimeMs> times_ms;
    std::vector<double> values;
  };
  std::vector<Column> columns;
  {
    Impl& m = *impl_;
    std::lock_guard lock(m.read_mutex);
    sqlite3_stmt* s = m.string_blocks;
    ScopedReset reset(s);
    sqlite3_bind_int(s, 1, string_index);
    sqlite3_bind_int64(s, 2, from_ms);
    sqlite3_bind_int64(s, 3, to_ms);
    const int col = 1 + blockColumn(q);
    const Scale scale = blockScale(q);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const int block = sqlite3_column_int(s, 0);
      if (columns.empty() || columns.back().block_index != block) {
        columns.push_back(Column{block, {}, {}});
        if (columns.size() > 1) {
          columns.back().times_ms.reserve(columns[columns.size() - 2].times_ms.size());
          columns.back().values.reserve(columns[columns.size() - 2].values.size());
        }
      }
      Column& c = columns.back();
      c.times_ms.push_back(sqlite3_column_int64(s, 1));
      c.values.push_back(sqlite3_column_type(s, col) != SQLITE_NULL
                             ? static_cast<double>(sqlite3_column_int64(s, col)) / scale.factor
                             : std::numeric_limits<double>::quiet_NaN());
    }
    if (rc != SQLITE_DONE) {
      return m.reader.error("query string block series", rc);
    }
  }
  BlockMatrix out;
  // The shared axis: every time any block has (all of them, for snapshots of the whole string).
  for (const Column& c : columns) {
    if (out.times_ms.empty()) {
      out.times_ms = c.times_ms;
    } else if (c.times_ms != out.times_ms) {
      std::vector<TimeMs> merged;
      merged.reserve(out.times_ms.size() + c.times_ms.size());
      std::set_union(out.times_ms.begin(), out.times_ms.end(), c.times_ms.begin(), c.times_ms.end(),
                     std::back_inserter(merged));
      out.times_ms = std::move(merged);
    }
  }
  for (Column& c : columns) {
    out.block_indices.push_back(c.block_index);
    if (c.times_ms.size() == out.times_ms.size()) {  // on the whole axis: as read
      out.values.push_back(std::move(c.values));
      continue;
    }
    std::vector<double> row(out.times_ms.size(), std::numeric_limits<double>::quiet_NaN());
    std::size_t j = 0;
    for (std::size_t i = 0; i < c.times_ms.size(); ++i) {
      while (out.times_ms[j] < c.times_ms[i]) {
        ++j;
      }
      row[j] = c.values[i];
    }
    out.values.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<SnapshotInfo>> Store::snapshots(TimeMs from_ms, TimeMs to_ms,
                                                   std::size_t limit) const {
  Impl& m = *impl_;
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = m.snapshots;
  ScopedReset reset(s);
  sqlite3_bind_int64(s, 1, from_ms);
  sqlite3_bind_int64(s, 2, to_ms);
  sqlite3_bind_int64(s, 3, sqlLimit(limit));
  std::vector<SnapshotInfo> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.push_back(SnapshotInfo{sqlite3_column_int64(s, 0), columnText(s, 1),
                               sqlite3_column_int(s, 2), sqlite3_column_int(s, 3)});
  }
  if (rc != SQLITE_DONE) {
    return m.reader.error("query snapshots", rc);
  }
  return out;
}

Status Store::exportBlocksCsv(TimeMs from_ms, TimeMs to_ms, int string_index,
                              const std::function<bool(std::string_view chunk)>& sink) const {
  // A private connection: a long export neither blocks the other readers nor holds one read
  // transaction for its whole duration (each chunk query is its own transaction).
  Connection c;
  if (auto st = openConnection(c, impl_->path, false, impl_->options); !st) {
    return st;
  }
  if (auto st = c.exec("PRAGMA query_only=1", "configure export"); !st) {
    return st;
  }
  auto chunk_end = c.prepare(sql::kExportChunkEnd);
  if (!chunk_end) {
    return chunk_end.error();
  }
  auto rows = c.prepare(sql::kExportBlocks);
  if (!rows) {
    return rows.error();
  }
  const auto cancelled = [&] {
    return makeError(ErrorCode::kUnavailable,
                     "history store '" + impl_->path + "': CSV export cancelled by the consumer");
  };

  std::string buf;
  buf.reserve(kExportChunkBytes + 1024);
  buf +=
      "time,string,block,voltage_v,temperature_c,ri_mohm,charge_pct,equalization_pct,"
      "equalization_wh_per_day,quality\n";
  TimeMs lo = from_ms;
  TimeMs cached_time = 0;
  std::string cached_iso;
  bool have_cached = false;
  while (lo <= to_ms) {
    sqlite3_bind_int64(*chunk_end, 1, lo);
    sqlite3_bind_int64(*chunk_end, 2, to_ms);
    sqlite3_bind_int64(*chunk_end, 3, kExportSnapshotsPerQuery - 1);
    auto end = c.queryInt(*chunk_end, "find export chunk");
    if (!end) {
      return end.error();
    }
    const TimeMs hi = end->value_or(to_ms);

    sqlite3_stmt* s = *rows;
    {
      ScopedReset reset(s);
      sqlite3_bind_int64(s, 1, lo);
      sqlite3_bind_int64(s, 2, hi);
      sqlite3_bind_int(s, 3, string_index);
      int rc = SQLITE_ROW;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const TimeMs t = sqlite3_column_int64(s, 0);
        if (!have_cached || t != cached_time) {
          cached_time = t;
          cached_iso = formatIso8601(t);
          have_cached = true;
        }
        buf += cached_iso;
        buf += ',';
        appendInt(buf, static_cast<std::uint64_t>(sqlite3_column_int64(s, 1)) + 1);
        buf += ',';
        appendInt(buf, static_cast<std::uint64_t>(sqlite3_column_int64(s, 2)) + 1);
        const Scale scales[] = {kVoltageScale, kTemperatureScale,  kRiScale,
                                kChargeScale,  kEqualizationScale, kEffortScale};
        for (int i = 0; i < 6; ++i) {
          buf += ',';
          if (sqlite3_column_type(s, 3 + i) != SQLITE_NULL) {
            appendFixed(buf, sqlite3_column_int64(s, 3 + i), scales[i].decimals);
          }
        }
        buf += ',';
        buf += model::qualityName(qualityFromInt(sqlite3_column_int64(s, 9)));
        buf += '\n';
        if (buf.size() >= kExportChunkBytes) {
          if (!sink(buf)) {
            return cancelled();
          }
          buf.clear();
        }
      }
      if (rc != SQLITE_DONE) {
        return c.error("export block samples", rc);
      }
    }
    if (hi >= to_ms) {
      break;
    }
    lo = hi + 1;
  }
  if (!buf.empty() && !sink(buf)) {
    return cancelled();
  }
  return {};
}

Result<Store::Stats> Store::stats() const {
  Impl& m = *impl_;
  Stats st;
  st.max_bytes = m.max_bytes;
  {
    std::lock_guard lock(m.read_mutex);
    sqlite3_stmt* s = m.snapshot_totals;
    ScopedReset reset(s);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
      return m.reader.error("read statistics", rc);
    }
    st.snapshot_count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    st.block_record_count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
    st.oldest_ms = sqlite3_column_int64(s, 2);  // NULL → 0
    st.newest_ms = sqlite3_column_int64(s, 3);
    auto pages = m.reader.queryInt(m.r_page_count, "read page count");
    if (!pages) {
      return pages.error();
    }
    auto free_pages = m.reader.queryInt(m.r_freelist_count, "read freelist count");
    if (!free_pages) {
      return free_pages.error();
    }
    st.used_bytes = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, pages->value_or(0) - free_pages->value_or(0)) * m.page_size);
  }
  st.file_bytes = fileSize(m.path) + fileSize(m.path + "-wal");
  return st;
}

Status Store::checkIntegrity() const {
  Impl& m = *impl_;
  std::lock_guard lock(m.read_mutex);
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(m.reader.db(), "PRAGMA integrity_check(20)", -1, &s, nullptr);
  if (rc != SQLITE_OK) {
    return m.reader.error("integrity check", rc);
  }
  std::string report;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (!report.empty()) {
      report += "; ";
    }
    report += columnText(s, 0);
  }
  if (rc != SQLITE_DONE) {
    Error e = m.reader.error("integrity check", rc);
    sqlite3_finalize(s);
    return e;
  }
  sqlite3_finalize(s);
  if (report != "ok") {
    return makeError(ErrorCode::kIo,
                     "history store '" + m.path + "': integrity check failed: " + report);
  }
  return {};
}

Status Store::backupTo(const std::string& target) const {
  const std::string& source = impl_->path;
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  const auto fail = [&](const std::string& what, sqlite3* db, int rc) {
    std::string msg = fmt::format("history backup to {}: {}: {}", target, what,
                                  db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(src);
    sqlite3_close(dst);
    return makeError(ErrorCode::kIo, std::move(msg));
  };
  int rc =
      sqlite3_open_v2(source.c_str(), &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return fail("cannot open " + source, src, rc);
  }
  sqlite3_busy_timeout(src, static_cast<int>(impl_->options.busy_timeout_ms));
  rc = sqlite3_open_v2(target.c_str(), &dst,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return fail("cannot create", dst, rc);
  }
  sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
  if (backup == nullptr) {
    return fail("cannot start", dst, SQLITE_ERROR);
  }
  rc = sqlite3_backup_step(backup, -1);  // every page in one step: one read transaction
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return fail("copy failed", dst, rc);
  }
  sqlite3_close(src);
  src = nullptr;
  if (sqlite3_close(dst) != SQLITE_OK) {
    dst = nullptr;
    return makeError(ErrorCode::kIo, fmt::format("history backup to {}: cannot close", target));
  }
  return {};
}

Status Store::checkpoint() {
  Impl& m = *impl_;
  std::lock_guard lock(m.write_mutex);
  return m.writer.exec("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint");
}

}  // namespace equalis::history
