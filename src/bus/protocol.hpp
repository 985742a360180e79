// Module bus protocol v1 (docs/module-bus.md): frames, CRC-16/MODBUS, payloads, a streaming frame
// parser that resynchronises after garbage, and the wire-time arithmetic of a sweep. Pure code,
// no I/O. The protocol is our own, so this codec is written here (there is no library for it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/result.hpp"

namespace equalis::bus::proto {

// ---- Frame layout ---------------------------------------------------------------------------
inline constexpr std::uint8_t kSof = 0xA5;
inline constexpr std::size_t kHeaderBytes = 6;    // SOF ADDR(2) CMD SEQ LEN
inline constexpr std::size_t kOverheadBytes = 8;  // header + CRC(2)
inline constexpr std::size_t kMaxPayload = 32;
inline constexpr std::size_t kMaxFrameBytes = kOverheadBytes + kMaxPayload;
inline constexpr int kCharBits = 10;  // 8N1

// ---- Addresses ------------------------------------------------------------------------------
inline constexpr std::uint16_t kBroadcast = 0x0000;
inline constexpr std::uint16_t kFirstModule = 0x0001;
inline constexpr std::uint16_t kLastModule = 0xEFFF;
inline constexpr std::uint16_t kCurrentSensorBase = 0xF000;  // + plant string number (1 … 32)
inline constexpr std::uint16_t kAmbientSensor = 0xF101;
inline constexpr std::uint16_t kUnaddressed = 0xFFFE;

constexpr std::uint16_t currentSensorAddress(std::size_t string_index) {
  return static_cast<std::uint16_t>(kCurrentSensorBase + string_index + 1);
}

// ---- Commands -------------------------------------------------------------------------------
inline constexpr std::uint8_t kReplyFlag = 0x80;
inline constexpr std::uint8_t kErrorFlag = 0x40;
inline constexpr std::uint8_t kCommandMask = 0x3F;

enum class Command : std::uint8_t {
  kReadInfo = 0x01,
  kReadMeasurement = 0x02,
  kReadGroup = 0x03,
  kReadCurrent = 0x04,
  kReadTemperature = 0x05,
  kSample = 0x10,
  kSetTarget = 0x11,
  kTimeSync = 0x12,
  kWriteBypass = 0x20,
  kUnassign = 0x30,
  kAssignNext = 0x31,
  kAssignSerial = 0x32,
  kSearch = 0x33,
};

enum class DeviceError : std::uint8_t {
  kUnknownCommand = 1,
  kBadLength = 2,
  kBadValue = 3,
  kBusy = 4,
  kNotAllowed = 5,
  kHardwareFault = 6,
};

const char* commandName(Command c);
const char* deviceErrorName(std::uint8_t code);

// Payload lengths of the command table (§5); nullopt: the command has no such frame.
std::optional<std::size_t> requestPayloadBytes(std::uint8_t command);
std::optional<std::size_t> replyPayloadBytes(std::uint8_t command);
// The length a frame with this CMD byte must have (request, reply or error reply), if known.
std::optional<std::size_t> expectedPayloadBytes(std::uint8_t cmd_byte);

// ---- Frames ---------------------------------------------------------------------------------
struct Frame {
  std::uint16_t address = 0;
  std::uint8_t command = 0;  // the CMD byte, flags included
  std::uint8_t sequence = 0;
  std::uint8_t length = 0;
  std::array<std::uint8_t, kMaxPayload> payload{};

