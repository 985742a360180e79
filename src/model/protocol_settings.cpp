#include "model/protocol_settings.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace equalis::model {

namespace {

// One secret in a spec: which one ("password", an SNMP option name) and where its value is.
struct Secret {
  std::string name;
  std::size_t begin = 0;
  std::size_t size = 0;
};

// The secrets of an MQTT URL: the password of mqtt[s]://user:password@host… (the URL is split as
// mqtt/mqtt_url.cpp splits it: the query at the first '?', the prefix at the first '/', the user
// part at the last '@').
std::vector<Secret> mqttSecrets(std::string_view spec) {
  const auto scheme_end = spec.find("://");
  if (scheme_end == std::string_view::npos) {
    return {};
  }
  const std::size_t start = scheme_end + 3;
  std::size_t end = std::min(spec.find('?', start), spec.size());
  end = std::min(spec.substr(0, end).find('/', start), end);
  const auto at = spec.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) {
    return {};
  }
  const auto colon = spec.substr(start, at).find(':');
  if (colon == std::string_view::npos) {
    return {};
  }
  return {{"password", start + colon + 1, at - colon - 1}};
}

// The secrets among the options of an SNMP spec (HOST:PORT?community=…&auth=…).
std::vector<Secret> snmpSecrets(std::string_view spec) {
  static constexpr std::string_view kSecretOptions[] = {"community", "writecommunity", "auth",
                                                        "priv", "trapcommunity"};
  std::vector<Secret> out;
  const auto q = spec.find('?');
  if (q == std::string_view::npos) {
    return out;
  }
  std::size_t pos = q + 1;
  while (pos <= spec.size()) {
    const std::size_t amp = std::min(spec.find('&', pos), spec.size());
    const auto item = spec.substr(pos, amp - pos);
    if (const auto eq = item.find('='); eq != std::string_view::npos) {
      const auto name = item.substr(0, eq);
      if (std::find(std::begin(kSecretOptions), std::end(kSecretOptions), name) !=
          std::end(kSecretOptions)) {
        out.push_back({std::string(name), pos + eq + 1, item.size() - eq - 1});
      }
    }
    pos = amp + 1;
  }
  return out;
}

std::vector<Secret> secretsOf(std::string_view key, std::string_view spec) {
  if (key == "mqtt") {
    return mqttSecrets(spec);
  }
  if (key == "snmp") {
    return snmpSecrets(spec);
  }
  return {};
}

// `spec` with the secrets replaced by what `value` gives for each (right to left, so the
// positions of the ones before stay right).
template <typename Value>
std::string replaceSecrets(std::string_view key, std::string_view spec, const Value& value) {
  std::string out(spec);
  auto secrets = secretsOf(key, spec);
  std::reverse(secrets.begin(), secrets.end());
  for (const auto& s : secrets) {
    out.replace(s.begin, s.size, value(s, spec.substr(s.begin, s.size)));
  }
  return out;
}

}  // namespace

const ProtocolKind* protocolKind(std::string_view key) {
  const auto it = std::find_if(kProtocolKinds.begin(), kProtocolKinds.end(),
                               [&](const ProtocolKind& k) { return k.key == key; });
  return it == kProtocolKinds.end() ? nullptr : &*it;
}

std::string protocolSpecProblem(std::string_view spec) {
  if (spec.size() > kProtocolSpecMaxBytes) {
    return fmt::format("the spec is {} bytes long; at most {}", spec.size(), kProtocolSpecMaxBytes);
  }
  for (const char ch : spec) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      return c == ' ' ? "the spec holds a space"
                      : "the spec holds a character other than printable ASCII";
    }
  }
  return {};
}

std::string redactedProtocolSpec(std::string_view key, std::string_view spec) {
  return replaceSecrets(key, spec, [](const Secret& s, std::string_view value) {
    (void)s;
    return value.empty() ? std::string() : std::string(kSecretMask);
  });
}

std::string protocolSpecKeepingSecrets(std::string_view key, std::string_view next,
                                       std::string_view current) {
  const auto kept = secretsOf(key, current);
  return replaceSecrets(key, next, [&](const Secret& s, std::string_view value) {
    if (value != kSecretMask) {
      return std::string(value);
    }
    const auto it =
        std::find_if(kept.begin(), kept.end(), [&](const Secret& k) { return k.name == s.name; });
    return it == kept.end() ? std::string(value) : std::string(current.substr(it->begin, it->size));
  });
}

Result<std::map<std::string, std::string>> parseProtocolsFile(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("protocols") ||
      !j["protocols"].is_object()) {
    return makeError(ErrorCode::kInvalidArgument,
                     R"(not a protocols file ({"version": 1, "protocols": {"modbus_tcp": "…"}}))");
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, spec] : j["protocols"].items()) {
    if (protocolKind(key) == nullptr) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("unknown protocol '{}' (one of modbus_tcp, modbus_rtu, snmp, "
                                   "mqtt)",
                                   key.size() > 40 ? key.substr(0, 40) + "…" : key));
    }
    if (!spec.is_string()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("the spec of '{}' is not a string", key));
    }
    const auto& s = spec.get_ref<const std::string&>();
    if (const auto problem = protocolSpecProblem(s); !problem.empty()) {
      return makeError(ErrorCode::kInvalidArgument, fmt::format("'{}': {}", key, problem));
    }
    out.emplace(key, s);
  }
  return out;
}

std::string protocolsFileText(const std::map<std::string, std::string>& specs) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["protocols"] = nlohmann::ordered_json::object();
  for (const auto& [key, spec] : specs) {
    j["protocols"][key] = spec;
  }
  return j.dump(2) + "\n";
}

}  // namespace equalis::model
