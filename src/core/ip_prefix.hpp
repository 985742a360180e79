// IP addresses and CIDR prefixes for address allowlists ("10.0.0.0/8", "::1", "fd00::/8").
// IPv4 is kept in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so that an IPv4 client accepted on
// a dual-stack IPv6 socket matches an IPv4 entry.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::net {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};  // IPv6 network order; IPv4 as ::ffff:a.b.c.d

  bool isV4() const;
  // "10.1.2.3" for IPv4 (also when mapped), "fd00::1" for IPv6.
  std::string toString() const;
  bool operator==(const IpAddress&) const = default;
};

// An IPv4 or IPv6 literal ("127.0.0.1", "::1"); nullopt for anything else (names, zone ids).
std::optional<IpAddress> parseIpAddress(std::string_view text);
// The address of a socket peer (sockaddr_in or sockaddr_in6); nullopt for other families.
std::optional<IpAddress> fromSockaddr(const sockaddr_storage& address);

struct IpPrefix {
  IpAddress network;
  int bits = 128;  // prefix length in the 128-bit form (IPv4 /8 is 96 + 8)

  bool contains(const IpAddress& address) const;
  // As written in a configuration: "10.0.0.0/8", "::1", "fd00::/8".
  std::string toString() const;
  bool operator==(const IpPrefix&) const = default;
};

// "ADDRESS" (a single host) or "ADDRESS/LENGTH", IPv4 (length 0–32) or IPv6 (0–128). Refused,
// with the reason: host names, zone ids, a length out of range or not a plain number, and
// addresses with bits set past the prefix ("10.0.0.1/8": the network is 10.0.0.0/8).
Result<IpPrefix> parseIpPrefix(std::string_view text);

}  // namespace equalis::net
