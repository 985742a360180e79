#include "core/ip_prefix.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace equalis::net {

namespace {

constexpr int kV4MappedBits = 96;  // ::ffff:0:0/96
constexpr int kV4Bits = 32;
constexpr int kV6Bits = 128;
constexpr std::size_t kV4Offset = 12;

IpAddress mapV4(const std::uint8_t* v4) {
  IpAddress a;
  a.bytes[10] = 0xFF;
  a.bytes[11] = 0xFF;
  std::copy(v4, v4 + 4, a.bytes.begin() + kV4Offset);
  return a;
}

// True when the address has no bit set past the first `bits`.
bool hostBitsClear(const IpAddress& a, int bits) {
  for (int i = bits; i < kV6Bits; ++i) {
    if ((a.bytes[static_cast<std::size_t>(i / 8)] & (0x80U >> (i % 8))) != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IpAddress::isV4() const {
  return std::all_of(bytes.begin(), bytes.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         bytes[10] == 0xFF && bytes[11] == 0xFF;
}

std::string IpAddress::toString() const {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (isV4()) {
    ::inet_ntop(AF_INET, bytes.data() + kV4Offset, text.data(), text.size());
  } else {
    ::inet_ntop(AF_INET6, bytes.data(), text.data(), text.size());
  }
  return text.data();
}

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  const std::string s(text);
  std::array<std::uint8_t, 16> buf{};
  if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1) {
    return mapV4(buf.data());
  }
  if (::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) {
    IpAddress a;
    a.bytes = buf;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> fromSockaddr(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &address, sizeof(v4));
    std::array<std::uint8_t, 4> raw{};
    std::memcpy(raw.data(), &v4.sin_addr, raw.size());
    return mapV4(raw.data());
  }
  if (address.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &address, sizeof(v6));
    IpAddress a;
    std::memcpy(a.bytes.data(), &v6.sin6_addr, a.bytes.size());
    return a;
  }
  return std::nullopt;
}

bool IpPrefix::contains(const IpAddress& address) const {
  const auto whole = static_cast<std::size_t>(bits / 8);
  if (!std::equal(network.bytes.begin(), network.bytes.begin() + static_cast<std::ptrdiff_t>(whole),
                  address.bytes.begin())) {
    return false;
  }
  const int rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
  return (network.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

std::string IpPrefix::toString() const {
  const bool v4 = network.isV4() && bits >= kV4MappedBits;
  const int length = v4 ? bits - kV4MappedBits : bits;
  if (length == (v4 ? kV4Bits : kV6Bits)) {
    return network.toString();
  }
  return fmt::format("{}/{}", network.toString(), length);
}

Result<IpPrefix> parseIpPrefix(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  const auto address = parseIpAddress(host);
  if (!address) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" is not an IP address or CIDR prefix (e.g. \"10.0.0.0/8\" "
                                 "or \"fd00::/8\"; host names are not allowed)",
                                 text));
  }
  const bool v4 = host.find(':') == std::string_view::npos;
  const int max_bits = v4 ? kV4Bits : kV6Bits;
  int length = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const bool plain =
        !digits.empty() && digits.size() <= 3 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    length = plain ? std::stoi(std::string(digits)) : -1;
    if (length < 0 || length > max_bits) {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("\"{}\": the prefix length must be a number from 0 to {}", text, max_bits));
    }
  }
  IpPrefix prefix{*address, v4 ? kV4MappedBits + length : length};
  if (!hostBitsClear(prefix.network, prefix.bits)) {
    IpPrefix network = prefix;
    for (int i = prefix.bits; i < kV6Bits; ++i) {
      network.network.bytes[static_cast<std::size_t>(i / 8)] &=
          static_cast<std::uint8_t>(~(0x80U >> (i % 8)));
    }
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("\"{}\" has bits set past the prefix length (the network is "
                                 "\"{}\")",
                                 text, network.toString()));
  }
  return prefix;
}

}  // namespace equalis::net
