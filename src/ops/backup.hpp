// Backup and restore of one controller (docs/operations.md): one tar.gz archive holding a
// manifest, the configuration file, the state kept in the data directory (alarm-rule changes,
// module self-calibration, Ri baselines) and, optionally, a consistent copy of the history
// store. The manifest names the format version, the equalis version, the site, the creation
// time and the SHA-256 of every file.
//
// A restore first unpacks the archive into a staging directory inside the data directory and
// checks everything there (entry names, manifest, checksums, the configuration parses, the
// history store's integrity); only then are the current files moved into
// "<data_dir>/replaced-<time>/" and the restored ones put in their place. Any error before
// that changes nothing. Archives of older format versions are read and migrated.
#pragma once

#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "history/store.hpp"
#include "model/plant.hpp"

namespace equalis::ops {

// The format this build writes; it reads every version up to it.
inline constexpr int kBackupFormatVersion = 1;

struct BackupSource {
  std::string config_path;  // the file equalisd was started with; "" = the built-in demo plant
  const model::PlantConfig* plant = nullptr;  // data_dir and site name
  const history::Store* history = nullptr;    // the live store, for with_history
  bool with_history = false;
  std::string version;  // versionText()
  TimeMs now_ms = 0;
};

// Writes the archive to `archive_path` (replaced). The configuration file must parse (an
// archive that could not be restored is never written); without --config there is none.
Status createBackup(const BackupSource& src, const std::string& archive_path);

struct ManifestFile {
  std::string path;  // "config/equalis.toml", "data/alarm_rules.json", …
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

struct Manifest {
  int format_version = 0;
  std::string equalis_version;
  std::string site;
  std::string created;  // ISO 8601 UTC
  TimeMs created_ms = 0;
  bool with_history = false;
  std::vector<ManifestFile> files;
};

// An archive unpacked and checked in a staging directory.
struct Staged {
  std::string dir;  // the staging directory (holds the files under their archive paths)
  Manifest manifest;
  int read_format_version = 0;  // the version the archive was written in (migrated to current)
  bool has_config = false;
  bool has_history = false;
  std::string config_summary;  // "2 strings, 64 modules"
};

// Unpacks `archive_path` into `staging_dir` (created; must not exist) and checks it. On error
// the staging directory is removed and the error says what is wrong.
Result<Staged> stageBackup(const std::string& archive_path, const std::string& staging_dir);

struct RestoreTarget {
  std::string config_path;  // where the configuration goes; "" = not restored (demo plant)
  std::string data_dir;
};

struct RestoreReport {
  std::vector<std::string> restored;  // target paths written
  std::string replaced_dir;           // where the files it replaced were moved
  std::vector<std::string> notes;     // what was not restored and why
};

// Whether `target` can take the staged backup (directories and the configuration file
// writable); applyRestore checks the same first.
Status checkRestoreTarget(const Staged& staged, const RestoreTarget& target);

// Moves a staged backup into place (the staging directory is consumed). The files it replaces
// are kept in "<data_dir>/replaced-<time>/"; history is replaced only when the archive has it.
// Checks every target is writable first; an error then changes nothing, and an error half-way
// moves the replaced files back.
Result<RestoreReport> applyRestore(const Staged& staged, const RestoreTarget& target,
                                   TimeMs now_ms);

// A staged backup left in `dir` by stageBackup (an uploaded restore waiting for the restart).
Result<Staged> stagedFrom(const std::string& dir);

// The staging directory of a restore uploaded to a running equalisd, applied at its next start.
std::string pendingRestoreDir(const std::string& data_dir);

// One equalisd per data directory: an exclusive lock on "<data_dir>/equalisd.lock", held while
// the object lives (released by the kernel when the process ends).
class DataDirLock {
 public:
  // Fails (kUnavailable) when another process holds it.
  static Result<DataDirLock> acquire(const std::string& data_dir);
  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace equalis::ops
