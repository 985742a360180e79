// Small deterministic random-number generator for the simulator.
//
// xoshiro256** 1.0 (Blackman & Vigna, 2018; public domain reference algorithm), seeded through
// SplitMix64 (Steele, Lea & Flood, 2014). Normal deviates come from the Box–Muller transform, one
// value per call (the second value is discarded so that every call consumes exactly two words).
// std::normal_distribution is not used: its algorithm is implementation-defined, and the simulator
// must give bit-identical results for the same seed and call sequence.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace equalis::sim {

// Advances a SplitMix64 state and returns the next output.
inline std::uint64_t splitMix64(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ull;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  // `stream` separates independent random streams derived from one seed (scatter, calibration,
  // UPS schedule, measurement noise), so that drawing from one never shifts another.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0) {
    std::uint64_t sm = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (auto& word : s_) {
      word = splitMix64(sm);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

  // Standard normal deviate (Box–Muller).
  double normal() {
    const double u1 = 1.0 - uniform01();  // (0, 1]: log() stays finite
    const double u2 = uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  // Standard normal deviate clipped to ±limit (keeps error budgets hard-bounded).
  double clippedNormal(double limit) {
    const double z = normal();
    return z > limit ? limit : (z < -limit ? -limit : z);
  }

  // Exponential deviate with the given mean.
  double exponential(double mean) { return -mean * std::log(1.0 - uniform01()); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace equalis::sim
