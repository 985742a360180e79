// RADIUS logins (docs/security.md, "RADIUS"): a user name that is not a local account can be
// checked by RADIUS servers (RFC 2865, PAP), and the role comes from an attribute of the server's
// Access-Accept: Filter-Id (11) or Class (25), whose value names it — "viewer", "operator" or
// "admin", optionally prefixed "equalis-", ignoring case.
//
// The RADIUS client is our own (radius.cpp), not a packaged library: libradcli 1.2.11 of Debian 12
// never checks the Response Authenticator of a reply (rc_send_server_ctx overwrites the result of
// rc_check_reply), so anyone who could send a UDP datagram with the right 8-bit identifier could
// forge an Access-Accept and its role; and it sends no Message-Authenticator with PAP. Ours checks
// every reply (RFC 2865 §3: length, identifier, Response Authenticator; RFC 3579 §3.2:
// Message-Authenticator when the reply has one) and signs every request with a
// Message-Authenticator (RFC 3579 §3.2, RFC 5080 §2.2.2), from a random Request Authenticator and
// identifier.
//
// authenticate() blocks for up to servers × (retries + 1) × timeout_ms: call it on a worker
// thread. It is thread-safe: every call uses its own UDP socket, and at most
// RadiusSettings::max_concurrent calls talk to the servers at the same time (further ones are
// refused at once, so that a server that does not answer cannot hold every worker).
//
// The login back-off is not applied here: Accounts::loginWith() wraps authenticate() in it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <semaphore>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/role.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::auth {

inline constexpr int kRadiusDefaultPort = 1812;
inline constexpr std::size_t kMaxRadiusServers = 8;
inline constexpr std::size_t kMaxRadiusSecretBytes = 96;
inline constexpr std::size_t kMaxRadiusPasswordBytes = 128;  // RFC 2865 §5.2
inline constexpr std::size_t kMaxNasIdentifierBytes = 64;
inline constexpr DurationMs kMinRadiusTimeoutMs = 100;
inline constexpr DurationMs kMaxRadiusTimeoutMs = 60'000;
inline constexpr int kMaxRadiusRetries = 10;
inline constexpr std::ptrdiff_t kMaxRadiusConcurrent = 64;

// Where the role is read from in an Access-Accept.
enum class RoleAttribute { kFilterId, kClass };

// "Filter-Id", "Class".
std::string_view roleAttributeName(RoleAttribute attribute);
// The attribute named `name` ("Filter-Id" or "Class", ignoring case), else std::nullopt.
std::optional<RoleAttribute> parseRoleAttribute(std::string_view name);

struct RadiusServer {
  std::string host;  // a host name or an IP address (IPv6 without brackets)
  int port = kRadiusDefaultPort;
};

// "HOST:PORT", "HOST" (port 1812), "[IPV6]:PORT" or "[IPV6]". Errors say what is wrong.
Result<RadiusServer> parseRadiusServer(std::string_view text);
// "HOST:PORT", with an IPv6 address in brackets.
std::string formatRadiusServer(const RadiusServer& server);

// The role an attribute value names: "viewer", "operator" or "admin", optionally prefixed
// "equalis-", ignoring ASCII case and surrounding spaces (and trailing NUL bytes, which some
// servers send); else std::nullopt.
std::optional<Role> roleFromAttributeValue(std::string_view value);

// The role of an Access-Accept whose role attribute has `values` (in the order received): the
// role they name (values that name none are ignored; the same role named twice is fine), else
// `default_role`. An error (kInvalidArgument) says why there is none: no value names a role, or
// values name different roles.
Result<Role> roleFromAccept(const std::vector<std::string>& values, RoleAttribute attribute,
                            std::optional<Role> default_role);

// The RADIUS wire format (RFC 2865 §3, §5), public for the tests and the fuzz target.
inline constexpr std::size_t kRadiusAuthenticatorBytes = 16;
inline constexpr std::size_t kRadiusHeaderBytes = 20;
inline constexpr std::size_t kMaxRadiusPacketBytes = 4096;
using RadiusVector = std::array<std::uint8_t, kRadiusAuthenticatorBytes>;

enum class RadiusCode : std::uint8_t {
  kAccessRequest = 1,
  kAccessAccept = 2,
  kAccessReject = 3,
  kAccessChallenge = 11,
};

namespace radius_attribute {
inline constexpr std::uint8_t kUserName = 1;
inline constexpr std::uint8_t kUserPassword = 2;
inline constexpr std::uint8_t kServiceType = 6;
inline constexpr std::uint8_t kFilterId = 11;
inline constexpr std::uint8_t kClass = 25;
inline constexpr std::uint8_t kCallingStationId = 31;
inline constexpr std::uint8_t kNasIdentifier = 32;
inline constexpr std::uint8_t kMessageAuthenticator = 80;
}  // namespace radius_attribute

struct RadiusRequest {
  std::string user;
  std::string password;  // 1 to 128 bytes
  std::string nas_identifier;
  std::string calling_station_id;  // not sent when empty
};

