// Battery-plant simulator (battery-science.md §6): per-block equivalent circuit with a Tafel
// gassing branch, charger CV/CC with temperature compensation, UPS load steps, module bypass as a
// power-capped current sink, module measurement error, ageing while running (§2.6, §6.3), heat
// with neighbour conduction (§2.7) and fault injection (§6.4). Pure and deterministic from the
// seed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "sim/fault.hpp"
#include "sim/room.hpp"

namespace equalis::sim {

enum class StringMode { kFloat, kCharge, kDischarge, kRest };

// Ground truth of one block, in SI-ish units (what a perfect instrument would read).
struct BlockTruth {
  double voltage_v = 0;         // terminal voltage
  double ocv_v = 0;             // open-circuit voltage at the present SOC and temperature
  double soc = 1.0;             // 0 … 1
  double temperature_c = 25.0;  // block temperature
  double ri_ohm = 0;  // R0 at its temperature and SOC + loose connector (the terminals' ohmic part)
  double ri_ref_ohm = 0;      // the same at 25 °C and full charge (what trending should compare)
  double cell_current_a = 0;  // through the cells (+ charge): string current − bypass − leak
  double gassing_current_a = 0;  // parasitic (float) branch
  double bypass_current_a = 0;   // module bypass current actually flowing
  double capacity_ah = 0;        // present C10 capacity at 25 °C (after ageing)
  // ---- ageing (§2.6, §6.3) ----
  double initial_capacity_ah = 0;     // C0: the block's C10 when new (manufacturing scatter)
  double initial_ri_ohm = 0;          // Ri0: its ohmic resistance when new
  double initial_gas_i0_a = 0;        // I0_0: its gassing prefactor when new
  double capacity_fade = 0;           // 1 − C/C0: the sum of the mechanisms' shares below
  double ageing_dose = 0;             // A: overcharge dose, reference float-years
  double sulfation_dose = 0;          // S: undercharge dose
  double ageing_rate_multiplier = 1;  // per-block lognormal multiplier on a
  // The mechanisms (docs/simulator.md "Ageing while running"), each its share of the fade:
  double corrosion_fade = 0;             // grid corrosion (the overcharge dose A)
  double sulfation_fade = 0;             // sulfation from undercharge (S)
  double softening_fade = 0;             // active-mass softening and shedding from cycling
  double dry_out_fade = 0;               // dry-out from water loss
  double water_loss_fraction = 0;        // water lost as a fraction of the electrolyte
  double sulfation_rate_multiplier = 1;  // the block's own lognormal rate multipliers
  double softening_rate_multiplier = 1;
  double water_loss_multiplier = 1;
  // Manufacturing scatter of the block's own curve and losses.
  double ocv_offset_v = 0;
  double ocv_span_factor = 1;
  double ocv_full_v = 0;  // the block's own rested OCV at full charge and 25 °C
  double charge_efficiency = 1;
  double self_discharge_factor = 1;
  double coup_de_fouet_state = 0;  // 1: a discharge now starts with the full dip; 0: none
  double ocv_hysteresis_v = 0;     // LiFePO4: the branch's offset from the mean OCV (in ocv_v)
  double stratification_v = 0;     // vented lead-acid: the OCV's apparent rise from dense acid
  double gas_i0_a = 0;             // gassing prefactor I0 at U0 and 25 °C incl. ageing and faults
  // ---- heat (§2.7) and faults (§6.4) ----
  double heat_w = 0;                       // heat generated in the last step
  double thermal_conductance_w_per_k = 0;  // to ambient, incl. blocked cooling
  double leak_current_a = 0;  // through an internal short; like the bypass it does not pass the
                              // cells: cell_current_a = string current − bypass − leak
  double connector_ohm = 0;   // loose connector (included in ri_ohm)
  bool vented = false;  // reached the venting temperature (90 °C): destroyed, temperature capped
};

struct StringTruth {
  double voltage_v = 0;           // sum of block terminal voltages
  double current_a = 0;           // string current at the terminals, + charge / − discharge
  double charger_setpoint_v = 0;  // charger CV set-point after temperature compensation
  double ac_ripple_a = 0;         // RMS ripple current from the rectifier
  StringMode mode = StringMode::kFloat;
  // The string current sensor's errors now: reading = (1 + gain)·current + offset + noise.
  double current_sensor_gain_error = 0;
  double current_sensor_offset_a = 0;  // fixed part + slow drift
};

// What a measuring module reports (with its gain/offset error and noise).
struct ModuleMeasurement {
  double voltage_v = 0;
  double temperature_c = 0;
  double ri_ohm = 0;
  double bypass_duty = 0;  // 0 … 1 of the module's bypass capability, as applied
};

struct CurrentSensorMeasurement {
  double current_a = 0;     // DC, + charge / − discharge
  double ac_current_a = 0;  // RMS ripple
};

// A block's health set by hand (scenario action age_block), each part optional:
//   capacity_pct — true C10 capacity at 25 °C as % of the string's nominal capacity;
//   ri_factor    — ohmic resistance as a multiple of the block's own value when new;
//   i0_factor    — float (gassing) current prefactor as a multiple of its value when new.
// Ageing goes on from there at the block's own rate.
struct BlockHealth {
  static constexpr double kMinCapacityPct = 1.0;
  static constexpr double kMaxCapacityPct = 130.0;  // a new block is up to ~110 % [G]
  static constexpr double kMinFactor = 0.1;
  static constexpr double kMaxRiFactor = 20.0;
  static constexpr double kMaxI0Factor = 100.0;
  std::optional<double> capacity_pct;
  std::optional<double> ri_factor;
  std::optional<double> i0_factor;
};

class PlantSim {
 public:
  PlantSim(const model::PlantConfig& config, TimeMs start_ms);
  ~PlantSim();
  PlantSim(const PlantSim&) = delete;
  PlantSim& operator=(const PlantSim&) = delete;

