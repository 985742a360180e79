// The simulated battery room, as the room sensors see it: hydrogen from the blocks' gassing
// current diluted by the ventilation, relative humidity with a slow day/night swing, and the
// electrolyte level of the cells. Pure and deterministic (the only random number is a phase drawn
// from the seed).
//
// Sources (tags as in battery-science.md: [R] read in a source, [D] derived, [G] guess):
//  [R] Faraday's law: 1 Ah of gassing charge splits water in each cell into 1/(2F) mol H2 =
//      3600 C / (2 × 96485 C/mol) = 0.018655 mol; at 0 °C, 1 atm (22.414 L/mol) that is 0.418 L,
//      at 25 °C (24.465 L/mol) 0.456 L. EN IEC 62485-2:2018 §7.2 rounds it to q = 0.42·10⁻³ m³/Ah.
//  [R] EN IEC 62485-2:2018 §7.2 (formerly EN 50272-2): required ventilation air flow
//      Q = v·q·s·n·I_gas·C_rt·10⁻³ m³/h with dilution v = (100 − 4)/4 = 24 (H2 lower explosive
//      limit 4 % vol), q = 0.42·10⁻³ m³/Ah, safety factor s = 5, so v·q·s = 0.05 m³/Ah;
//      n cells, C_rt the rated capacity (Ah), I_gas = I_float·f_g·f_s in mA/Ah with the gas
//      emission factor f_g = 1 for vented lead-acid and NiCd, 0.2 for VRLA (recombination), and
//      the safety factor f_s = 5.
//  [D] Well-mixed room (first-order mixing): V·dc/dt = G − Q·c, with G the H2 flow (m³/h),
//      Q = air changes × V; steady state c = G/Q, time constant V/Q. Integrated exactly per step
//      (G and Q constant within a step), so the step size does not matter.
//  [R] Water lost with the gas: M(H2O)/(2F) = 18.015 g/mol / 53.605 Ah/mol = 0.336 g per Ah per
//      cell (the figure used for the topping-up intervals of vented cells).
//  [R] Saturation vapour pressure, Magnus form (Alduchov & Eskridge 1996):
//      e_s(T) = 6.1094 hPa · exp(17.625·T / (T + 243.04)).
#pragma once

#include <cstdint>
#include <optional>

#include "core/clock.hpp"
#include "model/chemistry.hpp"
#include "model/io.hpp"
#include "model/points.hpp"

namespace equalis::sim {

// Litres of H2 per Ah of gassing charge per cell at `temperature_c` and 1 atm (ideal gas).
double hydrogenLitresPerAh(double temperature_c);

// f_g of EN IEC 62485-2: share of the gassing current that leaves the cell as gas (1 vented,
// 0.2 VRLA, 0 lithium: no gassing branch).
double gasEmissionFactor(model::Chemistry c);

// EN IEC 62485-2 §7.2: required ventilation Q = 0.05·n·I_gas·C_rt·10⁻³ m³/h
// (i_gas_ma_per_ah includes f_g and f_s).
double requiredVentilationM3PerH(int cells, double i_gas_ma_per_ah, double capacity_ah);

// Saturation vapour pressure over water (hPa), Magnus form.
double saturationVapourPressureHpa(double temperature_c);

// Water lost per Ah of emitted gas per cell (g).
constexpr double kWaterGramsPerAh = 0.336;
// Electrolyte volume between the min and max marks of a cell, per Ah of capacity [G: a 100 Ah
// vented cell, ≈ 100 cm² surface × 15 mm between the marks ≈ 150 ml].
constexpr double kElectrolyteSpanMlPerAh = 1.5;
// Level at the start of a simulation: recently topped up [G].
constexpr double kInitialElectrolytePct = 90.0;
// What an ELS probe reports (level in % between the min (0) and max (100) marks) [G].
constexpr double kElectrolyteWarningPct = 35.0;
constexpr double kElectrolyteAlarmPct = 10.0;
model::ElectrolyteLevel electrolyteState(double level_pct);

class RoomModel {
 public:
  RoomModel(const model::RoomConfig& config, double reference_temperature_c, std::uint64_t seed);

  // Advances the air by dt_s: `emission_cell_a` = Σ over blocks of cells × I_gas × f_g (A), the
  // current that sets hydrogen free; `temperature_c` the room temperature (gas volume).
  void step(double dt_s, double emission_cell_a, double temperature_c);

  double hydrogenPct() const { return hydrogen_fraction_ * 100.0; }
  // H2 flow into the room (L/h) during the last step.
  double hydrogenLitresPerHour() const { return emission_l_per_h_; }
  // The concentration the room settles at for a constant emission (∞ without ventilation).
  double steadyStateHydrogenPct(double emission_cell_a, double temperature_c) const;
  // Relative humidity at time t and room temperature temperature_c (%).
  double relativeHumidityPct(TimeMs t_ms, double temperature_c) const;

  const model::RoomConfig& config() const { return config_; }
  void setAirChanges(double per_h) { config_.air_changes_per_h = per_h; }
  void setHumidity(std::optional<double> mean_pct, std::optional<double> swing_pct);
  // The room temperature the configured mean humidity refers to (the configured ambient).
  void setReferenceTemperature(double temperature_c) { reference_c_ = temperature_c; }

 private:
  model::RoomConfig config_;
  double reference_c_;
  double drift_phase_;              // of the slow multi-day humidity drift (from the seed)
  double hydrogen_fraction_ = 0.0;  // volume fraction
  double emission_l_per_h_ = 0.0;
};

}  // namespace equalis::sim
