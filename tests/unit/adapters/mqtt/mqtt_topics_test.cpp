#include "adapters/mqtt/mqtt_topics.hpp"

#include <limits>
#include <regex>
#include <set>

#include <gtest/gtest.h>

namespace equalis::mqtt {
namespace {

using model::PointId;
using model::Quality;
using namespace std::chrono_literals;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

std::vector<int> layout(const model::PlantConfig& plant) {
  std::vector<int> blocks;
  for (const auto& s : plant.strings) {
    blocks.push_back(s.block_count);
  }
  return blocks;
}

TEST(MqttTopics, SiteSlug) {
  EXPECT_EQ(siteSlug("Equalis demo site"), "equalis-demo-site");
  EXPECT_EQ(siteSlug("  UPS Room #2 / Süd "), "ups-room-2-s-d");
  EXPECT_EQ(siteSlug("***"), "site");
  model::PlantConfig plant = model::demoPlant();
  EXPECT_EQ(defaultPrefix(plant), "equalis/" + siteSlug(plant.site.name));
  EXPECT_EQ(siteId(plant).find('-'), std::string::npos);
}

TEST(MqttTopics, TopicNames) {
  Topics t{"equalis/site"};
  EXPECT_EQ(t.status(), "equalis/site/status");
  EXPECT_EQ(t.system(), "equalis/site/system");
  EXPECT_EQ(t.string(2), "equalis/site/string/2/state");
  EXPECT_EQ(t.block(2, 32), "equalis/site/string/2/block/32/state");
}

TEST(MqttTopics, ValuePayload) {
  auto v = valuePayload(PointId::kBlockVoltageV, {13.61234, kT0, Quality::kOk});
  EXPECT_DOUBLE_EQ(v["value"].get<double>(), 13.6123);  // 3 decimals + 1, like REST
  EXPECT_EQ(v["quality"], "ok");
  EXPECT_EQ(v["time"], "2026-01-01T00:00:00.000Z");
  EXPECT_FALSE(v.contains("age_s"));  // unchanged data gives an unchanged payload

  auto mode = valuePayload(PointId::kStringMode, {2, kT0, Quality::kOk});
  EXPECT_EQ(mode["value"], "discharge");
  auto count = valuePayload(PointId::kSystemModulesOkCount, {63.7, kT0, Quality::kOk});
  EXPECT_EQ(count["value"], 64);
  auto missing = valuePayload(PointId::kBlockRiMohm, {});
  EXPECT_TRUE(missing["value"].is_null());
  EXPECT_EQ(missing["quality"], "not_present");
  EXPECT_TRUE(missing["time"].is_null());
}

TEST(MqttTopics, PayloadsCarryEveryCatalogueFieldWithQuality) {
  const auto plant = model::demoPlant();
  state::StateStore store(layout(plant), 30'000);
  {
    state::StateStore::Writer w(store);
    w.set(PointId::kBlockVoltageV, 1, 4, {13.5, kT0, Quality::kOk});
    w.set(PointId::kBlockTemperatureC, 1, 4, {24.0, kT0, Quality::kOk});
    w.set(PointId::kBlockRiMohm, 1, 4, {4.2, kT0 - 20'000, Quality::kOk});
    w.set(PointId::kStringVoltageV, 1, 0, {432.0, kT0, Quality::kOk});
    w.setSystem(PointId::kSystemModuleCount, {64, kT0, Quality::kOk});
  }
  state::StateStore::Reader fresh(store, kT0 + 1000);
  const auto block = blockPayload(fresh, 1, 4);
  EXPECT_EQ(block["string"], 2);
  EXPECT_EQ(block["block"], 5);
  EXPECT_EQ(block["quality"], "ok");
  EXPECT_DOUBLE_EQ(block["voltage_v"]["value"].get<double>(), 13.5);
  const auto string = stringPayload(plant, fresh, 1);
  EXPECT_EQ(string["string"], 2);
  EXPECT_EQ(string["name"], plant.strings[1].name);
  const auto system = systemPayload(plant, fresh);
  EXPECT_EQ(system["module_count"]["value"], 64);
  for (const auto& def : model::catalogue()) {
    const auto& payload = def.scope == model::Scope::kBlock    ? block
                          : def.scope == model::Scope::kString ? string
                                                               : system;
    const std::string field(def.field());
    ASSERT_TRUE(payload.contains(field)) << def.name;
    EXPECT_TRUE(payload[field].contains("value")) << def.name;
    EXPECT_TRUE(payload[field].contains("quality")) << def.name;
    EXPECT_TRUE(payload[field].contains("time")) << def.name;
  }

  // 15 s later Ri (measured 20 s earlier) is past the 30 s limit: published as stale, never ok.
  state::StateStore::Reader later(store, kT0 + 15'000);
  const auto aged = blockPayload(later, 1, 4);
  EXPECT_EQ(aged["ri_mohm"]["quality"], "stale");
  EXPECT_EQ(aged["voltage_v"]["quality"], "ok");
  EXPECT_EQ(aged["quality"], "stale");
  EXPECT_NE(qualitySignature(aged), qualitySignature(block));
  state::StateStore::Reader much_later(store, kT0 + 60'000);
  EXPECT_EQ(blockPayload(much_later, 1, 4)["voltage_v"]["quality"], "stale");
}

TEST(MqttTopics, QualitySignature) {
  nlohmann::ordered_json j = {{"quality", "ok"},
                              {"a", {{"value", 1}, {"quality", "stale"}}},
                              {"b", {{"value", 2}, {"quality", "ok"}}}};
  EXPECT_EQ(qualitySignature(j), "ok,stale,ok,");
}

TEST(MqttDiscovery, OneSensorPerBlockQuantityAndStringQuantity) {
  const auto plant = model::demoPlant();
  const Topics topics{defaultPrefix(plant)};
  const auto messages =
      discoveryMessages(plant, topics, {DiscoveryMode::kAll, "homeassistant", "1.2.3"});
  std::size_t blocks = 0;
  for (const auto& s : plant.strings) {
    blocks += static_cast<std::size_t>(s.block_count);
  }
  ASSERT_EQ(blocks, 64u);
  // + the alarm entities: a problem binary sensor for the site and each string, 3 counts.
  EXPECT_EQ(messages.size(), blocks * blockSensors().size() +
                                 plant.strings.size() * stringSensors().size() +
                                 systemSensors().size() + 1 + plant.strings.size() + 3);
  EXPECT_EQ(blockSensors().size(), 5u);

  // A state store with every point written, to check each template against a real payload.
  state::StateStore store(layout(plant), 30'000);
  {
    state::StateStore::Writer w(store);
    for (const auto& def : model::catalogue()) {
      for (std::size_t s = 0; s < plant.strings.size(); ++s) {
        for (int b = 0; b < plant.strings[s].block_count; ++b) {
          w.set(def.id, s, static_cast<std::size_t>(b), {1.0, kT0, Quality::kOk});
        }
      }
    }
  }
  state::StateStore::Reader r(store, kT0);
  std::map<std::string, nlohmann::ordered_json> payloads;
  payloads[topics.system()] = systemPayload(plant, r);
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    payloads[topics.string(s + 1)] = stringPayload(plant, r, s);
    for (int b = 0; b < plant.strings[s].block_count; ++b) {
      const auto bi = static_cast<std::size_t>(b);
      payloads[topics.block(s + 1, bi + 1)] = blockPayload(r, s, bi);
    }
  }

  const std::regex id_chars("^[a-zA-Z0-9_-]+$");
  const std::regex value_template(R"(^\{\{ value_json\.([a-z0-9_]+)\.value \}\}$)");
  std::set<std::string> ids;
  std::set<std::string> devices;
  const auto alarm_state = alarmStatePayload(plant, {});
  std::size_t binary_sensors = 0;
  for (const auto& m : messages) {
    const auto& c = m.config;
    SCOPED_TRACE(m.topic);
    EXPECT_TRUE(std::regex_match(m.unique_id, id_chars));
    EXPECT_TRUE(ids.insert(m.unique_id).second) << "duplicate unique_id";
    if (c["state_topic"] == topics.alarmState()) {
      // Alarm entities read members of <prefix>/alarm/state.
      const std::string tmpl = c["value_template"];
      std::smatch match;
      if (c.contains("device_class") && c["device_class"] == "problem") {
        ++binary_sensors;
        EXPECT_EQ(m.topic, "homeassistant/binary_sensor/" + m.unique_id + "/config");
        ASSERT_TRUE(std::regex_search(tmpl, match, std::regex(R"(strings\['(\d+)'\])")) ||
                    tmpl == "{{ value_json.problem }}")
            << tmpl;
        if (!match.empty()) {
          EXPECT_TRUE(alarm_state["strings"].contains(match[1].str())) << tmpl;
        }
      } else {
        EXPECT_EQ(m.topic, "homeassistant/sensor/" + m.unique_id + "/config");
        ASSERT_TRUE(std::regex_match(tmpl, match, std::regex(R"(^\{\{ value_json\.(\w+) \}\}$)")));
        EXPECT_TRUE(alarm_state.contains(match[1].str())) << tmpl;
      }
      continue;
    }
    EXPECT_EQ(m.topic, "homeassistant/sensor/" + m.unique_id + "/config");
    EXPECT_EQ(c["unique_id"], m.unique_id);
    EXPECT_FALSE(c["name"].get<std::string>().empty());
    const std::string state_topic = c["state_topic"];
    ASSERT_TRUE(payloads.count(state_topic)) << state_topic;
    std::smatch match;
    const std::string tmpl = c["value_template"];
    ASSERT_TRUE(std::regex_match(tmpl, match, value_template)) << tmpl;
    const std::string field = match[1];
    ASSERT_TRUE(payloads[state_topic].contains(field)) << field;
    // The catalogue point behind the field fixes the unit.
    const auto scope = state_topic.find("/block/") != std::string::npos ? model::Scope::kBlock
                       : state_topic == topics.system()                 ? model::Scope::kSystem
                                                                        : model::Scope::kString;
    const model::PointDef* def = nullptr;
    for (const auto& d : model::catalogue()) {
      if (d.scope == scope && d.field() == field) {
        def = &d;
      }
    }
    ASSERT_NE(def, nullptr) << field;
    if (def->type == model::PointType::kEnum) {
      EXPECT_EQ(c["device_class"], "enum");
      EXPECT_FALSE(c.contains("unit_of_measurement"));
      EXPECT_FALSE(c["options"].empty());
    } else {
      EXPECT_EQ(c["state_class"], "measurement");
      if (!def->unit.empty()) {
        EXPECT_EQ(c["unit_of_measurement"], std::string(def->unit));
      }
    }
    // Availability: the daemon's status topic AND the value's own quality.
    ASSERT_EQ(c["availability"].size(), 2u);
    EXPECT_EQ(c["availability"][0]["topic"], topics.status());
    EXPECT_EQ(c["availability"][1]["topic"], state_topic);
    EXPECT_NE(c["availability"][1]["value_template"].get<std::string>().find("value_json." + field +
                                                                             ".quality == 'ok'"),
              std::string::npos);
    EXPECT_EQ(c["availability_mode"], "all");
    EXPECT_EQ(c["json_attributes_topic"], state_topic);
    EXPECT_EQ(c["device"]["manufacturer"], "Equalis");
    devices.insert(c["device"]["identifiers"][0].get<std::string>());
  }
  EXPECT_EQ(devices.size(), plant.strings.size() + 1);  // one per string + the site

  // Spot checks of the block quantities.
  const std::string s1b1 = "equalis_" + siteId(plant) + "_s1_b1_";
  auto config = [&](const std::string& uid) {
    for (const auto& m : messages) {
      if (m.unique_id == uid) {
        return m.config;
      }
    }
    ADD_FAILURE() << "no " << uid;
    return nlohmann::ordered_json{};
  };
  const auto voltage = config(s1b1 + "voltage");
  EXPECT_EQ(voltage["device_class"], "voltage");
  EXPECT_EQ(voltage["unit_of_measurement"], "V");
  EXPECT_EQ(voltage["state_topic"], topics.block(1, 1));
  EXPECT_EQ(voltage["value_template"], "{{ value_json.voltage_v.value }}");
  EXPECT_EQ(config(s1b1 + "temperature")["device_class"], "temperature");
  const auto ri = config(s1b1 + "ri");
  EXPECT_FALSE(ri.contains("device_class"));
  EXPECT_EQ(ri["unit_of_measurement"], "mΩ");
  EXPECT_EQ(config(s1b1 + "charge")["device_class"], "battery");
  EXPECT_EQ(config(s1b1 + "charge")["unit_of_measurement"], "%");
  EXPECT_EQ(config(s1b1 + "equalization")["unit_of_measurement"], "%");
  const std::string s2 = "equalis_" + siteId(plant) + "_s2_";
  EXPECT_EQ(config(s2 + "power")["device_class"], "power");
  EXPECT_EQ(config(s2 + "power")["unit_of_measurement"], "kW");
  EXPECT_EQ(config(s2 + "current")["device_class"], "current");
  EXPECT_EQ(config(s2 + "mode")["options"],
            nlohmann::ordered_json::array({"float", "charge", "discharge", "rest"}));
  EXPECT_NE(config(s2 + "voltage")["device"]["model"].get<std::string>().find("C24"),
            std::string::npos);
}

TEST(MqttDiscovery, Modes) {
  const auto plant = model::demoPlant();
  const Topics topics{"p"};
  EXPECT_TRUE(discoveryMessages(plant, topics, {DiscoveryMode::kOff, "homeassistant", ""}).empty());
  const auto strings = discoveryMessages(plant, topics, {DiscoveryMode::kStrings, "ha", ""});
  EXPECT_EQ(strings.size(), plant.strings.size() * stringSensors().size() + systemSensors().size() +
                                1 + plant.strings.size() + 3);
  for (const auto& m : strings) {
    EXPECT_TRUE(m.topic.rfind("ha/sensor/", 0) == 0 || m.topic.rfind("ha/binary_sensor/", 0) == 0)
        << m.topic;
    EXPECT_EQ(m.config["state_topic"].get<std::string>().find("/block/"), std::string::npos);
  }
}

TEST(MqttPublishGate, RateLimitAndChangeFilter) {
  PublishGate gate(10s);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  EXPECT_TRUE(gate.offer("t", "a", "ok,", t0));           // first: always
  EXPECT_FALSE(gate.offer("t", "a", "ok,", t0 + 20s));    // unchanged: never
  EXPECT_FALSE(gate.offer("t", "b", "ok,", t0 + 5s));     // changed, too soon
  EXPECT_TRUE(gate.offer("t", "b", "ok,", t0 + 10s));     // changed, interval passed
  EXPECT_TRUE(gate.offer("t", "c", "stale,", t0 + 11s));  // quality change: at once
  EXPECT_TRUE(gate.offer("u", "a", "ok,", t0 + 11s));     // per topic
  EXPECT_FALSE(gate.offer("t", "d", "stale,", t0 + 12s));
  gate.forget("t");
  EXPECT_TRUE(gate.offer("t", "d", "stale,", t0 + 12s));
  gate.reset();
  EXPECT_TRUE(gate.offer("t", "d", "stale,", t0 + 12s));
  EXPECT_TRUE(gate.offer("u", "a", "ok,", t0 + 12s));
}

TEST(MqttPublishGate, TellsWhenAHeldBackPayloadIsDue) {
  PublishGate gate(10s);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  using TimePoint = PublishGate::TimePoint;
  gate.beginPass();
  EXPECT_EQ(gate.heldUntil(), TimePoint::max());
  EXPECT_TRUE(gate.offer("t", "a", "ok,", t0));
  EXPECT_TRUE(gate.offer("u", "a", "ok,", t0 + 2s));
  EXPECT_FALSE(gate.offer("t", "a", "ok,", t0 + 3s));  // unchanged: nothing held back
  EXPECT_EQ(gate.heldUntil(), TimePoint::max());
  EXPECT_FALSE(gate.offer("u", "b", "ok,", t0 + 3s));  // held back until t0 + 12 s
  EXPECT_FALSE(gate.offer("t", "b", "ok,", t0 + 3s));  // held back until t0 + 10 s
  EXPECT_EQ(gate.heldUntil(), t0 + 10s);
  gate.beginPass();
  EXPECT_EQ(gate.heldUntil(), TimePoint::max());
  EXPECT_TRUE(gate.offer("t", "b", "ok,", t0 + 10s));
}

TEST(MqttStates, FirstStaleTimeOfThePlant) {
  auto plant = model::demoPlant();
  state::StateStore store({32, 32}, 30'000);
  EXPECT_EQ(firstStaleMs(plant, state::StateStore::Reader(store, kT0), 30'000),
            std::numeric_limits<TimeMs>::max());
  {
    state::StateStore::Writer w(store);
    w.set(model::PointId::kBlockVoltageV, 1, 31, {13.6, kT0 - 5'000, model::Quality::kOk});
    w.set(model::PointId::kStringVoltageV, 0, 0, {436.0, kT0, model::Quality::kOk});
    w.set(model::PointId::kBlockVoltageV, 0, 0, {13.6, kT0 - 9'000, model::Quality::kCommLost});
  }
  // Block 32 of string 2 turns stale first: 30 s after it was measured.
  EXPECT_EQ(firstStaleMs(plant, state::StateStore::Reader(store, kT0), 30'000),
            kT0 - 5'000 + 30'001);
  // Once it reads stale, the string voltage is next.
  EXPECT_EQ(firstStaleMs(plant, state::StateStore::Reader(store, kT0 + 25'001), 30'000),
            kT0 + 30'001);
}

TEST(MqttAlarms, PayloadsAndChanges) {
  const auto plant = model::demoPlant();
  alarms::ActiveAlarm a;
  a.id = 4;
  a.key = "block.voltage_high/1/7";
  a.rule_id = "block.voltage_high";
  a.level = alarms::Level::kWarning;
  a.string_number = 1;
  a.block_number = 7;
  a.value = 14.2;
  a.threshold = 14.1;
  a.raised_ms = kT0;
  a.changed_ms = kT0;
  a.message = "String 1, block 7: voltage high";
  const auto list = alarmsPayload(plant, {a});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], 4);
  EXPECT_EQ(list[0]["level"], "warning");
  EXPECT_EQ(list[0]["value_text"], "14.200 V");
  EXPECT_EQ(list[0]["acknowledged"], false);
  EXPECT_EQ(alarmsPayload(plant, {}).dump(), "[]");
  const auto state = alarmStatePayload(plant, {a});
  EXPECT_EQ(state["problem"], "ON");
  EXPECT_EQ(state["strings"]["1"], "ON");
  EXPECT_EQ(state["strings"]["2"], "OFF");
  EXPECT_EQ(state["unacknowledged"], 1);
  EXPECT_EQ(alarmStatePayload(plant, {})["problem"], "OFF");

  auto b = a;
  b.acknowledged = true;
  auto c = a;
  c.level = alarms::Level::kAlarm;
  auto kinds = [](const std::vector<AlarmChange>& changes) {
    std::string out;
    for (const auto& ch : changes) {
      out += (out.empty() ? "" : ",") + ch.kind;
    }
    return out;
  };
  EXPECT_EQ(kinds(alarmChanges({}, {a})), "raised");
  EXPECT_EQ(kinds(alarmChanges({a}, {a})), "");
  EXPECT_EQ(kinds(alarmChanges({a}, {b})), "acknowledged");
  EXPECT_EQ(kinds(alarmChanges({a}, {c})), "escalated");
  EXPECT_EQ(kinds(alarmChanges({c}, {a})), "lowered");
  EXPECT_EQ(kinds(alarmChanges({a}, {})), "cleared");
  auto again = a;
  again.id = 9;  // cleared and raised again between two looks
  EXPECT_EQ(kinds(alarmChanges({a}, {again})), "raised,cleared");
  const auto event = alarmEventPayload(plant, {"raised", a}, kT0);
  EXPECT_EQ(event["event"], "raised");
  EXPECT_EQ(event["alarm"]["key"], a.key);
}

}  // namespace
}  // namespace equalis::mqtt
