// JSON views and request parsing of the I/O endpoints (GET /api/v1/io,
// POST /api/v1/io/outputs/{id}); see docs/api.md.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/rest/request.hpp"  // parseOutputCommand
#include "core/clock.hpp"
#include "io/hub.hpp"

namespace equalis::rest {

// One channel: value (bool for digital, "good"/"warning"/"alarm" for an electrolyte level,
// a number otherwise; null when there is none), unit, quality, time, age_s and its role.
nlohmann::ordered_json ioChannelJson(const io::ChannelSnapshot& c, TimeMs now_ms);
// {"devices": [{…, "channels": […]}]}.
nlohmann::ordered_json ioJson(const std::vector<io::DeviceSnapshot>& devices,
                              const std::vector<io::ChannelSnapshot>& channels, TimeMs now_ms);

}  // namespace equalis::rest
