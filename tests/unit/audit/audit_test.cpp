// The audit trail: the hash chain verifies, every kind of tampering is found at the right
// record, a crash during an append is repaired at open, concurrent appends stay whole, queries
// and the CSV export.
#include "audit/audit.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::audit {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("equalis-audit-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

void writeLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  writeText(path, text);
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777U;
}

Entry entry(int i) {
  static constexpr const char* kActions[] = {action::kAlarmAcknowledge, action::kRuleChange,
                                             action::kOutputSet, action::kLoginFailure,
                                             action::kUserAdd};
  Entry e;
  e.user = i % 3 == 0 ? "alice" : "bob";
  e.address = "10.0.0." + std::to_string(i % 7);
  e.via = "rest";
  e.action = kActions[i % 5];
  e.target = "block.temperature_high/" + std::to_string(i);
  e.old_value = std::to_string(i);
  e.new_value = std::to_string(i + 1);
  e.outcome = i % 4 == 0 ? outcome::kRefused : outcome::kOk;
  e.detail = i % 4 == 0 ? "not allowed" : "";
  return e;
}

// A trail of `n` records, one simulated second apart.
class AuditTest : public ::testing::Test {
 protected:
  std::string path() const { return auditPath(dir_.str()); }
  std::string head() const { return headPath(path()); }

  std::unique_ptr<Log> openLog() {
    auto log = Log::open(path(), clock_);
    EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().message);
    return log.ok() ? std::move(log).value() : nullptr;
  }

  void writeRecords(int n) {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < n; ++i) {
      clock_.advance(kSecondMs);
      ASSERT_TRUE(log->append(entry(i)).ok());
    }
  }

  Record recordAt(std::size_t index) {
    auto r = parseLine(readLines(path()).at(index));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : Record{};
  }

  TempDir dir_;
  SimulatedClock clock_;
};

TEST_F(AuditTest, AChainOf100RecordsVerifies) {
  writeRecords(100);
  const auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 100U);
  EXPECT_EQ(report.first_bad_seq, 0U);
  EXPECT_EQ(report.head.seq, 100U);
  const auto lines = readLines(path());
  ASSERT_EQ(lines.size(), 100U);
  std::string prev(64, '0');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto r = parseLine(lines[i]);
    ASSERT_TRUE(r.ok()) << lines[i];
    EXPECT_EQ(r->seq, i + 1);
    EXPECT_EQ(r->prev_hash, prev);
    EXPECT_EQ(r->hash, computeHash(*r));
    EXPECT_EQ(r->time_ms, 1'767'225'600'000 + static_cast<TimeMs>(i + 1) * kSecondMs);
    prev = r->hash;
  }
  EXPECT_EQ(report.head.hash, prev);
  EXPECT_EQ(readText(head()), "{\"seq\":100,\"hash\":\"" + prev + "\"}\n");
}

TEST_F(AuditTest, TheHashCoversEveryField) {
  Record r;
  r.seq = 7;
  r.time_ms = 1000;
  r.user = "alice";
  r.prev_hash = std::string(64, '0');
  const std::string base = computeHash(r);
  for (std::string Record::*field : {&Record::user, &Record::address, &Record::via, &Record::action,
                                     &Record::target, &Record::old_value, &Record::new_value,
                                     &Record::outcome, &Record::detail, &Record::prev_hash}) {
    Record changed = r;
    changed.*field += "x";
    EXPECT_NE(computeHash(changed), base);
  }
  Record seq = r;
  seq.seq = 8;
  EXPECT_NE(computeHash(seq), base);
  Record time = r;
  time.time_ms = 1001;
  EXPECT_NE(computeHash(time), base);
  // Fields are length-prefixed: moving text from one field to the next changes the hash.
  Record a = r;
  a.user = "ab";
  a.address = "c";
  Record b = r;
  b.user = "a";
  b.address = "bc";
  EXPECT_NE(computeHash(a), computeHash(b));
}

