#include "analysis/ri_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "analysis/median.hpp"

namespace equalis::analysis {

namespace {

constexpr double kReplacedBelow = 0.7;  // readings < 70 % of the baseline …
constexpr int kReplacedSamples = 3;     // … for this many consecutive samples: a new block
constexpr const char* kMagic = "equalis-ri-baseline 1";

}  // namespace

RiBaseline::RiBaseline(std::size_t block_count, const model::AlarmsConfig& cfg)
    : cfg_(cfg), blocks_(block_count) {}

void RiBaseline::update(std::size_t b, double ri_mohm, TimeMs time_ms,
                        std::vector<RiBaselineEvent>& events) {
  Block& k = blocks_.at(b);
  if (!std::isfinite(ri_mohm) || ri_mohm <= 0) {
    return;
  }
  if (k.first_seen_ms < 0) {
    k.first_seen_ms = time_ms;
  }
  if (time_ms - k.first_seen_ms < cfg_.ri_baseline_delay_ms) {
    return;
  }
  if (k.last_sample_ms >= 0 && time_ms - k.last_sample_ms < cfg_.ri_baseline_interval_ms) {
    return;
  }
  k.last_sample_ms = time_ms;
  if (k.baseline_mohm > 0) {
    k.low_count = ri_mohm < kReplacedBelow * k.baseline_mohm ? k.low_count + 1 : 0;
    if (k.low_count >= kReplacedSamples) {
      events.push_back({b, "replaced", k.baseline_mohm});
      k.baseline_mohm = 0;
      k.samples_mohm.clear();
      k.low_count = 0;
    }
    return;
  }
  k.samples_mohm.push_back(ri_mohm);
  if (static_cast<int>(k.samples_mohm.size()) >= std::max(1, cfg_.ri_baseline_samples)) {
    k.baseline_mohm = median(k.samples_mohm);
    k.baseline_ms = time_ms;
    k.samples_mohm.clear();
    events.push_back({b, "established", k.baseline_mohm});
  }
}

double RiBaseline::risePct(std::size_t b, double ri_mohm) const {
  const double base = blocks_.at(b).baseline_mohm;
  if (base <= 0 || !std::isfinite(ri_mohm)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return (ri_mohm / base - 1.0) * 100.0;
}

RiBaselineEvent RiBaseline::reset(std::size_t b) {
  Block& k = blocks_.at(b);
  RiBaselineEvent e{b, "reset", k.baseline_mohm};
  k = Block{};
  return e;
}

std::string RiBaseline::serialize() const {
  std::string out = std::string(kMagic) + "\n";
  for (const auto& k : blocks_) {
    out += fmt::format("{} {} {} {}", k.first_seen_ms, k.last_sample_ms, k.baseline_mohm,
                       k.baseline_ms);
    for (double v : k.samples_mohm) {
      out += fmt::format(" {}", v);
    }
    out += '\n';
  }
  return out;
}

Result<RiBaseline> RiBaseline::deserialize(const std::string& text,
                                           const model::AlarmsConfig& cfg) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) {
    return makeError(ErrorCode::kInvalidArgument, "not an Ri baseline file");
  }
  std::vector<Block> blocks;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Block k;
    if (!(ls >> k.first_seen_ms >> k.last_sample_ms >> k.baseline_mohm >> k.baseline_ms) ||
        !std::isfinite(k.baseline_mohm) || k.baseline_mohm < 0) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("Ri baseline line {}: malformed", blocks.size() + 2));
    }
    double v = 0;
    while (ls >> v) {
      k.samples_mohm.push_back(v);
    }
    blocks.push_back(std::move(k));
  }
  RiBaseline out(blocks.size(), cfg);
  out.blocks_ = std::move(blocks);
  return out;
}

}  // namespace equalis::analysis
