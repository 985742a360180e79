// A battery block that is not the simulator: the Shepherd model in Tremblay's form (Tremblay,
// Dessaint, Dekkiche, "A generic battery model for the dynamic simulation of hybrid electric
// vehicles", IEEE VPPC 2007), the model of common system simulators, with its parameters fitted
// to a manufacturer's constant-current tables (tests/data/discharge). In discharge:
//
//   V = E0 − R·i − K·Q/(Q − it)·(it + i*)
//
// it the charge drawn (Ah), i* the current through a first-order filter (τ 30 s), Q the block's
// capacity. A different family of curves from the simulator's (OCV line, RC pairs, Jackey
// depletion), so an analysis that only inverts the simulator's equations would be caught out
// (docs/analysis.md, "Measured figures").
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace equalis::bench {

struct CcPoint {
  double hours = 0;
  double current_a = 0;
  double end_v_block = 0;
};

struct Datasheet {
  std::string model;
  int cells = 6;
  double capacity_ah = 0;
  double ri_ohm = 0;
  std::vector<CcPoint> points;  // constant-current tables at 25 °C
};

// The constant-current tables of one product file; points shorter than `min_hours` are left
// out (the UPS outages and tests this bench runs are C/8 … C/2: 1.5 … 8 h).
inline Datasheet loadDatasheet(const std::string& path, double min_hours) {
  const toml::table doc = toml::parse_file(path);
  Datasheet d;
  const auto& prod = *doc["product"].as_table();
  d.model = prod["model"].value_or(std::string());
  d.cells = prod["cells"].value_or(6);
  d.capacity_ah = prod["capacity_ah"].value_or(0.0);
  d.ri_ohm = prod["ri_mohm"].value_or(0.0) / 1000.0;
  if (const auto* tables = doc["table"].as_array()) {
    for (const auto& t : *tables) {
      const auto& tt = *t.as_table();
      if (tt["kind"].value_or(std::string()) != "constant_current") {
        continue;
      }
      const double end_v = tt["end_v_per_cell"].value_or(0.0) * d.cells;
      for (const auto& e : *tt["points"].as_array()) {
        const auto& pair = *e.as_array();
        const double hours = pair[0].value_or(0.0) / 60.0;
        if (hours >= min_hours) {
          d.points.push_back({hours, pair[1].value_or(0.0), end_v});
        }
      }
    }
  }
  return d;
}

struct Shepherd {
  double e0_v = 12.9;
  double r_ohm = 0.0043;
  double k_ohm = 0.01;
  double q_ah = 110;

  // Voltage at charge drawn `it_ah`, current `i_a` and filtered current `i_star_a`.
  double voltage(double it_ah, double i_a, double i_star_a, double q_ah_block) const {
    const double left = std::max(1e-3 * q_ah_block, q_ah_block - it_ah);
    return e0_v - r_ohm * i_a - k_ohm * q_ah_block / left * (it_ah + i_star_a);
  }
  // Hours at constant current `i_a` until the voltage reaches `end_v` (steady state, i* = i).
  double hoursTo(double end_v, double i_a) const {
    const double a = e0_v - r_ohm * i_a - end_v;
    const double it = q_ah * (a - k_ohm * i_a) / (a + k_ohm * q_ah);
    return std::max(1e-6, it) / i_a;
  }
};

// Least squares of ln(hours) over the table points: Nelder–Mead over (E0, K, Q), R from the sheet.
// Returns the fit and its RMS error in % of the tabled time.
inline Shepherd fitShepherd(const Datasheet& d, double& rms_pct) {
  const auto cost = [&](const std::array<double, 3>& x) {
    Shepherd m{x[0], d.ri_ohm, x[1], x[2]};
    // E0 is the charged block's rested voltage: 2.10 … 2.20 V per cell for lead-acid. Without
    // this bound the fit trades E0 against Q and lands on curves no block has.
    if (m.k_ohm <= 0.0 || m.q_ah < d.capacity_ah || m.e0_v < 2.10 * d.cells ||
        m.e0_v > 2.20 * d.cells) {
      return 1e9;
    }
    double c = 0;
    for (const auto& p : d.points) {
      const double e = std::log(m.hoursTo(p.end_v_block, p.current_a) / p.hours);
      c += e * e;
    }
    return c;
  };
  const double e0 = 2.15 * d.cells;
  std::array<std::array<double, 3>, 4> s{{{e0, 0.01, 1.05 * d.capacity_ah},
                                          {e0 + 0.1, 0.01, 1.05 * d.capacity_ah},
                                          {e0, 0.03, 1.05 * d.capacity_ah},
                                          {e0, 0.01, 1.3 * d.capacity_ah}}};
  std::array<double, 4> f{};
  for (std::size_t i = 0; i < 4; ++i)
    f[i] = cost(s[i]);
  for (int it = 0; it < 4000; ++it) {
    std::array<std::size_t, 4> o{0, 1, 2, 3};
    std::sort(o.begin(), o.end(), [&](std::size_t a, std::size_t b) { return f[a] < f[b]; });
    std::array<double, 3> c{};
    for (std::size_t k = 0; k < 3; ++k) {
      for (std::size_t j = 0; j < 3; ++j)
        c[j] += s[o[k]][j] / 3.0;
    }
    const auto& w = s[o[3]];
    const auto at = [&](double t) {
      std::array<double, 3> x{};
      for (std::size_t j = 0; j < 3; ++j)
        x[j] = c[j] + t * (w[j] - c[j]);
      return x;
    };
    const auto r = at(-1.0);
    const double fr = cost(r);
    if (fr < f[o[0]]) {
      const auto e = at(-2.0);
      const double fe = cost(e);
      s[o[3]] = fe < fr ? e : r;
      f[o[3]] = std::min(fe, fr);
    } else if (fr < f[o[2]]) {
      s[o[3]] = r;
      f[o[3]] = fr;
    } else {
      const auto k = at(0.5);
      const double fk = cost(k);
      if (fk < f[o[3]]) {
        s[o[3]] = k;
        f[o[3]] = fk;
      } else {
        for (std::size_t i = 1; i < 4; ++i) {
          for (std::size_t j = 0; j < 3; ++j)
            s[o[i]][j] = s[o[0]][j] + 0.5 * (s[o[i]][j] - s[o[0]][j]);
          f[o[i]] = cost(s[o[i]]);
        }
      }
    }
  }
  const auto best = static_cast<std::size_t>(std::min_element(f.begin(), f.end()) - f.begin());
  rms_pct =
      100.0 * std::sqrt(f[best] / static_cast<double>(std::max<std::size_t>(1, d.points.size())));
  return {s[best][0], d.ri_ohm, s[best][1], s[best][2]};
}

}  // namespace equalis::bench
