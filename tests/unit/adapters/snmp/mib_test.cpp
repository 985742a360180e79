// EQUALIS-MIB vs the point catalogue, value encoding, table lookups and the UPS battery group.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "adapters/snmp/mib.hpp"
#include "adapters/snmp/options.hpp"
#include "model/plant.hpp"

namespace equalis::snmp {
namespace {

using model::PointId;
using model::Quality;

struct MibObject {
  std::string syntax;
  std::string units;
  std::string access;
  std::string parent;
  std::uint32_t number = 0;
};

// Every "NAME OBJECT-TYPE … ::= { parent N }" of the MIB file.
std::map<std::string, MibObject> parseMib(const std::string& text) {
  std::map<std::string, MibObject> out;
  const std::regex object(R"(\n([a-z][A-Za-z0-9]*) OBJECT-TYPE\s+SYNTAX\s+(.*?)\n)"
                          R"(([\s\S]*?)::= \{ ([A-Za-z0-9]+) (\d+) \})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), object);
       it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    MibObject obj;
    obj.syntax = m[2].str();
    const std::string body = m[3].str();
    std::smatch sub;
    if (std::regex_search(body, sub, std::regex(R"re(UNITS\s+"([^"]*)")re"))) {
      obj.units = sub[1].str();
    }
    if (std::regex_search(body, sub, std::regex(R"(MAX-ACCESS\s+([a-z-]+))"))) {
      obj.access = sub[1].str();
    }
    obj.parent = m[4].str();
    obj.number = static_cast<std::uint32_t>(std::stoul(m[5].str()));
    out[m[1].str()] = obj;
  }
  return out;
}

std::string readMib() {
  std::ifstream in(std::string(EQUALIS_SOURCE_DIR) + "/mibs/EQUALIS-MIB.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string expectedSyntax(const model::PointDef& def) {
  if (def.type != model::PointType::kEnum) {
    return mibSyntax(def);
  }
  std::string out = "INTEGER { ";
  for (int i = 0; !model::enumName(def.id, i).empty(); ++i) {
    out += (i ? ", " : "") + mibLabel(model::enumName(def.id, i)) + "(" + std::to_string(i) + ")";
  }
  return out + " }";
}

const char* entryName(model::Scope scope) {
  switch (scope) {
    case model::Scope::kSystem:
      return "eqSystem";
    case model::Scope::kString:
      return "eqStringEntry";
    case model::Scope::kBlock:
      return "eqBlockEntry";
  }
  return "";
}

TEST(SnmpMib, EveryCataloguePointHasOneStableColumn) {
  for (const auto scope : {model::Scope::kSystem, model::Scope::kString, model::Scope::kBlock}) {
    std::set<PointId> ids;
    std::set<std::uint32_t> columns;
    for (const auto& pc : pointColumns(scope)) {
      EXPECT_EQ(model::point(pc.id).scope, scope) << model::point(pc.id).name;
      EXPECT_TRUE(ids.insert(pc.id).second);
      EXPECT_TRUE(columns.insert(pc.column).second) << pc.column;
      // Columns 1–10 are reserved for the indices and non-catalogue objects.
      EXPECT_GE(pc.column, scope == model::Scope::kSystem ? 4u : 11u);
    }
    std::size_t in_scope = 0;
    for (const auto& def : model::catalogue()) {
      in_scope += def.scope == scope ? 1 : 0;
    }
    EXPECT_EQ(ids.size(), in_scope) << model::scopeName(scope);
  }
}

TEST(SnmpMib, MibFileMatchesCatalogue) {
  const auto text = readMib();
  ASSERT_FALSE(text.empty()) << "mibs/EQUALIS-MIB.txt not found";
  const auto objects = parseMib(text);
  ASSERT_GT(objects.size(), 40u);
  for (const auto scope : {model::Scope::kSystem, model::Scope::kString, model::Scope::kBlock}) {
    std::set<std::string> expected;
    for (const auto& pc : pointColumns(scope)) {
      const auto& def = model::point(pc.id);
      const auto name = mibDescriptor(def);
      expected.insert(name);
      const auto it = objects.find(name);
      ASSERT_NE(it, objects.end()) << name << " (" << def.name << ") missing from the MIB";
      EXPECT_EQ(it->second.parent, entryName(scope)) << name;
      EXPECT_EQ(it->second.number, pc.column) << name;
      EXPECT_EQ(it->second.syntax, expectedSyntax(def)) << name;
      EXPECT_EQ(it->second.units, mibUnits(def)) << name;
      EXPECT_EQ(it->second.access, "read-only") << name;
      // The SEQUENCE of a table entry lists it too.
      if (scope != model::Scope::kSystem) {
        EXPECT_NE(text.find("    " + name + " "), std::string::npos) << name;
      }
    }
    // No point column in the MIB that the catalogue does not have.
    for (const auto& [name, obj] : objects) {
      const std::uint32_t first_point = scope == model::Scope::kSystem ? 4 : 11;
      if (obj.parent == entryName(scope) && obj.number >= first_point) {
        EXPECT_TRUE(expected.count(name)) << name << " is not a catalogue point";
      }
    }
  }
  // Fixed objects the agent serves.
  EXPECT_EQ(objects.at("eqBlockQuality").number, kBlockQuality);
  EXPECT_EQ(objects.at("eqBlockQuality").syntax, "EqQuality");
  EXPECT_EQ(objects.at("eqBlockAgeSeconds").number, kBlockAgeS);
  EXPECT_EQ(objects.at("eqStringName").number, kStringName);
  EXPECT_EQ(objects.at("eqSoftwareVersion").number, kSysSoftwareVersion);
  EXPECT_EQ(objects.at("eqAlarmsPresent").number, kAlarmsPresent);
  EXPECT_NE(text.find("::= { netSnmpPlaypen 1 }"), std::string::npos);
  // EqQuality lists the model's qualities with their numeric values.
  for (int q = 0; q <= static_cast<int>(Quality::kNotPresent); ++q) {
    const auto label = mibLabel(model::qualityName(static_cast<Quality>(q)));
    EXPECT_NE(text.find(label + "(" + std::to_string(q) + ")"), std::string::npos) << label;
  }
}

TEST(SnmpMib, NamesUnitsAndSyntaxFromCatalogue) {
  EXPECT_EQ(mibDescriptor(model::point(PointId::kBlockVoltageV)), "eqBlockVoltageV");
  EXPECT_EQ(mibDescriptor(model::point(PointId::kBlockEqualizationWhPerDay)),
            "eqBlockEqualizationWhPerDay");
  EXPECT_EQ(mibLabel("eco_plus"), "ecoPlus");
  EXPECT_EQ(mibUnits(model::point(PointId::kBlockTemperatureC)), "degC");
  EXPECT_EQ(mibUnits(model::point(PointId::kBlockRiMohm)), "mOhm");
  EXPECT_EQ(mibSyntax(model::point(PointId::kBlockVoltageV)), "EqFixed3");
  EXPECT_EQ(mibSyntax(model::point(PointId::kBlockCommOkCount)), "Integer32");
  for (const auto& def : model::catalogue()) {
    EXPECT_GE(scaleDecimals(def), 0) << def.name << ": protocol_scale is not a power of 10";
    EXPECT_LE(mibDescriptor(def).size(), 32u) << def.name;
  }
}

TEST(SnmpMib, EncodesWithProtocolScale) {
  const auto& v = model::point(PointId::kBlockVoltageV);  // × 1000
  EXPECT_EQ(encodeSample(v, {13.4567, 1, Quality::kOk}), 13457);
  EXPECT_EQ(encodeSample(v, {-0.0015, 1, Quality::kOk}), -2);
  EXPECT_EQ(encodeSample(v, {1e9, 1, Quality::kOk}), 2147483647);
  EXPECT_EQ(encodeSample(v, {-1e9, 1, Quality::kOk}), -2147483647 - 1);
  EXPECT_FALSE(encodeSample(v, {}).has_value());
  EXPECT_FALSE(encodeSample(v, {INFINITY, 1, Quality::kInvalid}).has_value());
  EXPECT_FALSE(encodeSample(v, {1.0, 1, Quality::kNotPresent}).has_value());  // as REST: null
  EXPECT_FALSE(encodeSample(v, {1.0, 0, Quality::kOk}).has_value());          // never measured
  // A stale value keeps its number; the quality column says it is stale.
  EXPECT_EQ(encodeSample(model::point(PointId::kBlockTemperatureC), {23.46, 1, Quality::kStale}),
            235);
  EXPECT_EQ(encodeSample(model::point(PointId::kBlockStatus), {2, 1, Quality::kOk}), 2);
}

TableDef smallTable() {
  TableDef t;
  t.name = "t";
  t.base = {1, 3, 6, 1, 4, 1, 9, 1};
  t.columns = {2, 5};
  t.rows = {{1, 1}, {1, 2}, {2, 1}};
  t.get = [](const state::StateStore::Reader&, std::uint32_t column,
             std::size_t row) -> std::optional<Value> {
    if (column == 5 && row == 1) {
      return std::nullopt;  // a hole
    }
    return Value::integer(static_cast<std::int64_t>(column * 100 + row));
  };
  return t;
}

TEST(SnmpMib, ExactLookup) {
  const auto t = smallTable();
  Cell c{};
  EXPECT_EQ(findCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 5, 2, 1}, c), Lookup::kFound);
  EXPECT_EQ(c.column, 5u);
  EXPECT_EQ(c.row, 2u);
  EXPECT_EQ(findCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 5, 2}, c), Lookup::kNoSuchInstance);
  EXPECT_EQ(findCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 5, 3, 1}, c), Lookup::kNoSuchInstance);
  EXPECT_EQ(findCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 3, 1, 1}, c), Lookup::kNoSuchObject);
  EXPECT_EQ(findCell(t, {1, 3, 6, 1, 4, 1, 9, 1}, c), Lookup::kNoSuchObject);
}

