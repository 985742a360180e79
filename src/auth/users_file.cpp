#include "auth/users_file.hpp"

#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace equalis::auth {

namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

bool isNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '-';
}

bool isPrintableAscii(std::string_view s) {
  for (const char c : s) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

bool isLowerHex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// A value for an error message: printable, at most 40 characters.
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 40)) {
    out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  }
  return s.size() > 40 ? out + "…" : out;
}

std::string typeName(const json& v) {
  return v.type_name();
}

// Reads the fields of one entry; the first problem is kept in `error`.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  std::string text(const char* key) {
    const json* v = find(key, "text");
    return v != nullptr ? v->get<std::string>() : std::string();
  }

  TimeMs time(const char* key) {
    if (!ok()) {
      return 0;
    }
    const auto it = object_.find(key);
    if (it == object_.end()) {
      fail(fmt::format("{}.{}: missing", where_, key));
      return 0;
    }
    if (it->is_number_unsigned()) {
      const auto v = it->get<std::uint64_t>();
      if (v <= static_cast<std::uint64_t>(std::numeric_limits<TimeMs>::max())) {
        return static_cast<TimeMs>(v);
      }
    } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      return it->get<std::int64_t>();
    }
    fail(fmt::format("{}.{}: must be a time in epoch milliseconds (an integer ≥ 0)", where_, key));
    return 0;
  }

  Role role() {
    const std::string name = text("role");
    if (!ok()) {
      return Role::kViewer;
    }
    const auto r = parseRole(name);
    if (!r) {
      fail(
          fmt::format("{}.role: unknown role '{}' (viewer, operator, admin)", where_, shown(name)));
      return Role::kViewer;
    }
    return *r;
  }

  void check(const Status& st, const char* key) {
    if (ok() && !st) {
      fail(fmt::format("{}.{}: {}", where_, key, st.error().message));
    }
  }

  void fail(std::string message) {
    if (ok()) {
      error_ = std::move(message);
    }
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const json* find(const char* key, const char* want) {
    if (!ok()) {
      return nullptr;
    }
    const auto it = object_.find(key);
    if (it == object_.end()) {
      fail(fmt::format("{}.{}: missing", where_, key));
      return nullptr;
    }
    if (!it->is_string()) {
      fail(fmt::format("{}.{}: must be {}, not {}", where_, key, want, typeName(*it)));
      return nullptr;
    }
    return &*it;
  }

  const json& object_;
  std::string where_;
  std::string error_;
};

Status checkHash(std::string_view hash) {
  // crypto_pwhash_STRBYTES is 128 including the NUL.
  if (hash.rfind("$argon2id$", 0) != 0 || hash.size() >= 128 || !isPrintableAscii(hash)) {
    return makeError(ErrorCode::kInvalidArgument, "not an Argon2id hash ($argon2id$…)");
  }
  return {};
}

Status checkDigest(std::string_view hash) {
  if (hash.size() != 64 || !isLowerHex(hash)) {
    return makeError(ErrorCode::kInvalidArgument, "must be 64 lower-case hex digits (BLAKE2b-256)");
  }
  return {};
}

Status checkTokenId(std::string_view id) {
  if (id.size() != kTokenIdLength || !isLowerHex(id)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("must be {} lower-case hex digits", kTokenIdLength));
  }
  return {};
}

Error fileError(std::string_view origin, const std::string& message) {
  return makeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", origin, message));
}

}  // namespace

Status validateUserName(std::string_view name) {
  if (name.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "user name is empty");
  }
  if (name.size() > kMaxNameLength) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("user name '{}' is longer than {} characters", shown(name), kMaxNameLength));
  }
  for (const char c : name) {
    if (!isNameChar(c)) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("user name '{}' has a character other than A-Z a-z 0-9 . _ @ -",
                                   shown(name)));
    }
  }
  return {};
}

Status validatePassword(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("password is too short: at least {} bytes", kMinPasswordLength));
  }
  if (password.size() > kMaxPasswordLength) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("password is too long: at most {} bytes", kMaxPasswordLength));
  }
  if (password.find('\0') != std::string_view::npos) {
    return makeError(ErrorCode::kInvalidArgument, "password contains a NUL byte");
  }
  return {};
}

Status validateTokenLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength || !isPrintableAscii(label)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("token label '{}' must be 1 to {} printable ASCII characters",
                                 shown(label), kMaxLabelLength));
  }
  return {};
}

Status validateCreatedBy(std::string_view created_by) {
  if (created_by.empty() || created_by.size() > kMaxCreatedByLength ||
      !isPrintableAscii(created_by)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("token creator '{}' must be 1 to {} printable ASCII characters",
                                 shown(created_by), kMaxCreatedByLength));
  }
  return {};
}

