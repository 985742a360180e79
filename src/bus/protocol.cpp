#include "bus/protocol.hpp"

#include <algorithm>
#include <cstring>

namespace equalis::bus::proto {

namespace {

struct CommandInfo {
  Command command;
  const char* name;
  int request_bytes;  // −1: no request of this command with a fixed length
  int reply_bytes;    // −1: never answered
};

constexpr std::array kCommands = {
    CommandInfo{Command::kReadInfo, "READ_INFO", 0, static_cast<int>(kInfoBytes)},
    CommandInfo{Command::kReadMeasurement, "READ_MEASUREMENT", 0,
                static_cast<int>(kMeasurementBytes)},
    CommandInfo{Command::kReadGroup, "READ_GROUP", 4, -1},
    CommandInfo{Command::kReadCurrent, "READ_CURRENT", 0, static_cast<int>(kCurrentBytes)},
    CommandInfo{Command::kReadTemperature, "READ_TEMPERATURE", 0,
                static_cast<int>(kTemperatureBytes)},
    CommandInfo{Command::kSample, "SAMPLE", 1, -1},
    CommandInfo{Command::kSetTarget, "SET_TARGET", 6, -1},
    CommandInfo{Command::kTimeSync, "TIME_SYNC", 8, -1},
    CommandInfo{Command::kWriteBypass, "WRITE_BYPASS", 1, 1},
    CommandInfo{Command::kUnassign, "UNASSIGN", 0, 0},
    CommandInfo{Command::kAssignNext, "ASSIGN_NEXT", 2, static_cast<int>(kInfoBytes)},
    CommandInfo{Command::kAssignSerial, "ASSIGN_SERIAL", 6, static_cast<int>(kInfoBytes)},
    CommandInfo{Command::kSearch, "SEARCH", 8, static_cast<int>(kInfoBytes)},
};

const CommandInfo* findCommand(std::uint8_t base) {
  for (const auto& c : kCommands) {
    if (static_cast<std::uint8_t>(c.command) == base) {
      return &c;
    }
  }
  return nullptr;
}

class Writer {
 public:
  explicit Writer(std::size_t n) { out_.reserve(n); }
  Writer& u8(std::uint8_t v) {
    out_.push_back(v);
    return *this;
  }
  Writer& u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v & 0xFF));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    return *this;
  }
  Writer& i16(std::int16_t v) { return u16(static_cast<std::uint16_t>(v)); }
  Writer& u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v & 0xFFFF));
    return u16(static_cast<std::uint16_t>(v >> 16));
  }
  Writer& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
  Writer& u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v & 0xFFFFFFFFu));
    return u32(static_cast<std::uint32_t>(v >> 32));
  }
  Payload take() { return std::move(out_); }

 private:
  Payload out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> p) : p_(p) {}
  std::uint8_t u8() { return p_[at_++]; }
  std::uint16_t u16() {
    const auto lo = p_[at_];
    const auto hi = p_[at_ + 1];
    at_ += 2;
    return static_cast<std::uint16_t>(lo | (hi << 8));
  }
  std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
  std::uint32_t u32() {
    const std::uint32_t lo = u16();
    const std::uint32_t hi = u16();
    return lo | (hi << 16);
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::uint64_t u64() {
    const std::uint64_t lo = u32();
    const std::uint64_t hi = u32();
    return lo | (hi << 32);
  }

 private:
  std::span<const std::uint8_t> p_;
  std::size_t at_ = 0;
};

Error lengthError(const char* what, std::size_t want, std::size_t got) {
  return makeError(ErrorCode::kProtocol, std::string(what) + ": payload of " + std::to_string(got) +
                                             " bytes, expected " + std::to_string(want));
}

}  // namespace

const char* commandName(Command c) {
  const auto* info = findCommand(static_cast<std::uint8_t>(c));
  return info ? info->name : "UNKNOWN";
}

const char* deviceErrorName(std::uint8_t code) {
  switch (static_cast<DeviceError>(code)) {
    case DeviceError::kUnknownCommand:
      return "UNKNOWN_COMMAND";
    case DeviceError::kBadLength:
      return "BAD_LENGTH";
    case DeviceError::kBadValue:
      return "BAD_VALUE";
    case DeviceError::kBusy:
      return "BUSY";
    case DeviceError::kNotAllowed:
      return "NOT_ALLOWED";
    case DeviceError::kHardwareFault:
      return "HARDWARE_FAULT";
  }
  return "UNKNOWN_ERROR";
}

