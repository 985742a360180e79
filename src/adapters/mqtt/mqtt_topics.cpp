#include "adapters/mqtt/mqtt_topics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "adapters/common/alarm_text.hpp"
#include "model/chemistry.hpp"

namespace equalis::mqtt {

namespace {

using model::PointId;
using model::Scope;
using Json = nlohmann::ordered_json;

double roundTo(double v, int decimals) {
  const double f = std::pow(10.0, decimals + 1);  // one digit more than displayed, like REST
  return std::round(v * f) / f;
}

Json timeJson(TimeMs t_ms) {
  return t_ms > 0 ? Json(formatIso8601(t_ms)) : Json(nullptr);
}

void collectQualities(const Json& j, std::string& out) {
  if (!j.is_object()) {
    return;
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "quality" && value.is_string()) {
      out += value.get<std::string>();
      out += ',';
    } else if (value.is_object()) {
      collectQualities(value, out);
    }
  }
}

std::string fieldOf(PointId id) {
  return std::string(model::point(id).field());
}

// The parts every sensor config shares: value, availability from the point's quality,
// quality and time as attributes.
Json sensorConfig(const SensorSpec& spec, std::string name, const std::string& unique_id,
                  const std::string& state_topic, const Topics& topics, const Json& device) {
  const auto& def = model::point(spec.id);
  const std::string field = fieldOf(spec.id);
  Json c;
  c["name"] = std::move(name);
  c["unique_id"] = unique_id;
  c["state_topic"] = state_topic;
  c["value_template"] = fmt::format("{{{{ value_json.{}.value }}}}", field);
  if (!spec.device_class.empty()) {
    c["device_class"] = std::string(spec.device_class);
  }
  if (def.type == model::PointType::kEnum) {
    auto& options = c["options"] = Json::array();
    for (int i = 0; !model::enumName(spec.id, i).empty(); ++i) {
      options.push_back(std::string(model::enumName(spec.id, i)));
    }
  } else {
    c["state_class"] = "measurement";
    if (!def.unit.empty()) {
      c["unit_of_measurement"] = std::string(def.unit);
    }
    c["suggested_display_precision"] = def.decimals;
  }
  c["availability"] = Json::array(
      {Json{{"topic", topics.status()}},
       Json{{"topic", state_topic},
            {"value_template",
             fmt::format("{{{{ 'online' if value_json.{}.quality == 'ok' else 'offline' }}}}",
                         field)}}});
  c["availability_mode"] = "all";
  c["json_attributes_topic"] = state_topic;
  c["json_attributes_template"] = fmt::format(
      "{{{{ {{'quality': value_json.{0}.quality, 'time': value_json.{0}.time}} | tojson }}}}",
      field);
  c["device"] = device;
  return c;
}

std::string lowerFirst(std::string_view label) {
  std::string out(label);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') {
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string siteSlug(std::string_view site_name) {
  std::string out;
  bool dash = false;
  for (const char ch : site_name) {
    char c = ch;
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && !out.empty()) {
        out += '-';
      }
      dash = false;
      out += c;
    } else {
      dash = true;
    }
  }
  return out.empty() ? "site" : out;
}

std::string defaultPrefix(const model::PlantConfig& plant) {
  return "equalis/" + siteSlug(plant.site.name);
}

std::string siteId(const model::PlantConfig& plant) {
  std::string id = siteSlug(plant.site.name);
  std::replace(id.begin(), id.end(), '-', '_');
  return id;
}

std::string Topics::string(std::size_t string_no) const {
  return fmt::format("{}/string/{}/state", prefix, string_no);
}

std::string Topics::block(std::size_t string_no, std::size_t block_no) const {
  return fmt::format("{}/string/{}/block/{}/state", prefix, string_no, block_no);
}

Json valuePayload(PointId id, const state::Sample& sample) {
  const auto& def = model::point(id);
  Json j;
  const bool has_value = sample.quality != model::Quality::kNotPresent && sample.time_ms > 0 &&
                         std::isfinite(sample.value);
  if (!has_value) {
    j["value"] = nullptr;
  } else if (def.type == model::PointType::kEnum) {
    const auto name = model::enumName(id, static_cast<int>(sample.value));
    j["value"] = name.empty() ? Json(nullptr) : Json(std::string(name));
  } else if (def.type == model::PointType::kInt) {
    j["value"] = static_cast<std::int64_t>(std::llround(sample.value));
  } else {
    j["value"] = roundTo(sample.value, def.decimals);
  }
  j["quality"] = std::string(model::qualityName(sample.quality));
  j["time"] = timeJson(sample.time_ms);
  return j;
}