bool sameUserName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && text::lower(a) == text::lower(b);
}

Result<UsersFile> parseUsersFile(std::string_view text, std::string_view origin) {
  if (text.size() > kMaxUsersFileBytes) {
    return fileError(origin, fmt::format("larger than {} MiB", kMaxUsersFileBytes >> 20));
  }
  const json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) {
    return fileError(origin, "not valid JSON");
  }
  if (!j.is_object()) {
    return fileError(origin, fmt::format("must be a JSON object, not {}", typeName(j)));
  }
  const auto format = j.find("format");
  if (format == j.end()) {
    return fileError(origin, "format: missing (expected 1)");
  }
  if (!format->is_number_integer() || format->get<std::int64_t>() != kUsersFileFormat) {
    return fileError(
        origin, fmt::format("format: expected {}, got {}", kUsersFileFormat,
                            shown(format->dump(-1, ' ', false, json::error_handler_t::replace))));
  }
  UsersFile out;
  for (const char* list : {"users", "tokens"}) {
    const auto it = j.find(list);
    if (it != j.end() && !it->is_array()) {
      return fileError(origin, fmt::format("{}: must be an array, not {}", list, typeName(*it)));
    }
  }
  if (const auto users = j.find("users"); users != j.end()) {
    std::size_t k = 0;
    for (const auto& e : *users) {
      ++k;
      const std::string where = fmt::format("users[{}]", k);
      if (!e.is_object()) {
        return fileError(origin, fmt::format("{}: must be an object, not {}", where, typeName(e)));
      }
      Fields f(e, where);
      UserRecord u;
      u.name = f.text("name");
      f.check(f.ok() ? validateUserName(u.name) : Status{}, "name");
      u.role = f.role();
      u.hash = f.text("hash");
      f.check(f.ok() ? checkHash(u.hash) : Status{}, "hash");
      u.created_ms = f.time("created");
      if (!f.ok()) {
        return fileError(origin, f.error());
      }
      for (const auto& other : out.users) {
        if (sameUserName(other.name, u.name)) {
          return fileError(origin, fmt::format("{}.name: '{}' is listed twice", where, u.name));
        }
      }
      out.users.push_back(std::move(u));
    }
  }
  if (const auto tokens = j.find("tokens"); tokens != j.end()) {
    std::size_t k = 0;
    std::set<std::string> ids;
    for (const auto& e : *tokens) {
      ++k;
      const std::string where = fmt::format("tokens[{}]", k);
      if (!e.is_object()) {
        return fileError(origin, fmt::format("{}: must be an object, not {}", where, typeName(e)));
      }
      Fields f(e, where);
      TokenRecord t;
      t.id = f.text("id");
      f.check(f.ok() ? checkTokenId(t.id) : Status{}, "id");
      t.label = f.text("label");
      f.check(f.ok() ? validateTokenLabel(t.label) : Status{}, "label");
      t.role = f.role();
      t.hash = f.text("hash");
      f.check(f.ok() ? checkDigest(t.hash) : Status{}, "hash");
      t.created_ms = f.time("created");
      t.created_by = f.text("created_by");
      f.check(f.ok() ? validateCreatedBy(t.created_by) : Status{}, "created_by");
      if (!f.ok()) {
        return fileError(origin, f.error());
      }
      if (!ids.insert(t.id).second) {
        return fileError(origin, fmt::format("{}.id: '{}' is listed twice", where, t.id));
      }
      out.tokens.push_back(std::move(t));
    }
  }
  return out;
}

std::string serializeUsersFile(const UsersFile& file) {
  ordered_json users = ordered_json::array();
  for (const auto& u : file.users) {
    users.push_back(ordered_json{{"name", u.name},
                                 {"role", std::string(roleName(u.role))},
                                 {"hash", u.hash},
                                 {"created", u.created_ms}});
  }
  ordered_json tokens = ordered_json::array();
  for (const auto& t : file.tokens) {
    tokens.push_back(ordered_json{{"id", t.id},
                                  {"label", t.label},
                                  {"role", std::string(roleName(t.role))},
                                  {"hash", t.hash},
                                  {"created", t.created_ms},
                                  {"created_by", t.created_by}});
  }
  const ordered_json j{
      {"format", kUsersFileFormat}, {"users", std::move(users)}, {"tokens", std::move(tokens)}};
  // Every string is validated ASCII; "replace" only guards against a caller that skipped that.
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace equalis::auth
