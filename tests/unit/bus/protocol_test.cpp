#include "bus/protocol.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace equalis::bus::proto {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes hex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size() + 1; i += 3) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes bytesOf(const Encoded& e) {
  return {e.bytes.begin(), e.bytes.begin() + static_cast<std::ptrdiff_t>(e.size)};
}

Bytes frameBytes(std::uint16_t addr, std::uint8_t cmd, std::uint8_t seq, const Payload& p) {
  return bytesOf(encode(makeFrame(addr, cmd, seq, p)));
}

constexpr std::uint8_t reply(Command c) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(c) | kReplyFlag);
}
constexpr std::uint8_t request(Command c) {
  return static_cast<std::uint8_t>(c);
}

// ---- CRC test vectors (docs/module-bus.md §2.1) ----

TEST(ModuleBusCrc, TestVectors) {
  const std::string check = "123456789";
  EXPECT_EQ(crc16({reinterpret_cast<const std::uint8_t*>(check.data()), check.size()}), 0x4B37);
  EXPECT_EQ(crc16(hex("01 03 00 00 00 01")), 0x0A84);
  EXPECT_EQ(crc16({}), 0xFFFF);
}

TEST(ModuleBusCrc, WholeFrameChecksToZero) {
  const Bytes f = frameBytes(7, reply(Command::kReadMeasurement), 9,
                             encodeMeasurement({13612, 253, 4210, 40, 0, 3}));
  EXPECT_EQ(crc16(f), 0);
}

// ---- Documented frames ----

TEST(ModuleBusFrame, DocumentedFramesEncodeAndDecode) {
  EXPECT_EQ(frameBytes(kBroadcast, request(Command::kSample), 1, {3}),
            hex("A5 00 00 10 01 01 03 FA 9B"));
  EXPECT_EQ(frameBytes(kBroadcast, request(Command::kReadGroup), 2,
                       encodeGroupRead({1, 60, request(Command::kReadMeasurement)})),
            hex("A5 00 00 03 02 04 01 00 3C 02 34 8A"));
  const Bytes measurement = hex("A5 07 00 82 02 08 2C 35 FD 00 72 10 28 30 17 99");
  EXPECT_EQ(frameBytes(7, reply(Command::kReadMeasurement), 2,
                       encodeMeasurement({13612, 253, 4210, 40, 0, 3})),
            measurement);
  const auto f = decode(measurement);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->address, 7);
  EXPECT_EQ(f->sequence, 2);
  const auto m = decodeMeasurement(f->data());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->voltage_mv, 13612);
  EXPECT_EQ(m->temperature_dc, 253);
  EXPECT_EQ(m->ri_uohm, 4210);
  EXPECT_EQ(m->bypass_duty_pct, 40);
  EXPECT_EQ(m->sample_tag, 3);
  EXPECT_EQ(m->flags, 0);
  const Bytes error = hex("A5 07 00 C1 05 01 01 02 10");
  EXPECT_EQ(frameBytes(7, request(Command::kReadInfo) | kReplyFlag | kErrorFlag, 5, {1}), error);
  const auto e = decode(error);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->isError());
  EXPECT_EQ(e->baseCommand(), request(Command::kReadInfo));
}

// ---- Every frame type round-trips ----

struct Case {
  std::uint16_t address;
  std::uint8_t command;
  Payload payload;
};

