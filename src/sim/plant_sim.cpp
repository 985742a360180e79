#include "sim/plant_sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "model/chemistry.hpp"
#include "persist/files.hpp"
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
constexpr std::uint64_t kStreamReplacement = 5;    // new blocks (replaceBlock)
constexpr std::uint64_t kStreamCurrentSensor = 6;  // current-sensor gain errors and drift
constexpr std::uint64_t kStreamBlockScatter = 7;   // OCV, RC, η, self-discharge, ageing rates

// ---- Measurement model (§6.3 "Module", §4.2) ----
constexpr double kGainErrorMax = 0.003;          // |g| ≤ 0.3 % [§6.3, G]
constexpr double kOffsetMaxV12 = 0.020;          // |o| ≤ 20 mV for a 12 V block [§6.3, G]
constexpr double kVoltageNoiseSigmaV12 = 0.001;  // 1 mV σ per read on 12 V, clipped at 3σ [G]
constexpr double kNoiseClipSigma = 3.0;
// |g|·V + |o| + 3σ ≤ 0.5 % of V holds for V ≥ 11.5 V on 12 V blocks (≥ 1.92 V on 2 V cells),
// i.e. everywhere in float and charge; deep in a discharge the budget can exceed 0.5 %.
constexpr double kTempOffsetShare = 0.6;  // fixed offset ≤ 0.6 × module accuracy [G]
constexpr double kTempNoiseShare = 0.1;   // σ = 0.1 × accuracy, clipped at 3σ [G]
constexpr double kRiErrorShare = 0.5;     // fixed Ri error ≤ 0.5 × accuracy [G]
// The module's Ri reading (§3.1): a load pulse of the module's bypass current for kRiPulseS, the
// voltage step read by a differential input with noise σ_ΔV per reading (the module's own
// averaging included):
//   R_meas = (1 + e)·[R0(T, SOC) + connector + Σ R_k·(1 − e^(−t_p/τ_k))] + N(0, σ/I_pulse),
// with σ² = σ_ΔV² + (r·I_ripple·R)² (the rectifier ripple not rejected by the synchronous
// detection). The charge-transfer pairs add the part they charge within the pulse.
constexpr double kRiPulseS = 1.0;             // pulse width [G] (DC methods: 1–5 s, §3.1)
constexpr double kRiDeltaNoiseGen4V = 10e-6;  // σ_ΔV, BACS 4 modules (Ri < 3 %) [G]
constexpr double kRiDeltaNoiseGen3V = 20e-6;  // σ_ΔV, BACS 3 modules (Ri < 5 %) [G]
constexpr double kRiRippleResidual = 0.005;   // ripple left after synchronous detection [G]
constexpr double kCurrentOffsetFs = 0.0005;   // ±0.05 % of full scale (0.05 A at ±100 A) [G]
constexpr double kCurrentNoiseFs = 0.0001;    // σ 0.01 % FS [G]
// Hall current sensors (BACS_CSH class): gain error up to ±0.5 % of reading [G] (datasheets of
// open-loop Hall sensors give ±0.5 … 1 % at 25 °C) and an offset that drifts slowly: an
// Ornstein–Uhlenbeck walk with a stationary σ of 0.1 % FS and a 30-day time constant, stepped
// every plant hour [G]. Coulomb counting integrates both.
constexpr double kCurrentGainMax = 0.005;
constexpr double kCurrentDriftSigmaFs = 0.001;
constexpr double kCurrentDriftTauS = 30.0 * 86400.0;
constexpr DurationMs kCurrentDriftStepMs = kHourMs;
constexpr double kRippleMinA = 0.1;  // rectifier ripple RMS 0.1 … 0.3 A [G]
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

// ---- Ageing while running (§2.6, §6.3) ----
// The doses are integrated every step (two additions per block) and applied to C, R0 and I0 every
// 10 simulated minutes; the temperature factor 2^((T−25)/15) is evaluated at that cadence
// (τ_th ≈ 7 h, so T hardly moves within an interval).
constexpr double kAgeingIntervalS = 600.0;
constexpr double kYearS = 365.25 * 86400.0;
constexpr double kMaxFade = 0.9;  // capacity floor: 10 % of C0 [G]
// Coup de fouet: the readiness is restored only near full charge [G]; a discharge past
// q/q_n = 12 (h < 2e-4) has spent it.
constexpr double kCdfFullSoc = 0.995;
constexpr double kCdfSpentX = 12.0;
// Dry-out saturates: past 30 % water loss beyond the onset the block is dead either way [G].
constexpr double kMaxDryOutExcess = 0.3;
// Thermoneutral voltage of water electrolysis: gassing power below it leaves a vented cell as gas.
constexpr double kThermoneutralVPerCell = 1.48;

// ---- Heat (§2.7, §1.6) ----
// A block that reaches this temperature vents (VRLA safety valve, electrolyte boils off): it is
// flagged as destroyed and its temperature is capped here, so a runaway cannot overflow [G].
constexpr double kVentTemperatureC = 90.0;

// Cached exponentials (gassing prefactor, self-discharge) are recomputed exactly every this many
// steps of a string, so rounding in the incremental update cannot accumulate.
constexpr std::uint32_t kExactExpEverySteps = 1024;

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
  // Faults (fault.hpp).
  double offset_jump_v = 0;  // module_offset_jump: added to offset_v
  bool stuck = false;        // stuck_sensor: reports stuck_value once it holds one
  bool stuck_valid = false;
  ModuleMeasurement stuck_value;
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
  double neighbour_conductance_w_per_k = 0;  // G_nb between adjacent blocks (§2.7)
  double eod_string_v = 0;
  double r_scale = 1;    // resistances ∝ C_ref / C_N
  double gas_ref_a = 0;  // I_par,ref (gassing + self-discharge) of the ageing dose (§6.3)
  double water_per_emitted_as = 0;  // water-loss fraction per A·s of gassing charge (dry-out)
  double cdf_decay_per_as = 0;      // coup de fouet: 1 / (q_n·C_N) in 1/(A·s)
  double depl_ref_a = 10;           // I_ref of the depletion law
  double hyst_v = 0;                // OCV hysteresis M per block (0: none)
  double strat_max_v = 0;           // stratification's maximum per block (0: none)
  double strat_stir_a = 0;          // gassing current that stirs the acid
  double gas_heat_offset_v = 0;     // vented: n_c·1.48 V of the gassing power leaves as gas
  double hyst_rate_per_as = 0;      // γ / C_N in 1/(A·s)
  double inv_r1 = 0;                // 1/R1, 1/R2 for the polarization heat
  double inv_r2 = 0;
  // Fast paths of the per-step laws (chemistry_params.hpp), as coefficients:
  bool lead_ocv = false;  // lead-acid: OCV = empty + offset + span·m·shape(SOC) + entropic·(T − 25)
  double ocv_empty_v = 0;
  double ocv_span_v = 0;
  double ocv_per_k_v = 0;
  double gas_k_ocv = 0;  // gassing exponent = k_ocv·OCV + c_T·T + x0
  double gas_ct = 0;
  double gas_x0 = 0;
  double sd_a_per_ah = 0;  // self-discharge = a_per_ah·C·exp(k·T + x0)
  double sd_k = 0;
  double sd_x0 = 0;
  double setpoint_factor = 1.0;  // charger_overvoltage fault
  double s_trial_a = 0;          // string current of the block scratch (stringVoltage)
  double s_min_abs_cell_a = 0;
  double s_min_abs_e_v = 0;
  double s_pending_shift_a = 0;  // shift of the block scratch still to apply (shiftString)
  double ageing_elapsed_s = 0;   // since the last ageing update
  std::uint32_t step_counter = 0;
  double load_share = 0;  // share of the UPS load

  bool charger_enabled = true;
  bool charger_reduced = false;  // the charger's "reduce voltage" input is driven
  bool breaker_open = false;     // string breaker opened (thermal-runaway protection): isolated
  double test_load_a = 0;
  bool cut_off = false;
  double current_a = 0;
  double setpoint_v = 0;
  double voltage_v = 0;
  StringMode mode = StringMode::kFloat;
  double ripple_a = 0;
  double current_offset_a = 0;
  double current_gain = 0;     // current sensor gain error (fraction of reading)
  double current_drift_a = 0;  // its slowly drifting offset
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

// Standard-normal draws that make one new block (setNewBlockParameters).
struct BlockDraws {
  double c = 0;  // C0, R0, ln I0, ageing-rate multiplier (kStreamScatter)
  double r = 0;
  double i0 = 0;
  double fade = 0;
  double ocv_offset = 0;  // the rest (kStreamBlockScatter)
  double ocv_span = 0;
  double r1 = 0;
  double r2 = 0;
  double eta = 0;
  double sd = 0;
  double sulfation = 0;
  double softening = 0;
  double water = 0;
  void drawRest(Rng& rng) {
    for (double* z :
         {&ocv_offset, &ocv_span, &r1, &r2, &eta, &sd, &sulfation, &softening, &water}) {
      *z = rng.normal();
    }
  }
};

