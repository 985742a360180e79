// JSON views and request parsing of the I/O endpoints (GET /api/v1/io,
// POST /api/v1/io/outputs/{id}); see docs/api.md.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "io/hub.hpp"

namespace equalis::rest {

// One channel: value (bool for digital, "good"/"warning"/"alarm" for an electrolyte level,
// a number otherwise; null when there is none), unit, quality, time, age_s and its role.
nlohmann::ordered_json ioChannelJson(const io::ChannelSnapshot& c, TimeMs now_ms);
// {"devices": [{…, "channels": […]}]}.
nlohmann::ordered_json ioJson(const std::vector<io::DeviceSnapshot>& devices,
                              const std::vector<io::ChannelSnapshot>& channels, TimeMs now_ms);

// The body of POST /api/v1/io/outputs/{id}: {"on": true|false} or {"pulse_ms": 1…3600000}.
struct OutputCommand {
  std::optional<bool> on;
  std::optional<DurationMs> pulse_ms;
};
struct OutputCommandError {
  std::string parameter;
  std::string message;
};
std::variant<OutputCommand, OutputCommandError> parseOutputCommand(const std::string& body);

}  // namespace equalis::rest