TEST_F(AuditTest, AChangedFieldIsFoundAtItsRecord) {
  writeRecords(100);
  const std::string original = readText(path());
  for (const char* what : {"user", "detail", "time_ms", "outcome", "new_value"}) {
    auto lines = readLines(path());
    Record r = recordAt(36);  // record 37
    const std::string field = what;
    if (field == "user") {
      r.user = "mallory";
    } else if (field == "detail") {
      r.detail = "nothing happened";
    } else if (field == "time_ms") {
      r.time_ms += 1;
    } else if (field == "outcome") {
      r.outcome = outcome::kOk == r.outcome ? outcome::kRefused : outcome::kOk;
    } else {
      r.new_value = "99";
    }
    lines[36] = formatLine(r);
    writeLines(path(), lines);
    const auto report = verify(path());
    EXPECT_FALSE(report.ok) << field;
    EXPECT_EQ(report.first_bad_seq, 37U) << field;
    EXPECT_EQ(report.message,
              "record 37: hash does not match its contents (changed after it was written)")
        << field;
    writeText(path(), original);
  }
  EXPECT_TRUE(verify(path()).ok);
}

TEST_F(AuditTest, AChangedRecordWithItsHashRecomputedIsFoundByTheNext) {
  writeRecords(100);
  auto lines = readLines(path());
  Record r = recordAt(36);
  r.user = "mallory";
  r.hash = computeHash(r);
  lines[36] = formatLine(r);
  writeLines(path(), lines);
  const auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 37U);
  EXPECT_EQ(report.message,
            "record 38: prev_hash does not match the hash of record 37 (record 37 was changed "
            "after it was written, or replaced)");
}

TEST_F(AuditTest, ADeletedMiddleRecordIsFound) {
  writeRecords(100);
  auto lines = readLines(path());
  lines.erase(lines.begin() + 49);  // record 50
  writeLines(path(), lines);
  const auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 50U);
  EXPECT_EQ(report.message, "record 50 is missing (deleted): record 49 is followed by record 51");
  EXPECT_EQ(report.records, 99U);

  lines.erase(lines.begin() + 49, lines.begin() + 52);  // records 51 … 53 too
  writeLines(path(), lines);
  EXPECT_EQ(verify(path()).message,
            "records 50…53 are missing (deleted): record 49 is followed by record 54");

  lines.erase(lines.begin());
  writeLines(path(), lines);
  EXPECT_EQ(verify(path()).first_bad_seq, 1U);
  EXPECT_EQ(verify(path()).message, "record 1 is missing (deleted): the log starts at record 2");
}

TEST_F(AuditTest, SwappedRecordsAreFound) {
  writeRecords(100);
  auto lines = readLines(path());
  std::swap(lines[19], lines[20]);  // records 20 and 21
  writeLines(path(), lines);
  const auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 20U);
  EXPECT_EQ(report.message, "records out of order: record 21 is where record 20 belongs");
}

TEST_F(AuditTest, DeletedNewestRecordsAreFoundThroughTheHead) {
  writeRecords(100);
  auto lines = readLines(path());
  lines.pop_back();
  writeLines(path(), lines);
  const auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 100U);
  EXPECT_EQ(report.message,
            "record 100 is missing (deleted at the end): audit.head names record 100, the log "
            "ends at record 99");

  // The head's seq set back to the last record, its hash left: still found.
  const std::string hash99 = verify(path()).head.hash;
  const std::string text = readText(head());
  const auto at = text.find("\"seq\":100");
  ASSERT_NE(at, std::string::npos);
  writeText(head(), text.substr(0, at) + "\"seq\":99" + text.substr(at + 9));
  const auto fixed = verify(path());
  EXPECT_FALSE(fixed.ok);
  EXPECT_EQ(fixed.first_bad_seq, 99U);
  EXPECT_EQ(fixed.message,
            "audit.head names record 99 with another hash than record 99 has: the head or the "
            "record was altered");
  EXPECT_EQ(fixed.head.hash, hash99);
}

