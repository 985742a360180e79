// Simulator parameters per chemistry (battery-science.md §6.4 and the sections it cites).
// Tags follow the reference document: [R] read in a source, [D] derived, [G] guess/assumption.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "model/chemistry.hpp"

namespace equalis::sim {

struct ChemistryParams {
  model::Chemistry chemistry;
  int cells;               // cells per block
  double ref_capacity_ah;  // capacity at which the resistances / thermal figures are quoted

  // Main branch, per block at ref_capacity_ah (resistances scale as ref_capacity_ah / C_N).
  double r0_ohm;  // ohmic resistance (what a module's Ri pulse sees)
  double r1_ohm;  // RC pair 1 (charge transfer / fast diffusion)
  double tau1_s;
  double r2_ohm;  // RC pair 2 (slow diffusion)
  double tau2_s;
  double entropic_v_per_k_per_cell;  // dOCV/dT

  // Parasitic (gassing) branch, Schiffer eq. 6 (§1.2), per cell.
  bool gassing;
  double gas_i0_a_per_100ah;  // I0 at U0 and 25 °C
  double gas_u0_v_per_cell;
  double gas_cu_per_v;  // c_u
  double gas_ct_per_k;  // c_T
  double tau_float_s;   // float-polarization time constant at the nominal float current

  // Main (charge/discharge) reaction.
  double charge_efficiency;  // coulombic efficiency of the main charge reaction
  double accept_tau_s;       // CV charge-acceptance time constant: I_main = deficit / tau at E_ref
  double accept_ref_v_per_cell;  // E_ref: overvoltage at which the above holds
  double discharge_r_ohm;        // charge-transfer resistance of the main reaction in discharge

  // Self-discharge (internal leakage drawn from the main reaction), §1.1.
  double self_discharge_per_month_20c;
  double self_discharge_doubling_k;

  // Capacity vs rate (Jackey C(I,θ), §2.2) and depletion resistance R1 = −R10·ln(DOC).
  double jackey_kc;
  double jackey_delta;
  double jackey_i_star_c_rate;        // I* as a fraction of C_N per hour (C/10 → 0.1)
  double depletion_r10_ohm_per_cell;  // R10 per cell at ref_capacity_ah
  // Depletion overvoltage R10·I·(I/I_ref)^(γ−1)·(−ln DOC): γ = 1 is Jackey's law; γ < 1 lets it
  // grow sub-linearly with the current (diffusion), anchored at I_ref (C-rate per hour).
  double depletion_rate_exponent = 1.0;
  double depletion_ref_c_rate = 0.1;

  // Thermal (§2.7), per block at ref_capacity_ah.
  double heat_capacity_j_per_k;
  double thermal_conductance_w_per_k;
  double bypass_heat_fraction;           // κ: share of the module's bypass heat reaching the block
  double neighbour_conductance_w_per_k;  // G_nb between adjacent blocks of a string (§2.7)

  // Static manufacturing scatter and static ageing.
  double sigma_c0;         // relative σ of the capacity
  double sigma_r0;         // relative σ of R0
  double sigma_ln_i0_new;  // σ of ln I0 for a new string
  double sigma_ln_i0_per_year;
  double sigma_ln_i0_max;
  double fade_per_year;  // capacity fade per year of service (static ageing, initial state)
  double sigma_ln_fade;  // per-block lognormal multiplier on the fade and on the ageing rate a

  // Ageing while running (§2.6, §6.3): C = C0·(1 − a·A − b·S).
  //   dA/dt = (I_gas + I_sd)/(I_gas + I_sd)_ref · 2^((T − 25)/doubling)
  //   [A in reference float-years; reference: new nominal block, float voltage, 25 °C]
  //   (no gassing branch: dA/dt = 2^((T − 25)/doubling), calendar ageing)
  //   dS/dt = s0·max(0, threshold − SOC)
  double ageing_a_per_year;     // a: capacity fade per reference float-year
  double ageing_doubling_k;     // temperature doubling of the dose rate
  double sulfation_rate_per_s;  // s0
  double sulfation_fade;        // b
  double sulfation_soc_threshold;
  double ri_rise_per_fade;  // R0 = Ri0·(1 + this·(1 − C/C0))  (§2.6: 1.25)
  double i0_rise_per_fade;  // I0 = I0_0·(1 + this·(1 − C/C0)) (§6.3: 4)

