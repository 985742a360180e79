// The simulated site of io/simulated_site.hpp over the plant simulator: the plant side's wiring
// (runtime, tests), never linked by code that reads I/O.
#pragma once

#include "io/simulated_site.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::io {

class PlantSite final : public SimulatedSite {
 public:
  explicit PlantSite(sim::PlantSim& plant) : plant_(plant) {}
  std::size_t stringCount() const override { return plant_.stringCount(); }
  std::size_t blockCount(std::size_t string_index) const override {
    return plant_.blockCount(string_index);
  }
  bool breakerClosed(std::size_t string_index) const override {
    return plant_.breakerClosed(string_index);
  }
  std::optional<bool> contact(const std::string& channel_id) const override {
    return plant_.contact(channel_id);
  }
  double ambientTemperatureC() const override { return plant_.ambientTemperatureC(); }
  double roomHumidityPct() const override { return plant_.roomHumidityPct(); }
  double roomHydrogenPct() const override { return plant_.roomHydrogenPct(); }
  model::ElectrolyteLevel electrolyteLevel(std::size_t string_index,
                                           std::size_t block_index) const override;
  void openBreaker(std::size_t string_index) override {
    plant_.setBreakerClosed(string_index, false);
  }
  void setChargerReduced(std::size_t string_index, bool reduced) override {
    plant_.setChargerReduced(string_index, reduced);
  }

 private:
  sim::PlantSim& plant_;
};

}  // namespace equalis::io
