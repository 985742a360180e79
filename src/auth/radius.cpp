// Our own RADIUS PAP client (RFC 2865), not a packaged library: libradcli 1.2.11 of Debian 12
// never checks the Response Authenticator of a reply (rc_send_server_ctx overwrites the result of
// rc_check_reply), so a forged Access-Accept with any role was taken for true by whoever could send
// one UDP datagram with the right 8-bit identifier, and it sends no Message-Authenticator with PAP.
// What this client does (docs/security.md, "RADIUS"):
//   - one UDP socket per login, connect()ed to the server, so that only datagrams from the
//     server's address and port are received;
//   - a random identifier and Request Authenticator (libsodium's CSPRNG) per server asked;
//     retransmissions resend the very same packet (RFC 5080 §2.2.1);
//   - User-Password hidden with the secret (RFC 2865 §5.2) and every Access-Request signed with a
//     Message-Authenticator (RFC 3579 §3.2, RFC 5080 §2.2.2), so that a server that requires one
//     can tell a modified request;
//   - a reply is used only when its length, identifier, code, attributes and Response
//     Authenticator (RFC 2865 §3) are right, and its Message-Authenticator too when it has one
//     (RFC 3579 §3.2); any other datagram is ignored and the client waits on until the attempt's
//     timeout (RFC 2865 §3: "silently discarded").
#include "auth/radius.hpp"

#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "auth/crypto.hpp"
#include "auth/users_file.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace equalis::auth {

namespace {

constexpr const char* kLoginFailed = "unknown user or wrong password";
constexpr const char* kUnreachable = "RADIUS server not reachable";
constexpr std::string_view kRolePrefix = "equalis-";
constexpr std::size_t kMaxShownValues = 3;
constexpr std::size_t kMaxCallingStationBytes = 64;
constexpr std::size_t kMaxAttributeValueBytes = 253;  // 255 minus type and length
constexpr std::size_t kPasswordBlockBytes = 16;
constexpr std::size_t kMessageAuthenticatorBytes = 16;
constexpr std::uint32_t kServiceTypeLoginUser = 1;

using Md5Digest = std::array<std::uint8_t, 16>;

Error loginFailed() {
  return makeError(ErrorCode::kInvalidArgument, kLoginFailed);
}

// A value from a server or a request for a log line: printable ASCII, others as \xNN, at most
// 64 bytes.
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 64)) {
    if (c >= 0x20 && c <= 0x7e && c != '\\') {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }
  }
  return s.size() > 64 ? out + "…" : out;
}

bool printableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c <= 0x7e; });
}

bool digitsOnly(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// One counting_semaphore slot if one is free, released when the object goes.
template <class Semaphore>
class TrySlot {
 public:
  explicit TrySlot(Semaphore& slots) : slots_(slots), held_(slots.try_acquire()) {}
  TrySlot(const TrySlot&) = delete;
  TrySlot& operator=(const TrySlot&) = delete;
  ~TrySlot() {
    if (held_) {
      slots_.release();
    }
  }
  bool held() const { return held_; }

 private:
  Semaphore& slots_;
  bool held_;
};

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// MD5 over `parts` one after the other; std::nullopt when OpenSSL provides none (FIPS mode).
std::optional<Md5Digest> md5(std::initializer_list<std::span<const std::uint8_t>> parts) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) {
    return std::nullopt;
  }
  for (const auto part : parts) {
    if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
      return std::nullopt;
    }
  }
  Md5Digest out{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1 || length != out.size()) {
    return std::nullopt;
  }
  return out;
}

// HMAC-MD5 keyed by `key` (RFC 2104), as RFC 3579 §3.2 uses it.
std::optional<Md5Digest> hmacMd5(std::string_view key, std::span<const std::uint8_t> data) {
  Md5Digest out{};
  unsigned int length = 0;
  if (HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &length) == nullptr ||
      length != out.size()) {
    return std::nullopt;
  }
  return out;
}

