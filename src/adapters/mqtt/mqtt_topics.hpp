// What the MQTT adapter publishes, as pure functions of the plant, the point catalogue and the
// state store: topic names, JSON state payloads, Home Assistant discovery configs and the
// rate limit (docs/mqtt.md). No broker needed, so all of it is unit-tested.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/mqtt/mqtt_url.hpp"
#include "alarms/alarms.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace equalis::mqtt {

// "Equalis demo site" → "equalis-demo-site": lower case [a-z0-9-], never empty ("site").
std::string siteSlug(std::string_view site_name);

// Default topic prefix: "equalis/<site-slug>".
std::string defaultPrefix(const model::PlantConfig& plant);

// Topic names under one prefix. String and block numbers are 1-based.
struct Topics {
  std::string prefix;
  std::string status() const { return prefix + "/status"; }
  std::string system() const { return prefix + "/system"; }
  std::string string(std::size_t string_no) const;
  std::string block(std::size_t string_no, std::size_t block_no) const;
  std::string alarms() const { return prefix + "/alarms"; }           // retained list
  std::string alarmState() const { return prefix + "/alarm/state"; }  // retained summary
  std::string alarmEvent() const { return prefix + "/alarm/event"; }  // one per change
};

// {"value": …, "quality": "ok", "time": "…Z"}: value rounded like REST (one digit more than the
// display decimals), enum values by name, null when there is no value. No age, so an unchanged
// measurement gives an unchanged payload.
nlohmann::ordered_json valuePayload(model::PointId id, const state::Sample& sample);

// State payloads: one member per catalogue point of the scope, named by its field ("voltage_v").
nlohmann::ordered_json systemPayload(const model::PlantConfig& plant,
                                     const state::StateStore::Reader& r);
nlohmann::ordered_json stringPayload(const model::PlantConfig& plant,
                                     const state::StateStore::Reader& r, std::size_t s);
nlohmann::ordered_json blockPayload(const state::StateStore::Reader& r, std::size_t s,
                                    std::size_t b);

// --- Alarms ------------------------------------------------------------------------------
// One active alarm: id, key, rule, level, string, block, value, threshold (numbers), unit,
// raised, changed (ISO times), acknowledged, message.
nlohmann::ordered_json alarmJson(const model::PlantConfig& plant, const alarms::ActiveAlarm& a);
// <prefix>/alarms: the active alarms, worst first (a JSON array; [] when none).
nlohmann::ordered_json alarmsPayload(const model::PlantConfig& plant,
                                     const std::vector<alarms::ActiveAlarm>& list);
// <prefix>/alarm/state: {"problem": "ON"|"OFF", "strings": {"1": "ON"|"OFF", …}, "active",
// "alarm", "warning", "unacknowledged"}: what the binary sensors and count sensors read.
nlohmann::ordered_json alarmStatePayload(const model::PlantConfig& plant,
                                         const std::vector<alarms::ActiveAlarm>& list);
struct AlarmChange {
  std::string kind;  // "raised", "escalated", "lowered", "acknowledged", "cleared"
  alarms::ActiveAlarm alarm;
};
// What changed between two alarm lists (matched by key), in `now` order, cleared ones last.
std::vector<AlarmChange> alarmChanges(const std::vector<alarms::ActiveAlarm>& before,
                                      const std::vector<alarms::ActiveAlarm>& now);
// <prefix>/alarm/event: {"event": kind, "time": …, "alarm": alarmJson}.
nlohmann::ordered_json alarmEventPayload(const model::PlantConfig& plant, const AlarmChange& change,
                                         TimeMs time_ms);

// Every "quality" member of a payload, in order ("ok,ok,stale,…"): a change is sent at once.
std::string qualitySignature(const nlohmann::ordered_json& payload);

// The first plant time at which a value of the plant that reads "ok" now turns "stale" on read
// (the state payloads change then without a new state version); TimeMs max when none can.
TimeMs firstStaleMs(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                    DurationMs stale_after_ms);

// One Home Assistant sensor exposed from a point.
struct SensorSpec {
  model::PointId id;
  std::string_view label;         // "Voltage"
  std::string_view key;           // unique_id suffix ("voltage")
  std::string_view device_class;  // "" for none
};
// Per-block sensors: voltage, temperature, Ri, charge, equalization.
const std::vector<SensorSpec>& blockSensors();
// Per-string sensors: voltage, current, power, mode, …
const std::vector<SensorSpec>& stringSensors();
// Site-level sensors: ambient temperature, modules answering.
const std::vector<SensorSpec>& systemSensors();

// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::ordered_json's members may throw
struct DiscoveryMessage {
  std::string topic;  // <discovery_prefix>/{sensor|binary_sensor}/<unique_id>/config
  std::string unique_id;
  nlohmann::ordered_json config;
};

struct DiscoveryOptions {
  DiscoveryMode mode = DiscoveryMode::kAll;
  std::string discovery_prefix = "homeassistant";
  std::string version;
};

// HA "id" form of the site slug: [a-z0-9_].
std::string siteId(const model::PlantConfig& plant);
std::vector<DiscoveryMessage> discoveryMessages(const model::PlantConfig& plant,
                                                const Topics& topics,
                                                const DiscoveryOptions& options);

// Rate limit and change filter per topic: a payload goes out when it differs from the last one
// sent on that topic and either `interval` has passed since, or its quality signature changed
// (so "stale" is never held back behind old "ok" data).
class PublishGate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit PublishGate(std::chrono::milliseconds interval) : interval_(interval) {}
  // True (and recorded as sent) when the payload should be published now.
  bool offer(const std::string& topic, const std::string& payload, const std::string& signature,
             TimePoint now);
  // The earliest time a payload held back by the interval since the last beginPass() becomes
  // due (TimePoint max when none was): the publisher offers every payload again then.
  TimePoint heldUntil() const { return held_until_; }
  void beginPass() { held_until_ = TimePoint::max(); }
  // The publish failed: send it again next time.
  void forget(const std::string& topic) { last_.erase(topic); }
  // After a reconnect: everything is due again.
  void reset() { last_.clear(); }

 private:
  struct Sent {
    std::string payload;
    std::string signature;
    TimePoint time;
  };
  std::chrono::milliseconds interval_;
  std::unordered_map<std::string, Sent> last_;
  TimePoint held_until_ = TimePoint::max();
};

}  // namespace equalis::mqtt
