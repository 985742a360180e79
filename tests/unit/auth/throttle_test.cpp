// Login back-off bookkeeping: per name and per address, doubling, the window, in-progress
// attempts, bounded tables.
#include "auth/throttle.hpp"

#include <string>

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;

// One complete failed attempt; false when it was refused.
bool fail(LoginThrottle& t, const std::string& name, const std::string& address, TimeMs now) {
  if (t.admit(name, address, now)) {
    return false;
  }
  t.finish(name, address, false, now);
  return true;
}

TEST(AuthThrottle, FiveFreeFailuresThenDoublingBackoff) {
  LoginThrottle t(Policy{});
  TimeMs now = kT0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", now)) << i;
  }
  EXPECT_EQ(t.admit("alice", "10.0.0.1", now), 1000);
  EXPECT_EQ(t.admit("alice", "10.0.0.1", now + 400), 600);
  DurationMs expected = 1000;
  for (int i = 0; i < 12; ++i) {
    now += expected;
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", now)) << i;
    expected = std::min<DurationMs>(expected * 2, 15 * kMinuteMs);
    EXPECT_EQ(t.admit("alice", "10.0.0.1", now), expected) << i;
  }
  EXPECT_EQ(expected, 15 * kMinuteMs);
}

TEST(AuthThrottle, SuccessClearsTheNameButNotTheAddress) {
  LoginThrottle t(Policy{});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", kT0));
  }
  ASSERT_FALSE(t.admit("alice", "10.0.0.1", kT0));
  t.finish("alice", "10.0.0.1", true, kT0);
  // The name starts again from another address...
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.2", kT0));
  }
  // ...but 10.0.0.1 keeps its four failures: one more locks it.
  ASSERT_TRUE(fail(t, "carol", "10.0.0.1", kT0));
  EXPECT_EQ(t.admit("dave", "10.0.0.1", kT0), 1000);
}

TEST(AuthThrottle, FailuresOutsideTheWindowAreForgotten) {
  LoginThrottle t(Policy{});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", kT0));
  }
  const TimeMs later = kT0 + 15 * kMinuteMs;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", later));
  }
  EXPECT_FALSE(t.admit("alice", "10.0.0.1", later));
}

TEST(AuthThrottle, AttemptsInProgressCountAgainstTheFreeBudget) {
  LoginThrottle t(Policy{});
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(fail(t, "alice", "10.0.0.1", kT0));
  }
  // Two attempts checking at once reach the budget of five; a third waits.
  EXPECT_FALSE(t.admit("alice", "10.0.0.1", kT0));
  EXPECT_FALSE(t.admit("alice", "10.0.0.2", kT0));
  EXPECT_EQ(t.admit("alice", "10.0.0.3", kT0), 1000);
  t.finish("alice", "10.0.0.1", false, kT0);
  t.finish("alice", "10.0.0.2", false, kT0);
  EXPECT_EQ(t.admit("alice", "10.0.0.3", kT0), 1000);
}

TEST(AuthThrottle, TablesAreBounded) {
  Policy p;
  p.max_tracked_names = 50;
  p.max_tracked_addresses = 20;
  LoginThrottle t(p);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(fail(t, "user" + std::to_string(i), "10.0.1." + std::to_string(i), kT0));
  }
  EXPECT_EQ(t.trackedNames(), 50U);
  EXPECT_EQ(t.trackedAddresses(), 20U);
}

TEST(AuthThrottle, AnIPv6AddressCountsByItsSlash64) {
  EXPECT_EQ(LoginThrottle::addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginThrottle::addressKey("[2001:db8:1:2::1]"), "2001:db8:1:2::/64");
  EXPECT_EQ(LoginThrottle::addressKey("fe80::1%eth0"), "fe80::/64");
  EXPECT_EQ(LoginThrottle::addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(LoginThrottle::addressKey("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(LoginThrottle::addressKey("not an address"), "not an address");
  LoginThrottle t(Policy{});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(fail(t, "user" + std::to_string(i), "2001:db8::" + std::to_string(i + 1), kT0));
  }
  EXPECT_EQ(t.admit("someone", "2001:db8::99", kT0), 1000);
  EXPECT_FALSE(t.admit("someone", "2001:db8:0:1::99", kT0));
}

}  // namespace
}  // namespace equalis::auth
