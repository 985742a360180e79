#include "ops/backup.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alarms/rules_json.hpp"
#include "analysis/block_capacity.hpp"
#include "analysis/calibration.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/health.hpp"
#include "analysis/hours_in_band.hpp"
#include "analysis/ri_baseline.hpp"
#include "auth/users_file.hpp"
#include "config/config.hpp"
#include "model/io_names.hpp"
#include "model/protocol_settings.hpp"
#include "persist/files.hpp"

namespace equalis::ops {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kManifestName = "manifest.json";
constexpr const char* kConfigName = "config/equalis.toml";
constexpr const char* kHistoryName = "data/history.sqlite";
constexpr std::uint64_t kMaxSmallFile = std::uint64_t{16} * 1024 * 1024;

// Names a data-directory file may have in an archive (and that a restore replaces).
bool isDataFile(const std::string& name) {
  static const std::regex data_name(
      R"(^(alarm_rules\.json|users\.json|io_names\.json|protocols\.json|calibration-string-[1-9][0-9]{0,2}\.txt|capacity-string-[1-9][0-9]{0,2}\.json|discharges-string-[1-9][0-9]{0,2}\.json|hours-in-band-string-[1-9][0-9]{0,2}\.json|health-string-[1-9][0-9]{0,2}\.json|ri-baseline-string-[1-9][0-9]{0,2}\.txt)$)");
  return std::regex_match(name, data_name);
}

bool isArchiveName(const std::string& name) {
  if (name == kManifestName || name == kConfigName || name == kHistoryName) {
    return true;
  }
  return name.rfind("data/", 0) == 0 && isDataFile(name.substr(5));
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md.data(), &n);
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out += fmt::format("{:02x}", md[i]);
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

Result<std::pair<std::uint64_t, std::string>> hashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", path));
  }
  Sha256 h;
  std::array<char, 65536> buf{};
  std::uint64_t size = 0;
  while (in) {
    in.read(buf.data(), buf.size());
    const auto n = static_cast<std::size_t>(in.gcount());
    h.update(buf.data(), n);
    size += n;
  }
  if (in.bad()) {
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}", path));
  }
  return std::make_pair(size, h.hex());
}

std::string sha256Of(const std::string& data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

struct ArchiveWriter {
  struct Free {
    void operator()(archive* p) const { archive_write_free(p); }
  };
  std::unique_ptr<archive, Free> a{archive_write_new()};
  std::string path;
  TimeMs mtime_ms = 0;

  Status error(const std::string& what) const {
    return makeError(ErrorCode::kIo, fmt::format("backup {}: {}: {}", path, what,
                                                 archive_error_string(a.get()) != nullptr
                                                     ? archive_error_string(a.get())
                                                     : "unknown error"));
  }
  Status open() {
    if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
        archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
      return error("cannot create");
    }
    return {};
  }
  Status header(const std::string& name, std::uint64_t size) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0640);
    archive_entry_set_mtime(e.get(), static_cast<time_t>(mtime_ms / 1000), 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
      return error("cannot add " + name);
    }
    return {};
  }
  Status addData(const std::string& name, const std::string& data) {
    if (auto st = header(name, data.size()); !st) {
      return st;
    }
    if (!data.empty() && archive_write_data(a.get(), data.data(), data.size()) < 0) {
      return error("cannot write " + name);
    }
    return {};
  }
  Status addFile(const std::string& name, const std::string& disk_path, std::uint64_t size) {
    if (auto st = header(name, size); !st) {
      return st;
    }
    std::ifstream in(disk_path, std::ios::binary);
    std::array<char, 65536> buf{};
    while (in) {
      in.read(buf.data(), buf.size());
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n > 0 && archive_write_data(a.get(), buf.data(), n) < 0) {
        return error("cannot write " + name);
      }
    }
    return {};
  }
  Status close() {
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
      return error("cannot finish");
    }
    return {};
  }
};

std::string timeStamp(TimeMs ms) {
  std::string iso = formatIso8601(ms);  // 2024-05-01T12:00:00.000Z
  std::string out;
  for (char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') {
      out += c;
    }
  }
  return out + "Z";
}