bool sameBytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Appends attribute `type` with `value`; false when the value does not fit in one.
bool appendAttribute(std::vector<std::uint8_t>& packet, std::uint8_t type,
                     std::span<const std::uint8_t> value) {
  if (value.empty() || value.size() > kMaxAttributeValueBytes) {
    return false;
  }
  packet.push_back(type);
  packet.push_back(static_cast<std::uint8_t>(value.size() + 2));
  packet.insert(packet.end(), value.begin(), value.end());
  return true;
}

// A socket descriptor, closed with the object.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// What happened while asking the servers, for the log line when none gave a valid answer.
struct Exchange {
  int ignored = 0;           // datagrams that failed a check
  std::string last_problem;  // why the last of them was ignored
};

// Asks `server` with `request`: `retries` + 1 sends of the same packet, each followed by up to
// timeout_ms of waiting. The first reply that passes parseRadiusReply(), else std::nullopt.
std::optional<RadiusReply> askServer(const RadiusSettings& settings, const RadiusServer& server,
                                     const RadiusRequest& request, Exchange& exchange) {
  auto logger = log::get("auth");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(server.port);
  if (const int rc = ::getaddrinfo(server.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    logger->warn("RADIUS server {}: cannot resolve the host: {}", formatRadiusServer(server),
                 ::gai_strerror(rc));
    return std::nullopt;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  const Socket socket(
      ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol));
  // connect(): the kernel then delivers only datagrams from the server's address and port.
  if (socket.fd() < 0 || ::connect(socket.fd(), found->ai_addr, found->ai_addrlen) != 0) {
    logger->warn("RADIUS server {}: cannot open a UDP socket to it: {}", formatRadiusServer(server),
                 std::strerror(errno));
    return std::nullopt;
  }
  std::uint8_t identifier = 0;
  RadiusVector request_authenticator{};
  ::randombytes_buf(&identifier, sizeof identifier);
  ::randombytes_buf(request_authenticator.data(), request_authenticator.size());
  const auto packet =
      buildRadiusAccessRequest(request, identifier, request_authenticator, settings.secret);
  if (packet.empty()) {
    logger->error("RADIUS client: cannot build the Access-Request for '{}'", shown(request.user));
    return std::nullopt;
  }
  std::array<std::uint8_t, kMaxRadiusPacketBytes + 1> buffer{};  // one more: too long is seen
  for (int attempt = 0; attempt <= settings.retries; ++attempt) {
    // A failed send (e.g. an ICMP error of the previous attempt reported here) is waited out
    // like a lost datagram.
    (void)::send(socket.fd(), packet.data(), packet.size(), MSG_NOSIGNAL);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(settings.timeout_ms);
    for (;;) {
      const auto left_ms =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
              .count();
      if (left_ms <= 0) {
        break;
      }
      pollfd ready{socket.fd(), POLLIN, 0};
      const int polled = ::poll(&ready, 1, static_cast<int>(left_ms));
      if (polled < 0 && errno == EINTR) {
        continue;
      }
      if (polled <= 0) {
        break;
      }
      const ssize_t received = ::recv(socket.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (received < 0) {
        continue;  // ECONNREFUSED (port unreachable) and the like: wait on for a reply
      }
      auto reply = parseRadiusReply(
          std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(received)),
          identifier, request_authenticator, settings.secret);
      if (reply) {
        return std::move(*reply);
      }
      ++exchange.ignored;
      exchange.last_problem = reply.error().message;
      logger->debug("RADIUS server {}: reply ignored: {}", formatRadiusServer(server),
                    reply.error().message);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view roleAttributeName(RoleAttribute attribute) {
  switch (attribute) {
    case RoleAttribute::kFilterId:
      return "Filter-Id";
    case RoleAttribute::kClass:
      return "Class";
  }
  return "Filter-Id";
}

std::optional<RoleAttribute> parseRoleAttribute(std::string_view name) {
  for (const RoleAttribute a : {RoleAttribute::kFilterId, RoleAttribute::kClass}) {
    if (text::lower(name) == text::lower(roleAttributeName(a))) {
      return a;
    }
  }
  return std::nullopt;
}

Result<RadiusServer> parseRadiusServer(std::string_view text) {
  RadiusServer server;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("\"{}\": an IPv6 address needs its closing ']'", shown(text)));
    }
    server.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("\"{}\": expected [IPV6]:PORT", shown(text)));
    }
    port = rest.empty() ? std::string_view() : rest.substr(1);
    if (server.host.find(':') == std::string::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("\"{}\": brackets are for IPv6 addresses only", shown(text)));
    }
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("\"{}\": write an IPv6 address in brackets, e.g. "
                                   "\"[2001:db8::1]:1812\"",
                                   shown(text)));
    }
    server.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) {
        return makeError(ErrorCode::kInvalidArgument,
                         fmt::format("\"{}\": the port is missing after ':'", shown(text)));
      }
    }
  }
  if (server.host.empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\": the host is missing (HOST:PORT, e.g. "
                                 "\"127.0.0.1:1812\")",
                                 shown(text)));
  }
  if (server.host.size() > 253 || !printableAscii(server.host) ||
      server.host.find_first_of(",[]") != std::string::npos) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" is not a host name or IP address", shown(server.host)));
  }
  if (!port.empty()) {
    const int value = digitsOnly(port) && port.size() <= 5 ? std::stoi(std::string(port)) : -1;
    if (value < 1 || value > 65535) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("\"{}\": the port must be 1 to 65535", shown(text)));
    }
    server.port = value;
  }
  return server;
}

