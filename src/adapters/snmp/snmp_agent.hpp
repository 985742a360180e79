// SNMP agent (net-snmp, embedded master agent): RFC 1628 UPS-MIB battery group and EQUALIS-MIB.
#pragma once

#include <string>

#include "adapters/common/service.hpp"

namespace equalis::snmp {

// spec "HOST:PORT[?community=…&v3user=…&auth=…&priv=…&trap=HOST:PORT&trapcommunity=…]" (UDP),
// see adapters/snmp/options.hpp and docs/snmp.md. net-snmp has global state: one agent per
// process; a second start() fails with kUnavailable until the first is stopped.
Result<adapters::ServicePtr> start(const adapters::Context& ctx, const std::string& spec);
// Whether start() would take `spec` (the part checked before net-snmp is set up): a change that
// can only apply at the next start of the process is checked with this.
Status checkSpec(const adapters::Context& ctx, const std::string& spec);

// A notification of EQUALIS-MIB (equalisMIB.0.N), sent to the notification receiver of the spec
// as a v2c or v3 trap or inform. equalisAgentStart is sent by the agent itself once it listens.
struct Notification {
  enum class Kind { kAgentStart = 1, kAlarmRaised = 2, kAlarmCleared = 3, kAlarmAcknowledged = 4 };
  Kind kind = Kind::kAgentStart;
  // Alarm varbinds (eqAlarmCode, eqAlarmSeverity, eqAlarmStringIndex, eqAlarmBlockIndex,
  // eqAlarmText); ignored for kAgentStart. Indices are 1-based, 0 = system / whole string.
  // The varbinds are instances of the eqAlarmTable row `alarm_id` (eqAlarmCode.<alarm_id> …).
  unsigned alarm_id = 0;
  std::string code;
  int severity = 1;  // info(1), warning(2), critical(3)
  int string_number = 0;
  int block_number = 0;
  std::string text;
};

// Queues a notification for the running agent (thread-safe; sent from the agent thread).
// kUnavailable when no agent runs or it has no trap receiver.
Status sendTrap(const Notification& notification);

}  // namespace equalis::snmp
