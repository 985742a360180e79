// SNMP agent (net-snmp, embedded master agent): RFC 1628 UPS-MIB battery group and EQUALIS-MIB.
#pragma once

#include <string>

#include "adapters/common/service.hpp"

namespace equalis::snmp {

// spec "HOST:PORT" (UDP).
Result<adapters::ServicePtr> start(const adapters::Context& ctx, const std::string& spec);

}  // namespace equalis::snmp
