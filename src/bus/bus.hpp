// Module bus: the frontend sweeps every module once per cycle, keeps per-module communication
// health and turns raw readings into samples with time and quality. Backends (the simulator
// today, a serial line later) only answer single requests; they know nothing of scheduling.
#pragma once

#include <cstdint>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"
#include "model/quality.hpp"

namespace equalis::bus {

// Raw module answer, fixed-point as on the wire.
struct ModuleReading {
  std::int32_t voltage_mv = 0;
  std::int16_t temperature_dc = 0;  // 0.1 °C
  std::int32_t ri_uohm = 0;
  std::uint8_t bypass_duty_pct = 0;  // bypass duty the module applies, 0 … 100
};

struct StringSensorReading {
  std::int32_t current_ma = 0;  // + charge / − discharge
  std::int32_t ac_current_ma = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::size_t stringCount() const = 0;
  virtual std::size_t blockCount(std::size_t string_index) const = 0;
  virtual Result<ModuleReading> readModule(std::size_t string_index, std::size_t block_index) = 0;
  virtual Result<StringSensorReading> readStringSensor(std::size_t string_index) = 0;
  virtual Result<std::int16_t> readAmbientDc() = 0;
  virtual Status writeBypass(std::size_t string_index, std::size_t block_index,
                             std::uint8_t duty_pct) = 0;
};

struct ModuleSample {
  ModuleReading reading;  // last good reading as on the wire (kept while the module is silent)
  TimeMs time_ms = 0;     // when `reading` was taken; 0 = never
  model::Quality quality = model::Quality::kNotPresent;
  // The same reading in SI units, converted once by the frontend (nothing downstream converts).
  double voltage_v = 0.0;
  double temperature_c = 0.0;
  double ri_mohm = 0.0;
  double bypass_duty = 0.0;  // 0 … 1
  bool fresh = false;        // read in this sweep (time_ms == the sweep's time)
  // Measured in this sweep and valid: what analysis, control and alarms may use.
  bool usable() const { return fresh && quality == model::Quality::kOk; }
};

struct CommCounters {
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  std::uint32_t consecutive_failures = 0;
};

struct StringSensorSample {
  StringSensorReading reading;
  TimeMs time_ms = 0;
  model::Quality quality = model::Quality::kNotPresent;
  double current_a = 0.0;  // SI, converted once by the frontend
  double ac_current_a = 0.0;
};

struct AmbientSample {
  std::int16_t temperature_dc = 0;
  TimeMs time_ms = 0;
  model::Quality quality = model::Quality::kNotPresent;
  double temperature_c = 0.0;  // SI, converted once by the frontend
};

// One complete pass over the bus, raw as read and in SI units.
struct Sweep {
  std::uint64_t seq = 0;
  TimeMs time_ms = 0;
  std::vector<std::vector<ModuleSample>> modules;  // [string][block]
  std::vector<std::vector<CommCounters>> comm;     // [string][block]
  std::vector<StringSensorSample> string_sensors;  // [string]
  AmbientSample ambient;
  int modules_ok = 0;
  double duration_ms = 0;  // wall-clock cost of the sweep
};

// Fills the SI fields of every sample from its raw reading: the one place where wire units
// become SI units (the frontend calls it at the end of every sweep).
void convertToSi(Sweep& sweep);

class Frontend {
 public:
  Frontend(Backend& backend, const model::PlantConfig& plant);
  // Reads every module, string sensor and the ambient sensor once (one retry per module) and
  // returns the updated sweep. Samples of modules that did not answer keep their last reading
  // and time; after `comm_lost_after_failures` consecutive failures they turn comm_lost.
  const Sweep& sweep(TimeMs now_ms);
  const Sweep& last() const { return sweep_; }
  // Sends a bypass (equalization) duty to one module; only changes are written. A failed write
  // is counted as a communication error and retried with the next command.
  void commandBypass(std::size_t string_index, std::size_t block_index, std::uint8_t duty_pct);

 private:
  Backend& backend_;
  const model::PlantConfig& plant_;
  Sweep sweep_;
  std::vector<std::vector<int>> bypass_sent_;  // last duty written per module, −1 = unknown
};

}  // namespace equalis::bus
