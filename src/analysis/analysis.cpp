#include "analysis/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/chemistry.hpp"

namespace equalis::analysis {

namespace {

// Mode thresholds as a fraction of C (A per Ah): a float current of a healthy string stays
// well below 0.005 C (battery-science.md §1.2: 0.1–1 mA/Ah, aged ×5).
constexpr double kChargeThresholdPerAh = 0.005;
constexpr double kDischargeThresholdPerAh = -0.005;
// Charge efficiency of the recharge (battery-science.md §6.4: ≈ 0.95 below 80 % SOC).
constexpr double kChargeEfficiency = 0.95;
// After this long in float the string is taken as fully charged (seed: batteries are "100 %"
// on float; C&D asks 72 h before a capacity test, but the charge itself is back within hours).
constexpr DurationMs kFloatFullAfterMs = 2 * kHourMs;
// Provisional block status until the alarm table exists: deviation from target in % of target.
constexpr double kDeviationWarningPct = 5.0;

}  // namespace

model::StringModeValue classifyMode(double current_a, double capacity_ah,
                                    double voltage_per_block_v, double float_per_block_v) {
  if (current_a < kDischargeThresholdPerAh * capacity_ah) {
    return model::StringModeValue::kDischarge;
  }
  if (current_a > kChargeThresholdPerAh * capacity_ah) {
    return model::StringModeValue::kCharge;
  }
  // Small current: float if the charger holds the string near its float voltage, else at rest.
  if (voltage_per_block_v >= 0.97 * float_per_block_v) {
    return model::StringModeValue::kFloat;
  }
  return model::StringModeValue::kRest;
}

double targetVoltagePerBlockV(const model::StringConfig& cfg, double temperature_c) {
  const auto& chem = model::chemistryInfo(cfg.chemistry);
  double v_per_cell = cfg.charger.float_v_per_cell;
  if (cfg.charger.temperature_compensation) {
    const double t =
        std::clamp(temperature_c, cfg.charger.temp_comp_min_c, cfg.charger.temp_comp_max_c);
    v_per_cell += cfg.charger.temp_comp_mv_per_k_per_cell / 1000.0 * (t - 25.0);
  }
  return v_per_cell * chem.cells_per_block;
}

Analyzer::Analyzer(const model::PlantConfig& plant) : plant_(plant) {
  summaries_.resize(plant.strings.size());
  soc_.assign(plant.strings.size(), 1.0);
  for (const auto& sc : plant.strings) {
    block_capacity_ah_.emplace_back(static_cast<std::size_t>(sc.block_count), std::nan(""));
  }
  float_since_ms_.assign(plant.strings.size(), 0);
  modes_.resize(plant.strings.size());
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    summaries_[s].blocks.resize(static_cast<std::size_t>(plant.strings[s].block_count));
  }
}

bool Analyzer::anyDischarging() const {
  return std::any_of(summaries_.begin(), summaries_.end(), [](const StringSummary& s) {
    return s.mode_quality == model::Quality::kOk && s.mode == model::StringModeValue::kDischarge;
  });
}

