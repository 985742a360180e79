// Balancing benchmark: no equalization vs a simple threshold bypass vs the Equalis controller,
// on the simulated plant (ground truth from the simulator), for
//   (a) 64 × 12 V 100 Ah VRLA, 5 years old (wide float spread),
//   (a2) the same string 1 year old (within the modules' bypass authority),
//   (b) 240 × 2 V 1000 Ah VRLA cells, 5 years old,
//   (c) 16 × LiFePO4 100 Ah cells, top-balanced at 3.40 V/cell.
// Figures, not pass/fail. One JSON object per line. Deterministic (fixed seeds).
// Usage: equalis-bench-balancing [days]   (default 365)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analysis.hpp"
#include "analysis/calibration.hpp"
#include "control/equalizer.hpp"
#include "model/chemistry.hpp"
#include "sim/plant_sim.hpp"

namespace {

using namespace equalis;

struct Case {
  std::string name;
  model::PlantConfig plant;
};

model::PlantConfig onePlant(model::Chemistry chem, int blocks, double capacity_ah,
                            model::ModuleType module, double age_years, std::uint64_t seed) {
  model::PlantConfig p;
  model::StringConfig s;
  s.name = "bench";
  s.block_count = blocks;
  s.chemistry = chem;
  s.capacity_ah = capacity_ah;
  s.module_type = module;
  s.age_years = age_years;
  const auto& info = model::chemistryInfo(chem);
  s.charger.float_v_per_cell = info.float_v_per_cell;
  s.charger.temp_comp_mv_per_k_per_cell = info.temp_comp_mv_per_k_per_cell;
  s.charger.temperature_compensation = info.temp_comp_mv_per_k_per_cell != 0.0;
  s.charger.current_limit_a = capacity_ah / 10.0;
  s.current_sensor.range_a = std::max(50.0, capacity_ah);
  p.strings = {s};
  p.simulation.seed = seed;
  // About one short discharge a week at ≈ C/4 (mains failures plus the UPS's own battery test).
  p.simulation.ups.outages = true;
  p.simulation.ups.outage_mean_interval_h = 24.0 * 7;
  p.simulation.ups.load_kw = blocks * info.nominal_voltage_v * capacity_ah / 4.0 / 1000.0;
  p.simulation.ups.outage_min_s = 60;
  p.simulation.ups.outage_max_s = 900;
  p.equalization.settle_ms = 30 * kMinuteMs;
  return p;
}

enum class Strategy { kNone, kThreshold, kEqualis, kEqualisCalibrated };
const char* strategyName(Strategy s) {
  switch (s) {
    case Strategy::kNone:
      return "none";
    case Strategy::kThreshold:
      return "threshold";
    case Strategy::kEqualis:
      return "equalis";
    case Strategy::kEqualisCalibrated:
      return "equalis_self_calibrated";
  }
  return "";
}

struct Result {
  double initial_true_spread_v = 0;
  double hours_to_displayed_10mv = -1;  // −1: not reached in the first 24 h
  double true_spread_4h_v = 0;
  double true_spread_24h_v = 0;
  double true_spread_end_v = 0;
  double true_spread_mean_v = 0;     // mean over hourly samples in float
  double share_within_50mv_pct = 0;  // block-hours in float within ±50 mV of the string mean
  double bypass_energy_kwh = 0;
  double bypass_mean_w_per_block = 0;
  double wall_s = 0;
  double calibration_rms_mv = -1;  // estimated vs true module error at the end (−1: n/a)
  double calibration_max_mv = -1;
  int calibration_events = 0;
};

Result run(const Case& c, Strategy strategy, int days) {
  const auto t_wall = std::chrono::steady_clock::now();
  sim::PlantSim sim(c.plant, 0);
  const auto& sc = c.plant.strings[0];
  const auto n = static_cast<std::size_t>(sc.block_count);
  const auto& chem = model::chemistryInfo(sc.chemistry);
  const auto& module = model::moduleTypeInfo(sc.module_type);
  control::StringEqualizer eq(sc, c.plant.equalization);
  analysis::OffsetEstimator cal(n, analysis::CalibrationConfig::forString(sc));
  analysis::CalibrationSample cs;
  cs.valid.assign(n, true);
  cs.ri_ohm.resize(n);
  cs.temperature_c.resize(n);
  const double fixed_threshold_v = sc.charger.float_v_per_cell * chem.cells_per_block;

  // Settle a day without balancing: the float spread builds up (the starting point).
  TimeMs t = 0;
  sim.advanceTo(kDayMs);
  t = kDayMs;

  Result r;
  std::vector<double> meas(n);
  std::vector<double> truth(n);
  control::StringInput in;
  in.valid.assign(n, true);
  auto spreads = [&](double& displayed, double& true_spread) {
    double ms = 0;
    double ts = 0;
    for (std::size_t b = 0; b < n; ++b) {
      ms += meas[b];
      ts += truth[b];
    }
    ms /= static_cast<double>(n);
    ts /= static_cast<double>(n);
    displayed = 0;
    true_spread = 0;
    for (std::size_t b = 0; b < n; ++b) {
      displayed = std::max(displayed, std::abs(meas[b] - ms));
      true_spread = std::max(true_spread, std::abs(truth[b] - ts));
    }
    return ts;
  };

  const TimeMs end = t + static_cast<TimeMs>(days) * kDayMs;
  double within = 0;
  double samples = 0;
  double spread_sum = 0;
  double spread_samples = 0;
  TimeMs next_hour = t;
  double energy_wh = 0;
  bool first = true;
  while (t < end) {
    const DurationMs step =
        (t - kDayMs < kDayMs || sim.outageActive()) ? 10 * kSecondMs : kMinuteMs;
    t += step;
    sim.advanceTo(t);
    const auto cur = sim.measureStringCurrent(0);
    double temperature_sum_c = 0;
    for (std::size_t b = 0; b < n; ++b) {
      const auto m = sim.measureModule(0, b);
      meas[b] = m.voltage_v;
      cs.ri_ohm[b] = m.ri_ohm;
      cs.temperature_c[b] = m.temperature_c;
      temperature_sum_c += m.temperature_c;
      truth[b] = sim.blockTruth(0, b).voltage_v;
    }
    // The target as the controller has it: the float voltage compensated for the mean measured
    // block temperature (analysis::summarize), never the simulated charger's own values.
    const double block_mean_c = temperature_sum_c / static_cast<double>(n);
    double displayed = 0;
    double true_spread = 0;
    const double true_mean = spreads(displayed, true_spread);
    double sum_meas = 0;
    for (double v : meas) {
      sum_meas += v;
    }
    const auto mode = analysis::classifyMode(cur.current_a, sc.capacity_ah,
                                             sum_meas / static_cast<double>(n), fixed_threshold_v);
    if (first) {
      r.initial_true_spread_v = true_spread;
      first = false;
    }
    const double elapsed_h = static_cast<double>(t - kDayMs) / kHourMs;
    if (r.hours_to_displayed_10mv < 0 && elapsed_h <= 24 && displayed < 0.010 &&
        mode == model::StringModeValue::kFloat) {
      r.hours_to_displayed_10mv = elapsed_h;
    }
    if (r.true_spread_4h_v == 0 && elapsed_h >= 4) {
      r.true_spread_4h_v = true_spread;
    }
    if (r.true_spread_24h_v == 0 && elapsed_h >= 24) {
      r.true_spread_24h_v = true_spread;
    }
    if (t >= next_hour) {
      next_hour += kHourMs;
      if (mode == model::StringModeValue::kFloat) {
        for (std::size_t b = 0; b < n; ++b) {
          within += std::abs(truth[b] - true_mean) <= 0.050 ? 1.0 : 0.0;
          samples += 1.0;
        }
        spread_sum += true_spread;
        spread_samples += 1.0;
      }
    }
    r.true_spread_end_v = true_spread;

    std::vector<double> duty(n, 0.0);
    if (strategy == Strategy::kThreshold) {
      for (std::size_t b = 0; b < n; ++b) {
        duty[b] = meas[b] > fixed_threshold_v ? 1.0 : 0.0;
      }
    } else if (strategy == Strategy::kEqualis || strategy == Strategy::kEqualisCalibrated) {
      in.time_ms = t;
      in.mode = mode;
      in.mode_valid = true;
      in.current_a = cur.current_a;
      in.target_v = analysis::targetVoltagePerBlockV(sc, block_mean_c);
      in.voltage_v = meas;
      if (strategy == Strategy::kEqualisCalibrated) {
        cs.time_ms = t;
        cs.mode = mode;
        cs.mode_valid = true;
        cs.current_a = cur.current_a;
        cs.current_valid = true;
        cs.charger_setpoint_v = in.target_v * static_cast<double>(n);
        cs.voltage_v = meas;
        cal.update(cs);
        for (std::size_t b = 0; b < n; ++b) {
          in.voltage_v[b] = cal.corrected(b, meas[b]);
        }
      }
      duty = eq.update(in);
    }
    for (std::size_t b = 0; b < n; ++b) {
      sim.setBypassDuty(0, b, duty[b]);
      energy_wh +=
          sim.blockTruth(0, b).bypass_current_a * truth[b] * static_cast<double>(step) / kHourMs;
    }
    (void)module;
  }
  if (strategy == Strategy::kEqualisCalibrated) {
    double sq = 0;
    double worst = 0;
    for (std::size_t b = 0; b < n; ++b) {
      const double true_error = sim.moduleGainError(0, b) * truth[b] + sim.moduleOffsetV(0, b);
      const double d = cal.errorV(b) - true_error;
      sq += d * d;
      worst = std::max(worst, std::abs(d));
    }
    r.calibration_rms_mv = std::sqrt(sq / static_cast<double>(n)) * 1000;
    r.calibration_max_mv = worst * 1000;
    r.calibration_events = cal.stringEvents();
  }
  r.true_spread_mean_v = spread_samples > 0 ? spread_sum / spread_samples : 0;
  r.share_within_50mv_pct = samples > 0 ? 100.0 * within / samples : 0;
  r.bypass_energy_kwh = energy_wh / 1000.0;
  r.bypass_mean_w_per_block =
      energy_wh / (static_cast<double>(end - kDayMs) / kHourMs) / static_cast<double>(n);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_wall).count();
  return r;
}

