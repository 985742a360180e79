#include "history/downsample.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace equalis::history {
namespace {

using model::Quality;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// `n` points every 10 s of a slow sine around 13.6 V.
std::vector<SeriesPoint> wave(std::size_t n) {
  std::vector<SeriesPoint> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(SeriesPoint{kT0 + static_cast<TimeMs>(i) * 10 * kSecondMs,
                              13.6 + 0.05 * std::sin(static_cast<double>(i) / 50.0), Quality::kOk});
  }
  return out;
}

bool ascending(const std::vector<SeriesPoint>& points) {
  return std::is_sorted(points.begin(), points.end(),
                        [](const auto& a, const auto& b) { return a.time_ms < b.time_ms; }) &&
         std::adjacent_find(points.begin(), points.end(), [](const auto& a, const auto& b) {
           return a.time_ms == b.time_ms;
         }) == points.end();
}

TEST(Downsample, EmptyAndShortSeriesAreUnchanged) {
  EXPECT_TRUE(downsampleMinMax({}, 10).empty());
  EXPECT_TRUE(keepChanges({}).empty());
  EXPECT_TRUE(minMaxIndices({}, 2).empty());
  const auto few = wave(10);
  const auto same = downsampleMinMax(few, 10);
  ASSERT_EQ(same.size(), 10u);
  for (std::size_t i = 0; i < few.size(); ++i) {
    EXPECT_EQ(same[i].time_ms, few[i].time_ms);
    EXPECT_EQ(same[i].value, few[i].value);
  }
}

TEST(Downsample, RespectsMaxPointsAndKeepsTimeOrder) {
  const auto points = wave(10000);
  for (const std::size_t n : {2u, 3u, 7u, 100u, 1000u, 9999u}) {
    const auto out = downsampleMinMax(points, n);
    EXPECT_LE(out.size(), n) << "max_points " << n;
    EXPECT_GE(out.size(), std::min<std::size_t>(n, 2)) << "max_points " << n;
    EXPECT_TRUE(ascending(out)) << "max_points " << n;
    // Every kept point is one of the series' own.
    for (const auto& p : out) {
      const auto i = static_cast<std::size_t>((p.time_ms - kT0) / (10 * kSecondMs));
      ASSERT_LT(i, points.size());
      EXPECT_EQ(p.value, points[i].value);
    }
  }
  // 1000 points → 500 buckets of 20: each keeps its minimum and maximum (a monotonic stretch
  // of the sine keeps both ends), so close to 1000 come back.
  EXPECT_GE(downsampleMinMax(points, 1000).size(), 900u);
}

TEST(Downsample, KeepsAOneSampleSpikeAndADip) {
  auto points = wave(50000);
  points[12345].value = 15.2;  // a spike
  points[40000].value = 11.1;  // a dip
  const auto out = downsampleMinMax(points, 100);
  ASSERT_LE(out.size(), 100u);
  const auto max = std::max_element(out.begin(), out.end(),
                                    [](const auto& a, const auto& b) { return a.value < b.value; });
  const auto min = std::min_element(out.begin(), out.end(),
                                    [](const auto& a, const auto& b) { return a.value < b.value; });
  EXPECT_EQ(max->time_ms, points[12345].time_ms);
  EXPECT_EQ(max->value, 15.2);
  EXPECT_EQ(min->time_ms, points[40000].time_ms);
  EXPECT_EQ(min->value, 11.1);
}

TEST(Downsample, GapsStayVisibleWithTheirQuality) {
  auto points = wave(20000);
  // A module that stopped answering for 30 points, and one lone missing value.
  for (std::size_t i = 5000; i < 5030; ++i) {
    points[i].value = kNaN;
    points[i].quality = Quality::kCommLost;
  }
  points[15000].value = kNaN;
  points[15000].quality = Quality::kInvalid;
  const std::size_t n = 300;
  const auto out = downsampleMinMax(points, n);
  EXPECT_LE(out.size(), n);
  EXPECT_TRUE(ascending(out));
  std::vector<TimeMs> gaps;
  for (const auto& p : out) {
    if (std::isnan(p.value)) {
      gaps.push_back(p.time_ms);
    } else {
      EXPECT_EQ(p.quality, Quality::kOk);
    }
  }
  // One null point for the bucket of the outage (its first missing value), one for the lone one.
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0], points[5000].time_ms);
  EXPECT_EQ(gaps[1], points[15000].time_ms);
  for (const auto& p : out) {
    if (p.time_ms == points[5000].time_ms) {
      EXPECT_EQ(p.quality, Quality::kCommLost);
    }
    if (p.time_ms == points[15000].time_ms) {
      EXPECT_EQ(p.quality, Quality::kInvalid);
    }
  }
}

TEST(Downsample, BucketKeepsMinBeforeMaxInTimeOrder) {
  // Two buckets (max_points 4) of 5 points each: the maximum comes before the minimum in the
  // first, after it in the second.
  std::vector<SeriesPoint> points;
  const double values[] = {5, 9, 4, 1, 5, 5, 2, 4, 8, 5};
  for (int i = 0; i < 10; ++i) {
    points.push_back(SeriesPoint{kT0 + i * kSecondMs, values[i], Quality::kOk});
  }
  const auto out = downsampleMinMax(points, 4);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].value, 9);
  EXPECT_EQ(out[1].value, 1);
  EXPECT_EQ(out[2].value, 2);
  EXPECT_EQ(out[3].value, 8);
  EXPECT_TRUE(ascending(out));
}

