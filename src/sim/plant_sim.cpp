#include "sim/plant_sim.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "model/chemistry.hpp"
#include "sim/block_model.hpp"
#include "sim/chemistry_params.hpp"
#include "sim/rng.hpp"

namespace equalis::sim {

namespace {

// ---- Time steps (§6.1): ≤ 1 s while discharging and for 5 min after a load step, ≤ 10 s while
// charging or just after a bypass change, 30 s in settled float (τ_float = 1 h, τ_th ≈ 7 h).
constexpr DurationMs kFastStepMs = kSecondMs;
constexpr DurationMs kNormalStepMs = 10 * kSecondMs;
constexpr DurationMs kSteadyStepMs = 30 * kSecondMs;
constexpr DurationMs kFastHoldMs = 5 * kMinuteMs;
// Settled float: string current below 0.5 % of C_N per hour (50 mA for 100 Ah) [G].
constexpr double kSteadyCurrentCRate = 0.005;

// Random streams derived from the seed (rng.hpp).
constexpr std::uint64_t kStreamScatter = 1;
constexpr std::uint64_t kStreamCalibration = 2;
constexpr std::uint64_t kStreamUps = 3;
constexpr std::uint64_t kStreamNoise = 4;

// ---- Measurement model (§6.3 "Module", §4.2) ----
constexpr double kGainErrorMax = 0.003;          // |g| ≤ 0.3 % [§6.3, G]
constexpr double kOffsetMaxV12 = 0.020;          // |o| ≤ 20 mV for a 12 V block [§6.3, G]
constexpr double kVoltageNoiseSigmaV12 = 0.001;  // 1 mV σ per read on 12 V, clipped at 3σ [G]
constexpr double kNoiseClipSigma = 3.0;
// |g|·V + |o| + 3σ ≤ 0.5 % of V holds for V ≥ 11.5 V on 12 V blocks (≥ 1.92 V on 2 V cells),
// i.e. everywhere in float and charge; deep in a discharge the budget can exceed 0.5 %.
constexpr double kTempOffsetShare = 0.6;     // fixed offset ≤ 0.6 × module accuracy [G]
constexpr double kTempNoiseShare = 0.1;      // σ = 0.1 × accuracy, clipped at 3σ [G]
constexpr double kRiErrorShare = 0.5;        // fixed Ri error ≤ 0.5 × accuracy [G]
constexpr double kRiNoiseShare = 0.1;        // σ = 0.1 × accuracy, clipped at 3σ [G]
constexpr double kCurrentOffsetFs = 0.0005;  // ±0.05 % of full scale (0.05 A at ±100 A) [G]
constexpr double kCurrentNoiseFs = 0.0001;   // σ 0.01 % FS [G]
constexpr double kRippleMinA = 0.1;          // rectifier ripple RMS 0.1 … 0.3 A [G]
constexpr double kRippleMaxA = 0.3;
constexpr double kRippleNoiseRel = 0.02;    // 2 % read noise on the AC value [G]
constexpr double kAmbientOffsetMaxC = 0.5;  // ambient sensor [G]
constexpr double kAmbientNoiseC = 0.05;

// Daily ambient swing: minimum at 03:00, maximum at 15:00 UTC [G].
constexpr DurationMs kAmbientPeakMs = 15 * kHourMs;

// Jackey average-current filter for C(I,θ) (§2.2: τ1 = 100 s) [G].
constexpr double kDischargeAvgTauS = 100.0;
// Floor of the depth of charge in R_depl = −R10·ln(DOC) (§2.2) — bounds the collapse.
constexpr double kMinDoc = 1e-30;
// Exhausted block: −0.2 V/cell per 1 % of C(I,θ) overdrawn, down to −2 V/cell (cell at ~0 V) [G].
constexpr double kExhaustVPerCellPerDoc = 20.0;
constexpr double kExhaustMaxVPerCell = 2.0;

// Solver tolerances.
constexpr double kCvToleranceV = 1e-6;
constexpr double kCurrentToleranceA = 1e-12;

struct ModuleCalibration {
  double gain = 0;
  double offset_v = 0;
  double noise_sigma_v = 0;
  double temperature_offset_c = 0;
  double ri_error = 0;
  bool comm_fault = false;
};

struct StringSim {
  model::StringConfig config;
  const ChemistryParams* chem = nullptr;
  const model::ModuleTypeInfo* module = nullptr;
  std::vector<Block> blocks;
  std::vector<ModuleCalibration> modules;

