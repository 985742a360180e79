// Battery chemistries and measuring-module types, with the figures of the seed datasheets
// (BACS 3/4 module sheets) and battery-science.md §6.4.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace equalis::model {

enum class Chemistry { kVrla12V, kVrla2V, kVented2V, kLiFePO4, kNiCd };

struct ChemistryInfo {
  Chemistry chemistry;
  std::string_view key;  // config spelling: "vrla-12v", "vrla-2v", "vented-2v", "lifepo4", "nicd"
  std::string_view description;  // human-readable
  int cells_per_block;
  double nominal_voltage_v;     // per block
  double ocv_empty_v;           // rested OCV at 0 % SOC, per block, 25 °C
  double ocv_full_v;            // rested OCV at 100 % SOC, per block, 25 °C
  double float_v_per_cell;      // default float / top-balance voltage per cell at 25 °C
  double float_v_per_cell_min;  // sane range for a configured float voltage
  double float_v_per_cell_max;
  double temp_comp_mv_per_k_per_cell;  // default charger temperature compensation (negative)
  double end_of_discharge_v_per_cell;
  double capacity_ah_min;  // plausible nominal capacity range for config validation
  double capacity_ah_max;
};

enum class ModuleType { kC20, kC23, kC24, kC30, kC40, kC41, kC44 };

struct ModuleTypeInfo {
  ModuleType type;
  std::string_view key;  // "C20" …
  int generation;        // BACS 3 or 4 line
  double voltage_min_v;  // operating range of the measuring input
  double voltage_max_v;
  double ri_min_mohm;  // Ri measuring range
  double ri_max_mohm;
  double bypass_current_a;    // equalization (bypass) current
  double bypass_power_max_w;  // thermal cap of the bypass (≈ 2 W for every module, §0)
  double voltage_accuracy_pct;
  double ri_accuracy_pct;
  double temperature_accuracy_c;
};

// Capacity at `temperature_c` as a fraction of the capacity at 25 °C, from manufacturers' tables
// (piecewise linear, flat beyond the last point above, extrapolated with the first slope below
// and floored at 30 %):
//   lead-acid: 65 % at −15 °C (USF12-100A), 86 % at 0 °C, 100 % at 25 °C, 103 % at 40 °C
//   (Leoch LP12-100, battery-science.md §2.5; the USF sheet gives the same three);
//   LiFePO4: 50 % at −20 °C, 80 % at 0 °C, 100 % at 25 °C (Victron LFP-Smart 12,8/100);
//   NiCd pocket plate [G]: 80 % at −20 °C, 95 % at 0 °C, flat above 25 °C.
// (tests/data/discharge has the lead-acid and LiFePO4 sources.) The simulator's blocks follow it,
// and a capacity test is corrected to 25 °C with it.
double capacityTemperatureFactor(Chemistry c, double temperature_c);

// Charge delivered to the chemistry's end voltage at a constant current of `c_rate` × C10 (A per
// Ah of the 10-hour capacity), as a fraction of C10, at 25 °C:
//   lead-acid: the USF12-100A constant-current table to 1.75 V/cell (14 points, 10 min … 20 h,
//   tests/data/discharge/unidentified-usf12-100a.toml): 36 % of C10 in 10 min, 68 % in 1 h,
//   105 % in 10 h, 112 % in 20 h; interpolated in log(rate), flat beyond the ends;
//   LiFePO4 and NiCd [G]: Peukert k = 1.03 and 1.05 about C/10 (battery-science.md §6.4; no
//   published table obtained), clamped to 0.5 … 1.1.
// What a UPS sizing table gives: the runtime at a load is capacityAtRate(I/C10) · C10 / I.
double capacityAtRate(Chemistry c, double c_rate);

std::span<const ChemistryInfo> chemistries();
std::span<const ModuleTypeInfo> moduleTypes();
const ChemistryInfo& chemistryInfo(Chemistry c);
const ModuleTypeInfo& moduleTypeInfo(ModuleType t);
std::optional<Chemistry> parseChemistry(std::string_view key);
std::optional<ModuleType> parseModuleType(std::string_view key);

}  // namespace equalis::model
