// Logins checked elsewhere (RADIUS) under the accounts' back-off: Accounts::loginWith() and
// hasUser(), and LoginThrottle::abandon().
#include <string>

#include <gtest/gtest.h>

#include "auth/accounts.hpp"
#include "auth/throttle.hpp"
#include "functional/temp_dir.hpp"

namespace equalis::auth {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;
constexpr const char* kWrong = "unknown user or wrong password";

Policy fast() {
  Policy p;
  p.hash_cost = HashCost::minimum();
  return p;
}

Result<Principal> accept(Role role = Role::kOperator) {
  return Principal{"carol", role, "radius"};
}
Result<Principal> reject() {
  return makeError(ErrorCode::kInvalidArgument, kWrong);
}
Result<Principal> unreachable() {
  return makeError(ErrorCode::kUnavailable, "RADIUS server not reachable");
}

class AuthLoginWith : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = Accounts::open(usersPath(dir_.str()), clock_, fast());
    ASSERT_TRUE(a) << a.error().message;
    accounts_ = std::move(*a);
  }

  test::TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<Accounts> accounts_;
};

TEST_F(AuthLoginWith, HasUserIgnoresCaseAndSeesAnotherProcessesEdits) {
  ASSERT_TRUE(accounts_->addUser("Alice", "alice's password", Role::kAdmin));
  EXPECT_TRUE(accounts_->hasUser("Alice"));
  EXPECT_TRUE(accounts_->hasUser("alice"));
  EXPECT_TRUE(accounts_->hasUser("ALICE"));
  EXPECT_FALSE(accounts_->hasUser("carol"));
  EXPECT_FALSE(accounts_->hasUser(""));
  // Another process (equalisctl) adds a user: seen at the next check.
  auto other = Accounts::open(usersPath(dir_.str()), clock_, fast());
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->addUser("carol", "carol's password", Role::kViewer));
  EXPECT_TRUE(accounts_->hasUser("carol"));
}

TEST_F(AuthLoginWith, TheCheckDecidesAndItsPrincipalIsReturned) {
  int calls = 0;
  const auto r = accounts_->loginWith("carol", "10.0.0.1", [&] {
    ++calls;
    return accept(Role::kAdmin);
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r->user, "carol");
  EXPECT_EQ(r->role, Role::kAdmin);
  EXPECT_EQ(r->method, "radius");
}

TEST_F(AuthLoginWith, RefusalsCountAsFailedLoginsAndLockWithoutAsking) {
  int calls = 0;
  const auto wrong = [&] {
    ++calls;
    return reject();
  };
  for (int i = 1; i <= 5; ++i) {
    const auto r = accounts_->loginWith("carol", "10.0.0." + std::to_string(i), wrong);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, kWrong);
  }
  EXPECT_EQ(calls, 5);
  // Locked: the server is not asked, even with what would be the right password.
  auto r = accounts_->loginWith("carol", "10.0.0.6", [&] {
    ++calls;
    return accept();
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message,
            "too many failed logins for 'carol' from 10.0.0.6; try again in 1 s");
  EXPECT_EQ(calls, 5);
  clock_.advance(kSecondMs);
  r = accounts_->loginWith("carol", "10.0.0.6", [&] { return accept(); });
  ASSERT_TRUE(r);
  // The success cleared the name's count.
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(accounts_->loginWith("carol", "10.0.1." + std::to_string(i), wrong).error().message,
              kWrong);
  }
  EXPECT_TRUE(accounts_->loginWith("carol", "10.0.1.5", [&] { return accept(); }));
}

TEST_F(AuthLoginWith, LocalAndRadiusFailuresShareTheAddressCount) {
  ASSERT_TRUE(accounts_->addUser("alice", "alice's password", Role::kAdmin));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(accounts_->login("alice", "guess", "198.51.100.9").error().message, kWrong);
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(accounts_->loginWith("carol", "198.51.100.9", reject).error().message, kWrong);
  }
  const auto r = accounts_->loginWith("dave", "198.51.100.9", [] { return accept(); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "too many failed logins for 'dave' from 198.51.100.9; try again in 1 s");
}

TEST_F(AuthLoginWith, AServerThatDoesNotAnswerCountsAsNeither) {
  for (int i = 0; i < 20; ++i) {
    const auto r = accounts_->loginWith("carol", "10.0.0.1", unreachable);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().message, "RADIUS server not reachable");
  }
  EXPECT_TRUE(accounts_->loginWith("carol", "10.0.0.1", [] { return accept(); }));
}

TEST_F(AuthLoginWith, AnAttemptIsInProgressWhileTheServerIsAsked) {
  // Four failures: one more attempt in progress uses the last free one, so a parallel attempt
  // (here: one made from inside the check) is refused.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(accounts_->loginWith("carol", "10.0.0.1", reject).error().message, kWrong);
  }
  bool inner_refused = false;
  const auto r = accounts_->loginWith("carol", "10.0.0.1", [&] {
    const auto inner = accounts_->loginWith("carol", "10.0.0.2", [] { return accept(); });
    inner_refused = !inner && inner.error().code == ErrorCode::kUnavailable;
    return unreachable();
  });
  EXPECT_TRUE(inner_refused);
  ASSERT_FALSE(r);
  // Abandoned, not counted: the next attempt is admitted again.
  EXPECT_TRUE(accounts_->loginWith("carol", "10.0.0.1", [] { return accept(); }));
}

TEST(AuthThrottleAbandon, AnAbandonedAttemptIsNeitherCountedNorInProgress) {
  LoginThrottle t(Policy{});
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0));
    t.finish("alice", "10.0.0.1", false, kT0);
  }
  ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0));
  // In progress: it uses the last free failure.
  EXPECT_TRUE(t.admit("alice", "10.0.0.2", kT0));
  t.abandon("alice", "10.0.0.1", kT0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0)) << i;
    t.abandon("alice", "10.0.0.1", kT0);
  }
  // Still four failures: one more locks.
  ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0));
  t.finish("alice", "10.0.0.1", false, kT0);
  EXPECT_EQ(t.admit("alice", "10.0.0.1", kT0), 1000);
}

TEST(AuthThrottleAbandon, AbandonedEntriesAreDropped) {
  LoginThrottle t(Policy{});
  ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0));
  EXPECT_EQ(t.trackedNames(), 1U);
  t.abandon("alice", "10.0.0.1", kT0);
  EXPECT_EQ(t.trackedNames(), 0U);
  EXPECT_EQ(t.trackedAddresses(), 0U);
  // Abandoning what is not in progress changes nothing.
  t.abandon("bob", "10.0.0.2", kT0);
  EXPECT_EQ(t.trackedNames(), 0U);
}

}  // namespace
}  // namespace equalis::auth
