// The --snmp spec: "HOST:PORT[?key=value&…]" (UDP). Keys:
//   community=NAME   v1/v2c read-only community (default "public"); "community=" disables v1/v2c
//   v3user=NAME      SNMPv3 USM user (authPriv only), with
//   auth=PASS        its SHA authentication passphrase (≥ 8 characters) and
//   priv=PASS        its AES privacy passphrase (≥ 8 characters)
//   trap=HOST:PORT   v2c notification receiver, trapcommunity=NAME (default "public")
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::snmp {

struct AgentOptions {
  std::string host;
  int port = 0;
  std::string community = "public";
  std::string v3_user;
  std::string v3_auth_pass;
  std::string v3_priv_pass;
  std::string trap_host;
  int trap_port = 0;
  std::string trap_community = "public";

  bool v3Enabled() const { return !v3_user.empty(); }
  bool trapEnabled() const { return !trap_host.empty(); }
};

inline constexpr std::size_t kMinPassphraseLength = 8;  // net-snmp (RFC 3414 key localization)

Result<AgentOptions> parseSpec(std::string_view spec);

}  // namespace equalis::snmp