  // Ohmic resistance vs condition (§3.1 R_ohmic(T, SOC)), on top of the aged value at 25 °C and
  // full charge: R = R25,full·exp(k_T·(25 − T))·(1 + k_SOC·(1 − SOC)²).
  double ri_temp_coeff_per_k = 0;  // k_T
  double ri_soc_coeff = 0;         // k_SOC

  // Per-block manufacturing scatter beyond C0, R0 and I0 (docs/simulator.md "Scatter").
  double sigma_ocv_offset_v_per_cell = 0;  // σ of the OCV offset of one cell
  double sigma_ocv_span = 0;               // relative σ of the OCV span (empty → full)
  double sigma_rc = 0;                     // relative σ of R1 and R2
  double sigma_charge_efficiency = 0;      // absolute σ of η
  double sigma_ln_self_discharge = 0;      // σ of ln(self-discharge rate)

  // Coup de fouet (lead-acid): a nucleation overvoltage at the start of a discharge from full
  // charge, η = n_c·V_cf·a·ln(1 + |I|/I_cf)·h(q/q_n), h(x) = x·e^(1 − x), q the charge drawn in
  // this discharge (the dip is deepest at q = q_n, then recovers to a plateau). The readiness a is
  // 1 after a full charge held for hours (τ_reset); a discharge leaves a·e^(−q/q_n).
  double cdf_v_per_cell = 0;       // V_cf (0: no coup de fouet)
  double cdf_i_c_rate = 0;         // I_cf as a fraction of C_N per hour
  double cdf_charge_fraction = 0;  // q_n as a fraction of C_N
  double cdf_reset_tau_s = 0;

  // Gassing heat: a VRLA cell recombines its oxygen, so all of the gassing branch's power is heat;
  // a vented cell lets the gas out and keeps only (V_cell − 1.48 V)·I_gas (the thermoneutral
  // voltage of water electrolysis).
  bool gas_recombines = true;

  // Acid stratification (vented lead-acid): the dense acid made on charge sinks, the cell's OCV
  // reads high by up to strat_max per cell and the upper plates idle. Builds towards the maximum
  // with τ_build while neither gassing nor a discharge stirs it, decays with τ_mix while the
  // gassing current exceeds strat_stir_c_rate·C (an equalize charge) and with the charge drawn
  // (scale strat_mix_charge_fraction·C) in a discharge. Capacity × (1 − k·s/s_max).
  double strat_max_v_per_cell = 0;  // 0: no stratification
  double strat_build_tau_s = 0;
  double strat_mix_tau_s = 0;
  double strat_stir_c_rate = 0;
  double strat_mix_charge_fraction = 0;
  double strat_capacity_loss = 0;  // k

  // OCV hysteresis (LiFePO4): OCV = OCV_mean(SOC) + h·M per cell, h → +1 while charging and
  // −1 while discharging, dh = (±1 − h)·(1 − e^(−γ·|I|·dt/C)).
  double hysteresis_v_per_cell = 0;  // M (0: none)
  double hysteresis_rate_per_c = 0;  // γ: h moves most of the way within 1/γ of C

