// SQL of the history store, in one place so that tests (and docs/history.md) can run
// EXPLAIN QUERY PLAN on exactly the statements the store prepares.
//
// Values are scaled integers (SQLite stores small integers in 0–3 bytes); NULL = no value
// (NaN). Scales: voltage mV, temperature 0.1 °C, Ri µΩ, charge 0.1 % (per mille),
// equalization 1 %, current mA. Times are epoch milliseconds (UTC). Indices are 0-based.
#pragma once

namespace equalis::history::sql {

// 'EQLH' — marks the file as an Equalis history store.
constexpr int kApplicationId = 0x45514C48;
// Version 2 added block_sample.equalization_dwh (equalization effort, 0.1 Wh/day); version 3
// event.level, event.string_no and event.block_no (event log filters); version 4 the table
// room_sample (the battery room's air; created by kCreateSchema when it opens an older store).
constexpr int kSchemaVersion = 4;

constexpr const char* kCreateSchema = R"sql(
CREATE TABLE IF NOT EXISTS snapshot (
  time_ms      INTEGER PRIMARY KEY,  -- epoch ms UTC (rowid alias: time-ordered, no extra index)
  reason       TEXT NOT NULL,        -- start | float | discharge | after-discharge | event
  string_count INTEGER NOT NULL,
  block_count  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS string_sample (
  time_ms       INTEGER NOT NULL,
  string_idx    INTEGER NOT NULL,
  voltage_mv    INTEGER,
  current_ma    INTEGER,
  ac_current_ma INTEGER,
  charge_avg_pm INTEGER,             -- 0.1 %
  mode          INTEGER,
  quality       INTEGER NOT NULL,
  PRIMARY KEY (time_ms, string_idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_key (
  string_idx INTEGER NOT NULL,
  block_idx  INTEGER NOT NULL,
  PRIMARY KEY (string_idx, block_idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_sample (
  string_idx       INTEGER NOT NULL,
  block_idx        INTEGER NOT NULL,
  time_ms          INTEGER NOT NULL,
  voltage_mv       INTEGER,
  temperature_dc   INTEGER,          -- 0.1 °C
  ri_uohm          INTEGER,
  charge_pm        INTEGER,          -- 0.1 %
  equalization_pct INTEGER,
  quality          INTEGER NOT NULL,
  equalization_dwh INTEGER,          -- equalization effort, 0.1 Wh/day (schema v2)
  PRIMARY KEY (string_idx, block_idx, time_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event (
  id      INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  message TEXT NOT NULL,
  level     TEXT NOT NULL DEFAULT '',   -- alarm events: warning | alarm | none (schema v3)
  string_no INTEGER NOT NULL DEFAULT 0, -- 1-based, 0 = not about one string (schema v3)
  block_no  INTEGER NOT NULL DEFAULT 0  -- 1-based, 0 = not about one block (schema v3)
);
CREATE INDEX IF NOT EXISTS event_time ON event (time_ms);
CREATE TABLE IF NOT EXISTS room_sample (
  time_ms      INTEGER PRIMARY KEY,  -- the snapshot's time (schema v4)
  ambient_dc   INTEGER,              -- ambient temperature, 0.1 °C
  ambient_q    INTEGER NOT NULL,
  humidity_pm  INTEGER,              -- relative humidity, 0.1 %
  humidity_q   INTEGER NOT NULL,
  hydrogen_ppm INTEGER,              -- hydrogen, ppm by volume (0.0001 %)
  hydrogen_q   INTEGER NOT NULL
);
)sql";

// Schema v1 → v2.
constexpr const char* kMigrateV1 = "ALTER TABLE block_sample ADD COLUMN equalization_dwh INTEGER";
// Schema v2 → v3.
constexpr const char* kMigrateV2 =
    "ALTER TABLE event ADD COLUMN level TEXT NOT NULL DEFAULT ''; "
    "ALTER TABLE event ADD COLUMN string_no INTEGER NOT NULL DEFAULT 0; "
    "ALTER TABLE event ADD COLUMN block_no INTEGER NOT NULL DEFAULT 0";

// ---- writer -------------------------------------------------------------------------------
constexpr const char* kSnapshotExists = "SELECT 1 FROM snapshot WHERE time_ms = ?1";
constexpr const char* kInsertSnapshot =
    "INSERT INTO snapshot (time_ms, reason, string_count, block_count) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kInsertString =
    "INSERT INTO string_sample (time_ms, string_idx, voltage_mv, current_ma, ac_current_ma, "
    "charge_avg_pm, mode, quality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kInsertBlock =
    "INSERT INTO block_sample (string_idx, block_idx, time_ms, voltage_mv, temperature_dc, "
    "ri_uohm, charge_pm, equalization_pct, quality, equalization_dwh) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* kInsertRoom =
    "INSERT INTO room_sample (time_ms, ambient_dc, ambient_q, humidity_pm, humidity_q, "
    "hydrogen_ppm, hydrogen_q) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertBlockKey =
    "INSERT OR IGNORE INTO block_key (string_idx, block_idx) VALUES (?1, ?2)";
constexpr const char* kSelectBlockKeys =
    "SELECT string_idx, block_idx FROM block_key ORDER BY string_idx, block_idx";
constexpr const char* kInsertEvent =
    "INSERT INTO event (time_ms, kind, message, level, string_no, block_no) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

// Size bound. ?keep (NULL = none) is the snapshot just appended: it is never deleted.
constexpr const char* kCountSnapshots = "SELECT count(*) FROM snapshot WHERE time_ms IS NOT ?1";
constexpr const char* kNthOldestSnapshot =
    "SELECT time_ms FROM snapshot WHERE time_ms IS NOT ?1 ORDER BY time_ms LIMIT 1 OFFSET ?2";
// Run once per (string, block) of block_key: a range delete on the primary key.
constexpr const char* kDeleteBlocks =
    "DELETE FROM block_sample WHERE string_idx = ?1 AND block_idx = ?2 AND time_ms BETWEEN ?3 AND "
    "?4 AND time_ms IS NOT ?5";
constexpr const char* kDeleteStrings =
    "DELETE FROM string_sample WHERE time_ms BETWEEN ?1 AND ?2 AND time_ms IS NOT ?3";
constexpr const char* kDeleteRoom =
    "DELETE FROM room_sample WHERE time_ms BETWEEN ?1 AND ?2 AND time_ms IS NOT ?3";
constexpr const char* kDeleteSnapshots =
    "DELETE FROM snapshot WHERE time_ms BETWEEN ?1 AND ?2 AND time_ms IS NOT ?3";
constexpr const char* kDeleteEventsUpTo = "DELETE FROM event WHERE time_ms <= ?1";
constexpr const char* kCountEvents = "SELECT count(*) FROM event";
constexpr const char* kDeleteOldestEvents =
    "DELETE FROM event WHERE id IN (SELECT id FROM event ORDER BY time_ms, id LIMIT ?1)";

// ---- readers ------------------------------------------------------------------------------
constexpr const char* kBlockSeries =
    "SELECT time_ms, voltage_mv, temperature_dc, ri_uohm, charge_pm, equalization_pct, "
    "equalization_dwh, quality FROM block_sample WHERE string_idx = ?1 AND block_idx = ?2 AND "
    "time_ms BETWEEN ?3 AND ?4 "
    "ORDER BY time_ms LIMIT ?5";
constexpr const char* kStringSeries =
    "SELECT time_ms, voltage_mv, current_ma, ac_current_ma, charge_avg_pm, mode, quality "
    "FROM string_sample WHERE time_ms BETWEEN ?2 AND ?3 AND string_idx = ?1 "
    "ORDER BY time_ms LIMIT ?4";
// Columns: time, then value and quality of each RoomQuantity in its order.
constexpr const char* kRoomSeries =
    "SELECT time_ms, ambient_dc, ambient_q, humidity_pm, humidity_q, hydrogen_ppm, hydrogen_q "
    "FROM room_sample WHERE time_ms BETWEEN ?1 AND ?2 ORDER BY time_ms LIMIT ?3";
// Every block of one string over a time range, in (block, time) order: one statement, the known
// blocks of the string (block_key) each followed by its primary-key range of samples.
constexpr const char* kStringBlocks =
    "SELECT b.block_idx, b.time_ms, b.voltage_mv, b.temperature_dc, b.ri_uohm, b.charge_pm, "
    "b.equalization_pct, b.equalization_dwh, b.quality "
    "FROM block_key AS k CROSS JOIN block_sample AS b "
    "WHERE k.string_idx = ?1 AND b.string_idx = k.string_idx AND b.block_idx = k.block_idx "
    "AND b.time_ms BETWEEN ?2 AND ?3 "
    "ORDER BY k.block_idx, b.time_ms";
// Event log, oldest first / newest first: ?3 rows after skipping ?9. Filters: ?4 kind, ?7 level,
// ?8 text (lower case) in the lower-cased message — SQLite's lower() folds ASCII letters only:
// NULL = any; ?5 string, ?6 block: 0 = any.
constexpr const char* kEvents =
    "SELECT time_ms, kind, message, level, string_no, block_no FROM event "
    "WHERE time_ms BETWEEN ?1 AND ?2 AND (?4 IS NULL OR kind = ?4) AND (?5 = 0 OR string_no = ?5) "
    "AND (?6 = 0 OR block_no = ?6) AND (?7 IS NULL OR level = ?7) "
    "AND (?8 IS NULL OR instr(lower(message), ?8) > 0) "
    "ORDER BY time_ms, id LIMIT ?3 OFFSET ?9";
constexpr const char* kEventsNewestFirst =
    "SELECT time_ms, kind, message, level, string_no, block_no FROM event "
    "WHERE time_ms BETWEEN ?1 AND ?2 AND (?4 IS NULL OR kind = ?4) AND (?5 = 0 OR string_no = ?5) "
    "AND (?6 = 0 OR block_no = ?6) AND (?7 IS NULL OR level = ?7) "
    "AND (?8 IS NULL OR instr(lower(message), ?8) > 0) "
    "ORDER BY time_ms DESC, id DESC LIMIT ?3 OFFSET ?9";
// How many events match the same filters, counting at most ?3 (a bounded scan).
constexpr const char* kCountMatchingEvents =
    "SELECT count(*) FROM (SELECT 1 FROM event "
    "WHERE time_ms BETWEEN ?1 AND ?2 AND (?4 IS NULL OR kind = ?4) AND (?5 = 0 OR string_no = ?5) "
    "AND (?6 = 0 OR block_no = ?6) AND (?7 IS NULL OR level = ?7) "
    "AND (?8 IS NULL OR instr(lower(message), ?8) > 0) "
    "LIMIT ?3)";
constexpr const char* kSnapshots =
    "SELECT time_ms, reason, string_count, block_count FROM snapshot "
    "WHERE time_ms BETWEEN ?1 AND ?2 ORDER BY time_ms LIMIT ?3";
constexpr const char* kSnapshotTotals =
    "SELECT count(*), coalesce(sum(block_count), 0), min(time_ms), max(time_ms) FROM snapshot";
// CSV export, one chunk of snapshots at a time: snapshots in time order (rowid), then the
// known blocks in (string, block) order, then a primary-key lookup of the sample.
constexpr const char* kExportChunkEnd =
    "SELECT time_ms FROM snapshot WHERE time_ms BETWEEN ?1 AND ?2 ORDER BY time_ms "
    "LIMIT 1 OFFSET ?3";
constexpr const char* kExportBlocks =
    "SELECT s.time_ms, k.string_idx, k.block_idx, b.voltage_mv, b.temperature_dc, b.ri_uohm, "
    "b.charge_pm, b.equalization_pct, b.equalization_dwh, b.quality "
    "FROM snapshot AS s CROSS JOIN block_key AS k CROSS JOIN block_sample AS b "
    "WHERE s.time_ms BETWEEN ?1 AND ?2 AND (?3 < 0 OR k.string_idx = ?3) "
    "AND b.string_idx = k.string_idx AND b.block_idx = k.block_idx AND b.time_ms = s.time_ms "
    "ORDER BY s.time_ms, k.string_idx, k.block_idx";

}  // namespace equalis::history::sql
