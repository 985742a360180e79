#include "auth/throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace equalis::auth {

namespace {

constexpr std::size_t kMaxKeyBytes = 128;

std::string nameKey(std::string_view name) {
  return std::string(name.substr(0, kMaxKeyBytes));
}

// When an entry with no attempt in progress may be forgotten.
TimeMs quietSince(TimeMs last_failure_ms, TimeMs locked_until_ms) {
  return std::max(last_failure_ms, locked_until_ms);
}

}  // namespace

LoginThrottle::LoginThrottle(const Policy& policy)
    : policy_(policy),
      names_(std::max<std::size_t>(1, policy.max_tracked_names)),
      addresses_(std::max<std::size_t>(1, policy.max_tracked_addresses)) {}

std::string LoginThrottle::addressKey(std::string_view address) {
  std::string text(address.substr(0, kMaxKeyBytes));
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (const auto zone = text.find('%'); zone != std::string::npos) {
    text.resize(zone);
  }
  std::array<unsigned char, 16> a{};
  if (text.find(':') == std::string::npos || ::inet_pton(AF_INET6, text.c_str(), a.data()) != 1) {
    return std::string(address.substr(0, kMaxKeyBytes));
  }
  std::array<char, INET6_ADDRSTRLEN> out{};
  const bool v4_mapped =
      std::all_of(a.begin(), a.begin() + 10, [](unsigned char b) { return b == 0; }) &&
      a[10] == 0xff && a[11] == 0xff;
  if (v4_mapped) {
    ::inet_ntop(AF_INET, a.data() + 12, out.data(), out.size());
    return {out.data()};
  }
  std::fill(a.begin() + 8, a.end(), 0);
  ::inet_ntop(AF_INET6, a.data(), out.data(), out.size());
  return std::string(out.data()) + "/64";
}

LoginThrottle::Entry* LoginThrottle::Table::find(const std::string& key, const Policy& policy,
                                                 TimeMs now_ms) {
  const auto it = map_.find(key);
  if (it == map_.end()) {
    return nullptr;
  }
  Entry& e = it->second.entry;
  const bool idle = e.in_flight == 0;
  const bool forgotten =
      e.failures == 0 ||
      now_ms >= quietSince(e.last_failure_ms, e.locked_until_ms) + policy.failure_window_ms;
  if (idle && forgotten) {
    order_.erase(it->second.order);
    map_.erase(it);
    return nullptr;
  }
  return &e;
}

LoginThrottle::Entry& LoginThrottle::Table::touch(const std::string& key) {
  auto it = map_.find(key);
  if (it != map_.end()) {
    order_.splice(order_.end(), order_, it->second.order);
    return it->second.entry;
  }
  while (map_.size() >= capacity_ && !order_.empty()) {
    map_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  auto& slot = map_[key];
  slot.order = std::prev(order_.end());
  return slot.entry;
}

void LoginThrottle::Table::erase(const std::string& key) {
  const auto it = map_.find(key);
  if (it != map_.end()) {
    order_.erase(it->second.order);
    map_.erase(it);
  }
}

std::optional<DurationMs> LoginThrottle::waitFor(const Entry* e, TimeMs now_ms) const {
  if (e == nullptr) {
    return std::nullopt;
  }
  if (e->locked_until_ms > now_ms) {
    return e->locked_until_ms - now_ms;
  }
  if (e->in_flight > 0 && e->failures + e->in_flight >= policy_.free_failures) {
    return policy_.backoff_initial_ms;
  }
  return std::nullopt;
}

std::optional<DurationMs> LoginThrottle::admit(std::string_view name, std::string_view address,
                                               TimeMs now_ms) {
  const std::string name_key = nameKey(name);
  const std::string address_key = addressKey(address);
  const auto wait_name = waitFor(names_.find(name_key, policy_, now_ms), now_ms);
  const auto wait_address = waitFor(addresses_.find(address_key, policy_, now_ms), now_ms);
  if (wait_name || wait_address) {
    return std::max(wait_name.value_or(0), wait_address.value_or(0));
  }
  ++names_.touch(name_key).in_flight;
  ++addresses_.touch(address_key).in_flight;
  return std::nullopt;
}

void LoginThrottle::record(Table& table, const std::string& key, bool success,
                           bool reset_on_success, TimeMs now_ms) {
  Entry* e = table.find(key, policy_, now_ms);
  if (e == nullptr) {
    if (success) {
      return;
    }
    e = &table.touch(key);  // dropped from a full table while in progress
  } else {
    e = &table.touch(key);
  }
  if (e->in_flight > 0) {
    --e->in_flight;
  }
  if (success) {
    if (reset_on_success) {
      e->failures = 0;
      e->last_failure_ms = 0;
      e->locked_until_ms = 0;
    }
  } else {
    if (now_ms >= quietSince(e->last_failure_ms, e->locked_until_ms) + policy_.failure_window_ms) {
      e->failures = 0;  // the earlier failures are outside the window
    }
    ++e->failures;
    e->last_failure_ms = now_ms;
    if (e->failures >= policy_.free_failures) {
      const int doublings = std::min(e->failures - policy_.free_failures, 40);
      DurationMs backoff = policy_.backoff_initial_ms;
      for (int k = 0; k < doublings && backoff < policy_.backoff_max_ms; ++k) {
        backoff *= 2;
      }
      e->locked_until_ms = now_ms + std::min(backoff, policy_.backoff_max_ms);
    }
  }
  if (e->failures == 0 && e->in_flight == 0) {
    table.erase(key);
  }
}

void LoginThrottle::finish(std::string_view name, std::string_view address, bool success,
                           TimeMs now_ms) {
  record(names_, nameKey(name), success, true, now_ms);
  record(addresses_, addressKey(address), success, false, now_ms);
}

void LoginThrottle::release(Table& table, const std::string& key, TimeMs now_ms) {
  Entry* e = table.find(key, policy_, now_ms);
  if (e == nullptr) {
    return;
  }
  if (e->in_flight > 0) {
    --e->in_flight;
  }
  if (e->failures == 0 && e->in_flight == 0) {
    table.erase(key);
  }
}

void LoginThrottle::abandon(std::string_view name, std::string_view address, TimeMs now_ms) {
  release(names_, nameKey(name), now_ms);
  release(addresses_, addressKey(address), now_ms);
}

}  // namespace equalis::auth
