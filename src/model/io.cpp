#include "model/io.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace equalis::model {

namespace {

using enum ChannelKind;

constexpr std::array<ChannelModel, 8> kGxRAux = {{{"di1", kDigitalInput},
                                                  {"di2", kDigitalInput},
                                                  {"di3", kDigitalInput},
                                                  {"di4", kDigitalInput},
                                                  {"relay1", kRelay},
                                                  {"relay2", kRelay},
                                                  {"relay3", kRelay},
                                                  {"relay4", kRelay}}};

constexpr std::array<ChannelModel, 24> kSiteManager = {{
    {"di1", kDigitalInput}, {"di2", kDigitalInput}, {"di3", kDigitalInput}, {"di4", kDigitalInput},
    {"di5", kDigitalInput}, {"di6", kDigitalInput}, {"di7", kDigitalInput}, {"di8", kDigitalInput},
    {"ai1", kAnalogInput},  {"ai2", kAnalogInput},  {"ai3", kAnalogInput},  {"ai4", kAnalogInput},
    {"ai5", kAnalogInput},  {"ai6", kAnalogInput},  {"ai7", kAnalogInput},  {"ai8", kAnalogInput},
    {"relay1", kRelay},     {"relay2", kRelay},     {"relay3", kRelay},     {"relay4", kRelay},
    {"relay5", kRelay},     {"relay6", kRelay},     {"relay7", kRelay},     {"relay8", kRelay},
}};

constexpr std::array<ChannelModel, 2> kTh = {
    {{"temperature", kTemperature}, {"humidity", kHumidity}}};
constexpr std::array<ChannelModel, 1> kHydrogenSensor = {{{"hydrogen", kHydrogen}}};
constexpr std::array<ChannelModel, 1> kEls = {{{"level", kElectrolyteLevel}}};
constexpr std::array<ChannelModel, 2> kBuzzerModel = {{{"buzzer", kBuzzer}, {"led", kLed}}};

constexpr std::array<IoDeviceModel, 6> kModels = {{
    {IoDeviceType::kGxRAux, "gx_r_aux",
     "relay/input box: 4 digital inputs (breaker status), 4 relays (breaker trip)", kGxRAux},
    {IoDeviceType::kSiteManager, "sitemanager",
     "site manager: 8 digital inputs, 8 analog inputs (0-10 V / 4-20 mA), 8 relays", kSiteManager},
    {IoDeviceType::kThSensor, "th_sensor", "room temperature and relative humidity sensor", kTh},
    {IoDeviceType::kHydrogenSensor, "hydrogen_sensor", "hydrogen sensor (% by volume)",
     kHydrogenSensor},
    {IoDeviceType::kElsSensor, "els_sensor", "electrolyte level sensor on a pilot cell", kEls},
    {IoDeviceType::kBuzzer, "buzzer", "alarm buzzer and alarm LED", kBuzzerModel},
}};

}  // namespace

std::span<const IoDeviceModel> ioDeviceModels() {
  return kModels;
}

const IoDeviceModel& ioDeviceModel(IoDeviceType type) {
  return kModels.at(static_cast<std::size_t>(type));
}

std::optional<IoDeviceType> parseIoDeviceType(std::string_view key) {
  for (const auto& m : kModels) {
    if (m.key == key) {
      return m.type;
    }
  }
  return std::nullopt;
}

std::string_view ioTransportName(IoTransport t) {
  switch (t) {
    case IoTransport::kSimulated:
      return "simulated";
    case IoTransport::kModbusTcp:
      return "modbus_tcp";
    case IoTransport::kModbusRtu:
      return "modbus_rtu";
    case IoTransport::kGpio:
      return "gpio";
  }
  return "?";
}

std::optional<IoTransport> parseIoTransport(std::string_view key) {
  for (auto t : {IoTransport::kSimulated, IoTransport::kModbusTcp, IoTransport::kModbusRtu,
                 IoTransport::kGpio}) {
    if (ioTransportName(t) == key) {
      return t;
    }
  }
  return std::nullopt;
}

