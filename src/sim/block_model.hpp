// One battery block of the simulator (battery-science.md §6.2–§6.3): equivalent circuit
//
//   V = OCV(SOC, T) + R0·I + U1 + U2 + E            (I > 0 charges)
//
// where U1, U2 are RC polarization pairs driven by the cell current I, and E is the electrode
// (float-polarization) overvoltage across a double-layer capacitance C_f that feeds two parallel
// faradaic branches:
//
//   C_f·dE/dt = I − I_main(E) − I_gas(E)
//   I_main = g_c(SOC)·E (E ≥ 0, charge acceptance, → 0 at full charge) or g_d·E (E < 0, discharge)
//   I_gas  = I0'·[exp(c_u·(OCV_cell + E/n_c − U0)) − exp(c_u·(OCV_cell − U0))]   (E > 0)
//
// At full charge g_c = 0, so in steady float the whole cell current is gassing current and the
// block voltage is the inverted Tafel law of §1.3; C_f is sized so that the small-signal time
// constant at the nominal float current equals τ_float (§1.4). Below full charge the main branch
// takes the current at a much lower overvoltage, so an undercharged block sits low until it is
// full.
//
// All per-step functions here are inline: they are the simulator's inner loop.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/chemistry_params.hpp"

namespace equalis::sim {

// Fields are ordered hot-first: everything read or written every step comes before the
// parameters and states that change only at ageing updates or fault injections, so a 60-block
// string's hot data (≈ 25 kB) stays in L1.
struct Block {
  // ---- state ----
  double q_removed_ah = 0;  // charge removed from full
  double u1_v = 0;
  double u2_v = 0;
  double e_v = 0;
  double temperature_c = 25.0;
  double i_avg_discharge_a = 0;  // filtered discharge current for C(I,θ)
  double bypass_duty = 0;        // commanded 0 … 1
  double cdf_state = 1;          // coup de fouet readiness a: 1 after a long full charge
  double cdf_q_as = 0;           // charge drawn in the present discharge (A·s)
  double hyst = 1;               // OCV hysteresis state h: +1 after charge, −1 after discharge
  double strat_v = 0;            // acid stratification: the OCV's apparent rise (V per block)

  // ---- per-step parameters (refreshParameters) ----
  double capacity_ah = 100.0;  // C10 at 25 °C after ageing
  double inv_capacity = 0.01;  // 1 / capacity_ah
  double r_series_ohm = 0;     // r0_ohm·(T, SOC factor) + connector_ohm: what the terminals see
  double r1_ohm = 0;
  double r2_ohm = 0;
  double gas_i0_a = 0;  // I0 incl. ageing (§6.3) and faults, A at U0 and 25 °C
  double leak_g_s = 0;  // internal short: 1 / R_leak
  double cooling_factor = 1;
  double ocv_offset_v = 0;   // manufacturing scatter of the OCV curve: offset …
  double ocv_span_mult = 1;  // … and span (empty → full)
  double charge_eff = 0.95;  // coulombic efficiency of the main charge reaction
  double sd_mult = 1;        // self-discharge rate multiplier
  double accept_mult = 1;    // charge acceptance left by sulfation

  // ---- outputs of the last step ----
  double voltage_v = 0;
  double ocv_v = 0;
  double cell_current_a = 0;
  double gas_current_a = 0;
  double main_current_a = 0;
  double bypass_current_a = 0;
  double leak_current_a = 0;
  double bypass_duty_applied = 0;
  double heat_w = 0;

  // ---- ageing accumulators (§6.3), applied every ageing interval ----
  double acc_gas_as = 0;      // parasitic charge (gassing + self-discharge) since the last update
  double acc_deficit_s = 0;   // ∫ max(0, 0.97 − SOC) dt since the last ageing update (s)
  double acc_emit_as = 0;     // gassing charge (the emitted share takes water with it)
  double acc_dis_as = 0;      // discharged charge …
  double acc_dis_dod_as = 0;  // … and ∫ |I_dis|·DoD dt (the softening dose's DoD weighting)

  // ---- cached rate factor of C(I,θ) (pow() only when I_avg moved by > 1e-6 relative) ----
  double rate_i_avg_a = -1;
  double rate_factor = 1;
  double depl_rate_factor = 1;  // (I_avg/I_ref)^(γ−1) of the depletion law

  // ---- cached exponentials (updated incrementally, resynchronized periodically) ----
  double gas_x = 0;  // exponent of the gassing prefactor at the OCV
  double gas_exp = 1;
  double sd_x = 0;  // exponent of the self-discharge temperature factor
  double sd_exp = 1;

