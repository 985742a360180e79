#include "adapters/snmp/options.hpp"

#include <charconv>

namespace equalis::snmp {

namespace {

Error invalid(const std::string& message) {
  return makeError(ErrorCode::kInvalidArgument, message);
}

// "HOST:PORT" → host and port 1–65535.
Status parseHostPort(std::string_view text, const char* what, std::string& host, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid(std::string(what) + " must be HOST:PORT, got '" + std::string(text) + "'");
  }
  const auto port_text = text.substr(colon + 1);
  int value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || value < 1 ||
      value > 65535) {
    return invalid(std::string(what) + " port must be 1–65535, got '" + std::string(port_text) +
                   "'");
  }
  host = std::string(text.substr(0, colon));
  port = value;
  return {};
}

}  // namespace

Result<AgentOptions> parseSpec(std::string_view spec) {
  AgentOptions options;
  const auto question = spec.find('?');
  if (auto st = parseHostPort(spec.substr(0, question), "--snmp", options.host, options.port);
      !st) {
    return st.error();
  }
  std::string_view query = question == std::string_view::npos ? "" : spec.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (item.empty()) {
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return invalid("--snmp option '" + std::string(item) + "' must be key=value");
    }
    const auto key = item.substr(0, eq);
    const std::string value(item.substr(eq + 1));
    if (key == "community") {
      options.community = value;
    } else if (key == "v3user") {
      options.v3_user = value;
    } else if (key == "auth") {
      options.v3_auth_pass = value;
    } else if (key == "priv") {
      options.v3_priv_pass = value;
    } else if (key == "trap") {
      if (auto st = parseHostPort(value, "--snmp trap", options.trap_host, options.trap_port);
          !st) {
        return st.error();
      }
    } else if (key == "trapcommunity") {
      options.trap_community = value;
    } else {
      return invalid("--snmp: unknown option '" + std::string(key) +
                     "' (known: community, v3user, auth, priv, trap, trapcommunity)");
    }
  }
  const bool any_v3 =
      !options.v3_user.empty() || !options.v3_auth_pass.empty() || !options.v3_priv_pass.empty();
  if (any_v3) {
    if (options.v3_user.empty() || options.v3_auth_pass.empty() || options.v3_priv_pass.empty()) {
      return invalid("--snmp: SNMPv3 needs v3user, auth and priv together (authPriv only)");
    }
    if (options.v3_auth_pass.size() < kMinPassphraseLength ||
        options.v3_priv_pass.size() < kMinPassphraseLength) {
      return invalid("--snmp: SNMPv3 auth and priv passphrases need at least 8 characters");
    }
    for (const char c : options.v3_user + options.v3_auth_pass + options.v3_priv_pass) {
      if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '#') {
        return invalid("--snmp: SNMPv3 user and passphrases may not contain spaces, quotes or #");
      }
    }
  }
  if (options.community.find_first_of(" \t\"'#") != std::string::npos) {
    return invalid("--snmp: the community may not contain spaces, quotes or #");
  }
  return options;
}

}  // namespace equalis::snmp