TEST_F(AuditTest, AMissingOrAlteredHeadIsFound) {
  writeRecords(10);
  const std::string saved = readText(head());
  fs::remove(head());
  auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 0U);
  EXPECT_EQ(report.message,
            "audit.head is missing: deletion of the newest records cannot be ruled out");

  writeText(head(), "{\"seq\":10}\n");
  report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.message.rfind("audit.head is not valid", 0), 0U) << report.message;

  // A head that names an older record: the newer records could be forged or the head replaced.
  auto lines = readLines(path());
  const Record r5 = recordAt(4);
  writeText(head(), "{\"seq\":5,\"hash\":\"" + r5.hash + "\"}\n");
  report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 6U);
  EXPECT_EQ(report.message,
            "audit.head names record 5, but the log goes on to record 10: the head was altered "
            "or replaced");

  writeText(head(), saved);
  EXPECT_TRUE(verify(path()).ok);
}

TEST_F(AuditTest, AnInvalidLineIsFound) {
  writeRecords(50);
  auto lines = readLines(path());
  lines[29] = lines[29].substr(0, 40);  // record 30 cut short, inside the file
  writeLines(path(), lines);
  auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 30U);
  EXPECT_EQ(report.message, "line 30: not a valid audit record (not JSON)");

  lines = readLines(path());
  lines[29] = "{\"seq\": 30, \"time_ms\": 5}";
  writeLines(path(), lines);
  EXPECT_EQ(verify(path()).message, "line 30: not a valid audit record (no \"user\")");

  auto r = recordAt(28);
  std::string line = formatLine(r);
  line.insert(line.size() - 1, ",\"role\":\"admin\"");  // an extra field the hash does not cover
  lines[28] = line;
  writeLines(path(), lines);
  EXPECT_EQ(verify(path()).first_bad_seq, 29U);
  EXPECT_EQ(verify(path()).message, "line 29: not a valid audit record (unexpected fields)");
}

TEST_F(AuditTest, ATornLastLineIsCutOffAtOpenAndTheChainGoesOn) {
  writeRecords(10);
  const auto whole = fs::file_size(path());
  // A crash in the middle of appending record 11: half a line, no line end, head still at 10.
  Record r11 = recordAt(9);
  r11.seq = 11;
  r11.prev_hash = r11.hash;
  r11.hash = computeHash(r11);
  const std::string line = formatLine(r11);
  {
    std::ofstream out(path(), std::ios::binary | std::ios::app);
    out << line.substr(0, line.size() / 2);
  }
  auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 10U);
  ASSERT_EQ(report.notes.size(), 1U);
  EXPECT_NE(report.notes[0].find("line 11: an append interrupted by a crash"), std::string::npos);

  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    ASSERT_EQ(log->warnings().size(), 1U);
    EXPECT_NE(log->warnings()[0].find("cut off an incomplete last line"), std::string::npos)
        << log->warnings()[0];
    EXPECT_TRUE(log->integrity().ok);
    EXPECT_EQ(fs::file_size(path()), whole);
    EXPECT_EQ(log->head().seq, 10U);
    for (int i = 0; i < 5; ++i) {
      auto appended = log->append(entry(i));
      ASSERT_TRUE(appended.ok());
      EXPECT_EQ(appended->seq, 11U + static_cast<unsigned>(i));
    }
  }
  report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 15U);
  EXPECT_TRUE(report.notes.empty());

  // A whole line of garbage with its line end, not named by the head: cut off as well.
  {
    std::ofstream out(path(), std::ios::binary | std::ios::app);
    out << "{\"seq\":16,\"ti\n";
  }
  auto log = openLog();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->integrity().ok);
  EXPECT_EQ(log->warnings().size(), 1U);
  ASSERT_TRUE(log->append(entry(1)).ok());
  EXPECT_TRUE(verify(path()).ok);
  EXPECT_EQ(verify(path()).records, 16U);
}

