#include "analysis/capacity_test.hpp"

#include <algorithm>
#include <cmath>

namespace equalis::analysis {

CapacityTestDetector::CapacityTestDetector(model::Chemistry chemistry, std::size_t blocks,
                                           double nominal_ah)
    : chemistry_(chemistry), n_blocks_(blocks), nominal_ah_(nominal_ah) {
  const auto& info = model::chemistryInfo(chemistry);
  end_block_v_ = info.end_of_discharge_v_per_cell * info.cells_per_block;
}

std::optional<CapacityTestResult> CapacityTestDetector::update(TimeMs t_ms, double current_a,
                                                               bool discharging,
                                                               std::span<const double> block_v,
                                                               std::span<const double> block_t) {
  const double nan = std::nan("");
  if (!discharging) {
    if (!active_) {
      return std::nullopt;
    }
    active_ = false;
    if (!at_end_ || flowing_ms_ - start_ms_ < kMinDurationMs || n_ < 2.0) {
      return std::nullopt;
    }
    const double mean_i = i_sum_ / n_;
    const double sd_i = std::sqrt(std::max(0.0, i_sq_ / n_ - mean_i * mean_i));
    const double c10_a = nominal_ah_ / 10.0;
    if (!(mean_i > 0.0) || sd_i > kMaxCurrentScatter * mean_i ||
        std::fabs(mean_i / c10_a - 1.0) > kRateTolerance) {
      return std::nullopt;
    }
    CapacityTestResult r;
    r.start_ms = start_ms_;
    r.end_ms = flowing_ms_;
    r.ah_to_end = q_flowing_ah_;
    r.mean_current_a = mean_i;
    r.mean_temperature_c = t_n_ > 0.0 ? t_sum_ / t_n_ : 25.0;
    const double k_t = model::capacityTemperatureFactor(chemistry_, r.mean_temperature_c);
    r.relative_sigma = std::hypot(kSensorSigma, kRateSigma);
    r.capacity_ah = q_flowing_ah_ / k_t;
    r.sigma_ah = r.capacity_ah * r.relative_sigma;
    r.capacity_pct = 100.0 * r.capacity_ah / nominal_ah_;
    r.block_capacity_ah.resize(n_blocks_);
    for (std::size_t b = 0; b < n_blocks_; ++b) {
      if (std::isfinite(block_q_end_ah_[b])) {
        r.block_capacity_ah[b] = block_q_end_ah_[b] / k_t;
      }
    }
    return r;
  }
  if (!active_) {
    active_ = true;
    start_ms_ = t_ms;
    drawn_.start(t_ms, current_a);
    n_ = i_sum_ = i_sq_ = t_sum_ = t_n_ = 0.0;
    flowing_ms_ = t_ms;
    q_flowing_ah_ = 0.0;
    at_end_ = false;
    block_q_end_ah_.assign(n_blocks_, nan);
  } else {
    drawn_.add(t_ms, current_a);
  }
  // The sweeps between a cut-off and the mode's leaving discharge (a minute without current)
  // are not part of the test: neither in its statistics nor as its end.
  if (!std::isfinite(current_a) || -current_a < kFlowingPerAh * nominal_ah_ ||
      block_v.size() != n_blocks_) {
    return std::nullopt;
  }
  const double i = -current_a;
  n_ += 1.0;
  i_sum_ += i;
  i_sq_ += i * i;
  double sum_v = 0.0;
  double sum_t = 0.0;
  std::size_t nv = 0;
  std::size_t nt = 0;
  bool block_at_end = false;  // a block is at or below the end voltage now or was before
  for (std::size_t b = 0; b < n_blocks_; ++b) {
    if (std::isfinite(block_v[b])) {
      sum_v += block_v[b];
      ++nv;
      if (block_v[b] <= end_block_v_ && !std::isfinite(block_q_end_ah_[b])) {
        block_q_end_ah_[b] = drawn_.ah();
      }
    }
    // A block past its end voltage may fall out of its module's measuring range (no reading).
    block_at_end = block_at_end || std::isfinite(block_q_end_ah_[b]);
    if (b < block_t.size() && std::isfinite(block_t[b])) {
      sum_t += block_t[b];
      ++nt;
    }
  }
  if (nt > 0) {
    t_sum_ += sum_t / static_cast<double>(nt);
    t_n_ += 1.0;
  }
  // The mean only counts when (nearly) every block answered.
  const bool mean_ok = static_cast<double>(nv) >= 0.9 * static_cast<double>(n_blocks_) && nv > 0;
  flowing_ms_ = t_ms;
  q_flowing_ah_ = drawn_.ah();
  at_end_ = block_at_end ||
            (mean_ok && sum_v / static_cast<double>(nv) <= end_block_v_ * (1.0 + kEndMargin));
  return std::nullopt;
}

int anchorFromTest(StringCapacityEstimator& est, const CapacityTestResult& r) {
  est.recordTest({r.capacity_ah, r.sigma_ah, r.end_ms});
  double w_sum = 0.0;
  double wl_sum = 0.0;
  int anchors = 0;
  for (std::size_t b = 0; b < r.block_capacity_ah.size() && b < est.blocks().size(); ++b) {
    const auto& cb = est.blocks()[b];
    if (!r.block_capacity_ah[b] || cb.events == 0 || !(cb.relative > 0.0)) {
      continue;
    }
    const double level = *r.block_capacity_ah[b] / cb.relative;
    const double rel_sd = std::max(1e-3, cb.relative_sigma / cb.relative);
    const double w = 1.0 / (rel_sd * rel_sd);
    w_sum += w;
    wl_sum += w * level;
    ++anchors;
  }
  if (anchors > 0) {
    const double level = wl_sum / w_sum;
    const double sd = level * std::hypot(r.relative_sigma, 1.0 / std::sqrt(w_sum));
    est.anchor(level, sd, r.end_ms);
  }
  return anchors;
}

}  // namespace equalis::analysis
