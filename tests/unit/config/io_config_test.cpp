// [io.room], [[io.device]], [[io.device.channel]].
#include <string>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace equalis::config {
namespace {

const std::string kSamplePath = std::string(EQUALIS_SOURCE_DIR) + "/config/equalis.sample.toml";

std::string issuesOf(const std::string& toml) {
  return parseConfig("[[string]]\n[[string]]\n" + toml).describe("t.toml");
}

const model::IoDeviceConfig* device(const model::PlantConfig& p, const std::string& id) {
  for (const auto& d : p.io.devices) {
    if (d.id == id) {
      return &d;
    }
  }
  return nullptr;
}

TEST(IoConfig, SampleEqualsDemoPlant) {
  const LoadResult r = loadConfigFile(kSamplePath);
  ASSERT_TRUE(r.ok()) << r.describe(kSamplePath);
  const auto demo = model::demoPlant();
  const auto& a = r.config->io;
  const auto& b = demo.io;
  EXPECT_DOUBLE_EQ(a.room.volume_m3, b.room.volume_m3);
  EXPECT_DOUBLE_EQ(a.room.air_changes_per_h, b.room.air_changes_per_h);
  EXPECT_DOUBLE_EQ(a.room.humidity_pct, b.room.humidity_pct);
  EXPECT_DOUBLE_EQ(a.room.humidity_swing_pct, b.room.humidity_swing_pct);
  ASSERT_EQ(a.devices.size(), b.devices.size());
  for (std::size_t i = 0; i < a.devices.size(); ++i) {
    const auto& x = a.devices[i];
    const auto& y = b.devices[i];
    SCOPED_TRACE(x.id);
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.transport, y.transport);
    EXPECT_EQ(x.string_number, y.string_number);
    EXPECT_EQ(x.block_number, y.block_number);
    ASSERT_EQ(x.channels.size(), y.channels.size());
    for (std::size_t k = 0; k < x.channels.size(); ++k) {
      const auto& c = x.channels[k];
      const auto& d = y.channels[k];
      SCOPED_TRACE(c.id);
      EXPECT_EQ(c.id, d.id);
      EXPECT_EQ(c.kind, d.kind);
      EXPECT_EQ(c.name, d.name);
      EXPECT_EQ(c.role, d.role);
      EXPECT_EQ(c.string_number, d.string_number);
      EXPECT_EQ(c.point, d.point);
      EXPECT_EQ(c.unit, d.unit);
    }
  }
}

TEST(IoConfig, ModbusDeviceWithRegisterMap) {
  const LoadResult r = parseConfig(R"(
[[string]]
[[io.device]]
id = "site"
type = "sitemanager"
transport = "modbus_tcp"
address = "127.0.0.1:1502"
unit_id = 7
poll_interval_s = 0.5
timeout_ms = 300
[[io.device.channel]]
id = "ai2"
name = "H2 transmitter"
table = "input"
register = 10
scale = 0.001
range_min = 0
range_max = 4
point = "system.hydrogen_pct"
[[io.device.channel]]
id = "relay1"
role = "breaker_trip"
string = 1
table = "coil"
register = 0
[[io.device.channel]]
id = "di1"
table = "discrete"
register = 3
active_low = true
)");
  ASSERT_TRUE(r.ok()) << r.describe("t.toml");
  const auto* d = device(*r.config, "site");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->transport, model::IoTransport::kModbusTcp);
  EXPECT_EQ(d->unit_id, 7);
  EXPECT_EQ(d->poll_interval_ms, 500);
  EXPECT_EQ(d->timeout_ms, 300);
  ASSERT_EQ(d->channels.size(), 3u);  // only the configured ones
  const auto& ai = d->channels[0];
  EXPECT_EQ(ai.kind, model::ChannelKind::kAnalogInput);
  EXPECT_EQ(ai.signal, model::AnalogSignal::kCurrent4To20);
  ASSERT_TRUE(ai.reg.has_value());
  EXPECT_EQ(ai.reg->table, model::RegisterTable::kInput);
  EXPECT_EQ(ai.reg->address, 10);
  EXPECT_DOUBLE_EQ(ai.reg->scale, 0.001);
  EXPECT_EQ(ai.point, model::PointId::kSystemHydrogenPct);
  EXPECT_EQ(ai.unit, "%");
  EXPECT_EQ(d->channels[1].role, model::ChannelRole::kBreakerTrip);
  EXPECT_EQ(d->channels[1].string_number, 1);
  EXPECT_TRUE(d->channels[2].active_low);
}

