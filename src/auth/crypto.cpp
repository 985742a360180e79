#include "auth/crypto.hpp"

#include <sodium.h>

#include <array>
#include <vector>

namespace equalis::auth {

HashCost HashCost::minimum() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

Status initCrypto() {
  // sodium_init() returns 1 when already initialised, -1 on failure; it is thread-safe.
  if (sodium_init() < 0) {
    return makeError(ErrorCode::kUnavailable, "libsodium cannot be initialised");
  }
  return {};
}

Result<std::string> hashPassword(std::string_view password, const HashCost& cost) {
  if (auto st = initCrypto(); !st) {
    return st.error();
  }
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.ops_limit,
                            cost.mem_limit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return makeError(ErrorCode::kUnavailable,
                     "cannot hash the password (out of memory, or an invalid hash cost)");
  }
  return std::string(out.data());
}

bool verifyPassword(const std::string& hash, std::string_view password) {
  // The PHC string is read up to its NUL; a longer one cannot be a libsodium hash.
  if (hash.size() >= crypto_pwhash_STRBYTES || !initCrypto()) {
    return false;
  }
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool needsRehash(const std::string& hash, const HashCost& cost) {
  if (hash.size() >= crypto_pwhash_STRBYTES || !initCrypto()) {
    return true;
  }
  return crypto_pwhash_str_needs_rehash(hash.c_str(), cost.ops_limit, cost.mem_limit_bytes) != 0;
}

std::string randomBase64Url(std::size_t bytes) {
  (void)initCrypto();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::vector<char> out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw.data(), raw.size());
  return {out.data()};
}

std::string randomHex(std::size_t bytes) {
  (void)initCrypto();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::vector<char> out(bytes * 2 + 1);
  sodium_bin2hex(out.data(), out.size(), raw.data(), raw.size());
  return {out.data()};
}

std::string digestHex(std::string_view data) {
  (void)initCrypto();
  std::array<unsigned char, crypto_generichash_BYTES> digest{};  // 32 bytes
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(), nullptr, 0);
  std::array<char, crypto_generichash_BYTES * 2 + 1> out{};
  sodium_bin2hex(out.data(), out.size(), digest.data(), digest.size());
  return {out.data()};
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace equalis::auth
