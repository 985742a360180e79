// Figures over seeds: the mean and its 95 % interval (t ≈ 1.96 · s / √n).
#pragma once

#include <cmath>
#include <vector>

namespace equalis::bench {

struct Stats {
  std::vector<double> v;
  // A seed's figure; NaN (no figure in that seed) is left out.
  void add(double x) {
    if (std::isfinite(x)) {
      v.push_back(x);
    }
  }
  double mean() const {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
  }
  double ci95() const {
    if (v.size() < 2) {
      return std::nan("");
    }
    const double m = mean();
    double ss = 0;
    for (double x : v) {
      ss += (x - m) * (x - m);
    }
    return 1.96 * std::sqrt(ss / static_cast<double>(v.size() - 1)) /
           std::sqrt(static_cast<double>(v.size()));
  }
};

}  // namespace equalis::bench