TEST(IoConfig, GpioDevice) {
  const LoadResult r = parseConfig(R"(
[[string]]
[[io.device]]
id = "pi"
type = "gx_r_aux"
transport = "gpio"
chip = "gpiochip0"
[[io.device.channel]]
id = "di1"
line = 17
active_low = true
)");
  ASSERT_TRUE(r.ok()) << r.describe("t.toml");
  EXPECT_EQ(r.config->io.devices[0].channels[0].gpio_line, 17);
}

TEST(IoConfig, ErrorsNameTheKey) {
  const auto has = [](const std::string& issues, const std::string& text) {
    return issues.find(text) != std::string::npos;
  };
  std::string m = issuesOf("[[io.device]]\nid = \"a\"\ntype = \"gx_raux\"\n");
  EXPECT_TRUE(has(m, "io.device[1].type: unknown device type \"gx_raux\"")) << m;
  EXPECT_TRUE(has(m, "did you mean 'gx_r_aux'?")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\n[[io.device.channel]]\nid = "
      "\"di5\"\n");
  EXPECT_TRUE(has(m, "io.device[1].channel[1].id: unknown channel of a gx_r_aux \"di5\"")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\n[[io.device.channel]]\nid = "
      "\"relay1\"\nrole = \"breaker_status\"\nstring = 1\n");
  EXPECT_TRUE(has(m, "channel[1].role: unknown role \"breaker_status\"")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\n[[io.device.channel]]\nid = "
      "\"relay1\"\nrole = \"breaker_trip\"\nstring = 3\n");
  EXPECT_TRUE(has(m, "channel[1].string: string 3 does not exist (the plant has 2 strings)")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\ntransport = \"modbus_tcp\"\n"
      "address = \"127.0.0.1:502\"\n[[io.device.channel]]\nid = \"di1\"\n");
  EXPECT_TRUE(has(m, "channel[1].table: missing")) << m;
  EXPECT_TRUE(has(m, "channel[1].register: missing")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"sitemanager\"\ntransport = \"modbus_tcp\"\n"
      "address = \"127.0.0.1:502\"\n[[io.device.channel]]\nid = \"ai1\"\ntable = "
      "\"coil\"\nregister = 1\n");
  EXPECT_TRUE(has(m, "analog channel \"ai1\" needs a holding or input register")) << m;
  m = issuesOf("[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\ntransport = \"modbus_tcp\"\n");
  EXPECT_TRUE(has(m, "io.device[1].address: missing")) << m;
  m = issuesOf("[[io.device]]\nid = \"a\"\ntype = \"gx_r_aux\"\ntransport = \"gpio\"\n");
  EXPECT_TRUE(has(m, "io.device[1].chip: missing")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"th_sensor\"\ntransport = \"gpio\"\nchip = "
      "\"gpiochip0\"\n[[io.device.channel]]\nid = \"humidity\"\nline = 3\n");
  EXPECT_TRUE(has(m, "GPIO carries digital inputs and outputs only")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"th_sensor\"\n[[io.device]]\nid = \"a\"\n"
      "type = \"hydrogen_sensor\"\n");
  EXPECT_TRUE(has(m, "io.device[2].id: duplicate device id \"a\"")) << m;
  m = issuesOf(
      "[[io.device]]\nid = \"a\"\ntype = \"th_sensor\"\n[[io.device]]\nid = \"b\"\n"
      "type = \"th_sensor\"\n");
  EXPECT_TRUE(has(m, "two channels feed system.humidity_pct (the second is b.humidity)")) << m;
  m = issuesOf("[[io.device]]\nid = \"a\"\ntype = \"els_sensor\"\n");
  EXPECT_TRUE(has(m, "io.device[1].string: missing")) << m;
  m = issuesOf("[[io.device]]\nid = \"Bad Id\"\ntype = \"buzzer\"\n");
  EXPECT_TRUE(has(m, "io.device[1].id: \"Bad Id\" must be")) << m;
  m = issuesOf("[[io.device]]\nid = \"a\"\ntype = \"buzzer\"\npoll_intervall_s = 2\n");
  EXPECT_TRUE(has(m, "io.device[1].poll_intervall_s: unknown key, did you mean 'poll_interval_s'?"))
      << m;
  m = issuesOf("[io.room]\nair_changes_per_h = -1\n");
  EXPECT_TRUE(has(m, "io.room.air_changes_per_h: must be between 0 and 100")) << m;
}

TEST(IoConfig, KnownKeysListDeviceAndChannelKeys) {
  const auto keys = knownKeys();
  for (const char* key :
       {"io.room.volume_m3", "io.device.id", "io.device.transport", "io.device.channel.table",
        "io.device.channel.line", "io.device.channel.point"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
  }
}

}  // namespace
}  // namespace equalis::config