void emit(const Case& c, Strategy s, int days, const char* metric, double value, const char* unit) {
  const auto& sc = c.plant.strings[0];
  nlohmann::json j{{"bench", "balancing"},
                   {"metric", metric},
                   {"value", value},
                   {"unit", unit},
                   {"conditions",
                    {{"case", c.name},
                     {"strategy", strategyName(s)},
                     {"blocks", sc.block_count},
                     {"chemistry", std::string(model::chemistryInfo(sc.chemistry).key)},
                     {"capacity_ah", sc.capacity_ah},
                     {"module", std::string(model::moduleTypeInfo(sc.module_type).key)},
                     {"age_years", sc.age_years},
                     {"days", days},
                     {"seed", c.plant.simulation.seed},
                     {"outage_mean_interval_h", c.plant.simulation.ups.outage_mean_interval_h}}}};
  if (value < 0) {
    j["value"] = nullptr;
  }
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int days = argc > 1 ? std::max(2, std::atoi(argv[1])) : 365;
  const std::vector<Case> cases = {
      {"a_64x12V_vrla",
       onePlant(model::Chemistry::kVrla12V, 64, 100, model::ModuleType::kC24, 5, 11)},
      {"a2_64x12V_vrla_1y",
       onePlant(model::Chemistry::kVrla12V, 64, 100, model::ModuleType::kC24, 1, 14)},
      {"b_240x2V_vrla",
       onePlant(model::Chemistry::kVrla2V, 240, 1000, model::ModuleType::kC44, 5, 12)},
      {"c_16xLiFePO4",
       onePlant(model::Chemistry::kLiFePO4, 16, 100, model::ModuleType::kC44, 0, 13)},
  };
  for (const auto& c : cases) {
    for (auto s : {Strategy::kNone, Strategy::kThreshold, Strategy::kEqualis,
                   Strategy::kEqualisCalibrated}) {
      const auto r = run(c, s, days);
      emit(c, s, days, "initial_true_spread", r.initial_true_spread_v * 1000, "mV");
      emit(c, s, days, "time_to_displayed_10mV", r.hours_to_displayed_10mv, "h");
      emit(c, s, days, "true_spread_4h", r.true_spread_4h_v * 1000, "mV");
      emit(c, s, days, "true_spread_24h", r.true_spread_24h_v * 1000, "mV");
      emit(c, s, days, "true_spread_mean", r.true_spread_mean_v * 1000, "mV");
      emit(c, s, days, "true_spread_end", r.true_spread_end_v * 1000, "mV");
      emit(c, s, days, "share_within_50mV_true", r.share_within_50mv_pct, "%");
      emit(c, s, days, "bypass_energy", r.bypass_energy_kwh, "kWh");
      emit(c, s, days, "bypass_mean_power_per_block", r.bypass_mean_w_per_block, "W");
      emit(c, s, days, "wall_time", r.wall_s, "s");
      if (s == Strategy::kEqualisCalibrated) {
        emit(c, s, days, "calibration_error_rms", r.calibration_rms_mv, "mV");
        emit(c, s, days, "calibration_error_max", r.calibration_max_mv, "mV");
        emit(c, s, days, "calibration_events", r.calibration_events, "discharges");
      }
    }
  }
  return 0;
}
