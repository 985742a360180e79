// The tunables of Accounts: password hashing cost and the login back-off.
#pragma once

#include <cstddef>

#include "auth/crypto.hpp"
#include "core/clock.hpp"

namespace equalis::auth {

struct Policy {
  HashCost hash_cost = HashCost::standard();
  // Back-off: after `free_failures` failed logins for one user name, or from one source address,
  // within `failure_window_ms`, every further attempt is refused without checking the password
  // until a back-off has passed: `backoff_initial_ms` after the last of those failures, doubling
  // with each further failure up to `backoff_max_ms`. A name's or address's count is forgotten
  // once `failure_window_ms` passes without a failure after its back-off ended; a successful login
  // clears the user name's count (not the address's).
  int free_failures = 5;
  DurationMs failure_window_ms = 15 * kMinuteMs;
  DurationMs backoff_initial_ms = kSecondMs;
  DurationMs backoff_max_ms = 15 * kMinuteMs;
  // Bounds of the tracking tables; when full the entry updated longest ago is dropped.
  std::size_t max_tracked_names = 10'000;
  std::size_t max_tracked_addresses = 10'000;
  // Password hashes computed at the same time (each Argon2id hash holds hash_cost's memory, 19 MiB
  // by default); further logins wait for a slot.
  std::size_t max_concurrent_hashes = 2;
  // login() and checkToken() first call reloadIfChanged() (one stat() of the file), so edits by
  // `equalisctl user|token` apply at the next request.
  bool reload_on_check = true;
};

}  // namespace equalis::auth