  // ---- per-step scratch ----
  double s_soc = 1;
  double s_ocv_v = 0;
  double s_gas_a = 0;       // I0' at OCV (Butler–Volmer prefactor)
  double s_g_charge_s = 0;  // main-branch acceptance conductance
  double s_r_depl_ohm = 0;  // depletion resistance in discharge
  double s_v_exhaust = 0;   // voltage collapse once C(I,θ) is exhausted (≤ 0)
  double s_cdf_r_ohm = 0;   // coup de fouet as a resistance in discharge (prepareBlocks); 0: none
  double s_sink_a = 0;      // bypass + internal leak: current that does not pass the cells
  double s_e_v = 0;         // trial E
  // (s_exp_x, s_exp_ke) is a consistent pair: E and exp(k·E) of the last gassing solve, reused
  // without exp() when Newton starts from the same E. The linear branches leave it untouched.
  double s_exp_x = std::numeric_limits<double>::quiet_NaN();
  double s_exp_ke = 1;
  double s_u1_v = 0;
  double s_u2_v = 0;
  double s_v = 0;    // trial terminal voltage
  double s_i_a = 0;  // trial cell current
  double s_r_extra_ohm = 0;
  double s_de_di = 1;  // dE/dI at the trial (1 / slope of the electrode equation)
  double s_dv_di = 0;  // dV/dI of the trial

  // ---- cold: new-block parameters (manufacturing scatter; §6.4 scatter row) ----
  double c0_ah = 100.0;         // C10 at 25 °C when new
  double r0_base_ohm = 0;       // Ri0 when new
  double gas_i0_base_a = 0;     // I0_0 when new: I0·(C_N/100)·scatter, A at U0 and 25 °C
  double ageing_rate_mult = 1;  // per-block lognormal multiplier on the ageing rate a (§2.6)
  double sulfation_mult = 1;    // per-block lognormal multipliers of the other mechanisms
  double softening_mult = 1;
  double water_loss_mult = 1;
  double r0_ohm = 0;       // ohmic resistance incl. ageing and dry-out, at 25 °C and full
  double r_condition = 1;  // its factor for the present temperature and SOC
  double depletion_r10_ohm = 0;

  // ---- cold: ageing state (§6.2 A, S; §6.3) ----
  double ageing_dose = 0;     // A: overcharge dose in reference float-years
  double sulfation_dose = 0;  // S: ∫ s0·m_S·max(0, 0.97 − SOC) dt
  double softening_fade = 0;  // M: capacity lost to active-mass softening and shedding
  double water_loss = 0;      // w: water lost as a fraction of the electrolyte
  // The mechanisms' shares of the capacity fade (refreshParameters).
  double corrosion_fade = 0;
  double sulfation_fade = 0;
  double dry_out_fade = 0;

  // ---- cold: faults (fault.hpp) ----
  bool dry_out = false;
  bool vented = false;       // reached the venting temperature (destroyed)
  double dry_r0_factor = 1;  // final factors of the dry-out ramp
  double dry_i0_factor = 1;
  double dry_tau_s = 0;
  double dry_elapsed_s = 0;
  double dry_r0_mult = 1;  // present ramp values
  double dry_i0_mult = 1;
  double high_i0_factor = 1;
  double connector_ohm = 0;  // loose connector: extra series resistance

  // ---- cold: health set by hand (PlantSim::setBlockHealth), on top of ageing ----
  double health_capacity_mult = 1;
  double health_r0_mult = 1;
  double health_i0_mult = 1;

