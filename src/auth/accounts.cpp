#include "auth/accounts.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "auth/crypto.hpp"
#include "core/log.hpp"
#include "persist/files.hpp"

namespace equalis::auth {

namespace {

constexpr std::string_view kTokenPrefix = "eqt_";
constexpr std::size_t kTokenSecretBytes = 32;
constexpr std::size_t kTokenSecretLength = 4 + 43;  // "eqt_" + unpadded base64url of 32 bytes
constexpr const char* kLoginFailed = "unknown user or wrong password";
constexpr const char* kTokenFailed = "unknown or revoked API token";

std::string errnoText() {
  return std::strerror(errno);  // NOLINT(concurrency-mt-unsafe): message text only
}

// A value from a request for a message: printable ASCII, at most 64 characters.
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 64)) {
    out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  }
  return s.size() > 64 ? out + "…" : out;
}

// An exclusive flock() on "<path>.lock", released when the object goes.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> acquire(const std::string& path) {
    const std::string lock_path = path + ".lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return makeError(ErrorCode::kIo,
                       fmt::format("cannot open the lock file {}: {}", lock_path, errnoText()));
    }
    auto lock = std::unique_ptr<FileLock>(new FileLock(fd));
    int rc = 0;
    do {
      rc = ::flock(fd, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot lock {}: {}", lock_path, errnoText()));
    }
    return lock;
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() { ::close(fd_); }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// One of Policy::max_concurrent_hashes slots for an Argon2id computation.
template <class Semaphore>
class HashSlot {
 public:
  explicit HashSlot(Semaphore& slots) : slots_(slots) { slots_.acquire(); }
  HashSlot(const HashSlot&) = delete;
  HashSlot& operator=(const HashSlot&) = delete;
  ~HashSlot() { slots_.release(); }

 private:
  Semaphore& slots_;
};

// The user named exactly `name` in `file` (UsersFile or const UsersFile), else nullptr.
template <class File>
auto findUser(File& file, std::string_view name) -> decltype(file.users.data()) {
  const auto it = std::find_if(file.users.begin(), file.users.end(),
                               [&](const UserRecord& u) { return u.name == name; });
  return it != file.users.end() ? &*it : nullptr;
}

Error noUser(std::string_view name) {
  return makeError(ErrorCode::kNotFound, fmt::format("no user '{}'", shown(name)));
}

std::size_t adminCount(const UsersFile& file) {
  return static_cast<std::size_t>(
      std::count_if(file.users.begin(), file.users.end(),
                    [](const UserRecord& u) { return u.role == Role::kAdmin; }));
}

TokenInfo infoOf(const TokenRecord& t) {
  return {t.id, t.label, t.role, t.created_ms, t.created_by, std::nullopt};
}

}  // namespace

std::string usersPath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "users.json").string();
}

Accounts::Accounts(std::string path, Clock& clock, Policy policy)
    : path_(std::move(path)),
      clock_(clock),
      policy_(policy),
      throttle_(policy),
      hash_slots_(std::clamp<std::ptrdiff_t>(
          static_cast<std::ptrdiff_t>(policy.max_concurrent_hashes), 1, kMaxHashSlots)) {}

Accounts::~Accounts() = default;

Result<std::unique_ptr<Accounts>> Accounts::open(std::string path, Clock& clock, Policy policy) {
  if (auto st = initCrypto(); !st) {
    return st.error();
  }
  auto accounts = std::unique_ptr<Accounts>(new Accounts(std::move(path), clock, policy));
  auto loaded = accounts->load();
  if (!loaded) {
    return loaded.error();
  }
  std::lock_guard lock(accounts->mutex_);
  (void)accounts->install(std::move(*loaded));
  return accounts;
}

Result<Accounts::Stamp> Accounts::stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Stamp{};
    }
    return makeError(ErrorCode::kIo, fmt::format("cannot read {}: {}", path, errnoText()));
  }
  Stamp s;
  s.exists = true;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<long long>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

Result<Accounts::Loaded> Accounts::load() const {
  auto stamp = stampOf(path_);
  if (!stamp) {
    return stamp.error();
  }
  Loaded out;
  out.stamp = *stamp;
  if (!stamp->exists) {
    return out;
  }
  if (static_cast<std::size_t>(stamp->size) > kMaxUsersFileBytes) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{}: larger than {} MiB", path_, kMaxUsersFileBytes >> 20));
  }
  auto text = persist::readFile(path_);
  if (!text) {
    return text.error();
  }
  if (!text->has_value()) {
    return out;  // removed since the stat: no accounts
  }
  auto parsed = parseUsersFile(**text, path_);
  if (!parsed) {
    return parsed.error();
  }
  out.file = std::move(*parsed);
  return out;
}

