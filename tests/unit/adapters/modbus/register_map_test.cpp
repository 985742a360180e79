#include "adapters/modbus/register_map.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "adapters/common/alarm_text.hpp"

namespace equalis::modbus {
namespace {

using model::PointId;
using model::Quality;
using state::StateStore;

constexpr TimeMs kT = 1'767'225'600'000;

const SectionDef& section(model::Scope scope, std::uint16_t base) {
  for (const auto& s : registerLayout()) {
    if (s.scope == scope && s.base == base) {
      return s;
    }
  }
  throw std::logic_error("no such section");
}

const FieldDef* fieldAt(const SectionDef& s, std::uint16_t offset) {
  for (const auto& f : s.fields) {
    if (f.offset == offset) {
      return &f;
    }
  }
  return nullptr;
}

TEST(ModbusLayout, KeepsTheSeedRegisters) {
  const auto& general = section(model::Scope::kSystem, 1000);
  ASSERT_NE(fieldAt(general, 0), nullptr);
  EXPECT_EQ(fieldAt(general, 0)->kind, FieldKind::kGeneralFlags);
  EXPECT_EQ(fieldAt(general, 3)->point, PointId::kSystemStringCount);
  EXPECT_EQ(fieldAt(general, 4)->point, PointId::kSystemModuleCount);
  const auto& seed = section(model::Scope::kString, 1010);
  EXPECT_EQ(seed.string_stride, 5);
  EXPECT_EQ(seed.instances, 10);
  EXPECT_EQ(fieldAt(seed, 0)->point, PointId::kStringCurrentA);
  EXPECT_EQ(fieldAt(seed, 1)->point, PointId::kStringVoltageV);
  EXPECT_EQ(fieldAt(seed, 2)->kind, FieldKind::kStringAvgVoltage);
  EXPECT_EQ(fieldAt(seed, 3)->point, PointId::kStringAcCurrentA);
  EXPECT_EQ(fieldAt(seed, 4), nullptr);  // reserved
  for (const auto& f : seed.fields) {
    EXPECT_EQ(f.encoding, Encoding::kInt16) << f.name;  // the seed's string block is signed
  }
}

TEST(ModbusLayout, SectionsDoNotOverlapAndFitTheAddressSpace) {
  // Full plant: 10 strings × 600 blocks.
  std::map<std::uint32_t, std::string> owner;
  for (const auto& s : registerLayout()) {
    const int strings = s.instances;
    const int blocks = s.scope == model::Scope::kBlock ? kMaxBlocksPerString : 1;
    EXPECT_LE(s.fields.size(), 32u);
    for (const auto& f : s.fields) {
      EXPECT_LE(f.offset + f.words(), s.size) << s.name << " " << f.name;
    }
    for (int n = 0; n < strings; ++n) {
      for (int b = 0; b < blocks; ++b) {
        const std::uint32_t base = s.base + static_cast<std::uint32_t>(n) * s.string_stride +
                                   static_cast<std::uint32_t>(b) * s.block_stride;
        for (std::uint32_t o = 0; o < s.size; ++o) {
          ASSERT_LT(base + o, 65536u) << s.name;
          const auto [it, inserted] = owner.emplace(base + o, s.name);
          ASSERT_TRUE(inserted) << base + o << " in " << s.name << " and " << it->second;
        }
      }
    }
  }
  RegisterMap full(std::vector<int>(10, 600));
  EXPECT_EQ(full.registerCount(), owner.size());
}

TEST(ModbusLayout, EveryCataloguePointIsMappedOrExcluded) {
  std::set<PointId> mapped;
  for (const auto& s : registerLayout()) {
    for (const auto& f : s.fields) {
      if (f.kind == FieldKind::kPoint) {
        mapped.insert(f.point);
      }
    }
  }
  std::set<PointId> excluded;
  for (const auto& e : excludedPoints()) {
    excluded.insert(e.point);
    EXPECT_FALSE(mapped.contains(e.point)) << model::point(e.point).name;
  }
  for (const auto& def : model::catalogue()) {
    EXPECT_TRUE(mapped.contains(def.id) || excluded.contains(def.id)) << def.name;
  }
}

TEST(ModbusLayout, BlockRecordHasQualityAndAge) {
  const auto& blocks = section(model::Scope::kBlock, kBlockBase);
  EXPECT_EQ(fieldAt(blocks, 0)->point, PointId::kBlockVoltageV);
  EXPECT_EQ(fieldAt(blocks, 0)->unit, "0.001 V");
  EXPECT_EQ(fieldAt(blocks, 1)->point, PointId::kBlockTemperatureC);
  EXPECT_EQ(fieldAt(blocks, 2)->point, PointId::kBlockRiMohm);
  EXPECT_EQ(fieldAt(blocks, 7)->kind, FieldKind::kQualityFlags);
  EXPECT_EQ(fieldAt(blocks, 8)->kind, FieldKind::kAgeS);
  // Scales come from the catalogue.
  for (const auto& f : blocks.fields) {
    if (f.kind == FieldKind::kPoint) {
      EXPECT_EQ(f.scale, model::point(f.point).protocol_scale) << f.name;
    }
  }
}

TEST(ModbusEncoding, ScalesRoundsAndUsesSentinels) {
  EXPECT_EQ(encodeSample({13.6149, kT, Quality::kOk}, Encoding::kInt16, 1000), 13615u);
  EXPECT_EQ(encodeSample({-25.5, kT, Quality::kOk}, Encoding::kInt16, 10), 0xFF01u);  // -255
  EXPECT_EQ(encodeSample({-25.5, kT, Quality::kOk}, Encoding::kInt32, 100), 0xFFFF'F60Au);
  EXPECT_EQ(encodeSample({435.2, kT, Quality::kOk}, Encoding::kInt32, 100), 43520u);
  for (const auto q :
       {Quality::kStale, Quality::kCommLost, Quality::kInvalid, Quality::kNotPresent}) {
    EXPECT_EQ(encodeSample({13.6, kT, q}, Encoding::kInt16, 1000), kSentinelInt16);
    EXPECT_EQ(encodeSample({3, kT, q}, Encoding::kUint16, 1), kSentinelUint16);
    EXPECT_EQ(encodeSample({3, kT, q}, Encoding::kInt32, 1), kSentinelInt32);
    EXPECT_EQ(encodeSample({3, kT, q}, Encoding::kUint32, 1), kSentinelUint32);
  }
  EXPECT_EQ(encodeSample({std::nan(""), kT, Quality::kOk}, Encoding::kInt16, 1), kSentinelInt16);
  EXPECT_EQ(encodeSample({1.0, 0, Quality::kOk}, Encoding::kInt16, 1), kSentinelInt16);
  bool oor = false;
  EXPECT_EQ(encodeSample({435.2, kT, Quality::kOk}, Encoding::kInt16, 100, &oor), kSentinelInt16);
  EXPECT_TRUE(oor);
  EXPECT_EQ(encodeSample({-1, kT, Quality::kOk}, Encoding::kUint16, 1, &oor), kSentinelUint16);
  EXPECT_TRUE(oor);
  EXPECT_EQ(encodeSample({-32.767, kT, Quality::kOk}, Encoding::kInt16, 1000, &oor), 0x8001u);
  EXPECT_FALSE(oor);
}

class ModbusMapTest : public ::testing::Test {
 protected:
  StateStore store_{{2, 3}, 30'000};
  RegisterMap map_{{2, 3}};

  std::vector<std::uint16_t> read(std::uint16_t start, std::uint16_t count, TimeMs now = kT) {
    std::vector<std::uint16_t> out(count, 0x5555);
    const StateStore::Reader r(store_, now);
    map_.read(r, start, count, out.data());
    return out;
  }
  void setBlock(std::size_t s, std::size_t b, double v, Quality q, TimeMs t = kT) {
    StateStore::Writer w(store_);
    w.set(PointId::kBlockVoltageV, s, b, {v, t, q});
    w.set(PointId::kBlockTemperatureC, s, b, {25.3, t, q});
    w.set(PointId::kBlockRiMohm, s, b, {4.12, t, q});
    w.set(PointId::kBlockChargePct, s, b, {97.5, t, q});
    w.set(PointId::kBlockEqualizationPct, s, b, {35, t, q});
    w.set(PointId::kBlockEqualizationLevel, s, b, {2, t, q});
    w.set(PointId::kBlockStatus, s, b, {0, t, Quality::kOk});
    w.set(PointId::kBlockEqualizationWhPerDay, s, b, {1.25, t, q});
  }
};

TEST_F(ModbusMapTest, OnlyConfiguredRecordsExist) {
  EXPECT_TRUE(map_.readable(1000, 60));  // general + all 10 seed string slots
  EXPECT_FALSE(map_.readable(1000, 61));
  EXPECT_FALSE(map_.readable(999));
  EXPECT_TRUE(map_.readable(1100, 20));
  EXPECT_FALSE(map_.readable(1120));
  EXPECT_TRUE(map_.readable(2000, 33));
  EXPECT_FALSE(map_.readable(2033));
  EXPECT_TRUE(map_.readable(3000, 12));  // alarm summary and acknowledge register
  EXPECT_FALSE(map_.readable(3012));
  EXPECT_TRUE(map_.readable(3100, 125));  // alarm table: 32 entries × 8
  EXPECT_TRUE(map_.readable(3225, 131));
  EXPECT_FALSE(map_.readable(3356));
  EXPECT_TRUE(map_.readable(2100, 20));
  EXPECT_FALSE(map_.readable(2200));  // string 3 not configured
  EXPECT_TRUE(map_.readable(4000, 20));
  EXPECT_FALSE(map_.readable(4000, 21));  // string 1 has 2 blocks
  EXPECT_TRUE(map_.readable(10000, 30));  // string 2 has 3 blocks
  EXPECT_FALSE(map_.readable(10030));
  EXPECT_FALSE(map_.readable(16000));
  EXPECT_FALSE(map_.readable(65535));
  EXPECT_FALSE(map_.readable(65535, 2));
  EXPECT_FALSE(map_.readable(1000, 0));
  EXPECT_EQ(map_.servedStrings(), 2u);
}

TEST_F(ModbusMapTest, ReadsFreshBlockValues) {
  setBlock(1, 2, 13.614, Quality::kOk, kT - 4500);
  const auto regs = read(10020, 10);
  EXPECT_EQ(regs[0], 13614);
  EXPECT_EQ(regs[1], 253);
  EXPECT_EQ(regs[2], 412);
  EXPECT_EQ(regs[3], 975);
  EXPECT_EQ(regs[4], 35);
  EXPECT_EQ(regs[5], 2);
  EXPECT_EQ(regs[6], 0);
  EXPECT_EQ(regs[7], 0);  // quality flags: all fresh
  EXPECT_EQ(regs[8], 4);  // age 4.5 s
  EXPECT_EQ(regs[9], 13);
  // A read starting in the middle of the record.
  EXPECT_EQ(read(10027, 2), (std::vector<std::uint16_t>{0, 4}));
}

TEST_F(ModbusMapTest, StaleAndMissingValuesReadAsSentinelsWithFlags) {
  setBlock(0, 0, 13.5, Quality::kOk, kT - 31'000);  // older than 30 s: stale on read
  auto regs = read(4000, 10);
  EXPECT_EQ(regs[0], kSentinelInt16);
  EXPECT_EQ(regs[1], kSentinelInt16);
  EXPECT_EQ(regs[5], kSentinelUint16);
  EXPECT_EQ(regs[7] & kFlagStale, kFlagStale);
  EXPECT_EQ(regs[8], 31);
  setBlock(0, 0, 13.5, Quality::kCommLost);
  regs = read(4000, 10);
  EXPECT_EQ(regs[0], kSentinelInt16);
  EXPECT_EQ(regs[7] & kFlagCommLost, kFlagCommLost);
  // Never written: not present, age unknown.
  regs = read(4010, 10);
  EXPECT_EQ(regs[0], kSentinelInt16);
  EXPECT_EQ(regs[7], kFlagNotPresent);
  EXPECT_EQ(regs[8], 0xFFFF);
  // Out of range for int16 at scale 1000.
  setBlock(0, 0, 40.0, Quality::kOk);
  regs = read(4000, 10);
  EXPECT_EQ(regs[0], kSentinelInt16);
  EXPECT_EQ(regs[7], kFlagOutOfRange);
}

TEST_F(ModbusMapTest, StringRecordsUse32BitHighWordFirst) {
  {
    StateStore::Writer w(store_);
    w.set(PointId::kStringVoltageV, 0, 0, {435.2, kT, Quality::kOk});
    w.set(PointId::kStringCurrentA, 0, 0, {-25.5, kT, Quality::kOk});
    w.set(PointId::kStringAcCurrentA, 0, 0, {1.23, kT, Quality::kOk});
    w.set(PointId::kStringMode, 0, 0, {2, kT, Quality::kOk});
  }
  auto regs = read(2000, 20);
  EXPECT_EQ(regs[0], 0);
  EXPECT_EQ(regs[1], 43520);
  EXPECT_EQ(regs[2], 0xFFFF);
  EXPECT_EQ(regs[3], 0xF60A);
  EXPECT_EQ(regs[4], 0x8000);  // power never written: int32 sentinel
  EXPECT_EQ(regs[5], 0x0000);
  EXPECT_EQ(regs[6], 2);
  EXPECT_EQ(regs[18], kFlagNotPresent);
  EXPECT_EQ(regs[19], 0);
  // Seed section: 0.1 A, 0.1 V, mV average over 2 blocks, 0.1 A.
  regs = read(1010, 5);
  EXPECT_EQ(static_cast<std::int16_t>(regs[0]), -255);
  EXPECT_EQ(regs[1], 4352);
  EXPECT_EQ(regs[2], 0x8000);  // 217.6 V per block does not fit int16 mV
  EXPECT_EQ(regs[3], 12);
  EXPECT_EQ(regs[4], 0);
  // Unconfigured string 3 in the seed section.
  regs = read(1020, 5);
  EXPECT_EQ(regs, (std::vector<std::uint16_t>{0x8000, 0x8000, 0x8000, 0x8000, 0}));
}

TEST_F(ModbusMapTest, GeneralFlagsAndCounts) {
  EXPECT_EQ(read(1000, 5), (std::vector<std::uint16_t>{0, 0x0004, 0x0008, 0xFFFF, 0xFFFF}));
  for (std::size_t s = 0; s < 2; ++s) {
    for (std::size_t b = 0; b < static_cast<std::size_t>(store_.blockCount(s)); ++b) {
      setBlock(s, b, 13.5, Quality::kOk);
    }
  }
  {
    StateStore::Writer w(store_);
    w.setSystem(PointId::kSystemSweepCount, {7, kT, Quality::kOk});
    w.setSystem(PointId::kSystemStringCount, {2, kT, Quality::kOk});
    w.setSystem(PointId::kSystemModuleCount, {5, kT, Quality::kOk});
    w.set(PointId::kStringMode, 0, 0, {0, kT, Quality::kOk});
    w.set(PointId::kStringMode, 1, 0, {2, kT, Quality::kOk});
    w.set(PointId::kBlockStatus, 1, 1, {2, kT, Quality::kOk});
    w.set(PointId::kBlockVoltageV, 0, 1, {13.5, kT, Quality::kCommLost});
  }
  const auto regs = read(1000, 5);
  EXPECT_EQ(regs[0], kStateRunning | kStateFloatCharging | kStateDischarging | kStateEqualisation |
                         kStateModuleLost);
  EXPECT_EQ(regs[1], kBatteryAlarm);
  EXPECT_EQ(regs[2], kFlagCommLost);
  EXPECT_EQ(regs[3], 2);
  EXPECT_EQ(regs[4], 5);
  // The cached summary (as the servers use it) follows writes and staleness exactly.
  RegisterMap cached({2, 3}, 30'000);
  auto general = [&](TimeMs now) {
    std::uint16_t v = 0x5555;
    cached.read(StateStore::Reader(store_, now), 1000, 1, &v);
    return v;
  };
  EXPECT_EQ(general(kT), regs[0]);
  EXPECT_EQ(general(kT + 30'000), regs[0]);
  EXPECT_EQ(general(kT + 30'001), 0);  // the sweep is stale now
  {
    StateStore::Writer w(store_);
    w.setSystem(PointId::kSystemSweepCount, {8, kT + 30'001, Quality::kOk});
  }
  EXPECT_EQ(general(kT + 30'001), kStateRunning | kStateModuleLost);  // new version
  // Without a fresh sweep: 0 = internal communication interrupted.
  EXPECT_EQ(read(1000, 1, kT + 90'000)[0], 0);
  EXPECT_EQ(read(1003, 2, kT + 90'000), (std::vector<std::uint16_t>{0xFFFF, 0xFFFF}));
}

alarms::ActiveAlarm activeAlarm(std::uint32_t id, std::string rule, alarms::Level level, int s,
                                int b, bool acked) {
  alarms::ActiveAlarm a;
  a.id = id;
  a.rule_id = std::move(rule);
  a.key = a.rule_id + "/" + std::to_string(s) + "/" + std::to_string(b);
  a.level = level;
  a.string_number = s;
  a.block_number = b;
  a.acknowledged = acked;
  return a;
}

TEST_F(ModbusMapTest, AlarmSummaryAndTable) {
  std::vector<alarms::ActiveAlarm> list = {
      activeAlarm(70000, "block.voltage_high", alarms::Level::kAlarm, 1, 2, false),
      activeAlarm(5, "string.ripple_high", alarms::Level::kWarning, 2, 0, true),
      activeAlarm(6, "some.future_rule", alarms::Level::kWarning, 0, 0, false),
  };
  const StateStore::Reader r(store_, kT);
  EXPECT_TRUE(map_.touchesAlarms(3005, 1));
  EXPECT_TRUE(map_.touchesAlarms(3090, 20));
  EXPECT_FALSE(map_.touchesAlarms(1000, 60));
  std::vector<std::uint16_t> summary(12, 0xAAAA);
  map_.read(r, 3000, 12, summary.data(), &list);
  EXPECT_EQ(summary, (std::vector<std::uint16_t>{3, 1, 2, 2, 2, 3, 0, 0, 0, 0, 0, 0}));
  std::vector<std::uint16_t> table(std::size_t{8} * 4, 0xAAAA);
  map_.read(r, 3100, static_cast<std::uint16_t>(table.size()), table.data(), &list);
  // id 70000 = 0x00011170 high word first, rule code 1, level 2, string 1, block 2, not acked.
  EXPECT_EQ(std::vector<std::uint16_t>(table.begin(), table.begin() + 8),
            (std::vector<std::uint16_t>{1, 0x1170, 1, 2, 1, 2, 0, 0}));
  EXPECT_EQ(std::vector<std::uint16_t>(table.begin() + 8, table.begin() + 16),
            (std::vector<std::uint16_t>{0, 5, 25, 1, 2, 0, 1, 0}));
  EXPECT_EQ(table[16 + 2], 0);  // unknown rule: code 0
  EXPECT_EQ(std::vector<std::uint16_t>(table.begin() + 24, table.end()),
            std::vector<std::uint16_t>(8, 0));  // empty entry
  // Without an alarm source the registers read 0.
  map_.read(r, 3000, 12, summary.data(), nullptr);
  EXPECT_EQ(summary, std::vector<std::uint16_t>(12, 0));
  // A read that starts in the middle of a 32-bit id.
  std::uint16_t low = 0;
  map_.read(r, 3101, 1, &low, &list);
  EXPECT_EQ(low, 0x1170);
}

// --- Large plants: strings 11–64 under unit ids 2–7 ------------------------------------------

TEST(ModbusUnits, PageCountAndUnitIds) {
  EXPECT_EQ(unitPageCount(0), 1);
  EXPECT_EQ(unitPageCount(1), 1);
  EXPECT_EQ(unitPageCount(10), 1);
  EXPECT_EQ(unitPageCount(11), 2);
  EXPECT_EQ(unitPageCount(64), 7);
  EXPECT_EQ(unitPageCount(kMaxPlantStrings), kMaxUnitPages);
  // TCP: unit id 1 + p serves page p; every other unit id serves page 0 (strings 1–10).
  EXPECT_EQ(unitPage(1, 1, 7), 0);
  EXPECT_EQ(unitPage(2, 1, 7), 1);
  EXPECT_EQ(unitPage(7, 1, 7), 6);
  EXPECT_EQ(unitPage(8, 1, 7), 0);
  EXPECT_EQ(unitPage(0, 1, 7), 0);
  EXPECT_EQ(unitPage(255, 1, 7), 0);
  EXPECT_EQ(unitPage(2, 1, 1), 0);  // up to 10 strings every unit id reads the same map
  EXPECT_EQ(unitPage(2, 1, 2), 1);
  EXPECT_EQ(unitPage(3, 1, 2), 0);
  // RTU slave 5: 5 = strings 1–10, 6 = 11–20.
  EXPECT_EQ(unitPage(5, 5, 2), 0);
  EXPECT_EQ(unitPage(6, 5, 2), 1);
}

class ModbusLargePlantTest : public ::testing::Test {
 protected:
  static constexpr int kStrings = 64;
  static constexpr int kBlocks = 64;
  std::vector<int> layout_ = std::vector<int>(kStrings, kBlocks);
  StateStore store_{layout_, 30'000};

  std::vector<std::uint16_t> read(const RegisterMap& map, std::uint16_t start,
                                  std::uint16_t count) {
    std::vector<std::uint16_t> out(count, 0x5555);
    map.read(StateStore::Reader(store_, kT), start, count, out.data());
    return out;
  }
};

TEST_F(ModbusLargePlantTest, EveryBlockOfEveryStringIsAddressable) {
  {
    StateStore::Writer w(store_);
    for (std::size_t s = 0; s < kStrings; ++s) {
      for (std::size_t b = 0; b < kBlocks; ++b) {
        // 12 V + string·0.1 V + block·1 mV: every block's value is its own.
        w.set(PointId::kBlockVoltageV, s, b,
              {12.0 + 0.1 * static_cast<double>(s) + 0.001 * static_cast<double>(b), kT,
               Quality::kOk});
      }
      w.set(PointId::kStringVoltageV, s, 0, {700.0 + static_cast<double>(s), kT, Quality::kOk});
    }
  }
  std::set<std::pair<std::size_t, std::size_t>> seen;
  for (int page = 0; page < unitPageCount(kStrings); ++page) {
    const RegisterMap map(layout_, 0, page);
    EXPECT_EQ(map.firstString(), static_cast<std::size_t>(page) * 10);
    EXPECT_EQ(map.servedStrings(), page < 6 ? 10u : 4u);
    EXPECT_EQ(read(map, 1112, 2),
              (std::vector<std::uint16_t>{static_cast<std::uint16_t>(page * 10 + 1), 7}));
    for (std::size_t n = 0; n < map.servedStrings(); ++n) {
      const std::size_t s = map.firstString() + n;
      const auto string_base = static_cast<std::uint16_t>(2000 + 100 * n);
      const auto volts = read(map, string_base, 2);
      EXPECT_EQ(static_cast<std::uint32_t>(volts[0]) << 16 | volts[1], (700 + s) * 100) << s;
      for (std::size_t b = 0; b < kBlocks; ++b) {
        const auto address =
            static_cast<std::uint16_t>(kBlockBase + kBlockStringStride * n + kBlockStride * b);
        ASSERT_TRUE(map.readable(address, kBlockStride)) << "string " << s + 1 << " block " << b;
        EXPECT_EQ(read(map, address, 1)[0], 12000 + 100 * s + b) << s << "/" << b;
        seen.emplace(s, b);
      }
      const std::size_t past_last =
          kBlockBase + kBlockStringStride * n + std::size_t{kBlockStride} * kBlocks;
      EXPECT_FALSE(map.readable(static_cast<std::uint32_t>(past_last)));
    }
    // No string beyond the plant on the last unit: string 5 of unit 7 would be string 65.
    EXPECT_EQ(map.readable(2000 + 100 * 4), page < 6);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kStrings * kBlocks));
  // String 64, block 64: string 4 of unit id 7, voltage at 22630.
  const RegisterMap unit7(layout_, 0, 6);
  EXPECT_EQ(read(unit7, 22630, 1)[0], 12000 + 6300 + 63);
  EXPECT_EQ(read(unit7, 1003, 1)[0], 0xFFFF);  // plant-wide registers are the same everywhere
}

TEST_F(ModbusLargePlantTest, StringsOneToTenKeepTheirAddresses) {
  // The map of unit id 1 on a 64-string plant is the map of a 10-string plant, register for
  // register: nothing moved for existing clients.
  const RegisterMap unit1(layout_, 0, 0);
  const RegisterMap ten(std::vector<int>(10, kBlocks));
  EXPECT_EQ(unit1.registerCount(), ten.registerCount());
  for (std::uint32_t a = 0; a < RegisterMap::kSize; ++a) {
    ASSERT_EQ(unit1.readable(a), ten.readable(a)) << a;
  }
  {
    StateStore::Writer w(store_);
    w.set(PointId::kBlockVoltageV, 1, 4, {13.5, kT, Quality::kOk});
    w.set(PointId::kBlockVoltageV, 11, 4, {13.25, kT, Quality::kOk});
  }
  EXPECT_EQ(read(unit1, 10040, 1)[0], 13500);                       // string 2, block 5
  EXPECT_EQ(read(RegisterMap(layout_, 0, 1), 10040, 1)[0], 13250);  // string 12, block 5
  EXPECT_EQ(read(unit1, 1112, 2), (std::vector<std::uint16_t>{1, 7}));
}

TEST(ModbusAlarms, RuleCodesAreUniqueAndCoverTheDefaultRules) {
  std::set<std::uint16_t> codes;
  for (const auto& rc : adapters::kRuleCodes) {
    EXPECT_NE(rc.code, 0);
    EXPECT_TRUE(codes.insert(rc.code).second) << rc.code;
  }
  model::StringConfig string_cfg;
  auto rules = alarms::defaultRules(string_cfg);
  const auto system = alarms::defaultSystemRules();
  rules.insert(rules.end(), system.begin(), system.end());
  for (const auto& rule : rules) {
    EXPECT_NE(adapters::ruleCode(rule.id), 0) << rule.id << " has no Modbus rule code";
  }
  EXPECT_EQ(adapters::ruleCode("no.such_rule"), 0);
  EXPECT_EQ(registerMapMarkdown().find("| 1 | `block.voltage_high` |") != std::string::npos, true);
}

TEST(ModbusDocs, FileMatchesTheGeneratedMap) {
  const std::string path = std::string(EQUALIS_SOURCE_DIR) + "/docs/modbus.md";
  const std::string expected = registerMapMarkdown();
  if (std::getenv("EQUALIS_UPDATE_DOCS") != nullptr) {
    std::ofstream(path) << expected;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " missing; run with EQUALIS_UPDATE_DOCS=1 to write it";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), expected)
      << "docs/modbus.md is out of date; run modbus_test with EQUALIS_UPDATE_DOCS=1";
}

TEST(ModbusDocs, DocumentsTheConventions) {
  const std::string md = registerMapMarkdown();
  for (const char* needle : {"0-based", "0x8000", "high word first", "exception 02", "exception 01",
                             "1010 + 5·(n−1)", "`block.voltage_v`", "`block.comm_ok_count`",
                             "| 1003 | `system.string_count`", "## Strings 11–64: unit ids",
                             "| 7 | S + 6 | 61–64 | 60 + n |", "## Limits", "-a 7 -0 -r 22630"}) {
    EXPECT_NE(md.find(needle), std::string::npos) << needle;
  }
}

}  // namespace
}  // namespace equalis::modbus