std::optional<std::size_t> requestPayloadBytes(std::uint8_t command) {
  const auto* info = findCommand(command);
  if (info == nullptr || info->request_bytes < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(info->request_bytes);
}

std::optional<std::size_t> replyPayloadBytes(std::uint8_t command) {
  const auto* info = findCommand(command);
  if (info == nullptr || info->reply_bytes < 0) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(info->reply_bytes);
}

std::optional<std::size_t> expectedPayloadBytes(std::uint8_t cmd_byte) {
  const std::uint8_t base = cmd_byte & kCommandMask;
  if ((cmd_byte & kReplyFlag) == 0) {
    if ((cmd_byte & kErrorFlag) != 0) {
      return std::nullopt;  // the error flag only exists in replies
    }
    return requestPayloadBytes(base);
  }
  if ((cmd_byte & kErrorFlag) != 0) {
    return 1;  // an error reply to any command, known or not (UNKNOWN_COMMAND)
  }
  return replyPayloadBytes(base);
}

std::uint16_t crc16(std::span<const std::uint8_t> data) {
  std::uint16_t crc = 0xFFFF;
  for (const std::uint8_t byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001u)
                            : static_cast<std::uint16_t>(crc >> 1);
    }
  }
  return crc;
}

Frame makeFrame(std::uint16_t address, std::uint8_t cmd_byte, std::uint8_t sequence,
                std::span<const std::uint8_t> payload) {
  Frame f;
  f.address = address;
  f.command = cmd_byte;
  f.sequence = sequence;
  f.length = static_cast<std::uint8_t>(std::min(payload.size(), kMaxPayload));
  std::copy_n(payload.begin(), f.length, f.payload.begin());
  return f;
}

Encoded encode(const Frame& frame) {
  Encoded e;
  auto& b = e.bytes;
  const std::size_t len = std::min<std::size_t>(frame.length, kMaxPayload);
  b[0] = kSof;
  b[1] = static_cast<std::uint8_t>(frame.address & 0xFF);
  b[2] = static_cast<std::uint8_t>(frame.address >> 8);
  b[3] = frame.command;
  b[4] = frame.sequence;
  b[5] = static_cast<std::uint8_t>(len);
  std::copy_n(frame.payload.begin(), len, b.begin() + kHeaderBytes);
  const std::size_t body = kHeaderBytes + len;
  const std::uint16_t crc = crc16({b.data(), body});
  b[body] = static_cast<std::uint8_t>(crc & 0xFF);
  b[body + 1] = static_cast<std::uint8_t>(crc >> 8);
  e.size = body + 2;
  return e;
}

namespace {

// Header problem of the 6 bytes at `h`, or nullptr when plausible.
const char* headerProblem(const std::uint8_t* h, bool strict) {
  const std::size_t len = h[5];
  if (len > kMaxPayload) {
    return "payload length above 32";
  }
  if (strict) {
    const auto want = expectedPayloadBytes(h[3]);
    if (!want) {
      return "unknown command";
    }
    if (*want != len) {
      return "payload length does not fit the command";
    }
  }
  return nullptr;
}

Frame frameFrom(const std::uint8_t* b) {
  Frame f;
  f.address = static_cast<std::uint16_t>(b[1] | (b[2] << 8));
  f.command = b[3];
  f.sequence = b[4];
  f.length = b[5];
  std::copy_n(b + kHeaderBytes, f.length, f.payload.begin());
  return f;
}

}  // namespace

Result<Frame> decode(std::span<const std::uint8_t> bytes, bool strict) {
  if (bytes.size() < kOverheadBytes) {
    return makeError(ErrorCode::kProtocol, "frame shorter than 8 bytes");
  }
  if (bytes[0] != kSof) {
    return makeError(ErrorCode::kProtocol, "no start byte");
  }
  if (const char* problem = headerProblem(bytes.data(), strict)) {
    return makeError(ErrorCode::kProtocol, problem);
  }
  const std::size_t total = kOverheadBytes + bytes[5];
  if (bytes.size() != total) {
    return makeError(ErrorCode::kProtocol,
                     bytes.size() < total ? "truncated frame" : "bytes after the frame");
  }
  if (crc16(bytes) != 0) {
    return makeError(ErrorCode::kProtocol, "CRC error");
  }
  return frameFrom(bytes.data());
}

// ---- Payloads -------------------------------------------------------------------------------

Payload encodeMeasurement(const Measurement& m) {
  return Writer(kMeasurementBytes)
      .i16(m.voltage_mv)
      .i16(m.temperature_dc)
      .u16(m.ri_uohm)
      .u8(m.bypass_duty_pct)
      .u8(statusByte(m.flags, m.sample_tag))
      .take();
}

