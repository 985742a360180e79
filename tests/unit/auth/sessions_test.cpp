// Web sessions: random ids and CSRF tokens, idle and absolute expiry, per-user and total caps,
// ending a user's sessions.
#include "auth/sessions.hpp"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

Principal alice() {
  return {"alice", Role::kAdmin, "password"};
}

Principal bob() {
  return {"bob", Role::kOperator, "radius"};
}

TEST(AuthSessions, CreateAndTouch) {
  SimulatedClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(alice(), "192.0.2.1");
  EXPECT_EQ(s.id.size(), 43U);
  EXPECT_EQ(s.csrf_token.size(), 43U);
  EXPECT_NE(s.id, s.csrf_token);
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.role, Role::kAdmin);
  EXPECT_EQ(s.method, "password");
  EXPECT_EQ(s.address, "192.0.2.1");
  EXPECT_EQ(s.created_ms, clock.nowMs());
  EXPECT_EQ(s.last_seen_ms, clock.nowMs());
  clock.advance(5 * kMinuteMs);
  const auto t = sessions.touch(s.id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->user, "alice");
  EXPECT_EQ(t->last_seen_ms, clock.nowMs());
  EXPECT_EQ(t->created_ms, s.created_ms);
  EXPECT_FALSE(sessions.touch("no such session"));
  EXPECT_FALSE(sessions.touch(""));
  EXPECT_EQ(sessions.size(), 1U);
  sessions.remove(s.id);
  EXPECT_FALSE(sessions.touch(s.id));
  EXPECT_EQ(sessions.size(), 0U);
}

TEST(AuthSessions, IdleTimeout) {
  SimulatedClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(alice(), "192.0.2.1");
  clock.advance(30 * kMinuteMs - 1);
  ASSERT_TRUE(sessions.touch(s.id));
  clock.advance(30 * kMinuteMs - 1);
  ASSERT_TRUE(sessions.touch(s.id)) << "each request renews the idle timeout";
  clock.advance(30 * kMinuteMs);
  EXPECT_FALSE(sessions.touch(s.id));
  EXPECT_EQ(sessions.size(), 0U);
}

TEST(AuthSessions, AbsoluteTimeout) {
  SimulatedClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(alice(), "192.0.2.1");
  for (int i = 0; i < 12 * 4 - 1; ++i) {
    clock.advance(15 * kMinuteMs);
    ASSERT_TRUE(sessions.touch(s.id)) << i;
  }
  clock.advance(15 * kMinuteMs);  // 12 h after the login, however busy
  EXPECT_FALSE(sessions.touch(s.id));
}

TEST(AuthSessions, CustomTimeoutsAndPurge) {
  SimulatedClock clock;
  Sessions sessions(clock, {.idle_timeout_ms = kMinuteMs, .absolute_timeout_ms = kHourMs});
  sessions.create(alice(), "a");
  sessions.create(bob(), "b");
  clock.advance(kMinuteMs);
  const Session fresh = sessions.create(bob(), "c");
  EXPECT_EQ(sessions.size(), 1U) << "creating purges expired sessions";
  clock.advance(kMinuteMs);
  EXPECT_EQ(sessions.purgeExpired(), 1U);
  EXPECT_FALSE(sessions.touch(fresh.id));
}

TEST(AuthSessions, AtMostTwentyPerUserOldestDropped) {
  SimulatedClock clock;
  Sessions sessions(clock);
  std::vector<Session> made;
  for (int i = 0; i < 25; ++i) {
    made.push_back(sessions.create(alice(), "192.0.2.1"));
    clock.advance(kSecondMs);
  }
  const Session of_bob = sessions.create(bob(), "192.0.2.2");
  EXPECT_EQ(sessions.size(), 21U);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(sessions.touch(made[i].id)) << i;
  }
  for (int i = 5; i < 25; ++i) {
    EXPECT_TRUE(sessions.touch(made[i].id)) << i;
  }
  EXPECT_TRUE(sessions.touch(of_bob.id));
}

TEST(AuthSessions, TotalCapDropsTheOneIdleLongest) {
  SimulatedClock clock;
  Sessions sessions(clock, {.max_total = 3});
  const Session a = sessions.create({"a", Role::kViewer, "password"}, "x");
  clock.advance(kSecondMs);
  const Session b = sessions.create({"b", Role::kViewer, "password"}, "x");
  clock.advance(kSecondMs);
  const Session c = sessions.create({"c", Role::kViewer, "password"}, "x");
  clock.advance(kSecondMs);
  ASSERT_TRUE(sessions.touch(a.id));  // b is now the one idle longest
  const Session d = sessions.create({"d", Role::kViewer, "password"}, "x");
  EXPECT_EQ(sessions.size(), 3U);
  EXPECT_TRUE(sessions.touch(a.id));
  EXPECT_FALSE(sessions.touch(b.id));
  EXPECT_TRUE(sessions.touch(c.id));
  EXPECT_TRUE(sessions.touch(d.id));
}

TEST(AuthSessions, RemoveUserEndsAllOfTheirSessions) {
  SimulatedClock clock;
  Sessions sessions(clock);
  const Session a1 = sessions.create(alice(), "x");
  const Session a2 = sessions.create(alice(), "y");
  const Session b = sessions.create(bob(), "z");
  sessions.removeUser("alice");
  EXPECT_FALSE(sessions.touch(a1.id));
  EXPECT_FALSE(sessions.touch(a2.id));
  EXPECT_TRUE(sessions.touch(b.id));
}

TEST(AuthSessions, CsrfCheck) {
  SimulatedClock clock;
  Sessions sessions(clock);
  const Session s = sessions.create(alice(), "x");
  const Session other = sessions.create(alice(), "x");
  EXPECT_TRUE(Sessions::checkCsrf(s, s.csrf_token));
  EXPECT_FALSE(Sessions::checkCsrf(s, other.csrf_token));
  EXPECT_FALSE(Sessions::checkCsrf(s, ""));
  EXPECT_FALSE(Sessions::checkCsrf(s, s.csrf_token.substr(1)));
  EXPECT_FALSE(Sessions::checkCsrf(s, s.id));
  Session blank = s;
  blank.csrf_token.clear();
  EXPECT_FALSE(Sessions::checkCsrf(blank, ""));
}

TEST(AuthSessions, IdsAreUnique) {
  SimulatedClock clock;
  Sessions sessions(clock);
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const Session s = sessions.create({"u" + std::to_string(i), Role::kViewer, "password"}, "x");
    ids.insert(s.id);
    ids.insert(s.csrf_token);
  }
  EXPECT_EQ(ids.size(), 400U);
}

TEST(AuthSessions, ConcurrentUse) {
  SimulatedClock clock;
  Sessions sessions(clock);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Principal p{"user" + std::to_string(t % 2), Role::kViewer, "password"};
      for (int i = 0; i < 200; ++i) {
        const Session s = sessions.create(p, "x");
        (void)sessions.touch(s.id);
        if (i % 10 == 0) {
          sessions.removeUser(p.user);
        }
        if (i % 7 == 0) {
          sessions.remove(s.id);
        }
        clock.advance(1);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_LE(sessions.size(), 40U);
}

}  // namespace
}  // namespace equalis::auth