std::string formatRadiusServer(const RadiusServer& server) {
  return server.host.find(':') != std::string::npos
             ? fmt::format("[{}]:{}", server.host, server.port)
             : fmt::format("{}:{}", server.host, server.port);
}

std::optional<Role> roleFromAttributeValue(std::string_view value) {
  while (!value.empty() && (value.back() == '\0' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  while (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  std::string name = text::lower(value);
  if (name.rfind(kRolePrefix, 0) == 0) {
    name.erase(0, kRolePrefix.size());
  }
  return parseRole(name);
}

Result<Role> roleFromAccept(const std::vector<std::string>& values, RoleAttribute attribute,
                            std::optional<Role> default_role) {
  std::optional<Role> role;
  for (const auto& v : values) {
    const auto named = roleFromAttributeValue(v);
    if (named && role && *named != *role) {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("the Access-Accept's {} attributes name different roles "
                      "({} and {})",
                      roleAttributeName(attribute), roleName(*role), roleName(*named)));
    }
    if (named) {
      role = named;
    }
  }
  if (role) {
    return *role;
  }
  if (default_role) {
    return *default_role;
  }
  if (values.empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("the Access-Accept has no {} attribute (viewer, operator or "
                                 "admin) and [radius] default_role is not set",
                                 roleAttributeName(attribute)));
  }
  std::string listed;
  for (std::size_t i = 0; i < values.size() && i < kMaxShownValues; ++i) {
    listed += fmt::format("{}\"{}\"", i == 0 ? "" : ", ", shown(values[i]));
  }
  return makeError(ErrorCode::kInvalidArgument,
                   fmt::format("no {} value of the Access-Accept names a role ({}{}; expected "
                               "viewer, operator or admin, optionally prefixed equalis-) and "
                               "[radius] default_role is not set",
                               roleAttributeName(attribute), listed,
                               values.size() > kMaxShownValues ? ", …" : ""));
}

std::vector<std::uint8_t> hideRadiusPassword(std::string_view password, std::string_view secret,
                                             const RadiusVector& request_authenticator) {
  if (password.size() > kMaxRadiusPasswordBytes) {
    return {};
  }
  const std::size_t blocks =
      std::max<std::size_t>(1, (password.size() + kPasswordBlockBytes - 1) / kPasswordBlockBytes);
  std::vector<std::uint8_t> out(blocks * kPasswordBlockBytes, 0);
  std::copy(password.begin(), password.end(), out.begin());
  std::span<const std::uint8_t> previous(request_authenticator);
  for (std::size_t i = 0; i < blocks; ++i) {
    const auto b = md5({bytesOf(secret), previous});
    if (!b) {
      return {};
    }
    const auto block =
        std::span<std::uint8_t>(out).subspan(i * kPasswordBlockBytes, kPasswordBlockBytes);
    for (std::size_t j = 0; j < kPasswordBlockBytes; ++j) {
      block[j] ^= (*b)[j];
    }
    previous = block;
  }
  return out;
}

std::vector<std::uint8_t> buildRadiusAccessRequest(const RadiusRequest& request,
                                                   std::uint8_t identifier,
                                                   const RadiusVector& request_authenticator,
                                                   std::string_view secret) {
  std::vector<std::uint8_t> packet = {static_cast<std::uint8_t>(RadiusCode::kAccessRequest),
                                      identifier, 0, 0};
  packet.insert(packet.end(), request_authenticator.begin(), request_authenticator.end());
  const auto hidden = hideRadiusPassword(request.password, secret, request_authenticator);
  const std::array<std::uint8_t, 4> service_type = {
      0, 0, 0, static_cast<std::uint8_t>(kServiceTypeLoginUser)};
  namespace a = radius_attribute;
  bool built = appendAttribute(packet, a::kUserName, bytesOf(request.user)) &&
               appendAttribute(packet, a::kUserPassword, hidden) &&
               appendAttribute(packet, a::kNasIdentifier, bytesOf(request.nas_identifier)) &&
               appendAttribute(packet, a::kServiceType, service_type);
  if (built && !request.calling_station_id.empty()) {
    built = appendAttribute(packet, a::kCallingStationId, bytesOf(request.calling_station_id));
  }
  // Message-Authenticator last, computed with its own value zeroed (RFC 3579 §3.2).
  const std::array<std::uint8_t, kMessageAuthenticatorBytes> zeros{};
  built = built && appendAttribute(packet, a::kMessageAuthenticator, zeros);
  if (!built || packet.size() > kMaxRadiusPacketBytes) {
    return {};
  }
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size() & 0xff);
  const auto signature = hmacMd5(secret, packet);
  if (!signature) {
    return {};
  }
  std::copy(signature->begin(), signature->end(), packet.end() - kMessageAuthenticatorBytes);
  return packet;
}

