// Quality travels with every value: a value is only "ok" when it is fresh and plausible.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace equalis::model {

enum class Quality : std::uint8_t {
  kOk = 0,          // fresh, within the sensor's range
  kStale = 1,       // last good value is older than the staleness limit
  kCommLost = 2,    // the module/sensor did not answer the last sweeps
  kInvalid = 3,     // answered, but the value is outside the sensor's range
  kNotPresent = 4,  // no such sensor configured, or never measured
};

std::string_view qualityName(Quality q);
std::optional<Quality> parseQuality(std::string_view name);

}  // namespace equalis::model
