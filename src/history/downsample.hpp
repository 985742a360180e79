// Downsampling of history series for charts (docs/api.md, "Downsampling"). Pure functions, no
// I/O: the REST server reads a range from the store and thins it here.
//
//  * Min/max buckets (numbers): the time between the first and the last point is cut into
//    equal buckets; each non-empty bucket keeps the point with its minimum and the point with
//    its maximum (in time order; one point when they are the same), so a spike of one sample
//    survives any zoom. A bucket holding a gap (a point without value, NaN) also keeps its first
//    such point, so the chart still breaks there. There are N/2 buckets, N/3 when the series
//    holds a gap, so the result has at most N points.
//  * Changes (enum series such as the string mode, whose names cannot be min/max-ed): the first
//    point of each run of equal values plus the last point.
#pragma once

#include <cstddef>
#include <vector>

#include "core/clock.hpp"
#include "history/store.hpp"

namespace equalis::history {

// One instant of a series or of several series on one time axis: the lowest and the highest
// value at that instant (the same for one series; NaN when none is there) and whether a value is
// missing at it (a gap).
struct Envelope {
  TimeMs time_ms = 0;
  double low = 0.0;
  double high = 0.0;
  bool gap = false;
};

inline constexpr std::size_t kMinMaxPoints = 2;

// Indices (ascending) of the instants to keep so that at most max(max_points, 2) remain. `points`
// must be in time order. Fewer than or as many points as max_points: every index.
std::vector<std::size_t> minMaxIndices(const std::vector<Envelope>& points, std::size_t max_points);

// A series thinned by min/max buckets; the kept points are the series' own (time, value,
// quality).
std::vector<SeriesPoint> downsampleMinMax(const std::vector<SeriesPoint>& points,
                                          std::size_t max_points);

// The first point of each run of equal values (NaN equals NaN) and the last point of the series.
std::vector<SeriesPoint> keepChanges(const std::vector<SeriesPoint>& points);

// Every block of a string on one time axis, thinned to at most max_points instants: per bucket
// the instant holding the lowest value of any block and the one holding the highest (the
// envelope of the string, so one block's dip or spike survives), and the first instant at which
// a block has no value. Every block keeps its value at each kept instant.
BlockMatrix downsampleMatrix(const BlockMatrix& matrix, std::size_t max_points);

}  // namespace equalis::history
