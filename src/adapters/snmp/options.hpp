// The --snmp spec: "HOST:PORT[?key=value&…]" (UDP). Keys:
//   community=NAME      v1/v2c read-only community (default "public"); "community=" disables
//                       v1/v2c
//   writecommunity=NAME v1/v2c community that may also SET eqAlarmAcknowledged (default none)
//   v3user=NAME         SNMPv3 USM user (authPriv only), with
//   auth=PASS           its SHA authentication passphrase (≥ 8 characters) and
//   priv=PASS           its AES privacy passphrase (≥ 8 characters)
//   v3write=true|false  the v3 user may SET eqAlarmAcknowledged (default false)
//   engineid=HEX        the agent's snmpEngineID (default: net-snmp's)
//   trap=HOST:PORT      notification receiver, trapcommunity=NAME (default "public"),
//   trapversion=2c|3    v2c (community) or v3 (the v3 user, authPriv) notifications,
//   inform=true|false   informs (confirmed, retried) instead of traps
//   insecure_v2c=true   allow v1/v2c communities (clear text) on an address off loopback;
//                       without it such a spec is refused (use a v3 user and community=)
// The [snmp] configuration keys give the same options (model::ProtocolConfig::snmp_options);
// options in the spec override them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  std::string write_community;  // empty: no v1/v2c write access
  bool v3_write = false;
  std::string engine_id;  // bytes (decoded from hex); empty: net-snmp's default
  int trap_version = 2;   // 2 (v2c) or 3
  bool inform = false;
  bool insecure_v2c = false;  // v1/v2c communities accepted off loopback

  bool v3Enabled() const { return !v3_user.empty(); }
  bool trapEnabled() const { return !trap_host.empty(); }
  bool writable() const { return !write_community.empty() || (v3Enabled() && v3_write); }
};

inline constexpr std::size_t kMinPassphraseLength = 8;  // net-snmp (RFC 3414 key localization)

// `base` options (from the configuration, applied first) and then the spec's own options.
Result<AgentOptions> parseSpec(std::string_view spec,
                               const std::vector<std::pair<std::string, std::string>>& base = {});

}  // namespace equalis::snmp
