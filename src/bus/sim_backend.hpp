// Bus backend answering from the plant simulator: what a real module line would return.
#pragma once

#include <memory>

#include "bus/bus.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::bus {

class SimBackend final : public Backend {
 public:
  explicit SimBackend(sim::PlantSim& plant) : plant_(plant) {}
  std::size_t stringCount() const override { return plant_.stringCount(); }
  std::size_t blockCount(std::size_t string_index) const override {
    return plant_.blockCount(string_index);
  }
  Result<ModuleReading> readModule(std::size_t string_index, std::size_t block_index) override;
  Result<StringSensorReading> readStringSensor(std::size_t string_index) override;
  Result<std::int16_t> readAmbientDc() override;
  Status writeBypass(std::size_t string_index, std::size_t block_index,
                     std::uint8_t duty_pct) override;

 private:
  sim::PlantSim& plant_;
};

// The backend for a plant: the module-bus lines of plant.bus.lines, or, without lines, the
// in-process simulator `sim` (which must then be given).
Result<std::unique_ptr<Backend>> openBackend(const model::PlantConfig& plant, const Clock& clock,
                                             sim::PlantSim* sim);

}  // namespace equalis::bus