Json systemPayload(const model::PlantConfig& plant, const state::StateStore::Reader& r) {
  Json j;
  j["site"] = plant.site.name;
  for (const auto& def : model::catalogue()) {
    if (def.scope == Scope::kSystem) {
      j[std::string(def.field())] = valuePayload(def.id, r.get(def.id));
    }
  }
  return j;
}

Json stringPayload(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                   std::size_t s) {
  const auto& cfg = plant.strings.at(s);
  Json j;
  j["string"] = s + 1;
  j["name"] = cfg.name;
  j["block_count"] = cfg.block_count;
  for (const auto& def : model::catalogue()) {
    if (def.scope == Scope::kString) {
      j[std::string(def.field())] = valuePayload(def.id, r.get(def.id, s));
    }
  }
  return j;
}

Json blockPayload(const state::StateStore::Reader& r, std::size_t s, std::size_t b) {
  Json j;
  j["string"] = s + 1;
  j["block"] = b + 1;
  // Block quality and time: the worst quality and newest time of the measured values.
  model::Quality q = model::Quality::kOk;
  TimeMs measured_ms = 0;
  Json values;
  for (const auto& def : model::catalogue()) {
    if (def.scope != Scope::kBlock) {
      continue;
    }
    const auto sample = r.get(def.id, s, b);
    values[std::string(def.field())] = valuePayload(def.id, sample);
    if (def.id == PointId::kBlockVoltageV || def.id == PointId::kBlockTemperatureC ||
        def.id == PointId::kBlockRiMohm) {
      q = std::max(q, sample.quality);
      measured_ms = std::max(measured_ms, sample.time_ms);
    }
  }
  j["quality"] = std::string(model::qualityName(q));
  j["time"] = timeJson(measured_ms);
  for (auto& [key, value] : values.items()) {
    j[key] = value;
  }
  return j;
}

Json alarmJson(const model::PlantConfig& plant, const alarms::ActiveAlarm& a) {
  auto number = [](double v) -> Json { return std::isfinite(v) ? Json(v) : Json(nullptr); };
  Json j;
  j["id"] = adapters::protocolAlarmId(a);
  j["key"] = a.key;
  j["rule"] = a.rule_id;
  j["level"] = std::string(alarms::levelName(a.level));
  j["string"] = a.string_number;
  j["block"] = a.block_number;
  j["value"] = number(a.value);
  j["threshold"] = number(a.threshold);
  j["value_text"] = adapters::alarmQuantityText(plant, a, a.value);
  j["threshold_text"] = adapters::alarmQuantityText(plant, a, a.threshold);
  j["raised"] = timeJson(a.raised_ms);
  j["changed"] = timeJson(a.changed_ms);
  j["acknowledged"] = a.acknowledged;
  j["message"] = a.message;
  return j;
}

Json alarmsPayload(const model::PlantConfig& plant, const std::vector<alarms::ActiveAlarm>& list) {
  Json out = Json::array();
  for (const auto& a : list) {
    out.push_back(alarmJson(plant, a));
  }
  return out;
}

Json alarmStatePayload(const model::PlantConfig& plant,
                       const std::vector<alarms::ActiveAlarm>& list) {
  const auto counts = adapters::countAlarms(list);
  Json j;
  j["problem"] = list.empty() ? "OFF" : "ON";
  Json strings = Json::object();
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    const bool any = std::any_of(list.begin(), list.end(), [&](const alarms::ActiveAlarm& a) {
      return a.string_number == static_cast<int>(s) + 1;
    });
    strings[std::to_string(s + 1)] = any ? "ON" : "OFF";
  }
  j["strings"] = std::move(strings);
  j["active"] = counts.active;
  j["alarm"] = counts.alarm;
  j["warning"] = counts.warning;
  j["unacknowledged"] = counts.unacknowledged;
  return j;
}

std::vector<AlarmChange> alarmChanges(const std::vector<alarms::ActiveAlarm>& before,
                                      const std::vector<alarms::ActiveAlarm>& now) {
  std::vector<AlarmChange> out;
  auto find = [](const std::vector<alarms::ActiveAlarm>& list, const std::string& key) {
    return std::find_if(list.begin(), list.end(),
                        [&](const alarms::ActiveAlarm& a) { return a.key == key; });
  };
  for (const auto& a : now) {
    const auto it = find(before, a.key);
    if (it == before.end() || adapters::protocolAlarmId(*it) != adapters::protocolAlarmId(a)) {
      out.push_back({"raised", a});
    } else if (a.level > it->level) {
      out.push_back({"escalated", a});
    } else if (a.level < it->level) {
      out.push_back({"lowered", a});
    } else if (a.acknowledged && !it->acknowledged) {
      out.push_back({"acknowledged", a});
    }
  }
  for (const auto& a : before) {
    const auto it = find(now, a.key);
    if (it == now.end() || adapters::protocolAlarmId(*it) != adapters::protocolAlarmId(a)) {
      out.push_back({"cleared", a});
    }
  }
  return out;
}

