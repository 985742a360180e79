// Fuzz target: REST query strings ("from=…&to=…&limit=…&kind=…&string=…&block=…"), decoded as the
// server does and parsed into an event query and a history range for the demo plant.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/rest/request.hpp"
#include "model/plant.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const equalis::model::PlantConfig plant = equalis::model::demoPlant();
  constexpr equalis::TimeMs kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto params = equalis::rest::parseQueryString(text);
  (void)equalis::rest::parseEventQuery(params, kNow, plant);
  (void)equalis::rest::parseRange(params, kNow);
  for (const auto& [key, value] : params) {
    (void)equalis::rest::parseIndex(value, key, static_cast<int>(plant.strings.size()));
  }
  return 0;
}
