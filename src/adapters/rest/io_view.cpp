#include "adapters/rest/io_view.hpp"

#include <cmath>

#include <fmt/format.h>

namespace equalis::rest {

namespace {

using json = nlohmann::ordered_json;

double rounded(double v) {
  constexpr double kScale = 1e4;  // 4 decimals: hydrogen in % vol has small values
  return std::round(v * kScale) / kScale;
}

json timeJson(TimeMs t) {
  return t > 0 ? json(formatIso8601(t)) : json(nullptr);
}

}  // namespace

json ioChannelJson(const io::ChannelSnapshot& c, TimeMs now_ms) {
  json j;
  j["id"] = c.id;
  j["channel"] = c.channel;
  j["name"] = c.name;
  j["configured_name"] = c.configured_name;
  j["kind"] = std::string(model::channelKindName(c.kind));
  j["output"] = c.output;
  j["role"] = std::string(model::channelRoleName(c.role));
  j["string"] = c.string_number > 0 ? json(c.string_number) : json(nullptr);
  if (model::isDigitalKind(c.kind)) {
    j["active_low"] = c.active_low;
  }
  j["point"] = c.point ? json(std::string(model::point(*c.point).name)) : json(nullptr);
  const bool has_value = std::isfinite(c.value) && c.time_ms > 0 &&
                         c.quality != model::Quality::kNotPresent &&
                         c.quality != model::Quality::kInvalid;
  if (!has_value) {
    j["value"] = nullptr;
  } else if (model::isDigitalKind(c.kind)) {
    j["value"] = c.value != 0.0;
  } else if (c.kind == model::ChannelKind::kElectrolyteLevel) {
    j["value"] = std::string(
        model::enumName(model::PointId::kStringElectrolyteLevel, static_cast<int>(c.value)));
  } else {
    j["value"] = rounded(c.value);
  }
  j["unit"] = c.unit;
  j["quality"] = std::string(model::qualityName(c.quality));
  j["time"] = timeJson(c.time_ms);
  j["age_s"] =
      c.time_ms > 0 ? json(static_cast<double>(now_ms - c.time_ms) / 1000.0) : json(nullptr);
  if (c.quality == model::Quality::kInvalid && std::isfinite(c.value)) {
    j["raw"] = rounded(c.value);  // e.g. the loop current of an open 4–20 mA input
  }
  if (!c.error.empty()) {
    j["error"] = c.error;
  }
  if (c.output) {
    j["commanded"] = c.commanded ? json(*c.commanded) : json(nullptr);
    j["pending"] = c.pending;
    j["pulse_until"] = timeJson(c.pulse_end_ms);
  }
  return j;
}

json ioJson(const std::vector<io::DeviceSnapshot>& devices,
            const std::vector<io::ChannelSnapshot>& channels, TimeMs now_ms) {
  json arr = json::array();
  for (const auto& d : devices) {
    json dj;
    dj["id"] = d.id;
    dj["name"] = d.name;
    dj["type"] = std::string(model::ioDeviceModel(d.type).key);
    dj["transport"] = std::string(model::ioTransportName(d.transport));
    dj["endpoint"] = d.endpoint;
    dj["state"] = d.state;
    dj["error"] = d.error.empty() ? json(nullptr) : json(d.error);
    dj["last_ok"] = timeJson(d.last_ok_ms);
    dj["polls"] = d.polls;
    dj["failures"] = d.failures;
    json ch = json::array();
    for (const auto& c : channels) {
      if (c.device_id == d.id) {
        ch.push_back(ioChannelJson(c, now_ms));
      }
    }
    dj["channels"] = std::move(ch);
    arr.push_back(std::move(dj));
  }
  return json{{"time", formatIso8601(now_ms)}, {"devices", std::move(arr)}};
}

}  // namespace equalis::rest