std::vector<AccountChange> diffAccounts(const UsersFile& before, const UsersFile& after) {
  using Kind = AccountChange::Kind;
  std::vector<AccountChange> out;
  const auto role = [](Role r) { return std::string(roleName(r)); };
  for (const auto& now : after.users) {
    const auto* was = findUser(before, now.name);
    if (was == nullptr) {
      out.push_back({Kind::kUserAdded, now.name, "", role(now.role), ""});
      continue;
    }
    if (was->role != now.role) {
      out.push_back({Kind::kRoleChanged, now.name, role(was->role), role(now.role), ""});
    }
    if (was->hash != now.hash) {
      out.push_back({Kind::kPasswordChanged, now.name, "", "", ""});
    }
  }
  for (const auto& was : before.users) {
    if (findUser(after, was.name) == nullptr) {
      out.push_back({Kind::kUserRemoved, was.name, role(was.role), "", ""});
    }
  }
  const auto find_token = [](const UsersFile& f, const std::string& id) -> const TokenRecord* {
    const auto it = std::find_if(f.tokens.begin(), f.tokens.end(),
                                 [&](const TokenRecord& t) { return t.id == id; });
    return it == f.tokens.end() ? nullptr : &*it;
  };
  const auto describe = [](const TokenRecord& t) {
    return fmt::format("label '{}', created by {}", t.label, t.created_by);
  };
  for (const auto& now : after.tokens) {
    if (find_token(before, now.id) == nullptr) {
      out.push_back({Kind::kTokenCreated, "token:" + now.id, "", role(now.role), describe(now)});
    }
  }
  for (const auto& was : before.tokens) {
    if (find_token(after, was.id) == nullptr) {
      out.push_back({Kind::kTokenRevoked, "token:" + was.id, role(was.role), "", describe(was)});
    }
  }
  return out;
}

std::vector<std::string> Accounts::install(Loaded loaded, std::vector<AccountChange>* external) {
  if (external != nullptr) {
    auto found = diffAccounts(data_, loaded.file);
    external->insert(external->end(), std::make_move_iterator(found.begin()),
                     std::make_move_iterator(found.end()));
  }
  std::vector<std::string> changed;
  for (const auto& old : data_.users) {
    const UserRecord* now = findUser(loaded.file, old.name);
    if (now == nullptr || now->role != old.role || now->hash != old.hash) {
      changed.push_back(old.name);
    }
  }
  for (auto it = token_last_used_.begin(); it != token_last_used_.end();) {
    const bool kept = std::any_of(loaded.file.tokens.begin(), loaded.file.tokens.end(),
                                  [&](const TokenRecord& t) { return t.id == it->first; });
    it = kept ? std::next(it) : token_last_used_.erase(it);
  }
  data_ = std::move(loaded.file);
  stamp_ = loaded.stamp;
  bad_stamp_.reset();
  return changed;
}

Status Accounts::reloadLocked(std::vector<std::string>& changed,
                              std::vector<AccountChange>& external) {
  auto stamp = stampOf(path_);
  if (!stamp) {
    return stamp.error();
  }
  if (*stamp == stamp_) {
    return {};
  }
  if (bad_stamp_ && *bad_stamp_ == *stamp) {
    return bad_error_;
  }
  auto loaded = load();
  if (!loaded) {
    bad_stamp_ = *stamp;
    bad_error_ = loaded.error();
    log::get("auth")->warn("{}; the accounts loaded before stay in use", bad_error_.message);
    return bad_error_;
  }
  auto names = install(std::move(*loaded), &external);
  changed.insert(changed.end(), names.begin(), names.end());
  return {};
}

Status Accounts::reloadIfChanged() {
  std::vector<std::string> changed;
  std::vector<AccountChange> external;
  Status st;
  {
    std::lock_guard lock(mutex_);
    st = reloadLocked(changed, external);
  }
  notify(changed, external);
  return st;
}

void Accounts::maybeReload() {
  if (policy_.reload_on_check) {
    (void)reloadIfChanged();  // a damaged file is logged once and the old accounts stay
  }
}