  // A snapshot: a copy of the whole plant as it is now — block and string states, parameters,
  // faults, module errors, the room and every random stream — that goes on exactly as this one
  // would under the same calls. A scorer asks "what would this block have delivered to the
  // cut-off from here" on the copy, without replaying and without touching the plant.
  std::unique_ptr<PlantSim> snapshot() const;

  // Saving and restoring: everything snapshot() copies that is not in the configuration — the
  // block and string states, drawn parameters, faults, module and sensor errors, run-time
  // settings (charger, ambient, room), the room's air and every random stream — as bytes or a
  // file, and a plant rebuilt from the same configuration and those bytes that goes on exactly
  // as the saved one would. The bytes carry a fingerprint of the configured plant (seed, strings,
  // blocks, chemistry, capacity, module type, age) and a checksum: bytes that are damaged, are not
  // a plant state, or were saved from another plant give an error value naming what is wrong.
  std::string saveState() const;
  Status saveState(const std::string& path) const;
  static Result<std::unique_ptr<PlantSim>> restoreState(const model::PlantConfig& config,
                                                        std::string_view bytes);
  static Result<std::unique_ptr<PlantSim>> loadState(const model::PlantConfig& config,
                                                     const std::string& path);

  // Integrates the physics from timeMs() up to t_ms (no-op if t_ms ≤ timeMs()).
  // Internal steps: ≤ 1 s while discharging or shortly after a load step, ≤ 10 s otherwise.
  void advanceTo(TimeMs t_ms);
  TimeMs timeMs() const;

  std::size_t stringCount() const;
  std::size_t blockCount(std::size_t string_index) const;

  BlockTruth blockTruth(std::size_t string_index, std::size_t block_index) const;
  StringTruth stringTruth(std::size_t string_index) const;
  double ambientTemperatureC() const;

  // Module reads: add the module's fixed gain/offset error plus noise (draws from the RNG).
  ModuleMeasurement measureModule(std::size_t string_index, std::size_t block_index);
  CurrentSensorMeasurement measureStringCurrent(std::size_t string_index);
  double measureAmbientC();

  // Bypass command to one module: fraction 0 … 1 of its bypass current, capped by its power limit.
  void setBypassDuty(std::size_t string_index, std::size_t block_index, double duty);

  // Mains failure: the UPS draws load_w from all strings together for duration_ms, then the
  // chargers recharge (CC at the current limit, then CV float).
  void startOutage(double load_w, DurationMs duration_ms);
  bool outageActive() const;
  // Time of the next scheduled random outage (from the seeded UPS model), or -1 if none.
  TimeMs nextScheduledOutageMs() const;

  // Calibration error of a module, for tests and benchmarks (V_meas = (1+gain)·V + offset + noise).
  double moduleGainError(std::size_t string_index, std::size_t block_index) const;
  double moduleOffsetV(std::size_t string_index, std::size_t block_index) const;

  // Fault hooks used by tests: a module that stops answering.
  void setModuleCommFault(std::size_t string_index, std::size_t block_index, bool faulty);
  bool moduleCommFault(std::size_t string_index, std::size_t block_index) const;