Result<Manifest> parseManifest(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return makeError(ErrorCode::kInvalidArgument, "manifest.json is not a JSON object");
  }
  try {
    if (j.value("format", std::string()) != "equalis-backup") {
      return makeError(ErrorCode::kInvalidArgument,
                       "manifest.json: not an equalis backup (format is not \"equalis-backup\")");
    }
    Manifest m;
    m.format_version = j.at("format_version").get<int>();
    m.equalis_version = j.value("equalis_version", std::string());
    m.site = j.value("site", std::string());
    m.created = j.value("created", std::string());
    m.created_ms = j.value("created_ms", TimeMs{0});
    m.with_history = j.value("with_history", false);
    for (const auto& f : j.at("files")) {
      m.files.push_back({f.at("path").get<std::string>(), f.at("size").get<std::uint64_t>(),
                         f.at("sha256").get<std::string>()});
    }
    return m;
  } catch (const json::exception& e) {
    return makeError(ErrorCode::kInvalidArgument, fmt::format("manifest.json: {}", e.what()));
  }
}

std::string manifestText(const Manifest& m) {
  json files = json::array();
  for (const auto& f : m.files) {
    files.push_back(json{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  }
  return json{{"format", "equalis-backup"},
              {"format_version", m.format_version},
              {"equalis_version", m.equalis_version},
              {"site", m.site},
              {"created", m.created},
              {"created_ms", m.created_ms},
              {"with_history", m.with_history},
              {"files", std::move(files)}}
             .dump(2) +
         "\n";
}

// Brings a manifest of an older format version to the current one. Version 1 is the first;
// a later version adds its step here (and a fixture under tests/fixtures/backup/).
Status migrate(Manifest& m) {
  if (m.format_version < 1) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("manifest.json: format version {} is not valid", m.format_version));
  }
  if (m.format_version > kBackupFormatVersion) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("the backup has format version {} (made by equalis {}); this "
                                 "equalis reads versions up to {}: update it first",
                                 m.format_version, m.equalis_version, kBackupFormatVersion));
  }
  m.format_version = kBackupFormatVersion;
  return {};
}

Result<std::string> readSmall(const std::string& path) {
  auto text = persist::readFile(path);
  if (!text) {
    return text.error();
  }
  if (!*text) {
    return makeError(ErrorCode::kNotFound, fmt::format("{} is missing", path));
  }
  return **text;
}

