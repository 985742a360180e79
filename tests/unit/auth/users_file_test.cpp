// The accounts file: validation of names, passwords and labels; round trip; every kind of damage
// rejected with a message naming the file and the field, without throwing.
#include "auth/users_file.hpp"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace equalis::auth {
namespace {

// A syntactically valid Argon2id hash and BLAKE2b-256 digest.
const std::string& argonHash() {
  static const std::string hash =
      "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
  return hash;
}

std::string digest() {
  return std::string(64, 'a');
}

std::string userJson(const std::string& name, const std::string& role = "admin") {
  return R"({"name": ")" + name + R"(", "role": ")" + role + R"(", "hash": ")" + argonHash() +
         R"(", "created": 1767225600000})";
}

TEST(AuthUsersFile, UserNames) {
  EXPECT_TRUE(validateUserName("alice"));
  EXPECT_TRUE(validateUserName("ops.team_1@site-2"));
  EXPECT_TRUE(validateUserName(std::string(64, 'a')));
  const auto empty = validateUserName("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "user name is empty");
  const auto long_name = validateUserName(std::string(65, 'a'));
  ASSERT_FALSE(long_name);
  EXPECT_NE(long_name.error().message.find("longer than 64"), std::string::npos);
  for (const char* bad : {"al ice", "alice!", "bob/..", "ünï", "a:b", "a\nb"}) {
    const auto st = validateUserName(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message.find("A-Z a-z 0-9 . _ @ -"), std::string::npos)
        << st.error().message;
  }
}

TEST(AuthUsersFile, Passwords) {
  EXPECT_TRUE(validatePassword("12345678"));
  EXPECT_TRUE(validatePassword(std::string(1024, 'x')));
  const auto short_pw = validatePassword("1234567");
  ASSERT_FALSE(short_pw);
  EXPECT_EQ(short_pw.error().message, "password is too short: at least 8 bytes");
  const auto long_pw = validatePassword(std::string(1025, 'x'));
  ASSERT_FALSE(long_pw);
  EXPECT_EQ(long_pw.error().message, "password is too long: at most 1024 bytes");
  const auto nul = validatePassword(std::string("abcd\0efgh", 9));
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().message, "password contains a NUL byte");
}

TEST(AuthUsersFile, LabelsAndCreators) {
  EXPECT_TRUE(validateTokenLabel("grafana on site 2"));
  EXPECT_FALSE(validateTokenLabel(""));
  EXPECT_FALSE(validateTokenLabel(std::string(65, 'x')));
  EXPECT_FALSE(validateTokenLabel("tab\there"));
  EXPECT_TRUE(validateCreatedBy("cli:root"));
  EXPECT_FALSE(validateCreatedBy(""));
}

TEST(AuthUsersFile, NamesAreUniqueIgnoringCase) {
  EXPECT_TRUE(sameUserName("Alice", "alice"));
  EXPECT_FALSE(sameUserName("alice", "alice2"));
}

TEST(AuthUsersFile, RoundTrip) {
  UsersFile f;
  f.users.push_back({"alice", Role::kAdmin, argonHash(), 1767225600000});
  f.users.push_back({"bob", Role::kViewer, argonHash(), 1767225601000});
  f.tokens.push_back(
      {"0123456789abcdef", "grafana", Role::kOperator, digest(), 1767225602000, "cli:root"});
  const std::string text = serializeUsersFile(f);
  EXPECT_EQ(text.back(), '\n');
  const auto back = parseUsersFile(text, "users.json");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->users.size(), 2U);
  EXPECT_EQ(back->users[1].name, "bob");
  EXPECT_EQ(back->users[1].role, Role::kViewer);
  EXPECT_EQ(back->users[0].hash, argonHash());
  EXPECT_EQ(back->users[0].created_ms, 1767225600000);
  ASSERT_EQ(back->tokens.size(), 1U);
  EXPECT_EQ(back->tokens[0].id, "0123456789abcdef");
  EXPECT_EQ(back->tokens[0].label, "grafana");
  EXPECT_EQ(back->tokens[0].role, Role::kOperator);
  EXPECT_EQ(back->tokens[0].hash, digest());
  EXPECT_EQ(back->tokens[0].created_by, "cli:root");
  EXPECT_EQ(serializeUsersFile(*back), text);
}