TEST(Downsample, FlatBucketKeepsOnePoint) {
  std::vector<SeriesPoint> points;
  for (int i = 0; i < 100; ++i) {
    points.push_back(SeriesPoint{kT0 + i * kSecondMs, 13.5, Quality::kOk});
  }
  const auto out = downsampleMinMax(points, 10);  // 5 buckets, each flat
  EXPECT_EQ(out.size(), 5u);
}

TEST(Downsample, BucketsAreEqualTimeSpansNotEqualCounts) {
  // 1000 points in the first minute, 10 over the next 23 hours: with 2 buckets (max_points 4)
  // the first 11.5 h are one bucket — its extremes are in the dense minute — and the second
  // bucket, of 5 sparse points, keeps two of them. Buckets of equal counts would have put both
  // buckets in the first minute.
  std::vector<SeriesPoint> points;
  for (int i = 0; i < 1000; ++i) {
    points.push_back(SeriesPoint{kT0 + i * 60, 13.0 + (i % 7) * 0.01, Quality::kOk});
  }
  for (int i = 1; i <= 10; ++i) {
    points.push_back(
        SeriesPoint{kT0 + kHourMs * 23 * i / 10, i <= 5 ? 13.03 : 12.0 + i * 0.1, Quality::kOk});
  }
  const auto out = downsampleMinMax(points, 4);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].time_ms, kT0);        // 13.00
  EXPECT_EQ(out[1].time_ms, kT0 + 360);  // 13.06
  EXPECT_EQ(out[2].time_ms, kT0 + kHourMs * 23 * 6 / 10);
  EXPECT_EQ(out[3].time_ms, kT0 + kHourMs * 23);
}

TEST(Downsample, TwoPointsWithAGapStillTwo) {
  auto points = wave(100);
  points[50].value = kNaN;
  const auto out = downsampleMinMax(points, 2);
  EXPECT_EQ(out.size(), 2u);
}

TEST(Downsample, KeepChangesKeepsEveryRunStartAndTheLastPoint) {
  // float float charge charge charge discharge discharge NaN NaN float float
  const double modes[] = {0, 0, 1, 1, 1, 2, 2, kNaN, kNaN, 0, 0};
  std::vector<SeriesPoint> points;
  for (int i = 0; i < 11; ++i) {
    points.push_back(SeriesPoint{kT0 + i * kMinuteMs, modes[i], Quality::kOk});
  }
  const auto out = keepChanges(points);
  std::vector<TimeMs> times;
  for (const auto& p : out) {
    times.push_back((p.time_ms - kT0) / kMinuteMs);
  }
  EXPECT_EQ(times, (std::vector<TimeMs>{0, 2, 5, 7, 9, 10}));
  EXPECT_TRUE(std::isnan(out[3].value));
  // A constant series: its first and last point.
  std::vector<SeriesPoint> flat(50, SeriesPoint{kT0, 0, Quality::kOk});
  for (int i = 0; i < 50; ++i) {
    flat[static_cast<std::size_t>(i)].time_ms = kT0 + i;
  }
  ASSERT_EQ(keepChanges(flat).size(), 2u);
  EXPECT_EQ(keepChanges(flat)[1].time_ms, kT0 + 49);
}

TEST(Downsample, MatrixKeepsOneBlocksDipOnTheSharedAxis) {
  BlockMatrix m;
  const std::size_t times = 5000;
  for (std::size_t i = 0; i < times; ++i) {
    m.times_ms.push_back(kT0 + static_cast<TimeMs>(i) * 10 * kSecondMs);
  }
  for (int b = 0; b < 8; ++b) {
    m.block_indices.push_back(b);
    std::vector<double> row;
    for (std::size_t i = 0; i < times; ++i) {
      row.push_back(13.6 + 0.01 * b + 0.02 * std::sin(static_cast<double>(i) / 30.0));
    }
    m.values.push_back(row);
  }
  m.values[5][3210] = 11.9;  // block 6 dips once
  m.values[2][4000] = kNaN;  // block 3 misses one value
  const auto out = downsampleMatrix(m, 200);
  ASSERT_LE(out.times_ms.size(), 200u);
  ASSERT_EQ(out.values.size(), 8u);
  EXPECT_EQ(out.block_indices, m.block_indices);
  EXPECT_TRUE(std::is_sorted(out.times_ms.begin(), out.times_ms.end()));
  const auto dip = std::find(out.times_ms.begin(), out.times_ms.end(), m.times_ms[3210]);
  ASSERT_NE(dip, out.times_ms.end());
  const auto at = static_cast<std::size_t>(dip - out.times_ms.begin());
  EXPECT_EQ(out.values[5][at], 11.9);
  EXPECT_EQ(out.values[0][at], m.values[0][3210]);  // every block keeps its value there
  const auto gap = std::find(out.times_ms.begin(), out.times_ms.end(), m.times_ms[4000]);
  ASSERT_NE(gap, out.times_ms.end());
  EXPECT_TRUE(std::isnan(out.values[2][static_cast<std::size_t>(gap - out.times_ms.begin())]));
  for (const auto& row : out.values) {
    EXPECT_EQ(row.size(), out.times_ms.size());
  }
}

}  // namespace
}  // namespace equalis::history
