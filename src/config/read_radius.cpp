// [radius]: RADIUS logins for names that are not local accounts (docs/security.md, "RADIUS").
// The same limits as auth::validateRadiusSettings, reported per key here.
#include <algorithm>
#include <cctype>

#include "config/readers.hpp"

namespace equalis::config::detail {

namespace {

constexpr std::size_t kMaxServers = 8;
constexpr std::size_t kMaxSecretBytes = 96;
constexpr std::int64_t kTimeoutMinMs = 100;
constexpr std::int64_t kTimeoutMaxMs = 60'000;
constexpr std::int64_t kRetriesMax = 10;
constexpr std::size_t kMaxNasIdentifierBytes = 64;

bool printableWithoutSpace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c <= 0x7e; });
}

// Why a RADIUS server entry ("HOST:PORT", "HOST", "[IPV6]:PORT") is unusable, or nothing.
std::optional<std::string> serverProblem(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fmt::format("\"{}\": an IPv6 address needs its closing ']'", text);
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) {
      return fmt::format("\"{}\": expected [IPV6]:PORT", text);
    }
    port = rest.empty() ? rest : rest.substr(1);
    if (host.find(':') == std::string_view::npos) {
      return fmt::format("\"{}\": brackets are for IPv6 addresses only", text);
    }
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return fmt::format("\"{}\": write an IPv6 address in brackets, e.g. \"[2001:db8::1]:1812\"",
                         text);
    }
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) {
        return fmt::format("\"{}\": the port is missing after ':'", text);
      }
    }
  }
  if (host.empty()) {
    return fmt::format("\"{}\": the host is missing (HOST:PORT, e.g. \"127.0.0.1:1812\")", text);
  }
  if (host.size() > 253 || !printableWithoutSpace(host) ||
      host.find_first_of(",[]") != std::string_view::npos) {
    return fmt::format("\"{}\" is not a host name or IP address", host);
  }
  if (!port.empty()) {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                          return std::isdigit(static_cast<unsigned char>(c)) != 0;
                        });
    const int value = digits ? std::stoi(std::string(port)) : -1;
    if (value < 1 || value > kPortMax) {
      return fmt::format("\"{}\": the port must be 1 to {}", text, kPortMax);
    }
  }
  return std::nullopt;
}

void readServers(Section& s, model::RadiusConfig& radius) {
  const toml::node* node = s.lookup("servers");
  if (node == nullptr) {
    return;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    s.wrongType("servers", "an array of \"HOST:PORT\" strings (e.g. [\"127.0.0.1:1812\"])", *node);
    return;
  }
  if (array->empty() || array->size() > kMaxServers) {
    s.reject("servers",
             fmt::format("give 1 to {} RADIUS servers, got {}", kMaxServers, array->size()));
    return;
  }
  std::vector<std::string> servers;
  bool ok = true;
  int index = 0;
  for (const toml::node& element : *array) {
    ++index;
    const auto* text = element.as_string();
    const auto problem = text != nullptr ? serverProblem(text->get())
                                         : std::optional<std::string>(fmt::format(
                                               "expected a string, got {}", typeName(element)));
    if (problem) {
      s.issue("servers", fmt::format("entry {}: {}", index, *problem));
      ok = false;
      continue;
    }
    servers.push_back(text->get());
  }
  if (ok) {
    radius.servers = std::move(servers);
  }
}

}  // namespace

void readRadius(Section& top, model::RadiusConfig& radius) {
  Section s = top.child("radius");
  radius.enabled = s.boolean("enabled").value_or(radius.enabled);
  readServers(s, radius);
  if (const auto secret = s.secret("secret")) {
    if (secret->empty() || secret->size() > kMaxSecretBytes) {
      s.issue("secret",
              fmt::format("must be 1 to {} bytes long, got {}", kMaxSecretBytes, secret->size()));
    } else if (!printableWithoutSpace(*secret) ||
               secret->find_first_of(",[]") != std::string::npos) {
      s.issue("secret", "only printable ASCII characters without space, comma or square brackets");
    } else {
      radius.secret = *secret;
      radius.secret_file = s.string("secret_file").value_or("");
    }
  } else if (radius.enabled && !s.rejected("secret")) {
    s.issue("secret",
            "missing: the secret shared with the RADIUS servers (secret, secret_file or "
            "secret_env) is needed when enabled = true");
  }
  if (const auto ms = s.integer("timeout_ms", kTimeoutMinMs, kTimeoutMaxMs, "ms")) {
    radius.timeout_ms = static_cast<DurationMs>(*ms);
  }
  if (const auto retries = s.integer("retries", 0, kRetriesMax)) {
    radius.retries = static_cast<int>(*retries);
  }
  if (const auto id = s.string("nas_identifier")) {
    const bool printable =
        std::all_of(id->begin(), id->end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (id->empty() || id->size() > kMaxNasIdentifierBytes || !printable) {
      s.issue("nas_identifier",
              fmt::format("must be 1 to {} printable ASCII characters", kMaxNasIdentifierBytes));
    } else {
      radius.nas_identifier = *id;
    }
  }
  if (const auto attribute = s.string("role_attribute")) {
    if (lower(*attribute) == "filter-id") {
      radius.role_attribute = "Filter-Id";
    } else if (lower(*attribute) == "class") {
      radius.role_attribute = "Class";
    } else {
      s.issue("role_attribute",
              fmt::format("must be \"Filter-Id\" or \"Class\", got \"{}\"", *attribute));
    }
  }
  if (const auto role = s.string("default_role")) {
    if (*role == "viewer" || *role == "operator" || *role == "admin") {
      radius.default_role = *role;
    } else {
      s.issue("default_role",
              fmt::format("must be \"viewer\", \"operator\" or \"admin\", got \"{}\"", *role));
    }
  }
  s.finish();
}

}  // namespace equalis::config::detail