std::vector<Case> everyFrameType() {
  const DeviceInfo info{0xDEADBEEF, 1, 2, 3, 3, 42};
  return {
      {42, request(Command::kReadInfo), {}},
      {42, reply(Command::kReadInfo), encodeInfo(info)},
      {42, request(Command::kReadMeasurement), {}},
      {42, reply(Command::kReadMeasurement),
       encodeMeasurement({-1234, -205, 65535, 100, kFlagRestarted | kFlagRiInvalid, 15})},
      {kBroadcast, request(Command::kReadGroup),
       encodeGroupRead({0xEFFF, 255, request(Command::kReadCurrent)})},
      {0xF003, request(Command::kReadCurrent), {}},
      {0xF003, reply(Command::kReadCurrent), encodeCurrent({-2'000'000'000, 123'456, 1, 7})},
      {kAmbientSensor, request(Command::kReadTemperature), {}},
      {kAmbientSensor, reply(Command::kReadTemperature), encodeTemperature({-400, 4, 2})},
      {kBroadcast, request(Command::kSample), {15}},
      {kBroadcast, request(Command::kSetTarget), encodeSetTarget({61, 120, 13620})},
      {kBroadcast, request(Command::kTimeSync), encodeTimeSync(1'767'225'600'123ULL)},
      {42, request(Command::kWriteBypass), {55}},
      {42, reply(Command::kWriteBypass), {55}},
      {42, request(Command::kUnassign), {}},
      {42, reply(Command::kUnassign), {}},
      {kUnaddressed, request(Command::kAssignNext), encodeU16(17)},
      {17, reply(Command::kAssignNext), encodeInfo(info)},
      {kBroadcast, request(Command::kAssignSerial), encodeAssignSerial({0xDEADBEEF, 9})},
      {9, reply(Command::kAssignSerial), encodeInfo(info)},
      {kUnaddressed, request(Command::kSearch), encodeSearch({0, 0x7FFFFFFF})},
      {5, reply(Command::kSearch), encodeInfo(info)},
      {5, static_cast<std::uint8_t>(reply(Command::kWriteBypass) | kErrorFlag), {3}},
  };
}

TEST(ModuleBusFrame, EveryFrameTypeRoundTrips) {
  std::uint8_t seq = 0;
  for (const auto& c : everyFrameType()) {
    ++seq;
    const Frame in = makeFrame(c.address, c.command, seq, c.payload);
    const Bytes wire = bytesOf(encode(in));
    ASSERT_EQ(wire.size(), kOverheadBytes + c.payload.size());
    const auto out = decode(wire);
    ASSERT_TRUE(out.ok()) << std::hex << int{c.command} << ": " << out.error().message;
    EXPECT_EQ(out->address, c.address);
    EXPECT_EQ(out->command, c.command);
    EXPECT_EQ(out->sequence, seq);
    EXPECT_EQ(Payload(out->data().begin(), out->data().end()), c.payload);
  }
}

