#include "history/downsample.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>

namespace equalis::history {

namespace {

struct Bucket {
  std::optional<std::size_t> low;   // first index of the bucket's lowest value
  std::optional<std::size_t> high;  // first index of its highest value
  std::optional<std::size_t> gap;   // first index without value
};

bool sameValue(double a, double b) {
  const bool a_nan = std::isnan(a);
  const bool b_nan = std::isnan(b);
  return a_nan || b_nan ? a_nan == b_nan : a == b;
}

}  // namespace

std::vector<std::size_t> minMaxIndices(const std::vector<Envelope>& points,
                                       std::size_t max_points) {
  const std::size_t budget = std::max(max_points, kMinMaxPoints);
  std::vector<std::size_t> out;
  if (points.size() <= budget) {
    out.resize(points.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = i;
    }
    return out;
  }
  const bool any_gap =
      std::any_of(points.begin(), points.end(), [](const Envelope& e) { return e.gap; });
  const std::size_t per_bucket = any_gap ? 3 : 2;
  const std::size_t bucket_count = std::max<std::size_t>(1, budget / per_bucket);
  const TimeMs t0 = points.front().time_ms;
  const double span = static_cast<double>(points.back().time_ms - t0) + 1.0;

  out.reserve(bucket_count * per_bucket);
  Bucket b;
  std::size_t current = 0;
  auto flush = [&] {
    const auto first = static_cast<std::ptrdiff_t>(out.size());
    for (const auto& idx : {b.low, b.high, b.gap}) {
      if (idx && std::find(out.begin() + first, out.end(), *idx) == out.end()) {
        out.push_back(*idx);
      }
    }
    std::sort(out.begin() + first, out.end());
    b = Bucket{};
  };
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Envelope& p = points[i];
    const double pos = static_cast<double>(p.time_ms - t0) / span;
    const auto bucket =
        std::min(bucket_count - 1, static_cast<std::size_t>(std::max(
                                       0.0, std::floor(pos * static_cast<double>(bucket_count)))));
    if (bucket != current) {
      flush();
      current = bucket;
    }
    if (p.gap && !b.gap) {
      b.gap = i;
    }
    if (!std::isnan(p.low) && (!b.low || p.low < points[*b.low].low)) {
      b.low = i;
    }
    if (!std::isnan(p.high) && (!b.high || p.high > points[*b.high].high)) {
      b.high = i;
    }
  }
  flush();
  if (out.size() > budget) {  // only N = 2 with a gap: one bucket kept three points
    out = {out.front(), out.back()};
  }
  return out;
}

std::vector<SeriesPoint> downsampleMinMax(const std::vector<SeriesPoint>& points,
                                          std::size_t max_points) {
  std::vector<Envelope> env;
  env.reserve(points.size());
  for (const auto& p : points) {
    env.push_back(Envelope{p.time_ms, p.value, p.value, std::isnan(p.value)});
  }
  std::vector<SeriesPoint> out;
  for (const std::size_t i : minMaxIndices(env, max_points)) {
    out.push_back(points[i]);
  }
  return out;
}

std::vector<SeriesPoint> keepChanges(const std::vector<SeriesPoint>& points) {
  std::vector<SeriesPoint> out;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const bool first_of_run = i == 0 || !sameValue(points[i].value, points[i - 1].value);
    if (first_of_run || i + 1 == points.size()) {
      out.push_back(points[i]);
    }
  }
  return out;
}

BlockMatrix downsampleMatrix(const BlockMatrix& matrix, std::size_t max_points) {
  const std::size_t n = matrix.times_ms.size();
  std::vector<Envelope> env(n);
  for (std::size_t i = 0; i < n; ++i) {
    Envelope& e = env[i];
    e.time_ms = matrix.times_ms[i];
    e.low = std::numeric_limits<double>::quiet_NaN();
    e.high = e.low;
    for (const auto& row : matrix.values) {
      const double v = i < row.size() ? row[i] : std::numeric_limits<double>::quiet_NaN();
      if (std::isnan(v)) {
        e.gap = true;
        continue;
      }
      if (std::isnan(e.low) || v < e.low) {
        e.low = v;
      }
      if (std::isnan(e.high) || v > e.high) {
        e.high = v;
      }
    }
  }
  const auto keep = minMaxIndices(env, max_points);
  BlockMatrix out;
  out.block_indices = matrix.block_indices;
  out.times_ms.reserve(keep.size());
  for (const std::size_t i : keep) {
    out.times_ms.push_back(matrix.times_ms[i]);
  }
  for (const auto& row : matrix.values) {
    std::vector<double> kept;
    kept.reserve(keep.size());
    for (const std::size_t i : keep) {
      kept.push_back(i < row.size() ? row[i] : std::numeric_limits<double>::quiet_NaN());
    }
    out.values.push_back(std::move(kept));
  }
  return out;
}

}  // namespace equalis::history
