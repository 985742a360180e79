// The truth stream: what the simulated plant really is, for scoring only (docs/simulator.md,
// "Truth firewall"). One JSON object per line:
//   {"kind":"block","t_ms":…,"time":"…","string":1,"block":7,"soc":0.93,"capacity_ah":97.1,
//    "capacity_pct":97.1,"ri_ohm":0.0061,"i0_a":0.021,"ri_ref_ohm":0.0060,"initial_capacity_ah":101.3,
//    "initial_ri_ohm":0.0052,"initial_i0_a":0.012,"temperature_c":24.8,"voltage_v":13.61,
//    "ocv_v":12.98,"module_gain_error":-0.0008,"module_offset_v":0.0031}
//   {"kind":"string","t_ms":…,"time":"…","string":1,"voltage_v":…,"current_a":…,
//    "charger_setpoint_v":…,"mode":"float","current_sensor_gain_error":…,
//    "current_sensor_offset_a":…}
// Written by equalis-sim --truth FILE and by the benchmarks' scorers; never read by the
// controller (it cannot link src/sim: cmake/TruthFirewall.cmake).
#pragma once

#include <cstdio>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::sim {

// The lines of one sample of the whole plant at `t_ms` (every string, then its blocks).
std::string truthLines(const PlantSim& sim, TimeMs t_ms);

// Appends samples to a file, one every `interval_ms` of plant time.
class TruthWriter {
 public:
  static Result<TruthWriter> open(const std::string& path, DurationMs interval_ms);
  TruthWriter(TruthWriter&& other) noexcept;
  TruthWriter& operator=(TruthWriter&&) = delete;
  TruthWriter(const TruthWriter&) = delete;
  TruthWriter& operator=(const TruthWriter&) = delete;
  ~TruthWriter();
  // Writes a sample when one is due at `t_ms` (the first call always writes); flushed at once.
  Status maybeWrite(const PlantSim& sim, TimeMs t_ms);

 private:
  TruthWriter(std::FILE* file, std::string path, DurationMs interval_ms)
      : file_(file), path_(std::move(path)), interval_ms_(interval_ms) {}
  std::FILE* file_ = nullptr;
  std::string path_;
  DurationMs interval_ms_ = 0;
  TimeMs next_ms_ = 0;
  bool first_ = true;
};

}  // namespace equalis::sim
