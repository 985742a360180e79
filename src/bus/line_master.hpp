// The master side of the module bus on one line (docs/module-bus.md): sequence numbers,
// unicast transactions with timeouts and retries, broadcasts with their settle times, group reads
// in slots, and the line's counters. Frames are accepted only when address, command and sequence
// match the request in progress; everything else is counted (late, foreign, echo, CRC …) and
// dropped, so no malformed, late or foreign frame ever becomes a value. One thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "bus/protocol.hpp"
#include "bus/transport.hpp"

namespace equalis::bus {

struct LineOptions {
  std::chrono::microseconds reply_slack{10'000};  // beyond the frames' wire time
  int retries = 1;                                // extra attempts of a unicast request
  std::chrono::milliseconds reconnect_interval{1000};
};

// Per-device counters kept by the master.
struct DeviceCounters {
  std::uint64_t ok = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t late = 0;
  std::uint64_t errors = 0;  // error replies, fault flags
  std::uint64_t stale = 0;
};

class LineMaster {
 public:
  LineMaster(std::unique_ptr<Transport> transport, LineOptions options);

  // Unicast request → its reply (an error reply becomes an error naming the device's code).
  // Sent again `retries` times with a new sequence number each time. `reply_from`: the address
  // the reply comes from when it is not the request's (commissioning: the newly given address).
  Result<proto::Frame> transact(std::uint16_t address, proto::Command command,
                                std::span<const std::uint8_t> payload,
                                std::optional<std::uint16_t> reply_from = std::nullopt);
  // A broadcast without reply; the next request waits `settle_ms` after it has left the wire.
  Status broadcast(proto::Command command, std::span<const std::uint8_t> payload,
                   double settle_ms = proto::kBroadcastSettleMs);
  // READ_GROUP of [first, first + count): out[k] is the slot frame of first + k, if it came.
  Status groupRead(std::uint16_t first, std::uint8_t count, proto::Command item,
                   std::vector<std::optional<proto::Frame>>& out);

  // Counters per device address (created on first use).
  DeviceCounters& device(std::uint16_t address);
  const DeviceCounters* findDevice(std::uint16_t address) const;
  LineCounters counters() const;
  bool connected() const { return transport_->isOpen(); }
  const std::string& lastError() const { return last_error_; }
  std::string describe() const { return transport_->describe(); }
  std::uint32_t baud() const { return transport_->baud(); }
  const LineOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  Status ensureOpen();
  // Sends one request frame; returns the time its last byte has left the wire.
  Result<SteadyTime> send(std::uint16_t address, std::uint8_t cmd_byte,
                          std::span<const std::uint8_t> payload);
  // Reads and classifies frames until `accept` returns true for an accepted frame or the deadline
  // passes. `extend` may push the deadline on every accepted frame.
  template <class Accept>
  void receive(SteadyTime& deadline, Accept&& accept);
  std::chrono::nanoseconds chars(std::size_t n) const;
  void countLateOrForeign(const proto::Frame& f);

  std::unique_ptr<Transport> transport_;
  LineOptions options_;
  proto::FrameParser parser_;
  std::uint8_t seq_ = 0;
  // The request in progress (for echo detection).
  std::uint16_t pending_address_ = 0;
  std::uint8_t pending_cmd_ = 0;
  SteadyTime not_before_{};  // earliest time of the next request (broadcast settle)
  SteadyTime next_reconnect_{};
  std::string last_error_;
  LineCounters counters_;
  std::vector<std::pair<std::uint16_t, DeviceCounters>> devices_;  // sorted by address
};

}  // namespace equalis::bus
