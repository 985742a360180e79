// Accounts: users and roles in the accounts file, logins with back-off, API tokens, reloading
// another process's edits, and concurrent use.
#include "auth/accounts.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "auth/crypto.hpp"
#include "auth/sessions.hpp"
#include "functional/temp_dir.hpp"

namespace equalis::auth {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWrong = "unknown user or wrong password";

Policy fast() {
  Policy p;
  p.hash_cost = HashCost::minimum();
  return p;
}

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Replaces a file the way an editor would (new inode), so the change is always visible.
void replaceFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".new", std::ios::binary) << text;
  fs::rename(path + ".new", path);
}

class AuthAccounts : public ::testing::Test {
 protected:
  std::unique_ptr<Accounts> open(Policy policy = fast()) {
    auto a = Accounts::open(path_, clock_, policy);
    EXPECT_TRUE(a) << (a ? "" : a.error().message);
    return a ? std::move(*a) : nullptr;
  }

  test::TempDir dir_;
  SimulatedClock clock_;
  std::string path_ = usersPath(dir_.str());
};

TEST_F(AuthAccounts, AMissingFileIsNoAccounts) {
  auto a = open();
  EXPECT_EQ(a->userCount(), 0U);
  EXPECT_TRUE(a->users().empty());
  EXPECT_TRUE(a->tokens().empty());
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(a->reloadIfChanged());
  EXPECT_EQ(path_, dir_.str() + "/users.json");
}

TEST_F(AuthAccounts, AddedUsersLogIn) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  clock_.advance(kSecondMs);
  ASSERT_TRUE(a->addUser("bob", "bob's password", Role::kOperator));
  const auto users = a->users();
  ASSERT_EQ(users.size(), 2U);
  EXPECT_EQ(users[0].name, "alice");
  EXPECT_EQ(users[0].role, Role::kAdmin);
  EXPECT_EQ(users[0].created_ms, SimulatedClock().nowMs());
  EXPECT_EQ(users[1].name, "bob");
  EXPECT_EQ(users[1].created_ms, SimulatedClock().nowMs() + kSecondMs);
  EXPECT_EQ(a->userCount(), 2U);

  const auto p = a->login("bob", "bob's password", "192.0.2.1");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->user, "bob");
  EXPECT_EQ(p->role, Role::kOperator);
  EXPECT_EQ(p->method, "password");
}

TEST_F(AuthAccounts, AWrongPasswordAndAnUnknownUserLookTheSame) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  const auto wrong = a->login("alice", "not the password", "192.0.2.1");
  const auto unknown = a->login("mallory", "alice's password", "192.0.2.1");
  const auto case_differs = a->login("Alice", "alice's password", "192.0.2.1");
  const auto too_long = a->login("alice", std::string(5000, 'x'), "192.0.2.1");
  for (const auto* r : {&wrong, &unknown, &case_differs, &too_long}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r->error().message, kWrong);
  }
}

TEST_F(AuthAccounts, AnUnknownUserCostsAHashVerification) {
  auto a = open(Policy{});  // the default cost, so a hash takes milliseconds
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_FALSE(a->login("nobody", "whatever1", "192.0.2.100"));  // makes the dummy hash
  const auto timed = [&](const std::string& name, int k) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(a->login(name, "wrong password", "192.0.2." + std::to_string(k)));
    return std::chrono::steady_clock::now() - start;
  };
  auto known = std::chrono::steady_clock::duration::max();
  auto unknown = std::chrono::steady_clock::duration::max();
  for (int k = 0; k < 3; ++k) {
    known = std::min(known, timed("alice", k));
    unknown = std::min(unknown, timed("nobody" + std::to_string(k), 10 + k));
  }
  EXPECT_GT(unknown * 3, known) << "an unknown user must not answer faster than a known one";
}

