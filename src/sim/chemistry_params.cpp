#include "sim/chemistry_params.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

namespace equalis::sim {

namespace {

constexpr double kHourS = 3600.0;
constexpr double kMonthH = 30.0 * 24.0;  // a month of self-discharge figures = 30 days [G]

// ---- 12 V VRLA block, 100 Ah (battery-science.md §6.4 column 1) ----
constexpr ChemistryParams kVrla12V{
    .chemistry = model::Chemistry::kVrla12V,
    .cells = 6,
    .ref_capacity_ah = 100.0,
    .r0_ohm = 4.9e-3,                     // §2.5/§6.4 Leoch LP12-100 Ri 4.9 mΩ [R]
    .r1_ohm = 1.0e-3,                     // §6.4 R1 = 1 mΩ [G]
    .tau1_s = 100.0,                      // §6.4 τ1 = 100 s (Jackey τ1, §2.2) [G]
    .r2_ohm = 2.0e-3,                     // §6.4 R2 = 2 mΩ [G]
    .tau2_s = 2.0 * kHourS,               // §6.4 τ2 = 2 h [G]
    .entropic_v_per_k_per_cell = 0.2e-3,  // §6.3 +0.2 mV/K/cell [G]
    .gassing = true,
    .gas_i0_a_per_100ah = 0.015,   // §1.2/§6.4 10–20 mA/100 Ah at U0: middle of the range
    .gas_u0_v_per_cell = 2.23,     // §1.2 U_gas0 [R]
    .gas_cu_per_v = 11.0,          // §1.2 c_u = 11 /V per cell [R]
    .gas_ct_per_k = 0.06,          // §1.2 c_T = 0.06 /K [R]
    .tau_float_s = 1.0 * kHourS,   // §1.4/§6.4 τ_float = 1 h [G]
    .charge_efficiency = 0.95,     // §6.4 0.95 below 80 % SOC [G]
    .accept_tau_s = 0.5 * kHourS,  // CV taper time constant [G] (not in the reference)
    .accept_ref_v_per_cell = 0.1,  // ≈ float 2.27 − OCV_full 2.14 V/cell (§6.4) [G]
    .discharge_r_ohm = 0.1e-3,     // main-reaction overvoltage in discharge: negligible [G]
    .self_discharge_per_month_20c = 0.03,  // §1.1 AGM 3 %/month at 20 °C [R]
    .self_discharge_doubling_k = 10.0,     // §1.1 doubles per 10 °C [R, low authority]
    .jackey_kc = 1.2,                      // §2.2/§6.4 Kc [R]
    // δ = 0.60 (Jackey 0.73, §2.2) with the depletion law's γ = 0.3 below: fitted to the
    // manufacturers' tables of tests/data/discharge (two 12 V 100 Ah AGM blocks, 111 points from
    // 5 min to 20 h, 1.85 … 1.75 V/cell, constant current and power) [D]. Every point lands within
    // −10 … +11 % of the table's runtime; Jackey's δ with γ = 1 gave half the runtime at 5–20 min.
    .jackey_delta = 0.60,
    .jackey_i_star_c_rate = 0.1,  // §6.4 I* = C/10
    // §2.2 R10 (depletion resistance −R10·ln DOC) is 1.0 mΩ/cell at 50 Ah in Jackey's example and
    // 8.5 mΩ at 72–80 Ah in the gmiglio/BMS variant [R]. 2.0 mΩ/cell at 100 Ah, anchored at the
    // 1-h rate (Leoch: 53 A to 1.85 V/cell, §2.5), with the overvoltage growing as I^0.3 (a
    // diffusion limit grows sub-linearly with the current) [D, fitted as above].
    .depletion_r10_ohm_per_cell = 2.0e-3,
    .depletion_rate_exponent = 0.3,
    .depletion_ref_c_rate = 0.53,
    .heat_capacity_j_per_k = 27.0e3,       // §2.7/§6.4 C_th ≈ 27 kJ/K [G]
    .thermal_conductance_w_per_k = 1.0,    // §2.7/§6.4 G_th ≈ 1 W/K [G]
    .bypass_heat_fraction = 0.3,           // §2.7 κ = 0.3 [G]
    .neighbour_conductance_w_per_k = 0.3,  // §2.7 G_nb ≈ 0.3 W/K for 12 V blocks [G]
    .sigma_c0 = 0.02,                      // §6.4 scatter C0 2 %
    .sigma_r0 = 0.06,                      // §6.4 scatter Ri0 5–8 % (BU 5–10 %)
    .sigma_ln_i0_new = 0.3,                // §6.4 ln I0 σ 0.3 (new)
    .sigma_ln_i0_per_year = 0.18,          // → 1.2 at 5 years (§6.4, linear interpolation [G])
    .sigma_ln_i0_max = 1.2,                // §6.4 ln I0 σ 1.2 (5-year-old string)
    .fade_per_year = 0.02,  // [D] 10-year design float life (§6.4) to 80 % EOL (§3.5), linear
    .sigma_ln_fade = 0.3,   // §2.6 per-block lognormal multiplier σ ≈ 0.2–0.4 [G]
    // §6.3/§2.6 ageing [D]: a block floating at 2.27 V/cell, 25 °C loses 20 % in the 10-year
    // design life (§6.4). The dose current is the parasitic current at the positive plate: the
    // gassing branch plus the self-discharge (grid corrosion also goes on at rest); at the
    // reference point the gassing part is ≈ 3/4 (18 of 24 mA). With I0 = I0_0·(1 + 4F) the fade
    // obeys dF/dt ≈ a·(1 + 3F) → F(t) = (e^{3at} − 1)/3, so a = ln(1.6)/(3·10 y).
    .ageing_a_per_year = 0.0156668,
    .ageing_doubling_k = 15.0,  // §6.3 dose ×2 per 15 K (Schiffer corrosion) [G]
    // §6.3 sulfation [G]: s0 = 1/(120 d), b = 0.2 → a month at 50 % SOC costs 2.5 % of C0; a
    // 100 % discharge with a 10 h recharge ≈ 0.08 % (≈ 250 such cycles to 80 %).
    .sulfation_rate_per_s = 1.0 / (120.0 * 86400.0),
    .sulfation_fade = 0.2,
    .sulfation_soc_threshold = 0.97,  // §6.3
    .ri_rise_per_fade = 1.25,         // §2.6 (+25 % Ri ↔ −20 % capacity, BU) [R/D]
    .i0_rise_per_fade = 4.0,          // §6.3 "×5 for aged" (SLIDE comment, §1.2) [G]
    // The acid's conductivity falls as it cools (≈ 1.2 %/K near 25 °C) and as it thins on
    // discharge; lead-acid Ri at empty is about 1.5× that at full [G].
    .ri_temp_coeff_per_k = 0.012,
    .ri_soc_coeff = 0.5,
    // Scatter beyond C0/R0/I0 [G]: cell OCV offset σ 3 mV (the §2.4 rule OCV ≈ SG + 0.84 V with
    // a filling tolerance of a few 0.001 g/cm³), span σ 1 % (acid per Ah), R1/R2 σ 10 %,
    // self-discharge lognormal σ 0.3; η σ 0.002 (the main reaction is nearly lossless, the
    // block-to-block difference of the overcharge is in the gassing branch's I0 scatter).
    .sigma_ocv_offset_v_per_cell = 3e-3,
    .sigma_ocv_span = 0.01,
    .sigma_rc = 0.10,
    .sigma_charge_efficiency = 0.002,
    .sigma_ln_self_discharge = 0.3,
    // Coup de fouet [G for the numbers; the phenomenon per Ryś et al., J. Power Technologies
    // 2021 (§3.4): a dip in the first minutes of a discharge from full charge, then an interim
    // plateau]. V_cf = 8 mV/cell at I_cf = C/100 gives a dip of ≈ 19 mV/cell at C/10 and
    // ≈ 28 mV/cell at C/3, deepest when 0.5 % of C is drawn (3 min at C/10, 1 min at C/3); it
    // comes back after a full charge held for hours (τ_reset 2 h).
    .cdf_v_per_cell = 0.008,
    .cdf_i_c_rate = 0.01,
    .cdf_charge_fraction = 0.005,
    .cdf_reset_tau_s = 2.0 * kHourS,
    // Sulfation signature [G]: R0 rises half as fast as for corrosion (PbSO4 spread in the mass),
    // acceptance halves at 10 % sulfation fade; per-block rates lognormal σ 0.5.
    .sigma_ln_sulfation = 0.5,
    .sulfation_ri_per_fade = 0.5,
    .sulfation_accept_per_fade = 10.0,
    // Softening and shedding from cycling [G]: a typical 12 V AGM cycle-life curve, 250 / 550 /
    // 1200 cycles to 80 % at 100 / 50 / 30 % DoD → N100 = 250, k = 1.25; R0 nearly flat.
    .cycle_life_full_dod = 250.0,
    .cycle_life_exponent = 1.25,
    .cycle_fade_eol = 0.2,
    .sigma_ln_softening = 0.3,
    .softening_ri_per_fade = 0.1,
    // Dry-out from water loss [G]: an AGM block of 30 kg (§2.5) holds ≈ 25 % electrolyte,
    // ≈ 13 g per Ah and cell; with the emitted share f_g = 0.2 (room.hpp) a nominal block on
    // float loses ≈ 0.8 % a year. Loss starts to cost capacity above 10 % (the glass mat loses
    // contact): −20 % capacity and +50 % R0 at 20 % loss, and the float current rises by half (a
    // drier separator passes more oxygen: recombination heat, §1.6); saturating at 40 % loss.
    // Per-block lognormal σ 0.4 on the emitted share (valve opening pressure, seal).
    .electrolyte_g_per_ah_cell = 13.0,
    .sigma_ln_water_loss = 0.4,
    .dry_out_onset = 0.10,
    .dry_out_capacity_per_loss = 2.0,
    .dry_out_ri_per_loss = 5.0,
    .dry_out_i0_per_loss = 5.0,
};

// ---- 2 V VRLA cell, 1000 Ah (§6.4 column 2): the 12 V block's laws ("same", §6.4) with these
// values ----
constexpr ChemistryParams vrla2V() {
  ChemistryParams p = kVrla12V;
  p.chemistry = model::Chemistry::kVrla2V;
  p.cells = 1;
  p.ref_capacity_ah = 1000.0;
  p.r0_ohm = 0.1e-3;  // §6.4 0.1 mΩ [G, Ri·C ≈ const]
  p.r1_ohm = 0.1e-3;  // §6.4 "scale R by 0.1" of the 12 V block [G]
  p.r2_ohm = 0.2e-3;
  p.gas_i0_a_per_100ah = 0.015;            // §6.4 100–200 mA per 1000 Ah at 2.23 V
  p.tau_float_s = 2.0 * kHourS;            // §6.4 τ_float 2 h [G]
  p.discharge_r_ohm = 0.01e-3;             // [G]
  p.self_discharge_per_month_20c = 0.025;  // §6.4 2–3 %/month
  p.depletion_r10_ohm_per_cell = 0.2e-3;  // as the 12 V block (§2.2, §2.5), scaled to 1000 Ah [D]
  p.heat_capacity_j_per_k = 55.0e3;       // §6.4 C_th ≈ 55 kJ/K [G]
  p.thermal_conductance_w_per_k = 1.5;    // §6.4 G_th ≈ 1.5 W/K [G]
  p.neighbour_conductance_w_per_k = 0.45;  // §2.7 G_nb, scaled with G_th (1.5/1 W/K) [G]
  p.fade_per_year = 0.0133;                // [D] 15-year design life (§6.4 15–20 y) to 80 %
  p.ageing_a_per_year = 0.0104445;         // [D] as 12 V with the 15-year design life (§6.4)
  return p;
}
constexpr ChemistryParams kVrla2V = vrla2V();

// ---- 2 V vented (flooded) lead-acid cell, OPzS: the 2 V cell's laws, vented ----
constexpr ChemistryParams vented2V() {
  ChemistryParams p = vrla2V();
  p.chemistry = model::Chemistry::kVented2V;
  p.gas_recombines = false;         // the gas leaves (gas emission factor 1, room.hpp)
  p.electrolyte_g_per_ah_cell = 0;  // water is topped up: no dry-out (the level is tracked)
  p.cdf_v_per_cell = 0.008;         // the coup de fouet as for VRLA [G]
  // Stratification [G]: the §2.4 rule OCV ≈ SG + 0.84 V makes a 0.04 g/cm³ denser bottom read
  // ≈ 40 mV/cell high. It builds over months on float (τ 90 d); an equalize charge mixes it within
  // hours (τ 2 h) once the gassing exceeds 0.5 mA/Ah (2.40 V/cell gives ≈ 1 mA/Ah, float 0.15);
  // a discharge stirs it with the charge drawn (30 % of C). A fully stratified cell loses 10 % of
  // its capacity: the upper plates idle (Hund, Sandia: stratification is among the capacity-loss
  // mechanisms of undercharged lead-acid).
  p.strat_max_v_per_cell = 0.040;
  p.strat_build_tau_s = 90.0 * 86400.0;
  p.strat_mix_tau_s = 2.0 * kHourS;
  p.strat_stir_c_rate = 0.0005;
  p.strat_mix_charge_fraction = 0.3;
  p.strat_capacity_loss = 0.1;
  return p;
}
constexpr ChemistryParams kVented2V = vented2V();

// ---- LiFePO4 cell, 100 Ah (§6.4 column 3) ----
constexpr ChemistryParams kLiFePO4{
    .chemistry = model::Chemistry::kLiFePO4,
    .cells = 1,
    .ref_capacity_ah = 100.0,
    .r0_ohm = 0.4e-3,  // §6.4 0.3–0.5 mΩ [G]
    .r1_ohm = 0.3e-3,  // §6.4 R1 = 0.3 mΩ, τ1 = 30 s [G]
    .tau1_s = 30.0,
    .r2_ohm = 0.3e-3,  // §6.4 R2 = 0.3 mΩ, τ2 = 600 s [G]
    .tau2_s = 600.0,
    .entropic_v_per_k_per_cell = 0.0,  // [G] neglected
    .gassing = false,                  // §6.4 leakage only
    .gas_i0_a_per_100ah = 0.0,
    .gas_u0_v_per_cell = 0.0,
    .gas_cu_per_v = 0.0,
    .gas_ct_per_k = 0.0,
    .tau_float_s = 60.0,                   // double-layer time constant [G] (no float branch)
    .charge_efficiency = 0.99,             // §6.4
    .accept_tau_s = 0.5 * kHourS,          // [G]
    .accept_ref_v_per_cell = 0.1,          // [G]
    .discharge_r_ohm = 0.01e-3,            // [G]
    .self_discharge_per_month_20c = 0.02,  // §6.4 1.5–3 %/month (≈ 0.03 mA/Ah leakage)
    .self_discharge_doubling_k = 10.0,     // §1.1 rule applied to LFP [G]
    .jackey_kc = 1.03,                     // §6.4 Peukert ≈ 1.02–1.05 → weak rate effect [G]
    .jackey_delta = 0.73,
    .jackey_i_star_c_rate = 0.1,
    .depletion_r10_ohm_per_cell = 0.1e-3,  // [G]
    .heat_capacity_j_per_k = 2.0e3,        // §6.4 C_th ≈ 2 kJ/K [G]
    .thermal_conductance_w_per_k = 0.3,    // §6.4 G_th ≈ 0.3 W/K [G]
    .bypass_heat_fraction = 0.3,           // §2.7 [G]
    .neighbour_conductance_w_per_k = 0.1,  // §2.7 G_nb, small cells [G]
    .sigma_c0 = 0.01,                      // §6.4 scatter C0 1 %
    .sigma_r0 = 0.03,                      // §6.4 scatter Ri0 3 %
    .sigma_ln_i0_new = 0.0,
    .sigma_ln_i0_per_year = 0.0,
    .sigma_ln_i0_max = 0.0,
    .fade_per_year = 0.02,        // [G] calendar fade
    .sigma_ln_fade = 0.3,         // [G]
    .ageing_a_per_year = 0.02,    // [G] calendar fade at 25 °C (no gassing branch)
    .ageing_doubling_k = 10.0,    // [G] Arrhenius ×2 per 10 K (§2.6 rule)
    .sulfation_rate_per_s = 0.0,  // no sulfation
    .sulfation_fade = 0.0,
    .sulfation_soc_threshold = 0.0,
    .ri_rise_per_fade = 1.25,  // §2.6 [G]
    .i0_rise_per_fade = 0.0,   // no gassing branch
    // Li-ion: Arrhenius-like, ≈ 2 %/K near 25 °C; flat over most of the SOC range [G].
    .ri_temp_coeff_per_k = 0.02,
    .ri_soc_coeff = 0.1,
    // Scatter [G]: OCV offset σ 1 mV/cell, span 2 %, RC 10 %, η 0.002, self-discharge σ 0.3.
    .sigma_ocv_offset_v_per_cell = 1e-3,
    .sigma_ocv_span = 0.02,
    .sigma_rc = 0.10,
    .sigma_charge_efficiency = 0.002,
    .sigma_ln_self_discharge = 0.3,
    // OCV hysteresis [G]: the charge and discharge branches of LiFePO4 lie ≈ 20 mV apart on the
    // plateau (reported as 10–30 mV by Dreyer et al., Nature Materials 2010, and Roscher &
    // Sauer, J. Power Sources 2011); M = 10 mV, the branch changes within ≈ 5 % of C.
    .hysteresis_v_per_cell = 0.010,
    .hysteresis_rate_per_c = 20.0,
    // No coup de fouet, sulfation or dry-out (calendar ageing is the dose above). Cycle fade:
    // N100 = 1800, k = 1.5, the least-squares fit of N(DoD) = N100·DoD^−k to the Victron
    // LFP-Smart 12,8/100's 5000 / 3000 / 2500 cycles to 80 % at 50 / 70 / 80 % DoD
    // (tests/data/discharge) [D].
    .cycle_life_full_dod = 1800.0,
    .cycle_life_exponent = 1.5,
    .cycle_fade_eol = 0.2,
    .sigma_ln_softening = 0.3,
    .softening_ri_per_fade = 0.5,
};

// ---- NiCd pocket cell, 100 Ah (§6.4 column 4) ----
constexpr ChemistryParams kNiCd{
    .chemistry = model::Chemistry::kNiCd,
    .cells = 1,
    .ref_capacity_ah = 100.0,
    .r0_ohm = 0.75e-3,  // §6.4 0.5–1 mΩ [G]
    .r1_ohm = 0.3e-3,   // [G]
    .tau1_s = 100.0,
    .r2_ohm = 0.5e-3,  // [G]
    .tau2_s = 1.0 * kHourS,
    .entropic_v_per_k_per_cell = 0.0,  // [G]
    .gassing = true,
    .gas_i0_a_per_100ah = 0.015,  // [G] same normalized prefactor as lead-acid (§1.2)
    .gas_u0_v_per_cell = 1.17,  // [G] chosen so the float current at 1.41 V/cell ≈ 1.5 mA/Ah (§6.4)
    .gas_cu_per_v = 11.0,       // [G] lead-acid Tafel slope (§1.2)
    .gas_ct_per_k = 0.06,       // [G] lead-acid value (§1.2)
    .tau_float_s = 1.0 * kHourS,           // §6.4 τ_float 1 h [G]
    .charge_efficiency = 0.75,             // §6.4 0.71–0.8 (charge factor 1.25–1.4)
    .accept_tau_s = 0.5 * kHourS,          // [G]
    .accept_ref_v_per_cell = 0.1,          // [G]
    .discharge_r_ohm = 0.01e-3,            // [G]
    .self_discharge_per_month_20c = 0.03,  // §6.4 2–5 %/month stationary [G]
    .self_discharge_doubling_k = 10.0,     // §1.1 rule [G]
    .jackey_kc = 1.05,                     // §6.4 Peukert ≈ 1.05 [G]
    .jackey_delta = 0.73,
    .jackey_i_star_c_rate = 0.1,
    .depletion_r10_ohm_per_cell = 0.2e-3,   // [G]
    .heat_capacity_j_per_k = 8.0e3,         // §6.4 C_th ≈ 8 kJ/K
    .thermal_conductance_w_per_k = 0.4,     // [G]
    .bypass_heat_fraction = 0.3,            // §2.7 [G]
    .neighbour_conductance_w_per_k = 0.15,  // §2.7 G_nb [G]
    .sigma_c0 = 0.02,                       // §6.4 [G]
    .sigma_r0 = 0.06,
    .sigma_ln_i0_new = 0.3,
    .sigma_ln_i0_per_year = 0.18,
    .sigma_ln_i0_max = 1.2,
    .fade_per_year = 0.01,  // [D] 20-year float life (§6.4) to 80 %
    .sigma_ln_fade = 0.3,
    .ageing_a_per_year = 0.0078334,  // [D] as 12 V with the 20-year float life (§6.4)
    .ageing_doubling_k = 15.0,       // §6.3 [G]
    .sulfation_rate_per_s = 0.0,     // NiCd does not sulfate [G]
    .sulfation_fade = 0.0,
    .sulfation_soc_threshold = 0.0,
    .ri_rise_per_fade = 1.25,  // §2.6 [G]
    .i0_rise_per_fade = 4.0,   // §6.3 [G]
    // NiCd: alkaline electrolyte, ≈ 1 %/K [G]; Ri rises moderately towards empty [G].
    .ri_temp_coeff_per_k = 0.01,
    .ri_soc_coeff = 0.2,
    // Scatter [G]: as lead-acid, OCV offset σ 2 mV/cell, η σ 0.005.
    .sigma_ocv_offset_v_per_cell = 2e-3,
    .sigma_ocv_span = 0.02,
    .sigma_rc = 0.10,
    .sigma_charge_efficiency = 0.005,
    .sigma_ln_self_discharge = 0.3,
    // Pocket plates: no sulfation, no coup de fouet; vented (water topped up, electrolyte level
    // tracked by the room model). Cycle fade [G]: ≈ 1500 cycles at 100 % DoD, k = 1.3.
    .cycle_life_full_dod = 1500.0,
    .cycle_life_exponent = 1.3,
    .cycle_fade_eol = 0.2,
    .sigma_ln_softening = 0.3,
    .softening_ri_per_fade = 0.2,
};

// A point of a piecewise-linear table: y at x (SOC → V, or °C → capacity factor).
struct TablePoint {
  double x;
  double y;
};

// A123 LiFePO4 OCV per cell (§2.4, davidmcq137/JetiLuaDFM A123.lua) [R], the mean of the charge
// and discharge branches (hysteresis, ChemistryParams). The table's 100 % point, 3.59 V, is "just
// after charge" (it holds polarization that relaxes within hours), so the rest OCV at 100 % is
// taken as 3.40 V [G: rested full LFP cells settle at 3.35–3.45 V]; the knee above 95.7 % stays.
constexpr std::array<TablePoint, 11> kLfpOcv{{{0.010, 2.90},
                                              {0.054, 3.12},
                                              {0.096, 3.17},
                                              {0.226, 3.22},
                                              {0.356, 3.25},
                                              {0.485, 3.269},
                                              {0.613, 3.276},
                                              {0.742, 3.29},
                                              {0.871, 3.313},
                                              {0.957, 3.32},
                                              {1.000, 3.40}}};

// NiCd vendor table (§2.4, voltagebasics.com, low authority) used for its shape only: normalized to
// 0 … 1 between 1.00 V and 1.40 V, then mapped onto ChemistryInfo's rested 1.00 … 1.30 V.
constexpr std::array<TablePoint, 11> kNiCdShape{{{0.0, 1.00},
                                                 {0.1, 1.08},
                                                 {0.2, 1.12},
                                                 {0.3, 1.16},
                                                 {0.4, 1.19},
                                                 {0.5, 1.22},
                                                 {0.6, 1.25},
                                                 {0.7, 1.29},
                                                 {0.8, 1.32},
                                                 {0.9, 1.35},
                                                 {1.0, 1.40}}};

double interpolate(std::span<const TablePoint> table, double x) {
  if (x <= table.front().x) {
    return table.front().y;
  }
  if (x >= table.back().x) {
    return table.back().y;
  }
  for (std::size_t i = 1; i < table.size(); ++i) {
    if (x <= table[i].x) {
      const auto& a = table[i - 1];
      const auto& b = table[i];
      return a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x);
    }
  }
  return table.back().y;
}

}  // namespace