  // ---- Test and benchmark hooks (additions to the original contract) ----
  // Switches one string's charger off (mode kRest, no current) or back on.
  void setChargerEnabled(std::size_t string_index, bool enabled);
  // The string breaker (opened by thermal-runaway protection through a relay): an open breaker
  // isolates the string — no charger, no load, current 0 — and its blocks cool down.
  void setBreakerClosed(std::size_t string_index, bool closed);
  bool breakerClosed(std::size_t string_index) const;
  // The charger's "reduce voltage" input (a charger_reduce relay): while set, its set-point is
  // × ChargerConfig::reduced_setpoint_factor.
  void setChargerReduced(std::size_t string_index, bool reduced);
  bool chargerReduced(std::size_t string_index) const;
  // Constant-current DC load on one string (A, ≥ 0; 0 removes it). While set, the charger is
  // disconnected and the string discharges (kDischarge) until the low-voltage cut-off.
  void setDischargeCurrent(std::size_t string_index, double current_a);
  // True once a discharging string fell below end_of_discharge_v_per_cell (UPS low-battery
  // cut-off); cleared when the outage / test load ends.
  bool lowVoltageCutOff(std::size_t string_index) const;
  // Number of block integration steps taken so far (for throughput measurements).
  std::uint64_t blockStepCount() const;

  // ---- Fault injection (§6.4; fault.hpp) ----
  // Injects (or replaces) a fault of f.kind. Block and module faults act on block `block_index`
  // of string `string_index`; string faults (charger_overvoltage) ignore `block_index`. Errors:
  // an index out of range, or a magnitude outside validateFault()'s ranges.
  Status injectFault(std::size_t string_index, std::size_t block_index, const Fault& f);
  // Removes a fault: the block's parameters return to their unfaulted values at once (a dry-out
  // is undone too; replaceBlock is the physical remedy). Clearing an absent fault is no error.
  Status clearFault(std::size_t string_index, std::size_t block_index, FaultKind kind);
  bool faultActive(std::size_t string_index, std::size_t block_index, FaultKind kind) const;
  // Replaces a block by a new one: new-block scatter (ln I0 σ of a new string), no ageing dose,
  // rested at `soc` and ambient temperature; block faults (dry-out, short, high I0, loose
  // connector) are gone; blocked cooling (a property of the place) and module faults stay.
  static constexpr double kNewBlockSoc = 0.95;  // a block from the shelf [G]
  Status replaceBlock(std::size_t string_index, std::size_t block_index, double soc = kNewBlockSoc);
  // Sets a block's health (BlockHealth); the block keeps its state of charge (as a fraction).
  // Error: index or value out of range.
  Status setBlockHealth(std::size_t string_index, std::size_t block_index, const BlockHealth& h);
  // The string's nominal (nameplate) C10 capacity.
  double nominalCapacityAh(std::size_t string_index) const;

  // ---- Run-time settings (scenarios) ----
  model::ChargerConfig chargerConfig(std::size_t string_index) const;
  void setChargerConfig(std::size_t string_index, const model::ChargerConfig& charger);
  model::AmbientConfig ambientConfig() const;
  void setAmbient(const model::AmbientConfig& ambient);
  // Multiplies the ageing dose rates (A and S), for accelerated-life runs; 1 = real time.
  void setAgeingAcceleration(double factor);

  // ---- Battery room and field wiring (room.hpp), read by the simulated I/O devices ----
  // Hydrogen in the room air (% by volume) from the gas all blocks set free, and the ventilation.
  double roomHydrogenPct() const;
  const RoomModel& room() const;
  // Ventilation (air changes per hour; 0 = failed) and the humidity's mean and swing.
  void setRoomVentilation(double air_changes_per_h);
  void setRoomHumidity(std::optional<double> mean_pct, std::optional<double> swing_pct);
  // Relative humidity of the room air now (%).
  double roomHumidityPct() const;
  // Electrolyte level of a block's cells in % between the min (0) and max (100) marks; it falls
  // with the water that leaves in the gas (room.hpp). Error: index out of range or pct ∉ [0, 100].
  double electrolyteLevelPct(std::size_t string_index, std::size_t block_index) const;
  Status setElectrolyteLevel(std::size_t string_index, std::size_t block_index, double pct);
  // Contacts wired to simulated digital inputs (door contact, external alarm …), by channel id
  // ("aux1.di3"); nullopt until set.
  void setContact(const std::string& channel_id, bool active);
  std::optional<bool> contact(const std::string& channel_id) const;

 private:
  PlantSim() = default;  // snapshot(), restoreState()
  struct Impl;
  struct StateIo;
  std::unique_ptr<Impl> impl_;
};

}  // namespace equalis::sim
