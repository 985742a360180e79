// Commissioning against the device-side responder, connected synchronously (no pty, no timing):
// chain order, serial numbers, SEARCH with collisions, and a replaced module found by its serial.
#include "bus/commissioning.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "bus/responder.hpp"

namespace equalis::bus {
namespace {

// Every frame written goes to the responder; its replies are there to read at once.
class ResponderTransport final : public Transport {
 public:
  explicit ResponderTransport(LineResponder& r) : responder_(r) {}
  Status open() override {
    open_ = true;
    return {};
  }
  void close() override { open_ = false; }
  bool isOpen() const override { return open_; }
  Status write(std::span<const std::uint8_t> bytes) override {
    std::vector<Transmission> out;
    responder_.receive(bytes, 0, out);
    for (const auto& t : out) {
      input_.insert(input_.end(), t.bytes.begin(), t.bytes.end());
    }
    return {};
  }
  Result<std::size_t> read(std::span<std::uint8_t> buffer, SteadyTime) override {
    const std::size_t n = std::min(buffer.size(), input_.size());
    std::copy_n(input_.begin(), n, buffer.begin());
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  void discardInput() override { input_.clear(); }
  std::string describe() const override { return "responder"; }
  std::uint32_t baud() const override { return 115200; }

 private:
  LineResponder& responder_;
  bool open_ = false;
  std::deque<std::uint8_t> input_;
};

// Values do not matter here: a backend that answers every read.
class Values final : public Backend {
 public:
  std::size_t stringCount() const override { return 1; }
  std::size_t blockCount(std::size_t) const override { return 6; }
  Result<ModuleReading> readModule(std::size_t, std::size_t) override {
    return ModuleReading{13'600, 250, 4000, 0};
  }
  Result<StringSensorReading> readStringSensor(std::size_t) override {
    return StringSensorReading{0, 0};
  }
  Result<std::int16_t> readAmbientDc() override { return std::int16_t{250}; }
  Status writeBypass(std::size_t, std::size_t, std::uint8_t) override { return {}; }
};

struct Line {
  Values values;
  LineResponder responder{{LineString{0, 6, 1, false}}, false, 115200, values};
  LineMaster master{std::make_unique<ResponderTransport>(responder), [] {
                      LineOptions o;
                      o.retries = 0;
                      return o;
                    }()};
};

TEST(Commissioning, AddressesInChainOrderUntilTheChainEnds) {
  Line line;
  auto modules = assignInChainOrder(line.master, 1, 100);
  ASSERT_TRUE(modules.ok()) << modules.error().message;
  ASSERT_EQ(modules->size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    EXPECT_EQ((*modules)[k].address, k + 1);
    EXPECT_EQ((*modules)[k].serial, line.responder.serialOf(k));  // chain order
    EXPECT_EQ(line.responder.addressOf(k), k + 1);
  }
  // Start at 100: the same chain, other addresses.
  modules = assignInChainOrder(line.master, 100, 3);
  ASSERT_TRUE(modules.ok());
  ASSERT_EQ(modules->size(), 3u);
  EXPECT_EQ(line.responder.addressOf(2), 102);
  EXPECT_EQ(readInfo(line.master, 102)->serial, line.responder.serialOf(2));
}

TEST(Commissioning, AssignsBySerial) {
  Line line;
  const std::uint32_t serial = line.responder.serialOf(4);
  auto info = assignBySerial(line.master, serial, 300);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->address, 300);
  EXPECT_EQ(info->serial, serial);
  EXPECT_EQ(line.responder.addressOf(4), 300);
  EXPECT_EQ(readInfo(line.master, 300)->serial, serial);
  EXPECT_FALSE(readInfo(line.master, 5).ok());  // its old address is free
  EXPECT_FALSE(assignBySerial(line.master, 12345, 301).ok());
}

TEST(Commissioning, FindsAReplacedModuleAndGivesItItsPlace) {
  Line line;
  std::vector<std::pair<std::uint16_t, std::uint32_t>> stored;
  for (std::size_t k = 0; k < 6; ++k) {
    stored.emplace_back(static_cast<std::uint16_t>(k + 1), line.responder.serialOf(k));
  }
  for (const auto& c : checkSerials(line.master, stored)) {
    EXPECT_EQ(c.outcome, SerialCheck::Outcome::kSame);
  }
  // Module 3 (address 3) is swapped for a new one from the shelf.
  line.responder.replaceModule(2, 0x0BADF00D);
  auto checks = checkSerials(line.master, stored);
  EXPECT_EQ(checks[2].outcome, SerialCheck::Outcome::kMissing);
  EXPECT_EQ(checks[1].outcome, SerialCheck::Outcome::kSame);
  const auto found = searchUnaddressed(line.master);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], 0x0BADF00Du);
  // Its predecessor is addressed, so its chain input is active: it takes the free address.
  auto info = assignNext(line.master, 3);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->serial, 0x0BADF00Du);
  checks = checkSerials(line.master, stored);
  EXPECT_EQ(checks[2].outcome, SerialCheck::Outcome::kReplaced);
  EXPECT_EQ(checks[2].found_serial, 0x0BADF00Du);
}

TEST(Commissioning, SearchBisectsCollisions) {
  Line line;
  line.responder.replaceModule(1, 0x10000000);
  line.responder.replaceModule(4, 0x10000001);  // two new modules with neighbouring serials
  auto found = searchUnaddressed(line.master);
  std::sort(found.begin(), found.end());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], 0x10000000u);
  EXPECT_EQ(found[1], 0x10000001u);
  EXPECT_GT(line.master.counters().crc_errors + line.master.counters().malformed, 0u);
  // Both get addresses by serial.
  EXPECT_TRUE(assignBySerial(line.master, found[0], 2).ok());
  EXPECT_TRUE(assignBySerial(line.master, found[1], 5).ok());
  EXPECT_TRUE(searchUnaddressed(line.master).empty());
}