// Checks one staged data file by parsing it as the controller would at its start.
Status checkDataFile(const std::string& name, const std::string& text,
                     const model::PlantConfig* plant) {
  if (name == "alarm_rules.json") {
    auto parsed = alarms::parseOverridesFile(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name == "users.json") {
    auto parsed = auth::parseUsersFile(text, name);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name == "io_names.json") {
    auto parsed = model::parseChannelNamesFile(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name == "protocols.json") {
    auto parsed = model::parseProtocolsFile(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name.rfind("calibration-string-", 0) == 0) {
    auto parsed = analysis::OffsetEstimator::deserialize(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name.rfind("capacity-string-", 0) == 0) {
    auto parsed = analysis::StringCapacityEstimator::deserialize(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name.rfind("hours-in-band-string-", 0) == 0) {
    auto parsed = analysis::BandHours::deserialize(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name.rfind("health-string-", 0) == 0) {
    auto parsed = analysis::HealthTracker::deserialize(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  if (name.rfind("discharges-string-", 0) == 0) {
    auto parsed = analysis::recordsFromJson(text);
    return parsed ? Status{} : Status(parsed.error());
  }
  const model::AlarmsConfig alarms_cfg = plant != nullptr ? plant->alarms : model::AlarmsConfig{};
  auto parsed = analysis::RiBaseline::deserialize(text, alarms_cfg);
  return parsed ? Status{} : Status(parsed.error());
}

}  // namespace

Result<Staged> stagedFrom(const std::string& dir) {
  auto text = readSmall((fs::path(dir) / kManifestName).string());
  if (!text) {
    return text.error();
  }
  auto manifest = parseManifest(*text);
  if (!manifest) {
    return manifest.error();
  }
  Staged s;
  s.dir = dir;
  s.read_format_version = manifest->format_version;
  if (auto st = migrate(*manifest); !st) {
    return st.error();
  }
  s.manifest = *manifest;
  s.has_config = fs::exists(fs::path(dir) / kConfigName);
  s.has_history = fs::exists(fs::path(dir) / kHistoryName);
  return s;
}

std::string pendingRestoreDir(const std::string& data_dir) {
  return (fs::path(data_dir) / "restore-pending").string();
}

Status createBackup(const BackupSource& src, const std::string& archive_path) {
  if (src.plant == nullptr) {
    return makeError(ErrorCode::kInvalidArgument, "backup: no plant configuration");
  }
  const auto& plant = *src.plant;
  struct Item {
    std::string name;
    std::string data;  // small files
  };
  std::vector<Item> items;
  if (!src.config_path.empty()) {
    auto text = readSmall(src.config_path);
    if (!text) {
      return text.error();
    }
    const auto parsed = config::parseConfig(*text, src.config_path);
    if (!parsed.ok()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}{}: the configuration file does not load; fix it before "
                                   "taking a backup",
                                   parsed.describe(src.config_path), src.config_path));
    }
    items.push_back({kConfigName, std::move(*text)});
  }
  std::error_code ec;
  std::vector<std::string> data_names;
  for (const auto& entry : fs::directory_iterator(plant.data_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && isDataFile(name)) {
      data_names.push_back(name);
    }
  }
  if (ec) {
    return makeError(ErrorCode::kIo, fmt::format("cannot list data directory {}: {}",
                                                 plant.data_dir, ec.message()));
  }
  std::sort(data_names.begin(), data_names.end());
  for (const auto& name : data_names) {
    auto text = readSmall((fs::path(plant.data_dir) / name).string());
    if (!text) {
      return text.error();
    }
    items.push_back({"data/" + name, std::move(*text)});
  }

  Manifest m;
  m.format_version = kBackupFormatVersion;
  m.equalis_version = src.version;
  m.site = plant.site.name;
  m.created = formatIso8601(src.now_ms);
  m.created_ms = src.now_ms;
  m.with_history = src.with_history;
  for (const auto& it : items) {
    m.files.push_back({it.name, it.data.size(), sha256Of(it.data)});
  }
  // History: a consistent copy next to the archive, then into it.
  std::string history_copy;
  struct Remove {
    std::string path;
    ~Remove() {
      if (!path.empty()) {
        std::error_code ignored;
        fs::remove(path, ignored);
      }
    }
  } remove_copy;
  if (src.with_history) {
    if (src.history == nullptr) {
      return makeError(ErrorCode::kUnavailable,
                       "backup with history: the history store is not open");
    }
    history_copy = archive_path + ".history.tmp";
    fs::remove(history_copy, ec);
    remove_copy.path = history_copy;
    if (auto st = src.history->backupTo(history_copy); !st) {
      return st;
    }
    auto hashed = hashFile(history_copy);
    if (!hashed) {
      return hashed.error();
    }
    m.files.push_back({kHistoryName, hashed->first, hashed->second});
  }

  const std::string tmp = archive_path + ".tmp";
  ArchiveWriter w;
  w.path = tmp;
  w.mtime_ms = src.now_ms;
  Status st = w.open();
  if (st) {
    st = w.addData(kManifestName, manifestText(m));
  }
  for (const auto& it : items) {
    if (st) {
      st = w.addData(it.name, it.data);
    }
  }
  if (st && src.with_history) {
    st = w.addFile(kHistoryName, history_copy, m.files.back().size);
  }
  if (st) {
    st = w.close();
  }
  if (!st) {
    fs::remove(tmp, ec);
    return st;
  }
  fs::rename(tmp, archive_path, ec);
  if (ec) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot write {}: {}", archive_path, ec.message()));
  }
  return {};
}

Result<Staged> stageBackup(const std::string& archive_path, const std::string& staging_dir) {
  std::error_code ec;
  if (fs::exists(staging_dir, ec)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("staging directory {} exists already", staging_dir));
  }
  fs::create_directories(fs::path(staging_dir) / "config", ec);
  fs::create_directories(fs::path(staging_dir) / "data", ec);
  if (ec) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot create {}: {}", staging_dir, ec.message()));
  }
  // Any failure below removes what was unpacked: nothing is left behind.
  struct Cleanup {
    std::string dir;
    bool keep = false;
    ~Cleanup() {
      if (!keep) {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
      }
    }
  } cleanup{staging_dir};
  const auto bad = [&](const std::string& why) -> Result<Staged> {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: not restored: {}", archive_path, why));
  };

  struct Free {
    void operator()(archive* p) const { archive_read_free(p); }
  };
  std::unique_ptr<archive, Free> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 65536) != ARCHIVE_OK) {
    return bad(fmt::format("cannot open the archive: {}", archive_error_string(a.get())));
  }
  struct Seen {
    std::uint64_t size = 0;
    std::string sha256;
  };
  std::map<std::string, Seen> seen;
  std::string manifest_text;
  archive_entry* entry = nullptr;
  int rc = ARCHIVE_OK;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const std::string name =
        archive_entry_pathname(entry) != nullptr ? archive_entry_pathname(entry) : std::string();
    if (!isArchiveName(name) || archive_entry_filetype(entry) != AE_IFREG) {
      return bad(
          fmt::format("unexpected entry '{}' (only manifest.json, {}, data/… files of "
                      "equalis)",
                      name, kConfigName));
    }
    if (seen.contains(name)) {
      return bad(fmt::format("entry '{}' appears twice", name));
    }
    const bool small = name != kHistoryName;
    const auto target = fs::path(staging_dir) / name;
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) {
      return bad(fmt::format("cannot write {}", target.string()));
    }
    Sha256 h;
    std::uint64_t size = 0;
    std::array<char, 65536> buf{};
    for (;;) {
      const auto n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) {
        return bad(fmt::format("entry '{}' is damaged: {}", name, archive_error_string(a.get())));
      }
      if (n == 0) {
        break;
      }
      h.update(buf.data(), static_cast<std::size_t>(n));
      size += static_cast<std::uint64_t>(n);
      if (small && size > kMaxSmallFile) {
        return bad(fmt::format("entry '{}' is larger than {} bytes", name, kMaxSmallFile));
      }
      out.write(buf.data(), n);
      if (name == kManifestName) {
        manifest_text.append(buf.data(), static_cast<std::size_t>(n));
      }
    }
    out.close();
    if (!out) {
      return bad(fmt::format("cannot write {}", target.string()));
    }
    seen[name] = {size, h.hex()};
  }
  if (rc != ARCHIVE_EOF) {
    return bad(fmt::format("the archive is damaged: {}", archive_error_string(a.get())));
  }
  if (!seen.contains(kManifestName)) {
    return bad("the archive has no manifest.json");
  }
  auto manifest = parseManifest(manifest_text);
  if (!manifest) {
    return bad(manifest.error().message);
  }
  Staged staged;
  staged.dir = staging_dir;
  staged.read_format_version = manifest->format_version;
  if (auto st = migrate(*manifest); !st) {
    return bad(st.error().message);
  }
  staged.manifest = *manifest;
  // Every file the manifest lists, with its size and checksum; nothing it does not list.
  for (const auto& f : manifest->files) {
    const auto it = seen.find(f.path);
    if (it == seen.end()) {
      return bad(fmt::format("{} is listed in the manifest but missing", f.path));
    }
    if (it->second.size != f.size || it->second.sha256 != f.sha256) {
      return bad(
          fmt::format("{}: checksum mismatch (the archive is damaged or was changed)", f.path));
    }
  }
  for (const auto& [name, s] : seen) {
    const std::string& seen_name = name;  // clang 14 cannot capture a structured binding
    const bool listed = std::any_of(manifest->files.begin(), manifest->files.end(),
                                    [&](const auto& f) { return f.path == seen_name; });
    if (name != kManifestName && !listed) {
      return bad(fmt::format("{} is not listed in the manifest", name));
    }
  }
  // The configuration loads; the data files parse as the controller would read them.
  std::optional<model::PlantConfig> plant;
  if (seen.contains(kConfigName)) {
    const auto path = (fs::path(staging_dir) / kConfigName).string();
    const auto loaded = config::loadConfigFile(path);
    if (!loaded.ok()) {
      return bad(fmt::format("its configuration does not load:\n{}", loaded.describe(kConfigName)));
    }
    plant = *loaded.config;
    staged.has_config = true;
    staged.config_summary =
        fmt::format("{} strings, {} modules", plant->strings.size(), plant->moduleCount());
  }
  for (const auto& [name, s] : seen) {
    if (name.rfind("data/", 0) != 0 || name == kHistoryName) {
      continue;
    }
    auto text = readSmall((fs::path(staging_dir) / name).string());
    if (!text) {
      return bad(text.error().message);
    }
    if (auto st = checkDataFile(name.substr(5), *text, plant ? &*plant : nullptr); !st) {
      return bad(fmt::format("{}: {}", name, st.error().message));
    }
  }
  if (seen.contains(kHistoryName)) {
    const auto path = (fs::path(staging_dir) / kHistoryName).string();
    // A bound far above any store: checking must not trim it.
    auto store = history::Store::open(path, std::uint64_t{1} << 50);
    if (!store) {
      return bad(fmt::format("{}: {}", kHistoryName, store.error().message));
    }
    if (auto st = (*store)->checkIntegrity(); !st) {
      return bad(fmt::format("{}: {}", kHistoryName, st.error().message));
    }
    if (auto st = (*store)->checkpoint(); !st) {
      return bad(fmt::format("{}: {}", kHistoryName, st.error().message));
    }
    staged.has_history = true;
  }
  cleanup.keep = true;
  return staged;
}

