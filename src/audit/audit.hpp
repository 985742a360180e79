// The audit trail: one record for every write made to the system (operator commands, settings,
// user administration, logins, tokens), kept in "<data_dir>/audit.jsonl" as one JSON object per
// line and chained by SHA-256 so that a record changed, deleted or moved after it was written is
// found by verify() (docs/security.md).
//
//   hash = hex(SHA-256(prev_hash + "\n" + canonical(record)))
//
// canonical(record) is every other field in a fixed order, each written as
// "<name>:<byte length>:<value>\n" (numbers in decimal), so no two different records share it.
// The first record's prev_hash is 64 zeros. "audit.head" (next to the log) holds the seq and hash
// of the newest record, replaced durably after every append, so deleting the newest records is
// found too. Someone who can rewrite both files and recompute the chain is not detected unless
// the head is also kept elsewhere (Log::head(), published and logged by the daemon).
//
// Records are only ever appended: there is no automatic deletion (about 300 bytes per record).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::audit {

// What was done ("alarm.acknowledge", …): Record::action.
namespace action {
inline constexpr const char* kAlarmAcknowledge = "alarm.acknowledge";
inline constexpr const char* kAlarmShelve = "alarm.shelve";
inline constexpr const char* kAlarmUnshelve = "alarm.unshelve";
inline constexpr const char* kRuleChange = "rule.change";
inline constexpr const char* kRuleRevert = "rule.revert";
inline constexpr const char* kOutputSet = "output.set";
inline constexpr const char* kOutputPulse = "output.pulse";
inline constexpr const char* kIoRename = "io.rename";
inline constexpr const char* kProtectionReset = "protection.reset";
inline constexpr const char* kRiBaselineReset = "ri_baseline.reset";
inline constexpr const char* kConfigReload = "config.reload";
inline constexpr const char* kEventTest = "event.test";
inline constexpr const char* kRestoreStage = "restore.stage";
inline constexpr const char* kUserAdd = "user.add";
inline constexpr const char* kUserRemove = "user.remove";
inline constexpr const char* kUserPassword = "user.password";
inline constexpr const char* kUserRole = "user.role";
inline constexpr const char* kTokenCreate = "token.create";
inline constexpr const char* kTokenRevoke = "token.revoke";
inline constexpr const char* kLoginSuccess = "login.success";
inline constexpr const char* kLoginFailure = "login.failure";
inline constexpr const char* kLogout = "logout";
inline constexpr const char* kCertificateInstall = "certificate.install";
inline constexpr const char* kCertificateRemove = "certificate.remove";
inline constexpr const char* kProtocolChange = "protocol.change";
inline constexpr const char* kProtocolRevert = "protocol.revert";
// A request refused because the account's role does not allow it.
inline constexpr const char* kAccessDenied = "access.denied";
// Written by the log itself when it opens a damaged trail (the damage found, in `detail`).
inline constexpr const char* kAuditIntegrity = "audit.integrity";
}  // namespace action

// How it ended: Record::outcome.
namespace outcome {
inline constexpr const char* kOk = "ok";
inline constexpr const char* kRefused = "refused";  // not allowed, invalid request
inline constexpr const char* kFailed = "failed";    // allowed, but it did not work
}  // namespace outcome

// Each text field is kept to this many bytes (longer ones are cut and end with "…").
inline constexpr std::size_t kMaxFieldBytes = 4096;

struct Record {
  std::uint64_t seq = 0;  // 1, 2, 3, … without gaps
  TimeMs time_ms = 0;
  std::string user;     // account name; empty for anonymous local access
  std::string address;  // peer address; empty for local tools
  std::string via;      // "rest", "modbus", "snmp", "mqtt", "cli", "sighup", …
  std::string action;   // action::k…
  std::string target;   // what it was done to: "block.temperature_high/2", "aux1.relay2", "alice"
  std::string old_value;
  std::string new_value;
  std::string outcome;  // outcome::k…
  std::string detail;   // the reason (why refused or failed, or a note)
  std::string prev_hash;
  std::string hash;
};

// What the caller gives append(): a Record without seq, time and hashes.
struct Entry {
  std::string user;
  std::string address;
  std::string via;
  std::string action;
  std::string target;
  std::string old_value;
  std::string new_value;
  std::string outcome;
  std::string detail;
};

// The newest record: what audit.head holds.
struct Head {
  std::uint64_t seq = 0;  // 0 = no records yet
  std::string hash;       // 64 zeros when there are none
};