TEST_F(AuditTest, ACutLastRecordThatTheHeadNamesIsDamageNotACrash) {
  writeRecords(10);
  const std::string text = readText(path());
  writeText(path(), text.substr(0, text.size() - 30));  // record 10 cut short
  auto report = verify(path());
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 10U);
  EXPECT_EQ(report.message, "line 10: not a valid audit record (not JSON)");

  auto log = openLog();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->warnings().empty());
  EXPECT_FALSE(log->integrity().ok);
  EXPECT_EQ(log->integrity().first_bad_seq, 10U);
  // The damage is recorded and the chain goes on from record 9, the last valid one.
  const auto records = log->list({});
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 10U);  // 9 valid + the damage record (the cut line is skipped)
  EXPECT_EQ(records->back().action, action::kAuditIntegrity);
  EXPECT_EQ(records->back().seq, 10U);
  EXPECT_EQ(records->back().outcome, outcome::kFailed);
  EXPECT_EQ(records->back().detail, "line 10: not a valid audit record (not JSON)");
  EXPECT_EQ(records->back().prev_hash, recordAt(8).hash);
  // The cut line stays in the file as evidence: verify still reports it.
  EXPECT_EQ(verify(path()).first_bad_seq, 10U);
  EXPECT_FALSE(verify(path()).ok);
}

TEST_F(AuditTest, AHeadOneRecordBehindIsBroughtUpToDate) {
  writeRecords(10);
  const Record r9 = recordAt(8);
  writeText(head(), "{\"seq\":9,\"hash\":\"" + r9.hash + "\"}\n");  // crash before the head
  auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.notes.size(), 1U);
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    EXPECT_TRUE(log->integrity().ok);
    EXPECT_EQ(log->warnings().size(), 1U);
    EXPECT_EQ(log->head().seq, 10U);
  }
  report = verify(path());
  EXPECT_TRUE(report.ok);
  EXPECT_TRUE(report.notes.empty());
}

TEST_F(AuditTest, ADamagedTrailStillOpensAndRecordsTheDamage) {
  writeRecords(100);
  auto lines = readLines(path());
  lines.pop_back();
  writeLines(path(), lines);
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    const auto integrity = log->integrity();
    EXPECT_FALSE(integrity.ok);
    EXPECT_EQ(integrity.first_bad_seq, 100U);
    EXPECT_EQ(integrity.message,
              "record 100 is missing (deleted at the end): audit.head names record 100, the log "
              "ends at record 99");
    // The damage record took seq 100, chained onto record 99.
    EXPECT_EQ(log->head().seq, 100U);
    ASSERT_TRUE(log->append(entry(1)).ok());
    EXPECT_EQ(log->head().seq, 101U);
    EXPECT_FALSE(log->integrity().ok);  // stays reported while the process runs
  }
  // The chain is whole again, and the damage is in it for everyone to see.
  const auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 101U);
  ASSERT_EQ(report.notes.size(), 1U);
  EXPECT_NE(report.notes[0].find("record 100 ("), std::string::npos) << report.notes[0];
  EXPECT_NE(report.notes[0].find("damage found when the trail was opened: record 100 is missing "
                                 "(deleted at the end)"),
            std::string::npos)
      << report.notes[0];
  Query q;
  q.action_prefix = action::kAuditIntegrity;
  auto damage = list(path(), q);
  ASSERT_TRUE(damage.ok());
  ASSERT_EQ(damage->size(), 1U);
  EXPECT_NE(damage->front().old_value.find("audit.head: record 100"), std::string::npos);
  EXPECT_EQ(damage->front().new_value.rfind("record 99, hash ", 0), 0U);
}

TEST_F(AuditTest, AMissingLogWithAHeadIsDamage) {
  writeRecords(5);
  fs::remove(path());
  EXPECT_FALSE(verify(path()).ok);
  auto log = openLog();
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(log->integrity().ok);
  EXPECT_EQ(log->integrity().message,
            "records 1…5 are missing (deleted at the end): audit.head names record 5, the log "
            "ends at record 0");
}