  double nameplate_ah = 100;
  double dl_capacitance_f = 0;  // C_f per block
  double accept_g_per_ah = 0;   // g_c = (1 − SOC)·C·accept_g_per_ah
  double heat_capacity_j_per_k = 0;
  double conductance_w_per_k = 0;
  double eod_string_v = 0;
  double load_share = 0;  // share of the UPS load

  bool charger_enabled = true;
  double test_load_a = 0;
  bool cut_off = false;
  double current_a = 0;
  double setpoint_v = 0;
  double voltage_v = 0;
  StringMode mode = StringMode::kFloat;
  double ripple_a = 0;
  double current_offset_a = 0;
};

// Φ⁻¹(p) by bisection on the normal CDF 0.5·erfc(−x/√2) (construction only).
double inverseNormalCdf(double p) {
  double lo = -10.0;
  double hi = 10.0;
  for (int i = 0; i < 80; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::numbers::sqrt2) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

struct SolveResult {
  double x;
  double f;
};

}  // namespace

struct PlantSim::Impl {
  model::PlantConfig config;
  TimeMs t_ms;
  std::vector<StringSim> strings;

  Rng ups_rng;
  Rng noise_rng;
  double ambient_offset_c = 0;

  bool outage_active = false;
  TimeMs outage_end_ms = 0;
  double outage_load_w = 0;
  TimeMs next_outage_ms = -1;
  DurationMs next_outage_duration_ms = 0;
  TimeMs last_load_step_ms;
  TimeMs last_bypass_change_ms;
  std::uint64_t block_steps = 0;

  Impl(const model::PlantConfig& cfg, TimeMs start_ms)
      : config(cfg),
        t_ms(start_ms),
        ups_rng(cfg.simulation.seed, kStreamUps),
        noise_rng(cfg.simulation.seed, kStreamNoise),
        last_load_step_ms(start_ms - kDayMs),
        last_bypass_change_ms(start_ms - kDayMs) {
    Rng scatter(cfg.simulation.seed, kStreamScatter);
    Rng calib(cfg.simulation.seed, kStreamCalibration);
    int total_blocks = 0;
    for (const auto& sc : cfg.strings) {
      total_blocks += std::max(0, sc.block_count);
    }
    const double t_amb = ambientC(start_ms);
    for (const auto& sc : cfg.strings) {
      strings.push_back(buildString(sc, total_blocks, t_amb, scatter, calib));
    }
    ambient_offset_c = calib.uniform(-kAmbientOffsetMaxC, kAmbientOffsetMaxC);
    for (auto& s : strings) {
      initializeFloat(s);
    }
    scheduleNextOutage(start_ms);
  }

