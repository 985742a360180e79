#include "config/diff.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "alarms/rules_json.hpp"

namespace equalis::config {

namespace {

// Key → value text, in file order. A whole table (an event rule, an I/O device) compares as a
// whole with the same-named table of the other configuration: `same` says it is equal, and the
// text only summarises it.
struct Entry {
  std::string key;
  std::string value;
  bool table = false;
  bool same = false;
};
using Flat = std::vector<Entry>;

std::string text(double v) {
  return fmt::format("{}", v);
}
std::string text(bool v) {
  return v ? "true" : "false";
}
std::string text(int v) {
  return std::to_string(v);
}
std::string text(std::uint64_t v) {
  return std::to_string(v);
}
std::string text(const std::string& v) {
  return fmt::format("\"{}\"", v);
}
std::string seconds(DurationMs ms) {
  return text(static_cast<double>(ms) / 1000.0);
}
std::string minutes(DurationMs ms) {
  return text(static_cast<double>(ms) / 60000.0);
}

struct Flattener {
  Flat out;
  void add(std::string key, std::string value) {
    out.push_back({std::move(key), std::move(value), false, false});
  }
  void table(std::string key, std::string summary, bool same) {
    out.push_back({std::move(key), std::move(summary), true, same});
  }
};

void flattenStrings(Flattener& f, const model::PlantConfig& p) {
  for (std::size_t i = 0; i < p.strings.size(); ++i) {
    const auto& s = p.strings[i];
    const auto k = fmt::format("strings[{}].", i + 1);
    f.add(k + "name", text(s.name));
    f.add(k + "blocks", text(s.block_count));
    f.add(k + "chemistry", text(static_cast<int>(s.chemistry)));
    f.add(k + "capacity_ah", text(s.capacity_ah));
    f.add(k + "module", text(static_cast<int>(s.module_type)));
    f.add(k + "age_years", text(s.age_years));
    const auto& c = s.charger;
    f.add(k + "charger.float_v_per_cell", text(c.float_v_per_cell));
    f.add(k + "charger.current_limit_a", text(c.current_limit_a));
    f.add(k + "charger.temperature_compensation", text(c.temperature_compensation));
    f.add(k + "charger.temp_comp_mv_per_k_per_cell", text(c.temp_comp_mv_per_k_per_cell));
    f.add(k + "charger.temp_comp_min_c", text(c.temp_comp_min_c));
    f.add(k + "charger.temp_comp_max_c", text(c.temp_comp_max_c));
    f.add(k + "charger.reduced_setpoint_factor", text(c.reduced_setpoint_factor));
    f.add(k + "current_sensor.present", text(s.current_sensor.present));
    f.add(k + "current_sensor.range_a", text(s.current_sensor.range_a));
  }
}

std::string overrideKey(const model::AlarmRuleOverride& o) {
  return o.string_number == 0
             ? fmt::format("alarms.rule[{}]", o.rule_id)
             : fmt::format("alarms.rule[{}, string {}]", o.rule_id, o.string_number);
}

void flattenAlarms(Flattener& f, const model::AlarmsConfig& a) {
  // The overrides of one rule and string merge in file order; the key is the rule (and string).
  std::map<std::string, std::string> merged;
  std::vector<std::string> order;
  for (const auto& o : a.overrides) {
    const auto key = overrideKey(o);
    if (!merged.contains(key)) {
      order.push_back(key);
    }
    auto& t = merged[key];
    t += (t.empty() ? "" : " + ") + alarms::overrideJson(o).dump();
  }
  for (const auto& key : order) {
    f.add(key, merged[key]);
  }
  f.add("alarms.ri_baseline_samples", text(a.ri_baseline_samples));
  f.add("alarms.ri_baseline_interval_s", seconds(a.ri_baseline_interval_ms));
  f.add("alarms.ri_baseline_delay_days",
        text(static_cast<double>(a.ri_baseline_delay_ms) / static_cast<double>(kDayMs)));
}

std::string ruleSummary(const model::EventRule& r) {
  std::string actions;
  for (const auto& a : r.actions) {
    actions += (actions.empty() ? "" : ", ") + std::string(model::eventActionTypeName(a.type));
  }
  return fmt::format("{} trigger(s), actions: {}", std::popcount(r.triggers),
                     actions.empty() ? "none" : actions);
}

void flattenEvents(Flattener& f, const model::EventsConfig& e, const model::EventsConfig& other) {
  if (e.smtp.configured()) {
    f.table("events.smtp", e.smtp.url, e.smtp == other.smtp);
  }
  if (e.syslog.configured()) {
    f.table("events.syslog", e.syslog.target, e.syslog == other.syslog);
  }
  if (!(e.webhook == model::WebhookConfig{})) {
    f.table("events.webhook", e.webhook.url, e.webhook == other.webhook);
  }
  for (const auto& r : e.rules) {
    const auto same = std::find_if(other.rules.begin(), other.rules.end(),
                                   [&](const auto& o) { return o.name == r.name; });
    f.table(fmt::format("events.rule[{}]", r.name), ruleSummary(r),
            same != other.rules.end() && *same == r);
  }
  f.add("events.queue_size", text(e.queue_size));
  f.add("events.retries", text(e.retries));
  f.add("events.retry_backoff_s", seconds(e.retry_backoff_ms));
}

void flattenIo(Flattener& f, const model::IoConfig& io, const model::IoConfig& other) {
  for (const auto& d : io.devices) {
    const auto same = std::find_if(other.devices.begin(), other.devices.end(),
                                   [&](const auto& o) { return o.id == d.id; });
    f.table(fmt::format("io.device[{}]", d.id),
            fmt::format("{} over {}", model::ioDeviceModel(d.type).key,
                        model::ioTransportName(d.transport)),
            same != other.devices.end() && *same == d);
  }
  f.table("io.room", "the simulated room", io.room == other.room);
}

// `other` is the configuration compared with, for tables that compare as a whole.
Flat flatten(const model::PlantConfig& p, const model::PlantConfig& other) {
  Flattener f;
  f.add("data_dir", text(p.data_dir));
  f.add("site.name", text(p.site.name));
  f.add("site.location", text(p.site.location));
  f.add("http.listen", text(p.http.listen));
  const auto switch_text = [](model::AutoSwitch a) {
    return std::string(a == model::AutoSwitch::kOn    ? "on"
                       : a == model::AutoSwitch::kOff ? "off"
                                                      : "auto");
  };
  f.add("http.tls", switch_text(p.http.tls));
  f.add("http.anonymous_read", switch_text(p.http.anonymous_read));
  f.add("http.certificate_file", text(p.http.certificate_file));
  f.add("http.key_file", text(p.http.key_file));
  std::string names;
  for (const auto& n : p.http.server_names) {
    names += (names.empty() ? "" : ",") + n;
  }
  f.add("http.server_names", text(names));
  f.add("http.hsts", text(p.http.hsts));
  f.add("http.redirect_port", text(p.http.redirect_port));
  f.add("http.session_idle_min", text(static_cast<double>(p.http.session_idle_ms) / 60000.0));
  f.add("http.session_max_h", text(static_cast<double>(p.http.session_absolute_ms) / 3.6e6));
  // [radius] as a whole (its secret is not shown): a change needs a restart.
  std::string radius = p.radius.enabled ? "on:" : "off";
  for (const auto& server : p.radius.enabled ? p.radius.servers : std::vector<std::string>{}) {
    radius += " " + server;
  }
  f.table("radius", radius, p.radius == other.radius);
  f.add("ambient.sensor", text(p.ambient.sensor_present));
  f.add("ambient.temperature_c", text(p.ambient.temperature_c));
  f.add("ambient.daily_swing_c", text(p.ambient.daily_swing_c));
  f.add("bus.sweep_interval_s", seconds(p.bus.sweep_interval_ms));
  f.add("bus.stale_after_sweeps", text(p.bus.stale_after_sweeps));
  f.add("bus.comm_lost_after_failures", text(p.bus.comm_lost_after_failures));
  for (std::size_t i = 0; i < p.bus.lines.size(); ++i) {
    const auto& l = p.bus.lines[i];
    std::string strings;
    for (const int n : l.strings) {
      strings += (strings.empty() ? "" : ",") + std::to_string(n);
    }
    const auto key = "bus.line[" + std::to_string(i) + "]";
    f.add(key + ".url", text(l.url));
    f.add(key + ".strings", text(strings));
    f.add(key + ".baud", text(l.baud));
    f.add(key + ".timeout_ms", text(static_cast<int>(l.timeout_ms)));
    f.add(key + ".retries", text(l.retries));
  }
  f.add("history.max_size_mb", text(p.history.max_bytes / (std::uint64_t{1024} * 1024)));
  f.add("history.float_interval_s", seconds(p.history.float_interval_ms));
  f.add("history.fast_interval_s", seconds(p.history.fast_interval_ms));
  f.add("history.fast_hold_s", seconds(p.history.fast_hold_ms));
  f.add("simulation.seed", text(p.simulation.seed));
  const auto& ups = p.simulation.ups;
  f.add("simulation.ups.outages", text(ups.outages));
  f.add("simulation.ups.load_kw", text(ups.load_kw));
  f.add("simulation.ups.outage_mean_interval_h", text(ups.outage_mean_interval_h));
  f.add("simulation.ups.outage_min_s", text(ups.outage_min_s));
  f.add("simulation.ups.outage_max_s", text(ups.outage_max_s));
  const auto& eq = p.equalization;
  f.add("equalization.enabled", text(eq.enabled));
  f.add("equalization.target_v_per_cell", text(eq.target_v_per_cell));
  f.add("equalization.settle_s", seconds(eq.settle_ms));
  f.add("equalization.deadband_mv", text(eq.deadband_mv));
  f.add("equalization.response_s", seconds(eq.response_ms));
  f.add("equalization.lithium_hold_80pct", text(eq.lithium_hold_80pct));
  f.add("equalization.self_calibration", text(eq.self_calibration));
  for (std::size_t i = 0; i < eq.pauses.size(); ++i) {
    f.add(fmt::format("equalization.pause[{}]", i + 1),
          fmt::format("{} … {}", formatIso8601(eq.pauses[i].from_ms),
                      formatIso8601(eq.pauses[i].to_ms)));
  }
  const auto& tr = p.thermal_runaway;
  f.add("thermal_runaway.enabled", text(tr.enabled));
  f.add("thermal_runaway.delta_median_k", text(tr.delta_median_k));
  f.add("thermal_runaway.delta_ambient_k", text(tr.delta_ambient_k));
  f.add("thermal_runaway.string_delta_ambient_k", text(tr.string_delta_ambient_k));
  f.add("thermal_runaway.string_delta_history_k", text(tr.string_delta_history_k));
  f.add("thermal_runaway.warming_k_per_h", text(tr.warming_k_per_h));
  f.add("thermal_runaway.current_min_per_ah", text(tr.current_min_per_ah));
  f.add("thermal_runaway.window_min", minutes(tr.window_ms));
  f.add("thermal_runaway.hold_min", minutes(tr.hold_ms));
  f.add("thermal_runaway.countdown_min", minutes(tr.countdown_ms));
  f.add("thermal_runaway.clear_after_min", minutes(tr.clear_after_ms));
  f.add("thermal_runaway.reduce_charger", text(tr.reduce_charger));
  f.add("thermal_runaway.trip_breaker", text(tr.trip_breaker));
  const auto& pr = p.protocols;
  f.add("modbus.tcp", text(pr.modbus_tcp));
  f.add("modbus.rtu", text(pr.modbus_rtu));
  f.add("modbus.writes", text(pr.modbus_writes));
  std::string allowlist;
  for (const auto& entry : pr.modbus_write_allowlist) {
    allowlist += (allowlist.empty() ? "" : ",") + entry;
  }
  f.add("modbus.write_allowlist", text(allowlist));
  f.add("snmp.listen", text(pr.snmp));
  for (const auto& [key, value] : pr.snmp_options) {
    f.add("snmp." + key, text(value));
  }
  f.add("mqtt.url", text(pr.mqtt));
  flattenStrings(f, p);
  flattenAlarms(f, p.alarms);
  flattenIo(f, p.io, other.io);
  flattenEvents(f, p.events, other.events);
  return f.out;
}

bool liveKey(const std::string& key) {
  static const std::vector<std::string> live_prefixes = {"alarms.rule[",
                                                         "events.smtp",
                                                         "events.syslog",
                                                         "events.webhook",
                                                         "events.rule[",
                                                         "events.retries",
                                                         "thermal_runaway.",
                                                         "equalization.",
                                                         "history.float_interval_s",
                                                         "history.fast_interval_s",
                                                         "history.fast_hold_s"};
  return std::any_of(live_prefixes.begin(), live_prefixes.end(),
                     [&](const auto& p) { return key.rfind(p, 0) == 0; });
}

}  // namespace

std::vector<Change> diffConfig(const model::PlantConfig& running, const model::PlantConfig& next) {
  std::vector<Change> out;
  if (running == next) {
    return out;
  }
  const Flat before = flatten(running, next);
  const Flat after = flatten(next, running);
  std::map<std::string, const Entry*> old_entries;
  for (const auto& e : before) {
    old_entries.emplace(e.key, &e);
  }
  std::map<std::string, const Entry*> new_entries;
  for (const auto& e : after) {
    new_entries.emplace(e.key, &e);
  }
  // Keys of the new configuration in its order, then the keys that are gone.
  for (const auto& e : after) {
    const auto it = old_entries.find(e.key);
    if (it == old_entries.end()) {
      out.push_back({e.key, "", e.value, liveKey(e.key)});
    } else if (e.table ? !e.same : it->second->value != e.value) {
      out.push_back({e.key, it->second->value, e.value, liveKey(e.key)});
    }
  }
  for (const auto& e : before) {
    if (!new_entries.contains(e.key)) {
      out.push_back({e.key, e.value, "", liveKey(e.key)});
    }
  }
  // Whatever differs that the list above does not name (a setting added later).
  if (out.empty()) {
    out.push_back({"(other settings)", "", "(changed)", false});
  }
  return out;
}

void applyLiveChanges(model::PlantConfig& running, const model::PlantConfig& next) {
  // [[alarms.rule]]: the overrides; the Ri-baseline settings stay.
  running.alarms.overrides = next.alarms.overrides;
  const auto queue_size = running.events.queue_size;
  const auto backoff = running.events.retry_backoff_ms;
  running.events = next.events;
  running.events.queue_size = queue_size;
  running.events.retry_backoff_ms = backoff;
  running.thermal_runaway = next.thermal_runaway;
  running.equalization = next.equalization;
  running.history.float_interval_ms = next.history.float_interval_ms;
  running.history.fast_interval_ms = next.history.fast_interval_ms;
  running.history.fast_hold_ms = next.history.fast_hold_ms;
}

}  // namespace equalis::config
