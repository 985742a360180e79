#include "io/plant_site.hpp"

#include "sim/room.hpp"

namespace equalis::io {

model::ElectrolyteLevel PlantSite::electrolyteLevel(std::size_t string_index,
                                                    std::size_t block_index) const {
  return sim::electrolyteState(plant_.electrolyteLevelPct(string_index, block_index));
}

}  // namespace equalis::io
