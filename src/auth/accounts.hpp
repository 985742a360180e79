// User accounts and API tokens, kept in "<data_dir>/users.json" (auth/users_file.hpp).
//
// Accounts is thread-safe (one mutex; password hashes are computed outside it). Every change
// takes an exclusive flock() on "<file>.lock", re-reads the file under it, applies the change
// and writes the file durably (persist::writeFileDurably, mode 0600), so `equalisctl user …`
// and a running equalisd never interleave edits. The daemon picks up the CLI's edits with
// reloadIfChanged() (login() and checkToken() call it first unless Policy::reload_on_check is
// off); a damaged file is refused and the accounts in memory stay.
//
// Sessions of a user must end when the user is removed, changes role or gets a new password —
// by this process or, through reloadIfChanged(), by another: setUserChangedCallback() reports
// each such user name (connect it to Sessions::removeUser).
//
// Token secrets are "eqt_" + base64url(32 random bytes) and shown once by createToken(); the file
// holds only their BLAKE2b-256 digest. The time a token was last used is kept in memory only
// (since this process started) and never written to the file, so the file changes only when an
// administrator changes something.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/policy.hpp"
#include "auth/role.hpp"
#include "auth/throttle.hpp"
#include "auth/users_file.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::auth {

// "<data_dir>/users.json".
std::string usersPath(const std::string& data_dir);

struct UserInfo {
  std::string name;
  Role role = Role::kViewer;
  TimeMs created_ms = 0;
};

struct TokenInfo {
  std::string id;  // 16 hex digits; names the token in "token:<id>" and in revokeToken()
  std::string label;
  Role role = Role::kViewer;
  TimeMs created_ms = 0;
  std::string created_by;
  std::optional<TimeMs> last_used_ms;  // since this process started; not stored
};

// A change to the accounts file made by another process (`equalisctl user|token`, an edit),
// found when the file is read again: what the audit trail records for it.
struct AccountChange {
  enum class Kind {
    kUserAdded,
    kUserRemoved,
    kRoleChanged,
    kPasswordChanged,
    kTokenCreated,
    kTokenRevoked
  };
  Kind kind = Kind::kUserAdded;
  std::string target;     // the user name, or "token:<id>"
  std::string old_value;  // the role before (kRoleChanged, kUserRemoved, kTokenRevoked)
  std::string new_value;  // the role after (kRoleChanged, kUserAdded, kTokenCreated)
  std::string detail;     // a token's label and creator
};

// What changed from `before` to `after`, users first (in `after`'s order), then tokens.
std::vector<AccountChange> diffAccounts(const UsersFile& before, const UsersFile& after);

class Accounts {
 public:
  // Loads `path` (a missing file is no accounts). A damaged file is an error naming it.
  static Result<std::unique_ptr<Accounts>> open(std::string path, Clock& clock, Policy policy = {});

  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;
  ~Accounts();

  // Changes, each written to the file before it returns. Errors: kInvalidArgument (a bad name,
  // password or role change, a duplicate, the last admin), kNotFound (no such user), kIo.
  Status addUser(std::string_view name, std::string_view password, Role role);
  Status removeUser(std::string_view name);
  Status setPassword(std::string_view name, std::string_view password);
  Status setRole(std::string_view name, Role role);

  std::vector<UserInfo> users() const;  // in the file's order
  // The account named `name` ignoring ASCII case; nullopt when there is none.
  std::optional<UserInfo> user(std::string_view name) const;
  std::size_t userCount() const;
  // Whether `name` is a local account, ignoring ASCII case (names are unique that way). Re-reads
  // the file first when it changed, as login() does; no password hash is computed.
  bool hasUser(std::string_view name);