  // Independent ageing mechanisms beside grid corrosion (the dose A above), each with its own
  // signature and its own per-block lognormal rate multiplier (σ_ln_mechanism):
  //   sulfation (S):   capacity −b·S, R0 +sulfation_ri_per_fade per unit of that fade, charge
  //                    acceptance ÷ (1 + sulfation_accept_per_fade·fade);
  //   softening (M):   active-mass softening and shedding from cycling, dM/dt =
  //                    fade_eol/N100 · k·DoD^(k−1) · I_dis/C0 (a Wöhler law N(DoD) = N100·DoD^−k
  //                    without cycle counting), capacity −M, R0 +softening_ri_per_fade·M;
  //   dry-out (w):     water lost with the emitted gas as a fraction of the electrolyte; above
  //                    the onset w0: capacity −k_C·(w − w0), R0 ×(1 + k_R·(w − w0)),
  //                    I0 ×(1 + k_I·(w − w0)) (a drier cell recombines more oxygen).
  double sigma_ln_sulfation = 0;
  double sulfation_ri_per_fade = 0;
  double sulfation_accept_per_fade = 0;
  double cycle_life_full_dod = 0;  // N100: cycles at 100 % DoD to the end-of-life fade (0: none)
  double cycle_life_exponent = 1;  // k
  double cycle_fade_eol = 0.2;
  double sigma_ln_softening = 0;
  double softening_ri_per_fade = 0;
  double electrolyte_g_per_ah_cell = 0;  // electrolyte mass per Ah and cell (0: no dry-out)
  double sigma_ln_water_loss = 0;
  double dry_out_onset = 0;  // w0
  double dry_out_capacity_per_loss = 0;
  double dry_out_ri_per_loss = 0;
  double dry_out_i0_per_loss = 0;
};

// The factor of ohmicConditionFactor's law for a block at `temperature_c` and `soc`.
double ohmicConditionFactor(const ChemistryParams& p, double temperature_c, double soc);

const ChemistryParams& chemistryParams(model::Chemistry c);

// Rested open-circuit voltage of one block at state of charge `soc` (clipped to 0 … 1) and
// temperature `temperature_c` (§2.4, §6.3 entropic term).
double ocvBlockV(const ChemistryParams& p, double soc, double temperature_c);

// Inverse of ocvBlockV at 25 °C: the SOC whose OCV equals `ocv_block_v` (clipped to 0 … 1).
double socForOcv(const ChemistryParams& p, double ocv_block_v);

// Capacity factor vs temperature of the chemistry (lead-acid: 0.86 at 0 °C, 1.00 at 25 °C, 1.03
// at 40 °C, Leoch §2.5; LiFePO4 and NiCd: their own tables, docs/simulator.md).
using model::capacityTemperatureFactor;  // model/chemistry.hpp: the manufacturers' tables

// Shape of the rested lead-acid OCV between empty (0) and full (1) at `soc` (clipped): the
// flooded-battery table of §2.4 (11.89 / 12.06 / 12.24 / 12.45 / 12.65 V at 0 / 25 / 50 / 75 /
// 100 %) [R], normalized (span 0.76 V). Piecewise linear on quarters; inline (inner loop).
inline double leadAcidOcvShape(double soc) {
  constexpr std::array<double, 5> kShape{0.0, 0.17 / 0.76, 0.35 / 0.76, 0.56 / 0.76, 1.0};
  const double x = std::clamp(soc, 0.0, 1.0) * 4.0;
  const auto i = static_cast<std::size_t>(std::min(3.0, x));
  return kShape[i] + (kShape[i + 1] - kShape[i]) * (x - static_cast<double>(i));
}

// Jackey C(I,θ)/C10 at 25 °C (§2.2): Kc / (1 + (Kc − 1)·(I/I*)^δ).
double capacityRateFactor(const ChemistryParams& p, double discharge_current_a, double capacity_ah);

// Pure Tafel gassing law, Schiffer et al. 2007 eq. 6 (§1.2):
//   I_gas = I0·(C_N/100 Ah)·exp(c_u·(V_cell − U0) + c_T·(T − 25 °C)).
double tafelGassingCurrentA(const ChemistryParams& p, double capacity_ah, double v_cell,
                            double temperature_c, double i0_scale = 1.0);

// The parasitic-branch current the block model actually uses: the Tafel law with its
// equilibrium value removed (Butler–Volmer form, zero at the open-circuit voltage):
//   I_gas = I0'·[exp(c_u·(V_cell − U0)) − exp(c_u·(OCV_cell − U0))],  0 below OCV.
// It is within 3 % of the Tafel law above ~0.32 V/cell of overvoltage. At float (~0.13 V/cell) the
// removed equilibrium part is ~25 % of the Tafel value; the explicit self-discharge current, which
// the main reaction replaces in float, is of the same size for lead-acid (§1.1: 5.8 mA/100 Ah at
// 25 °C vs 5.7 mA), so the float current still follows the §1.2 Tafel table.
double gassingCurrentA(const ChemistryParams& p, double capacity_ah, double v_cell, double ocv_cell,
                       double temperature_c, double i0_scale = 1.0);

// Self-discharge current (A) of a block: rate per month at 20 °C, doubling every 10 K (§1.1).
double selfDischargeCurrentA(const ChemistryParams& p, double capacity_ah, double temperature_c);

}  // namespace equalis::sim
