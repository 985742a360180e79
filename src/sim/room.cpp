#include "sim/room.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "sim/rng.hpp"

namespace equalis::sim {

namespace {

constexpr double kFaradayCPerMol = 96485.33;
constexpr double kMolarVolumeLAt0C = 22.414;  // ideal gas, 0 °C, 101.325 kPa
constexpr double kZeroCelsiusK = 273.15;
constexpr double kSecondsPerHour = 3600.0;
constexpr double kVentilationM3PerAh = 0.05;  // v·q·s of EN IEC 62485-2
constexpr double kLitresPerM3 = 1000.0;
constexpr std::uint64_t kStreamRoom = 6;  // rng.hpp streams: 1–5 are PlantSim's
// Humidity: outdoor-driven cycle with its maximum before dawn (05:00 UTC) [G], plus a slow
// weather drift of 0.4 × the swing over 3.7 days [G].
constexpr DurationMs kHumidityPeakMs = 5 * kHourMs;
constexpr double kDriftPeriodS = 3.7 * 86400.0;
constexpr double kDriftShare = 0.4;

}  // namespace

double hydrogenLitresPerAh(double temperature_c) {
  const double mol_per_ah = kSecondsPerHour / (2.0 * kFaradayCPerMol);
  return mol_per_ah * kMolarVolumeLAt0C * (temperature_c + kZeroCelsiusK) / kZeroCelsiusK;
}

double gasEmissionFactor(model::Chemistry c) {
  switch (c) {
    case model::Chemistry::kVrla12V:
    case model::Chemistry::kVrla2V:
      return 0.2;
    case model::Chemistry::kVented2V:
    case model::Chemistry::kNiCd:
      return 1.0;
    case model::Chemistry::kLiFePO4:
      return 0.0;
  }
  return 1.0;
}

double requiredVentilationM3PerH(int cells, double i_gas_ma_per_ah, double capacity_ah) {
  return kVentilationM3PerAh * cells * i_gas_ma_per_ah * capacity_ah * 1e-3;
}

double saturationVapourPressureHpa(double temperature_c) {
  return 6.1094 * std::exp(17.625 * temperature_c / (temperature_c + 243.04));
}

model::ElectrolyteLevel electrolyteState(double level_pct) {
  if (level_pct < kElectrolyteAlarmPct) {
    return model::ElectrolyteLevel::kAlarm;
  }
  if (level_pct < kElectrolyteWarningPct) {
    return model::ElectrolyteLevel::kWarning;
  }
  return model::ElectrolyteLevel::kGood;
}

RoomModel::RoomModel(const model::RoomConfig& config, double reference_temperature_c,
                     std::uint64_t seed)
    : config_(config), reference_c_(reference_temperature_c) {
  Rng rng(seed, kStreamRoom);
  drift_phase_ = rng.uniform(0.0, 2.0 * std::numbers::pi);
}

void RoomModel::step(double dt_s, double emission_cell_a, double temperature_c) {
  const double g_m3_per_h =
      std::max(0.0, emission_cell_a) * hydrogenLitresPerAh(temperature_c) / kLitresPerM3;
  emission_l_per_h_ = g_m3_per_h * kLitresPerM3;
  const double v = config_.volume_m3;
  const double k_per_h = config_.air_changes_per_h;  // Q/V
  const double dt_h = dt_s / kSecondsPerHour;
  const double source = g_m3_per_h / v;  // dc/dt without ventilation (1/h)
  // c(t+dt) = c·e^(−k·dt) + (G/V)·(1 − e^(−k·dt))/k; the last factor → dt as k → 0.
  const double kdt = k_per_h * dt_h;
  const double decay = std::exp(-kdt);
  const double gain = kdt > 1e-12 ? -std::expm1(-kdt) / k_per_h : dt_h;
  hydrogen_fraction_ = std::min(1.0, hydrogen_fraction_ * decay + source * gain);
}

double RoomModel::steadyStateHydrogenPct(double emission_cell_a, double temperature_c) const {
  const double q_m3_per_h = config_.air_changes_per_h * config_.volume_m3;
  const double g_m3_per_h = emission_cell_a * hydrogenLitresPerAh(temperature_c) / kLitresPerM3;
  if (q_m3_per_h <= 0.0) {
    return g_m3_per_h > 0.0 ? 100.0 : 0.0;
  }
  return std::min(100.0, 100.0 * g_m3_per_h / q_m3_per_h);
}

double RoomModel::relativeHumidityPct(TimeMs t_ms, double temperature_c) const {
  const DurationMs in_day = ((t_ms - kHumidityPeakMs) % kDayMs + kDayMs) % kDayMs;
  const double day_phase = 2.0 * std::numbers::pi * static_cast<double>(in_day) / kDayMs;
  const double t_s = static_cast<double>(t_ms) / 1000.0;
  const double drift = kDriftShare * config_.humidity_swing_pct *
                       std::sin(2.0 * std::numbers::pi * t_s / kDriftPeriodS + drift_phase_);
  const double rh_ref =
      config_.humidity_pct + config_.humidity_swing_pct * std::cos(day_phase) + drift;
  // The same water vapour at another temperature: RH scales with e_s(T_ref)/e_s(T).
  const double rh = rh_ref * saturationVapourPressureHpa(reference_c_) /
                    saturationVapourPressureHpa(temperature_c);
  return std::clamp(rh, 0.0, 100.0);
}

void RoomModel::setHumidity(std::optional<double> mean_pct, std::optional<double> swing_pct) {
  if (mean_pct) {
    config_.humidity_pct = *mean_pct;
  }
  if (swing_pct) {
    config_.humidity_swing_pct = *swing_pct;
  }
}

}  // namespace equalis::sim