Payload encodeCurrent(const CurrentReading& c) {
  return Writer(kCurrentBytes)
      .i32(c.current_ma)
      .i32(c.ac_current_ma)
      .u8(statusByte(c.flags, c.sample_tag))
      .take();
}

Payload encodeTemperature(const TemperatureReading& t) {
  return Writer(kTemperatureBytes)
      .i16(t.temperature_dc)
      .u8(statusByte(t.flags, t.sample_tag))
      .take();
}

Payload encodeInfo(const DeviceInfo& i) {
  return Writer(kInfoBytes)
      .u32(i.serial)
      .u8(i.firmware_major)
      .u8(i.firmware_minor)
      .u8(i.firmware_patch)
      .u8(i.device_type)
      .u16(i.address)
      .take();
}

Payload encodeGroupRead(const GroupRead& g) {
  return Writer(4).u16(g.first).u8(g.count).u8(g.item).take();
}

Payload encodeSetTarget(const SetTarget& t) {
  return Writer(6).u16(t.first).u16(t.last).u16(t.target_mv).take();
}

Payload encodeTimeSync(std::uint64_t unix_ms) {
  return Writer(8).u64(unix_ms).take();
}

Payload encodeAssignSerial(const AssignSerial& a) {
  return Writer(6).u32(a.serial).u16(a.address).take();
}

Payload encodeSearch(const SearchRange& r) {
  return Writer(8).u32(r.serial_lo).u32(r.serial_hi).take();
}

Payload encodeU16(std::uint16_t v) {
  return Writer(2).u16(v).take();
}

Result<Measurement> decodeMeasurement(std::span<const std::uint8_t> p) {
  if (p.size() != kMeasurementBytes) {
    return lengthError("measurement", kMeasurementBytes, p.size());
  }
  Reader r(p);
  Measurement m;
  m.voltage_mv = r.i16();
  m.temperature_dc = r.i16();
  m.ri_uohm = r.u16();
  m.bypass_duty_pct = r.u8();
  const std::uint8_t status = r.u8();
  m.flags = status & 0x0F;
  m.sample_tag = static_cast<std::uint8_t>(status >> 4);
  if (m.bypass_duty_pct > 100) {
    return makeError(ErrorCode::kProtocol, "measurement: bypass duty above 100 %");
  }
  return m;
}

Result<CurrentReading> decodeCurrent(std::span<const std::uint8_t> p) {
  if (p.size() != kCurrentBytes) {
    return lengthError("current", kCurrentBytes, p.size());
  }
  Reader r(p);
  CurrentReading c;
  c.current_ma = r.i32();
  c.ac_current_ma = r.i32();
  const std::uint8_t status = r.u8();
  c.flags = status & 0x0F;
  c.sample_tag = static_cast<std::uint8_t>(status >> 4);
  return c;
}

Result<TemperatureReading> decodeTemperature(std::span<const std::uint8_t> p) {
  if (p.size() != kTemperatureBytes) {
    return lengthError("temperature", kTemperatureBytes, p.size());
  }
  Reader r(p);
  TemperatureReading t;
  t.temperature_dc = r.i16();
  const std::uint8_t status = r.u8();
  t.flags = status & 0x0F;
  t.sample_tag = static_cast<std::uint8_t>(status >> 4);
  return t;
}

Result<DeviceInfo> decodeInfo(std::span<const std::uint8_t> p) {
  if (p.size() != kInfoBytes) {
    return lengthError("info", kInfoBytes, p.size());
  }
  Reader r(p);
  DeviceInfo i;
  i.serial = r.u32();
  i.firmware_major = r.u8();
  i.firmware_minor = r.u8();
  i.firmware_patch = r.u8();
  i.device_type = r.u8();
  i.address = r.u16();
  return i;
}

Result<GroupRead> decodeGroupRead(std::span<const std::uint8_t> p) {
  if (p.size() != 4) {
    return lengthError("group read", 4, p.size());
  }
  Reader r(p);
  GroupRead g;
  g.first = r.u16();
  g.count = r.u8();
  g.item = r.u8();
  if (g.count == 0 || slotFrameBytes(g.item) == 0) {
    return makeError(ErrorCode::kProtocol, "group read: count 0 or an item without slots");
  }
  return g;
}

Result<SetTarget> decodeSetTarget(std::span<const std::uint8_t> p) {
  if (p.size() != 6) {
    return lengthError("set target", 6, p.size());
  }
  Reader r(p);
  SetTarget t;
  t.first = r.u16();
  t.last = r.u16();
  t.target_mv = r.u16();
  return t;
}

Result<std::uint64_t> decodeTimeSync(std::span<const std::uint8_t> p) {
  if (p.size() != 8) {
    return lengthError("time sync", 8, p.size());
  }
  return Reader(p).u64();
}