struct RadiusAttribute {
  std::uint8_t type = 0;
  std::string value;
};

struct RadiusReply {
  RadiusCode code = RadiusCode::kAccessReject;
  std::vector<RadiusAttribute> attributes;  // in the order received
  bool message_authenticator = false;       // it had one (and it was right)
};

// User-Password hidden as RFC 2865 §5.2 says: the password padded with NULs to a multiple of 16
// bytes, each 16-byte block XORed with MD5(secret + the previous block of the result), the first
// with MD5(secret + Request Authenticator). Empty for a password of more than 128 bytes or when
// OpenSSL has no MD5.
std::vector<std::uint8_t> hideRadiusPassword(std::string_view password, std::string_view secret,
                                             const RadiusVector& request_authenticator);

// An Access-Request: User-Name, User-Password (hidden), NAS-Identifier, Service-Type Login-User,
// Calling-Station-Id (when not empty) and Message-Authenticator (RFC 3579 §3.2: HMAC-MD5 keyed by
// the secret over the packet with the attribute's value zeroed). Empty when a value does not fit
// in an attribute or OpenSSL has no MD5.
std::vector<std::uint8_t> buildRadiusAccessRequest(const RadiusRequest& request,
                                                   std::uint8_t identifier,
                                                   const RadiusVector& request_authenticator,
                                                   std::string_view secret);

// A datagram received in reply to the Access-Request with `identifier` and
// `request_authenticator`, checked: 20 to 4096 bytes and not shorter than its Length field (bytes
// beyond it are padding, RFC 2865 §3), the identifier, the code (Access-Accept, -Reject or
// -Challenge), every attribute at least 2 bytes long and within the packet, the Response
// Authenticator (MD5 of Code, Identifier, Length, the Request Authenticator, the attributes and
// the secret), and a Message-Authenticator when there is one (exactly one, 18 bytes, HMAC-MD5 as
// RFC 3579 §3.2 says). Errors (kProtocol) say which check failed; such a datagram is to be
// ignored.
Result<RadiusReply> parseRadiusReply(std::span<const std::uint8_t> packet, std::uint8_t identifier,
                                     const RadiusVector& request_authenticator,
                                     std::string_view secret);

struct RadiusSettings {
  std::vector<RadiusServer> servers;  // tried in order; the next one when one does not answer
  std::string secret;                 // shared with every server
  DurationMs timeout_ms = 3000;       // per attempt
  int retries = 1;                    // attempts after the first, per server
  std::string nas_identifier = "equalis";
  RoleAttribute role_attribute = RoleAttribute::kFilterId;
  std::optional<Role> default_role;  // for an Access-Accept without a role; none: refused
  std::size_t max_concurrent = 2;    // logins talking to the servers at the same time (1 to 64)
};

// Checks settings: 1 to 8 servers, a secret of 1 to 96 printable ASCII characters without space,
// comma or square brackets, timeout_ms from 100 to 60000, retries 0 to 10, a NAS-Identifier of 1
// to 64 printable ASCII characters. Errors (kInvalidArgument) name the setting; the secret itself
// is never shown.
Status validateRadiusSettings(const RadiusSettings& settings);

class RadiusAuthenticator {
 public:
  // Validates the settings and checks that OpenSSL provides MD5 (not in FIPS mode).
  static Result<std::unique_ptr<RadiusAuthenticator>> create(RadiusSettings settings);

  RadiusAuthenticator(const RadiusAuthenticator&) = delete;
  RadiusAuthenticator& operator=(const RadiusAuthenticator&) = delete;
  ~RadiusAuthenticator();

  // Sends an Access-Request (User-Name, User-Password, NAS-Identifier, Service-Type Login-User,
  // Calling-Station-Id = `client_address`, Message-Authenticator) and returns the principal {user,
  // role, "radius"} of an Access-Accept with a usable role. Errors:
  //   kInvalidArgument "unknown user or wrong password" — Access-Reject, an Access-Accept without
  //     a usable role (the reason is logged), an Access-Challenge (not supported), a user name
  //     that is not a valid account name or a password of more than 128 bytes (not sent);
  //   kUnavailable "RADIUS server not reachable" — no server answered (logged), or no valid
  //     answer (replies that fail a check are ignored, and the client goes on waiting until the
  //     attempt's timeout); kUnavailable also when max_concurrent logins are already in progress.
  Result<Principal> authenticate(std::string_view user, std::string_view password,
                                 std::string_view client_address);

  const RadiusSettings& settings() const { return settings_; }
  // The servers as "HOST:PORT, HOST:PORT" (no secret), for logs.
  std::string serversText() const;

 private:
  explicit RadiusAuthenticator(RadiusSettings settings);
  Result<Principal> accepted(std::string_view user, const std::vector<std::string>& values) const;

  const RadiusSettings settings_;
  std::counting_semaphore<kMaxRadiusConcurrent> slots_;
};

}  // namespace equalis::auth