TEST(ModuleBusFrame, PayloadsRoundTrip) {
  const Measurement m{-32768, 32767, 1, 0, kFlagMeasurementFault, 9};
  const auto m2 = decodeMeasurement(encodeMeasurement(m));
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(m2->voltage_mv, m.voltage_mv);
  EXPECT_EQ(m2->temperature_dc, m.temperature_dc);
  EXPECT_EQ(m2->ri_uohm, 1);
  EXPECT_EQ(m2->flags, kFlagMeasurementFault);
  EXPECT_EQ(m2->sample_tag, 9);
  const auto c = decodeCurrent(encodeCurrent({-5, 2'147'483'647, 2, 1}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->current_ma, -5);
  EXPECT_EQ(c->ac_current_ma, 2'147'483'647);
  EXPECT_EQ(c->flags, 2);
  EXPECT_EQ(c->sample_tag, 1);
  const auto t = decodeTemperature(encodeTemperature({-123, 0, 14}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->temperature_dc, -123);
  EXPECT_EQ(t->sample_tag, 14);
  const auto i = decodeInfo(encodeInfo({0x01020304, 9, 8, 7, 0x40, 0xF001}));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->serial, 0x01020304u);
  EXPECT_EQ(i->firmware_major, 9);
  EXPECT_EQ(i->firmware_patch, 7);
  EXPECT_EQ(i->device_type, 0x40);
  EXPECT_EQ(i->address, 0xF001);
  const auto g = decodeGroupRead(encodeGroupRead({300, 200, request(Command::kReadMeasurement)}));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->first, 300);
  EXPECT_EQ(g->count, 200);
  const auto st = decodeSetTarget(encodeSetTarget({1, 60, 13620}));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->last, 60);
  EXPECT_EQ(st->target_mv, 13620);
  const auto ts = decodeTimeSync(encodeTimeSync(0x0102030405060708ULL));
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(*ts, 0x0102030405060708ULL);
  const auto as = decodeAssignSerial(encodeAssignSerial({77, 3}));
  ASSERT_TRUE(as.ok());
  EXPECT_EQ(as->serial, 77u);
  EXPECT_EQ(as->address, 3);
  const auto sr = decodeSearch(encodeSearch({5, 6}));
  ASSERT_TRUE(sr.ok());
  EXPECT_EQ(sr->serial_hi, 6u);
}

TEST(ModuleBusFrame, PayloadDecodersRejectBadLengthsAndValues) {
  EXPECT_FALSE(decodeMeasurement(Payload(7)).ok());
  EXPECT_FALSE(decodeMeasurement(Payload(9)).ok());
  Payload m = encodeMeasurement({});
  m[6] = 101;  // duty above 100 %
  EXPECT_FALSE(decodeMeasurement(m).ok());
  EXPECT_FALSE(decodeCurrent(Payload(8)).ok());
  EXPECT_FALSE(decodeTemperature(Payload(2)).ok());
  EXPECT_FALSE(decodeInfo(Payload(11)).ok());
  EXPECT_FALSE(decodeGroupRead(encodeGroupRead({1, 0, 2})).ok());     // count 0
  EXPECT_FALSE(decodeGroupRead(encodeGroupRead({1, 5, 0x20})).ok());  // no slots for writes
  EXPECT_FALSE(decodeU16(Payload(3)).ok());
}

// ---- Corruption: every single-bit flip and every truncation is rejected ----

TEST(ModuleBusFrame, EverySingleBitFlipIsRejected) {
  int frames = 0;
  for (const auto& c : everyFrameType()) {
    const Bytes wire = frameBytes(c.address, c.command, 0x5A, c.payload);
    for (std::size_t byte = 0; byte < wire.size(); ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes bad = wire;
        bad[byte] = static_cast<std::uint8_t>(bad[byte] ^ (1u << bit));
        EXPECT_FALSE(decode(bad).ok()) << "byte " << byte << " bit " << bit;
        EXPECT_FALSE(decode(bad, false).ok()) << "byte " << byte << " bit " << bit;
        // The streaming parser drops it too, and reports it.
        FrameParser p;
        p.push(bad);
        Frame f;
        EXPECT_FALSE(p.next(f)) << "byte " << byte << " bit " << bit;
        p.reset();
        const auto& s = p.stats();
        EXPECT_EQ(s.frames, 0u);
        EXPECT_GT(s.crc_errors + s.malformed + s.noise_bytes + s.truncated, 0u);
      }
    }
    ++frames;
  }
  EXPECT_EQ(frames, static_cast<int>(everyFrameType().size()));
}

TEST(ModuleBusFrame, EveryTruncationIsRejected) {
  for (const auto& c : everyFrameType()) {
    const Bytes wire = frameBytes(c.address, c.command, 3, c.payload);
    for (std::size_t n = 0; n < wire.size(); ++n) {
      const Bytes cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_FALSE(decode(cut).ok()) << n;
      FrameParser p;
      p.push(cut);
      Frame f;
      EXPECT_FALSE(p.next(f)) << n;
      p.reset();
      if (n > 0) {
        EXPECT_EQ(p.stats().truncated, 1u) << n;
      }
    }
    Bytes longer = wire;
    longer.push_back(0);
    EXPECT_FALSE(decode(longer).ok());
  }
}

TEST(ModuleBusFrame, StrictDecodeRejectsLengthsOutsideTheTable) {
  // A measurement reply with a 7-byte payload, valid CRC: only the lenient decoder takes it.
  const Bytes wire = frameBytes(7, reply(Command::kReadMeasurement), 1, Payload(7, 0));
  EXPECT_FALSE(decode(wire).ok());
  EXPECT_TRUE(decode(wire, false).ok());
  const Bytes unknown = frameBytes(7, 0x3E, 1, {});
  EXPECT_FALSE(decode(unknown).ok());
  EXPECT_TRUE(decode(unknown, false).ok());
  EXPECT_FALSE(expectedPayloadBytes(request(Command::kReadInfo) | kErrorFlag).has_value());
}

// ---- Streaming parser ----

TEST(ModuleBusParser, SplitsAStreamByteByByte) {
  Bytes stream;
  for (std::uint8_t seq = 0; seq < 20; ++seq) {
    const Bytes f =
        frameBytes(static_cast<std::uint16_t>(seq + 1), reply(Command::kReadMeasurement), seq,
                   encodeMeasurement({13000, 250, 5000, seq, 0, 1}));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  FrameParser p;
  int got = 0;
  for (const std::uint8_t b : stream) {
    p.push({&b, 1});
    Frame f;
    while (p.next(f)) {
      EXPECT_EQ(f.address, got + 1);
      EXPECT_EQ(f.sequence, got);
      ++got;
    }
  }
  EXPECT_EQ(got, 20);
  EXPECT_EQ(p.stats().frames, 20u);
  EXPECT_EQ(p.stats().crc_errors, 0u);
  EXPECT_EQ(p.stats().noise_bytes, 0u);
}

TEST(ModuleBusParser, ResynchronisesAfterGarbageAndFalseStarts) {
  const Bytes good = frameBytes(3, reply(Command::kReadMeasurement), 4,
                                encodeMeasurement({13000, 250, 5000, 10, 0, 1}));
  Bytes stream = {0x00, 0xFF, 0x13};
  // A false start whose header is plausible (a measurement reply) swallowing the real frame's
  // first bytes: the parser must find the real frame after the CRC fails.
  const Bytes false_start = {kSof, 0x03, 0x00, reply(Command::kReadMeasurement), 0x04, 0x08};
  stream.insert(stream.end(), false_start.begin(), false_start.end());
  stream.insert(stream.end(), good.begin(), good.end());
  stream.push_back(kSof);  // a lone SOF with an impossible length
  stream.push_back(0x00);
  stream.push_back(0x00);
  stream.push_back(0x83);
  stream.push_back(0x00);
  stream.push_back(200);
  stream.insert(stream.end(), good.begin(), good.end());
  FrameParser p;
  p.push(stream);
  Frame f;
  int got = 0;
  while (p.next(f)) {
    EXPECT_EQ(f.address, 3);
    ++got;
  }
  EXPECT_EQ(got, 2);
  EXPECT_GE(p.stats().crc_errors, 1u);
  EXPECT_GE(p.stats().malformed, 1u);
  EXPECT_GE(p.stats().noise_bytes, 3u);
}

TEST(ModuleBusParser, BoundedBufferUnderEndlessNoise) {
  FrameParser p;
  const Bytes noise(10'000, 0x11);
  p.push(noise);
  p.push(noise);
  Frame f;
  EXPECT_FALSE(p.next(f));
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_EQ(p.stats().noise_bytes, 20'000u);
}

// ---- Wire limit (docs/module-bus.md §9) ----

TEST(ModuleBusTiming, SweepWireLimitOfTheDocumentedPlant) {
  SweepShape shape;
  shape.module_runs = {600};
  shape.current_sensors = 10;
  shape.ambient = true;
  // 10 463 characters at 86.806 µs + 2 ms.
  EXPECT_NEAR(sweepWireLimitMs(shape, 115200), 10463 * 1e4 / 115200.0 + 2.0, 1e-6);
  EXPECT_NEAR(sweepWireLimitMs(shape, 115200), 910.25, 0.01);
  EXPECT_EQ(slotFrameBytes(request(Command::kReadMeasurement)), 16u);
  EXPECT_EQ(slotFrameBytes(request(Command::kReadCurrent)), 17u);
  EXPECT_EQ(slotFrameBytes(request(Command::kReadTemperature)), 11u);
  EXPECT_EQ(slotFrameBytes(request(Command::kWriteBypass)), 0u);
}

}  // namespace
}  // namespace equalis::bus::proto
