// Fault injection for the plant simulator (battery-science.md §6.2 "faults", §6.4 "Fault
// injections"). A fault is injected into one block (its physics or its measuring module) or into
// one string's charger; PlantSim::injectFault / clearFault apply it.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::sim {

enum class FaultKind {
  kDryOut,              // R0 → ×r0_factor and I0 → ×i0_factor, ramped with a time constant
  kInternalShort,       // parallel leak resistance inside the block
  kLooseConnector,      // extra series resistance at the block's terminals
  kBlockedCooling,      // heat conductance to ambient G_th × cooling_factor
  kHighI0,              // gassing prefactor I0 × i0_factor (thermal-runaway recipe, §6.4)
  kChargerOvervoltage,  // string level: charger set-point × setpoint_factor
  kModuleOffsetJump,    // module voltage offset jumps by offset_jump_v
  kStuckSensor,         // module keeps reporting the values of its first read after the fault
  kModuleCommLoss,      // module stops answering (same as PlantSim::setModuleCommFault)
};

// What a fault acts on: the block's physics, the string's charger, or the block's module.
enum class FaultScope { kBlock, kString, kModule };

// Magnitudes of a fault. Only the fields of its kind are used; makeFault() fills the §6.4
// defaults. Ranges are checked by validateFault().
struct Fault {
  FaultKind kind = FaultKind::kDryOut;
  double r0_factor = 2.0;  // dry_out: final R0 factor (§6.4 ×2)
  double i0_factor = 5.0;  // dry_out: final I0 factor (§6.4 ×5); high_i0 (×10)
  DurationMs time_constant_ms = 14 * kDayMs;  // dry_out: ramp 1 − e^(−t/τ) ("over weeks") [G]
  double leak_ohm = 33.0;                     // internal_short: §6.4 10–100 Ω (log middle) [G]
  double series_ohm = 3e-3;                   // loose_connector: §6.4 +1–5 mΩ
  double cooling_factor = 0.3;                // blocked_cooling: §6.4 G_th ×0.3
  double setpoint_factor = 1.05;              // charger_overvoltage: §6.4 V_ch +5 %
  double offset_jump_v = 0.05;                // module_offset_jump: +50 mV [G]
};

// The fault of `kind` with the §6.4 default magnitudes.
Fault makeFault(FaultKind kind);

// Scenario / log spelling: "dry_out", "internal_short", …
std::string_view faultKindName(FaultKind kind);
std::optional<FaultKind> parseFaultKind(std::string_view name);
std::span<const FaultKind> allFaultKinds();
FaultScope faultScope(FaultKind kind);

// Checks the magnitudes the kind uses (factors, resistances, offsets) for sane ranges.
Status validateFault(const Fault& fault);

}  // namespace equalis::sim
