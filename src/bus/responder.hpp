// The device side of the module bus (docs/module-bus.md): the modules, string current sensors
// and room sensor of one line answering the protocol as firmware built to the spec would, with
// the slot timing of group reads, commissioning (addresses by chain order and by serial) and
// wire-fault injection. Values come from a bus::Backend (SimBackend over the plant simulator in
// equalis-sim, a scripted backend in tests), so the wire carries exactly what the in-process
// simulator returns. Pure: bytes and virtual times in, frames with due times out.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "bus/bus.hpp"
#include "bus/protocol.hpp"
#include "bus/wire_backend.hpp"

namespace equalis::bus {

struct WireFaults {
  double crc_probability = 0;   // per reply frame: one random bit flipped
  double late_probability = 0;  // per unicast reply: sent late_ms late
  double late_ms = 50;
  double noise_probability = 0;    // per reply frame: a burst of 1 … 16 random bytes before it
  std::set<std::uint16_t> silent;  // addresses that never answer
  std::uint64_t seed = 1;
};

// One frame to put on the wire once `due_ns` has come: the time its last byte leaves the UART.
struct Transmission {
  std::int64_t due_ns = 0;
  std::vector<std::uint8_t> bytes;
};

class LineResponder {
 public:
  struct Stats {
    std::uint64_t requests = 0;      // valid frames received
    std::uint64_t replies = 0;       // frames sent
    std::uint64_t samples = 0;       // SAMPLE broadcasts
    std::uint64_t crc_injected = 0;  // replies sent with a flipped bit
    std::uint64_t late_injected = 0;
    std::uint64_t noise_injected = 0;
    std::uint64_t silent = 0;      // replies not sent (silent device)
    std::uint64_t bad_frames = 0;  // CRC errors and malformed frames received
  };

  // `values` answers for the plant's strings (indices as in `strings`).
  LineResponder(std::vector<LineString> strings, bool ambient_sensor, std::uint32_t baud,
                Backend& values, WireFaults faults = {});

  // Bytes from the master; the last of them arrived at `end_ns`. Appends the replies.
  void receive(std::span<const std::uint8_t> bytes, std::int64_t end_ns,
               std::vector<Transmission>& out);
  const Stats& stats() const { return stats_; }
  WireFaults& faults() { return faults_; }
  std::uint32_t serialOf(std::size_t module) const { return modules_[module].serial; }
  // A module swapped for a new one from the shelf: another serial, no address, just powered.
  // With `keep_address`, the new module was given the old one's address before it went in.
  void replaceModule(std::size_t module, std::uint32_t serial, bool keep_address = false);
  // Every module forgets its address, as they leave the factory (a string not yet commissioned).
  void forgetAddresses();
  // Index of the module of (string, block), 0-based; nullopt if it is not on this line.
  std::optional<std::size_t> moduleIndex(std::size_t string_index, std::size_t block_index) const;
  std::uint16_t addressOf(std::size_t module) const { return modules_[module].address; }
  std::size_t moduleCount() const { return modules_.size(); }
  std::int64_t charNs() const { return char_ns_; }

 private:
  struct Module {
    std::size_t string_index = 0;
    std::size_t block_index = 0;
    std::uint32_t serial = 0;
    std::uint16_t address = proto::kUnaddressed;
    std::uint8_t type = 0;
    proto::Measurement latched;
    bool have_sample = false;
    bool restarted = true;
    bool mute = false;  // the plant simulator's comm fault: no answers
    std::uint16_t target_mv = 0;
  };
  struct Sensor {
    std::size_t string_index = 0;
    proto::CurrentReading latched;
    bool have_sample = false;
  };

  void handle(const proto::Frame& f, std::int64_t end_ns, std::vector<Transmission>& out);
  void sample(std::uint8_t tag);
  proto::Measurement measure(Module& m, std::uint8_t tag);
  bool silent(std::uint16_t address, const Module* m);
  // A reply frame starting no earlier than `start_ns`; returns the time it ends.
  std::int64_t emit(std::uint16_t address, std::uint8_t cmd_byte, std::uint8_t seq,
                    std::span<const std::uint8_t> payload, std::int64_t start_ns, bool may_be_late,
                    std::vector<Transmission>& out);
  void error(const proto::Frame& f, proto::DeviceError code, std::int64_t end_ns,
             std::vector<Transmission>& out);
  // Payload of a read of `item` by the device at `address`, or nothing if it has none.
  bool readPayload(std::uint16_t address, std::uint8_t item, proto::Payload& payload);
  Module* moduleAt(std::uint16_t address);
  void reindex();

  std::vector<LineString> strings_;
  bool ambient_sensor_;
  std::int64_t char_ns_;
  Backend& values_;
  WireFaults faults_;
  std::mt19937_64 rng_;
  proto::FrameParser parser_{false};
  std::vector<Module> modules_;
  std::unordered_map<std::uint16_t, std::size_t> by_address_;
  std::vector<Sensor> sensors_;
  proto::TemperatureReading ambient_latched_;
  bool ambient_have_sample_ = false;
  std::int64_t busy_until_ns_ = 0;  // end of the last frame this side put on the wire
  Stats stats_;
};

}  // namespace equalis::bus
