#include "model/plant.hpp"

namespace equalis::model {

int PlantConfig::moduleCount() const {
  int n = 0;
  for (const auto& s : strings) {
    n += s.block_count;
  }
  return n;
}

PlantConfig demoPlant() {
  PlantConfig p;
  StringConfig old_string;
  old_string.name = "String 1";
  old_string.block_count = 32;
  old_string.chemistry = Chemistry::kVrla12V;
  old_string.capacity_ah = 100.0;
  old_string.module_type = ModuleType::kC24;
  old_string.age_years = 5.0;
  StringConfig new_string = old_string;
  new_string.name = "String 2";
  new_string.age_years = 0.0;
  p.strings = {old_string, new_string};
  p.io = demoIo();
  return p;
}

IoConfig demoIo() {
  IoConfig io;
  // GX_R_AUX: the auxiliary contacts of both string breakers, their trip relays (thermal-runaway
  // protection), a door contact and a spare input; a fan and a flash light.
  IoDeviceConfig aux;
  aux.id = "aux1";
  aux.type = IoDeviceType::kGxRAux;
  aux.name = "Breaker box";
  const auto channel = [&](const char* id, const char* name, ChannelRole role, int string_number) {
    IoChannelConfig c;
    c.id = id;
    c.kind = id[0] == 'd' ? ChannelKind::kDigitalInput : ChannelKind::kRelay;
    c.name = name;
    c.role = role;
    c.string_number = string_number;
    c.alarm_level = role == ChannelRole::kBreakerStatus ? 2 : 0;
    aux.channels.push_back(c);
  };
  channel("di1", "String 1 breaker closed", ChannelRole::kBreakerStatus, 1);
  channel("di2", "String 2 breaker closed", ChannelRole::kBreakerStatus, 2);
  channel("di3", "Door contact", ChannelRole::kGeneric, 0);
  aux.channels.back().alarm_level = 1;  // door open: warning after 30 s
  aux.channels.back().alarm_delay_ms = 30 * kSecondMs;
  channel("relay1", "String 1 breaker trip", ChannelRole::kBreakerTrip, 1);
  channel("relay2", "String 2 breaker trip", ChannelRole::kBreakerTrip, 2);
  channel("relay3", "Ventilation fan", ChannelRole::kGeneric, 0);
  completeChannels(aux);
  io.devices.push_back(aux);

  // Sensors and the panel: every channel of their model with its defaults.
  const auto device = [&](const char* id, IoDeviceType type, const char* name, int string_number,
                          int block_number) {
    IoDeviceConfig d;
    d.id = id;
    d.type = type;
    d.name = name;
    d.string_number = string_number;
    d.block_number = block_number;
    completeChannels(d);
    io.devices.push_back(d);
  };
  device("room", IoDeviceType::kThSensor, "Battery room", 0, 0);
  device("h2", IoDeviceType::kHydrogenSensor, "Hydrogen sensor", 0, 0);
  device("els1", IoDeviceType::kElsSensor, "String 1 pilot cell", 1, 1);
  device("panel", IoDeviceType::kBuzzer, "Alarm panel", 0, 0);
  return io;
}

}  // namespace equalis::model
