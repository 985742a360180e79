// The accounts file "<data_dir>/users.json" (mode 0600): user names, roles and Argon2id hashes,
// and the API tokens as BLAKE2b-256 digests of their secrets (never the secrets):
//
//   {"format": 1,
//    "users": [{"name": "alice", "role": "admin", "hash": "$argon2id$v=19$…",
//               "created": 1767225600000}],
//    "tokens": [{"id": "3f9a0c1d2b4e6f80", "label": "grafana", "role": "viewer",
//                "hash": "<64 hex digits>", "created": 1767225600000,
//                "created_by": "cli:root"}]}
//
// Times are epoch milliseconds. Parsing never throws: a damaged file is an error naming the file
// and the field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "auth/role.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::auth {

inline constexpr int kUsersFileFormat = 1;
inline constexpr std::size_t kMaxUsersFileBytes = std::size_t{4} * 1024 * 1024;
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 1024;
inline constexpr std::size_t kMaxLabelLength = 64;
inline constexpr std::size_t kMaxCreatedByLength = 128;
// A token id: 8 random bytes as 16 lower-case hex digits.
inline constexpr std::size_t kTokenIdLength = 16;

struct UserRecord {
  std::string name;
  Role role = Role::kViewer;
  std::string hash;  // Argon2id PHC string
  TimeMs created_ms = 0;
};

struct TokenRecord {
  std::string id;
  std::string label;
  Role role = Role::kViewer;
  std::string hash;  // BLAKE2b-256 of the secret, lower-case hex
  TimeMs created_ms = 0;
  std::string created_by;
};

struct UsersFile {
  std::vector<UserRecord> users;
  std::vector<TokenRecord> tokens;
};

// Parses the file's text; `origin` (the path) starts every error message, e.g.
// "/var/lib/equalis/users.json: users[2].role: unknown role 'root' (viewer, operator, admin)".
// users[N] and tokens[N] count from 1.
Result<UsersFile> parseUsersFile(std::string_view text, std::string_view origin);
// The file's text (format 1, two-space indented JSON, ending in a newline).
std::string serializeUsersFile(const UsersFile& file);

// Validation, each error naming what is wrong.
// User names: 1 to 64 of A-Z a-z 0-9 . _ @ -
Status validateUserName(std::string_view name);
// Passwords: 8 to 1024 bytes, no NUL byte.
Status validatePassword(std::string_view password);
// Token labels: 1 to 64 printable ASCII characters.
Status validateTokenLabel(std::string_view label);
// Who created a token: 1 to 128 printable ASCII characters.
Status validateCreatedBy(std::string_view created_by);

// Whether two user names are the same ignoring ASCII case (names are unique that way).
bool sameUserName(std::string_view a, std::string_view b);

}  // namespace equalis::auth