void Accounts::notify(const std::vector<std::string>& users,
                      const std::vector<AccountChange>& external) const {
  if (users.empty() && external.empty()) {
    return;
  }
  std::function<void(const std::string&)> callback;
  std::function<void(const std::vector<AccountChange>&)> external_callback;
  {
    std::lock_guard lock(mutex_);
    callback = on_user_changed_;
    external_callback = on_external_change_;
  }
  if (external_callback && !external.empty()) {
    external_callback(external);
  }
  if (callback) {
    for (const auto& u : users) {
      callback(u);
    }
  }
}

void Accounts::setExternalChangeCallback(
    std::function<void(const std::vector<AccountChange>& changes)> callback) {
  std::lock_guard lock(mutex_);
  on_external_change_ = std::move(callback);
}

void Accounts::setUserChangedCallback(std::function<void(const std::string& user)> callback) {
  std::lock_guard lock(mutex_);
  on_user_changed_ = std::move(callback);
}

Status Accounts::mutate(const std::function<Result<bool>(UsersFile&)>& change, bool notify_change) {
  std::vector<std::string> changed;
  std::vector<AccountChange> external;
  Status result = [&]() -> Status {
    std::lock_guard lock(mutex_);
    auto file_lock = FileLock::acquire(path_);
    if (!file_lock) {
      return file_lock.error();
    }
    // Re-read under the lock: another process (equalisctl, equalisd) may have changed the file.
    auto fresh = load();
    if (!fresh) {
      return makeError(fresh.error().code,
                       fmt::format("{} (nothing changed)", fresh.error().message));
    }
    auto names = install(std::move(*fresh), &external);
    changed.insert(changed.end(), names.begin(), names.end());
    UsersFile next = data_;
    auto write = change(next);
    if (!write) {
      return write.error();
    }
    if (!*write) {
      return {};
    }
    // A temporary file left by a crash would keep its old mode; start from a fresh one (0600).
    (void)::unlink((path_ + ".tmp").c_str());
    if (auto st = persist::writeFileDurably(path_, serializeUsersFile(next)); !st) {
      return st;
    }
    auto stamp = stampOf(path_);
    names = install({std::move(next), stamp ? *stamp : Stamp{}});
    if (notify_change) {
      changed.insert(changed.end(), names.begin(), names.end());
    }
    return {};
  }();
  notify(changed, external);
  return result;
}

Status Accounts::addUser(std::string_view name, std::string_view password, Role role) {
  if (auto st = validateUserName(name); !st) {
    return st;
  }
  if (auto st = validatePassword(password); !st) {
    return st;
  }
  Result<std::string> hash = [&] {
    HashSlot slot(hash_slots_);
    return hashPassword(password, policy_.hash_cost);
  }();
  if (!hash) {
    return hash.error();
  }
  const TimeMs now = clock_.nowMs();
  return mutate(
      [&](UsersFile& file) -> Result<bool> {
        for (const auto& u : file.users) {
          if (sameUserName(u.name, name)) {
            return makeError(ErrorCode::kInvalidArgument,
                             u.name == name
                                 ? fmt::format("user '{}' already exists", name)
                                 : fmt::format("user '{}' already exists as '{}' (names are "
                                               "unique ignoring case)",
                                               name, u.name));
          }
        }
        file.users.push_back({std::string(name), role, *hash, now});
        return true;
      },
      true);
}

Status Accounts::removeUser(std::string_view name) {
  return mutate(
      [&](UsersFile& file) -> Result<bool> {
        const UserRecord* u = findUser(file, name);
        if (u == nullptr) {
          return noUser(name);
        }
        if (u->role == Role::kAdmin && adminCount(file) == 1) {
          return makeError(ErrorCode::kInvalidArgument,
                           fmt::format("cannot remove '{}': it is the last admin (make another "
                                       "user admin first)",
                                       name));
        }
        file.users.erase(file.users.begin() + (u - file.users.data()));
        return true;
      },
      true);
}

Status Accounts::setPassword(std::string_view name, std::string_view password) {
  if (auto st = validatePassword(password); !st) {
    return st;
  }
  Result<std::string> hash = [&] {
    HashSlot slot(hash_slots_);
    return hashPassword(password, policy_.hash_cost);
  }();
  if (!hash) {
    return hash.error();
  }
  return mutate(
      [&](UsersFile& file) -> Result<bool> {
        UserRecord* u = findUser(file, name);
        if (u == nullptr) {
          return noUser(name);
        }
        u->hash = *hash;
        return true;
      },
      true);
}

