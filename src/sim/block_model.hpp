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

#include "sim/chemistry_params.hpp"

namespace equalis::sim {

struct Block {
  // ---- static parameters (scatter and ageing applied) ----
  double capacity_ah = 100.0;  // C10 at 25 °C after ageing
  double r0_ohm = 0;
  double r1_ohm = 0;
  double r2_ohm = 0;
  double gas_i0_a = 0;           // I0·(C_N/100)·scatter·ageing, A at U0 and 25 °C
  double depletion_r10_ohm = 0;  // per block

  // ---- state ----
  double q_removed_ah = 0;  // charge removed from full
  double u1_v = 0;
  double u2_v = 0;
  double e_v = 0;
  double temperature_c = 25.0;
  double i_avg_discharge_a = 0;  // filtered discharge current for C(I,θ)
  double bypass_duty = 0;        // commanded 0 … 1

  // ---- outputs of the last step ----
  double voltage_v = 0;
  double ocv_v = 0;
  double cell_current_a = 0;
  double gas_current_a = 0;
  double main_current_a = 0;
  double bypass_current_a = 0;
  double bypass_duty_applied = 0;

  // ---- per-step scratch ----
  double s_ocv_v = 0;
  double s_gas_a = 0;       // I0' at OCV (Butler–Volmer prefactor)
  double s_g_charge_s = 0;  // main-branch acceptance conductance
  double s_r_depl_ohm = 0;  // depletion resistance in discharge
  double s_v_exhaust = 0;   // voltage collapse once C(I,θ) is exhausted (≤ 0)
  double s_e_v = 0;         // trial E
  double s_exp_ke = 1;      // exp(k·E) at the trial E
  double s_u1_v = 0;
  double s_u2_v = 0;
  double s_v = 0;    // trial terminal voltage
  double s_i_a = 0;  // trial cell current
  double s_r_extra_ohm = 0;

  double soc() const { return 1.0 - q_removed_ah / capacity_ah; }
};

// Constants shared by all blocks of one string for one step.
struct StepConstants {
  double dt_s = 1;
  double a1 = 0;       // exp(−dt/τ1)
  double a2 = 0;       // exp(−dt/τ2)
  double dl_g_s = 0;   // C_f / dt: backward-Euler conductance of the double layer
  double k_per_v = 0;  // c_u / n_c (per block volt)
  double g_discharge_s = 0;
};

// Backward-Euler solve of the electrode equation for the trial cell current `i_a`:
//   (C_f/dt)·(E − E_old) + I_main(E) + I_gas(E) = I.
// Left side is strictly increasing in E (convex for E > 0), so a bracketed Newton converges.
// Returns the slope dLHS/dE at the solution (for dE/dI = 1/slope).
inline double solveElectrode(Block& b, const StepConstants& k, double i_a) {
  const double rhs = i_a + k.dl_g_s * b.e_v;  // LHS(0) = −rhs
  if (rhs <= 0.0) {
    // Root at E ≤ 0: linear branch (discharge reaction, no gassing).
    const double slope = k.dl_g_s + k.g_discharge_s;
    b.s_e_v = rhs / slope;
    b.s_exp_ke = 1.0;
    return slope;
  }
  const double lin = k.dl_g_s + b.s_g_charge_s;
  if (b.s_gas_a <= 0.0) {
    b.s_e_v = rhs / lin;
    b.s_exp_ke = 1.0;
    return lin;
  }
  const double a = b.s_gas_a;
  const double kk = k.k_per_v;
  double lo = 0.0;
  // Two valid upper bounds: all current into the linear part, or all into the gassing branch.
  // The logarithmic one is only needed (and only paid for) when the exponential is steep.
  double hi = rhs / lin;
  if (kk * hi > 5.0) {
    hi = std::min(hi, std::log1p(rhs / a) / kk);
  }
  double x = std::clamp(b.s_e_v, lo, hi);
  double ex = std::exp(kk * x);
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
  b.s_exp_ke = ex;
  return slope;
}

// Terminal voltage of the block at the end of the step for cell current `i_a`, and dV/dI.
inline double evaluateBlock(Block& b, const StepConstants& k, double i_a, double& dv_di) {
  b.s_i_a = i_a;
  b.s_u1_v = b.u1_v * k.a1 + b.r1_ohm * i_a * (1.0 - k.a1);
  b.s_u2_v = b.u2_v * k.a2 + b.r2_ohm * i_a * (1.0 - k.a2);
  const double slope = solveElectrode(b, k, i_a);
  b.s_r_extra_ohm = i_a < 0.0 ? b.s_r_depl_ohm : 0.0;
  const double r = b.r0_ohm + b.s_r_extra_ohm;
  b.s_v = b.s_ocv_v + b.s_v_exhaust + r * i_a + b.s_u1_v + b.s_u2_v + b.s_e_v;
  dv_di = r + b.r1_ohm * (1.0 - k.a1) + b.r2_ohm * (1.0 - k.a2) + 1.0 / slope;
  return b.s_v;
}

}  // namespace equalis::sim