  bool isReply() const { return (command & kReplyFlag) != 0; }
  bool isError() const { return isReply() && (command & kErrorFlag) != 0; }
  std::uint8_t baseCommand() const { return command & kCommandMask; }
  std::span<const std::uint8_t> data() const { return {payload.data(), length}; }
  std::size_t wireBytes() const { return kOverheadBytes + length; }
};

struct Encoded {
  std::array<std::uint8_t, kMaxFrameBytes> bytes{};
  std::size_t size = 0;
  std::span<const std::uint8_t> span() const { return {bytes.data(), size}; }
};

std::uint16_t crc16(std::span<const std::uint8_t> data);

Frame makeFrame(std::uint16_t address, std::uint8_t cmd_byte, std::uint8_t sequence,
                std::span<const std::uint8_t> payload);
Encoded encode(const Frame& frame);
// Exactly one frame: SOF, header, CRC and (strict) the command table's length checked.
Result<Frame> decode(std::span<const std::uint8_t> bytes, bool strict = true);

// ---- Payloads (§5) --------------------------------------------------------------------------
inline constexpr std::uint8_t kFlagMeasurementFault = 0x01;
inline constexpr std::uint8_t kFlagRiInvalid = 0x02;
inline constexpr std::uint8_t kFlagOverTemperature = 0x04;
inline constexpr std::uint8_t kFlagRestarted = 0x08;
inline constexpr std::uint8_t kMaxSampleTag = 15;

constexpr std::uint8_t statusByte(std::uint8_t flags, std::uint8_t tag) {
  return static_cast<std::uint8_t>((flags & 0x0F) | ((tag & 0x0F) << 4));
}

struct Measurement {
  std::int16_t voltage_mv = 0;
  std::int16_t temperature_dc = 0;
  std::uint16_t ri_uohm = 0;  // 0 = not measured, 0xFFFF = above range
  std::uint8_t bypass_duty_pct = 0;
  std::uint8_t flags = 0;  // kFlag…
  std::uint8_t sample_tag = 0;
};
inline constexpr std::size_t kMeasurementBytes = 8;

struct CurrentReading {
  std::int32_t current_ma = 0;
  std::int32_t ac_current_ma = 0;
  std::uint8_t flags = 0;
  std::uint8_t sample_tag = 0;
};
inline constexpr std::size_t kCurrentBytes = 9;

struct TemperatureReading {
  std::int16_t temperature_dc = 0;
  std::uint8_t flags = 0;
  std::uint8_t sample_tag = 0;
};
inline constexpr std::size_t kTemperatureBytes = 3;

struct DeviceInfo {
  std::uint32_t serial = 0;
  std::uint8_t firmware_major = 0;
  std::uint8_t firmware_minor = 0;
  std::uint8_t firmware_patch = 0;
  std::uint8_t device_type = 0;
  std::uint16_t address = 0;
};
inline constexpr std::size_t kInfoBytes = 10;

struct GroupRead {
  std::uint16_t first = 0;
  std::uint8_t count = 0;
  std::uint8_t item = 0;  // kReadMeasurement, kReadCurrent or kReadTemperature
};

struct SetTarget {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::uint16_t target_mv = 0;
};

struct AssignSerial {
  std::uint32_t serial = 0;
  std::uint16_t address = 0;
};

struct SearchRange {
  std::uint32_t serial_lo = 0;
  std::uint32_t serial_hi = 0;
};

// Device types in DeviceInfo.
inline constexpr std::uint8_t kDeviceCurrentSensor = 0x40;
inline constexpr std::uint8_t kDeviceRoomSensor = 0x41;

using Payload = std::vector<std::uint8_t>;
Payload encodeMeasurement(const Measurement& m);
Payload encodeCurrent(const CurrentReading& c);
Payload encodeTemperature(const TemperatureReading& t);
Payload encodeInfo(const DeviceInfo& i);
Payload encodeGroupRead(const GroupRead& g);
Payload encodeSetTarget(const SetTarget& t);
Payload encodeTimeSync(std::uint64_t unix_ms);
Payload encodeAssignSerial(const AssignSerial& a);
Payload encodeSearch(const SearchRange& r);
Payload encodeU16(std::uint16_t v);

// Decoders check the length (and ranges where the table defines one).
Result<Measurement> decodeMeasurement(std::span<const std::uint8_t> p);
Result<CurrentReading> decodeCurrent(std::span<const std::uint8_t> p);
Result<TemperatureReading> decodeTemperature(std::span<const std::uint8_t> p);
Result<DeviceInfo> decodeInfo(std::span<const std::uint8_t> p);
Result<GroupRead> decodeGroupRead(std::span<const std::uint8_t> p);
Result<SetTarget> decodeSetTarget(std::span<const std::uint8_t> p);
Result<std::uint64_t> decodeTimeSync(std::span<const std::uint8_t> p);
Result<AssignSerial> decodeAssignSerial(std::span<const std::uint8_t> p);
Result<SearchRange> decodeSearch(std::span<const std::uint8_t> p);
Result<std::uint16_t> decodeU16(std::span<const std::uint8_t> p);

// ---- Streaming parser -----------------------------------------------------------------------
// Bytes in, whole CRC-checked frames out. Searches for SOF, checks the header (LEN ≤ 32; strict:
// the command table's length), then the CRC; on any failure drops one byte and searches again,
// so a false SOF never hides a frame behind it. Never allocates beyond its bounded buffer.
class FrameParser {
 public:
  struct Stats {
    std::uint64_t frames = 0;
    std::uint64_t crc_errors = 0;   // candidate frames rejected by the CRC
    std::uint64_t malformed = 0;    // SOF with an impossible header
    std::uint64_t noise_bytes = 0;  // bytes skipped outside frames
    std::uint64_t truncated = 0;    // partial frames dropped by reset()
  };

  explicit FrameParser(bool strict = true) : strict_(strict) {}
  void push(std::span<const std::uint8_t> bytes);
  // The next complete frame, if any.
  bool next(Frame& out);
  // Drops buffered bytes (a partial frame counts as truncated, other bytes as noise).
  void reset();
  std::size_t buffered() const { return buffer_.size() - start_; }
  const Stats& stats() const { return stats_; }

 private:
  static constexpr std::size_t kCapacity = 4096;
  void compact();
  bool strict_;
  std::vector<std::uint8_t> buffer_;
  std::size_t start_ = 0;
  Stats stats_;
};

// ---- Timing (§8, §9) ------------------------------------------------------------------------
inline constexpr int kSlotGapMinChars = 1;
inline constexpr int kSlotGapMaxChars = 2;
inline constexpr int kSilentSlotChars = 4;
inline constexpr double kSampleLatchMs = 2.0;
inline constexpr double kBroadcastSettleMs = 1.0;
inline constexpr std::size_t kMaxGroupCount = 255;

constexpr double charUs(std::uint32_t baud) {
  return 1e6 * kCharBits / static_cast<double>(baud);
}

// Slot frame length of a group read of `item` (16, 17 or 11 bytes), 0 for other items.
std::size_t slotFrameBytes(std::uint8_t item);

// What one line reads in a sweep.
struct SweepShape {
  std::vector<std::size_t> module_runs;  // consecutive address runs (each split into ≤ 255)
  std::size_t current_sensors = 0;
  bool ambient = false;
};
// The wire limit of a sweep: every frame's bytes plus one character of gap, × t_char, plus the
// latch wait after SAMPLE (docs/module-bus.md §9).
double sweepWireLimitMs(const SweepShape& shape, std::uint32_t baud);

}  // namespace equalis::bus::proto