Status Accounts::setRole(std::string_view name, Role role) {
  return mutate(
      [&](UsersFile& file) -> Result<bool> {
        UserRecord* u = findUser(file, name);
        if (u == nullptr) {
          return noUser(name);
        }
        if (u->role == role) {
          return false;
        }
        if (u->role == Role::kAdmin && adminCount(file) == 1) {
          return makeError(ErrorCode::kInvalidArgument,
                           fmt::format("cannot make '{}' {}: it is the last admin (make another "
                                       "user admin first)",
                                       name, roleName(role)));
        }
        u->role = role;
        return true;
      },
      true);
}

std::vector<UserInfo> Accounts::users() const {
  std::lock_guard lock(mutex_);
  std::vector<UserInfo> out;
  out.reserve(data_.users.size());
  for (const auto& u : data_.users) {
    out.push_back({u.name, u.role, u.created_ms});
  }
  return out;
}

std::optional<UserInfo> Accounts::user(std::string_view name) const {
  std::lock_guard lock(mutex_);
  for (const auto& u : data_.users) {
    if (sameUserName(u.name, name)) {
      return UserInfo{u.name, u.role, u.created_ms};
    }
  }
  return std::nullopt;
}

std::size_t Accounts::userCount() const {
  std::lock_guard lock(mutex_);
  return data_.users.size();
}

bool Accounts::hasUser(std::string_view name) {
  maybeReload();
  std::lock_guard lock(mutex_);
  return std::any_of(data_.users.begin(), data_.users.end(),
                     [&](const UserRecord& u) { return sameUserName(u.name, name); });
}

const std::string& Accounts::dummyHash() {
  std::call_once(dummy_once_, [this] {
    auto hash = hashPassword(randomBase64Url(16), policy_.hash_cost);
    dummy_hash_ = hash ? *hash : std::string();
  });
  return dummy_hash_;
}

Result<Principal> Accounts::login(std::string_view name, std::string_view password,
                                  std::string_view address) {
  maybeReload();
  std::optional<std::string> hash;
  {
    std::lock_guard lock(mutex_);
    if (auto refused = admitLocked(name, address)) {
      return *refused;
    }
    if (const UserRecord* u = findUser(data_, name)) {
      hash = u->hash;
    }
  }
  // Outside the lock: Argon2id takes tens of milliseconds. An unknown user costs the same.
  const std::string_view checked = password.substr(0, kMaxPasswordLength);
  bool ok = false;
  {
    const std::string& against = hash ? *hash : dummyHash();
    HashSlot slot(hash_slots_);
    ok = verifyPassword(against, checked) && hash.has_value() &&
         password.size() <= kMaxPasswordLength;
  }
  Principal principal;
  bool upgrade = false;
  {
    std::lock_guard lock(mutex_);
    const UserRecord* u = findUser(data_, name);
    // The password must still be the one checked (not changed while it was being checked).
    ok = ok && u != nullptr && u->hash == *hash;
    throttle_.finish(name, address, ok, clock_.nowMs());
    if (!ok) {
      return makeError(ErrorCode::kInvalidArgument, kLoginFailed);
    }
    principal = {u->name, u->role, "password"};
    upgrade = needsRehash(u->hash, policy_.hash_cost);
  }
  if (upgrade) {
    rehash(principal.user, *hash, password);
  }
  return principal;
}

std::optional<Error> Accounts::admitLocked(std::string_view name, std::string_view address) {
  if (const auto wait = throttle_.admit(name, address, clock_.nowMs())) {
    const auto seconds = (*wait + kSecondMs - 1) / kSecondMs;
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("too many failed logins for '{}' from {}; try again in {} s",
                                 shown(name), shown(address), seconds));
  }
  return std::nullopt;
}

