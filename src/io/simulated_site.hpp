// What the simulated I/O devices are wired to (transport = "simulated"): the breakers, contacts,
// room sensors and electrolyte sensors of a simulated site, and the relays' effect on it. The
// I/O layer sees the site only through this; the plant side implements it over the plant
// simulator (io/plant_site.hpp), so nothing that reads I/O can reach the simulator's truth
// (cmake/TruthFirewall.cmake).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "model/points.hpp"

namespace equalis::io {

class SimulatedSite {
 public:
  virtual ~SimulatedSite() = default;
  virtual std::size_t stringCount() const = 0;
  virtual std::size_t blockCount(std::size_t string_index) const = 0;
  virtual bool breakerClosed(std::size_t string_index) const = 0;
  // A contact wired to a digital input ("aux1.di3"); empty: nothing wired there.
  virtual std::optional<bool> contact(const std::string& channel_id) const = 0;
  virtual double ambientTemperatureC() const = 0;
  virtual double roomHumidityPct() const = 0;
  virtual double roomHydrogenPct() const = 0;
  virtual model::ElectrolyteLevel electrolyteLevel(std::size_t string_index,
                                                   std::size_t block_index) const = 0;
  // A breaker_trip relay energised (shunt trip); closing again is a hand operation.
  virtual void openBreaker(std::size_t string_index) = 0;
  // A charger_reduce relay: the charger's "reduce voltage" input.
  virtual void setChargerReduced(std::size_t string_index, bool reduced) = 0;
};

}  // namespace equalis::io
