#include "adapters/http/checks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>

namespace equalis::http {

bool validUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0U) == 0xC0U) {
      extra = 1;
      cp = c & 0x1FU;
      min = 0x80;
    } else if ((c & 0xF0U) == 0xE0U) {
      extra = 2;
      cp = c & 0x0FU;
      min = 0x800;
    } else if ((c & 0xF8U) == 0xF0U) {
      extra = 3;
      cp = c & 0x07U;
      min = 0x10000;
    } else {
      return false;
    }
    if (end - p <= extra) {
      return false;
    }
    for (int i = 1; i <= extra; ++i) {
      const unsigned n = p[i];
      if ((n & 0xC0U) != 0x80U) {
        return false;
      }
      cp = (cp << 6U) | (n & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

std::string decodeTarget(Request& req) {
  if (req.target.empty() || req.target.front() != '/') {
    return "the request target must be a path";
  }
  const std::string_view target(req.target);
  const auto q = target.find('?');
  req.path = percentDecode(target.substr(0, q), false);
  req.params = parseQuery(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
  bool clean = validUtf8(req.path) && std::none_of(req.path.begin(), req.path.end(), [](char c) {
                 return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
               });
  for (const auto& [k, v] : req.params) {
    clean = clean && validUtf8(k) && validUtf8(v);
  }
  return clean ? std::string()
               : "the request path or query is not valid UTF-8 text (or holds control "
                 "characters)";
}

std::string escapeForLog(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "…";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Copy a whole well-formed sequence; escape a stray byte.
      std::size_t len = (c & 0xE0U) == 0xC0U   ? 2
                        : (c & 0xF0U) == 0xE0U ? 3
                        : (c & 0xF8U) == 0xF0U ? 4
                                               : 0;
      if (len != 0 && i + len <= text.size() && validUtf8(text.substr(i, len))) {
        out.append(text.substr(i, len));
        i += len;
        continue;
      }
      out += fmt::format("\\x{:02x}", c);
    } else if (c < 0x20 || c == 0x7F || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::string hostName(std::string_view authority) {
  if (authority.empty()) {
    return {};
  }
  std::string_view name;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return {};
    }
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return {};
    }
    name = authority.substr(1, close - 1);
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return {};  // an IPv6 literal must be bracketed
    }
    name = authority.substr(0, colon);
  }
  std::string out(name);
  for (auto& ch : out) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  while (!out.empty() && out.back() == '.') {
    out.pop_back();  // "localhost." is "localhost"
  }
  return out;
}

bool isLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127." ||
         host.substr(0, 11) == "::ffff:127.";
}

bool isIpLiteral(std::string_view name) {
  const std::string text(name);
  std::array<unsigned char, 16> buf{};
  return ::inet_pton(AF_INET, text.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buf.data()) == 1;
}

bool hostAllowed(std::string_view host_header, const std::vector<std::string>& names) {
  const std::string name = hostName(host_header);
  if (name.empty()) {
    return false;
  }
  if (name == "localhost" || isIpLiteral(name)) {
    return true;
  }
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return equalsIgnoreCase(n, name); });
}

namespace {

// "host:port" with the scheme's default port made explicit and the host lower-cased.
std::string normalAuthority(std::string_view authority, bool tls) {
  const std::string name = hostName(authority);
  if (name.empty()) {
    return {};
  }
  std::string_view port;
  const auto close = authority.rfind(']');
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    port = authority.substr(colon + 1);
  }
  if (port.empty()) {
    port = tls ? "443" : "80";
  }
  return fmt::format("{}:{}", name, port);
}

}  // namespace

bool sameOrigin(std::string_view origin, std::string_view host_header, bool tls) {
  const std::string_view scheme = tls ? "https://" : "http://";
  if (origin.substr(0, scheme.size()) != scheme) {
    return false;
  }
  std::string_view authority = origin.substr(scheme.size());
  if (authority.find('/') != std::string_view::npos) {
    return false;
  }
  const std::string a = normalAuthority(authority, tls);
  return !a.empty() && a == normalAuthority(host_header, tls);
}

std::string crossSiteWriteRefusal(const Request& req, std::string_view expected_type) {
  if (req.hasHeader("Origin") && !sameOrigin(req.header("Origin"), req.header("Host"), req.tls)) {
    return fmt::format("a write from another origin ({}) is refused",
                       escapeForLog(req.header("Origin"), 100));
  }
  const auto site = req.header("Sec-Fetch-Site");
  if (site == "cross-site" || site == "same-site") {
    return "a write from another site is refused";
  }
  std::string_view type = req.header("Content-Type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') {
    type.remove_suffix(1);
  }
  if (!equalsIgnoreCase(type, expected_type)) {
    return fmt::format("Content-Type must be {} (got '{}')", expected_type, escapeForLog(type, 60));
  }
  return {};
}

std::string_view cookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const auto semi = cookie_header.find(';');
    std::string_view part = cookie_header.substr(0, semi);
    cookie_header =
        semi == std::string_view::npos ? std::string_view() : cookie_header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      return part.substr(eq + 1);
    }
  }
  return {};
}

void addSecurityHeaders(Response& res, bool hsts) {
  if (res.header("Content-Security-Policy").empty()) {
    res.setHeader("Content-Security-Policy",
                  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                  "frame-ancestors 'none'");
  }
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  if (hsts) {
    res.setHeader("Strict-Transport-Security", "max-age=31536000");
  }
}

std::string httpsRedirectLocation(std::string_view host_header, std::string_view target,
                                  int https_port) {
  if (target.empty() || target.front() != '/' || https_port <= 0 || https_port > 65535 ||
      std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; })) {
    return {};
  }
  const std::string name = hostName(host_header);
  if (name.empty()) {
    return {};
  }
  // The port of the Host header, if any: digits only.
  const auto close = host_header.rfind(']');
  const auto colon = host_header.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    const auto port = host_header.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return {};
    }
  }
  std::string host;
  if (host_header.front() == '[' || name.find(':') != std::string::npos) {
    if (name.find(':') == std::string::npos || !isIpLiteral(name)) {
      return {};
    }
    host = "[" + name + "]";
  } else {
    const bool clean = std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
    });
    if (!clean) {
      return {};
    }
    host = name;
  }
  return https_port == 443 ? fmt::format("https://{}{}", host, target)
                           : fmt::format("https://{}:{}{}", host, https_port, target);
}

}  // namespace equalis::http