  // Checks a password. kInvalidArgument "unknown user or wrong password" for an unknown user
  // and a wrong password alike (an unknown user costs a hash verification too); kUnavailable
  // "too many failed logins for 'NAME' from ADDRESS; try again in N s" during a back-off.
  // `address` is the client's IP address, without port. A hash made with another cost than
  // Policy::hash_cost is replaced after the successful login.
  Result<Principal> login(std::string_view name, std::string_view password,
                          std::string_view address);
  // A login checked elsewhere (a RADIUS server), under the same back-off as login() and counted in
  // the same tables: during a back-off it is refused with login()'s kUnavailable message and
  // `check` is not called. Otherwise `check` decides: its success clears the name's count, its
  // kInvalidArgument (wrong password, no role) counts as a failed login, and any other error (the
  // server did not answer) counts as neither.
  Result<Principal> loginWith(std::string_view name, std::string_view address,
                              const std::function<Result<Principal>()>& check);

  // A new token; returns its secret (shown once, never stored) and its description.
  Result<std::pair<std::string, TokenInfo>> createToken(std::string label, Role role,
                                                        std::string created_by);
  // The principal of a token secret: user = the token's label, method = "token:<id>".
  // kInvalidArgument "unknown or revoked API token" otherwise.
  Result<Principal> checkToken(std::string_view secret);
  Status revokeToken(std::string_view id);
  std::vector<TokenInfo> tokens() const;
  std::optional<TokenInfo> token(std::string_view id) const;  // nullopt: no such token

  // Re-reads the file when its inode, size, mtime or ctime changed since it was last read. A
  // damaged file keeps the accounts in memory and returns the error (again on each call until
  // the file changes).
  Status reloadIfChanged();

  // Called (outside the lock) with each user name that was removed, changed role or got a new
  // password, whether here or by another process (seen by reloadIfChanged()).
  void setUserChangedCallback(std::function<void(const std::string& user)> callback);

  // Called (outside the lock) with the changes another process made to the file, each time
  // this process reads it again (reloadIfChanged(), or before a change of its own).
  void setExternalChangeCallback(
      std::function<void(const std::vector<AccountChange>& changes)> callback);

  const std::string& path() const { return path_; }

 private:
  struct Stamp {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    long long mtime_ns = 0;
    long long ctime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Loaded {
    UsersFile file;
    Stamp stamp;
  };

  Accounts(std::string path, Clock& clock, Policy policy);

  static Result<Stamp> stampOf(const std::string& path);
  Result<Loaded> load() const;
  // Takes the file lock, re-reads the file, applies `change` and writes the result.
  // `change` returns whether it changed anything (false: nothing is written).
  Status mutate(const std::function<Result<bool>(UsersFile&)>& change, bool notify_change);
  // Replaces the accounts in memory; returns the users whose sessions must end. `external`
  // (a file read back, not one this process wrote) collects what changed.
  std::vector<std::string> install(Loaded loaded, std::vector<AccountChange>* external = nullptr);
  // reloadIfChanged() with mutex_ held; adds to `changed` the users to report.
  Status reloadLocked(std::vector<std::string>& changed, std::vector<AccountChange>& external);
  void notify(const std::vector<std::string>& users,
              const std::vector<AccountChange>& external) const;
  void maybeReload();
  // The back-off refusal of an attempt, or nothing when it may go on (then in progress until
  // throttle_.finish() or abandon()). With mutex_ held.
  std::optional<Error> admitLocked(std::string_view name, std::string_view address);
  const std::string& dummyHash();
  void rehash(const std::string& name, const std::string& old_hash, std::string_view password);

  const std::string path_;
  Clock& clock_;
  const Policy policy_;

  mutable std::mutex mutex_;
  UsersFile data_;
  Stamp stamp_;
  std::optional<Stamp> bad_stamp_;  // a damaged file already reported
  Error bad_error_;
  std::unordered_map<std::string, TimeMs> token_last_used_;  // by token id
  LoginThrottle throttle_;
  std::function<void(const std::string&)> on_user_changed_;
  std::function<void(const std::vector<AccountChange>&)> on_external_change_;

  static constexpr std::ptrdiff_t kMaxHashSlots = 64;
  std::counting_semaphore<kMaxHashSlots> hash_slots_;  // Policy::max_concurrent_hashes
  std::once_flag dummy_once_;
  std::string dummy_hash_;
};

}  // namespace equalis::auth