TEST_F(AuthAccounts, ValidationErrorsSayWhatIsWrong) {
  auto a = open();
  const auto bad_name = a->addUser("al ice", "long enough", Role::kViewer);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().message,
            "user name 'al ice' has a character other than A-Z a-z 0-9 . _ @ -");
  const auto short_pw = a->addUser("alice", "short", Role::kViewer);
  ASSERT_FALSE(short_pw);
  EXPECT_EQ(short_pw.error().message, "password is too short: at least 8 bytes");
  ASSERT_TRUE(a->addUser("alice", "long enough", Role::kAdmin));
  const auto dup = a->addUser("alice", "long enough", Role::kViewer);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "user 'alice' already exists");
  const auto dup_case = a->addUser("ALICE", "long enough", Role::kViewer);
  ASSERT_FALSE(dup_case);
  EXPECT_EQ(dup_case.error().message,
            "user 'ALICE' already exists as 'alice' (names are unique ignoring case)");
  const auto missing = a->removeUser("bob");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "no user 'bob'");
  EXPECT_EQ(a->setPassword("bob", "long enough").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(a->setRole("bob", Role::kAdmin).error().code, ErrorCode::kNotFound);
  const auto nul = a->setPassword("alice", std::string("long\0enough", 11));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().message, "password contains a NUL byte");
  EXPECT_EQ(a->userCount(), 1U);
}

TEST_F(AuthAccounts, TheLastAdminCannotBeRemovedOrDemoted) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_TRUE(a->addUser("victor", "victor's password", Role::kViewer));
  const auto remove = a->removeUser("alice");
  ASSERT_FALSE(remove);
  EXPECT_EQ(remove.error().message,
            "cannot remove 'alice': it is the last admin (make another user admin first)");
  const auto demote = a->setRole("alice", Role::kOperator);
  ASSERT_FALSE(demote);
  EXPECT_EQ(demote.error().message,
            "cannot make 'alice' operator: it is the last admin (make another user admin first)");
  EXPECT_TRUE(a->setRole("alice", Role::kAdmin));  // no change
  ASSERT_TRUE(a->setRole("victor", Role::kAdmin));
  ASSERT_TRUE(a->setRole("alice", Role::kViewer));
  EXPECT_FALSE(a->removeUser("victor"));
  ASSERT_TRUE(a->removeUser("alice"));
  EXPECT_EQ(a->userCount(), 1U);
  EXPECT_EQ(a->users()[0].role, Role::kAdmin);
}

TEST_F(AuthAccounts, FiveFailuresPerUserThenADoublingBackoff) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  for (int i = 1; i <= 5; ++i) {
    const auto r = a->login("alice", "guess " + std::to_string(i), "10.0.0." + std::to_string(i));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << i;
  }
  // Locked, even with the right password and from another address.
  auto r = a->login("alice", "alice's password", "10.0.0.6");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message,
            "too many failed logins for 'alice' from 10.0.0.6; try again in 1 s");
  clock_.advance(999);
  EXPECT_EQ(a->login("alice", "alice's password", "10.0.0.6").error().code,
            ErrorCode::kUnavailable);
  clock_.advance(1);
  // Unlocked: one more failure doubles the back-off.
  EXPECT_EQ(a->login("alice", "guess 6", "10.0.0.6").error().message, kWrong);
  r = a->login("alice", "alice's password", "10.0.0.7");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "too many failed logins for 'alice' from 10.0.0.7; try again in 2 s");
  clock_.advance(2 * kSecondMs);
  EXPECT_EQ(a->login("alice", "guess 7", "10.0.0.7").error().message, kWrong);
  EXPECT_EQ(a->login("alice", "alice's password", "10.0.0.8").error().message,
            "too many failed logins for 'alice' from 10.0.0.8; try again in 4 s");
  clock_.advance(4 * kSecondMs);
  ASSERT_TRUE(a->login("alice", "alice's password", "10.0.0.8"));
  // Success reset the user's count: four more failures from fresh addresses are free.
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(a->login("alice", "guess", "10.0.1." + std::to_string(i)).error().message, kWrong);
  }
  EXPECT_TRUE(a->login("alice", "alice's password", "10.0.1.5"));
}

TEST_F(AuthAccounts, FiveFailuresFromOneAddressLockThatAddress) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(a->login("user" + std::to_string(i), "guess", "198.51.100.9").error().message,
              kWrong);
  }
  const auto r = a->login("alice", "alice's password", "198.51.100.9");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "too many failed logins for 'alice' from 198.51.100.9; try again in 1 s");
  EXPECT_TRUE(a->login("alice", "alice's password", "198.51.100.10"));
  clock_.advance(kSecondMs);
  EXPECT_TRUE(a->login("alice", "alice's password", "198.51.100.9"));
}

