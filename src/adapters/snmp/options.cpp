#include "adapters/snmp/options.hpp"

#include <charconv>

#include "core/text.hpp"

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

Status parseBool(std::string_view key, const std::string& value, bool& out) {
  if (value == "true" || value == "1" || value == "yes") {
    out = true;
  } else if (value == "false" || value == "0" || value == "no") {
    out = false;
  } else {
    return invalid("--snmp: " + std::string(key) + " must be true or false, got '" + value + "'");
  }
  return {};
}

// "0x8000000001020304" or "8000000001020304" → bytes; 5–32 bytes (RFC 3411 SnmpEngineID).
Status parseEngineId(const std::string& text, std::string& out) {
  std::string_view hex = text;
  if (hex.size() > 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex.remove_prefix(2);
  }
  out.clear();
  const bool even = hex.size() % 2 == 0;
  for (std::size_t i = 0; even && i < hex.size(); i += 2) {
    const int hi = text::hexDigit(hex[i]);
    const int lo = text::hexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      out.clear();
      break;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  if (!even || out.size() < 5 || out.size() > 32) {
    return invalid(
        "--snmp: engineid must be 5 to 32 bytes in hex (e.g. 0x8000000001020304), got '" + text +
        "'");
  }
  return {};
}

Status applyOption(AgentOptions& options, std::string_view key, const std::string& value) {
  if (key == "community") {
    options.community = value;
  } else if (key == "writecommunity") {
    options.write_community = value;
  } else if (key == "v3user") {
    options.v3_user = value;
  } else if (key == "auth") {
    options.v3_auth_pass = value;
  } else if (key == "priv") {
    options.v3_priv_pass = value;
  } else if (key == "v3write") {
    return parseBool(key, value, options.v3_write);
  } else if (key == "engineid") {
    return parseEngineId(value, options.engine_id);
  } else if (key == "trap") {
    return parseHostPort(value, "--snmp trap", options.trap_host, options.trap_port);
  } else if (key == "trapcommunity") {
    options.trap_community = value;
  } else if (key == "trapversion") {
    if (value == "2c" || value == "2") {
      options.trap_version = 2;
    } else if (value == "3") {
      options.trap_version = 3;
    } else {
      return invalid("--snmp: trapversion must be 2c or 3, got '" + value + "'");
    }
  } else if (key == "inform") {
    return parseBool(key, value, options.inform);
  } else if (key == "insecure_v2c") {
    return parseBool(key, value, options.insecure_v2c);
  } else {
    return invalid("--snmp: unknown option '" + std::string(key) +
                   "' (known: community, writecommunity, v3user, auth, priv, v3write, engineid, "
                   "trap, trapcommunity, trapversion, inform, insecure_v2c)");
  }
  return {};
}

}  // namespace

Result<AgentOptions> parseSpec(std::string_view spec,
                               const std::vector<std::pair<std::string, std::string>>& base) {
  AgentOptions options;
  const auto question = spec.find('?');
  if (auto st = parseHostPort(spec.substr(0, question), "--snmp", options.host, options.port);
      !st) {
    return st.error();
  }
  for (const auto& [key, value] : base) {
    if (auto st = applyOption(options, key, value); !st) {
      return st.error();
    }
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
    if (auto st = applyOption(options, item.substr(0, eq), std::string(item.substr(eq + 1))); !st) {
      return st.error();
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
  for (const auto* community :
       {&options.community, &options.write_community, &options.trap_community}) {
    if (community->find_first_of(" \t\"'#") != std::string::npos) {
      return invalid("--snmp: a community may not contain spaces, quotes or #");
    }
  }
  const bool loopback =
      options.host.rfind("127.", 0) == 0 || options.host == "::1" || options.host == "localhost";
  if (!loopback && !options.insecure_v2c &&
      (!options.community.empty() || !options.write_community.empty())) {
    return invalid("--snmp: v1/v2c communities travel in clear text and are refused on " +
                   options.host +
                   " (off loopback): use an SNMPv3 user (v3user, auth, priv) with community= "
                   "(empty), or accept them with insecure_v2c=true");
  }
  if (!options.write_community.empty() && options.write_community == options.community) {
    return invalid("--snmp: writecommunity must differ from the read-only community");
  }
  if (options.v3_write && !options.v3Enabled()) {
    return invalid("--snmp: v3write needs a v3 user (v3user, auth, priv)");
  }
  if (options.trap_version == 3 && !options.v3Enabled()) {
    return invalid("--snmp: trapversion 3 needs a v3 user (v3user, auth, priv)");
  }
  if ((options.inform || options.trap_version == 3) && !options.trapEnabled()) {
    return invalid("--snmp: inform and trapversion need a receiver (trap=HOST:PORT)");
  }
  return options;
}

}  // namespace equalis::snmp
