#include "model/plant.hpp"

namespace equalis::model {

int PlantConfig::moduleCount() const {
  int n = 0;
  for (const auto& s : strings) {
    n += s.block_count;
  }
  return n;
}

PlantConfig demoPlant() {
  PlantConfig p;
  StringConfig old_string;
  old_string.name = "String 1";
  old_string.block_count = 32;
  old_string.chemistry = Chemistry::kVrla12V;
  old_string.capacity_ah = 100.0;
  old_string.module_type = ModuleType::kC24;
  old_string.age_years = 5.0;
  StringConfig new_string = old_string;
  new_string.name = "String 2";
  new_string.age_years = 0.0;
  p.strings = {old_string, new_string};
  return p;
}

}  // namespace equalis::model