struct VerifyReport {
  std::uint64_t records = 0;  // valid records in the file
  bool ok = false;
  std::uint64_t first_bad_seq = 0;  // the first record missing, changed or misplaced; 0 when ok
                                    // or when the problem is not one record (no head file)
  std::string message;  // "record 17: hash does not match its contents (…)"; empty when ok
  Head head;            // the newest valid record in the file
  // Findings that leave the trail intact: an append interrupted by a crash (cut off at the next
  // open), damage found and recorded earlier (action::kAuditIntegrity records).
  std::vector<std::string> notes;
};

// Every record from `from_ms` to `to_ms` (inclusive) whose user is `user` (empty = any) and whose
// action starts with `action_prefix` ("user." = all user administration); at most the newest
// `limit` of them (0 = all). Results are in log order, newest last.
struct Query {
  TimeMs from_ms = std::numeric_limits<TimeMs>::min();
  TimeMs to_ms = std::numeric_limits<TimeMs>::max();
  std::string user;
  std::string action_prefix;
  std::size_t limit = 0;
};

// A function that takes CSV text; returning false stops the export (→ kUnavailable).
using CsvSink = std::function<bool(std::string_view)>;

// data_dir + "/audit.jsonl"
std::string auditPath(const std::string& data_dir);
// The anchor file of a log: "audit.jsonl" → "audit.head" in the same directory.
std::string headPath(const std::string& log_path);

// Record ↔ line. formatLine has no trailing newline; parseLine rejects anything that is not a
// complete record (missing, extra or mistyped fields, malformed hashes).
std::string formatLine(const Record& r);
Result<Record> parseLine(std::string_view line);
// The hash a record must carry, from prev_hash and its other fields.
std::string computeHash(const Record& r);
// A text field as stored: invalid UTF-8 replaced by U+FFFD, cut to kMaxFieldBytes.
std::string clampField(std::string text);

// Checks the whole chain and the head, reading the files only (it never changes them).
VerifyReport verify(const std::string& path);

// Reads the log without changing it (the daemon may be appending meanwhile; a last line being
// written is left out). Lines that are not valid records are skipped (verify() reports them).
Result<std::vector<Record>> list(const std::string& path, const Query& query);
// RFC 4180 CSV with a header line: time (ISO 8601 UTC), seq, user, address, via, action, target,
// old, new, outcome, detail, hash; CRLF line ends; chunks of about 64 KiB go to `sink`.
Status exportCsv(const std::string& path, const Query& query, const CsvSink& sink);

// The trail one process appends to. Thread-safe. One Log per file: the file is locked (flock)
// while the Log lives.
class Log {
 public:
  // Opens or creates `path` (auditPath(data_dir)): the file mode is 0600, a missing directory is
  // created 0700. Reads the whole trail: an append interrupted by a crash (a last line that is
  // incomplete or invalid and that audit.head does not name) is cut off and a head one record
  // behind is brought up to date, both reported in warnings(). Any other damage is not repaired:
  // open() succeeds, integrity() tells what is wrong, an action::kAuditIntegrity record states
  // it in the trail, and new records chain onto the newest valid record in the file. Errors:
  // the directory or file cannot be created, opened, read or locked.
  static Result<std::unique_ptr<Log>> open(std::string path, Clock& clock);

  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();

  // Appends a record (seq, time from the clock, hashes filled in; text fields clamped), written
  // with O_APPEND and fdatasync before it returns, then audit.head replaced durably. On an error
  // nothing is appended.
  Result<Record> append(Entry e);

  // The newest record's seq and hash (for the daemon to publish and log).
  Head head() const;
  // The state of the trail found at open() (ok, or what is wrong) — also broken when another
  // writer changed the file while it was open.
  VerifyReport integrity() const;
  // What open() repaired (an interrupted append cut off, the head brought up to date, the file
  // mode corrected).
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& path() const { return path_; }

  // As the free functions, over the records appended so far; they read the file on their own
  // descriptor and do not hold up appends.
  Result<std::vector<Record>> list(const Query& query) const;
  Status exportCsv(const Query& query, const CsvSink& sink) const;

 private:
  Log(std::string path, Clock& clock, int fd);
  Status writeHead(const Head& h);
  Result<Record> appendLocked(Entry e);

  std::string path_;
  Clock& clock_;
  int fd_ = -1;
  std::vector<std::string> warnings_;

  mutable std::mutex mutex_;
  Head head_;                    // the record new ones chain onto
  std::uint64_t size_ = 0;       // bytes of whole records in the file
  bool needs_line_end_ = false;  // the file ends without '\n' (damaged trail)
  VerifyReport integrity_;
};

}  // namespace equalis::audit