  // ------------------------------------------------------------------ construction
  StringSim buildString(const model::StringConfig& sc, int total_blocks, double t_amb, Rng& scatter,
                        Rng& calib) {
    StringSim s;
    s.config = sc;
    s.chem = &chemistryParams(sc.chemistry);
    s.module = &model::moduleTypeInfo(sc.module_type);
    const auto& chem = *s.chem;
    const auto& info = model::chemistryInfo(sc.chemistry);
    const int n = std::max(0, sc.block_count);
    s.nameplate_ah = sc.capacity_ah > 0 ? sc.capacity_ah : chem.ref_capacity_ah;
    const double r_scale = chem.ref_capacity_ah / s.nameplate_ah;
    const double c_scale = s.nameplate_ah / chem.ref_capacity_ah;
    s.heat_capacity_j_per_k = chem.heat_capacity_j_per_k * c_scale;
    // Surface ∝ volume^(2/3) [G].
    s.conductance_w_per_k = chem.thermal_conductance_w_per_k * std::cbrt(c_scale * c_scale);
    s.eod_string_v = info.end_of_discharge_v_per_cell * chem.cells * n;
    s.load_share = total_blocks > 0 ? static_cast<double>(n) / total_blocks : 0.0;
    // g_c: I_main = deficit/τ_acc at E = E_ref (chemistry_params.hpp).
    s.accept_g_per_ah = 3600.0 / (chem.accept_tau_s * chem.accept_ref_v_per_cell * chem.cells);

    // Double-layer capacitance from τ_float at the nominal float point of a new block:
    // C_f = τ_float · dI_gas/dE (§1.4). LFP: τ at half-charged acceptance [G].
    if (chem.gassing) {
      // d/dE of the Butler–Volmer branch = (c_u/n_c)·I_Tafel(V).
      const double i_tafel =
          tafelGassingCurrentA(chem, s.nameplate_ah, info.float_v_per_cell, 25.0);
      s.dl_capacitance_f = chem.tau_float_s * (chem.gas_cu_per_v / chem.cells) * i_tafel;
    } else {
      s.dl_capacitance_f = chem.tau_float_s * 0.5 * s.nameplate_ah * s.accept_g_per_ah;
    }

    // Static scatter and ageing (§6.4 scatter row, §2.6, §6.3).
    const double age = std::max(0.0, sc.age_years);
    const double sigma_ln_i0 =
        std::min(chem.sigma_ln_i0_max, chem.sigma_ln_i0_new + chem.sigma_ln_i0_per_year * age);
    s.blocks.resize(static_cast<std::size_t>(n));
    std::vector<double> z(4 * static_cast<std::size_t>(n));
    for (auto& zi : z) {
      zi = scatter.normal();
    }
    // ln I0 offsets: the n mid-point quantiles of N(0, 1), Φ⁻¹((j + ½)/n), dealt to the blocks in a
    // seeded random order (Fisher–Yates). The string's ln I0 spread is then exactly the §6.4 σ and
    // its float-voltage spread does not depend on the luck of 32 draws; the seed decides which
    // block is high or low. (Plain draws give a max deviation anywhere in 0.7 … 1.5 V at σ = 1.2.)
    {
      std::vector<double> q(static_cast<std::size_t>(n));
      for (int j = 0; j < n; ++j) {
        q[static_cast<std::size_t>(j)] = inverseNormalCdf((j + 0.5) / n);
      }
      for (std::size_t j = q.size(); j > 1; --j) {
        const auto r = static_cast<std::size_t>(scatter.next() % j);
        std::swap(q[j - 1], q[r]);
      }
      for (std::size_t j = 0; j < q.size(); ++j) {
        z[4 * j + 2] = q[j];
      }
    }
    for (std::size_t i = 0; i < s.blocks.size(); ++i) {
      Block& b = s.blocks[i];
      const double z_c = z[4 * i];
      const double z_r = z[4 * i + 1];
      const double z_i0 = z[4 * i + 2];
      const double z_f = z[4 * i + 3];
      const double fade_mult =
          std::exp(chem.sigma_ln_fade * z_f - 0.5 * chem.sigma_ln_fade * chem.sigma_ln_fade);
      const double fade = std::min(0.5, age * chem.fade_per_year * fade_mult);
      const double c0 = s.nameplate_ah * std::max(0.5, 1.0 + chem.sigma_c0 * z_c);
      b.capacity_ah = c0 * (1.0 - fade);
      // §2.6: Ri = Ri0·(1 + 1.25·(1 − C/C0)); §6.3: I0 = I0_0·(1 + 4·(1 − C/C0)).
      b.r0_ohm =
          chem.r0_ohm * r_scale * std::max(0.5, 1.0 + chem.sigma_r0 * z_r) * (1.0 + 1.25 * fade);
      b.r1_ohm = chem.r1_ohm * r_scale;
      b.r2_ohm = chem.r2_ohm * r_scale;
      b.gas_i0_a = chem.gassing ? chem.gas_i0_a_per_100ah * (s.nameplate_ah / 100.0) *
                                      std::exp(sigma_ln_i0 * z_i0) * (1.0 + 4.0 * fade)
                                : 0.0;
      b.depletion_r10_ohm = chem.depletion_r10_ohm_per_cell * chem.cells * r_scale;
      b.temperature_c = t_amb;
    }

    // Module calibration, drawn once (§6.2 "gain and offset drawn once at creation").
    const double v_scale = info.nominal_voltage_v / 12.0;
    s.modules.resize(static_cast<std::size_t>(n));
    for (auto& m : s.modules) {
      m.gain = calib.uniform(-kGainErrorMax, kGainErrorMax);
      m.offset_v = calib.uniform(-1.0, 1.0) * kOffsetMaxV12 * v_scale;
      m.noise_sigma_v = kVoltageNoiseSigmaV12 * v_scale;
      m.temperature_offset_c =
          calib.uniform(-1.0, 1.0) * kTempOffsetShare * s.module->temperature_accuracy_c;
      m.ri_error = calib.uniform(-1.0, 1.0) * kRiErrorShare * s.module->ri_accuracy_pct / 100.0;
    }
    s.ripple_a = calib.uniform(kRippleMinA, kRippleMaxA);
    s.current_offset_a =
        calib.uniform(-1.0, 1.0) * kCurrentOffsetFs * std::max(0.0, sc.current_sensor.range_a);
    return s;
  }