TEST(AuthUsersFile, EmptyListsMayBeLeftOut) {
  const auto f = parseUsersFile(R"({"format": 1})", "users.json");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->users.empty());
  EXPECT_TRUE(f->tokens.empty());
}

TEST(AuthUsersFile, DamagedFilesNameTheFileAndTheField) {
  const std::string token =
      R"({"id": "0123456789abcdef", "label": "x", "role": "viewer", "hash": ")" + digest() +
      R"(", "created": 1, "created_by": "cli:root"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "u.json: not valid JSON"},
      {"", "u.json: not valid JSON"},
      {"[]", "u.json: must be a JSON object, not array"},
      {R"({"users": []})", "u.json: format: missing (expected 1)"},
      {R"({"format": 2, "users": []})", "u.json: format: expected 1, got 2"},
      {R"({"format": "1"})", "u.json: format: expected 1, got \"1\""},
      {R"({"format": 1.0})", "u.json: format: expected 1, got 1.0"},
      {R"({"format": 1, "users": {}})", "u.json: users: must be an array, not object"},
      {R"({"format": 1, "tokens": 3})", "u.json: tokens: must be an array, not number"},
      {R"({"format": 1, "users": [7]})", "u.json: users[1]: must be an object, not number"},
      {R"({"format": 1, "users": [{"role": "admin"}]})", "u.json: users[1].name: missing"},
      {R"({"format": 1, "users": [{"name": 5}]})",
       "u.json: users[1].name: must be text, not number"},
      {R"({"format": 1, "users": [{"name": "a b", "role": "admin"}]})",
       "u.json: users[1].name: user name 'a b' has a character other than A-Z a-z 0-9 . _ @ -"},
      {R"({"format": 1, "users": [)" + userJson("alice", "root") + "]}",
       "u.json: users[1].role: unknown role 'root' (viewer, operator, admin)"},
      {R"({"format": 1, "users": [{"name": "alice", "role": "admin", "hash": "plain"}]})",
       "u.json: users[1].hash: not an Argon2id hash ($argon2id$…)"},
      {R"({"format": 1, "users": [{"name": "alice", "role": "admin", "hash": ")" + argonHash() +
           R"(", "created": -1}]})",
       "u.json: users[1].created: must be a time in epoch milliseconds (an integer ≥ 0)"},
      {R"({"format": 1, "users": [{"name": "alice", "role": "admin", "hash": ")" + argonHash() +
           R"(", "created": "yesterday"}]})",
       "u.json: users[1].created: must be a time in epoch milliseconds (an integer ≥ 0)"},
      {R"({"format": 1, "users": [{"name": "alice", "role": "admin", "hash": ")" + argonHash() +
           R"("}]})",
       "u.json: users[1].created: missing"},
      {R"({"format": 1, "users": [)" + userJson("alice") + "," + userJson("Alice") + "]}",
       "u.json: users[2].name: 'Alice' is listed twice"},
      {R"({"format": 1, "tokens": [{"id": "xyz"}]})",
       "u.json: tokens[1].id: must be 16 lower-case hex digits"},
      {R"({"format": 1, "tokens": [)" + token + "," + token + "]}",
       "u.json: tokens[2].id: '0123456789abcdef' is listed twice"},
      {R"({"format": 1, "tokens": [{"id": "0123456789abcdef", "label": "x", "role": "viewer",
           "hash": "00", "created": 1, "created_by": "cli:root"}]})",
       "u.json: tokens[1].hash: must be 64 lower-case hex digits (BLAKE2b-256)"},
      {R"({"format": 1, "tokens": [{"id": "0123456789abcdef", "label": "x", "role": "viewer",
           "hash": ")" +
           digest() + R"(", "created": 1}]})",
       "u.json: tokens[1].created_by: missing"},
  };
  for (const auto& [text, message] : cases) {
    const auto f = parseUsersFile(text, "u.json");
    ASSERT_FALSE(f) << text;
    EXPECT_EQ(f.error().message, message) << text;
    EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AuthUsersFile, TooLargeIsRefusedBeforeParsing) {
  const std::string big(kMaxUsersFileBytes + 1, ' ');
  const auto f = parseUsersFile(big, "u.json");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message, "u.json: larger than 4 MiB");
}

}  // namespace
}  // namespace equalis::auth