Status checkRestoreTarget(const Staged& staged, const RestoreTarget& target) {
  std::error_code ec;
  const fs::path data(target.data_dir);
  fs::create_directories(data, ec);
  if (ec || ::access(data.c_str(), W_OK) != 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot write the data directory {}", target.data_dir));
  }
  if (staged.has_config && !target.config_path.empty()) {
    auto dir = fs::path(target.config_path).parent_path();
    if (dir.empty()) {
      dir = ".";
    }
    if (::access(dir.c_str(), W_OK) != 0 ||
        (fs::exists(target.config_path) && ::access(target.config_path.c_str(), W_OK) != 0)) {
      return makeError(ErrorCode::kIo,
                       fmt::format("cannot write {} (restore it as a user who may: stop equalisd "
                                   "and run equalisctl restore as root)",
                                   target.config_path));
    }
  }
  return {};
}

Result<RestoreReport> applyRestore(const Staged& staged, const RestoreTarget& target,
                                   TimeMs now_ms) {
  std::error_code ec;
  const fs::path data(target.data_dir);
  const fs::path stage(staged.dir);
  RestoreReport report;
  if (auto st = checkRestoreTarget(staged, target); !st) {
    return st.error();
  }
  const bool config = staged.has_config && !target.config_path.empty();
  if (!config && staged.has_config) {
    report.notes.push_back(
        "the configuration file was not restored: equalisd runs the built-in demo plant");
  }
  if (!staged.has_history) {
    report.notes.push_back("the backup has no history: the history store was kept");
  }

  // The files to replace go to replaced-<time>/.
  fs::path replaced = data / ("replaced-" + timeStamp(now_ms));
  for (int i = 2; fs::exists(replaced); ++i) {
    replaced = data / fmt::format("replaced-{}-{}", timeStamp(now_ms), i);
  }
  fs::create_directories(replaced, ec);
  if (ec) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot create {}: {}", replaced.string(), ec.message()));
  }
  std::vector<std::pair<fs::path, fs::path>> moved;  // (from, to) done so far
  std::vector<fs::path> placed;                      // restored files put in place
  const auto undo = [&]() {
    std::error_code ignored;
    for (const auto& p : placed) {
      fs::remove(p, ignored);
    }
    for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
      fs::rename(it->second, it->first, ignored);
    }
  };
  const auto move = [&](const fs::path& from, const fs::path& to) -> bool {
    fs::rename(from, to, ec);
    if (ec) {
      return false;
    }
    moved.emplace_back(from, to);
    return true;
  };
  std::vector<std::string> old_names;
  for (const auto& entry : fs::directory_iterator(data, ec)) {
    const auto name = entry.path().filename().string();
    const bool history_file =
        name == "history.sqlite" || name == "history.sqlite-wal" || name == "history.sqlite-shm";
    if (entry.is_regular_file() && (isDataFile(name) || (history_file && staged.has_history))) {
      old_names.push_back(name);
    }
  }
  for (const auto& name : old_names) {
    if (!move(data / name, replaced / name)) {
      undo();
      return makeError(ErrorCode::kIo, fmt::format("cannot move {} aside: {}",
                                                   (data / name).string(), ec.message()));
    }
  }
  std::optional<std::string> old_config;
  if (config && fs::exists(target.config_path)) {
    auto text = readSmall(target.config_path);
    if (!text) {
      undo();
      return text.error();
    }
    old_config = *text;
    if (auto st = persist::writeFileDurably((replaced / "equalis.toml").string(), *text); !st) {
      undo();
      return st.error();
    }
  }
  for (const auto& entry : fs::directory_iterator(stage / "data", ec)) {
    const auto name = entry.path().filename().string();
    fs::rename(entry.path(), data / name, ec);
    if (ec) {
      undo();
      return makeError(ErrorCode::kIo, fmt::format("cannot put {} in place: {}",
                                                   (data / name).string(), ec.message()));
    }
    placed.push_back(data / name);
    report.restored.push_back((data / name).string());
  }
  if (config) {
    auto text = readSmall((stage / kConfigName).string());
    Status st = text ? persist::writeFileDurably(target.config_path, *text) : Status(text.error());
    if (!st) {
      undo();
      return st.error();
    }
    report.restored.push_back(target.config_path);
  }
  fs::remove_all(stage, ec);
  report.replaced_dir = replaced.string();
  return report;
}

Result<DataDirLock> DataDirLock::acquire(const std::string& data_dir) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  const auto path = (fs::path(data_dir) / "equalisd.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot open {}", path));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return makeError(
        ErrorCode::kUnavailable,
        fmt::format("another equalisd uses the data directory {} (lock {})", data_dir, path));
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

}  // namespace equalis::ops
