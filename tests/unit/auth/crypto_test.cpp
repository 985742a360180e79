// Password hashing (Argon2id through libsodium) and random secrets.
#include "auth/crypto.hpp"

#include <chrono>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

TEST(AuthCrypto, HashRoundTrip) {
  const auto hash = hashPassword("correct horse battery", HashCost::minimum());
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0U) << *hash;
  EXPECT_TRUE(verifyPassword(*hash, "correct horse battery"));
  EXPECT_FALSE(verifyPassword(*hash, "correct horse batterY"));
  EXPECT_FALSE(verifyPassword(*hash, ""));
  // A fresh salt every time.
  const auto again = hashPassword("correct horse battery", HashCost::minimum());
  ASSERT_TRUE(again);
  EXPECT_NE(*hash, *again);
}

TEST(AuthCrypto, DefaultCostIsOwaspArgon2id) {
  const HashCost cost = HashCost::standard();
  EXPECT_EQ(cost.ops_limit, 2U);
  EXPECT_EQ(cost.mem_limit_bytes, 19U * 1024 * 1024);
  const auto start = std::chrono::steady_clock::now();
  const auto hash = hashPassword("a default-cost password", cost);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0U) << *hash;
  EXPECT_NE(hash->find("$m=19456,t=2,p=1$"), std::string::npos) << *hash;
  EXPECT_TRUE(verifyPassword(*hash, "a default-cost password"));
  EXPECT_FALSE(needsRehash(*hash, cost));
  RecordProperty("hash_ms", static_cast<int>(ms));
}

TEST(AuthCrypto, RehashWhenTheCostChanged) {
  const auto hash = hashPassword("some password", HashCost::minimum());
  ASSERT_TRUE(hash);
  EXPECT_FALSE(needsRehash(*hash, HashCost::minimum()));
  EXPECT_TRUE(needsRehash(*hash, HashCost::standard()));
  EXPECT_TRUE(needsRehash("not a hash", HashCost::minimum()));
}

TEST(AuthCrypto, MalformedHashesNeverVerify) {
  EXPECT_FALSE(verifyPassword("", "password"));
  EXPECT_FALSE(verifyPassword("$argon2id$v=19$m=8,t=1,p=1$xx$yy", "password"));
  EXPECT_FALSE(verifyPassword(std::string(300, 'a'), "password"));
}

TEST(AuthCrypto, RandomSecretsAreBase64UrlAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto s = randomBase64Url(32);
    EXPECT_EQ(s.size(), 43U);
    EXPECT_EQ(
        s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos)
        << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100U);
  const auto hex = randomHex(8);
  EXPECT_EQ(hex.size(), 16U);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(AuthCrypto, DigestAndConstantTimeEqual) {
  // BLAKE2b-256 of "" (RFC 7693 parameters, 32-byte output).
  EXPECT_EQ(digestHex(""), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(digestHex("abc").size(), 64U);
  EXPECT_NE(digestHex("abc"), digestHex("abd"));
  EXPECT_TRUE(constantTimeEqual("abc", "abc"));
  EXPECT_FALSE(constantTimeEqual("abc", "abd"));
  EXPECT_FALSE(constantTimeEqual("abc", "abcd"));
  EXPECT_TRUE(constantTimeEqual("", ""));
}

}  // namespace
}  // namespace equalis::auth
