// The address ↔ serial map equalisd keeps in modules.json: what a fresh READ_INFO means against
// the stored entry, and the file's text form (round trip, damaged files, another layout).
#include "bus/module_map.hpp"

#include <gtest/gtest.h>

namespace equalis::bus {
namespace {

ModuleIdentity module(std::size_t s, std::size_t b, std::uint16_t address, std::uint32_t serial) {
  ModuleIdentity m;
  m.string_index = s;
  m.block_index = b;
  m.address = address;
  m.serial = serial;
  m.firmware_major = 1;
  m.device_type = 3;
  m.line = "serial:/dev/ttyUSB0:115200";
  m.since_ms = 1000;
  return m;
}

using Kind = ModuleMap::Change::Kind;

TEST(ModuleMap, TellsNewSameReplacedFirmwareAndMoved) {
  ModuleMap map({3, 2});
  EXPECT_EQ(map.known(), 0u);
  auto c = map.update(module(0, 2, 3, 0x45510003));
  EXPECT_EQ(c.kind, Kind::kNew);
  EXPECT_FALSE(c.before);
  EXPECT_EQ(map.known(), 1u);

  // Read again later: the same module keeps the time it was first seen.
  auto again = module(0, 2, 3, 0x45510003);
  again.since_ms = 5000;
  c = map.update(again);
  EXPECT_EQ(c.kind, Kind::kSame);
  EXPECT_EQ(map.at(0, 2)->since_ms, 1000);

  auto updated = module(0, 2, 3, 0x45510003);
  updated.firmware_minor = 2;
  updated.since_ms = 6000;
  c = map.update(updated);
  EXPECT_EQ(c.kind, Kind::kFirmware);
  EXPECT_EQ(c.before->firmware(), "1.0.0");
  EXPECT_EQ(map.at(0, 2)->firmware(), "1.2.0");
  EXPECT_EQ(map.at(0, 2)->since_ms, 1000);

  auto swapped = module(0, 2, 3, 0x45520003);
  swapped.since_ms = 7000;
  c = map.update(swapped);
  EXPECT_EQ(c.kind, Kind::kReplaced);
  EXPECT_EQ(c.before->serial, 0x45510003u);
  EXPECT_EQ(map.at(0, 2)->serial, 0x45520003u);
  EXPECT_EQ(map.at(0, 2)->since_ms, 7000);
  EXPECT_STREQ(changeKindName(c.kind), "replaced");

  // The configuration put the block at another address: not a replacement, whatever the serial.
  c = map.update(module(0, 2, 40, 0x99999999));
  EXPECT_EQ(c.kind, Kind::kMoved);

  // Outside the layout: ignored.
  c = map.update(module(5, 0, 1, 1));
  EXPECT_EQ(c.kind, Kind::kSame);
  EXPECT_FALSE(map.at(5, 0));
  EXPECT_EQ(map.known(), 1u);
}

TEST(ModuleMap, RoundTripsThroughItsFile) {
  ModuleMap map({3, 2});
  map.update(module(0, 0, 1, 0x45510001));
  auto m = module(1, 1, 5, 0x455103EA);
  m.firmware_major = 2;
  m.firmware_minor = 10;
  m.firmware_patch = 255;
  map.update(m);
  const auto text = map.serialize();
  EXPECT_NE(text.find("\"serial\": \"0x455103EA\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"firmware\": \"2.10.255\""), std::string::npos) << text;
  auto back = ModuleMap::parse(text, {3, 2});
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->known(), 2u);
  const auto entries = back->entries();
  EXPECT_EQ(entries[0].serial, 0x45510001u);
  EXPECT_EQ(entries[1].string_index, 1u);
  EXPECT_EQ(entries[1].block_index, 1u);
  EXPECT_EQ(entries[1].address, 5);
  EXPECT_EQ(entries[1].firmware(), "2.10.255");
  EXPECT_EQ(entries[1].device_type, 3);
  EXPECT_EQ(entries[1].line, "serial:/dev/ttyUSB0:115200");
  EXPECT_EQ(entries[1].since_ms, 1000);
  EXPECT_EQ(back->serialize(), text);

  // A smaller plant now: the entries of blocks it no longer has are dropped.
  auto smaller = ModuleMap::parse(text, {3, 1});
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ(smaller->known(), 1u);
}

TEST(ModuleMap, RejectsWhatIsNotAModuleMap) {
  const std::vector<std::size_t> layout{4};
  EXPECT_FALSE(ModuleMap::parse("", layout).ok());
  EXPECT_FALSE(ModuleMap::parse("{\"modules\": []}", layout).ok());  // no format
  // A format that is not text is an error, not an exception (found by the state_files fuzzer).
  EXPECT_FALSE(ModuleMap::parse("{\"format\": 22222.2078690182}", layout).ok());
  EXPECT_FALSE(
      ModuleMap::parse("{\"format\": \"equalis-modules 2\", \"modules\": []}", layout).ok());
  EXPECT_TRUE(
      ModuleMap::parse("{\"format\": \"equalis-modules 1\", \"modules\": []}", layout).ok());
  const auto with = [&](const std::string& entry) {
    return ModuleMap::parse("{\"format\": \"equalis-modules 1\", \"modules\": [" + entry + "]}",
                            layout);
  };
  EXPECT_TRUE(with(R"({"string": 1, "block": 2, "address": 2, "serial": "0x10"})").ok());
  EXPECT_FALSE(with(R"({"string": 1, "block": 2, "address": 2, "serial": 16})").ok());
  EXPECT_FALSE(with(R"({"string": 0, "block": 2, "address": 2, "serial": "0x10"})").ok());
  EXPECT_FALSE(with(R"({"string": 1, "block": 2, "address": 65534, "serial": "0x10"})").ok());
  EXPECT_FALSE(with(R"({"string": 1, "block": 2, "address": 2, "serial": "x10"})").ok());
  EXPECT_FALSE(
      with(R"({"string": 1, "block": 2, "address": 2, "serial": "0x10", "firmware": "1.x"})").ok());
  EXPECT_FALSE(
      with(R"({"string": 1, "block": 2, "address": 2, "serial": "0x10", "firmware": "1.2.3.4"})")
          .ok());
  EXPECT_FALSE(
      with(R"({"string": 1, "block": 2, "address": 2, "serial": "0x10", "firmware": "1.2.300"})")
          .ok());
  const auto error = with(R"({"block": 2})");
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.error().message.find("entry 1"), std::string::npos) << error.error().message;
}

}  // namespace
}  // namespace equalis::bus