Result<RadiusReply> parseRadiusReply(std::span<const std::uint8_t> packet, std::uint8_t identifier,
                                     const RadiusVector& request_authenticator,
                                     std::string_view secret) {
  const auto bad = [](std::string message) {
    return makeError(ErrorCode::kProtocol, std::move(message));
  };
  if (packet.size() < kRadiusHeaderBytes || packet.size() > kMaxRadiusPacketBytes) {
    return bad(
        fmt::format("a datagram of {} bytes (a RADIUS packet has 20 to 4096)", packet.size()));
  }
  const std::size_t length = (std::size_t{packet[2]} << 8) | packet[3];
  if (length < kRadiusHeaderBytes || length > packet.size()) {
    return bad(
        fmt::format("its Length field says {} bytes, the datagram has {}", length, packet.size()));
  }
  packet = packet.first(length);  // bytes beyond Length are padding (RFC 2865 §3)
  if (packet[1] != identifier) {
    return bad(fmt::format("identifier {}, the request's is {}", packet[1], identifier));
  }
  const std::uint8_t code = packet[0];
  if (code != static_cast<std::uint8_t>(RadiusCode::kAccessAccept) &&
      code != static_cast<std::uint8_t>(RadiusCode::kAccessReject) &&
      code != static_cast<std::uint8_t>(RadiusCode::kAccessChallenge)) {
    return bad(fmt::format("code {} does not answer an Access-Request", code));
  }
  RadiusReply reply;
  reply.code = static_cast<RadiusCode>(code);
  std::size_t message_authenticator_at = 0;  // of its value; 0: none
  for (std::size_t at = kRadiusHeaderBytes; at < length;) {
    if (length - at < 2) {
      return bad(fmt::format("the attribute at byte {} is cut off", at));
    }
    const std::uint8_t type = packet[at];
    const std::size_t size = packet[at + 1];
    if (size < 2 || size > length - at) {
      return bad(fmt::format("attribute {} at byte {} has length {}, {} bytes are left", type, at,
                             size, length - at));
    }
    const auto value = packet.subspan(at + 2, size - 2);
    if (type == radius_attribute::kMessageAuthenticator) {
      if (message_authenticator_at != 0 || value.size() != kMessageAuthenticatorBytes) {
        return bad("a Message-Authenticator of the wrong length, or two of them");
      }
      message_authenticator_at = at + 2;
    } else {
      reply.attributes.push_back(
          {type, std::string(reinterpret_cast<const char*>(value.data()), value.size())});
    }
    at += size;
  }
  const auto expected = md5({packet.first(4), request_authenticator,
                             packet.subspan(kRadiusHeaderBytes), bytesOf(secret)});
  if (!expected) {
    return bad("OpenSSL provides no MD5");
  }
  if (!sameBytes(*expected, packet.subspan(4, kRadiusAuthenticatorBytes))) {
    return bad("the Response Authenticator is wrong (another secret, or a forged reply)");
  }
  if (message_authenticator_at != 0) {
    // HMAC-MD5 over the reply with the Request Authenticator in place of the Response
    // Authenticator and the Message-Authenticator's value zeroed (RFC 3579 §3.2).
    std::vector<std::uint8_t> signed_bytes(packet.begin(), packet.end());
    std::copy(request_authenticator.begin(), request_authenticator.end(), signed_bytes.begin() + 4);
    std::fill_n(signed_bytes.begin() + static_cast<std::ptrdiff_t>(message_authenticator_at),
                kMessageAuthenticatorBytes, 0);
    const auto signature = hmacMd5(secret, signed_bytes);
    if (!signature || !sameBytes(*signature, packet.subspan(message_authenticator_at,
                                                            kMessageAuthenticatorBytes))) {
      return bad("the Message-Authenticator is wrong");
    }
    reply.message_authenticator = true;
  }
  return reply;
}

