// Configuration of I/O and sensor devices (relay/digital-input boxes, analog inputs, room
// sensors): see docs/io.md. The device models (which channels a device type has) are here so that
// the configuration loader can check channel names; the devices themselves live in src/io.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "model/points.hpp"

namespace equalis::model {

// A digital input that changed state (what the event manager and the alarm engine react to).
struct InputChange {
  std::string channel_id;  // "aux1.di3"
  std::string name;        // "Door contact"
  bool value = false;      // new state (true = active)
  TimeMs time_ms = 0;
};

enum class IoDeviceType {
  kGxRAux,          // 4 digital inputs, 4 relays (breaker status / breaker trip)
  kSiteManager,     // 8 DI, 8 AI (0–10 V or 4–20 mA), 8 relays
  kThSensor,        // temperature + relative humidity
  kHydrogenSensor,  // % vol H2
  kElsSensor,       // electrolyte level good / warning / alarm (pilot cell)
  kBuzzer,          // alarm buzzer + alarm LED
};

enum class IoTransport { kSimulated, kModbusTcp, kModbusRtu, kGpio };

enum class ChannelKind {
  kDigitalInput,
  kRelay,
  kAnalogInput,       // 0–10 V or 4–20 mA, scaled to an engineering unit
  kTemperature,       // °C
  kHumidity,          // % RH
  kHydrogen,          // % vol
  kElectrolyteLevel,  // 0 good, 1 warning, 2 alarm (the values of string.electrolyte_level)
  kBuzzer,
  kLed,
};

// What a digital channel means to the controller.
enum class ChannelRole {
  kGeneric,        // a named input or output (door contact, fan, flash light …)
  kBreakerStatus,  // DI: the string breaker's auxiliary contact (active = breaker closed)
  kBreakerTrip,    // relay: trips the string breaker (thermal-runaway protection)
  kChargerReduce,  // relay: the charger's "reduce voltage" input (thermal-runaway protection)
};

enum class AnalogSignal { kNone, kVoltage0To10, kCurrent4To20 };

enum class RegisterTable { kCoil, kDiscrete, kHolding, kInput };

// One channel of a device model.
struct ChannelModel {
  std::string_view id;  // "di1", "relay2", "humidity"
  ChannelKind kind;
};

struct IoDeviceModel {
  IoDeviceType type;
  std::string_view key;  // config spelling: "gx_r_aux"
  std::string_view description;
  std::span<const ChannelModel> channels;
};

std::span<const IoDeviceModel> ioDeviceModels();
const IoDeviceModel& ioDeviceModel(IoDeviceType type);
std::optional<IoDeviceType> parseIoDeviceType(std::string_view key);
std::string_view ioTransportName(IoTransport t);
std::optional<IoTransport> parseIoTransport(std::string_view key);
std::string_view channelKindName(ChannelKind k);
std::string_view channelKindUnit(ChannelKind k);  // "°C", "%", "" for digital
bool isOutputKind(ChannelKind k);                 // relay, buzzer, LED
bool isDigitalKind(ChannelKind k);                // DI and outputs
std::string_view channelRoleName(ChannelRole r);
std::string_view registerTableName(RegisterTable t);
std::optional<RegisterTable> parseRegisterTable(std::string_view key);
std::string_view analogSignalName(AnalogSignal s);
std::optional<AnalogSignal> parseAnalogSignal(std::string_view key);

// Where a Modbus device keeps a channel's value.
struct RegisterMap {
  RegisterTable table = RegisterTable::kHolding;
  int address = 0;  // 0-based protocol address
  int words = 1;    // 1 or 2 (32 bit, high word first)
  bool is_signed = false;
  double scale = 1.0;  // value = raw × scale + offset (for analog inputs: the signal in V or mA)
  double offset = 0.0;

  bool operator==(const RegisterMap&) const = default;
};

struct IoChannelConfig {
  std::string id;  // the model's channel id ("di3"); the full id is "<device>.<channel>"
  ChannelKind kind = ChannelKind::kDigitalInput;
  std::string name;  // user name, default "<device name> <channel>"
  ChannelRole role = ChannelRole::kGeneric;
  int string_number = 0;  // 1-based: breaker roles and string.electrolyte_level
  bool active_low = false;
  // Digital inputs: alarm level raised while the input is active (0 none, 1 warning, 2 alarm);
  // a breaker_status input alarms while the breaker is open (default: alarm).
  int alarm_level = 0;
  DurationMs alarm_delay_ms = 0;
  // Analog channels: the catalogue point this channel feeds (system.humidity_pct …), if any.
  std::optional<PointId> point;
  // Analog inputs: signal type and the engineering range it maps to.
  AnalogSignal signal = AnalogSignal::kNone;
  double range_min = 0.0;
  double range_max = 100.0;
  std::string unit;  // engineering unit of an analog input
  // Transport addressing: Modbus register or GPIO line (unset: channel not wired).
  std::optional<RegisterMap> reg;
  std::optional<int> gpio_line;

  bool operator==(const IoChannelConfig&) const = default;
};

struct IoDeviceConfig {
  std::string id;  // "aux1": [a-z0-9_], unique
  IoDeviceType type = IoDeviceType::kGxRAux;
  std::string name;
  IoTransport transport = IoTransport::kSimulated;
  // Modbus TCP: "HOST:PORT"; Modbus RTU: serial device path.
  std::string address;
  int baud = 19200;
  char parity = 'N';
  int unit_id = 1;
  // GPIO: chip name, path or number as libgpiod's gpiod_chip_open_lookup() accepts it.
  std::string chip;
  DurationMs poll_interval_ms = kSecondMs;
  DurationMs timeout_ms = 500;  // per request
  int comm_lost_after_failures = 3;
  // Simulated ELS / sensors: which pilot cell (1-based string and block) the sensor sits on.
  int string_number = 0;
  int block_number = 0;
  std::vector<IoChannelConfig>
      channels;  // every channel of the model (simulated) or the wired ones

  bool operator==(const IoDeviceConfig&) const = default;
};

// The simulated battery room: what the simulated sensors measure (src/sim/room.hpp).
struct RoomConfig {
  double volume_m3 = 40.0;          // free air volume of the battery room
  double air_changes_per_h = 1.0;   // ventilation: air changes per hour
  double humidity_pct = 45.0;       // mean relative humidity at the ambient temperature
  double humidity_swing_pct = 5.0;  // day/night swing amplitude of the relative humidity

  bool operator==(const RoomConfig&) const = default;
};

// The point a sensor channel feeds unless configured otherwise (humidity, hydrogen, electrolyte
// level); nothing for the others.
std::optional<PointId> defaultPoint(ChannelKind kind);
// A channel of `device`'s model with every default (name "<device name> <channel>").
IoChannelConfig defaultChannel(const IoDeviceConfig& device, const ChannelModel& channel);
// Adds the model channels a device does not list yet (with defaults) and orders all of them as
// in the model: a simulated device has every channel of its model.
void completeChannels(IoDeviceConfig& device);

struct IoConfig {
  std::vector<IoDeviceConfig> devices;
  RoomConfig room;

  bool operator==(const IoConfig&) const = default;
};

}  // namespace equalis::model