  double soc() const { return 1.0 - q_removed_ah * inv_capacity; }
};

// exp(x) given exp(x_old): a 4th-order Taylor update of the ratio when x moved by less than 1e-3
// (relative error < 1e-17), else (or when `exact`) a fresh exp(). Keeps slowly moving
// exponentials (OCV and temperature terms) off the libm path in settled float.
inline double updatedExp(double x, double x_old, double exp_old, bool exact) {
  const double d = x - x_old;
  if (!exact && std::fabs(d) < 1e-3) {
    return exp_old * (1.0 + d * (1.0 + d * (0.5 + d * (1.0 / 6.0 + d * (1.0 / 24.0)))));
  }
  return std::exp(x);
}

// Constants shared by all blocks of one string for one step.
struct StepConstants {
  double dt_s = 1;
  double a1 = 0;       // exp(−dt/τ1)
  double a2 = 0;       // exp(−dt/τ2)
  double dl_g_s = 0;   // C_f / dt: backward-Euler conductance of the double layer
  double k_per_v = 0;  // c_u / n_c (per block volt)
  double cdf_i_a = 1;  // I_cf of the coup de fouet
  double g_discharge_s = 0;
  bool exact_exp = false;  // recompute cached exponentials exactly this step
};

// Backward-Euler solve of the electrode equation for the trial cell current `i_a`:
//   (C_f/dt)·(E − E_old) + I_main(E) + I_gas(E) = I.
// Left side is strictly increasing in E (convex for E > 0), so a bracketed Newton converges.
// Returns dE/dI = 1 / (dLHS/dE) at the solution.
inline double solveElectrode(Block& b, const StepConstants& k, double i_a) {
  const double rhs = i_a + k.dl_g_s * b.e_v;  // LHS(0) = −rhs
  if (rhs <= 0.0) {
    // Root at E ≤ 0: linear branch (discharge reaction, no gassing).
    const double inv = 1.0 / (k.dl_g_s + k.g_discharge_s);
    b.s_e_v = rhs * inv;
    return inv;
  }
  const double lin = k.dl_g_s + b.s_g_charge_s;
  if (b.s_gas_a <= 0.0) {
    const double inv = 1.0 / lin;
    b.s_e_v = rhs * inv;
    return inv;
  }
  const double a = b.s_gas_a;
  const double kk = k.k_per_v;
  // Fast path (settled float): one Newton step from the previous solution, whose exp(k·E) is
  // known, when that step is small. Its error is ≈ (a·k²·e^(kE)/2·slope)·step² < 1e-11 V for
  // |step| < 1e-5 V, and exp(k·E) follows to third order (relative error < 1e-20).
  if (b.s_e_v > 0.0 && b.s_e_v == b.s_exp_x && !k.exact_exp) {
    const double x = b.s_e_v;
    const double ex = b.s_exp_ke;
    const double inv = 1.0 / (lin + a * kk * ex);
    const double step = (lin * x + a * (ex - 1.0) - rhs) * inv;
    if (std::fabs(step) < 1e-5) {
      const double d = -kk * step;
      b.s_e_v = x - step;
      b.s_exp_x = b.s_e_v;
      b.s_exp_ke = ex * (1.0 + d * (1.0 + d * (0.5 + d * (1.0 / 6.0))));
      return inv;
    }
  }
  double lo = 0.0;
  // Two valid upper bounds: all current into the linear part, or all into the gassing branch.
  // The logarithmic one is only needed (and only paid for) when the exponential is steep.
  double hi = rhs / lin;
  if (kk * hi > 5.0) {
    hi = std::min(hi, std::log1p(rhs / a) / kk);
  }
  double x = std::clamp(b.s_e_v, lo, hi);
  // The previous solution's exp(k·E) is reused when Newton starts from it.
  double ex = (x == b.s_exp_x && !k.exact_exp) ? b.s_exp_ke : std::exp(kk * x);
  double slope = lin + a * kk * ex;
  for (int it = 0; it < 100; ++it) {
    const double h = lin * x + a * (ex - 1.0) - rhs;
    if (h > 0.0) {
      hi = x;
    } else {
      lo = x;
    }
    const double step = h / slope;
    if (std::fabs(step) < 1e-7) {
      // Quadratic convergence: the remaining error after this step is ~(k·step)² ≈ 1e-14 V.
      // Update exp(k·x) to second order instead of calling exp() again.
      const double d = -kk * step;
      x -= step;
      ex *= 1.0 + d + 0.5 * d * d;
      slope = lin + a * kk * ex;
      break;
    }
    double xn = x - step;
    if (!(xn > lo && xn < hi)) {
      xn = 0.5 * (lo + hi);
    }
    x = xn;
    ex = std::exp(kk * x);
    slope = lin + a * kk * ex;
    if (hi - lo < 1e-12) {
      break;
    }
  }
  b.s_e_v = x;
  b.s_exp_x = x;
  b.s_exp_ke = ex;
  return 1.0 / slope;
}

// Terminal voltage of the block at the end of the step for cell current `i_a`, and dV/dI.
inline double evaluateBlock(Block& b, const StepConstants& k, double i_a, double& dv_di) {
  b.s_i_a = i_a;
  b.s_u1_v = b.u1_v * k.a1 + b.r1_ohm * i_a * (1.0 - k.a1);
  b.s_u2_v = b.u2_v * k.a2 + b.r2_ohm * i_a * (1.0 - k.a2);
  const double de_di = solveElectrode(b, k, i_a);
  b.s_r_extra_ohm = i_a < 0.0 ? b.s_r_depl_ohm + b.s_cdf_r_ohm : 0.0;
  const double r = b.r_series_ohm + b.s_r_extra_ohm;
  b.s_v = b.s_ocv_v + b.s_v_exhaust + r * i_a + b.s_u1_v + b.s_u2_v + b.s_e_v;
  dv_di = r + b.r1_ohm * (1.0 - k.a1) + b.r2_ohm * (1.0 - k.a2) + de_di;
  b.s_de_di = de_di;
  b.s_dv_di = dv_di;
  return b.s_v;
}

// Moves a block's trial solution by a small cell-current change `di_a` to first order (exact to
// second order in the electrode's exponential): the last Newton step of the string solve, without
// re-solving every block. Valid while the change keeps E and the cell current on their branches;
// the caller ensures that (|dE| ≤ |di|·C_f/dt ≪ |E|, |di| < |I_cell|).
inline void shiftBlock(Block& b, const StepConstants& k, double di_a) {
  const double de = di_a * b.s_de_di;
  const double d = k.k_per_v * de;
  b.s_e_v += de;
  b.s_exp_x = b.s_e_v;
  b.s_exp_ke *= 1.0 + d * (1.0 + d * (0.5 + d * (1.0 / 6.0)));
  b.s_u1_v += b.r1_ohm * (1.0 - k.a1) * di_a;
  b.s_u2_v += b.r2_ohm * (1.0 - k.a2) * di_a;
  b.s_v += b.s_dv_di * di_a;
  b.s_i_a += di_a;
}

}  // namespace equalis::sim
