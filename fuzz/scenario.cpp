// Fuzz target: scenario files (TOML text → scripted events), checked against the demo plant.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/plant.hpp"
#include "sim/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const equalis::model::PlantConfig plant = equalis::model::demoPlant();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto scenario = equalis::sim::parseScenario(text, "fuzz.toml");
  if (!scenario) {
    return 0;
  }
  (void)equalis::sim::validate(*scenario, plant);
  return 0;
}
