#include "analysis/discharge_report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/median.hpp"
#include "model/points.hpp"

namespace equalis::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMsPerHour = 3600.0 * 1000.0;

bool isDischarge(double mode) {
  return std::isfinite(mode) &&
         static_cast<int>(mode) == static_cast<int>(model::StringModeValue::kDischarge);
}

bool inSpan(const DischargeSpan& span, TimeMs t) {
  return t >= span.start_ms && t <= span.untilMs();
}

}  // namespace

std::vector<DischargeSpan> findDischarges(const std::vector<TimedValue>& mode) {
  std::vector<DischargeSpan> out;
  bool open = false;
  for (const TimedValue& p : mode) {
    if (isDischarge(p.value)) {
      if (!open) {
        out.push_back(DischargeSpan{p.time_ms, p.time_ms, std::nullopt});
        open = true;
      }
      out.back().last_ms = p.time_ms;
    } else if (open) {
      out.back().end_ms = p.time_ms;
      open = false;
    }
  }
  return out;
}

DischargeSummary summarizeDischarge(const DischargeSpan& span,
                                    const std::vector<TimedValue>& voltage_v,
                                    const std::vector<TimedValue>& current_a) {
  DischargeSummary s;
  s.duration_s = static_cast<double>(span.untilMs() - span.start_ms) / 1000.0;
  s.min_voltage_v = kNaN;
  for (const TimedValue& p : voltage_v) {
    if (inSpan(span, p.time_ms) && std::isfinite(p.value) &&
        (std::isnan(s.min_voltage_v) || p.value < s.min_voltage_v)) {
      s.min_voltage_v = p.value;
      s.min_voltage_ms = p.time_ms;
    }
  }
  // Trapezoids between consecutive points with a value (a gap is bridged by its neighbours).
  const TimedValue* prev = nullptr;
  double amp_ms = 0.0;
  for (const TimedValue& p : current_a) {
    if (!inSpan(span, p.time_ms) || !std::isfinite(p.value)) {
      continue;
    }
    if (prev != nullptr) {
      const double a = std::max(0.0, -prev->value);
      const double b = std::max(0.0, -p.value);
      amp_ms += 0.5 * (a + b) * static_cast<double>(p.time_ms - prev->time_ms);
    }
    prev = &p;
  }
  s.ah_out = amp_ms / kMsPerHour;
  return s;
}

double collapseMarginV(double nominal_block_v, double mad_v) {
  const double floor_v = kCollapseFloorPer12V * std::fabs(nominal_block_v) / 12.0;
  return std::max(floor_v, kCollapseMadFactor * (std::isfinite(mad_v) ? mad_v : 0.0));
}

EndOfDischarge rankEndOfDischarge(const std::vector<int>& blocks,
                                  const std::vector<double>& voltage_v, double nominal_block_v) {
  EndOfDischarge r;
  std::vector<double> present;
  for (std::size_t i = 0; i < blocks.size() && i < voltage_v.size(); ++i) {
    if (std::isfinite(voltage_v[i])) {
      present.push_back(voltage_v[i]);
    }
  }
  r.median_v = kNaN;
  r.mad_v = kNaN;
  r.margin_v = collapseMarginV(nominal_block_v, 0.0);
  r.threshold_v = kNaN;
  if (!present.empty()) {
    r.median_v = median(present);
    std::vector<double> dev;
    dev.reserve(present.size());
    for (const double v : present) {
      dev.push_back(std::fabs(v - r.median_v));
    }
    r.mad_v = median(dev);
    r.margin_v = collapseMarginV(nominal_block_v, r.mad_v);
    r.threshold_v = r.median_v - r.margin_v;
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const double v = i < voltage_v.size() ? voltage_v[i] : kNaN;
    EndOfDischargeBlock b;
    b.block = blocks[i];
    b.voltage_v = std::isfinite(v) ? v : kNaN;
    b.deviation_v = std::isfinite(v) ? v - r.median_v : kNaN;
    b.early_collapse = std::isfinite(v) && v < r.threshold_v;
    r.blocks.push_back(b);
  }
  std::stable_sort(r.blocks.begin(), r.blocks.end(),
                   [](const EndOfDischargeBlock& a, const EndOfDischargeBlock& b) {
                     const bool a_has = std::isfinite(a.voltage_v);
                     const bool b_has = std::isfinite(b.voltage_v);
                     if (a_has != b_has) {
                       return a_has;
                     }
                     if (!a_has) {
                       return a.block < b.block;
                     }
                     return a.voltage_v != b.voltage_v ? a.voltage_v < b.voltage_v
                                                       : a.block < b.block;
                   });
  return r;
}

std::optional<std::size_t> endOfDischargeIndex(
    const DischargeSpan& span, const std::vector<TimedValue>& string_voltage_v,
    const std::vector<TimeMs>& times_ms, const std::vector<std::vector<double>>& block_voltage_v) {
  const auto& times = times_ms;
  auto has_block_value = [&](std::size_t i) {
    return std::any_of(
        block_voltage_v.begin(), block_voltage_v.end(),
        [i](const std::vector<double>& row) { return i < row.size() && std::isfinite(row[i]); });
  };
  // The lowest string voltage in the span whose snapshot has block values.
  std::optional<std::size_t> best;
  double best_v = 0.0;
  for (const TimedValue& p : string_voltage_v) {
    if (!inSpan(span, p.time_ms) || !std::isfinite(p.value) || (best && p.value >= best_v)) {
      continue;
    }
    const auto it = std::lower_bound(times.begin(), times.end(), p.time_ms);
    if (it == times.end() || *it != p.time_ms) {
      continue;
    }
    const auto i = static_cast<std::size_t>(it - times.begin());
    if (has_block_value(i)) {
      best = i;
      best_v = p.value;
    }
  }
  if (best) {
    return best;
  }
  // No string voltage: the lowest mean of the blocks.
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (!inSpan(span, times[i])) {
      continue;
    }
    double sum = 0.0;
    int n = 0;
    for (const auto& row : block_voltage_v) {
      if (i < row.size() && std::isfinite(row[i])) {
        sum += row[i];
        ++n;
      }
    }
    if (n > 0 && (!best || sum / n < best_v)) {
      best = i;
      best_v = sum / n;
    }
  }
  return best;
}

}  // namespace equalis::analysis
