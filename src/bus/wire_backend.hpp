// bus::Backend over module-bus lines (docs/module-bus.md). A WireLine is the master of one line
// and the strings mapped to it: a sweep is one SAMPLE broadcast, group reads of the modules in
// slots, one group read of the string current sensors and (on the first line) the room sensor.
// WireBackend maps the plant's strings to one or more lines and sweeps the lines in parallel,
// one thread per line. openBackend() picks the wire backend when [[bus.line]] entries exist and
// the in-process simulator otherwise.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bus/bus.hpp"
#include "bus/line_master.hpp"
#include "core/clock.hpp"
#include "model/plant.hpp"

namespace equalis::bus {

// One string on a line: its modules have consecutive addresses from first_address.
struct LineString {
  std::size_t string_index = 0;  // plant string (0-based)
  std::size_t blocks = 0;
  std::uint16_t first_address = proto::kFirstModule;
  bool current_sensor = false;  // at proto::currentSensorAddress(string_index)
};

class WireLine {
 public:
  WireLine(std::unique_ptr<Transport> transport, LineOptions options,
           std::vector<LineString> strings, bool ambient_sensor, const Clock& clock);

  const std::vector<LineString>& strings() const { return strings_; }
  // SAMPLE with a new tag; TIME_SYNC first when due (start, then hourly).
  Status triggerSample();
  // Group reads of every module and sensor of the line; writes out[string] for its strings.
  void sweep(std::vector<std::vector<Result<ModuleReading>>>& out);
  Result<ModuleReading> readModule(std::size_t string_index, std::size_t block_index);
  Result<StringSensorReading> readStringSensor(std::size_t string_index);
  Result<std::int16_t> readAmbientDc();
  Status writeBypass(std::size_t string_index, std::size_t block_index, std::uint8_t duty_pct);
  // SET_TARGET broadcast: the equalization target of one string's modules (modules that balance
  // on their own; the Equalis controller commands duties itself).
  Status setTarget(std::size_t string_index, std::uint16_t target_mv);
  // The master of this line, for commissioning (commissioning.hpp). Not during a sweep.
  LineMaster& master() { return master_; }
  LineHealth health() const;
  DeviceCounters moduleCounters(std::size_t string_index, std::size_t block_index) const;
  // Identities read since the last call: every sweep reads READ_INFO of a few modules that
  // answered their slot and whose identity is not known yet (all at start, a module again after
  // it reported RESTARTED), at most kInfoReadsPerSweep, so the sweep stays short.
  std::vector<ModuleIdentity> takeIdentities();
  // Off: no READ_INFO at all (benchmarks that time the steady sweep alone).
  void setIdentityReads(bool on);
  static constexpr std::size_t kInfoReadsPerSweep = 16;
  static constexpr int kInfoAttempts = 3;  // per module, until it restarts again

 private:
  const LineString* find(std::size_t string_index) const;
  std::optional<std::uint16_t> address(std::size_t string_index, std::size_t block_index) const;
  // A measurement frame → reading (flags, tag and range checked) or the reason it is not one.
  Result<ModuleReading> reading(std::uint16_t address, const proto::Frame& f);
  void resendBypass();
  // READ_INFO of pending modules among `alive` (answered this sweep), within the sweep budget.
  void readIdentities(const std::vector<std::uint16_t>& alive);

  mutable std::mutex mutex_;  // the master and the caches: sweeps and single requests
  LineMaster master_;
  std::vector<LineString> strings_;
  bool ambient_sensor_;
  const Clock& clock_;
  std::uint16_t modules_ = 0;
  std::uint8_t tag_ = 0;  // tag of the last SAMPLE; 0 = none sent yet
  TimeMs next_time_sync_ms_ = 0;
  std::vector<std::optional<Result<StringSensorReading>>> sensor_cache_;  // [plant string]
  std::optional<Result<std::int16_t>> ambient_cache_;
  std::vector<int> bypass_duty_;            // [address], −1 = never written
  std::vector<std::uint16_t> restarted_;    // modules that reported RESTARTED
  std::vector<int> info_attempts_left_;     // [address]: READ_INFO still to do (0 = known)
  std::vector<ModuleIdentity> identities_;  // read, not yet taken
  bool read_identities_ = true;
  int modules_ok_ = 0;
  double last_sweep_ms_ = 0;
  double wire_limit_ms_ = 0;
};

// One thread running jobs for one line.
class LineWorker {
 public:
  LineWorker();
  ~LineWorker();
  LineWorker(const LineWorker&) = delete;
  LineWorker& operator=(const LineWorker&) = delete;
  void start(std::function<void()> job);
  void wait();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class WireBackend final : public Backend {
 public:
  // Lines and their strings from plant.bus.lines (already validated by config/). The room sensor
  // is on the first line. Transports open lazily and reopen after errors.
  static Result<std::unique_ptr<WireBackend>> create(const model::PlantConfig& plant,
                                                     const Clock& clock);
  // For tests: lines built by the caller.
  WireBackend(const model::PlantConfig& plant, std::vector<std::unique_ptr<WireLine>> lines);
  ~WireBackend() override;

  std::size_t stringCount() const override { return blocks_.size(); }
  std::size_t blockCount(std::size_t string_index) const override {
    return string_index < blocks_.size() ? blocks_[string_index] : 0;
  }
  Result<ModuleReading> readModule(std::size_t string_index, std::size_t block_index) override;
  Result<StringSensorReading> readStringSensor(std::size_t string_index) override;
  Result<std::int16_t> readAmbientDc() override;
  Status writeBypass(std::size_t string_index, std::size_t block_index,
                     std::uint8_t duty_pct) override;
  Status triggerSample() override;
  void readAll(const std::vector<bool>& with_sensor, SweepRead& out) override;
  std::vector<LineHealth> lineHealth() const override;
  std::vector<ModuleIdentity> takeModuleIdentities() override;
  void setIdentityReads(bool on);
  Status setTarget(std::size_t string_index, std::uint16_t target_mv);

  WireLine& line(std::size_t i) { return *lines_[i]; }
  std::size_t lineCount() const { return lines_.size(); }

 private:
  WireLine* lineOf(std::size_t string_index) const;

  std::vector<std::size_t> blocks_;  // [string]
  std::vector<std::unique_ptr<WireLine>> lines_;
  std::vector<int> line_of_string_;                   // −1: on no line
  std::vector<std::unique_ptr<LineWorker>> workers_;  // one per line when there are several
};

}  // namespace equalis::bus
