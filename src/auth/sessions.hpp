// Web sessions after a login: in memory only (a restart logs everyone out), thread-safe.
//
// A session id and its CSRF token are 32 random bytes each, base64url. The id travels in a
// cookie; requests that change something must also carry the CSRF token (checkCsrf). A session
// ends after `idle_timeout_ms` without a request or `absolute_timeout_ms` after the login,
// whichever comes first; a user has at most `max_per_user` sessions (a new one ends the oldest)
// and there are at most `max_total` (a new one ends the one idle longest).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/role.hpp"
#include "core/clock.hpp"

namespace equalis::auth {

struct SessionPolicy {
  DurationMs idle_timeout_ms = 30 * kMinuteMs;
  DurationMs absolute_timeout_ms = 12 * kHourMs;
  std::size_t max_per_user = 20;
  std::size_t max_total = 10'000;
};

struct Session {
  std::string id;
  std::string csrf_token;
  std::string user;
  Role role = Role::kViewer;
  std::string method;   // Principal::method of the login
  std::string address;  // the client's address at the login
  TimeMs created_ms = 0;
  TimeMs last_seen_ms = 0;
};

class Sessions {
 public:
  explicit Sessions(Clock& clock, SessionPolicy policy = {});

  // A new session for a principal that has just logged in.
  Session create(const Principal& principal, std::string address);
  // The session with this id if it has not expired, its last_seen_ms renewed; an expired one is
  // removed.
  std::optional<Session> touch(std::string_view id);
  void remove(std::string_view id);
  // Ends every session of `user` (removed, changed role, new password: Accounts'
  // setUserChangedCallback).
  void removeUser(std::string_view user);
  // Removes the expired sessions; returns how many.
  std::size_t purgeExpired();
  std::size_t size() const;

  // Whether `token` is the session's CSRF token (constant time).
  static bool checkCsrf(const Session& session, std::string_view token);

 private:
  bool expired(const Session& s, TimeMs now_ms) const;
  std::size_t purgeLocked(TimeMs now_ms);
  void eraseOldest(std::string_view user);

  Clock& clock_;
  const SessionPolicy policy_;
  mutable std::mutex mutex_;
  // By BLAKE2b-256 of the id, so looking one up compares digests, not the secret.
  std::unordered_map<std::string, Session> sessions_;
};

}  // namespace equalis::auth
