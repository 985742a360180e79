// Login back-off: failed logins counted per user name and per source address (Policy). Not
// thread-safe: Accounts calls it under its mutex.
//
// An attempt is admitted (admit) before the password is checked and reported (finish) after.
// While attempts are being checked, admit() also refuses once the failures plus the attempts in
// progress reach the free budget, so parallel requests cannot test more passwords than the
// back-off allows.
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/policy.hpp"
#include "core/clock.hpp"

namespace equalis::auth {

class LoginThrottle {
 public:
  explicit LoginThrottle(const Policy& policy);

  // std::nullopt when the attempt may check the password (it is then in progress until
  // finish()); otherwise how long the caller has to wait.
  std::optional<DurationMs> admit(std::string_view name, std::string_view address, TimeMs now_ms);
  // The outcome of an admitted attempt.
  void finish(std::string_view name, std::string_view address, bool success, TimeMs now_ms);
  // Ends an admitted attempt that was neither a success nor a failure (the password could not be
  // checked, e.g. a RADIUS server did not answer): it no longer counts as in progress.
  void abandon(std::string_view name, std::string_view address, TimeMs now_ms);

  std::size_t trackedNames() const { return names_.size(); }
  std::size_t trackedAddresses() const { return addresses_.size(); }

  // The key an address is counted under: an IPv6 address by its /64 prefix (one site or host
  // usually holds a whole /64), anything else as given (at most 128 bytes).
  static std::string addressKey(std::string_view address);

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    TimeMs last_failure_ms = 0;
    TimeMs locked_until_ms = 0;
  };

  // One bounded table, least recently updated first.
  class Table {
   public:
    explicit Table(std::size_t capacity) : capacity_(capacity) {}
    // The entry for `key`, or nullptr when there is none (an expired entry is dropped here).
    Entry* find(const std::string& key, const Policy& policy, TimeMs now_ms);
    // The entry for `key`, created (dropping the oldest when full) and marked most recent.
    Entry& touch(const std::string& key);
    void erase(const std::string& key);
    std::size_t size() const { return map_.size(); }

   private:
    struct Slot {
      Entry entry;
      std::list<std::string>::iterator order;
    };
    std::size_t capacity_;
    std::list<std::string> order_;
    std::unordered_map<std::string, Slot> map_;
  };

  std::optional<DurationMs> waitFor(const Entry* e, TimeMs now_ms) const;
  void record(Table& table, const std::string& key, bool success, bool reset_on_success,
              TimeMs now_ms);
  void release(Table& table, const std::string& key, TimeMs now_ms);

  Policy policy_;
  Table names_;
  Table addresses_;
};

}  // namespace equalis::auth
