// The I/O hub: every configured I/O and sensor device (docs/io.md) with its channels' latest
// values, quality and time; digital-input changes; commanded outputs and pulses.
//
// Threads. Simulated devices are read by the control thread in poll() (they read the simulated
// plant, which only the control thread may touch). Every real device (Modbus TCP/RTU, GPIO) has
// its own poll thread with its own libmodbus context or GPIO chip: a device that does not answer
// costs its thread one response timeout per attempt and never delays the control cycle, which
// only reads the latest values under a short lock. Outputs are commanded (setOutput/pulseOutput
// from any thread, non-blocking) and written by the device's thread at once (woken up) or by
// poll() for simulated devices.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "io/simulated_site.hpp"
#include "io/transport.hpp"
#include "model/io.hpp"
#include "model/plant.hpp"
#include "model/quality.hpp"

namespace equalis::io {

struct ChannelSnapshot {
  std::string id;               // "aux1.di3"
  std::string device_id;        // "aux1"
  std::string channel;          // "di3"
  std::string name;             // user name: the one given at run time, else the configuration's
  std::string configured_name;  // the configuration's
  model::ChannelKind kind = model::ChannelKind::kDigitalInput;
  model::ChannelRole role = model::ChannelRole::kGeneric;
  int string_number = 0;  // 1-based (breaker roles, electrolyte level), 0 = none
  bool output = false;
  bool active_low = false;
  std::optional<model::PointId> point;  // the catalogue point it feeds
  std::string unit;
  // Digital: 0/1 (logical, after active-low; a breaker_status input is 1 = breaker closed);
  // electrolyte level: 0 good, 1 warning, 2 alarm; NaN until first read.
  double value = std::numeric_limits<double>::quiet_NaN();
  model::Quality quality = model::Quality::kNotPresent;
  TimeMs time_ms = 0;  // when the value was read; 0 = never
  std::string error;   // why the last read of this channel failed, if it did
  // Outputs: the commanded state (written at the next opportunity) and a pulse in progress.
  std::optional<bool> commanded;
  TimeMs pulse_end_ms = 0;
  bool pending = false;  // commanded but not written yet

  // A digital channel that reads "on" with a usable quality (ok or stale).
  bool active() const;
};

struct DeviceSnapshot {
  std::string id;
  std::string name;
  model::IoDeviceType type = model::IoDeviceType::kGxRAux;
  model::IoTransport transport = model::IoTransport::kSimulated;
  std::string endpoint;  // "simulated", "modbus_tcp 127.0.0.1:1502 unit 1", "gpio gpiochip0"
  std::string state;     // "ok", "connecting", "comm_lost"
  std::string error;     // last problem (cleared by the next good poll)
  TimeMs last_ok_ms = 0;
  std::uint64_t polls = 0;     // good polls
  std::uint64_t failures = 0;  // failed polls and connection attempts
};

// A value for the state store: a catalogue point fed by a channel.
struct PointSample {
  model::PointId id;
  std::size_t string_index = 0;  // 0-based (string points)
  double value = 0;
  TimeMs time_ms = 0;
  model::Quality quality = model::Quality::kNotPresent;
};

class Hub {
 public:
  // `site` is what simulated devices are wired to (may be null: they stay not_present). The hub
  // keeps references to `clock` and `site`.
  Hub(const model::PlantConfig& plant, Clock& clock, SimulatedSite* site);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Starts the poll threads of the real devices (idempotent). A device that cannot be opened
  // is retried with backoff; its state says why (e.g. a missing GPIO chip).
  void start();
  void stop();

  // Control thread, once per cycle: writes commanded outputs of simulated devices (a breaker_trip
  // relay opens the simulated breaker) and reads them from the simulated plant.
  void poll(TimeMs now_ms);

  // Digital-input changes since the last call (any device), oldest first.
  std::vector<model::InputChange> drainChanges();

  // Commands an output ("aux1.relay2", "panel.buzzer"); cancels a pulse in progress. Errors:
  // kNotFound (no such channel), kInvalidArgument (not an output).
  Status setOutput(const std::string& id, bool on);
  // Switches an output on for duration_ms (1 ms … 1 h), then off.
  Status pulseOutput(const std::string& id, DurationMs duration_ms);

  // The name a channel is shown by, over the configuration's (the settings page); an empty
  // name goes back to the configuration's. kNotFound for an unknown channel. The names are the
  // caller's to check (model::channelNameProblem) and to keep.
  Status renameChannel(const std::string& id, const std::string& name);
  // Every channel's configured name, by full id.
  std::map<std::string, std::string> configuredNames() const;

  std::vector<ChannelSnapshot> channels(TimeMs now_ms) const;
  std::optional<ChannelSnapshot> channel(const std::string& id, TimeMs now_ms) const;
  std::vector<DeviceSnapshot> devices() const;
  // The points fed by channels, with the channel's time and quality (comm_lost while its device
  // is silent; the state store turns old "ok" values stale).
  std::vector<PointSample> pointSamples(TimeMs now_ms) const;
  // Full id of the breaker_trip relay of a string (0-based), if one is configured.
  std::optional<std::string> breakerTripRelay(std::size_t string_index) const;
  // Full id of the charger_reduce relay of a string (0-based), if one is configured.
  std::optional<std::string> chargerReduceRelay(std::size_t string_index) const;
  bool empty() const { return devices_.empty(); }

 private:
  struct Channel;
  struct Device;
  struct Write {
    std::size_t channel;
    bool on;
  };

  void worker(std::size_t device_index);
  std::vector<Write> takeWrites(std::size_t device_index, TimeMs now_ms);
  void writeDone(std::size_t channel_index, bool on, const Status& st);
  void commit(std::size_t device_index,
              const std::vector<std::pair<std::size_t, Result<double>>>& reads, TimeMs now_ms);
  void noteFailure(std::size_t device_index, const std::string& message);
  void storeValue(Channel& c, double value, model::Quality quality, TimeMs now_ms);
  double simulatedRead(const Device& d, const Channel& c) const;
  void simulatedWrite(const Channel& c, bool on);
  ChannelSnapshot snapshot(const Channel& c, TimeMs now_ms) const;
  Channel* find(const std::string& id);
  Result<Channel*> findOutput(const std::string& id);
  DurationMs realWaitMs(DurationMs plant_ms) const;

  Clock& clock_;
  SimulatedSite* sim_;
  DurationMs sim_stale_after_ms_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<Channel> channels_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<model::InputChange> changes_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace equalis::io
