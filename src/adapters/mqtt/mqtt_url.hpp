// The --mqtt URL: mqtt[s]://[user[:password]@]HOST[:PORT][/PREFIX][?option=value&…]
// parsed into connection and publishing settings (docs/mqtt.md).
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::mqtt {

enum class DiscoveryMode { kAll, kStrings, kOff };

struct MqttSettings {
  bool tls = false;
  std::string host;
  int port = 1883;
  std::string username;  // empty: anonymous
  std::string password;
  bool has_password = false;
  std::string prefix;     // topic prefix without trailing '/'; empty: caller's default
  std::string cafile;     // mqtts only; empty: the system CA store
  std::string certfile;   // mqtts only: client certificate (PEM), with keyfile
  std::string keyfile;    // mqtts only: its private key (PEM, unencrypted)
  bool insecure = false;  // mqtts only: skip the host name check (the chain is still verified)
  int keepalive_s = 30;   // MQTT keepalive
  int interval_s = 10;    // at most one publish per topic per interval (real time)
  std::string client_id;  // empty: derived from site and pid
  DiscoveryMode discovery = DiscoveryMode::kAll;
  std::string discovery_prefix = "homeassistant";
};

// Parses the URL; every problem is an kInvalidArgument error naming the offending part.
Result<MqttSettings> parseMqttUrl(std::string_view spec);

// "mqtt://user@host:1883/prefix" — the URL without password and options (for logs).
std::string redactedUrl(const MqttSettings& s);

// A topic prefix is valid when it has no wildcards, no empty levels and does not start with '$'.
bool validTopicPrefix(std::string_view prefix);

std::string_view discoveryModeName(DiscoveryMode m);

}  // namespace equalis::mqtt