TEST(SnmpMib, NextWalksColumnsThenRows) {
  const auto t = smallTable();
  std::vector<std::string> walk;
  Oid at = {1, 3, 6, 1, 4, 1, 9};  // before the base
  while (const auto c = nextCell(t, at)) {
    at = cellOid(t, *c);
    walk.push_back(toString(Oid(at.begin() + 8, at.end())));
  }
  EXPECT_EQ(walk, (std::vector<std::string>{"2.1.1", "2.1.2", "2.2.1", "5.1.1", "5.1.2", "5.2.1"}));
  // Partial index: after string 1 comes (2,1); past the last column: nothing.
  EXPECT_EQ(toString(cellOid(t, *nextCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 2, 1}))),
            "1.3.6.1.4.1.9.1.2.1.1");
  EXPECT_EQ(toString(cellOid(t, *nextCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 2, 1, 2, 7}))),
            "1.3.6.1.4.1.9.1.2.2.1");
  EXPECT_EQ(toString(cellOid(t, *nextCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 3}))),
            "1.3.6.1.4.1.9.1.5.1.1");
  EXPECT_FALSE(nextCell(t, {1, 3, 6, 1, 4, 1, 9, 1, 5, 2, 1}));
  EXPECT_FALSE(nextCell(t, {1, 3, 6, 1, 4, 1, 9, 2}));
}

