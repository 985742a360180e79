#include "auth/sessions.hpp"

#include <algorithm>
#include <utility>

#include "auth/crypto.hpp"

namespace equalis::auth {

namespace {

constexpr std::size_t kSecretBytes = 32;

}  // namespace

Sessions::Sessions(Clock& clock, SessionPolicy policy) : clock_(clock), policy_(policy) {
  (void)initCrypto();
}

bool Sessions::expired(const Session& s, TimeMs now_ms) const {
  return now_ms - s.last_seen_ms >= policy_.idle_timeout_ms ||
         now_ms - s.created_ms >= policy_.absolute_timeout_ms;
}

std::size_t Sessions::purgeLocked(TimeMs now_ms) {
  return std::erase_if(sessions_, [&](const auto& kv) { return expired(kv.second, now_ms); });
}

std::size_t Sessions::purgeExpired() {
  std::lock_guard lock(mutex_);
  return purgeLocked(clock_.nowMs());
}

// Ends the oldest session of `user` (created first), or with an empty `user` the one idle
// longest of all.
void Sessions::eraseOldest(std::string_view user) {
  auto oldest = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (!user.empty() && it->second.user != user) {
      continue;
    }
    const bool older = oldest == sessions_.end() ||
                       (user.empty() ? it->second.last_seen_ms < oldest->second.last_seen_ms
                                     : it->second.created_ms < oldest->second.created_ms);
    if (older) {
      oldest = it;
    }
  }
  if (oldest != sessions_.end()) {
    sessions_.erase(oldest);
  }
}

Session Sessions::create(const Principal& principal, std::string address) {
  const TimeMs now = clock_.nowMs();
  Session s;
  s.id = randomBase64Url(kSecretBytes);
  s.csrf_token = randomBase64Url(kSecretBytes);
  s.user = principal.user;
  s.role = principal.role;
  s.method = principal.method;
  s.address = std::move(address);
  s.created_ms = now;
  s.last_seen_ms = now;
  const std::string key = digestHex(s.id);

  std::lock_guard lock(mutex_);
  purgeLocked(now);
  const auto of_user = static_cast<std::size_t>(
      std::count_if(sessions_.begin(), sessions_.end(),
                    [&](const auto& kv) { return kv.second.user == s.user; }));
  for (std::size_t n = of_user; n >= std::max<std::size_t>(1, policy_.max_per_user); --n) {
    eraseOldest(s.user);
  }
  while (!sessions_.empty() && sessions_.size() >= std::max<std::size_t>(1, policy_.max_total)) {
    eraseOldest({});
  }
  sessions_.emplace(key, s);
  return s;
}

std::optional<Session> Sessions::touch(std::string_view id) {
  const std::string key = digestHex(id);
  const TimeMs now = clock_.nowMs();
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    return std::nullopt;
  }
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen_ms = now;
  return it->second;
}

void Sessions::remove(std::string_view id) {
  const std::string key = digestHex(id);
  std::lock_guard lock(mutex_);
  sessions_.erase(key);
}

void Sessions::removeUser(std::string_view user) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.user == user; });
}

std::size_t Sessions::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool Sessions::checkCsrf(const Session& session, std::string_view token) {
  return !session.csrf_token.empty() && constantTimeEqual(session.csrf_token, token);
}

}  // namespace equalis::auth
