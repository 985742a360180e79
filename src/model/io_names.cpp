#include "model/io_names.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace equalis::model {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8.
std::size_t utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c < 0x80) {
    return 1;
  }
  if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
    n = 2;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
  } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return n;
}

}  // namespace

std::string trimmedChannelName(std::string_view name) {
  const auto first = name.find_first_not_of(' ');
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = name.find_last_not_of(' ');
  return std::string(name.substr(first, last - first + 1));
}

std::string channelNameProblem(std::string_view name) {
  if (name.empty()) {
    return "the name is empty";
  }
  if (name.size() > kChannelNameMaxBytes) {
    return fmt::format("the name is {} bytes long; at most {}", name.size(), kChannelNameMaxBytes);
  }
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7F) {
      return "the name holds a control character";
    }
    const std::size_t n = utf8Length(name, i);
    if (n == 0) {
      return "the name is not valid UTF-8";
    }
    i += n;
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return "the name starts or ends with a space";
  }
  return {};
}

Result<std::map<std::string, std::string>> parseChannelNamesFile(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("names") || !j["names"].is_object()) {
    return makeError(ErrorCode::kInvalidArgument,
                     R"(not an I/O names file ({"version": 1, "names": {"aux1.di3": "…"}}))");
  }
  std::map<std::string, std::string> out;
  for (const auto& [id, name] : j["names"].items()) {
    if (id.empty() || id.size() > 128) {
      return makeError(ErrorCode::kInvalidArgument, "names: a channel id is empty or too long");
    }
    if (!name.is_string()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("names.{}: not a string", id.substr(0, 40)));
    }
    const auto value = name.get<std::string>();
    if (const auto why = channelNameProblem(value); !why.empty()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("names.{}: {}", id.substr(0, 40), why));
    }
    out.emplace(id, value);
  }
  return out;
}

std::string channelNamesFileText(const std::map<std::string, std::string>& names) {
  nlohmann::json j{{"version", 1}, {"names", nlohmann::json::object()}};
  for (const auto& [id, name] : names) {
    j["names"][id] = name;
  }
  return j.dump(2) + "\n";
}

}  // namespace equalis::model