  // Starts the string in settled float: SOC where the OCV meets the float voltage (1 for lead-acid
  // and NiCd, ~0.97 for LFP), polarizations at their steady values for the float current.
  void initializeFloat(StringSim& s) {
    const auto& chem = *s.chem;
    const double soc0 = socForOcv(chem, s.config.charger.float_v_per_cell * chem.cells);
    for (auto& b : s.blocks) {
      b.q_removed_ah = (1.0 - soc0) * b.capacity_ah;
    }
    // One backward-Euler step with a huge dt is the steady state of E, U1, U2 at frozen SOC and T.
    StepConstants k = stepConstants(s, 1e9);
    prepareBlocks(s);
    solveString(s, k);
    for (auto& b : s.blocks) {
      b.e_v = b.s_e_v;
      b.u1_v = b.s_u1_v;
      b.u2_v = b.s_u2_v;
      writeOutputs(b, k);
    }
    s.voltage_v = sumVoltage(s);
  }

  // ------------------------------------------------------------------ environment
  double ambientC(TimeMs t) const {
    const auto& a = config.ambient;
    if (a.daily_swing_c == 0.0) {
      return a.temperature_c;
    }
    const DurationMs in_day = ((t - kAmbientPeakMs) % kDayMs + kDayMs) % kDayMs;
    const double phase = 2.0 * std::numbers::pi * static_cast<double>(in_day) / kDayMs;
    return a.temperature_c + a.daily_swing_c * std::cos(phase);
  }

  // ------------------------------------------------------------------ UPS
  void scheduleNextOutage(TimeMs from_ms) {
    const auto& ups = config.simulation.ups;
    if (!ups.outages || ups.outage_mean_interval_h <= 0.0) {
      next_outage_ms = -1;
      return;
    }
    // Renewal process: exponential gap (mean outage_mean_interval_h) after the previous outage,
    // duration uniform in [outage_min_s, outage_max_s].
    const double gap_s = ups_rng.exponential(ups.outage_mean_interval_h * 3600.0);
    const double lo_s = std::min(ups.outage_min_s, ups.outage_max_s);
    const double hi_s = std::max(ups.outage_min_s, ups.outage_max_s);
    const double dur_s = ups_rng.uniform(lo_s, hi_s);
    next_outage_ms = from_ms + std::max<DurationMs>(kSecondMs, std::llround(gap_s * 1000.0));
    next_outage_duration_ms = std::max<DurationMs>(kSecondMs, std::llround(dur_s * 1000.0));
  }

  void beginOutage(double load_w, DurationMs duration_ms) {
    outage_active = true;
    outage_end_ms = t_ms + duration_ms;
    outage_load_w = std::max(0.0, load_w);
    last_load_step_ms = t_ms;
    for (auto& s : strings) {
      s.cut_off = false;
    }
  }

  void processEvents() {
    if (outage_active && t_ms >= outage_end_ms) {
      outage_active = false;
      last_load_step_ms = t_ms;
      for (auto& s : strings) {
        s.cut_off = false;
      }
    }
    if (next_outage_ms >= 0 && t_ms >= next_outage_ms) {
      if (!outage_active) {
        beginOutage(config.simulation.ups.load_kw * 1000.0, next_outage_duration_ms);
        scheduleNextOutage(outage_end_ms);
      } else {
        scheduleNextOutage(outage_end_ms);  // skipped: mains already off
      }
    }
  }

  // ------------------------------------------------------------------ stepping
  DurationMs maxStepMs() const {
    if (outage_active || t_ms - last_load_step_ms < kFastHoldMs) {
      return kFastStepMs;
    }
    for (const auto& s : strings) {
      if (s.test_load_a > 0.0 && !s.cut_off) {
        return kFastStepMs;
      }
    }
    if (t_ms - last_bypass_change_ms < kFastHoldMs) {
      return kNormalStepMs;
    }
    for (const auto& s : strings) {
      const bool settled = (s.mode == StringMode::kFloat || s.mode == StringMode::kRest) &&
                           std::fabs(s.current_a) < kSteadyCurrentCRate * s.nameplate_ah;
      if (!settled) {
        return kNormalStepMs;
      }
    }
    return kSteadyStepMs;
  }

  void advanceTo(TimeMs target_ms) {
    while (t_ms < target_ms) {
      processEvents();
      DurationMs step = std::min(maxStepMs(), target_ms - t_ms);
      if (outage_active) {
        step = std::min(step, outage_end_ms - t_ms);
      }
      if (next_outage_ms > t_ms) {
        step = std::min(step, next_outage_ms - t_ms);
      }
      step = std::max<DurationMs>(step, 1);
      stepAll(static_cast<double>(step) / 1000.0);
      t_ms += step;
    }
    processEvents();
  }

