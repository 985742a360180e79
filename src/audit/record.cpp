// One record: its line in audit.jsonl, its canonical form and hash, and the text limits.
#include <openssl/evp.h>

#include <array>
#include <filesystem>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/audit.hpp"
#include "audit/reader.hpp"

namespace equalis::audit {

namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t kHashHexLength = 64;
constexpr std::size_t kFieldCount = 13;
constexpr const char* kEllipsis = "…";  // 3 bytes in UTF-8
constexpr std::size_t kEllipsisBytes = 3;

void addField(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ':';
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

// The length of the valid UTF-8 sequence at text[i], or 0 when the bytes there are not one.
std::size_t utf8Length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const auto cont = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0U) == 0x80U; };
  const unsigned char c = byte(i);
  if (c < 0x80U) {
    return 1;
  }
  if (c >= 0xC2U && c <= 0xDFU) {
    return cont(i + 1) ? 2 : 0;
  }
  if (c >= 0xE0U && c <= 0xEFU) {
    if (!cont(i + 1) || !cont(i + 2)) {
      return 0;
    }
    const unsigned char c1 = byte(i + 1);
    if ((c == 0xE0U && c1 < 0xA0U) || (c == 0xEDU && c1 > 0x9FU)) {
      return 0;  // overlong, or a UTF-16 surrogate
    }
    return 3;
  }
  if (c >= 0xF0U && c <= 0xF4U) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) {
      return 0;
    }
    const unsigned char c1 = byte(i + 1);
    if ((c == 0xF0U && c1 < 0x90U) || (c == 0xF4U && c1 > 0x8FU)) {
      return 0;  // overlong, or beyond U+10FFFF
    }
    return 4;
  }
  return 0;
}

bool isHashHex(const std::string& s) {
  if (s.size() != kHashHexLength) {
    return false;
  }
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string auditPath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "audit.jsonl").string();
}

std::string headPath(const std::string& log_path) {
  return std::filesystem::path(log_path).replace_extension(".head").string();
}

std::string zeroHash() {
  return std::string(kHashHexLength, '0');
}

std::string sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &n, EVP_sha256(), nullptr) != 1) {
    return {};  // matches no stored hash
  }
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{n} * 2);
  for (unsigned int i = 0; i < n; ++i) {
    out += kDigits[md[i] >> 4U];
    out += kDigits[md[i] & 0x0FU];
  }
  return out;
}

std::string computeHash(const Record& r) {
  std::string text = r.prev_hash;
  text += '\n';
  addField(text, "seq", std::to_string(r.seq));
  addField(text, "time_ms", std::to_string(r.time_ms));
  addField(text, "user", r.user);
  addField(text, "address", r.address);
  addField(text, "via", r.via);
  addField(text, "action", r.action);
  addField(text, "target", r.target);
  addField(text, "old_value", r.old_value);
  addField(text, "new_value", r.new_value);
  addField(text, "outcome", r.outcome);
  addField(text, "detail", r.detail);
  return sha256Hex(text);
}

std::string clampField(std::string text) {
  std::string valid;
  bool changed = false;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8Length(text, i);
    if (n == 0) {
      if (!changed) {
        valid.assign(text, 0, i);
        changed = true;
      }
      valid += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    if (changed) {
      valid.append(text, i, n);
    }
    i += n;
  }
  if (changed) {
    text = std::move(valid);
  }
  if (text.size() <= kMaxFieldBytes) {
    return text;
  }
  std::size_t cut = kMaxFieldBytes - kEllipsisBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;  // not inside a character
  }
  text.resize(cut);
  text += kEllipsis;
  return text;
}

std::string formatLine(const Record& r) {
  json j;
  j["seq"] = r.seq;
  j["time_ms"] = r.time_ms;
  j["user"] = r.user;
  j["address"] = r.address;
  j["via"] = r.via;
  j["action"] = r.action;
  j["target"] = r.target;
  j["old_value"] = r.old_value;
  j["new_value"] = r.new_value;
  j["outcome"] = r.outcome;
  j["detail"] = r.detail;
  j["prev_hash"] = r.prev_hash;
  j["hash"] = r.hash;
  // Text fields are valid UTF-8 (clampField); the handler only keeps a bad caller from throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Record> parseLine(std::string_view line) {
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    return makeError(ErrorCode::kProtocol, "not JSON");
  }
  if (!j.is_object()) {
    return makeError(ErrorCode::kProtocol, "not a JSON object");
  }
  Record r;
  const auto text = [&j](const char* key, std::string& out) -> Status {
    const auto it = j.find(key);
    if (it == j.end()) {
      return makeError(ErrorCode::kProtocol, fmt::format("no \"{}\"", key));
    }
    if (!it->is_string()) {
      return makeError(ErrorCode::kProtocol, fmt::format("\"{}\" is not a string", key));
    }
    out = it->get<std::string>();
    return {};
  };
  const auto seq = j.find("seq");
  if (seq == j.end() || !seq->is_number_unsigned() || seq->get<std::uint64_t>() == 0) {
    return makeError(ErrorCode::kProtocol, "\"seq\" is not a record number (1, 2, …)");
  }
  r.seq = seq->get<std::uint64_t>();
  const auto time = j.find("time_ms");
  if (time == j.end() || !time->is_number_integer() ||
      (time->is_number_unsigned() &&
       time->get<std::uint64_t>() >
           static_cast<std::uint64_t>(std::numeric_limits<TimeMs>::max()))) {
    return makeError(ErrorCode::kProtocol, "\"time_ms\" is not a time in milliseconds");
  }
  r.time_ms = time->get<TimeMs>();
  for (auto [key, field] :
       {std::pair{"user", &r.user}, std::pair{"address", &r.address}, std::pair{"via", &r.via},
        std::pair{"action", &r.action}, std::pair{"target", &r.target},
        std::pair{"old_value", &r.old_value}, std::pair{"new_value", &r.new_value},
        std::pair{"outcome", &r.outcome}, std::pair{"detail", &r.detail},
        std::pair{"prev_hash", &r.prev_hash}, std::pair{"hash", &r.hash}}) {
    if (auto st = text(key, *field); !st) {
      return st.error();
    }
  }
  if (j.size() != kFieldCount) {
    return makeError(ErrorCode::kProtocol, "unexpected fields");
  }
  if (!isHashHex(r.prev_hash)) {
    return makeError(ErrorCode::kProtocol, "\"prev_hash\" is not 64 hexadecimal digits");
  }
  if (!isHashHex(r.hash)) {
    return makeError(ErrorCode::kProtocol, "\"hash\" is not 64 hexadecimal digits");
  }
  return r;
}

}  // namespace equalis::audit