std::string_view channelKindName(ChannelKind k) {
  switch (k) {
    case kDigitalInput:
      return "digital_input";
    case kRelay:
      return "relay";
    case kAnalogInput:
      return "analog_input";
    case kTemperature:
      return "temperature";
    case kHumidity:
      return "humidity";
    case kHydrogen:
      return "hydrogen";
    case kElectrolyteLevel:
      return "electrolyte_level";
    case kBuzzer:
      return "buzzer";
    case kLed:
      return "led";
  }
  return "?";
}

std::string_view channelKindUnit(ChannelKind k) {
  switch (k) {
    case kTemperature:
      return "°C";
    case kHumidity:
    case kHydrogen:
      return "%";
    default:
      return "";
  }
}

bool isOutputKind(ChannelKind k) {
  return k == kRelay || k == kBuzzer || k == kLed;
}

bool isDigitalKind(ChannelKind k) {
  return k == kDigitalInput || isOutputKind(k);
}

std::string_view channelRoleName(ChannelRole r) {
  switch (r) {
    case ChannelRole::kGeneric:
      return "generic";
    case ChannelRole::kBreakerStatus:
      return "breaker_status";
    case ChannelRole::kBreakerTrip:
      return "breaker_trip";
    case ChannelRole::kChargerReduce:
      return "charger_reduce";
  }
  return "?";
}

std::string_view registerTableName(RegisterTable t) {
  switch (t) {
    case RegisterTable::kCoil:
      return "coil";
    case RegisterTable::kDiscrete:
      return "discrete";
    case RegisterTable::kHolding:
      return "holding";
    case RegisterTable::kInput:
      return "input";
  }
  return "?";
}

std::optional<RegisterTable> parseRegisterTable(std::string_view key) {
  for (auto t : {RegisterTable::kCoil, RegisterTable::kDiscrete, RegisterTable::kHolding,
                 RegisterTable::kInput}) {
    if (registerTableName(t) == key) {
      return t;
    }
  }
  return std::nullopt;
}

std::string_view analogSignalName(AnalogSignal s) {
  switch (s) {
    case AnalogSignal::kNone:
      return "none";
    case AnalogSignal::kVoltage0To10:
      return "0-10V";
    case AnalogSignal::kCurrent4To20:
      return "4-20mA";
  }
  return "?";
}

std::optional<AnalogSignal> parseAnalogSignal(std::string_view key) {
  for (auto s : {AnalogSignal::kNone, AnalogSignal::kVoltage0To10, AnalogSignal::kCurrent4To20}) {
    if (analogSignalName(s) == key) {
      return s;
    }
  }
  return std::nullopt;
}

std::optional<PointId> defaultPoint(ChannelKind kind) {
  switch (kind) {
    case kHumidity:
      return PointId::kSystemHumidityPct;
    case kHydrogen:
      return PointId::kSystemHydrogenPct;
    case kElectrolyteLevel:
      return PointId::kStringElectrolyteLevel;
    default:
      return std::nullopt;
  }
}

IoChannelConfig defaultChannel(const IoDeviceConfig& device, const ChannelModel& channel) {
  IoChannelConfig c;
  c.id = std::string(channel.id);
  c.kind = channel.kind;
  c.name = fmt::format("{} {}", device.name.empty() ? device.id : device.name, c.id);
  c.point = defaultPoint(c.kind);
  c.unit = std::string(c.point ? point(*c.point).unit : channelKindUnit(c.kind));
  if (c.kind == kAnalogInput) {
    c.signal = AnalogSignal::kCurrent4To20;
  }
  if (c.point == PointId::kStringElectrolyteLevel) {
    c.string_number = device.string_number;
  }
  return c;
}

void completeChannels(IoDeviceConfig& device) {
  const auto& m = ioDeviceModel(device.type);
  std::vector<IoChannelConfig> ordered;
  for (const auto& cm : m.channels) {
    const auto it = std::find_if(device.channels.begin(), device.channels.end(),
                                 [&](const IoChannelConfig& c) { return c.id == cm.id; });
    ordered.push_back(it != device.channels.end() ? std::move(*it) : defaultChannel(device, cm));
  }
  device.channels = std::move(ordered);
}

}  // namespace equalis::model
