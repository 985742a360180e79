// Backup and restore: every fixture format restores, a backup round-trips with its history,
// and any problem in an archive changes nothing.
#include "ops/backup.hpp"
#include "auth/accounts.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "persist/files.hpp"

namespace equalis::ops {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(EQUALIS_SOURCE_DIR) / "tests/fixtures/backup";
const std::string kSample = std::string(EQUALIS_SOURCE_DIR) + "/config/equalis.sample.toml";

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("equalis-backup-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A tar.gz with the given (name, content) entries, for archives the tool would never write.
void writeArchive(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& e) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, data] : e) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0640);
    archive_write_header(a, entry);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// The entries of an archive, for changing one and writing it again.
std::vector<std::pair<std::string, std::string>> entries(const fs::path& path) {
  std::vector<std::pair<std::string, std::string>> out;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 65536), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<std::size_t>(archive_entry_size(e)), '\0');
    archive_read_data(a, data.data(), data.size());
    out.emplace_back(archive_entry_pathname(e), std::move(data));
  }
  archive_read_free(a);
  return out;
}

std::vector<fs::path> fixtures() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    if (e.path().extension() == ".gz") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(BackupFixtures, EveryFormatVersionRestores) {
  const auto all = fixtures();
  ASSERT_GE(all.size(), static_cast<std::size_t>(kBackupFormatVersion));
  for (const auto& fixture : all) {
    SCOPED_TRACE(fixture.string());
    TempDir dir;
    const auto data = dir / "data";
    const auto config = dir / "equalis.toml";
    write(config, "[[string]]\n");  // replaced by the backup's
    write(data / "calibration-string-9.txt", "left from another plant");
    auto staged = stageBackup(fixture.string(), (dir / "staging").string());
    ASSERT_TRUE(staged.ok()) << staged.error().message;
    EXPECT_TRUE(staged->has_config);
    EXPECT_EQ(staged->manifest.format_version, kBackupFormatVersion);
    auto report = applyRestore(*staged, {config.string(), data.string()}, 1'700'000'000'000);
    ASSERT_TRUE(report.ok()) << report.error().message;
    // The configuration loads and the data files are those of the backup.
    const auto loaded = config::loadConfigFile(config.string());
    ASSERT_TRUE(loaded.ok()) << loaded.describe(config.string());
    EXPECT_EQ(loaded.config->site.name, staged->manifest.site);
    EXPECT_TRUE(fs::exists(data / "alarm_rules.json"));
    EXPECT_TRUE(fs::exists(data / "ri-baseline-string-1.txt"));
    EXPECT_TRUE(fs::exists(data / "calibration-string-1.txt"));
    EXPECT_NE(read(data / "alarm_rules.json").find("block.temperature_high"), std::string::npos);
    // What it replaced is kept.
    EXPECT_FALSE(fs::exists(data / "calibration-string-9.txt"));
    EXPECT_EQ(read(fs::path(report->replaced_dir) / "calibration-string-9.txt"),
              "left from another plant");
    EXPECT_EQ(read(fs::path(report->replaced_dir) / "equalis.toml"), "[[string]]\n");
    EXPECT_FALSE(fs::exists(dir / "staging"));
  }
}

// A plant with state files in its data directory and a history store.
struct Live {
  TempDir dir;
  model::PlantConfig plant;
  std::unique_ptr<history::Store> store;
  SimulatedClock clock;
  Live() {
    plant = *config::loadConfigFile(kSample).config;
    plant.data_dir = (dir / "data").string();
    fs::create_directories(plant.data_dir);
    write(persist::alarmRulesPath(plant),
          R"({"version": 1, "overrides": [{"rule": "block.temperature_high", "warning": 31}]})");
    store = history::Store::open(persist::historyPath(plant), 1 << 24).value();
    for (int i = 0; i < 5; ++i) {
      history::Snapshot s;
      s.time_ms = 1'000'000 + i * 1000;
      s.reason = "float";
      s.strings.push_back({0, 27.2, 0.1, 0.0, 100.0, 0, model::Quality::kOk});
      EXPECT_TRUE(store->append(s).ok());
    }
  }
  BackupSource source(bool with_history) {
    return {kSample, &plant, store.get(), with_history, "0.1.0 (test)", 1'700'000'000'000};
  }
};

TEST(Backup, RoundTripWithHistory) {
  Live live;
  const auto archive = (live.dir / "b.tar.gz").string();
  ASSERT_TRUE(createBackup(live.source(true), archive).ok());
  TempDir target;
  auto staged = stageBackup(archive, (target / "staging").string());
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  EXPECT_TRUE(staged->has_history);
  EXPECT_EQ(staged->manifest.equalis_version, "0.1.0 (test)");
  EXPECT_EQ(staged->manifest.created, "2023-11-14T22:13:20.000Z");
  auto report =
      applyRestore(*staged, {(target / "e.toml").string(), (target / "data").string()}, 1);
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto restored = history::Store::open((target / "data/history.sqlite").string(), 1 << 24);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ((*restored)->stats()->snapshot_count, 5u);
  EXPECT_EQ(read(target / "e.toml"), read(kSample));
}