TEST_F(AuditTest, ReopeningContinuesTheChain) {
  writeRecords(5);
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    EXPECT_TRUE(log->warnings().empty());
    EXPECT_TRUE(log->integrity().ok);
    EXPECT_EQ(log->head().seq, 5U);
    auto r = log->append(entry(5));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->seq, 6U);
    EXPECT_EQ(r->prev_hash, recordAt(4).hash);
  }
  writeRecords(4);
  const auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 10U);
}

TEST_F(AuditTest, AnEmptyTrailVerifies) {
  EXPECT_FALSE(verify(path()).ok);  // nothing there yet
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    EXPECT_TRUE(log->warnings().empty());
    EXPECT_EQ(log->head().seq, 0U);
    EXPECT_EQ(log->head().hash, std::string(64, '0'));
  }
  const auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 0U);
  EXPECT_TRUE(fs::exists(head()));
}

TEST_F(AuditTest, FilesAreReadableByTheOwnerOnly) {
  const std::string data_dir = dir_ / "var/lib/equalis";
  auto log = Log::open(auditPath(data_dir), clock_);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE((*log)->append(entry(1)).ok());
  EXPECT_EQ(modeOf(data_dir), 0700U);
  EXPECT_EQ(modeOf(auditPath(data_dir)), 0600U);
  EXPECT_EQ(modeOf(headPath(auditPath(data_dir))), 0600U);
  EXPECT_EQ(auditPath(data_dir), data_dir + "/audit.jsonl");
  EXPECT_EQ(headPath(auditPath(data_dir)), data_dir + "/audit.head");

  // A file made readable by others is set back, and said so.
  log->reset();
  ASSERT_EQ(::chmod(auditPath(data_dir).c_str(), 0644), 0);
  auto again = Log::open(auditPath(data_dir), clock_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(modeOf(auditPath(data_dir)), 0600U);
  ASSERT_EQ((*again)->warnings().size(), 1U);
  EXPECT_NE((*again)->warnings()[0].find("mode was 0644, set to 0600"), std::string::npos);
}

TEST_F(AuditTest, OneLogPerFile) {
  auto first = openLog();
  ASSERT_NE(first, nullptr);
  auto second = Log::open(path(), clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
}

TEST_F(AuditTest, ConcurrentAppendsStayWholeAndChained) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  auto log = openLog();
  ASSERT_NE(log, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Entry e = entry(i);
        e.user = "thread-" + std::to_string(t);
        e.target = std::to_string(i);
        e.detail = std::string(100 + static_cast<std::size_t>(t * 37 + i) % 400, 'x');
        if (!log->append(std::move(e)).ok()) {
          ++failures;
        }
      }
    });
  }
  // A reader meanwhile sees whole, consecutive records only, and verify() run meanwhile (as
  // equalisctl does while equalisd appends) finds the trail intact.
  std::atomic<bool> reading{true};
  std::atomic<int> verified{0};
  std::thread reader([&] {
    while (reading) {
      auto records = log->list({});
      ASSERT_TRUE(records.ok());
      for (std::size_t k = 0; k < records->size(); ++k) {
        ASSERT_EQ((*records)[k].seq, k + 1);
      }
      const auto report = verify(path());
      ASSERT_TRUE(report.ok) << report.message;
      ++verified;
    }
  });
  for (auto& t : threads) {
    t.join();
  }
  reading = false;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(verified.load(), 0);
  const auto report = verify(path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(readLines(path()).size(), static_cast<std::size_t>(kThreads * kPerThread));
  // Every append is there exactly once, each thread's in its order.
  auto all = list(path(), {});
  ASSERT_TRUE(all.ok());
  std::map<std::string, int> next;
  for (const auto& r : *all) {
    EXPECT_EQ(r.target, std::to_string(next[r.user]++)) << r.user;
  }
  ASSERT_EQ(next.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [user, count] : next) {
    EXPECT_EQ(count, kPerThread) << user;
  }
}

