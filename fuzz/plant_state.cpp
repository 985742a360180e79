// Fuzz target: saved plant states (PlantSim::restoreState), against a two-block plant. A state
// is framed by a magic, a version, a size and a checksum; bytes that pass the frame are a state
// this build wrote, so the fuzzer mainly exercises the frame checks (seed: a valid state).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const equalis::model::PlantConfig plant = [] {
    auto c = equalis::model::demoPlant();
    c.strings.resize(1);
    c.strings[0].block_count = 2;
    return c;
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto sim = equalis::sim::PlantSim::restoreState(plant, bytes);
  if (sim.ok()) {
    (*sim)->advanceTo((*sim)->timeMs() + 60'000);
  }
  return 0;
}