TEST_F(AuthAccounts, TheFileRoundTripsWithMode0600AndNoSecrets) {
  {
    auto a = open();
    ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
    ASSERT_TRUE(a->addUser("olga", "olga's password", Role::kOperator));
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const std::string text = readText(path_);
  EXPECT_NE(text.find("\"format\": 1"), std::string::npos) << text;
  EXPECT_NE(text.find("$argon2id$"), std::string::npos);
  EXPECT_EQ(text.find("alice's password"), std::string::npos);
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
  EXPECT_TRUE(fs::exists(path_ + ".lock"));

  auto b = open();
  const auto users = b->users();
  ASSERT_EQ(users.size(), 2U);
  EXPECT_EQ(users[1].name, "olga");
  EXPECT_EQ(users[1].role, Role::kOperator);
  EXPECT_TRUE(b->login("olga", "olga's password", "192.0.2.1"));
}

TEST_F(AuthAccounts, AStaleTemporaryFileDoesNotLeakItsMode) {
  std::ofstream(path_ + ".tmp") << "old";
  fs::permissions(path_ + ".tmp", fs::perms(0644));
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST_F(AuthAccounts, TokensAreCreatedCheckedAndRevoked) {
  auto a = open();
  const auto created = a->createToken("grafana", Role::kViewer, "cli:root");
  ASSERT_TRUE(created) << created.error().message;
  const auto& [secret, info] = *created;
  EXPECT_EQ(secret.rfind("eqt_", 0), 0U);
  EXPECT_EQ(secret.size(), 47U);
  EXPECT_EQ(info.id.size(), 16U);
  EXPECT_EQ(info.label, "grafana");
  EXPECT_EQ(info.role, Role::kViewer);
  EXPECT_EQ(info.created_by, "cli:root");
  EXPECT_EQ(info.created_ms, clock_.nowMs());
  EXPECT_FALSE(info.last_used_ms);

  // The file holds the digest, never the secret.
  const std::string text = readText(path_);
  EXPECT_EQ(text.find(secret), std::string::npos);
  EXPECT_EQ(text.find(secret.substr(4)), std::string::npos);
  EXPECT_EQ(text.find(secret.substr(4, 20)), std::string::npos);
  EXPECT_NE(text.find(digestHex(secret)), std::string::npos);

  clock_.advance(kMinuteMs);
  const auto p = a->checkToken(secret);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->user, "grafana");
  EXPECT_EQ(p->role, Role::kViewer);
  EXPECT_EQ(p->method, "token:" + info.id);
  ASSERT_EQ(a->tokens().size(), 1U);
  EXPECT_EQ(a->tokens()[0].last_used_ms, clock_.nowMs());

  std::string wrong = secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {wrong, std::string("eqt_"), std::string(), secret + "x", "xyz_" + secret.substr(4)}) {
    const auto r = a->checkToken(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, "unknown or revoked API token");
  }

  // Another process sees the token; the last-used time stays in memory.
  auto b = open();
  EXPECT_TRUE(b->checkToken(secret));
  EXPECT_EQ(readText(path_), text);

  ASSERT_TRUE(a->revokeToken(info.id));
  EXPECT_FALSE(a->checkToken(secret));
  EXPECT_TRUE(a->tokens().empty());
  EXPECT_FALSE(b->checkToken(secret)) << "revoked in another process: seen at the next check";
  const auto again = a->revokeToken(info.id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(again.error().message, "no token '" + info.id + "'");
}

TEST_F(AuthAccounts, TokenLabelsAreValidated) {
  auto a = open();
  EXPECT_FALSE(a->createToken("", Role::kViewer, "cli:root"));
  EXPECT_FALSE(a->createToken("line\nbreak", Role::kViewer, "cli:root"));
  EXPECT_FALSE(a->createToken("ok", Role::kViewer, ""));
  EXPECT_FALSE(fs::exists(path_));
}

TEST_F(AuthAccounts, ADamagedFileIsRefusedAtOpen) {
  replaceFile(path_, R"({"format": 1, "users": [{"name": "alice", "role": "boss"}]})");
  const auto a = Accounts::open(path_, clock_, fast());
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message,
            path_ + ": users[1].role: unknown role 'boss' (viewer, operator, admin)");
}