double ohmicConditionFactor(const ChemistryParams& p, double temperature_c, double soc) {
  const double d = 1.0 - std::clamp(soc, 0.0, 1.0);
  return std::exp(p.ri_temp_coeff_per_k * (25.0 - temperature_c)) * (1.0 + p.ri_soc_coeff * d * d);
}

const ChemistryParams& chemistryParams(model::Chemistry c) {
  switch (c) {
    case model::Chemistry::kVrla12V:
      return kVrla12V;
    case model::Chemistry::kVrla2V:
      return kVrla2V;
    case model::Chemistry::kVented2V:
      return kVented2V;
    case model::Chemistry::kLiFePO4:
      return kLiFePO4;
    case model::Chemistry::kNiCd:
      return kNiCd;
  }
  return kVrla12V;
}

double ocvBlockV(const ChemistryParams& p, double soc, double temperature_c) {
  const double s = std::clamp(soc, 0.0, 1.0);
  const auto& info = model::chemistryInfo(p.chemistry);
  double v = 0.0;
  switch (p.chemistry) {
    case model::Chemistry::kVrla12V:
    case model::Chemistry::kVrla2V:
    case model::Chemistry::kVented2V:
      // The §2.4 lead-acid shape between the empty and full values (ChemistryInfo).
      v = info.ocv_empty_v + (info.ocv_full_v - info.ocv_empty_v) * leadAcidOcvShape(s);
      break;
    case model::Chemistry::kLiFePO4:
      v = interpolate(kLfpOcv, s) * p.cells;
      break;
    case model::Chemistry::kNiCd: {
      const double shape = (interpolate(kNiCdShape, s) - 1.00) / 0.40;
      v = info.ocv_empty_v + (info.ocv_full_v - info.ocv_empty_v) * shape;
      break;
    }
  }
  return v + p.entropic_v_per_k_per_cell * p.cells * (temperature_c - 25.0);
}

