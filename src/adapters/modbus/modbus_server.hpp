// Modbus TCP server and RTU slave (libmodbus) serving the register map generated from the point
// catalogue (docs/modbus.md).
#pragma once

#include <string>

#include "adapters/common/service.hpp"

namespace equalis::modbus {

// spec "HOST:PORT" (port 0 = any free port; describe() names the bound port).
Result<adapters::ServicePtr> startTcp(const adapters::Context& ctx, const std::string& spec);
// spec "DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]", e.g. "/dev/ttyUSB0:19200:N:1".
Result<adapters::ServicePtr> startRtu(const adapters::Context& ctx, const std::string& spec);

}  // namespace equalis::modbus