TEST_F(AuditTest, AnotherWriterWhileOpenIsReported) {
  auto log = openLog();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->append(entry(1)).ok());
  {
    std::ofstream out(path(), std::ios::binary | std::ios::app);
    out << "{\"forged\":true}";
  }
  ASSERT_TRUE(log->append(entry(2)).ok());
  EXPECT_FALSE(log->integrity().ok);
  EXPECT_NE(log->integrity().message.find("was changed by another program"), std::string::npos);
  const auto lines = readLines(path());
  ASSERT_EQ(lines.size(), 3U);  // the forged text kept on its own line, the record whole
  EXPECT_EQ(lines[1], "{\"forged\":true}");
  EXPECT_TRUE(parseLine(lines[2]).ok());
  EXPECT_EQ(verify(path()).first_bad_seq, 2U);
}

TEST_F(AuditTest, ListFilters) {
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 20; ++i) {
      clock_.advance(kMinuteMs);
      ASSERT_TRUE(log->append(entry(i)).ok());
    }
    // The Log's own list sees the same.
    auto own = log->list({});
    ASSERT_TRUE(own.ok());
    EXPECT_EQ(own->size(), 20U);
  }
  const TimeMs t0 = 1'767'225'600'000;
  auto all = list(path(), {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 20U);

  Query q;
  q.from_ms = t0 + 5 * kMinuteMs;  // records 5 … 9 (inclusive bounds)
  q.to_ms = t0 + 9 * kMinuteMs;
  auto r = list(path(), q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 5U);
  EXPECT_EQ(r->front().seq, 5U);
  EXPECT_EQ(r->back().seq, 9U);

  q = {};
  q.user = "alice";  // i % 3 == 0: seq 1, 4, 7, …, 19
  r = list(path(), q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 7U);
  for (const auto& rec : *r) {
    EXPECT_EQ(rec.user, "alice");
  }

  q = {};
  q.action_prefix = "rule.";  // i % 5 == 1
  r = list(path(), q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 4U);
  q.action_prefix = "login";
  EXPECT_EQ(list(path(), q)->size(), 4U);

  q = {};
  q.limit = 3;  // the newest three, newest last
  r = list(path(), q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3U);
  EXPECT_EQ(r->at(0).seq, 18U);
  EXPECT_EQ(r->at(2).seq, 20U);

  q.user = "bob";
  q.action_prefix = "alarm.";  // bob and i % 5 == 0: i = 5, 10 (i = 0, 15 are alice)
  r = list(path(), q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2U);
  EXPECT_EQ(r->at(0).seq, 6U);
  EXPECT_EQ(r->at(1).seq, 11U);

  EXPECT_FALSE(list(dir_ / "none.jsonl", {}).ok());
}

TEST_F(AuditTest, CsvQuotesFieldsAsRfc4180) {
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    Entry e;
    e.user = "alice";
    e.address = "127.0.0.1";
    e.via = "rest";
    e.action = action::kRuleChange;
    e.target = "block.voltage_high";
    e.old_value = "{\"warning\": 14.4, \"alarm\": 14.7}";
    e.new_value = "line one\nline two";
    e.outcome = outcome::kOk;
    e.detail = "plain";
    ASSERT_TRUE(log->append(e).ok());
    e.user = "bob";
    ASSERT_TRUE(log->append(e).ok());
  }
  const std::string hash1 = recordAt(0).hash;
  const std::string hash2 = recordAt(1).hash;
  std::string csv;
  ASSERT_TRUE(exportCsv(path(), {}, [&csv](std::string_view chunk) {
                csv += chunk;
                return true;
              }).ok());
  const std::string row =
      ",alice,127.0.0.1,rest,rule.change,block.voltage_high,"
      "\"{\"\"warning\"\": 14.4, \"\"alarm\"\": 14.7}\",\"line one\nline "
      "two\",ok,plain,";
  EXPECT_EQ(csv,
            "time,seq,user,address,via,action,target,old,new,outcome,detail,hash\r\n"
            "2026-01-01T00:00:00.000Z,1" +
                row + hash1 +
                "\r\n"
                "2026-01-01T00:00:00.000Z,2" +
                std::string(row).replace(row.find("alice"), 5, "bob") + hash2 + "\r\n");

  // Filters and the limit apply; a sink that refuses stops the export.
  Query q;
  q.limit = 1;
  std::string newest;
  ASSERT_TRUE(exportCsv(path(), q, [&newest](std::string_view chunk) {
                newest += chunk;
                return true;
              }).ok());
  EXPECT_EQ(newest.find(",1,alice,"), std::string::npos);
  EXPECT_NE(newest.find(",2,bob,"), std::string::npos);
  const auto refused = exportCsv(path(), {}, [](std::string_view) { return false; });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