double socForOcv(const ChemistryParams& p, double ocv_block_v) {
  // OCV is non-decreasing in SOC: bisection.
  if (ocvBlockV(p, 1.0, 25.0) <= ocv_block_v) {
    return 1.0;
  }
  if (ocvBlockV(p, 0.0, 25.0) >= ocv_block_v) {
    return 0.0;
  }
  double lo = 0.0;
  double hi = 1.0;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (ocvBlockV(p, mid, 25.0) < ocv_block_v) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

double capacityRateFactor(const ChemistryParams& p, double discharge_current_a,
                          double capacity_ah) {
  const double i_star_a = p.jackey_i_star_c_rate * capacity_ah;
  const double x = std::max(0.0, discharge_current_a) / i_star_a;
  return p.jackey_kc / (1.0 + (p.jackey_kc - 1.0) * std::pow(x, p.jackey_delta));
}

double tafelGassingCurrentA(const ChemistryParams& p, double capacity_ah, double v_cell,
                            double temperature_c, double i0_scale) {
  if (!p.gassing) {
    return 0.0;
  }
  return i0_scale * p.gas_i0_a_per_100ah * (capacity_ah / 100.0) *
         std::exp(p.gas_cu_per_v * (v_cell - p.gas_u0_v_per_cell) +
                  p.gas_ct_per_k * (temperature_c - 25.0));
}

double gassingCurrentA(const ChemistryParams& p, double capacity_ah, double v_cell, double ocv_cell,
                       double temperature_c, double i0_scale) {
  if (!p.gassing || v_cell <= ocv_cell) {
    return 0.0;
  }
  return tafelGassingCurrentA(p, capacity_ah, v_cell, temperature_c, i0_scale) -
         tafelGassingCurrentA(p, capacity_ah, ocv_cell, temperature_c, i0_scale);
}

double selfDischargeCurrentA(const ChemistryParams& p, double capacity_ah, double temperature_c) {
  return p.self_discharge_per_month_20c * capacity_ah / kMonthH *
         std::exp2((temperature_c - 20.0) / p.self_discharge_doubling_k);
}

}  // namespace equalis::sim