Status validateRadiusSettings(const RadiusSettings& s) {
  const auto bad = [](std::string message) {
    return Status(makeError(ErrorCode::kInvalidArgument, std::move(message)));
  };
  if (s.servers.empty() || s.servers.size() > kMaxRadiusServers) {
    return bad(fmt::format("servers: give 1 to {} RADIUS servers, got {}", kMaxRadiusServers,
                           s.servers.size()));
  }
  for (const auto& server : s.servers) {
    if (auto parsed = parseRadiusServer(formatRadiusServer(server)); !parsed) {
      return bad("servers: " + parsed.error().message);
    }
  }
  if (s.secret.empty() || s.secret.size() > kMaxRadiusSecretBytes) {
    return bad(fmt::format("secret: must be 1 to {} bytes long, got {}", kMaxRadiusSecretBytes,
                           s.secret.size()));
  }
  if (!printableAscii(s.secret) || s.secret.find_first_of(",[]") != std::string::npos) {
    return bad("secret: only printable ASCII characters without space, comma or square brackets");
  }
  if (s.timeout_ms < kMinRadiusTimeoutMs || s.timeout_ms > kMaxRadiusTimeoutMs) {
    return bad(fmt::format("timeout_ms: must be {} to {} ms, got {}", kMinRadiusTimeoutMs,
                           kMaxRadiusTimeoutMs, s.timeout_ms));
  }
  if (s.retries < 0 || s.retries > kMaxRadiusRetries) {
    return bad(fmt::format("retries: must be 0 to {}, got {}", kMaxRadiusRetries, s.retries));
  }
  if (s.nas_identifier.empty() || s.nas_identifier.size() > kMaxNasIdentifierBytes ||
      !std::all_of(s.nas_identifier.begin(), s.nas_identifier.end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return bad(fmt::format("nas_identifier: must be 1 to {} printable ASCII characters",
                           kMaxNasIdentifierBytes));
  }
  if (s.max_concurrent < 1 || s.max_concurrent > static_cast<std::size_t>(kMaxRadiusConcurrent)) {
    return bad(fmt::format("max_concurrent: must be 1 to {}", kMaxRadiusConcurrent));
  }
  return {};
}

RadiusAuthenticator::RadiusAuthenticator(RadiusSettings settings)
    : settings_(std::move(settings)),
      slots_(static_cast<std::ptrdiff_t>(settings_.max_concurrent)) {}

RadiusAuthenticator::~RadiusAuthenticator() = default;

Result<std::unique_ptr<RadiusAuthenticator>> RadiusAuthenticator::create(RadiusSettings settings) {
  if (auto st = validateRadiusSettings(settings); !st) {
    return st.error();
  }
  if (!md5({bytesOf("equalis")}) || !hmacMd5("equalis", bytesOf("equalis"))) {
    return makeError(ErrorCode::kUnavailable,
                     "RADIUS client: OpenSSL provides no MD5 (FIPS mode?), which RADIUS needs "
                     "(RFC 2865, RFC 3579)");
  }
  if (auto st = initCrypto(); !st) {
    return makeError(ErrorCode::kUnavailable, "RADIUS client: " + st.error().message);
  }
  return std::unique_ptr<RadiusAuthenticator>(new RadiusAuthenticator(std::move(settings)));
}

std::string RadiusAuthenticator::serversText() const {
  std::string out;
  for (const auto& server : settings_.servers) {
    out += (out.empty() ? "" : ", ") + formatRadiusServer(server);
  }
  return out;
}

Result<Principal> RadiusAuthenticator::accepted(std::string_view user,
                                                const std::vector<std::string>& values) const {
  auto role = roleFromAccept(values, settings_.role_attribute, settings_.default_role);
  if (!role) {
    log::get("auth")->warn("RADIUS accepted '{}' but the login is refused: {}", shown(user),
                           role.error().message);
    return loginFailed();
  }
  log::get("auth")->info("RADIUS login of '{}' accepted, role {}", shown(user), roleName(*role));
  return Principal{std::string(user), *role, "radius"};
}

Result<Principal> RadiusAuthenticator::authenticate(std::string_view user,
                                                    std::string_view password,
                                                    std::string_view client_address) {
  // Not sent: names that could never be accounts here, passwords PAP cannot carry.
  if (!validateUserName(user) || password.empty() || password.size() > kMaxRadiusPasswordBytes ||
      password.find('\0') != std::string_view::npos) {
    return loginFailed();
  }
  const TrySlot slot(slots_);
  if (!slot.held()) {
    log::get("auth")->warn("RADIUS login of '{}' refused: already {} RADIUS login(s) in progress",
                           shown(user), settings_.max_concurrent);
    return makeError(ErrorCode::kUnavailable,
                     "too many RADIUS logins in progress; try again in a moment");
  }
  const RadiusRequest request{std::string(user), std::string(password), settings_.nas_identifier,
                              std::string(client_address.substr(0, kMaxCallingStationBytes))};
  Exchange exchange;
  std::optional<RadiusReply> reply;
  for (const auto& server : settings_.servers) {
    reply = askServer(settings_, server, request, exchange);
    if (reply) {
      break;
    }
  }
  if (!reply) {
    if (exchange.ignored == 0) {
      log::get("auth")->warn(
          "RADIUS login of '{}': no answer from {} ({} attempt(s) of {} ms each per server)",
          shown(user), serversText(), settings_.retries + 1, settings_.timeout_ms);
    } else {
      log::get("auth")->warn(
          "RADIUS login of '{}': no valid answer from {} ({} reply/replies ignored, the last "
          "because {}; {} attempt(s) of {} ms each per server)",
          shown(user), serversText(), exchange.ignored, exchange.last_problem,
          settings_.retries + 1, settings_.timeout_ms);
    }
    return makeError(ErrorCode::kUnavailable, kUnreachable);
  }
  switch (reply->code) {
    case RadiusCode::kAccessAccept: {
      const std::uint8_t wanted = settings_.role_attribute == RoleAttribute::kFilterId
                                      ? radius_attribute::kFilterId
                                      : radius_attribute::kClass;
      std::vector<std::string> values;
      for (auto& attribute : reply->attributes) {
        if (attribute.type == wanted) {
          values.push_back(std::move(attribute.value));
        }
      }
      return accepted(user, values);
    }
    case RadiusCode::kAccessChallenge:
      log::get("auth")->warn(
          "RADIUS answered the login of '{}' with an Access-Challenge (e.g. a one-time "
          "password), which Equalis does not support: refused",
          shown(user));
      return loginFailed();
    default:
      log::get("auth")->info("RADIUS rejected the login of '{}'", shown(user));
      return loginFailed();
  }
}

}  // namespace equalis::auth