double lognormalMult(double sigma, double z) {
  return std::exp(sigma * z - 0.5 * sigma * sigma);
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
  Rng replace_rng;
  Rng sensor_rng;
  TimeMs next_drift_ms;
  double ambient_offset_c = 0;
  double ageing_acceleration = 1.0;

  bool outage_active = false;
  TimeMs outage_end_ms = 0;
  double outage_load_w = 0;
  TimeMs next_outage_ms = -1;
  DurationMs next_outage_duration_ms = 0;
  TimeMs last_load_step_ms;
  TimeMs last_bypass_change_ms;
  std::uint64_t block_steps = 0;
  RoomModel room;
  std::vector<std::vector<double>> electrolyte_pct;  // per block
  std::vector<double> electrolyte_pct_per_ah;        // per string: level % per emitted Ah·cell
  std::map<std::string, bool> contacts;

  Impl(const model::PlantConfig& cfg, TimeMs start_ms)
      : config(cfg),
        t_ms(start_ms),
        ups_rng(cfg.simulation.seed, kStreamUps),
        noise_rng(cfg.simulation.seed, kStreamNoise),
        replace_rng(cfg.simulation.seed, kStreamReplacement),
        sensor_rng(cfg.simulation.seed, kStreamCurrentSensor),
        next_drift_ms(start_ms + kCurrentDriftStepMs),
        last_load_step_ms(start_ms - kDayMs),
        last_bypass_change_ms(start_ms - kDayMs),
        room(cfg.io.room, cfg.ambient.temperature_c, cfg.simulation.seed) {
    Rng scatter(cfg.simulation.seed, kStreamScatter);
    Rng block_scatter(cfg.simulation.seed, kStreamBlockScatter);
    Rng calib(cfg.simulation.seed, kStreamCalibration);
    int total_blocks = 0;
    for (const auto& sc : cfg.strings) {
      total_blocks += std::max(0, sc.block_count);
    }
    const double t_amb = ambientC(start_ms);
    for (const auto& sc : cfg.strings) {
      strings.push_back(buildString(sc, total_blocks, t_amb, scatter, block_scatter, calib));
    }
    ambient_offset_c = calib.uniform(-kAmbientOffsetMaxC, kAmbientOffsetMaxC);
    for (auto& s : strings) {
      initializeFloat(s);
      electrolyte_pct.emplace_back(s.blocks.size(), kInitialElectrolytePct);
      electrolyte_pct_per_ah.push_back(100.0 / (kElectrolyteSpanMlPerAh * s.nameplate_ah) *
                                       kWaterGramsPerAh);
    }
    for (auto& s : strings) {
      s.current_gain = sensor_rng.uniform(-1.0, 1.0) * kCurrentGainMax;
      s.current_drift_a = kCurrentDriftSigmaFs * std::max(0.0, s.config.current_sensor.range_a) *
                          sensor_rng.normal();
    }
    scheduleNextOutage(start_ms);
  }

  // One step of each current sensor's offset drift (exact OU discretisation).
  void driftCurrentSensors() {
    const double a =
        std::exp(-static_cast<double>(kCurrentDriftStepMs) / 1000.0 / kCurrentDriftTauS);
    const double k = std::sqrt(1.0 - a * a);
    for (auto& s : strings) {
      const double sigma_a = kCurrentDriftSigmaFs * std::max(0.0, s.config.current_sensor.range_a);
      s.current_drift_a = a * s.current_drift_a + k * sigma_a * sensor_rng.normal();
    }
  }

  // ------------------------------------------------------------------ construction
  StringSim buildString(const model::StringConfig& sc, int total_blocks, double t_amb, Rng& scatter,
                        Rng& block_scatter, Rng& calib) {
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
    s.r_scale = r_scale;
    s.heat_capacity_j_per_k = chem.heat_capacity_j_per_k * c_scale;
    // Surface ∝ volume^(2/3) [G]; the contact area between neighbours scales alike [G].
    const double area_scale = std::cbrt(c_scale * c_scale);
    s.conductance_w_per_k = chem.thermal_conductance_w_per_k * area_scale;
    s.neighbour_conductance_w_per_k = chem.neighbour_conductance_w_per_k * area_scale;
    s.inv_r1 = 1.0 / (chem.r1_ohm * r_scale);
    s.inv_r2 = 1.0 / (chem.r2_ohm * r_scale);
    // Per-step laws as coefficients (identical to ocvBlockV, gassingCurrentA and
    // selfDischargeCurrentA of chemistry_params.cpp).
    s.lead_ocv = sc.chemistry == model::Chemistry::kVrla12V ||
                 sc.chemistry == model::Chemistry::kVrla2V ||
                 sc.chemistry == model::Chemistry::kVented2V;
    s.ocv_empty_v = info.ocv_empty_v;
    s.ocv_span_v = info.ocv_full_v - info.ocv_empty_v;
    s.ocv_per_k_v = chem.entropic_v_per_k_per_cell * chem.cells;
    s.gas_k_ocv = chem.gas_cu_per_v / chem.cells;
    s.gas_ct = chem.gas_ct_per_k;
    s.gas_x0 = -chem.gas_cu_per_v * chem.gas_u0_v_per_cell - chem.gas_ct_per_k * 25.0;
    s.sd_a_per_ah = selfDischargeCurrentA(chem, 1.0, 20.0);
    s.sd_k = std::numbers::ln2 / chem.self_discharge_doubling_k;
    s.sd_x0 = -20.0 * s.sd_k;
    // §6.3 ageing dose reference: the parasitic current (gassing branch + self-discharge) of a new
    // nominal block at the chemistry's float voltage and 25 °C.
    s.gas_ref_a = chem.gassing ? gassingCurrentA(chem, s.nameplate_ah, info.float_v_per_cell,
                                                 info.ocv_full_v / chem.cells, 25.0) +
                                     selfDischargeCurrentA(chem, s.nameplate_ah, 25.0)
                               : 0.0;
    // Dry-out: the emitted share f_g of the gassing charge takes 0.336 g of water per Ah and cell
    // (room.hpp) out of electrolyte_g_per_ah_cell·C_N grams per cell.
    s.water_per_emitted_as = chem.electrolyte_g_per_ah_cell > 0.0
                                 ? gasEmissionFactor(sc.chemistry) * kWaterGramsPerAh /
                                       (3600.0 * chem.electrolyte_g_per_ah_cell * s.nameplate_ah)
                                 : 0.0;
    s.cdf_decay_per_as = chem.cdf_charge_fraction > 0.0
                             ? 1.0 / (3600.0 * chem.cdf_charge_fraction * s.nameplate_ah)
                             : 0.0;
    s.depl_ref_a = std::max(1e-9, chem.depletion_ref_c_rate * s.nameplate_ah);
    s.hyst_v = chem.hysteresis_v_per_cell * chem.cells;
    s.strat_max_v = chem.strat_max_v_per_cell * chem.cells;
    s.strat_stir_a = chem.strat_stir_c_rate * s.nameplate_ah;
    s.gas_heat_offset_v = chem.gas_recombines ? 0.0 : kThermoneutralVPerCell * chem.cells;
    s.hyst_rate_per_as = chem.hysteresis_rate_per_c / (3600.0 * s.nameplate_ah);
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
    // Water lost per year by a nominal block floating at 25 °C (initial dry-out state).
    const double water_per_year =
        chem.gassing ? s.water_per_emitted_as * kYearS *
                           gassingCurrentA(chem, s.nameplate_ah, info.float_v_per_cell,
                                           info.ocv_full_v / chem.cells, 25.0)
                     : 0.0;
    for (std::size_t i = 0; i < s.blocks.size(); ++i) {
      Block& b = s.blocks[i];
      BlockDraws d;
      d.c = z[4 * i];
      d.r = z[4 * i + 1];
      d.i0 = z[4 * i + 2];
      d.fade = z[4 * i + 3];
      d.drawRest(block_scatter);
      setNewBlockParameters(s, b, d, sigma_ln_i0);
      // Static ageing as the initial state: fade = age × fade_per_year × the block's lognormal
      // multiplier (§2.6), expressed as the equivalent overcharge dose A = fade / (a·m); the water
      // a nominal block loses in float in that time × its own water-loss multiplier.
      const double fade = std::min(0.5, age * chem.fade_per_year * b.ageing_rate_mult);
      const double am = chem.ageing_a_per_year * b.ageing_rate_mult;
      b.ageing_dose = am > 0.0 ? fade / am : 0.0;
      b.water_loss = age * water_per_year * b.water_loss_mult;
      // A vented string on float for `age` years without an equalize charge is stratified.
      b.strat_v =
          s.strat_max_v * -std::expm1(-age * kYearS / std::max(1.0, chem.strat_build_tau_s));
      refreshParameters(s, b);
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

  // New-block parameters from standard-normal draws (§6.4 scatter row; §2.6 multiplier on a;
  // the scatter and mechanism rates of chemistry_params.hpp).
  static void setNewBlockParameters(const StringSim& s, Block& b, const BlockDraws& d,
                                    double sigma_ln_i0) {
    const auto& chem = *s.chem;
    b.c0_ah = s.nameplate_ah * std::max(0.5, 1.0 + chem.sigma_c0 * d.c);
    b.r0_base_ohm = chem.r0_ohm * s.r_scale * std::max(0.5, 1.0 + chem.sigma_r0 * d.r);
    b.r1_ohm = chem.r1_ohm * s.r_scale * std::max(0.5, 1.0 + chem.sigma_rc * d.r1);
    b.r2_ohm = chem.r2_ohm * s.r_scale * std::max(0.5, 1.0 + chem.sigma_rc * d.r2);
    b.gas_i0_base_a = chem.gassing ? chem.gas_i0_a_per_100ah * (s.nameplate_ah / 100.0) *
                                         std::exp(sigma_ln_i0 * d.i0)
                                   : 0.0;
    b.ageing_rate_mult = lognormalMult(chem.sigma_ln_fade, d.fade);
    b.sulfation_mult = lognormalMult(chem.sigma_ln_sulfation, d.sulfation);
    b.softening_mult = lognormalMult(chem.sigma_ln_softening, d.softening);
    b.water_loss_mult = lognormalMult(chem.sigma_ln_water_loss, d.water);
    b.ocv_offset_v = chem.sigma_ocv_offset_v_per_cell * std::sqrt(chem.cells) * d.ocv_offset;
    b.ocv_span_mult = std::max(0.8, 1.0 + chem.sigma_ocv_span * d.ocv_span);
    b.charge_eff =
        std::clamp(chem.charge_efficiency + chem.sigma_charge_efficiency * d.eta, 0.5, 1.0);
    b.sd_mult = lognormalMult(chem.sigma_ln_self_discharge, d.sd);
    b.depletion_r10_ohm = chem.depletion_r10_ohm_per_cell * chem.cells * s.r_scale;
  }

  // The block's rested OCV at `soc` and `temperature_c`: the chemistry's curve with the block's
  // own offset and span (lead-acid through the StringSim coefficients, the others through
  // ocvBlockV).
  static double blockOcvV(const StringSim& s, const Block& b, double soc, double temperature_c) {
    if (s.lead_ocv) {
      return s.ocv_empty_v + b.ocv_offset_v +
             s.ocv_span_v * b.ocv_span_mult * leadAcidOcvShape(soc) +
             s.ocv_per_k_v * (temperature_c - 25.0) + b.strat_v;
    }
    const double v = ocvBlockV(*s.chem, soc, temperature_c);
    return s.ocv_empty_v + b.ocv_offset_v + (v - s.ocv_empty_v) * b.ocv_span_mult +
           b.hyst * s.hyst_v;
  }

  // C, R0, I0 and the charge acceptance from the new-block values, the mechanisms' doses and the
  // faults (§2.6, §6.3, chemistry_params.hpp). With the corrosion fade F_c = a·m·A, the
  // sulfation fade F_s = b·S, the softening fade M and the dry-out excess x = max(0, w − w0):
  //   C  = C0·(1 − F_c − F_s − M − k_C·x)·h_C
  //   R0 = Ri0·(1 + 1.25·F_c + r_s·F_s + r_m·M)·(1 + k_R·x)·dry-out fault·h_R
  //   I0 = I0_0·(1 + 4·F_c)·(1 + k_I·x)·dry-out fault·high-I0·h_I      (h: health set by hand)
  static void refreshParameters(const StringSim& s, Block& b) {
    const auto& chem = *s.chem;
    b.corrosion_fade = chem.ageing_a_per_year * b.ageing_rate_mult * b.ageing_dose;
    b.sulfation_fade = chem.sulfation_fade * b.sulfation_dose;
    const double dry_x = std::clamp(b.water_loss - chem.dry_out_onset, 0.0, kMaxDryOutExcess);
    b.dry_out_fade = chem.dry_out_capacity_per_loss * dry_x;
    const double fade = std::clamp(
        b.corrosion_fade + b.sulfation_fade + b.softening_fade + b.dry_out_fade, 0.0, kMaxFade);
    const double strat = s.strat_max_v > 0.0 ? b.strat_v / s.strat_max_v : 0.0;
    b.capacity_ah =
        b.c0_ah * (1.0 - fade) * (1.0 - chem.strat_capacity_loss * strat) * b.health_capacity_mult;
    b.inv_capacity = 1.0 / b.capacity_ah;
    b.r0_ohm = b.r0_base_ohm *
               (1.0 + chem.ri_rise_per_fade * b.corrosion_fade +
                chem.sulfation_ri_per_fade * b.sulfation_fade +
                chem.softening_ri_per_fade * b.softening_fade) *
               (1.0 + chem.dry_out_ri_per_loss * dry_x) * b.dry_r0_mult * b.health_r0_mult;
    b.gas_i0_a = b.gas_i0_base_a * (1.0 + chem.i0_rise_per_fade * b.corrosion_fade) *
                 (1.0 + chem.dry_out_i0_per_loss * dry_x) * b.dry_i0_mult * b.high_i0_factor *
                 b.health_i0_mult;
    b.accept_mult = 1.0 / (1.0 + chem.sulfation_accept_per_fade * b.sulfation_fade);
    refreshOhmic(s, b);
  }

  // R0 at the block's temperature and state of charge (§3.1 R_ohmic(T, SOC)); in float at every
  // ageing update, in charge and discharge at every step.
  static void refreshOhmic(const StringSim& s, Block& b) {
    b.r_condition = ohmicConditionFactor(*s.chem, b.temperature_c, b.soc());
    b.r_series_ohm = b.r0_ohm * b.r_condition + b.connector_ohm;
  }

  // Applies the doses integrated since the last update (every kAgeingIntervalS per string).
  void ageingUpdate(StringSim& s) {
    const auto& chem = *s.chem;
    const double interval_s = s.ageing_elapsed_s;
    s.ageing_elapsed_s = 0.0;
    for (auto& b : s.blocks) {
      // §6.3: dA/dt = I_par/I_par,ref · 2^((T − 25)/15) in reference float-years, with the
      // parasitic current I_par = I_gas + I_sd (chemistry_params.hpp).
      const double f_t = std::exp2((b.temperature_c - 25.0) / chem.ageing_doubling_k);
      const double dose_s = s.gas_ref_a > 0.0 ? b.acc_gas_as / s.gas_ref_a : interval_s;
      b.ageing_dose += ageing_acceleration * f_t * dose_s / kYearS;
      // §6.3: dS/dt = s0·m_S·max(0, 0.97 − SOC).
      b.sulfation_dose +=
          ageing_acceleration * chem.sulfation_rate_per_s * b.sulfation_mult * b.acc_deficit_s;
      // Softening: dM = F_eol/N100 · k·DoD^(k−1) · m_M · ΔQ_dis/C0, DoD the charge-weighted mean of
      // the interval (a Wöhler law N(DoD) = N100·DoD^(−k) without cycle counting).
      if (b.acc_dis_as > 0.0 && chem.cycle_life_full_dod > 0.0) {
        const double k = chem.cycle_life_exponent;
        const double dod = std::clamp(b.acc_dis_dod_as / b.acc_dis_as, 0.0, 1.0);
        b.softening_fade += ageing_acceleration * chem.cycle_fade_eol / chem.cycle_life_full_dod *
                            k * std::pow(dod, k - 1.0) * b.softening_mult * b.acc_dis_as /
                            (3600.0 * b.c0_ah);
      }
      // Dry-out: the water the emitted gas took (f_g·I_gas), × the block's own multiplier.
      b.water_loss = std::min(1.0, b.water_loss + ageing_acceleration * s.water_per_emitted_as *
                                                      b.water_loss_mult * b.acc_emit_as);
      b.acc_gas_as = 0.0;
      b.acc_deficit_s = 0.0;
      b.acc_emit_as = 0.0;
      b.acc_dis_as = 0.0;
      b.acc_dis_dod_as = 0.0;
      if (b.dry_out) {
        // §6.4 dry-out: R0 ×2, I0 ×5 "over weeks": 1 − e^(−t/τ) ramp.
        b.dry_elapsed_s += interval_s;
        const double p = b.dry_tau_s > 0.0 ? -std::expm1(-b.dry_elapsed_s / b.dry_tau_s) : 1.0;
        b.dry_r0_mult = 1.0 + (b.dry_r0_factor - 1.0) * p;
        b.dry_i0_mult = 1.0 + (b.dry_i0_factor - 1.0) * p;
      }
      refreshParameters(s, b);
    }
  }

  // Starts the string in settled float: SOC where the OCV meets the float voltage (1 for lead-acid
  // and NiCd, ~0.97 for LFP), polarizations at their steady values for the float current.
  void initializeFloat(StringSim& s) {
    const auto& chem = *s.chem;
    // (A hysteretic chemistry sits on its charge branch, h = +1.)
    const double soc0 = socForOcv(chem, s.config.charger.float_v_per_cell * chem.cells - s.hyst_v);
    for (auto& b : s.blocks) {
      b.q_removed_ah = (1.0 - soc0) * b.capacity_ah;
    }
    // One backward-Euler step with a huge dt is the steady state of E, U1, U2 at frozen SOC and T.
    StepConstants k = stepConstants(s, 1e9);
    k.exact_exp = true;
    prepareBlocks(s, k);
    solveString(s, k);
    for (auto& b : s.blocks) {
      commitBlock(s, b, k);
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
      while (t_ms >= next_drift_ms) {
        driftCurrentSensors();
        next_drift_ms += kCurrentDriftStepMs;
      }
    }
    processEvents();
  }

  void stepAll(double dt_s) {
    const double t_amb = ambientC(t_ms);
    for (auto& s : strings) {
      stepString(s, dt_s, t_amb);
    }
    stepRoom(dt_s, t_amb);
  }

  // Hydrogen and water leave every cell with the emitted share of the gassing current (room.hpp).
  void stepRoom(double dt_s, double t_amb) {
    double emission_cell_a = 0.0;
    const double dt_h = dt_s / 3600.0;
    for (std::size_t si = 0; si < strings.size(); ++si) {
      const StringSim& s = strings[si];
      const double f_g = gasEmissionFactor(s.config.chemistry);
      if (f_g == 0.0) {
        continue;
      }
      auto& level = electrolyte_pct[si];
      const double drop_per_a = electrolyte_pct_per_ah[si] * f_g * dt_h;
      double sum_a = 0.0;
      for (std::size_t bi = 0; bi < s.blocks.size(); ++bi) {
        const double i_gas = std::max(0.0, s.blocks[bi].gas_current_a);
        sum_a += i_gas;
        level[bi] = std::max(0.0, level[bi] - drop_per_a * i_gas);
      }
      emission_cell_a += f_g * s.chem->cells * sum_a;
    }
    room.step(dt_s, emission_cell_a, t_amb);
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
    k.cdf_i_a = std::max(1e-9, chem.cdf_i_c_rate * s.nameplate_ah);
    return k;
  }

  void prepareBlocks(StringSim& s, const StepConstants& k) {
    const auto& chem = *s.chem;
    const auto& mod = *s.module;
    const int n_c = chem.cells;
    for (auto& b : s.blocks) {
      const double soc = std::clamp(b.soc(), 0.0, 1.0);
      b.s_soc = soc;
      const double t_c = b.temperature_c;
      b.s_ocv_v = blockOcvV(s, b, soc, t_c);
      // Coup de fouet as a secant resistance at the previous step's discharge current (the log
      // of the law once per step instead of once per solver trial; the current moves little
      // between steps once the dip matters, h(0) = 0 at the onset).
      if (b.cdf_q_as > 0.0) {
        const double x = b.cdf_q_as * s.cdf_decay_per_as;  // q/q_n
        const double amp = n_c * chem.cdf_v_per_cell * b.cdf_state * x * std::exp(1.0 - x);
        const double i_prev = std::max(0.0, -b.cell_current_a);
        b.s_cdf_r_ohm =
            i_prev > 0.0 ? amp * std::log1p(i_prev / k.cdf_i_a) / i_prev : amp / k.cdf_i_a;
      } else {
        b.s_cdf_r_ohm = 0.0;
      }
      if (chem.gassing) {
        // I0·exp(c_u·(OCV/n_c − U0) + c_T·(T − 25 °C)): the exponent moves slowly, so the
        // exponential is updated incrementally (updatedExp).
        const double x = s.gas_k_ocv * b.s_ocv_v + s.gas_ct * t_c + s.gas_x0;
        b.gas_exp = updatedExp(x, b.gas_x, b.gas_exp, k.exact_exp);
        b.gas_x = x;
        b.s_gas_a = b.gas_i0_a * b.gas_exp;
      } else {
        b.s_gas_a = 0.0;
      }
      b.s_g_charge_s = (1.0 - soc) * b.capacity_ah * s.accept_g_per_ah * b.accept_mult;
      // Depletion resistance R1 = −R10·ln(DOC), DOC against C(I_avg, θ) (§2.2). Zero when full.
      if (b.q_removed_ah > 1e-3 * b.capacity_ah) {
        // Jackey's rate factor (a pow()) is re-evaluated when I_avg moved by more than 1e-6
        // relative, i.e. its value is exact to < 1e-6 relative (τ = 100 s filter).
        if (std::fabs(b.i_avg_discharge_a - b.rate_i_avg_a) > 1e-6 * b.rate_i_avg_a ||
            b.rate_i_avg_a <= 0.0) {
          b.rate_i_avg_a = b.i_avg_discharge_a;
          b.rate_factor = capacityRateFactor(chem, b.i_avg_discharge_a, s.nameplate_ah);
          b.depl_rate_factor =
              chem.depletion_rate_exponent == 1.0
                  ? 1.0
                  : std::pow(std::max(b.i_avg_discharge_a, 1e-3 * s.depl_ref_a) / s.depl_ref_a,
                             chem.depletion_rate_exponent - 1.0);
        }
        const double c_avail =
            b.capacity_ah * capacityTemperatureFactor(chem.chemistry, t_c) * b.rate_factor;
        const double doc = 1.0 - b.q_removed_ah / c_avail;
        b.s_r_depl_ohm =
            -b.depletion_r10_ohm * b.depl_rate_factor * std::log(std::max(kMinDoc, doc));
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
      // Internal short (§6.4): a leak V/R_leak across the block, at the previous step's voltage
      // like the bypass (its small-signal loop gain Z_block/R_leak ≪ 1 keeps this stable).
      b.leak_current_a = b.leak_g_s > 0.0 ? std::max(0.0, v) * b.leak_g_s : 0.0;
      b.s_sink_a = b.bypass_current_a + b.leak_current_a;
    }
  }

  // Σ V_i(I − I_b,i) and Σ dV_i/dI. Also records how far the trial may be shifted linearly
  // (shiftString): the smallest |cell current| and |E| of the blocks.
  static double stringVoltage(StringSim& s, const StepConstants& k, double i_a, double& dv) {
    double v = 0.0;
    dv = 0.0;
    double min_i = std::numeric_limits<double>::infinity();
    double min_e = std::numeric_limits<double>::infinity();
    for (auto& b : s.blocks) {
      double d = 0.0;
      v += evaluateBlock(b, k, i_a - b.s_sink_a, d);
      dv += d;
      min_i = std::min(min_i, std::fabs(b.s_i_a));
      min_e = std::min(min_e, std::fabs(b.s_e_v));
    }
    s.s_trial_a = i_a;
    s.s_min_abs_cell_a = min_i;
    s.s_min_abs_e_v = min_e;
    s.s_pending_shift_a = 0.0;
    return v;
  }

  // The final Newton step of a string solve as a linear shift of the last trial (shiftBlock) when
  // it is small: |dE| ≤ |dI|·dt/C_f stays below 1e-4/k (exp error < 1e-17) and cannot flip a
  // branch. Returns false (nothing changed) otherwise. The shift is recorded in
  // s_pending_shift_a and applied block by block by commitBlock (one pass fewer).
  static bool shiftString(StringSim& s, const StepConstants& k, double from_a, double to_a) {
    const double di = to_a - from_a;
    if (from_a != s.s_trial_a) {
      return false;
    }
    const double de_max = std::fabs(di) / k.dl_g_s;
    if (!(std::fabs(di) < 0.5 * s.s_min_abs_cell_a && de_max < 0.5 * s.s_min_abs_e_v &&
          de_max * k.k_per_v < 1e-4)) {
      return false;
    }
    s.s_trial_a = to_a;
    s.s_pending_shift_a = di;
    return true;
  }

  // Safeguarded Newton for an increasing f on [lo, hi] (signs at the ends unknown). Leaves the
  // block scratch at the returned x. If f keeps its sign, returns the end it converged to.
  // `shift(x, xn)` may complete a small Newton step x → xn without re-evaluating (shiftString); f
  // is then the linear prediction f + f'·(xn − x) = 0 (second-order error ≪ f_tol).
  template <class Fn, class Shift>
  static SolveResult solveIncreasing(Fn&& fn, Shift&& shift, double lo, double hi, double x0,
                                     double f_tol) {
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
      if (df > 0.0) {
        const double xn = x - f / df;
        if (xn > lo && xn < hi && shift(x, xn)) {
          return {xn, 0.0};
        }
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
    v *= s.charger_reduced ? ch.reduced_setpoint_factor : 1.0;
    return v * s.setpoint_factor;  // charger_overvoltage fault (§6.4 V_ch +5 %)
  }

  bool discharging(const StringSim& s) const {
    return (s.test_load_a > 0.0 || (outage_active && outage_load_w > 0.0)) && !s.cut_off &&
           !s.breaker_open;
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
    if (s.breaker_open) {
      // Isolated: no charger, no load; the blocks only self-discharge and cool down.
      s.mode = StringMode::kRest;
      s.current_a = 0.0;
      stringVoltage(s, k, 0.0, dv);
      return;
    }
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
      auto shift = [&](double from_a, double to_a) { return shiftString(s, k, from_a, to_a); };
      const SolveResult r = solveIncreasing(fn, shift, i_min, 0.0, x0, 1e-7 * std::max(1.0, p_w));
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
    auto shift = [&](double from_a, double to_a) { return shiftString(s, k, from_a, to_a); };
    const SolveResult r = solveIncreasing(fn, shift, 0.0, i_limit, s.current_a, kCvToleranceV);
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

  // e^(−x) for the thermal update: a 4th-order series for the tiny x of normal steps
  // (dt·G/C_th ≈ 1e-3 at 30 s; relative error < x⁵/120), exp() otherwise.
  static double decay(double x) {
    if (x < 1e-2) {
      return 1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0))));
    }
    return std::exp(-x);
  }

  // Makes the block's trial (plus a pending linear shift) its new state and outputs.
  static void commitBlock(const StringSim& s, Block& b, const StepConstants& k) {
    if (s.s_pending_shift_a != 0.0) {
      shiftBlock(b, k, s.s_pending_shift_a);
    }
    b.e_v = b.s_e_v;
    b.u1_v = b.s_u1_v;
    b.u2_v = b.s_u2_v;
    writeOutputs(b, k);
  }

  void stepString(StringSim& s, double dt_s, double t_amb) {
    const auto& chem = *s.chem;
    StepConstants k = stepConstants(s, dt_s);
    k.exact_exp = s.step_counter % kExactExpEverySteps == 0;
    ++s.step_counter;
    prepareBlocks(s, k);
    solveString(s, k);

    const double a_avg = std::exp(-dt_s / kDischargeAvgTauS);
    const double dt_h = dt_s / 3600.0;
    const double c_th = s.heat_capacity_j_per_k;
    const double g_nb = s.neighbour_conductance_w_per_k;
    const double kappa = chem.bypass_heat_fraction;
    const double cdf_reset =
        chem.cdf_reset_tau_s > 0.0 ? -std::expm1(-dt_s / chem.cdf_reset_tau_s) : 0.0;
    const double soc_threshold = chem.sulfation_soc_threshold;
    const std::size_t n = s.blocks.size();
    // Thermal update T' = a·T + c·Q with a = e^(−dt·G/C_th), c = (1 − a)/G, for the conductance
    // sums G of an unblocked block with 2, 1 or 0 neighbours (blocked cooling: per block).
    double th_a[3];
    double th_c[3];
    for (int nb = 0; nb < 3; ++nb) {
      const double g = s.conductance_w_per_k + nb * g_nb;
      th_a[nb] = decay(dt_s * g / c_th);
      th_c[nb] = (1.0 - th_a[nb]) / g;
    }
    double t_left_old = 0.0;  // temperature of the previous block at the start of the step
    for (std::size_t idx = 0; idx < n; ++idx) {
      Block& b = s.blocks[idx];
      commitBlock(s, b, k);
      const double i = b.cell_current_a;
      const double t_old = b.temperature_c;
      // Charge balance: main reaction (η on charge) minus self-discharge (§1.1, §6.3).
      const double i_main = b.main_current_a;
      const double sd_x = s.sd_k * t_old + s.sd_x0;
      b.sd_exp = updatedExp(sd_x, b.sd_x, b.sd_exp, k.exact_exp);
      b.sd_x = sd_x;
      const double i_sd = s.sd_a_per_ah * b.capacity_ah * b.sd_exp * b.sd_mult;
      const double charge_a = i_main > 0.0 ? b.charge_eff * i_main : i_main;
      b.q_removed_ah = std::max(0.0, b.q_removed_ah + dt_h * (i_sd - charge_a));
      const double i_dis = std::max(0.0, -i);
      b.i_avg_discharge_a = i_dis + (b.i_avg_discharge_a - i_dis) * a_avg;
      // Ageing doses (§6.3 and the mechanisms of chemistry_params.hpp), applied every
      // kAgeingIntervalS by ageingUpdate().
      b.acc_gas_as += (b.gas_current_a + i_sd) * dt_s;
      b.acc_emit_as += b.gas_current_a * dt_s;
      b.acc_deficit_s += std::max(0.0, soc_threshold - b.s_soc) * dt_s;
      if (i_dis > 0.0) {
        b.acc_dis_as += i_dis * dt_s;
        b.acc_dis_dod_as += i_dis * (1.0 - b.s_soc) * dt_s;
        // Coup de fouet: the charge drawn in this discharge moves the dip along h(q/q_n); once it
        // is far past (q/q_n > kCdfSpentX) the crystals have formed and the readiness is spent.
        if (b.cdf_state > 0.0) {
          b.cdf_q_as += i_dis * dt_s;
          if (b.cdf_q_as * s.cdf_decay_per_as > kCdfSpentX) {
            b.cdf_state = 0.0;
            b.cdf_q_as = 0.0;
          }
        }
      } else {
        if (b.cdf_q_as > 0.0) {  // a discharge ended: what it left of the readiness
          b.cdf_state *= std::exp(-b.cdf_q_as * s.cdf_decay_per_as);
          b.cdf_q_as = 0.0;
        }
        if (b.cdf_state < 1.0 && b.s_soc >= kCdfFullSoc && cdf_reset > 0.0 && i >= 0.0) {
          b.cdf_state += (1.0 - b.cdf_state) * cdf_reset;
        }
      }
      // Acid stratification (vented): mixed by a discharge or by gassing, built while at rest.
      if (s.strat_max_v > 0.0) {
        if (i_dis > 0.0) {
          b.strat_v *= decay(i_dis * dt_s / (3600.0 * chem.strat_mix_charge_fraction * b.c0_ah));
        } else if (b.gas_current_a > s.strat_stir_a) {
          b.strat_v *= decay(dt_s / chem.strat_mix_tau_s);
        } else {
          b.strat_v += (s.strat_max_v - b.strat_v) * (1.0 - decay(dt_s / chem.strat_build_tau_s));
        }
      }
      // OCV hysteresis: the main reaction's charge moves h towards its branch.
      if (s.hyst_v > 0.0 && i_main != 0.0) {
        const double target = i_main > 0.0 ? 1.0 : -1.0;
        b.hyst += (target - b.hyst) * (1.0 - decay(std::fabs(i_main) * dt_s * s.hyst_rate_per_as));
      }
      // Heat (§1.6, §2.7): gassing branch power (VRLA recombination → heat), ohmic (incl. a
      // loose connector) and polarization losses, main-reaction overvoltage loss, κ × module
      // bypass heat, and the whole V²/R of an internal short.
      const double u1 = b.u1_v;
      const double u2 = b.u2_v;
      const double p_w = (b.ocv_v + b.e_v - s.gas_heat_offset_v) * b.gas_current_a +
                         i * i * (b.r_series_ohm + b.s_r_extra_ohm) + u1 * u1 * s.inv_r1 +
                         u2 * u2 * s.inv_r2 + b.e_v * i_main +
                         b.voltage_v * (kappa * b.bypass_current_a + b.leak_current_a);
      b.heat_w = p_w;
      // C_th·dT/dt = P − G_th·(T − T_amb) − G_nb·Σ(T − T_j), neighbours at the start of the step
      // (explicit in the coupling: G_nb·dt/C_th ≈ 3e-4 at 30 s), exact exponential otherwise.
      const double g_amb = s.conductance_w_per_k * b.cooling_factor;
      int nb = 0;
      double q_w = g_amb * t_amb + p_w;
      if (idx > 0) {
        ++nb;
        q_w += g_nb * t_left_old;
      }
      if (idx + 1 < n) {
        ++nb;
        q_w += g_nb * s.blocks[idx + 1].temperature_c;
      }
      double t_new = 0.0;
      if (b.cooling_factor == 1.0) {
        t_new = th_a[nb] * t_old + th_c[nb] * q_w;
      } else {
        const double g_tot = g_amb + nb * g_nb;
        const double a = decay(dt_s * g_tot / c_th);
        t_new = a * t_old + (1.0 - a) / g_tot * q_w;
      }
      if (t_new >= kVentTemperatureC) {
        t_new = kVentTemperatureC;
        b.vented = true;
      }
      b.temperature_c = t_new;
      t_left_old = t_old;
      if (s.mode != StringMode::kFloat) {
        refreshOhmic(s, b);
      }
    }
    s.voltage_v = sumVoltage(s);
    if (s.mode == StringMode::kDischarge && s.voltage_v < s.eod_string_v) {
      s.cut_off = true;  // UPS low-battery cut-off
      last_load_step_ms = t_ms;
    }
    block_steps += n;
    s.ageing_elapsed_s += dt_s;
    if (s.ageing_elapsed_s >= kAgeingIntervalS) {
      ageingUpdate(s);
    }
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

std::unique_ptr<PlantSim> PlantSim::snapshot() const {
  // Impl holds values only (the chemistry and module tables it points to are static), so a
  // member-wise copy is a complete, independent plant.
  std::unique_ptr<PlantSim> copy(new PlantSim());
  copy->impl_ = std::make_unique<Impl>(*impl_);
  return copy;
}

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
  t.ri_ohm = b.r_series_ohm;
  t.ri_ref_ohm = b.r0_ohm + b.connector_ohm;
  t.cell_current_a = b.cell_current_a;
  t.gassing_current_a = b.gas_current_a;
  t.bypass_current_a = b.bypass_current_a;
  t.capacity_ah = b.capacity_ah;
  t.initial_capacity_ah = b.c0_ah;
  t.initial_ri_ohm = b.r0_base_ohm;
  t.initial_gas_i0_a = b.gas_i0_base_a;
  t.capacity_fade = 1.0 - b.capacity_ah / b.c0_ah;
  t.ageing_dose = b.ageing_dose;
  t.sulfation_dose = b.sulfation_dose;
  t.ageing_rate_multiplier = b.ageing_rate_mult;
  t.corrosion_fade = b.corrosion_fade;
  t.sulfation_fade = b.sulfation_fade;
  t.softening_fade = b.softening_fade;
  t.dry_out_fade = b.dry_out_fade;
  t.water_loss_fraction = b.water_loss;
  t.sulfation_rate_multiplier = b.sulfation_mult;
  t.softening_rate_multiplier = b.softening_mult;
  t.water_loss_multiplier = b.water_loss_mult;
  t.ocv_offset_v = b.ocv_offset_v;
  t.ocv_span_factor = b.ocv_span_mult;
  t.ocv_full_v = Impl::blockOcvV(impl_->str(string_index), b, 1.0, 25.0);
  t.charge_efficiency = b.charge_eff;
  t.self_discharge_factor = b.sd_mult;
  t.coup_de_fouet_state = b.cdf_state;
  t.ocv_hysteresis_v = b.hyst * impl_->str(string_index).hyst_v;
  t.stratification_v = b.strat_v;
  t.gas_i0_a = b.gas_i0_a;
  t.heat_w = b.heat_w;
  t.thermal_conductance_w_per_k = impl_->str(string_index).conductance_w_per_k * b.cooling_factor;
  t.leak_current_a = b.leak_current_a;
  t.connector_ohm = b.connector_ohm;
  t.vented = b.vented;
  return t;
}

StringTruth PlantSim::stringTruth(std::size_t string_index) const {
  const StringSim& s = impl_->str(string_index);
  StringTruth t;
  t.voltage_v = s.voltage_v;
  t.current_a = s.current_a;
  t.charger_setpoint_v = s.setpoint_v;
  t.mode = s.mode;
  t.current_sensor_gain_error = s.current_gain;
  t.current_sensor_offset_a = s.current_offset_a + s.current_drift_a;
  t.ac_ripple_a =
      (s.mode == StringMode::kFloat || s.mode == StringMode::kCharge) ? s.ripple_a : 0.0;
  return t;
}

double PlantSim::ambientTemperatureC() const {
  return impl_->ambientC(impl_->t_ms);
}

namespace {

// The module's Ri reading for a noise draw `z` (σ units): see kRiPulseS.
double measuredRiOhm(const StringSim& s, const Block& b, const ModuleCalibration& m, double z) {
  const auto& chem = *s.chem;
  const double pulse_a = s.module->bypass_current_a;
  const double r_ct = b.r1_ohm * -std::expm1(-kRiPulseS / chem.tau1_s) +
                      b.r2_ohm * -std::expm1(-kRiPulseS / chem.tau2_s);
  const double r_true = b.r_series_ohm + r_ct;
  const double sigma_dv = s.module->generation >= 4 ? kRiDeltaNoiseGen4V : kRiDeltaNoiseGen3V;
  const double ripple_v = kRiRippleResidual * s.ripple_a * r_true;
  const double sigma_ohm = std::sqrt(sigma_dv * sigma_dv + ripple_v * ripple_v) / pulse_a;
  return std::max(0.0, (1.0 + m.ri_error) * r_true + sigma_ohm * z);
}

}  // namespace

ModuleMeasurement PlantSim::measureModule(std::size_t string_index, std::size_t block_index) {
  StringSim& s = impl_->str(string_index);
  const Block& b = s.blocks.at(block_index);
  ModuleCalibration& m = s.modules.at(block_index);
  if (m.stuck && m.stuck_valid) {
    // stuck_sensor: the analog readings are frozen; the bypass status is still the module's own.
    ModuleMeasurement out = m.stuck_value;
    out.bypass_duty = b.bypass_duty_applied;
    return out;
  }
  Rng& rng = impl_->noise_rng;
  ModuleMeasurement out;
  out.voltage_v = (1.0 + m.gain) * b.voltage_v + m.offset_v + m.offset_jump_v +
                  m.noise_sigma_v * rng.clippedNormal(kNoiseClipSigma);
  const double t_acc = s.module->temperature_accuracy_c;
  out.temperature_c = b.temperature_c + m.temperature_offset_c +
                      kTempNoiseShare * t_acc * rng.clippedNormal(kNoiseClipSigma);
  out.ri_ohm = measuredRiOhm(s, b, m, rng.clippedNormal(kNoiseClipSigma));
  out.bypass_duty = b.bypass_duty_applied;
  if (m.stuck) {
    m.stuck_value = out;
    m.stuck_valid = true;
  }
  return out;
}

CurrentSensorMeasurement PlantSim::measureStringCurrent(std::size_t string_index) {
  const StringSim& s = impl_->str(string_index);
  Rng& rng = impl_->noise_rng;
  const double fs = std::max(0.0, s.config.current_sensor.range_a);
  CurrentSensorMeasurement out;
  out.current_a = (1.0 + s.current_gain) * s.current_a + s.current_offset_a + s.current_drift_a +
                  kCurrentNoiseFs * fs * rng.normal();
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
  const ModuleCalibration& m = impl_->str(string_index).modules.at(block_index);
  return m.offset_v + m.offset_jump_v;
}

void PlantSim::setModuleCommFault(std::size_t string_index, std::size_t block_index, bool faulty) {
  impl_->str(string_index).modules.at(block_index).comm_fault = faulty;
}

bool PlantSim::moduleCommFault(std::size_t string_index, std::size_t block_index) const {
  return impl_->str(string_index).modules.at(block_index).comm_fault;
}

void PlantSim::setBreakerClosed(std::size_t string_index, bool closed) {
  impl_->str(string_index).breaker_open = !closed;
}

bool PlantSim::breakerClosed(std::size_t string_index) const {
  return !impl_->str(string_index).breaker_open;
}

void PlantSim::setChargerReduced(std::size_t string_index, bool reduced) {
  impl_->str(string_index).charger_reduced = reduced;
}

bool PlantSim::chargerReduced(std::size_t string_index) const {
  return impl_->str(string_index).charger_reduced;
}

double PlantSim::roomHydrogenPct() const {
  return impl_->room.hydrogenPct();
}

const RoomModel& PlantSim::room() const {
  return impl_->room;
}

void PlantSim::setRoomVentilation(double air_changes_per_h) {
  impl_->room.setAirChanges(std::max(0.0, air_changes_per_h));
}

void PlantSim::setRoomHumidity(std::optional<double> mean_pct, std::optional<double> swing_pct) {
  impl_->room.setHumidity(mean_pct, swing_pct);
}

double PlantSim::roomHumidityPct() const {
  return impl_->room.relativeHumidityPct(impl_->t_ms, impl_->ambientC(impl_->t_ms));
}

double PlantSim::electrolyteLevelPct(std::size_t string_index, std::size_t block_index) const {
  return impl_->electrolyte_pct.at(string_index).at(block_index);
}

void PlantSim::setContact(const std::string& channel_id, bool active) {
  impl_->contacts[channel_id] = active;
}

std::optional<bool> PlantSim::contact(const std::string& channel_id) const {
  const auto it = impl_->contacts.find(channel_id);
  return it == impl_->contacts.end() ? std::nullopt : std::optional<bool>(it->second);
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

namespace {

Status indexError(std::size_t string_index, std::size_t block_index, std::size_t strings,
                  std::size_t blocks) {
  if (string_index >= strings) {
    return makeError(ErrorCode::kOutOfRange, "string index " + std::to_string(string_index) +
                                                 " out of range (the plant has " +
                                                 std::to_string(strings) + " strings)");
  }
  return makeError(ErrorCode::kOutOfRange, "block index " + std::to_string(block_index) +
                                               " out of range (string " +
                                               std::to_string(string_index) + " has " +
                                               std::to_string(blocks) + " blocks)");
}

// Checks a (string, block) address; the block is ignored when `need_block` is false.
template <class Strings>
Status checkIndex(const Strings& strings, std::size_t string_index, std::size_t block_index,
                  bool need_block) {
  if (string_index < strings.size() &&
      (!need_block || block_index < strings[string_index].blocks.size())) {
    return {};
  }
  return indexError(string_index, block_index, strings.size(),
                    string_index < strings.size() ? strings[string_index].blocks.size() : 0);
}

}  // namespace

Status PlantSim::setElectrolyteLevel(std::size_t string_index, std::size_t block_index,
                                     double pct) {
  if (Status st = checkIndex(impl_->strings, string_index, block_index, true); !st) {
    return st;
  }
  if (!(pct >= 0.0 && pct <= 100.0)) {
    return makeError(ErrorCode::kOutOfRange,
                     "electrolyte level must be between 0 and 100 %, got " + std::to_string(pct));
  }
  impl_->electrolyte_pct[string_index][block_index] = pct;
  return {};
}

Status PlantSim::injectFault(std::size_t string_index, std::size_t block_index, const Fault& f) {
  if (Status st = validateFault(f); !st) {
    return st;
  }
  const FaultScope scope = faultScope(f.kind);
  if (Status st =
          checkIndex(impl_->strings, string_index, block_index, scope != FaultScope::kString);
      !st) {
    return st;
  }
  StringSim& s = impl_->strings[string_index];
  if (scope == FaultScope::kString) {
    s.setpoint_factor = f.setpoint_factor;  // kChargerOvervoltage
    impl_->last_load_step_ms = impl_->t_ms;
    return {};
  }
  Block& b = s.blocks[block_index];
  ModuleCalibration& m = s.modules[block_index];
  switch (f.kind) {
    case FaultKind::kDryOut:
      b.dry_out = true;
      b.dry_r0_factor = f.r0_factor;
      b.dry_i0_factor = f.i0_factor;
      b.dry_tau_s = static_cast<double>(f.time_constant_ms) / 1000.0;
      b.dry_elapsed_s = 0.0;
      if (b.dry_tau_s <= 0.0) {
        b.dry_r0_mult = f.r0_factor;
        b.dry_i0_mult = f.i0_factor;
      }
      break;
    case FaultKind::kInternalShort:
      b.leak_g_s = 1.0 / f.leak_ohm;
      break;
    case FaultKind::kLooseConnector:
      b.connector_ohm = f.series_ohm;
      break;
    case FaultKind::kBlockedCooling:
      b.cooling_factor = f.cooling_factor;
      break;
    case FaultKind::kHighI0:
      b.high_i0_factor = f.i0_factor;
      break;
    case FaultKind::kModuleOffsetJump:
      m.offset_jump_v = f.offset_jump_v;
      break;
    case FaultKind::kStuckSensor:
      if (!m.stuck) {
        m.stuck = true;
        m.stuck_valid = false;
      }
      break;
    case FaultKind::kModuleCommLoss:
      m.comm_fault = true;
      break;
    case FaultKind::kChargerOvervoltage:
      break;
  }
  Impl::refreshParameters(s, b);
  return {};
}

Status PlantSim::clearFault(std::size_t string_index, std::size_t block_index, FaultKind kind) {
  const FaultScope scope = faultScope(kind);
  if (Status st =
          checkIndex(impl_->strings, string_index, block_index, scope != FaultScope::kString);
      !st) {
    return st;
  }
  StringSim& s = impl_->strings[string_index];
  if (scope == FaultScope::kString) {
    s.setpoint_factor = 1.0;
    impl_->last_load_step_ms = impl_->t_ms;
    return {};
  }
  Block& b = s.blocks[block_index];
  ModuleCalibration& m = s.modules[block_index];
  switch (kind) {
    case FaultKind::kDryOut:
      b.dry_out = false;
      b.dry_r0_mult = 1.0;
      b.dry_i0_mult = 1.0;
      break;
    case FaultKind::kInternalShort:
      b.leak_g_s = 0.0;
      break;
    case FaultKind::kLooseConnector:
      b.connector_ohm = 0.0;
      break;
    case FaultKind::kBlockedCooling:
      b.cooling_factor = 1.0;
      break;
    case FaultKind::kHighI0:
      b.high_i0_factor = 1.0;
      break;
    case FaultKind::kModuleOffsetJump:
      m.offset_jump_v = 0.0;
      break;
    case FaultKind::kStuckSensor:
      m.stuck = false;
      m.stuck_valid = false;
      break;
    case FaultKind::kModuleCommLoss:
      m.comm_fault = false;
      break;
    case FaultKind::kChargerOvervoltage:
      break;
  }
  Impl::refreshParameters(s, b);
  return {};
}

bool PlantSim::faultActive(std::size_t string_index, std::size_t block_index,
                           FaultKind kind) const {
  const StringSim& s = impl_->str(string_index);
  if (faultScope(kind) == FaultScope::kString) {
    return s.setpoint_factor != 1.0;
  }
  const Block& b = s.blocks.at(block_index);
  const ModuleCalibration& m = s.modules.at(block_index);
  switch (kind) {
    case FaultKind::kDryOut:
      return b.dry_out;
    case FaultKind::kInternalShort:
      return b.leak_g_s > 0.0;
    case FaultKind::kLooseConnector:
      return b.connector_ohm > 0.0;
    case FaultKind::kBlockedCooling:
      return b.cooling_factor != 1.0;
    case FaultKind::kHighI0:
      return b.high_i0_factor != 1.0;
    case FaultKind::kModuleOffsetJump:
      return m.offset_jump_v != 0.0;
    case FaultKind::kStuckSensor:
      return m.stuck;
    case FaultKind::kModuleCommLoss:
      return m.comm_fault;
    case FaultKind::kChargerOvervoltage:
      break;
  }
  return false;
}

Status PlantSim::replaceBlock(std::size_t string_index, std::size_t block_index, double soc) {
  if (Status st = checkIndex(impl_->strings, string_index, block_index, true); !st) {
    return st;
  }
  if (!std::isfinite(soc) || soc < 0.0 || soc > 1.0) {
    return makeError(ErrorCode::kOutOfRange, "replacement SOC must be within 0 … 1");
  }
  StringSim& s = impl_->strings[string_index];
  const auto& chem = *s.chem;
  Block& b = s.blocks[block_index];
  Rng& rng = impl_->replace_rng;
  BlockDraws d;
  d.c = rng.normal();
  d.r = rng.normal();
  d.i0 = rng.normal();
  d.fade = rng.normal();
  d.drawRest(rng);
  const double cooling = b.cooling_factor;  // the place, not the block
  const double bypass_duty = b.bypass_duty;
  b = Block{};
  b.cooling_factor = cooling;
  b.bypass_duty = bypass_duty;
  // A new block: the scatter of a new string (ln I0 σ = 0.3, §6.4), no ageing dose.
  Impl::setNewBlockParameters(s, b, d, chem.sigma_ln_i0_new);
  Impl::refreshParameters(s, b);
  b.q_removed_ah = (1.0 - soc) * b.capacity_ah;
  b.temperature_c = impl_->ambientC(impl_->t_ms);
  b.cdf_state = soc >= kCdfFullSoc ? 1.0 : 0.0;
  b.ocv_v = Impl::blockOcvV(s, b, soc, b.temperature_c);
  b.voltage_v = b.ocv_v;
  impl_->last_load_step_ms = impl_->t_ms;
  return {};
}

double PlantSim::nominalCapacityAh(std::size_t string_index) const {
  return impl_->str(string_index).config.capacity_ah;
}

Status PlantSim::setBlockHealth(std::size_t string_index, std::size_t block_index,
                                const BlockHealth& h) {
  if (Status st = checkIndex(impl_->strings, string_index, block_index, true); !st) {
    return st;
  }
  const auto out = [](const char* what, double v, double lo, double hi) -> Status {
    if (!(v >= lo && v <= hi)) {
      return makeError(ErrorCode::kOutOfRange,
                       fmt::format("{} {} is outside {} … {}", what, v, lo, hi));
    }
    return {};
  };
  if (h.capacity_pct) {
    if (Status st = out("capacity_pct", *h.capacity_pct, BlockHealth::kMinCapacityPct,
                        BlockHealth::kMaxCapacityPct);
        !st) {
      return st;
    }
  }
  if (h.ri_factor) {
    if (Status st =
            out("ri_factor", *h.ri_factor, BlockHealth::kMinFactor, BlockHealth::kMaxRiFactor);
        !st) {
      return st;
    }
  }
  if (h.i0_factor) {
    if (Status st =
            out("i0_factor", *h.i0_factor, BlockHealth::kMinFactor, BlockHealth::kMaxI0Factor);
        !st) {
      return st;
    }
  }
  StringSim& s = impl_->strings[string_index];
  Block& b = s.blocks[block_index];
  const double soc = b.soc();
  // The parameters without a health multiplier, then the multipliers that reach the targets.
  const double cap_mult = b.health_capacity_mult;
  const double r0_mult = b.health_r0_mult;
  const double i0_mult = b.health_i0_mult;
  b.health_capacity_mult = b.health_r0_mult = b.health_i0_mult = 1.0;
  Impl::refreshParameters(s, b);
  b.health_capacity_mult =
      h.capacity_pct ? s.config.capacity_ah * *h.capacity_pct / 100.0 / b.capacity_ah : cap_mult;
  b.health_r0_mult = h.ri_factor ? b.r0_base_ohm * *h.ri_factor / b.r0_ohm : r0_mult;
  b.health_i0_mult = h.i0_factor ? b.gas_i0_base_a * *h.i0_factor / b.gas_i0_a : i0_mult;
  Impl::refreshParameters(s, b);
  b.q_removed_ah = (1.0 - soc) * b.capacity_ah;  // same state of charge
  return {};
}

model::ChargerConfig PlantSim::chargerConfig(std::size_t string_index) const {
  return impl_->str(string_index).config.charger;
}

void PlantSim::setChargerConfig(std::size_t string_index, const model::ChargerConfig& charger) {
  impl_->str(string_index).config.charger = charger;
  impl_->last_load_step_ms = impl_->t_ms;
}

model::AmbientConfig PlantSim::ambientConfig() const {
  return impl_->config.ambient;
}

void PlantSim::setAmbient(const model::AmbientConfig& ambient) {
  impl_->config.ambient = ambient;
}

void PlantSim::setAgeingAcceleration(double factor) {
  impl_->ageing_acceleration = std::isfinite(factor) ? std::max(0.0, factor) : 1.0;
}

}  // namespace equalis::sim

// ==================================================================== saved state

namespace equalis::sim {

namespace {

// Format: "EQUALIS PLANT STATE\n", u32 version, u64 payload size, payload, u64 FNV-1a of the
// payload. All values little-endian as in memory (x86-64 and aarch64); written and read field by
// field, trivially copyable structs (Block, module errors, Rng, RoomModel) as their bytes.
constexpr std::string_view kStateMagic = "EQUALIS PLANT STATE\n";
constexpr std::uint32_t kStateVersion = 1;

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// The two directions of one field list (StateIo::fields): each call moves one value, a vector
// of `n` values or a string to the bytes or from them, and says whether it could.
class StateWriter {
 public:
  static constexpr bool kReading = false;
  template <class T>
  bool operator()(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    // The padding between a struct's members (after its bools) is unspecified: cleared, so the
    // same state always gives the same bytes and no stray memory reaches the file.
    T copy = v;
#if defined(__has_builtin)
#if __has_builtin(__builtin_clear_padding)
    __builtin_clear_padding(&copy);
#endif
#endif
    out_.append(reinterpret_cast<const char*>(&copy), sizeof(T));
    return true;
  }
  template <class T>
  bool vector(const std::vector<T>& v, std::size_t /*n*/) {
    (*this)(static_cast<std::uint64_t>(v.size()));
    for (const auto& x : v) {
      (*this)(x);
    }
    return true;
  }
  bool string(const std::string& s) {
    (*this)(static_cast<std::uint64_t>(s.size()));
    out_.append(s);
    return true;
  }
  std::string take() {
    return std::move(out_);
  }

 private:
  std::string out_;
};

class StateReader {
 public:
  static constexpr bool kReading = true;
  explicit StateReader(std::string_view in) : in_(in) {}
  template <class T>
  bool operator()(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (in_.size() - pos_ < sizeof(T)) {
      return false;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A vector whose size must be `n`.
  template <class T>
  bool vector(std::vector<T>& v, std::size_t n) {
    std::uint64_t size = 0;
    if (!(*this)(size) || size != n) {
      return false;
    }
    v.resize(n);
    for (auto& x : v) {
      if (!(*this)(x)) {
        return false;
      }
    }
    return true;
  }
  bool string(std::string& s) {
    std::uint64_t n = 0;
    if (!(*this)(n) || n > in_.size() - pos_) {
      return false;
    }
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }
  std::size_t size() const { return in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// What the saved state must match: the configured plant.
std::string fingerprint(const model::PlantConfig& c) {
  std::string f = fmt::format("seed {}; {} strings", c.simulation.seed, c.strings.size());
  for (const auto& s : c.strings) {
    f +=
        fmt::format("; {} × {} {} Ah {} {} y", s.block_count, model::chemistryInfo(s.chemistry).key,
                    s.capacity_ah, model::moduleTypeInfo(s.module_type).key, s.age_years);
  }
  return f;
}

}  // namespace

// Every mutable part of Impl that the constructor does not rebuild from the configuration.
// (Derived per-string constants, the chemistry and module pointers and the configuration itself
// come from the constructor; the step scratch is rewritten before it is read.)
struct PlantSim::StateIo {
  static_assert(std::is_trivially_copyable_v<Block>);
  static_assert(std::is_trivially_copyable_v<ModuleCalibration>);
  static_assert(std::is_trivially_copyable_v<Rng>);
  static_assert(std::is_trivially_copyable_v<RoomModel>);
  static_assert(std::is_trivially_copyable_v<model::ChargerConfig>);
  static_assert(std::is_trivially_copyable_v<model::AmbientConfig>);

  // The sizes of the structs written as bytes: a build whose Block or module error differs
  // reads no state of another.
  static std::string layout() {
    return fmt::format("block {} B, module {} B, rng {} B, room {} B", sizeof(Block),
                       sizeof(ModuleCalibration), sizeof(Rng), sizeof(RoomModel));
  }

  // The states after the layout and the fingerprint, in one list for both directions. `M` is
  // Impl (reading) or const Impl (writing).
  template <class Io, class M>
  static bool fields(Io& io, M& m) {
    bool ok = io(m.t_ms);
    for (auto* rng : {&m.ups_rng, &m.noise_rng, &m.replace_rng, &m.sensor_rng}) {
      ok = ok && io(*rng);
    }
    ok = ok && io(m.next_drift_ms) && io(m.ambient_offset_c) && io(m.ageing_acceleration) &&
         io(m.outage_active) && io(m.outage_end_ms) && io(m.outage_load_w) &&
         io(m.next_outage_ms) && io(m.next_outage_duration_ms) && io(m.last_load_step_ms) &&
         io(m.last_bypass_change_ms) && io(m.block_steps) && io(m.room) && io(m.config.ambient);
    for (std::size_t i = 0; ok && i < m.electrolyte_pct.size(); ++i) {
      ok = io.vector(m.electrolyte_pct[i], m.strings[i].blocks.size());
    }
    std::uint64_t contacts = m.contacts.size();
    ok = ok && io(contacts);
    if constexpr (Io::kReading) {
      ok = ok && contacts <= io.size();
      m.contacts.clear();
      for (std::uint64_t i = 0; ok && i < contacts; ++i) {
        std::string id;
        bool active = false;
        ok = io.string(id) && io(active);
        m.contacts[id] = active;
      }
    } else {
      for (const auto& [id, active] : m.contacts) {
        io.string(id);
        io(active);
      }
    }
    for (auto& s : m.strings) {
      const std::size_t n = s.blocks.size();
      ok = ok && io(s.config.charger) && io.vector(s.blocks, n) && io.vector(s.modules, n) &&
           io(s.setpoint_factor) && io(s.ageing_elapsed_s) && io(s.step_counter) &&
           io(s.charger_enabled) && io(s.charger_reduced) && io(s.breaker_open) &&
           io(s.test_load_a) && io(s.cut_off) && io(s.current_a) && io(s.setpoint_v) &&
           io(s.voltage_v) && io(s.mode) && io(s.ripple_a) && io(s.current_offset_a) &&
           io(s.current_gain) && io(s.current_drift_a);
    }
    return ok;
  }

  static std::string write(const Impl& m) {
    StateWriter w;
    w.string(layout());
    w.string(fingerprint(m.config));
    fields(w, m);
    const std::string payload = w.take();
    StateWriter frame;
    frame(kStateVersion);
    frame(static_cast<std::uint64_t>(payload.size()));
    std::string out = std::string(kStateMagic) + frame.take() + payload;
    StateWriter sum;
    sum(fnv1a(payload));
    return out + sum.take();
  }

  // The payload of a state file, checked for its frame; the error names what is wrong.
  static Result<std::string_view> payloadOf(std::string_view bytes) {
    const auto bad = [](const std::string& what) -> Result<std::string_view> {
      return makeError(ErrorCode::kProtocol, "not a usable plant state: " + what);
    };
    if (bytes.substr(0, kStateMagic.size()) != kStateMagic) {
      return bad("it does not start with \"EQUALIS PLANT STATE\"");
    }
    StateReader r(bytes.substr(kStateMagic.size()));
    std::uint32_t version = 0;
    std::uint64_t size = 0;
    if (!r(version) || !r(size)) {
      return bad("the header is cut short");
    }
    if (version != kStateVersion) {
      return bad(fmt::format("version {} (this build reads version {})", version, kStateVersion));
    }
    const std::size_t head = kStateMagic.size() + sizeof(version) + sizeof(size);
    if (size > bytes.size() - head || bytes.size() - head - size != sizeof(std::uint64_t)) {
      return bad(fmt::format("{} bytes of state announced, {} present", size,
                             bytes.size() - std::min(bytes.size(), head)));
    }
    const std::string_view payload = bytes.substr(head, size);
    std::uint64_t sum = 0;
    std::memcpy(&sum, bytes.data() + head + size, sizeof(sum));
    if (sum != fnv1a(payload)) {
      return bad("the checksum does not match (the file is damaged)");
    }
    return payload;
  }

  static Status read(Impl& m, std::string_view payload) {
    StateReader r(payload);
    const auto cut = [] {
      return makeError(ErrorCode::kProtocol,
                       "not a usable plant state: its content does not match its structure");
    };
    std::string saved_layout;
    std::string saved_print;
    if (!r.string(saved_layout) || !r.string(saved_print)) {
      return cut();
    }
    if (saved_layout != layout()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("the plant state was saved by a build with another state "
                                   "layout (\"{}\", this build \"{}\")",
                                   saved_layout, layout()));
    }
    if (const std::string print = fingerprint(m.config); saved_print != print) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("the plant state was saved from another plant: it has \"{}\", "
                                   "the configuration \"{}\"",
                                   saved_print, print));
    }
    const bool ok = fields(r, m);
    if (!ok || !r.done()) {
      return cut();
    }
    return {};
  }
};

std::string PlantSim::saveState() const {
  return StateIo::write(*impl_);
}

Status PlantSim::saveState(const std::string& path) const {
  return persist::writeFileDurably(path, saveState());
}

Result<std::unique_ptr<PlantSim>> PlantSim::restoreState(const model::PlantConfig& config,
                                                         std::string_view bytes) {
  auto payload = StateIo::payloadOf(bytes);
  if (!payload.ok()) {
    return payload.error();
  }
  std::unique_ptr<PlantSim> sim(new PlantSim());
  sim->impl_ = std::make_unique<Impl>(config, 0);
  if (Status st = StateIo::read(*sim->impl_, *payload); !st) {
    return st.error();
  }
  return sim;
}

Result<std::unique_ptr<PlantSim>> PlantSim::loadState(const model::PlantConfig& config,
                                                      const std::string& path) {
  auto bytes = persist::readFile(path);
  if (!bytes.ok()) {
    return bytes.error();
  }
  if (!bytes->has_value()) {
    return makeError(ErrorCode::kNotFound, path + ": no such plant state file");
  }
  auto sim = restoreState(config, **bytes);
  if (!sim.ok()) {
    return makeError(sim.error().code, path + ": " + sim.error().message);
  }
  return sim;
}

}  // namespace equalis::sim
