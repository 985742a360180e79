// Password hashing and random secrets, through libsodium.
//
// Passwords are hashed with Argon2id (crypto_pwhash_str_alg, ALG_ARGON2ID13) into the PHC string
// "$argon2id$v=19$m=…,t=…,p=1$salt$hash", which carries its own salt and cost, so a stored hash
// verifies whatever the current cost is and can be upgraded at the next successful login.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::auth {

// Argon2id cost. The default follows OWASP's Password Storage Cheat Sheet recommendation for
// Argon2id: 19 MiB of memory, 2 iterations, 1 degree of parallelism (libsodium always uses 1).
struct HashCost {
  unsigned long long ops_limit = 2;                             // iterations (t)
  std::size_t mem_limit_bytes = std::size_t{19} * 1024 * 1024;  // memory (m)

  // The default above.
  static HashCost standard() { return {}; }
  // libsodium's minimum (crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN): for tests only.
  static HashCost minimum();
};

// Initialises libsodium; safe to call any number of times from any thread.
Status initCrypto();

// The Argon2id PHC string of `password` with a fresh random salt.
Result<std::string> hashPassword(std::string_view password, const HashCost& cost);
// Whether `password` matches `hash` (false for a malformed hash).
bool verifyPassword(const std::string& hash, std::string_view password);
// Whether `hash` was made with another cost or algorithm than `cost` (or is malformed).
bool needsRehash(const std::string& hash, const HashCost& cost);

// `bytes` random bytes (randombytes_buf) as unpadded base64url (RFC 4648 §5).
std::string randomBase64Url(std::size_t bytes);
// `bytes` random bytes as lower-case hex.
std::string randomHex(std::size_t bytes);
// BLAKE2b-256 of `data` as 64 lower-case hex digits.
std::string digestHex(std::string_view data);
// Equality in time that depends only on the lengths (sodium_memcmp).
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace equalis::auth