TEST(Backup, UserAccountsGoAlongAndAreChecked) {
  Live live;
  auto accounts = auth::Accounts::open(auth::usersPath(live.plant.data_dir), live.clock,
                                       auth::Policy{.hash_cost = auth::HashCost::minimum()});
  ASSERT_TRUE(accounts.ok()) << accounts.error().message;
  ASSERT_TRUE((*accounts)->addUser("ada", "admin-pass-12", auth::Role::kAdmin).ok());
  const auto archive = (live.dir / "b.tar.gz").string();
  ASSERT_TRUE(createBackup(live.source(false), archive).ok());
  TempDir target;
  auto staged = stageBackup(archive, (target / "staging").string());
  ASSERT_TRUE(staged.ok()) << staged.error().message;
  auto report =
      applyRestore(*staged, {(target / "e.toml").string(), (target / "data").string()}, 1);
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto restored = auth::Accounts::open(auth::usersPath((target / "data").string()), live.clock);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_TRUE((*restored)->login("ada", "admin-pass-12", "127.0.0.1").ok());
  // A damaged accounts file is never restored.
  write(fs::path(live.plant.data_dir) / "users.json", R"({"format": 1, "users": 7})");
  const auto bad = (live.dir / "bad.tar.gz").string();
  ASSERT_TRUE(createBackup(live.source(false), bad).ok());
  TempDir other;
  auto refused = stageBackup(bad, (other / "staging").string());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("users.json"), std::string::npos)
      << refused.error().message;
}

TEST(Backup, ABrokenConfigurationIsNeverBackedUp) {
  Live live;
  write(live.dir / "bad.toml", "[[string]]\nblocks = 0\n");
  auto src = live.source(false);
  src.config_path = (live.dir / "bad.toml").string();
  const auto archive = live.dir / "b.tar.gz";
  const auto st = createBackup(src, archive.string());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("strings[1].blocks"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(archive));
}

// Restores that must fail, each leaving the target exactly as it was.
class BadArchive : public ::testing::Test {
 protected:
  Live live;
  TempDir target;
  fs::path good = live.dir / "good.tar.gz";
  void SetUp() override {
    ASSERT_TRUE(createBackup(live.source(false), good.string()).ok());
    write(target / "data/alarm_rules.json", "current");
    write(target / "e.toml", "current config");
  }
  std::string refused(const fs::path& archive) {
    auto staged = stageBackup(archive.string(), (target / "data/.staging").string());
    EXPECT_FALSE(staged.ok());
    EXPECT_EQ(read(target / "data/alarm_rules.json"), "current");
    EXPECT_EQ(read(target / "e.toml"), "current config");
    EXPECT_FALSE(fs::exists(target / "data/.staging"));
    return staged ? std::string() : staged.error().message;
  }
  fs::path changed(const std::string& name, const std::string& data) {
    auto e = entries(good);
    for (auto& [n, d] : e) {
      if (n == name) {
        d = data;
      }
    }
    const auto path = live.dir / "changed.tar.gz";
    writeArchive(path, e);
    return path;
  }
};

TEST_F(BadArchive, ChecksumMismatch) {
  const auto msg = refused(changed("data/alarm_rules.json", R"({"version": 1, "overrides": []})"));
  EXPECT_NE(msg.find("data/alarm_rules.json: checksum mismatch"), std::string::npos) << msg;
}

TEST_F(BadArchive, NewerFormatVersion) {
  auto manifest = entries(good).front().second;
  const auto at = manifest.find("\"format_version\": 1");
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, 19, "\"format_version\": 99");
  const auto msg = refused(changed("manifest.json", manifest));
  EXPECT_NE(msg.find("format version 99"), std::string::npos) << msg;
}

TEST_F(BadArchive, PathOutsideTheDataDirectory) {
  auto e = entries(good);
  e.emplace_back("../../etc/passwd", "x");
  writeArchive(live.dir / "evil.tar.gz", e);
  const auto msg = refused(live.dir / "evil.tar.gz");
  EXPECT_NE(msg.find("unexpected entry '../../etc/passwd'"), std::string::npos) << msg;
}

TEST_F(BadArchive, MissingManifestAndDamagedGzip) {
  auto e = entries(good);
  e.erase(e.begin());
  writeArchive(live.dir / "nomanifest.tar.gz", e);
  EXPECT_NE(refused(live.dir / "nomanifest.tar.gz").find("no manifest.json"), std::string::npos);
  auto bytes = read(good);
  write(live.dir / "cut.tar.gz", bytes.substr(0, bytes.size() / 2));
  const auto msg = refused(live.dir / "cut.tar.gz");
  EXPECT_NE(msg.find("not restored"), std::string::npos) << msg;
}

TEST_F(BadArchive, UnreadableDataFile) {
  // A file whose checksum matches (the tool made the manifest for it) but that does not parse.
  write(fs::path(live.plant.data_dir) / "calibration-string-1.txt", "not a calibration");
  const auto archive = live.dir / "badcal.tar.gz";
  ASSERT_TRUE(createBackup(live.source(false), archive.string()).ok());
  const auto msg = refused(archive);
  EXPECT_NE(msg.find("data/calibration-string-1.txt"), std::string::npos) << msg;
}

TEST(DataDirLock, OneHolderAtATime) {
  TempDir dir;
  auto first = DataDirLock::acquire((dir / "d").string());
  ASSERT_TRUE(first.ok());
  // flock locks belong to the open file description: a second open in this process conflicts.
  auto second = DataDirLock::acquire((dir / "d").string());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  { auto moved = std::move(first.value()); }
  EXPECT_TRUE(DataDirLock::acquire((dir / "d").string()).ok());
}

}  // namespace
}  // namespace equalis::ops