  void stepAll(double dt_s) {
    const double t_amb = ambientC(t_ms);
    for (auto& s : strings) {
      stepString(s, dt_s, t_amb);
    }
  }

  StepConstants stepConstants(const StringSim& s, double dt_s) const {
    const auto& chem = *s.chem;
    StepConstants k;
    k.dt_s = dt_s;
    k.a1 = std::exp(-dt_s / chem.tau1_s);
    k.a2 = std::exp(-dt_s / chem.tau2_s);
    k.dl_g_s = s.dl_capacitance_f / dt_s;
    k.k_per_v = chem.gassing ? chem.gas_cu_per_v / chem.cells : 0.0;
    k.g_discharge_s = 1.0 / (chem.discharge_r_ohm * chem.ref_capacity_ah / s.nameplate_ah);
    return k;
  }

  void prepareBlocks(StringSim& s) {
    const auto& chem = *s.chem;
    const auto& mod = *s.module;
    const int n_c = chem.cells;
    for (auto& b : s.blocks) {
      const double soc = std::clamp(b.soc(), 0.0, 1.0);
      b.s_ocv_v = ocvBlockV(chem, soc, b.temperature_c);
      b.s_gas_a = chem.gassing
                      ? b.gas_i0_a * std::exp(chem.gas_cu_per_v *
                                                  (b.s_ocv_v / n_c - chem.gas_u0_v_per_cell) +
                                              chem.gas_ct_per_k * (b.temperature_c - 25.0))
                      : 0.0;
      b.s_g_charge_s = (1.0 - soc) * b.capacity_ah * s.accept_g_per_ah;
      // Depletion resistance R1 = −R10·ln(DOC), DOC against C(I_avg, θ) (§2.2). Zero when full.
      if (b.q_removed_ah > 1e-3 * b.capacity_ah) {
        const double c_avail = b.capacity_ah * capacityTemperatureFactor(b.temperature_c) *
                               capacityRateFactor(chem, b.i_avg_discharge_a, s.nameplate_ah);
        const double doc = 1.0 - b.q_removed_ah / c_avail;
        b.s_r_depl_ohm = -b.depletion_r10_ohm * std::log(std::max(kMinDoc, doc));
        // Past exhaustion (DOC < 0) the voltage keeps collapsing with the overdrawn charge, so
        // the cut-off is reached at any rate (−ln DOC alone is bounded by the DOC floor).
        b.s_v_exhaust =
            doc < 0.0 ? -n_c * std::min(kExhaustMaxVPerCell, -doc * kExhaustVPerCellPerDoc) : 0.0;
      } else {
        b.s_r_depl_ohm = 0.0;
        b.s_v_exhaust = 0.0;
      }
      // Module bypass: power-capped current sink, only inside the module's input range (§0, §6.3).
      const double v = b.voltage_v;
      if (b.bypass_duty > 0.0 && v >= mod.voltage_min_v && v <= mod.voltage_max_v) {
        b.bypass_duty_applied = b.bypass_duty;
        b.bypass_current_a =
            b.bypass_duty * std::min(mod.bypass_current_a, mod.bypass_power_max_w / v);
      } else {
        b.bypass_duty_applied = 0.0;
        b.bypass_current_a = 0.0;
      }
    }
  }

  // Σ V_i(I − I_b,i) and Σ dV_i/dI.
  static double stringVoltage(StringSim& s, const StepConstants& k, double i_a, double& dv) {
    double v = 0.0;
    dv = 0.0;
    for (auto& b : s.blocks) {
      double d = 0.0;
      v += evaluateBlock(b, k, i_a - b.bypass_current_a, d);
      dv += d;
    }
    return v;
  }

  // Safeguarded Newton for an increasing f on [lo, hi] (signs at the ends unknown). Leaves the
  // block scratch at the returned x. If f keeps its sign, returns the end it converged to.
  template <class Fn>
  static SolveResult solveIncreasing(Fn&& fn, double lo, double hi, double x0, double f_tol) {
    bool lo_known = false;
    bool hi_known = false;
    double x = std::clamp(x0, lo, hi);
    double f = 0.0;
    for (int it = 0; it < 200; ++it) {
      double df = 0.0;
      f = fn(x, df);
      if (std::fabs(f) <= f_tol) {
        break;
      }
      if (f > 0.0) {
        hi = x;
        hi_known = true;
      } else {
        lo = x;
        lo_known = true;
      }
      if (hi - lo <= kCurrentToleranceA) {
        break;
      }
      double xn = df > 0.0 ? x - f / df : lo - 1.0;
      if (!(xn > lo && xn < hi)) {
        if (f < 0.0 && !hi_known) {
          xn = hi;
        } else if (f > 0.0 && !lo_known) {
          xn = lo;
        } else {
          xn = 0.5 * (lo + hi);
        }
      }
      x = xn;
    }
    return {x, f};
  }