Json alarmEventPayload(const model::PlantConfig& plant, const AlarmChange& change, TimeMs time_ms) {
  Json j;
  j["event"] = change.kind;
  j["time"] = timeJson(time_ms);
  j["alarm"] = alarmJson(plant, change.alarm);
  return j;
}

std::string qualitySignature(const Json& payload) {
  std::string out;
  collectQualities(payload, out);
  return out;
}

const std::vector<SensorSpec>& blockSensors() {
  static const std::vector<SensorSpec> k{
      {PointId::kBlockVoltageV, "Voltage", "voltage", "voltage"},
      {PointId::kBlockTemperatureC, "Temperature", "temperature", "temperature"},
      {PointId::kBlockRiMohm, "Internal resistance", "ri", ""},
      {PointId::kBlockChargePct, "Charge", "charge", "battery"},
      {PointId::kBlockEqualizationPct, "Equalization", "equalization", ""},
  };
  return k;
}

const std::vector<SensorSpec>& stringSensors() {
  static const std::vector<SensorSpec> k{
      {PointId::kStringVoltageV, "Voltage", "voltage", "voltage"},
      {PointId::kStringCurrentA, "Current", "current", "current"},
      {PointId::kStringPowerKw, "Power", "power", "power"},
      {PointId::kStringMode, "Mode", "mode", "enum"},
      {PointId::kStringChargeAvgPct, "Average charge", "charge_avg", "battery"},
      {PointId::kStringAcCurrentA, "AC ripple current", "ac_current", "current"},
      {PointId::kStringBlockVoltageSpreadV, "Block voltage spread", "block_voltage_spread",
       "voltage"},
      {PointId::kStringTemperatureMaxC, "Highest block temperature", "temperature_max",
       "temperature"},
      {PointId::kStringEqualizationState, "Equalization state", "equalization_state", "enum"},
      {PointId::kStringEqualizationPowerW, "Equalization power", "equalization_power", "power"},
      {PointId::kStringProtectionState, "Thermal-runaway protection", "protection_state", "enum"},
      {PointId::kStringElectrolyteLevel, "Electrolyte level", "electrolyte_level", "enum"},
      {PointId::kStringChargerDeviationPct, "Charger voltage deviation", "charger_deviation", ""},
  };
  return k;
}

const std::vector<SensorSpec>& systemSensors() {
  static const std::vector<SensorSpec> k{
      {PointId::kSystemAmbientTemperatureC, "Ambient temperature", "ambient_temperature",
       "temperature"},
      {PointId::kSystemModulesOkCount, "Modules answering", "modules_ok", ""},
      {PointId::kSystemHumidityPct, "Humidity", "humidity", "humidity"},
      // Home Assistant has no hydrogen device class: a plain % (by volume) sensor.
      {PointId::kSystemHydrogenPct, "Hydrogen", "hydrogen", ""},
  };
  return k;
}