TEST_F(AuditTest, TextFieldsAreKeptToTheirLimit) {
  std::string long_ascii(10000, 'a');
  std::string long_utf8;
  for (int i = 0; i < 3000; ++i) {
    long_utf8 += "é";  // 2 bytes each
  }
  const std::string binary =
      std::string("nul\0\0ctl\x01\x1f", 10) + " del\x7f bad\xff\xfe" + " end";
  Record stored;
  {
    auto log = openLog();
    ASSERT_NE(log, nullptr);
    Entry e;
    e.detail = long_ascii;
    e.target = long_utf8;
    e.user = binary;
    e.old_value = std::string(kMaxFieldBytes, 'b');  // exactly at the limit: kept whole
    auto r = log->append(e);
    ASSERT_TRUE(r.ok());
    stored = *r;
  }
  EXPECT_EQ(stored.detail.size(), kMaxFieldBytes);
  EXPECT_EQ(stored.detail, std::string(kMaxFieldBytes - 3, 'a') + "…");
  EXPECT_LE(stored.target.size(), kMaxFieldBytes);
  EXPECT_EQ(stored.target.substr(stored.target.size() - 3), "…");
  EXPECT_EQ(stored.target.substr(0, 4), "éé");
  EXPECT_EQ((stored.target.size() - 3) % 2, 0U);  // no character cut in half
  EXPECT_EQ(stored.old_value, std::string(kMaxFieldBytes, 'b'));
  // Control characters are kept (escaped in JSON); invalid UTF-8 becomes U+FFFD.
  EXPECT_EQ(stored.user.substr(0, 5), std::string("nul\0\0", 5));
  EXPECT_NE(stored.user.find("ctl\x01\x1f del\x7f bad\xEF\xBF\xBD\xEF\xBF\xBD end"),
            std::string::npos);
  // What append() returned is what is in the file, and it verifies.
  const Record read = recordAt(0);
  EXPECT_EQ(read.user, stored.user);
  EXPECT_EQ(read.detail, stored.detail);
  EXPECT_EQ(read.target, stored.target);
  EXPECT_EQ(readLines(path()).size(), 1U);  // a newline in a field never splits the line
  EXPECT_TRUE(verify(path()).ok);

  EXPECT_EQ(clampField("short"), "short");
  EXPECT_EQ(clampField("\xC3"), "\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(clampField("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(clampField("\xF0\x9F\x94\x8B"), "\xF0\x9F\x94\x8B");                  // U+1F50B kept
}

TEST_F(AuditTest, ParseLineRejectsWhatIsNotARecord) {
  writeRecords(1);
  const std::string good = readLines(path()).at(0);
  EXPECT_TRUE(parseLine(good).ok());
  EXPECT_FALSE(parseLine("").ok());
  EXPECT_FALSE(parseLine("[]").ok());
  std::string bad_seq = good;
  bad_seq.replace(bad_seq.find("\"seq\":1"), 7, "\"seq\":0");
  EXPECT_FALSE(parseLine(bad_seq).ok());
  std::string bad_hash = good;
  bad_hash.replace(bad_hash.rfind('"') - 1, 1, "X");
  EXPECT_FALSE(parseLine(bad_hash).ok());
}

}  // namespace
}  // namespace equalis::audit
