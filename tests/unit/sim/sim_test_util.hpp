// Shared helpers of the simulator tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::sim::test {

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// The demo plant with the random UPS outages switched off (so float tests stay in float).
inline model::PlantConfig quietDemo() {
  auto cfg = model::demoPlant();
  cfg.simulation.ups.outages = false;
  return cfg;
}

// One new string of `blocks` × 12 V 100 Ah VRLA from the demo plant, no random outages.
inline model::PlantConfig oneString(int blocks = 32, double ambient_c = 25.0) {
  auto cfg = quietDemo();
  cfg.strings.resize(1);
  cfg.strings[0].age_years = 0.0;
  cfg.strings[0].block_count = blocks;
  cfg.ambient.temperature_c = ambient_c;
  return cfg;
}

struct Spread {
  double mean_v = 0;
  double max_abs_dev_v = 0;
  double min_v = 0;
  double max_v = 0;
};

inline Spread spreadOf(const PlantSim& sim, std::size_t s) {
  Spread r;
  const std::size_t n = sim.blockCount(s);
  std::vector<double> v(n);
  for (std::size_t b = 0; b < n; ++b) {
    v[b] = sim.blockTruth(s, b).voltage_v;
    r.mean_v += v[b] / static_cast<double>(n);
  }
  r.min_v = *std::min_element(v.begin(), v.end());
  r.max_v = *std::max_element(v.begin(), v.end());
  for (double x : v) {
    r.max_abs_dev_v = std::max(r.max_abs_dev_v, std::fabs(x - r.mean_v));
  }
  return r;
}

inline double meanSoc(const PlantSim& sim, std::size_t s) {
  double sum = 0;
  for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
    sum += sim.blockTruth(s, b).soc;
  }
  return sum / static_cast<double>(sim.blockCount(s));
}

inline double minSoc(const PlantSim& sim, std::size_t s) {
  double m = 1.0;
  for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
    m = std::min(m, sim.blockTruth(s, b).soc);
  }
  return m;
}

}  // namespace equalis::sim::test