TEST(Commissioning, ScanReadsAddressesUntilARunOfMisses) {
  Line line;
  auto found = scanAddresses(line.master, 1, 100, 3);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    EXPECT_EQ((*found)[k].address, k + 1);
    EXPECT_EQ((*found)[k].serial, line.responder.serialOf(k));
  }
  // 6 answers, then 3 misses: addresses 7 … 9 asked, no more.
  EXPECT_EQ(line.master.counters().timeouts, 3u);

  // A gap shorter than the run goes unnoticed; a longer one ends the scan.
  ASSERT_TRUE(assignBySerial(line.master, line.responder.serialOf(5), 8).ok());  // 1 … 5, 8
  found = scanAddresses(line.master, 1, 100, 3);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 6u);
  EXPECT_EQ(found->back().address, 8);
  found = scanAddresses(line.master, 1, 100, 2);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 5u);
  // 0: to the last address, whatever the gaps; the range is inclusive.
  found = scanAddresses(line.master, 2, 9, 0);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 5u);
  EXPECT_EQ(found->front().address, 2);
}

TEST(Commissioning, ResponderStartsUnaddressedOrWithAModuleReplacedInPlace) {
  Line line;
  line.responder.forgetAddresses();
  auto found = scanAddresses(line.master, 1, 10, 0);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
  EXPECT_EQ(searchUnaddressed(line.master).size(), 6u);
  ASSERT_TRUE(assignInChainOrder(line.master, 1, 100).ok());

  const auto index = line.responder.moduleIndex(0, 2);
  ASSERT_TRUE(index);
  EXPECT_EQ(*index, 2u);
  EXPECT_FALSE(line.responder.moduleIndex(1, 0));
  line.responder.replaceModule(*index, 0x45520003, true);  // addressed at the bench
  EXPECT_EQ(readInfo(line.master, 3)->serial, 0x45520003u);
  EXPECT_TRUE(searchUnaddressed(line.master).empty());
}

TEST(Commissioning, AddressesAndSerialsAsText) {
  EXPECT_EQ(*parseDeviceAddress("1"), 1);
  EXPECT_EQ(*parseDeviceAddress("0x11"), 17);
  EXPECT_EQ(*parseDeviceAddress("0XFFFD"), 0xFFFD);
  EXPECT_EQ(*parseDeviceAddress("65533"), 0xFFFD);
  for (const char* bad : {"0", "0xFFFE", "65534", "0x10000", "99999999999999999999"}) {
    const auto r = parseDeviceAddress(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kOutOfRange) << bad;
  }
  for (const char* bad : {"", "x1", "1x", "-1", "0x", " 1", "0x1g", "1.0"}) {
    const auto r = parseDeviceAddress(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(*parseSerial("0x45510003"), 0x45510003u);
  EXPECT_EQ(*parseSerial("0x0badf00d"), 0x0BADF00Du);
  EXPECT_EQ(*parseSerial("1162936323"), 0x45510003u);
  EXPECT_EQ(*parseSerial("0xFFFFFFFF"), 0xFFFFFFFFu);
  EXPECT_EQ(parseSerial("0x100000000").error().code, ErrorCode::kOutOfRange);
  EXPECT_FALSE(parseSerial("45510003h").ok());
  EXPECT_FALSE(parseSerial("").ok());
  EXPECT_EQ(formatSerial(0x45510003), "0x45510003");
  EXPECT_EQ(formatSerial(0xBADF00D), "0x0BADF00D");
  EXPECT_EQ(*parseSerial(formatSerial(0xDEADBEEF)), 0xDEADBEEFu);
  proto::DeviceInfo info;
  info.firmware_major = 1;
  info.firmware_minor = 12;
  info.firmware_patch = 3;
  EXPECT_EQ(formatFirmware(info), "1.12.3");
}

TEST(Commissioning, UnknownCommandsAndBadLengthsGetErrorReplies) {
  Line line;
  // A command the devices do not implement, raw: the device answers UNKNOWN_COMMAND.
  std::vector<Transmission> out;
  const auto unknown = proto::encode(proto::makeFrame(2, 0x3E, 9, {}));
  line.responder.receive(unknown.span(), 0, out);
  ASSERT_EQ(out.size(), 1u);
  auto f = proto::decode(out[0].bytes);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->isError());
  EXPECT_EQ(f->payload[0], static_cast<std::uint8_t>(proto::DeviceError::kUnknownCommand));
  out.clear();
  const std::uint8_t two[] = {1, 2};
  const auto bad_len = proto::encode(proto::makeFrame(2, 0x20, 10, two));  // WRITE_BYPASS, LEN 2
  line.responder.receive(bad_len.span(), 0, out);
  ASSERT_EQ(out.size(), 1u);
  f = proto::decode(out[0].bytes);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->payload[0], static_cast<std::uint8_t>(proto::DeviceError::kBadLength));
  // A broadcast is never answered, a corrupted frame neither.
  out.clear();
  auto corrupted = proto::encode(proto::makeFrame(2, 0x01, 11, {}));
  corrupted.bytes[3] ^= 0x01;
  line.responder.receive(corrupted.span(), 0, out);
  const auto bcast = proto::encode(proto::makeFrame(0, 0x01, 12, {}));
  line.responder.receive(bcast.span(), 0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(line.responder.stats().bad_frames, 1u);
}

}  // namespace
}  // namespace equalis::bus
