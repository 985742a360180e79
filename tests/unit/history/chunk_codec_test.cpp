// The history's compressed series chunks (history/chunk_codec.hpp): round trips, the size of a
// steady series, and bytes that are not a chunk.
#include "history/chunk_codec.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace equalis::history {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;

std::vector<ChunkSample> floatVoltage(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<ChunkSample> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].time_ms = kT0 + static_cast<TimeMs>(i) * 10'000;
    v[i].value = 13'620 + static_cast<std::int64_t>(std::lround(noise(rng)));  // mV
    v[i].quality = 0;
  }
  return v;
}

std::vector<ChunkSample> roundTrip(const std::vector<ChunkSample>& in) {
  auto bytes = encodeChunk(in);
  EXPECT_TRUE(bytes.ok()) << bytes.error().message;
  auto out = decodeChunk(*bytes);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out.ok() ? *out : std::vector<ChunkSample>{};
}

TEST(ChunkCodec, RoundTripsGapsMissingValuesAndQualityChanges) {
  auto v = floatVoltage(500, 1);
  v[100].time_ms += 3;  // an irregular step
  for (std::size_t i = 200; i < 260; ++i) {
    v[i].time_ms += 3'600'000;  // a gap of an hour (and everything after it)
  }
  for (std::size_t i = 260; i < 500; ++i) {
    v[i].time_ms += 3'600'000;
  }
  for (std::size_t i = 300; i < 320; ++i) {
    v[i].value.reset();  // no value (a module that did not answer)
    v[i].quality = 3;
  }
  v[400].quality = 2;
  EXPECT_EQ(roundTrip(v), v);
  EXPECT_TRUE(roundTrip({}).empty());
  EXPECT_EQ(roundTrip({v[0]}), std::vector<ChunkSample>{v[0]});
}

TEST(ChunkCodec, ExtremeTimesAndValuesRoundTrip) {
  std::vector<ChunkSample> v = {
      {std::numeric_limits<TimeMs>::min(), std::numeric_limits<std::int64_t>::max(), 0},
      {-1, std::numeric_limits<std::int64_t>::min(), 127},
      {0, 0, 1},
      {std::numeric_limits<TimeMs>::max(), -1, 0}};
  EXPECT_EQ(roundTrip(v), v);
}

TEST(ChunkCodec, RandomSeriesRoundTrip) {
  std::mt19937_64 rng(7);
  for (int k = 0; k < 200; ++k) {
    std::vector<ChunkSample> v(rng() % 300);
    TimeMs t = static_cast<TimeMs>(rng() % 1'000'000'000'000);
    for (auto& s : v) {
      t += 1 + static_cast<TimeMs>(rng() % (k % 2 == 0 ? 20 : 100'000'000));
      s.time_ms = t;
      if (rng() % 7 != 0) {
        s.value = static_cast<std::int64_t>(rng()) >> (rng() % 64);
      }
      s.quality = static_cast<std::uint8_t>(rng() % 4);
    }
    ASSERT_EQ(roundTrip(v), v) << k;
  }
}

// A day of one block's float voltage at a 10 s cadence with ±1 mV of read noise: one byte for the
// time (a steady cadence) and one for the value.
TEST(ChunkCodec, SteadySeriesCostsAboutTwoBytesPerSample) {
  const auto v = floatVoltage(8640, 3);
  const auto bytes = encodeChunk(v);
  ASSERT_TRUE(bytes.ok());
  const double per_sample = static_cast<double>(bytes->size()) / 8640.0;
  std::printf("8640 samples of float voltage: %zu bytes, %.3f B/sample\n", bytes->size(),
              per_sample);
  EXPECT_LT(per_sample, 2.05);
  EXPECT_GT(per_sample, 1.9);
}

TEST(ChunkCodec, RefusesToEncodeWhatItCannotDecode) {
  auto v = floatVoltage(10, 1);
  v[5].time_ms = v[4].time_ms;
  EXPECT_FALSE(encodeChunk(v).ok());
  v = floatVoltage(10, 1);
  v[2].quality = 128;
  EXPECT_FALSE(encodeChunk(v).ok());
}

std::string messageOf(std::string_view bytes) {
  auto r = decodeChunk(bytes);
  return r.ok() ? "accepted" : r.error().message;
}

TEST(ChunkCodec, BytesThatAreNotAChunkGiveAnErrorNamingThePart) {
  const auto good = *encodeChunk(floatVoltage(50, 2));
  EXPECT_NE(messageOf("").find("empty"), std::string::npos);
  EXPECT_NE(messageOf(std::string(1, '\x07') + good.substr(1)).find("format 7"), std::string::npos);
  // Every strict prefix is refused, never misread.
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decodeChunk(good.substr(0, n)).ok()) << n;
  }
  EXPECT_NE(messageOf(good + "x").find("after the last value"), std::string::npos);
  // A count far beyond the bytes, an overlong varint.
  EXPECT_NE(messageOf(std::string("\x01\xff\xff\xff\x7f", 5)).find("announced"), std::string::npos);
  EXPECT_NE(messageOf(std::string("\x01\x01") + std::string(10, '\x80') + "\x01").find("overlong"),
            std::string::npos);
  // Times out of order: a negative first delta.
  std::string rev = "\x01\x02";
  rev += '\x02';  // t0 = 1
  rev += '\x01';  // dt = −1
  EXPECT_NE(messageOf(rev).find("not after"), std::string::npos);
}

}  // namespace
}  // namespace equalis::history