std::vector<DiscoveryMessage> discoveryMessages(const model::PlantConfig& plant,
                                                const Topics& topics,
                                                const DiscoveryOptions& options) {
  std::vector<DiscoveryMessage> out;
  if (options.mode == DiscoveryMode::kOff) {
    return out;
  }
  const std::string site = "equalis_" + siteId(plant);
  auto add = [&](std::string unique_id, Json config) {
    DiscoveryMessage m;
    m.topic = fmt::format("{}/sensor/{}/config", options.discovery_prefix, unique_id);
    m.unique_id = std::move(unique_id);
    m.config = std::move(config);
    out.push_back(std::move(m));
  };

  Json site_device;
  site_device["identifiers"] = Json::array({site});
  site_device["name"] = plant.site.name;
  site_device["manufacturer"] = "Equalis";
  site_device["model"] = "equalisd battery monitor";
  if (!options.version.empty()) {
    site_device["sw_version"] = options.version;
  }
  if (!plant.site.location.empty()) {
    site_device["suggested_area"] = plant.site.location;
  }
  for (const auto& spec : systemSensors()) {
    add(fmt::format("{}_{}", site, spec.key),
        sensorConfig(spec, std::string(spec.label), fmt::format("{}_{}", site, spec.key),
                     topics.system(), topics, site_device));
  }
  // Alarms: a problem binary sensor for the site and per string, and the alarm counts, all
  // read from <prefix>/alarm/state.
  auto add_binary = [&](const std::string& unique_id, std::string name, std::string tmpl,
                        const Json& device) {
    Json c;
    c["name"] = std::move(name);
    c["unique_id"] = unique_id;
    c["state_topic"] = topics.alarmState();
    c["value_template"] = std::move(tmpl);
    c["device_class"] = "problem";
    c["availability_topic"] = topics.status();
    c["json_attributes_topic"] = topics.alarms();
    c["json_attributes_template"] = "{{ {'alarms': value_json} | tojson }}";
    c["device"] = device;
    DiscoveryMessage m;
    m.topic = fmt::format("{}/binary_sensor/{}/config", options.discovery_prefix, unique_id);
    m.unique_id = unique_id;
    m.config = std::move(c);
    out.push_back(std::move(m));
  };
  add_binary(site + "_alarm", "Alarm", "{{ value_json.problem }}", site_device);
  for (const auto& [key, label] : {std::pair<const char*, const char*>{"active", "Active alarms"},
                                   {"unacknowledged", "Unacknowledged alarms"},
                                   {"alarm", "Alarms at alarm level"}}) {
    Json c;
    const auto uid = fmt::format("{}_alarms_{}", site, key);
    c["name"] = label;
    c["unique_id"] = uid;
    c["state_topic"] = topics.alarmState();
    c["value_template"] = fmt::format("{{{{ value_json.{} }}}}", key);
    c["state_class"] = "measurement";
    c["availability_topic"] = topics.status();
    c["device"] = site_device;
    add(uid, std::move(c));
  }

  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    const auto& cfg = plant.strings[s];
    const std::string string_id = fmt::format("{}_s{}", site, s + 1);
    Json device;
    device["identifiers"] = Json::array({string_id});
    device["name"] = fmt::format("{} {}", plant.site.name, cfg.name);
    device["manufacturer"] = "Equalis";
    device["model"] = fmt::format("{}, {} modules", model::chemistryInfo(cfg.chemistry).description,
                                  model::moduleTypeInfo(cfg.module_type).key);
    if (!options.version.empty()) {
      device["sw_version"] = options.version;
    }
    device["via_device"] = site;
    add_binary(string_id + "_alarm", "Alarm",
               fmt::format("{{{{ value_json.strings['{}'] }}}}", s + 1), device);
    for (const auto& spec : stringSensors()) {
      const auto uid = fmt::format("{}_{}", string_id, spec.key);
      add(uid,
          sensorConfig(spec, std::string(spec.label), uid, topics.string(s + 1), topics, device));
    }
    if (options.mode != DiscoveryMode::kAll) {
      continue;
    }
    for (int b = 0; b < cfg.block_count; ++b) {
      const auto block_no = static_cast<std::size_t>(b) + 1;
      for (const auto& spec : blockSensors()) {
        const auto uid = fmt::format("{}_b{}_{}", string_id, block_no, spec.key);
        add(uid, sensorConfig(spec, fmt::format("Block {} {}", block_no, lowerFirst(spec.label)),
                              uid, topics.block(s + 1, block_no), topics, device));
      }
    }
  }
  return out;
}

TimeMs firstStaleMs(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                    DurationMs stale_after_ms) {
  TimeMs first = std::numeric_limits<TimeMs>::max();
  auto consider = [&](PointId id, std::size_t s, std::size_t b) {
    const auto sample = r.get(id, s, b);
    if (sample.quality == model::Quality::kOk && sample.time_ms > 0) {
      first = std::min(first, sample.time_ms + stale_after_ms + 1);  // stale once older
    }
  };
  for (const auto& def : model::catalogue()) {
    switch (def.scope) {
      case Scope::kSystem:
        consider(def.id, 0, 0);
        break;
      case Scope::kString:
        for (std::size_t s = 0; s < plant.strings.size(); ++s) {
          consider(def.id, s, 0);
        }
        break;
      case Scope::kBlock:
        for (std::size_t s = 0; s < plant.strings.size(); ++s) {
          for (int b = 0; b < plant.strings[s].block_count; ++b) {
            consider(def.id, s, static_cast<std::size_t>(b));
          }
        }
        break;
    }
  }
  return first;
}

bool PublishGate::offer(const std::string& topic, const std::string& payload,
                        const std::string& signature, TimePoint now) {
  const auto it = last_.find(topic);
  if (it != last_.end()) {
    if (it->second.payload == payload) {
      return false;
    }
    if (it->second.signature == signature && now - it->second.time < interval_) {
      held_until_ = std::min(held_until_, it->second.time + interval_);
      return false;
    }
  }
  last_[topic] = Sent{payload, signature, now};
  return true;
}

}  // namespace equalis::mqtt
