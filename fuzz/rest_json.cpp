// Fuzz target: JSON request bodies and the alarm-rule overrides file: PUT
// /api/v1/alarms/rules/{id} (an override object), POST /api/v1/io/outputs/{id} (an output
// command) and data_dir/alarm_rules.json.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/rest/request.hpp"
#include "alarms/rules_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto body = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!body.is_discarded()) {
    for (const bool with_target : {false, true}) {
      const auto change = equalis::alarms::overrideFromJson(body, with_target);
      if (change) {
        (void)equalis::alarms::overrideJson(*change).dump();
      }
    }
  }
  if (const auto file = equalis::alarms::parseOverridesFile(text)) {
    (void)equalis::alarms::overridesFileText(*file);
  }
  (void)equalis::rest::parseOutputCommand(text);
  return 0;
}
