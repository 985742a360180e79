// Protocol adapter settings changed at run time (the settings page,
// PUT /api/v1/system/protocols/{name}): kept in <data_dir>/protocols.json as
// {"version": 1, "protocols": {"modbus_tcp": "127.0.0.1:1502", "snmp": ""}} and laid over the
// configuration file ([modbus] tcp and rtu, [snmp] listen, [mqtt] url). An empty spec turns the
// adapter off. The spec texts are those of the command-line flags (docs/configuration.md).
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::model {

struct ProtocolKind {
  std::string_view key;     // "modbus_tcp": the name in protocols.json and the API
  std::string_view flag;    // "--modbus-tcp"
  std::string_view label;   // "Modbus TCP server"
  std::string_view config;  // "[modbus] tcp": where the configuration file sets it
  std::string_view form;    // "HOST:PORT": what a spec looks like
};

inline constexpr std::array<ProtocolKind, 4> kProtocolKinds{{
    {"modbus_tcp", "--modbus-tcp", "Modbus TCP server", "[modbus] tcp", "HOST:PORT"},
    {"modbus_rtu", "--modbus-rtu", "Modbus RTU slave", "[modbus] rtu",
     "DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]"},
    {"snmp", "--snmp", "SNMP agent", "[snmp] listen", "HOST:PORT[?options]"},
    {"mqtt", "--mqtt", "MQTT publisher", "[mqtt] url",
     "mqtt[s]://[user:password@]HOST[:PORT][/PREFIX][?options]"},
}};

inline constexpr std::size_t kProtocolSpecMaxBytes = 1024;
// What stands for a secret in a spec shown to a user; sent back, it keeps the secret in force.
inline constexpr std::string_view kSecretMask = "********";

// The kind named `key`, or null.
const ProtocolKind* protocolKind(std::string_view key);

// Why `spec` cannot be a spec at all, or "" (at most 1024 bytes, printable ASCII, no spaces).
// Whether it is a good spec for its adapter is for the adapter to say when it starts.
std::string protocolSpecProblem(std::string_view spec);

// The spec with its secrets (an MQTT password; SNMP communities and pass phrases) replaced by
// kSecretMask, for the API, the audit trail and the logs.
std::string redactedProtocolSpec(std::string_view key, std::string_view spec);
// `next` with every kSecretMask taken from the same place in `current` (the spec in force), so a
// user can change a port without typing the password again. A mask with no secret to take
// stays as it is (and is then the secret).
std::string protocolSpecKeepingSecrets(std::string_view key, std::string_view next,
                                       std::string_view current);

// The file's specs by protocol key; an error naming what is wrong (never a partial map).
Result<std::map<std::string, std::string>> parseProtocolsFile(const std::string& text);
std::string protocolsFileText(const std::map<std::string, std::string>& specs);

}  // namespace equalis::model
