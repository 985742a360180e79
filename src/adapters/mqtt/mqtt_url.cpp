#include "adapters/mqtt/mqtt_url.hpp"

#include <charconv>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/text.hpp"

namespace equalis::mqtt {

namespace {

Error bad(const std::string& what) {
  return makeError(ErrorCode::kInvalidArgument, "bad MQTT URL: " + what);
}

// RFC 3986 percent-decoding ("p%40ss" → "p@ss").
Result<std::string> percentDecode(std::string_view in, std::string_view what) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    const int hi = i + 2 < in.size() ? text::hexDigit(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? text::hexDigit(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return bad(fmt::format("invalid percent escape in {}", what));
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Result<int> parseInt(std::string_view text, int min, int max, std::string_view what) {
  int v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    return bad(fmt::format("{} must be an integer from {} to {}, got '{}'", what, min, max, text));
  }
  return v;
}

bool validHost(std::string_view host) {
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return !host.empty();
}

Status applyOption(MqttSettings& s, std::string_view key, const std::string& value) {
  if (key == "cafile") {
    if (value.empty()) {
      return bad("cafile needs a file name");
    }
    s.cafile = value;
  } else if (key == "certfile" || key == "keyfile") {
    if (value.empty()) {
      return bad(fmt::format("{} needs a file name", key));
    }
    (key == "certfile" ? s.certfile : s.keyfile) = value;
  } else if (key == "insecure") {
    if (value == "true" || value == "1") {
      s.insecure = true;
    } else if (value == "false" || value == "0") {
      s.insecure = false;
    } else {
      return bad(fmt::format("insecure must be true or false, got '{}'", value));
    }
  } else if (key == "keepalive") {
    auto v = parseInt(value, 5, 3600, "keepalive (seconds)");
    if (!v) {
      return v.error();
    }
    s.keepalive_s = *v;
  } else if (key == "interval") {
    auto v = parseInt(value, 0, 3600, "interval (seconds)");
    if (!v) {
      return v.error();
    }
    s.interval_s = *v;
  } else if (key == "client_id") {
    if (value.empty() || value.size() > 128) {
      return bad("client_id must have 1 to 128 characters");
    }
    s.client_id = value;
  } else if (key == "discovery") {
    if (value == "all" || value == "on") {
      s.discovery = DiscoveryMode::kAll;
    } else if (value == "strings") {
      s.discovery = DiscoveryMode::kStrings;
    } else if (value == "off") {
      s.discovery = DiscoveryMode::kOff;
    } else {
      return bad(fmt::format("discovery must be all, strings or off, got '{}'", value));
    }
  } else if (key == "discovery_prefix") {
    if (!validTopicPrefix(value)) {
      return bad(fmt::format("invalid discovery_prefix '{}'", value));
    }
    s.discovery_prefix = value;
  } else {
    return bad(fmt::format(
        "unknown option '{}' (known: cafile, certfile, keyfile, insecure, keepalive, interval, "
        "client_id, discovery, discovery_prefix)",
        key));
  }
  return {};
}

}  // namespace

bool validTopicPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.front() == '$' || prefix.front() == '/' || prefix.back() == '/') {
    return false;
  }
  if (prefix.find("//") != std::string_view::npos) {
    return false;
  }
  for (const char c : prefix) {
    if (c == '+' || c == '#' || c == '\0' || static_cast<unsigned char>(c) < 0x20) {
      return false;
    }
  }
  return true;
}

std::string_view discoveryModeName(DiscoveryMode m) {
  switch (m) {
    case DiscoveryMode::kAll:
      return "all";
    case DiscoveryMode::kStrings:
      return "strings";
    case DiscoveryMode::kOff:
      return "off";
  }
  return "";
}

Result<MqttSettings> parseMqttUrl(std::string_view spec) {
  MqttSettings s;
  const auto scheme_end = spec.find("://");
  if (scheme_end == std::string_view::npos) {
    return bad(fmt::format("'{}' does not start with mqtt:// or mqtts://", spec));
  }
  const auto scheme = spec.substr(0, scheme_end);
  if (scheme == "mqtt") {
    s.tls = false;
    s.port = 1883;
  } else if (scheme == "mqtts") {
    s.tls = true;
    s.port = 8883;
  } else {
    return bad(fmt::format("unknown scheme '{}' (use mqtt:// or mqtts://)", scheme));
  }
  std::string_view rest = spec.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    return bad("'#' is not allowed (a fragment or a topic wildcard)");
  }

  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string_view authority = rest;

  // user[:password]@
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percentDecode(userinfo.substr(0, colon), "user name");
    if (!user) {
      return user.error();
    }
    if (user->empty()) {
      return bad("empty user name before '@'");
    }
    s.username = *user;
    if (colon != std::string_view::npos) {
      auto password = percentDecode(userinfo.substr(colon + 1), "password");
      if (!password) {
        return password.error();
      }
      s.password = *password;
      s.has_password = true;
    }
  }

  // HOST[:PORT], HOST may be a bracketed IPv6 literal.
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated '[' in IPv6 host");
    }
    s.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return bad(fmt::format("unexpected '{}' after IPv6 host", after));
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        return bad("empty port after ':'");
      }
    }
    if (s.host.empty() ||
        s.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return bad(fmt::format("invalid IPv6 host '{}'", s.host));
    }
  } else {
    const auto colon = authority.find(':');
    s.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        return bad("empty port after ':'");
      }
    }
    if (s.host.empty()) {
      return bad("missing host");
    }
    if (!validHost(s.host)) {
      return bad(fmt::format("invalid host '{}'", s.host));
    }
  }
  if (!port_text.empty()) {
    auto port = parseInt(port_text, 1, 65535, "port");
    if (!port) {
      return port.error();
    }
    s.port = *port;
  }

  // /PREFIX
  if (!path.empty()) {
    auto prefix = percentDecode(path, "topic prefix");
    if (!prefix) {
      return prefix.error();
    }
    while (!prefix->empty() && prefix->back() == '/') {
      prefix->pop_back();
    }
    if (!prefix->empty() && !validTopicPrefix(*prefix)) {
      return bad(fmt::format("invalid topic prefix '{}' (no '+', '#', empty levels or leading '$')",
                             *prefix));
    }
    s.prefix = *prefix;
  }

  // ?key=value&…
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) {
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return bad(fmt::format("option '{}' needs a value (key=value)", item));
    }
    auto value = percentDecode(item.substr(eq + 1), "option value");
    if (!value) {
      return value.error();
    }
    if (auto st = applyOption(s, item.substr(0, eq), *value); !st) {
      return st.error();
    }
  }
  if ((!s.cafile.empty() || !s.certfile.empty() || !s.keyfile.empty() || s.insecure) && !s.tls) {
    return bad("cafile, certfile, keyfile and insecure need mqtts:// (TLS)");
  }
  if (s.certfile.empty() != s.keyfile.empty()) {
    return bad("a client certificate needs both certfile and keyfile");
  }
  return s;
}

std::string redactedUrl(const MqttSettings& s) {
  std::string out = s.tls ? "mqtts://" : "mqtt://";
  if (!s.username.empty()) {
    out += s.username + "@";
  }
  out += s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
  out += ":" + std::to_string(s.port);
  return out;
}

}  // namespace equalis::mqtt