TEST_F(AuthAccounts, ADamagedFileKeepsTheOldAccounts) {
  auto a = open();
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  const std::string good = readText(path_);
  const std::vector<std::string> damaged = {
      "",
      "{not json",
      "[1, 2]",
      R"({"format": 2, "users": []})",
      R"({"format": 1, "users": [{"name": "bob", "role": "admin", "hash": 7}]})",
      R"({"format": 1, "users": "alice"})",
  };
  for (const auto& text : damaged) {
    replaceFile(path_, text);
    const auto st = a->reloadIfChanged();
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().message.rfind(path_ + ": ", 0), 0U) << st.error().message;
    // Reported again until the file changes, and the accounts stay.
    EXPECT_EQ(a->reloadIfChanged().error().message, st.error().message);
    ASSERT_EQ(a->userCount(), 1U);
    EXPECT_TRUE(a->login("alice", "alice's password", "192.0.2.1"));
    // A change is refused rather than overwriting a file it cannot read.
    const auto add = a->addUser("bob", "bob's password", Role::kViewer);
    ASSERT_FALSE(add);
    EXPECT_NE(add.error().message.find("(nothing changed)"), std::string::npos);
    EXPECT_EQ(readText(path_), text);
  }
  replaceFile(path_, good);
  EXPECT_TRUE(a->reloadIfChanged());
  EXPECT_TRUE(a->addUser("bob", "bob's password", Role::kViewer));
}