const std::vector<StringSummary>& Analyzer::update(const bus::Sweep& sweep) {
  const double dt_h =
      last_time_ms_ > 0 ? static_cast<double>(sweep.time_ms - last_time_ms_) / kHourMs : 0.0;
  last_time_ms_ = sweep.time_ms;

  for (std::size_t s = 0; s < summaries_.size() && s < sweep.modules.size(); ++s) {
    const auto& cfg = plant_.strings[s];
    auto& sum = summaries_[s];
    const auto& modules = sweep.modules[s];

    // Block statistics over values that are ok and fresh in this sweep.
    double v_sum = 0;
    double t_sum = 0;
    double t_max = -1e9;
    double v_min = 1e9;
    double v_max = -1e9;
    int n_ok = 0;
    for (const auto& m : modules) {
      if (!m.usable()) {
        continue;
      }
      const double v = m.voltage_v;
      const double t = m.temperature_c;
      v_sum += v;
      t_sum += t;
      t_max = std::max(t_max, t);
      v_min = std::min(v_min, v);
      v_max = std::max(v_max, v);
      ++n_ok;
    }
    sum.blocks_ok = n_ok;
    const bool all_ok = n_ok == static_cast<int>(modules.size()) && n_ok > 0;
    const double v_mean = n_ok > 0 ? v_sum / n_ok : 0.0;
    const double t_mean = n_ok > 0 ? t_sum / n_ok : 25.0;
    // A Σ voltage with missing blocks would be wrong, not just less precise.
    // Without a single answering block there is no value at all (not 0 V).
    const double none = std::numeric_limits<double>::quiet_NaN();
    sum.voltage_v = n_ok > 0 ? v_sum : none;
    sum.voltage_quality = all_ok
                              ? model::Quality::kOk
                              : (n_ok > 0 ? model::Quality::kInvalid : model::Quality::kCommLost);
    sum.block_voltage_min_v = n_ok > 0 ? v_min : none;
    sum.block_voltage_max_v = n_ok > 0 ? v_max : none;
    sum.block_voltage_spread_v = n_ok > 0 ? std::max(v_max - v_mean, v_mean - v_min) : none;
    sum.temperature_max_c = n_ok > 0 ? t_max : none;
    sum.target_voltage_v = targetVoltagePerBlockV(cfg, t_mean);

    const auto& sensor = sweep.string_sensors[s];
    const bool current_ok =
        sensor.quality == model::Quality::kOk && sensor.time_ms == sweep.time_ms;
    // A reading of an earlier sweep (the sensor did not answer this time) is stale until the
    // bus declares the sensor lost.
    sum.current_quality = current_ok                              ? model::Quality::kOk
                          : sensor.quality == model::Quality::kOk ? model::Quality::kStale
                                                                  : sensor.quality;
    sum.current_time_ms = sensor.time_ms;
    sum.current_a = sensor.current_a;
    sum.ac_current_a = sensor.ac_current_a;
    sum.power_kw = sum.voltage_v * sum.current_a / 1000.0;

    if (current_ok && n_ok > 0) {
      ModeInput mi;
      mi.time_ms = sweep.time_ms;
      mi.current_a = sum.current_a;
      mi.voltage_per_block_v = v_mean;
      mi.setpoint_per_block_v = sum.target_voltage_v;
      mi.capacity_ah = cfg.capacity_ah;
      sum.mode = modes_[s].update(mi);
      sum.mode_quality = model::Quality::kOk;
    } else {
      sum.mode_quality = current_ok ? model::Quality::kCommLost : sum.current_quality;
    }

    // Charger supervision: only in float does the charger hold its set-point.
    const double setpoint_v = sum.target_voltage_v * static_cast<double>(modules.size());
    const bool floating = sum.mode_quality == model::Quality::kOk &&
                          sum.mode == model::StringModeValue::kFloat &&
                          sum.voltage_quality == model::Quality::kOk && setpoint_v > 0;
    sum.charger_deviation_pct = floating ? (sum.voltage_v - setpoint_v) / setpoint_v * 100.0 : 0.0;
    sum.charger_deviation_quality = floating ? model::Quality::kOk : model::Quality::kNotPresent;

    // Coulomb counting of the string's charge, reset to full after a while in float.
    if (current_ok) {
      const double i = sum.current_a;
      const double eff = i > 0 ? kChargeEfficiency : 1.0;
      if (sum.mode != model::StringModeValue::kFloat) {
        soc_[s] = std::clamp(soc_[s] + eff * i * dt_h / cfg.capacity_ah, 0.0, 1.0);
        float_since_ms_[s] = 0;
      } else {
        if (float_since_ms_[s] == 0) {
          float_since_ms_[s] = sweep.time_ms;
        }
        if (sweep.time_ms - float_since_ms_[s] >= kFloatFullAfterMs) {
          soc_[s] = 1.0;
        } else if (i > 0) {
          soc_[s] = std::clamp(soc_[s] + eff * i * dt_h / cfg.capacity_ah, 0.0, 1.0);
        }
      }
    }

    double charge_sum = 0;
    for (std::size_t b = 0; b < modules.size(); ++b) {
      const auto& m = modules[b];
      auto& d = sum.blocks[b];
      const double c_b = b < block_capacity_ah_[s].size() ? block_capacity_ah_[s][b] : std::nan("");
      const double out_ah = (1.0 - soc_[s]) * cfg.capacity_ah;
      d.charge_pct = c_b > 0.0 ? std::clamp(1.0 - out_ah / c_b, 0.0, 1.0) * 100.0 : soc_[s] * 100.0;
      d.equalization_pct = m.bypass_duty * 100.0;
      d.equalization_level = model::equalizationLevelFor(d.equalization_pct);
      charge_sum += d.charge_pct;
      if (!m.usable()) {
        d.status = model::BlockStatus::kUnknown;
        continue;
      }
      const double v = m.voltage_v;
      const bool in_float =
          sum.mode_quality == model::Quality::kOk && sum.mode == model::StringModeValue::kFloat;
      const double deviation_pct = std::abs(v - sum.target_voltage_v) / sum.target_voltage_v * 100;
      d.status = (in_float && deviation_pct > kDeviationWarningPct) ? model::BlockStatus::kWarning
                                                                    : model::BlockStatus::kOk;
    }
    sum.charge_avg_pct = modules.empty() ? 0.0 : charge_sum / static_cast<double>(modules.size());
  }
  return summaries_;
}

void Analyzer::setBlockCapacities(std::size_t string_index,
                                  const std::vector<double>& capacity_ah) {
  if (string_index < block_capacity_ah_.size() &&
      capacity_ah.size() == block_capacity_ah_[string_index].size()) {
    block_capacity_ah_[string_index] = capacity_ah;
  }
}

}  // namespace equalis::analysis
