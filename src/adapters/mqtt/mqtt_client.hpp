// MQTT publisher (libmosquitto): per-block and per-string state, availability (last will) and
// Home Assistant discovery (docs/mqtt.md).
#pragma once

#include <string>

#include "adapters/common/service.hpp"

namespace equalis::mqtt {

// spec "mqtt://[user:password@]HOST[:PORT][/PREFIX]" or "mqtts://…" (TLS).
Result<adapters::ServicePtr> start(const adapters::Context& ctx, const std::string& spec);

}  // namespace equalis::mqtt