  double chargerSetpointV(const StringSim& s) const {
    const auto& ch = s.config.charger;
    const double cells = static_cast<double>(s.chem->cells) * static_cast<double>(s.blocks.size());
    double v = ch.float_v_per_cell * cells;
    if (ch.temperature_compensation && !s.blocks.empty()) {
      double t_sum = 0.0;
      for (const auto& b : s.blocks) {
        t_sum += b.temperature_c;
      }
      const double t_avg = t_sum / static_cast<double>(s.blocks.size());
      const double lo = std::min(ch.temp_comp_min_c, ch.temp_comp_max_c);
      const double hi = std::max(ch.temp_comp_min_c, ch.temp_comp_max_c);
      v += ch.temp_comp_mv_per_k_per_cell * 1e-3 * cells * (std::clamp(t_avg, lo, hi) - 25.0);
    }
    return v;
  }

  bool discharging(const StringSim& s) const {
    return (s.test_load_a > 0.0 || (outage_active && outage_load_w > 0.0)) && !s.cut_off;
  }

  // Solves the string current for this step and sets s.mode / s.current_a. Block scratch is left
  // at the solution.
  void solveString(StringSim& s, const StepConstants& k) {
    s.setpoint_v = chargerSetpointV(s);
    if (s.blocks.empty()) {
      s.current_a = 0.0;
      s.mode = StringMode::kRest;
      return;
    }
    double dv = 0.0;
    if (discharging(s)) {
      s.mode = StringMode::kDischarge;
      if (s.test_load_a > 0.0) {
        s.current_a = -s.test_load_a;
        stringVoltage(s, k, s.current_a, dv);
        return;
      }
      // Constant-power UPS load: I·ΣV(I) + P = 0 on the branch above the cut-off voltage.
      const double p_w = outage_load_w * s.load_share;
      const double i_min = -1.2 * p_w / std::max(1e-3, s.eod_string_v);
      const double x0 = s.current_a < 0.0 ? s.current_a : -p_w / std::max(1e-3, s.voltage_v);
      auto fn = [&](double i_a, double& df) {
        double d = 0.0;
        const double v = stringVoltage(s, k, i_a, d);
        df = v + i_a * d;
        return i_a * v + p_w;
      };
      const SolveResult r = solveIncreasing(fn, i_min, 0.0, x0, 1e-7 * std::max(1.0, p_w));
      if (r.f > 1e-6 * std::max(1.0, p_w)) {
        // The string cannot deliver the power above the cut-off voltage: the UPS disconnects.
        s.cut_off = true;
        s.mode = StringMode::kRest;
        s.current_a = 0.0;
        stringVoltage(s, k, 0.0, dv);
        return;
      }
      s.current_a = r.x;
      return;
    }
    if (!s.charger_enabled || (outage_active && outage_load_w > 0.0) || s.test_load_a > 0.0) {
      // Charger off, or mains failed / load connected but the string is cut off.
      s.mode = StringMode::kRest;
      s.current_a = 0.0;
      stringVoltage(s, k, 0.0, dv);
      return;
    }
    // Charger: CV at the compensated set-point, CC at the current limit, never sinks current.
    const double i_limit = std::max(0.0, s.config.charger.current_limit_a);
    const double v_set = s.setpoint_v;
    auto fn = [&](double i_a, double& df) { return stringVoltage(s, k, i_a, df) - v_set; };
    const SolveResult r = solveIncreasing(fn, 0.0, i_limit, s.current_a, kCvToleranceV);
    s.current_a = r.x;
    s.mode = (r.f < -kCvToleranceV && r.x >= i_limit) ? StringMode::kCharge : StringMode::kFloat;
  }

  static double sumVoltage(const StringSim& s) {
    double v = 0.0;
    for (const auto& b : s.blocks) {
      v += b.voltage_v;
    }
    return v;
  }

  static void writeOutputs(Block& b, const StepConstants& k) {
    const double e = b.s_e_v;
    b.main_current_a = e >= 0.0 ? b.s_g_charge_s * e : k.g_discharge_s * e;
    b.gas_current_a = e > 0.0 ? b.s_gas_a * (b.s_exp_ke - 1.0) : 0.0;
    b.cell_current_a = b.s_i_a;
    b.voltage_v = b.s_v;
    b.ocv_v = b.s_ocv_v;
  }