Result<AssignSerial> decodeAssignSerial(std::span<const std::uint8_t> p) {
  if (p.size() != 6) {
    return lengthError("assign serial", 6, p.size());
  }
  Reader r(p);
  AssignSerial a;
  a.serial = r.u32();
  a.address = r.u16();
  return a;
}

Result<SearchRange> decodeSearch(std::span<const std::uint8_t> p) {
  if (p.size() != 8) {
    return lengthError("search", 8, p.size());
  }
  Reader r(p);
  SearchRange s;
  s.serial_lo = r.u32();
  s.serial_hi = r.u32();
  return s;
}

Result<std::uint16_t> decodeU16(std::span<const std::uint8_t> p) {
  if (p.size() != 2) {
    return lengthError("address", 2, p.size());
  }
  return Reader(p).u16();
}

// ---- Parser ---------------------------------------------------------------------------------

void FrameParser::compact() {
  if (start_ == 0) {
    return;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
  start_ = 0;
}

void FrameParser::push(std::span<const std::uint8_t> bytes) {
  compact();
  // A bounded buffer: whatever cannot be a frame any more is noise. The buffer never holds more
  // than one frame's worth before next() consumes it, so this only trims pathological input.
  if (buffer_.size() + bytes.size() > kCapacity) {
    const std::size_t drop = std::min(buffer_.size(), buffer_.size() + bytes.size() - kCapacity);
    stats_.noise_bytes += drop;
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(drop));
    if (bytes.size() > kCapacity) {
      stats_.noise_bytes += bytes.size() - kCapacity;
      bytes = bytes.subspan(bytes.size() - kCapacity);
    }
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

bool FrameParser::next(Frame& out) {
  while (true) {
    // Skip to the next SOF.
    const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(start_);
    const auto sof = std::find(begin, buffer_.end(), kSof);
    stats_.noise_bytes += static_cast<std::uint64_t>(sof - begin);
    start_ = static_cast<std::size_t>(sof - buffer_.begin());
    const std::size_t avail = buffer_.size() - start_;
    if (avail < kHeaderBytes) {
      return false;
    }
    const std::uint8_t* h = buffer_.data() + start_;
    if (headerProblem(h, strict_) != nullptr) {
      stats_.malformed += 1;
      start_ += 1;
      continue;
    }
    const std::size_t total = kOverheadBytes + h[5];
    if (avail < total) {
      return false;
    }
    if (crc16({h, total}) != 0) {
      stats_.crc_errors += 1;
      start_ += 1;
      continue;
    }
    out = frameFrom(h);
    start_ += total;
    stats_.frames += 1;
    return true;
  }
}

void FrameParser::reset() {
  const std::size_t left = buffered();
  if (left > 0) {
    if (buffer_[start_] == kSof) {
      stats_.truncated += 1;
    } else {
      stats_.noise_bytes += left;
    }
  }
  buffer_.clear();
  start_ = 0;
}

// ---- Timing ---------------------------------------------------------------------------------

std::size_t slotFrameBytes(std::uint8_t item) {
  switch (static_cast<Command>(item)) {
    case Command::kReadMeasurement:
      return kOverheadBytes + kMeasurementBytes;
    case Command::kReadCurrent:
      return kOverheadBytes + kCurrentBytes;
    case Command::kReadTemperature:
      return kOverheadBytes + kTemperatureBytes;
    default:
      return 0;
  }
}

double sweepWireLimitMs(const SweepShape& shape, std::uint32_t baud) {
  constexpr std::size_t kGroupRequestChars = kOverheadBytes + 4 + 1;
  std::size_t chars = kOverheadBytes + 1 + 1;  // SAMPLE + gap
  for (const std::size_t run : shape.module_runs) {
    const std::size_t requests = (run + kMaxGroupCount - 1) / kMaxGroupCount;
    chars += requests * kGroupRequestChars +
             run * (slotFrameBytes(static_cast<std::uint8_t>(Command::kReadMeasurement)) + 1);
  }
  if (shape.current_sensors > 0) {
    const std::size_t requests = (shape.current_sensors + kMaxGroupCount - 1) / kMaxGroupCount;
    chars += requests * kGroupRequestChars +
             shape.current_sensors *
                 (slotFrameBytes(static_cast<std::uint8_t>(Command::kReadCurrent)) + 1);
  }
  if (shape.ambient) {
    chars += (kOverheadBytes + 1) + (kOverheadBytes + kTemperatureBytes + 1);
  }
  return static_cast<double>(chars) * charUs(baud) / 1000.0 + kSampleLatchMs;
}

}  // namespace equalis::bus::proto