Result<Principal> Accounts::loginWith(std::string_view name, std::string_view address,
                                      const std::function<Result<Principal>()>& check) {
  {
    std::lock_guard lock(mutex_);
    if (auto refused = admitLocked(name, address)) {
      return *refused;
    }
  }
  // Admitted: the attempt is in progress until it is finished or abandoned, also when `check`
  // throws.
  bool done = false;
  struct Abandon {
    Accounts& self;
    std::string_view name;
    std::string_view address;
    const bool& done;
    ~Abandon() {
      if (!done) {
        std::lock_guard lock(self.mutex_);
        self.throttle_.abandon(name, address, self.clock_.nowMs());
      }
    }
  } guard{*this, name, address, done};
  auto result = check();
  if (result || result.error().code == ErrorCode::kInvalidArgument) {
    std::lock_guard lock(mutex_);
    throttle_.finish(name, address, result.ok(), clock_.nowMs());
    done = true;
  }
  return result;
}

void Accounts::rehash(const std::string& name, const std::string& old_hash,
                      std::string_view password) {
  Result<std::string> hash = [&] {
    HashSlot slot(hash_slots_);
    return hashPassword(password, policy_.hash_cost);
  }();
  if (!hash) {
    log::get("auth")->warn("cannot rehash the password of '{}': {}", name, hash.error().message);
    return;
  }
  const auto st = mutate(
      [&](UsersFile& file) -> Result<bool> {
        UserRecord* u = findUser(file, name);
        if (u == nullptr || u->hash != old_hash) {
          return false;  // changed meanwhile: leave it
        }
        u->hash = *hash;
        return true;
      },
      false);
  if (!st) {
    log::get("auth")->warn("cannot store the rehashed password of '{}': {}", name,
                           st.error().message);
  }
}

Result<std::pair<std::string, TokenInfo>> Accounts::createToken(std::string label, Role role,
                                                                std::string created_by) {
  if (auto st = validateTokenLabel(label); !st) {
    return st.error();
  }
  if (auto st = validateCreatedBy(created_by); !st) {
    return st.error();
  }
  std::string secret = std::string(kTokenPrefix) + randomBase64Url(kTokenSecretBytes);
  TokenRecord record;
  record.label = std::move(label);
  record.role = role;
  record.hash = digestHex(secret);
  record.created_ms = clock_.nowMs();
  record.created_by = std::move(created_by);
  const auto st = mutate(
      [&](UsersFile& file) -> Result<bool> {
        do {
          record.id = randomHex(kTokenIdLength / 2);
        } while (std::any_of(file.tokens.begin(), file.tokens.end(),
                             [&](const TokenRecord& t) { return t.id == record.id; }));
        file.tokens.push_back(record);
        return true;
      },
      true);
  if (!st) {
    return st.error();
  }
  return std::make_pair(std::move(secret), infoOf(record));
}

Result<Principal> Accounts::checkToken(std::string_view secret) {
  maybeReload();
  if (secret.size() != kTokenSecretLength ||
      secret.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return makeError(ErrorCode::kInvalidArgument, kTokenFailed);
  }
  const std::string digest = digestHex(secret);
  std::lock_guard lock(mutex_);
  const TokenRecord* match = nullptr;
  for (const auto& t : data_.tokens) {
    // Every token is compared, in constant time, so the time does not tell how close a guess was.
    if (constantTimeEqual(t.hash, digest) && match == nullptr) {
      match = &t;
    }
  }
  if (match == nullptr) {
    return makeError(ErrorCode::kInvalidArgument, kTokenFailed);
  }
  token_last_used_[match->id] = clock_.nowMs();
  return Principal{match->label, match->role, "token:" + match->id};
}

Status Accounts::revokeToken(std::string_view id) {
  return mutate(
      [&](UsersFile& file) -> Result<bool> {
        const auto it = std::find_if(file.tokens.begin(), file.tokens.end(),
                                     [&](const TokenRecord& t) { return t.id == id; });
        if (it == file.tokens.end()) {
          return makeError(ErrorCode::kNotFound, fmt::format("no token '{}'", shown(id)));
        }
        file.tokens.erase(it);
        return true;
      },
      true);
}

std::optional<TokenInfo> Accounts::token(std::string_view id) const {
  for (auto& t : tokens()) {
    if (t.id == id) {
      return std::move(t);
    }
  }
  return std::nullopt;
}

std::vector<TokenInfo> Accounts::tokens() const {
  std::lock_guard lock(mutex_);
  std::vector<TokenInfo> out;
  out.reserve(data_.tokens.size());
  for (const auto& t : data_.tokens) {
    auto info = infoOf(t);
    if (const auto it = token_last_used_.find(t.id); it != token_last_used_.end()) {
      info.last_used_ms = it->second;
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace equalis::auth
