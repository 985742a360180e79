#include "sim/fault.hpp"

#include <array>
#include <cmath>
#include <string>

namespace equalis::sim {

namespace {

constexpr std::array<FaultKind, 9> kAllKinds{
    FaultKind::kDryOut,           FaultKind::kInternalShort, FaultKind::kLooseConnector,
    FaultKind::kBlockedCooling,   FaultKind::kHighI0,        FaultKind::kChargerOvervoltage,
    FaultKind::kModuleOffsetJump, FaultKind::kStuckSensor,   FaultKind::kModuleCommLoss};

// Accepted magnitude ranges: wider than the §6.4 "typical" figures, narrow enough to keep the
// model physical (and its solvers well-conditioned).
constexpr double kMaxR0Factor = 20.0;
constexpr double kMaxI0Factor = 1000.0;
constexpr DurationMs kMaxTimeConstantMs = DurationMs{10} * 365 * kDayMs;
constexpr double kMinLeakOhm = 1.0;
constexpr double kMaxLeakOhm = 1e6;
constexpr double kMaxSeriesOhm = 1.0;
constexpr double kMinSetpointFactor = 0.5;
constexpr double kMaxSetpointFactor = 1.5;
constexpr double kMaxOffsetJumpV = 5.0;

bool inRange(double v, double lo, double hi) {
  return std::isfinite(v) && v >= lo && v <= hi;
}

Status rangeError(std::string_view what, double v, std::string_view range) {
  return makeError(ErrorCode::kOutOfRange, std::string(what) + " " + std::to_string(v) +
                                               " is outside " + std::string(range));
}

}  // namespace

Fault makeFault(FaultKind kind) {
  Fault f;
  f.kind = kind;
  if (kind == FaultKind::kHighI0) {
    f.i0_factor = 10.0;  // §6.4 thermal-runaway recipe: I0 ×10
  }
  return f;
}

std::string_view faultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kDryOut:
      return "dry_out";
    case FaultKind::kInternalShort:
      return "internal_short";
    case FaultKind::kLooseConnector:
      return "loose_connector";
    case FaultKind::kBlockedCooling:
      return "blocked_cooling";
    case FaultKind::kHighI0:
      return "high_i0";
    case FaultKind::kChargerOvervoltage:
      return "charger_overvoltage";
    case FaultKind::kModuleOffsetJump:
      return "module_offset_jump";
    case FaultKind::kStuckSensor:
      return "stuck_sensor";
    case FaultKind::kModuleCommLoss:
      return "module_comm_loss";
  }
  return "?";
}

std::optional<FaultKind> parseFaultKind(std::string_view name) {
  for (const FaultKind k : kAllKinds) {
    if (faultKindName(k) == name) {
      return k;
    }
  }
  return std::nullopt;
}

std::span<const FaultKind> allFaultKinds() {
  return kAllKinds;
}

FaultScope faultScope(FaultKind kind) {
  switch (kind) {
    case FaultKind::kChargerOvervoltage:
      return FaultScope::kString;
    case FaultKind::kModuleOffsetJump:
    case FaultKind::kStuckSensor:
    case FaultKind::kModuleCommLoss:
      return FaultScope::kModule;
    default:
      return FaultScope::kBlock;
  }
}

Status validateFault(const Fault& f) {
  switch (f.kind) {
    case FaultKind::kDryOut:
      if (!inRange(f.r0_factor, 1.0, kMaxR0Factor)) {
        return rangeError("dry_out r0_factor", f.r0_factor, "1 … 20");
      }
      if (!inRange(f.i0_factor, 1.0, kMaxI0Factor)) {
        return rangeError("dry_out i0_factor", f.i0_factor, "1 … 1000");
      }
      if (f.time_constant_ms < 0 || f.time_constant_ms > kMaxTimeConstantMs) {
        return makeError(ErrorCode::kOutOfRange,
                         "dry_out time constant must be between 0 and 10 years");
      }
      break;
    case FaultKind::kHighI0:
      if (!inRange(f.i0_factor, 1.0, kMaxI0Factor)) {
        return rangeError("high_i0 factor", f.i0_factor, "1 … 1000");
      }
      break;
    case FaultKind::kInternalShort:
      if (!inRange(f.leak_ohm, kMinLeakOhm, kMaxLeakOhm)) {
        return rangeError("internal_short resistance (Ω)", f.leak_ohm, "1 … 1e6 Ω");
      }
      break;
    case FaultKind::kLooseConnector:
      if (!inRange(f.series_ohm, 0.0, kMaxSeriesOhm) || f.series_ohm == 0.0) {
        return rangeError("loose_connector resistance (Ω)", f.series_ohm, "(0, 1] Ω");
      }
      break;
    case FaultKind::kBlockedCooling:
      if (!inRange(f.cooling_factor, 0.01, 1.0)) {
        return rangeError("blocked_cooling factor", f.cooling_factor, "0.01 … 1");
      }
      break;
    case FaultKind::kChargerOvervoltage:
      if (!inRange(f.setpoint_factor, kMinSetpointFactor, kMaxSetpointFactor)) {
        return rangeError("charger_overvoltage factor", f.setpoint_factor, "0.5 … 1.5");
      }
      break;
    case FaultKind::kModuleOffsetJump:
      if (!inRange(f.offset_jump_v, -kMaxOffsetJumpV, kMaxOffsetJumpV)) {
        return rangeError("module_offset_jump offset (V)", f.offset_jump_v, "±5 V");
      }
      break;
    case FaultKind::kStuckSensor:
    case FaultKind::kModuleCommLoss:
      break;
  }
  return {};
}

}  // namespace equalis::sim