  void stepString(StringSim& s, double dt_s, double t_amb) {
    const auto& chem = *s.chem;
    const StepConstants k = stepConstants(s, dt_s);
    prepareBlocks(s);
    solveString(s, k);

    const double a_th = std::exp(-dt_s * s.conductance_w_per_k / s.heat_capacity_j_per_k);
    const double a_avg = std::exp(-dt_s / kDischargeAvgTauS);
    const double dt_h = dt_s / 3600.0;
    for (auto& b : s.blocks) {
      b.e_v = b.s_e_v;
      b.u1_v = b.s_u1_v;
      b.u2_v = b.s_u2_v;
      writeOutputs(b, k);
      const double i = b.cell_current_a;
      // Charge balance: main reaction (η on charge) minus self-discharge (§1.1, §6.3).
      const double i_main = b.main_current_a;
      const double i_sd = selfDischargeCurrentA(chem, b.capacity_ah, b.temperature_c);
      const double charge_a = i_main > 0.0 ? chem.charge_efficiency * i_main : i_main;
      b.q_removed_ah = std::max(0.0, b.q_removed_ah + dt_h * (i_sd - charge_a));
      b.i_avg_discharge_a = std::max(0.0, -i) + (b.i_avg_discharge_a - std::max(0.0, -i)) * a_avg;
      // Heat (§1.6, §2.7): gassing branch power (VRLA recombination → heat), ohmic and
      // polarization losses, main-reaction overvoltage loss, κ × module bypass heat.
      const double p_w = (b.ocv_v + b.e_v) * b.gas_current_a +
                         i * i * (b.r0_ohm + b.s_r_extra_ohm) + b.u1_v * b.u1_v / b.r1_ohm +
                         b.u2_v * b.u2_v / b.r2_ohm + b.e_v * i_main +
                         chem.bypass_heat_fraction * b.voltage_v * b.bypass_current_a;
      const double t_eq = t_amb + p_w / s.conductance_w_per_k;
      b.temperature_c = t_eq + (b.temperature_c - t_eq) * a_th;
    }
    s.voltage_v = sumVoltage(s);
    if (s.mode == StringMode::kDischarge && s.voltage_v < s.eod_string_v) {
      s.cut_off = true;  // UPS low-battery cut-off
      last_load_step_ms = t_ms;
    }
    block_steps += s.blocks.size();
  }