struct Fixture {
  model::PlantConfig plant = model::demoPlant();
  SimulatedClock clock;
  state::StateStore store{{3, 2}, 30'000};
  adapters::Context ctx{plant, store, clock, "1.2.3", {}, {}};
};

void setString(state::StateStore& store, std::size_t s, double voltage, double current,
               double charge, double temperature, TimeMs t, int mode = 0) {
  state::StateStore::Writer w(store);
  w.set(PointId::kStringVoltageV, s, 0, {voltage, t, Quality::kOk});
  w.set(PointId::kStringCurrentA, s, 0, {current, t, Quality::kOk});
  w.set(PointId::kStringChargeAvgPct, s, 0, {charge, t, Quality::kOk});
  w.set(PointId::kStringTemperatureMaxC, s, 0, {temperature, t, Quality::kOk});
  w.set(PointId::kStringMode, s, 0, {static_cast<double>(mode), t, Quality::kOk});
}

TEST(SnmpMib, UpsBatteryGroupFromStrings) {
  Fixture f;
  const auto now = f.clock.nowMs();
  {
    const state::StateStore::Reader r(f.store, now);
    EXPECT_EQ(computeUpsBattery(r, 2, 0).status, UpsBatteryStatus::kUnknown);  // no data
    EXPECT_FALSE(computeUpsBattery(r, 2, 0).voltage_dv);
  }
  setString(f.store, 0, 40.8, 1.25, 90.0, 24.6, now);
  setString(f.store, 1, 41.0, -0.5, 80.0, 26.4, now);
  {
    const state::StateStore::Reader r(f.store, now);
    const auto ups = computeUpsBattery(r, 2, 7);
    EXPECT_EQ(ups.status, UpsBatteryStatus::kNormal);
    EXPECT_EQ(ups.voltage_dv, 409);    // average 40.9 V
    EXPECT_EQ(ups.current_da, 8);      // sum 0.75 A
    EXPECT_EQ(ups.charge_pct, 85);     // average
    EXPECT_EQ(ups.temperature_c, 26);  // hottest
    EXPECT_EQ(ups.seconds_on_battery, 7);
  }
  setString(f.store, 1, 38.0, -20.0, 20.0, 26.4, now, 2);
  {
    const state::StateStore::Reader r(f.store, now);
    EXPECT_EQ(computeUpsBattery(r, 2, 0).status, UpsBatteryStatus::kLow);
    EXPECT_TRUE(anyStringDischarging(r, 2));
  }
  setString(f.store, 1, 36.0, -20.0, 3.0, 26.4, now, 2);
  {
    const state::StateStore::Reader r(f.store, now);
    EXPECT_EQ(computeUpsBattery(r, 2, 0).status, UpsBatteryStatus::kDepleted);
  }
  // Stale data: status unknown, the numbers are still served.
  {
    const state::StateStore::Reader r(f.store, now + 60'000);
    const auto ups = computeUpsBattery(r, 2, 0);
    EXPECT_EQ(ups.status, UpsBatteryStatus::kUnknown);
    EXPECT_TRUE(ups.voltage_dv.has_value());
  }
}

TEST(SnmpMib, OnBatteryTrackerCountsSeconds) {
  OnBatteryTracker t;
  EXPECT_EQ(t.update(false, 1000), 0);
  EXPECT_EQ(t.update(true, 2000), 0);
  EXPECT_EQ(t.update(true, 14'500), 12);
  EXPECT_EQ(t.update(false, 15'000), 0);
  EXPECT_EQ(t.update(true, 20'000), 0);
}

const TableDef& tableNamed(const std::vector<TableDef>& tables, const std::string& name) {
  for (const auto& t : tables) {
    if (t.name == name) {
      return t;
    }
  }
  throw std::runtime_error("no table " + name);
}

TEST(SnmpMib, BlockTableServesStateStoreValues) {
  Fixture f;
  OnBatteryTracker tracker;
  const auto tables = buildTables(
      f.ctx, [] { return 4242; }, tracker);
  const auto& blocks = tableNamed(tables, "eqBlockTable");
  ASSERT_EQ(blocks.rows.size(), 5u);  // 3 + 2 blocks
  EXPECT_EQ(blocks.rows[3], (Oid{2, 1}));
  const auto now = f.clock.nowMs();
  {
    state::StateStore::Writer w(f.store);
    w.set(PointId::kBlockVoltageV, 1, 0, {13.652, now - 5'000, Quality::kOk});
    w.set(PointId::kBlockEqualizationLevel, 1, 0, {3, now - 5'000, Quality::kOk});
  }
  const state::StateStore::Reader r(f.store, now);
  auto get = [&](std::uint32_t column, std::uint32_t s, std::uint32_t b) {
    Cell c{};
    EXPECT_EQ(findCell(blocks, concat(eqBlockEntryOid(), {column, s, b}), c), Lookup::kFound);
    return blocks.get(r, c.column, c.row);
  };
  EXPECT_EQ(get(11, 2, 1)->number, 13652);
  EXPECT_EQ(get(16, 2, 1)->number, 3);
  EXPECT_EQ(get(kBlockQuality, 2, 1)->number, static_cast<int>(Quality::kOk));
  EXPECT_EQ(get(kBlockAgeS, 2, 1)->number, 5);
  // Never measured: no value, quality notPresent, age −1.
  EXPECT_FALSE(get(11, 1, 1).has_value());
  EXPECT_EQ(get(kBlockQuality, 1, 1)->number, static_cast<int>(Quality::kNotPresent));
  EXPECT_EQ(get(kBlockAgeS, 1, 1)->number, -1);
  // Stale after the limit.
  const state::StateStore::Reader later(f.store, now + 60'000);
  Cell c{};
  ASSERT_EQ(findCell(blocks, concat(eqBlockEntryOid(), {kBlockQuality, 2, 1}), c), Lookup::kFound);
  EXPECT_EQ(blocks.get(later, c.column, c.row)->number, static_cast<int>(Quality::kStale));

  const auto& system = tableNamed(tables, "system");
  EXPECT_EQ(system.get(r, 2, 0)->oid, equalisDaemonOid());
  EXPECT_EQ(system.get(r, 3, 0)->number, 4242);
  EXPECT_EQ(tableNamed(tables, "eqSystem").get(r, kSysSoftwareVersion, 0)->text, "1.2.3");
  EXPECT_EQ(tableNamed(tables, "eqStringTable").get(r, kStringBlockCount, 1)->number, 2);
}

TEST(SnmpSpec, ParsesHostPortAndOptions) {
  auto o = parseSpec("127.0.0.1:1161");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 1161);
  EXPECT_EQ(o->community, "public");
  EXPECT_FALSE(o->v3Enabled());
  EXPECT_FALSE(o->trapEnabled());

  o = parseSpec("::1:161?v3user=ops&auth=authpass1&priv=privpass1&trap=127.0.0.1:162&community=");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->v3_user, "ops");
  EXPECT_EQ(o->v3_auth_pass, "authpass1");
  EXPECT_EQ(o->v3_priv_pass, "privpass1");
  EXPECT_EQ(o->trap_host, "127.0.0.1");
  EXPECT_EQ(o->trap_port, 162);
  EXPECT_TRUE(o->community.empty());
}

TEST(SnmpSpec, RejectsBadSpecs) {
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":161", "h:12x", "h:161?foo=1",
        "h:161?v3user=u", "h:161?v3user=u&auth=short&priv=short1234", "h:161?trap=nohost",
        "h:161?community=a b", "h:161?flag"}) {
    const auto o = parseSpec(bad);
    EXPECT_FALSE(o.ok()) << bad;
    if (!o.ok()) {
      EXPECT_EQ(o.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(SnmpSpec, CommunitiesOffLoopbackNeedConsent) {
  const auto open = parseSpec("0.0.0.0:161");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("clear text"), std::string::npos) << open.error().message;
  EXPECT_FALSE(parseSpec("10.0.0.5:161?community=&writecommunity=rw").ok());
  EXPECT_TRUE(parseSpec("0.0.0.0:161?community=&v3user=ops&auth=authpass1&priv=privpass1").ok());
  EXPECT_TRUE(parseSpec("10.0.0.5:161?insecure_v2c=true").ok());
  EXPECT_TRUE(parseSpec("0.0.0.0:161", {{"insecure_v2c", "true"}}).ok());
  EXPECT_TRUE(parseSpec("127.0.0.1:161").ok());
  EXPECT_TRUE(parseSpec("localhost:161").ok());
}

TEST(SnmpSpec, ConfigOptionsAndWriteAccess) {
  const std::vector<std::pair<std::string, std::string>> config = {
      {"community", "ro"}, {"writecommunity", "rw"}, {"trap", "127.0.0.1:162"}, {"inform", "true"}};
  auto o = parseSpec("127.0.0.1:1161?community=ro2", config);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->community, "ro2");  // the spec overrides the configuration
  EXPECT_EQ(o->write_community, "rw");
  EXPECT_TRUE(o->inform);
  EXPECT_TRUE(o->writable());
  EXPECT_FALSE(parseSpec("127.0.0.1:1161").value().writable());  // read-only by default
  auto v3 = parseSpec(
      "127.0.0.1:1161?v3user=u&auth=12345678&priv=abcdefgh&v3write=true&engineid=0x8000000001020304"
      "&trap=127.0.0.1:162&trapversion=3");
  ASSERT_TRUE(v3) << v3.error().message;
  EXPECT_TRUE(v3->writable());
  EXPECT_EQ(v3->trap_version, 3);
  EXPECT_EQ(v3->engine_id, std::string("\x80\x00\x00\x00\x01\x02\x03\x04", 8));
  for (const char* bad :
       {"127.0.0.1:1161?writecommunity=public", "127.0.0.1:1161?v3write=true",
        "127.0.0.1:1161?trapversion=3&trap=127.0.0.1:162", "127.0.0.1:1161?inform=true",
        "127.0.0.1:1161?engineid=0x12", "127.0.0.1:1161?engineid=zz00000000",
        "127.0.0.1:1161?inform=maybe", "127.0.0.1:1161?trap=127.0.0.1:162&trapversion=1"}) {
    EXPECT_FALSE(parseSpec(bad)) << bad;
  }
}

}  // namespace
}  // namespace equalis::snmp
