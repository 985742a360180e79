// Module bus: the frontend sweeps every module once per cycle, keeps per-module communication
// health and turns raw readings into samples with time and quality. Backends (the simulator, the
// module-bus lines of wire_backend.hpp) answer single requests and, where they can do better
// than one request per module, bulk reads of a whole sweep; they know nothing of scheduling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

// Counters of one module-bus line (docs/module-bus.md §4), cumulative since start.
struct LineCounters {
  std::uint64_t requests = 0;       // frames sent (broadcasts and retries included)
  std::uint64_t frames_ok = 0;      // replies accepted
  std::uint64_t crc_errors = 0;     // candidate frames rejected by the CRC
  std::uint64_t malformed = 0;      // impossible headers
  std::uint64_t noise_bytes = 0;    // bytes outside frames
  std::uint64_t truncated = 0;      // partial frames dropped
  std::uint64_t timeouts = 0;       // expected replies that did not come
  std::uint64_t foreign = 0;        // valid frames not for the request in progress
  std::uint64_t late = 0;           // valid replies to an earlier request
  std::uint64_t echo = 0;           // own requests read back (echoing adapters)
  std::uint64_t error_replies = 0;  // devices' error replies and measurement-fault flags
  std::uint64_t stale = 0;          // readings of a sample other than the one triggered
  std::uint64_t retries = 0;        // unicast requests sent again
  std::uint64_t reconnects = 0;     // transport (re)opened
};

enum class LineState {
  kUp,        // every device answered in the last sweep
  kDegraded,  // some devices failed in the last sweep
  kDown,      // the transport is closed, or nothing answered
};
const char* lineStateName(LineState state);

struct LineHealth {
  std::string line;  // "serial:/dev/ttyUSB0:115200", "tcp://host:port"
  LineState state = LineState::kDown;
  bool connected = false;
  LineCounters counters;
  std::string last_error;    // last transport error, empty if none
  int modules = 0;           // modules on the line
  int modules_ok = 0;        // answering in the last sweep (group read, before retries)
  double last_sweep_ms = 0;  // wall time of the line's last sweep
  double wire_limit_ms = 0;  // the sweep's computed wire limit (docs/module-bus.md §9)
};

// What a module says it is (READ_INFO, docs/module-bus.md §10), and where it sits.
struct ModuleIdentity {
  std::size_t string_index = 0;  // plant string (0-based)
  std::size_t block_index = 0;   // 0-based
  std::uint16_t address = 0;
  std::uint32_t serial = 0;
  std::uint8_t firmware_major = 0;
  std::uint8_t firmware_minor = 0;
  std::uint8_t firmware_patch = 0;
  std::uint8_t device_type = 0;
  std::string line;     // the line's URL ("serial:/dev/ttyUSB0:115200")
  TimeMs since_ms = 0;  // when this serial was first seen in this place
  std::string firmware() const {
    return std::to_string(firmware_major) + "." + std::to_string(firmware_minor) + "." +
           std::to_string(firmware_patch);
  }
};

// One sweep's bulk read (Backend::readAll).
struct SweepRead {
  std::vector<std::vector<Result<ModuleReading>>> modules;          // [string][block]
  std::vector<std::optional<Result<StringSensorReading>>> sensors;  // [string]; nullopt: not read
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

  // ---- Bulk access (one sweep). The defaults loop over the single requests above. ----
  // Every module and sensor measures now, at one instant where the line allows it ("sample now"
  // broadcast); the reads that follow, until the next trigger, return that sample.
  virtual Status triggerSample() { return {}; }
  // Reads every module of one string; `out` gets blockCount(string_index) results.
  virtual void readString(std::size_t string_index, std::vector<Result<ModuleReading>>& out);
  // Reads every module of every string and the current sensors of the strings where
  // `with_sensor[string]`; a backend with several lines reads them in parallel. The default
  // reads string by string: readString(), then readStringSensor() — the order of single
  // requests a sweep has always made (the simulator's measurement noise is drawn in that order).
  virtual void readAll(const std::vector<bool>& with_sensor, SweepRead& out);
  // Health of the backend's communication lines; empty for backends without lines.
  virtual std::vector<LineHealth> lineHealth() const { return {}; }
  // Module identities read since the last call (the wire backend reads READ_INFO of every
  // module once at start and again after it reports RESTARTED); empty for backends that have
  // none (the in-process simulator).
  virtual std::vector<ModuleIdentity> takeModuleIdentities() { return {}; }
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
  std::vector<bool> with_sensor_;              // [string]: its current sensor is read
  std::vector<int> sensor_failures_;           // [string]: sweeps in a row without an answer
  int ambient_failures_ = 0;                   // the same for the room sensor
  SweepRead bulk_;                             // the sweep's bulk read
  std::vector<std::vector<int>> bypass_sent_;  // last duty written per module, −1 = unknown
};

}  // namespace equalis::bus