  // ------------------------------------------------------------------ access
  StringSim& str(std::size_t i) { return strings.at(i); }
  const StringSim& str(std::size_t i) const { return strings.at(i); }
  Block& blk(std::size_t si, std::size_t bi) { return str(si).blocks.at(bi); }
  const Block& blk(std::size_t si, std::size_t bi) const { return str(si).blocks.at(bi); }
};

// ==================================================================== PlantSim

PlantSim::PlantSim(const model::PlantConfig& config, TimeMs start_ms)
    : impl_(std::make_unique<Impl>(config, start_ms)) {}

PlantSim::~PlantSim() = default;

void PlantSim::advanceTo(TimeMs t_ms) {
  impl_->advanceTo(t_ms);
}

TimeMs PlantSim::timeMs() const {
  return impl_->t_ms;
}

std::size_t PlantSim::stringCount() const {
  return impl_->strings.size();
}

std::size_t PlantSim::blockCount(std::size_t string_index) const {
  return impl_->str(string_index).blocks.size();
}

BlockTruth PlantSim::blockTruth(std::size_t string_index, std::size_t block_index) const {
  const Block& b = impl_->blk(string_index, block_index);
  BlockTruth t;
  t.voltage_v = b.voltage_v;
  t.ocv_v = b.ocv_v;
  t.soc = std::clamp(b.soc(), 0.0, 1.0);
  t.temperature_c = b.temperature_c;
  t.ri_ohm = b.r0_ohm;
  t.cell_current_a = b.cell_current_a;
  t.gassing_current_a = b.gas_current_a;
  t.bypass_current_a = b.bypass_current_a;
  t.capacity_ah = b.capacity_ah;
  return t;
}

StringTruth PlantSim::stringTruth(std::size_t string_index) const {
  const StringSim& s = impl_->str(string_index);
  StringTruth t;
  t.voltage_v = s.voltage_v;
  t.current_a = s.current_a;
  t.charger_setpoint_v = s.setpoint_v;
  t.mode = s.mode;
  t.ac_ripple_a =
      (s.mode == StringMode::kFloat || s.mode == StringMode::kCharge) ? s.ripple_a : 0.0;
  return t;
}

double PlantSim::ambientTemperatureC() const {
  return impl_->ambientC(impl_->t_ms);
}

ModuleMeasurement PlantSim::measureModule(std::size_t string_index, std::size_t block_index) {
  const StringSim& s = impl_->str(string_index);
  const Block& b = s.blocks.at(block_index);
  const ModuleCalibration& m = s.modules.at(block_index);
  Rng& rng = impl_->noise_rng;
  ModuleMeasurement out;
  out.voltage_v = (1.0 + m.gain) * b.voltage_v + m.offset_v +
                  m.noise_sigma_v * rng.clippedNormal(kNoiseClipSigma);
  const double t_acc = s.module->temperature_accuracy_c;
  out.temperature_c = b.temperature_c + m.temperature_offset_c +
                      kTempNoiseShare * t_acc * rng.clippedNormal(kNoiseClipSigma);
  const double ri_acc = s.module->ri_accuracy_pct / 100.0;
  out.ri_ohm =
      b.r0_ohm * (1.0 + m.ri_error + kRiNoiseShare * ri_acc * rng.clippedNormal(kNoiseClipSigma));
  out.bypass_duty = b.bypass_duty_applied;
  return out;
}

CurrentSensorMeasurement PlantSim::measureStringCurrent(std::size_t string_index) {
  const StringSim& s = impl_->str(string_index);
  Rng& rng = impl_->noise_rng;
  const double fs = std::max(0.0, s.config.current_sensor.range_a);
  CurrentSensorMeasurement out;
  out.current_a = s.current_a + s.current_offset_a + kCurrentNoiseFs * fs * rng.normal();
  const double ripple = stringTruth(string_index).ac_ripple_a;
  out.ac_current_a = std::max(0.0, ripple * (1.0 + kRippleNoiseRel * rng.normal()));
  return out;
}

double PlantSim::measureAmbientC() {
  return ambientTemperatureC() + impl_->ambient_offset_c +
         kAmbientNoiseC * impl_->noise_rng.clippedNormal(kNoiseClipSigma);
}

void PlantSim::setBypassDuty(std::size_t string_index, std::size_t block_index, double duty) {
  Block& b = impl_->blk(string_index, block_index);
  const double d = std::isfinite(duty) ? std::clamp(duty, 0.0, 1.0) : 0.0;
  if (d != b.bypass_duty) {
    b.bypass_duty = d;
    impl_->last_bypass_change_ms = impl_->t_ms;
  }
}

void PlantSim::startOutage(double load_w, DurationMs duration_ms) {
  if (duration_ms <= 0) {
    return;
  }
  impl_->beginOutage(load_w, duration_ms);
}

bool PlantSim::outageActive() const {
  return impl_->outage_active;
}

TimeMs PlantSim::nextScheduledOutageMs() const {
  return impl_->next_outage_ms;
}

double PlantSim::moduleGainError(std::size_t string_index, std::size_t block_index) const {
  return impl_->str(string_index).modules.at(block_index).gain;
}

double PlantSim::moduleOffsetV(std::size_t string_index, std::size_t block_index) const {
  return impl_->str(string_index).modules.at(block_index).offset_v;
}

void PlantSim::setModuleCommFault(std::size_t string_index, std::size_t block_index, bool faulty) {
  impl_->str(string_index).modules.at(block_index).comm_fault = faulty;
}

bool PlantSim::moduleCommFault(std::size_t string_index, std::size_t block_index) const {
  return impl_->str(string_index).modules.at(block_index).comm_fault;
}

void PlantSim::setChargerEnabled(std::size_t string_index, bool enabled) {
  impl_->str(string_index).charger_enabled = enabled;
  impl_->last_load_step_ms = impl_->t_ms;
}

void PlantSim::setDischargeCurrent(std::size_t string_index, double current_a) {
  StringSim& s = impl_->str(string_index);
  const double i = std::isfinite(current_a) ? std::max(0.0, current_a) : 0.0;
  if (i != s.test_load_a) {
    s.test_load_a = i;
    s.cut_off = false;
    impl_->last_load_step_ms = impl_->t_ms;
  }
}

bool PlantSim::lowVoltageCutOff(std::size_t string_index) const {
  return impl_->str(string_index).cut_off;
}

std::uint64_t PlantSim::blockStepCount() const {
  return impl_->block_steps;
}

}  // namespace equalis::sim