TEST_F(AuthAccounts, EditsByAnotherProcessAreReloaded) {
  auto daemon = open();
  ASSERT_TRUE(daemon->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_TRUE(daemon->addUser("bob", "bob's password", Role::kOperator));
  std::vector<std::string> changed;
  daemon->setUserChangedCallback([&](const std::string& u) { changed.push_back(u); });

  auto cli = open();  // equalisctl, editing the same file
  ASSERT_TRUE(cli->addUser("carol", "carol's password", Role::kViewer));
  ASSERT_TRUE(cli->setPassword("alice", "alice's new password"));
  ASSERT_TRUE(cli->setRole("bob", Role::kViewer));

  ASSERT_TRUE(daemon->reloadIfChanged());
  EXPECT_EQ(daemon->userCount(), 3U);
  EXPECT_EQ(changed, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(daemon->login("carol", "carol's password", "192.0.2.1"));
  EXPECT_FALSE(daemon->login("alice", "alice's password", "192.0.2.1"));
  EXPECT_TRUE(daemon->login("alice", "alice's new password", "192.0.2.1"));

  // login() reloads by itself.
  ASSERT_TRUE(cli->removeUser("carol"));
  EXPECT_FALSE(daemon->login("carol", "carol's password", "192.0.2.1"));
  EXPECT_EQ(changed.back(), "carol");
  EXPECT_EQ(daemon->userCount(), 2U);
}

TEST_F(AuthAccounts, EditsFromTwoProcessesAreNeverLost) {
  auto a = open();
  auto b = open();  // opened before a's edits: its memory is stale
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_TRUE(b->addUser("bob", "bob's password", Role::kViewer));
  ASSERT_TRUE(a->createToken("one", Role::kViewer, "test"));
  ASSERT_TRUE(b->createToken("two", Role::kViewer, "test"));
  // b re-read the file under the lock before its change: nothing of a's is lost.
  auto c = open();
  EXPECT_EQ(c->userCount(), 2U);
  EXPECT_EQ(c->tokens().size(), 2U);
  // Even a duplicate made in the other process is seen.
  EXPECT_EQ(b->addUser("alice", "alice's password", Role::kAdmin).error().message,
            "user 'alice' already exists");
}

TEST_F(AuthAccounts, TheCallbackReportsRemovedRoleChangedAndNewPasswordUsers) {
  auto a = open();
  std::vector<std::string> changed;
  a->setUserChangedCallback([&](const std::string& u) { changed.push_back(u); });
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_TRUE(a->addUser("bob", "bob's password", Role::kAdmin));
  ASSERT_TRUE(a->addUser("carol", "carol's password", Role::kAdmin));
  EXPECT_TRUE(changed.empty());
  ASSERT_TRUE(a->setPassword("alice", "alice's new password"));
  ASSERT_TRUE(a->setRole("bob", Role::kViewer));
  ASSERT_TRUE(a->removeUser("carol"));
  ASSERT_TRUE(a->createToken("t", Role::kAdmin, "test"));
  EXPECT_EQ(changed, (std::vector<std::string>{"alice", "bob", "carol"}));
}

TEST_F(AuthAccounts, ALoginRehashesAPasswordMadeWithAnotherCost) {
  {
    auto a = open();
    ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  }
  EXPECT_NE(readText(path_).find("t=1,"), std::string::npos);
  Policy stronger = fast();
  stronger.hash_cost.ops_limit = 3;
  auto b = open(stronger);
  std::vector<std::string> changed;
  b->setUserChangedCallback([&](const std::string& u) { changed.push_back(u); });
  ASSERT_TRUE(b->login("alice", "alice's password", "192.0.2.1"));
  const std::string text = readText(path_);
  EXPECT_EQ(text.find("t=1,"), std::string::npos) << text;
  EXPECT_NE(text.find("t=3,"), std::string::npos) << text;
  EXPECT_TRUE(changed.empty()) << "a rehash is not a new password";
  EXPECT_TRUE(b->login("alice", "alice's password", "192.0.2.1"));
  EXPECT_TRUE(open()->login("alice", "alice's password", "192.0.2.1"));
}

TEST_F(AuthAccounts, AMissingDataDirectoryIsAnErrorNamingIt) {
  auto a = Accounts::open(dir_.str() + "/nope/users.json", clock_, fast());
  ASSERT_TRUE(a);
  const auto st = (*a)->addUser("alice", "alice's password", Role::kAdmin);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kIo);
  EXPECT_NE(st.error().message.find(dir_.str() + "/nope/users.json.lock"), std::string::npos)
      << st.error().message;
}

TEST_F(AuthAccounts, SessionsEndWhenTheUserChanges) {
  auto a = open();
  Sessions sessions(clock_);
  a->setUserChangedCallback([&](const std::string& u) { sessions.removeUser(u); });
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  ASSERT_TRUE(a->addUser("bob", "bob's password", Role::kOperator));
  const auto p = a->login("bob", "bob's password", "192.0.2.1");
  ASSERT_TRUE(p);
  const auto s = sessions.create(*p, "192.0.2.1");
  ASSERT_TRUE(sessions.touch(s.id));
  ASSERT_TRUE(a->setPassword("bob", "bob's new password"));
  EXPECT_FALSE(sessions.touch(s.id));
}

TEST_F(AuthAccounts, ConcurrentLoginsAndEdits) {
  auto a = open();
  auto other = open();  // a second process editing the same file
  ASSERT_TRUE(a->addUser("alice", "alice's password", Role::kAdmin));
  constexpr int kThreads = 4;
  constexpr int kRounds = 10;
  std::atomic<int> logins{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads + 2);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string address = "10.1." + std::to_string(t) + "." + std::to_string(i);
        if (a->login("alice", "alice's password", address)) {
          ++logins;
        } else {
          ++errors;
        }
        (void)a->login("nobody" + std::to_string(t), "wrong password", address);
        (void)a->users();
        (void)a->tokens();
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      const std::string name = "a" + std::to_string(i);
      if (!a->addUser(name, "a password!", Role::kViewer) ||
          !a->setPassword(name, "another password") || !a->createToken(name, Role::kViewer, "t")) {
        ++errors;
      }
    }
  });
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      const std::string name = "b" + std::to_string(i);
      if (!other->addUser(name, "b password!", Role::kViewer) ||
          !other->setRole(name, Role::kOperator) || !other->reloadIfChanged()) {
        ++errors;
      }
    }
  });
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(logins.load(), kThreads * kRounds);
  auto fresh = open();
  EXPECT_EQ(fresh->userCount(), 1U + 2 * kRounds);
  EXPECT_EQ(fresh->tokens().size(), static_cast<std::size_t>(kRounds));
  ASSERT_TRUE(a->reloadIfChanged());
  EXPECT_EQ(a->userCount(), 1U + 2 * kRounds);
}

}  // namespace
}  // namespace equalis::auth
