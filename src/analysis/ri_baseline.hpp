// Per-block internal-resistance baseline and rise (IEEE 1188 / 450 practice: trend each block
// against its own commissioning value; +20 % is the failure indicator, +50 % the usual warranty
// limit — battery-science.md §3.1, §3.3).
//
// The baseline is the median of N readings taken at a fixed interval (one per hour by default),
// so that a single noisy Ri pulse or a warm afternoon does not set it. A block whose readings stay
// more than 30 % *below* its baseline for three consecutive samples has been replaced (a new
// block has a lower Ri than the aged one it replaces): its baseline is collected again and the
// change is reported. An operator can also restart the collection of a block.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/alarm_config.hpp"

namespace equalis::analysis {

struct RiBaselineEvent {
  std::size_t block_index = 0;
  std::string kind;  // "established", "replaced", "reset"
  double baseline_mohm = 0;
};

class RiBaseline {
 public:
  RiBaseline(std::size_t block_count, const model::AlarmsConfig& cfg);

  // One fresh, valid reading of block `b` at `time_ms` (callers skip stale readings).
  void update(std::size_t b, double ri_mohm, TimeMs time_ms, std::vector<RiBaselineEvent>& events);
  bool established(std::size_t b) const { return blocks_.at(b).baseline_mohm > 0; }
  double baselineMohm(std::size_t b) const { return blocks_.at(b).baseline_mohm; }
  TimeMs baselineTimeMs(std::size_t b) const { return blocks_.at(b).baseline_ms; }
  // (ri / baseline − 1) × 100; NaN before the baseline exists.
  double risePct(std::size_t b, double ri_mohm) const;
  // Operator: forget the baseline and collect it again from now on.
  RiBaselineEvent reset(std::size_t b);
  std::size_t blockCount() const { return blocks_.size(); }

  // Text form for persistence ("equalis-ri-baseline 1" then one line per block).
  std::string serialize() const;
  static Result<RiBaseline> deserialize(const std::string& text, const model::AlarmsConfig& cfg);

 private:
  struct Block {
    TimeMs first_seen_ms = -1;
    TimeMs last_sample_ms = -1;
    std::vector<double> samples_mohm;
    double baseline_mohm = 0;
    TimeMs baseline_ms = 0;
    int low_count = 0;
  };
  model::AlarmsConfig cfg_;
  std::vector<Block> blocks_;
};

}  // namespace equalis::analysis
