#include "config/config.hpp"

#include "config/readers.hpp"
#include "config/section.hpp"
#include "core/ip_prefix.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace equalis::config {

namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): the loader's own helpers

using model::ChemistryInfo;
using model::ModuleTypeInfo;

// Value ranges (documented in docs/configuration.md and config/equalis.sample.toml).
constexpr double kAmbientMinC = -20.0;
constexpr double kAmbientMaxC = 60.0;
constexpr double kDailySwingMaxC = 20.0;
constexpr double kCurrentLimitMinA = 0.1;
constexpr double kCurrentLimitMaxA = 2000.0;
constexpr double kTempCompMinMv = -10.0;
constexpr double kTempCompMaxMv = 0.0;
constexpr double kTempBandMinC = -20.0;
constexpr double kTempBandMaxC = 60.0;
constexpr std::int64_t kHistoryMaxSizeMb = 65536;
constexpr double kHistoryIntervalMinS = 1.0;
constexpr double kHistoryIntervalMaxS = 86400.0;
constexpr double kFastHoldMaxS = 86400.0;
constexpr double kDayS = 86400.0;
constexpr double kLoadMaxKw = 10000.0;
constexpr double kOutageIntervalMinH = 0.1;
constexpr double kOutageIntervalMaxH = 8760.0;
constexpr double kOutageMinS = 1.0;
constexpr double kOutageMaxS = 86400.0;
constexpr double kAgeMaxYears = 30.0;
constexpr double kSensorRangeMinA = 50.0;
constexpr double kSensorRangeMaxA = 2000.0;

std::vector<std::string> chemistryKeys() {
  std::vector<std::string> keys;
  for (const auto& info : model::chemistries()) {
    keys.emplace_back(info.key);
  }
  return keys;
}

std::vector<std::string> moduleTypeKeys() {
  std::vector<std::string> keys;
  for (const auto& info : model::moduleTypes()) {
    keys.emplace_back(info.key);
  }
  return keys;
}

// The float voltages any chemistry accepts: the plant-wide [charger] must at least be in here.
std::pair<double, double> floatRangeOfAllChemistries() {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (const auto& info : model::chemistries()) {
    lo = std::min(lo, info.float_v_per_cell_min);
    hi = std::max(hi, info.float_v_per_cell_max);
  }
  return {lo, hi};
}

// ---------------------------------------------------------------------------------------------
// Sections

// Charger keys as written in [charger] or [string.charger]; unset means inherited.
struct ChargerKeys {
  std::optional<double> float_v_per_cell;
  std::optional<double> current_limit_a;
  std::optional<bool> temperature_compensation;
  std::optional<double> temp_comp_mv_per_k_per_cell;
  std::optional<double> temp_comp_min_c;
  std::optional<double> temp_comp_max_c;
  std::optional<double> reduced_setpoint_factor;
  bool float_rejected = false;  // present but unusable: don't check it again downstream
  bool band_rejected = false;
};

ChargerKeys readChargerKeys(Section& s) {
  ChargerKeys c;
  c.float_v_per_cell = s.number("float_v_per_cell", "V/cell");  // range depends on chemistry
  c.current_limit_a = s.number("current_limit_a", kCurrentLimitMinA, kCurrentLimitMaxA, "A");
  c.temperature_compensation = s.boolean("temperature_compensation");
  c.temp_comp_mv_per_k_per_cell =
      s.number("temp_comp_mv_per_k_per_cell", kTempCompMinMv, kTempCompMaxMv, "mV/K/cell");
  c.temp_comp_min_c = s.number("temp_comp_min_c", kTempBandMinC, kTempBandMaxC, "°C");
  c.temp_comp_max_c = s.number("temp_comp_max_c", kTempBandMinC, kTempBandMaxC, "°C");
  c.reduced_setpoint_factor = s.number("reduced_setpoint_factor", 0.8, 1.0, "");
  c.float_rejected = s.rejected("float_v_per_cell");
  c.band_rejected = s.rejected("temp_comp_min_c") || s.rejected("temp_comp_max_c");
  return c;
}

template <class T>
T firstOf(const std::optional<T>& own, const std::optional<T>& plant, T fallback) {
  return own ? *own : (plant ? *plant : fallback);
}

// Checks temp_comp_min_c < temp_comp_max_c where `s` sets one of them (inheriting the other).
void checkTempBand(Section& s, const ChargerKeys& own, const ChargerKeys& plant) {
  if (!own.temp_comp_min_c && !own.temp_comp_max_c) {
    return;
  }
  if (own.band_rejected || plant.band_rejected) {
    return;
  }
  const model::ChargerConfig defaults;
  const double lo = firstOf(own.temp_comp_min_c, plant.temp_comp_min_c, defaults.temp_comp_min_c);
  const double hi = firstOf(own.temp_comp_max_c, plant.temp_comp_max_c, defaults.temp_comp_max_c);
  if (lo < hi) {
    return;
  }
  if (own.temp_comp_min_c) {
    s.issue("temp_comp_min_c",
            fmt::format("must be below temp_comp_max_c ({} °C), got {} °C", num(hi), num(lo)));
  } else {
    s.issue("temp_comp_max_c",
            fmt::format("must be above temp_comp_min_c ({} °C), got {} °C", num(lo), num(hi)));
  }
}

// [charger]: plant-wide defaults for every string.
ChargerKeys readPlantCharger(Section& top) {
  Section s = top.child("charger");
  ChargerKeys c = readChargerKeys(s);
  if (c.float_v_per_cell) {
    const auto [lo, hi] = floatRangeOfAllChemistries();
    if (!(*c.float_v_per_cell >= lo && *c.float_v_per_cell <= hi)) {
      s.issue("float_v_per_cell",
              fmt::format("must be between {} and {} V/cell (the float range of all chemistries), "
                          "got {}",
                          num(lo), num(hi), num(*c.float_v_per_cell)));
      c.float_rejected = true;
    }
  }
  checkTempBand(s, c, ChargerKeys{});
  s.finish();
  return c;
}

void readSite(Section& top, model::SiteConfig& site) {
  Section s = top.child("site");
  if (const auto name = s.string("name")) {
    if (trim(*name).empty()) {
      s.issue("name", "must not be empty");
    } else if (name->size() > kMaxNameLength) {
      s.issue("name", fmt::format("must be at most {} characters long, got {}", kMaxNameLength,
                                  name->size()));
    } else {
      site.name = *name;
    }
  }
  if (const auto location = s.string("location")) {
    site.location = *location;
  }
  s.finish();
}

void readHttp(Section& top, model::HttpConfig& http) {
  Section s = top.child("http");
  if (const auto listen = s.string("listen")) {
    if (const auto problem = listenProblem(*listen)) {
      s.issue("listen", *problem);
    } else {
      http.listen = *listen;
    }
  }
  const auto auto_switch = [&s](std::string_view key, model::AutoSwitch& out) {
    if (const auto v = s.string(key)) {
      if (*v == "auto") {
        out = model::AutoSwitch::kAuto;
      } else if (*v == "on") {
        out = model::AutoSwitch::kOn;
      } else if (*v == "off") {
        out = model::AutoSwitch::kOff;
      } else {
        s.issue(key, fmt::format("must be \"auto\", \"on\" or \"off\", got \"{}\"", *v));
      }
    }
  };
  auto_switch("tls", http.tls);
  auto_switch("anonymous_read", http.anonymous_read);
  http.certificate_file = s.string("certificate_file").value_or(http.certificate_file);
  http.key_file = s.string("key_file").value_or(http.key_file);
  if (http.certificate_file.empty() != http.key_file.empty()) {
    s.issue(http.certificate_file.empty() ? "certificate_file" : "key_file",
            "certificate_file and key_file go together: set both or neither");
  }
  http.hsts = s.boolean("hsts").value_or(http.hsts);
  if (const auto port = s.integer("redirect_port", 0, 65535)) {
    const auto listen_port = http.listen.substr(http.listen.rfind(':') + 1);
    if (*port != 0 && http.tls == model::AutoSwitch::kOff) {
      s.issue("redirect_port", "redirects to HTTPS, but [http] tls is \"off\"");
    } else if (*port != 0 && listen_port == std::to_string(*port)) {
      s.issue("redirect_port", fmt::format("is the listen port ({}) itself", *port));
    } else {
      http.redirect_port = static_cast<int>(*port);
    }
  }
  if (const auto v = s.number("session_idle_min", 1.0, 24.0 * 60.0, "min")) {
    http.session_idle_ms = static_cast<DurationMs>(*v * 60'000.0);
  }
  if (const auto v = s.number("session_max_h", 1.0, 24.0 * 30.0, "h")) {
    http.session_absolute_ms = static_cast<DurationMs>(*v * 3'600'000.0);
  }
  if (const toml::node* node = s.lookup("server_names")) {
    const toml::array* array = node->as_array();
    bool ok = array != nullptr;
    std::vector<std::string> names;
    if (ok) {
      for (const toml::node& element : *array) {
        const auto* text = element.as_string();
        if (text == nullptr || text->get().empty() ||
            text->get().find_first_of(" /:@[]") != std::string::npos) {
          ok = false;
          break;
        }
        names.push_back(text->get());
      }
    }
    if (ok) {
      http.server_names = std::move(names);
    } else {
      s.issue("server_names",
              "must be an array of host names without port, e.g. [\"bms.example.org\"]");
    }
  }
  s.finish();
}

void readAmbient(Section& top, model::AmbientConfig& ambient) {
  Section s = top.child("ambient");
  ambient.sensor_present = s.boolean("sensor").value_or(ambient.sensor_present);
  ambient.temperature_c =
      s.number("temperature_c", kAmbientMinC, kAmbientMaxC, "°C").value_or(ambient.temperature_c);
  ambient.daily_swing_c =
      s.number("daily_swing_c", 0.0, kDailySwingMaxC, "°C").value_or(ambient.daily_swing_c);
  s.finish();
}

void readHistory(Section& top, model::HistoryConfig& history) {
  Section s = top.child("history");
  if (const auto mb = s.integer("max_size_mb", 1, kHistoryMaxSizeMb, "MiB")) {
    history.max_bytes = static_cast<std::uint64_t>(*mb) * 1024u * 1024u;
  }
  const auto slow = s.number("float_interval_s", kHistoryIntervalMinS, kHistoryIntervalMaxS, "s");
  const auto fast = s.number("fast_interval_s", kHistoryIntervalMinS, kHistoryIntervalMaxS, "s");
  const auto hold = s.number("fast_hold_s", 0.0, kFastHoldMaxS, "s");
  if (slow) {
    history.float_interval_ms = toMs(*slow);
  }
  if (fast) {
    history.fast_interval_ms = toMs(*fast);
  }
  if (hold) {
    history.fast_hold_ms = toMs(*hold);
  }
  if ((slow || fast) && !s.rejected("float_interval_s") && !s.rejected("fast_interval_s") &&
      history.fast_interval_ms > history.float_interval_ms) {
    s.issue(fast ? "fast_interval_s" : "float_interval_s",
            fmt::format("fast_interval_s ({} s) must not exceed float_interval_s ({} s)",
                        num(static_cast<double>(history.fast_interval_ms) / 1000.0),
                        num(static_cast<double>(history.float_interval_ms) / 1000.0)));
  }
  s.finish();
}

void readThermalRunaway(Section& top, model::ThermalRunawayConfig& tr) {
  Section s = top.child("thermal_runaway");
  tr.enabled = s.boolean("enabled").value_or(tr.enabled);
  tr.delta_median_k = s.number("delta_median_k", 1.0, 50.0, "K").value_or(tr.delta_median_k);
  tr.delta_ambient_k = s.number("delta_ambient_k", 0.0, 50.0, "K").value_or(tr.delta_ambient_k);
  tr.string_delta_ambient_k =
      s.number("string_delta_ambient_k", 1.0, 50.0, "K").value_or(tr.string_delta_ambient_k);
  tr.string_delta_history_k =
      s.number("string_delta_history_k", 1.0, 50.0, "K").value_or(tr.string_delta_history_k);
  tr.warming_k_per_h = s.number("warming_k_per_h", 0.0, 20.0, "K/h").value_or(tr.warming_k_per_h);
  tr.current_min_per_ah =
      s.number("current_min_per_ah", 0.0, 0.1, "A/Ah").value_or(tr.current_min_per_ah);
  const auto minutes = [&](const char* key, DurationMs& out, double lo, double hi) {
    if (const auto v = s.number(key, lo, hi, "min")) {
      out = static_cast<DurationMs>(std::llround(*v * kMinuteMs));
    }
  };
  minutes("window_min", tr.window_ms, 10.0, 240.0);
  minutes("hold_min", tr.hold_ms, 0.0, 120.0);
  minutes("countdown_min", tr.countdown_ms, 0.0, 120.0);
  minutes("clear_after_min", tr.clear_after_ms, 1.0, 240.0);
  tr.reduce_charger = s.boolean("reduce_charger").value_or(tr.reduce_charger);
  tr.trip_breaker = s.boolean("trip_breaker").value_or(tr.trip_breaker);
  s.finish();
}

void readEqualization(Context& ctx, Section& top, model::EqualizationConfig& eq) {
  Section s = top.child("equalization");
  eq.enabled = s.boolean("enabled").value_or(eq.enabled);
  if (const auto v = s.number("target_v_per_cell", 0.0, 5.0, "V")) {
    eq.target_v_per_cell = *v;
  }
  if (const auto v = s.number("settle_s", 0.0, kDayS, "s")) {
    eq.settle_ms = toMs(*v);
  }
  eq.deadband_mv = s.number("deadband_mv", 0.0, 100.0, "mV").value_or(eq.deadband_mv);
  if (const auto v = s.number("response_s", 60.0, kDayS, "s")) {
    eq.response_ms = toMs(*v);
  }
  eq.lithium_hold_80pct = s.boolean("lithium_hold_80pct").value_or(eq.lithium_hold_80pct);
  eq.self_calibration = s.boolean("self_calibration").value_or(eq.self_calibration);
  if (const toml::node* node = s.lookup("pause")) {
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      s.reject("pause", fmt::format("expected an array of tables ([[equalization.pause]]), got {}",
                                    typeName(*node)));
    } else {
      int index = 0;
      for (const toml::node& element : *array) {
        ++index;
        const std::string path = fmt::format("equalization.pause[{}]", index);
        const toml::table* table = element.as_table();
        if (table == nullptr) {
          ctx.add(path, fmt::format("expected a table, got {}", typeName(element)), &element);
          continue;
        }
        Section p(ctx, *table, path, "equalization.pause", &s, "[[equalization.pause]]");
        model::TimeWindow w;
        bool ok = true;
        for (const char* key : {"from", "to"}) {
          const auto text = p.string(key);
          TimeMs t = 0;
          if (!text) {
            if (!p.rejected(key)) {
              p.issue(key, "missing (ISO 8601 UTC time, e.g. \"2026-01-01T00:00:00Z\")");
            }
            ok = false;
          } else if (!parseTime(*text, t)) {
            p.issue(key, fmt::format("'{}' is not an ISO 8601 UTC time (e.g. "
                                     "\"2026-01-01T00:00:00Z\")",
                                     *text));
            ok = false;
          } else {
            (std::string_view(key) == "from" ? w.from_ms : w.to_ms) = t;
          }
        }
        if (ok && w.to_ms <= w.from_ms) {
          p.issue("to", "must be later than from");
          ok = false;
        }
        if (ok) {
          eq.pauses.push_back(w);
        }
        p.finish();
      }
    }
  }
  s.finish();
}

// [modbus] write_allowlist: addresses and CIDR prefixes, IPv4 or IPv6; one issue per bad entry.
void readModbusAllowlist(Section& modbus, std::vector<std::string>& out) {
  constexpr std::string_view kKey = "write_allowlist";
  const toml::node* node = modbus.lookup(kKey);
  if (node == nullptr) {
    return;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    modbus.wrongType(kKey, "an array of addresses or CIDR prefixes (e.g. [\"10.0.0.0/8\"])", *node);
    return;
  }
  if (array->empty()) {
    modbus.reject(kKey,
                  "is empty: list the addresses that may write, or remove the key to let every "
                  "client write (writes = false refuses every write)");
    return;
  }
  std::vector<std::string> prefixes;
  bool ok = true;
  int index = 0;
  for (const toml::node& element : *array) {
    ++index;
    const auto* text = element.as_string();
    auto prefix = text ? net::parseIpPrefix(text->get())
                       : Result<net::IpPrefix>(makeError(
                             ErrorCode::kInvalidArgument,
                             fmt::format("expected a string, got {}", typeName(element))));
    if (!prefix) {
      modbus.issue(kKey, fmt::format("entry {}: {}", index, prefix.error().message));
      ok = false;
      continue;
    }
    prefixes.push_back(prefix->toString());
  }
  if (ok) {
    out = std::move(prefixes);
  }
}

void readProtocols(Section& top, model::ProtocolConfig& p) {
  Section modbus = top.child("modbus");
  p.modbus_tcp = modbus.string("tcp").value_or(p.modbus_tcp);
  p.modbus_rtu = modbus.string("rtu").value_or(p.modbus_rtu);
  p.modbus_writes = modbus.boolean("writes").value_or(p.modbus_writes);
  readModbusAllowlist(modbus, p.modbus_write_allowlist);
  modbus.finish();
  Section snmp = top.child("snmp");
  p.snmp = snmp.string("listen").value_or(p.snmp);
  // The other keys are options of the --snmp spec (checked when the agent starts).
  static constexpr std::pair<const char*, const char*> kSnmpStrings[] = {
      {"community", "community"},
      {"write_community", "writecommunity"},
      {"v3_user", "v3user"},
      {"v3_auth_pass", "auth"},
      {"v3_priv_pass", "priv"},
      {"engine_id", "engineid"},
      {"trap", "trap"},
      {"trap_community", "trapcommunity"},
      {"trap_version", "trapversion"},
  };
  // Communities and pass phrases may also come from a file or the environment (Section::secret).
  static constexpr std::string_view kSnmpSecrets[] = {
      "community", "write_community", "v3_auth_pass", "v3_priv_pass", "trap_community"};
  for (const auto& [key, option] : kSnmpStrings) {
    const bool secret = std::find(std::begin(kSnmpSecrets), std::end(kSnmpSecrets),
                                  std::string_view(key)) != std::end(kSnmpSecrets);
    if (const auto v = secret ? snmp.secret(key) : snmp.string(key)) {
      p.snmp_options.emplace_back(option, *v);
    }
  }
  static constexpr std::pair<const char*, const char*> kSnmpBools[] = {
      {"v3_write", "v3write"},
      {"inform", "inform"},
      {"insecure_v2c", "insecure_v2c"},
  };
  for (const auto& [key, option] : kSnmpBools) {
    if (const auto v = snmp.boolean(key)) {
      p.snmp_options.emplace_back(option, *v ? "true" : "false");
    }
  }
  snmp.finish();
  Section mqtt = top.child("mqtt");
  p.mqtt = mqtt.secret("url").value_or(p.mqtt);  // holds the password, if any
  mqtt.finish();
}

void readSimulation(Section& top, model::SimulationConfig& sim) {
  Section s = top.child("simulation");
  if (const auto seed = s.integer("seed", 0, std::numeric_limits<std::int64_t>::max())) {
    sim.seed = static_cast<std::uint64_t>(*seed);
  }
  Section u = s.child("ups");
  model::UpsConfig& ups = sim.ups;
  ups.outages = u.boolean("outages").value_or(ups.outages);
  ups.load_kw = u.number("load_kw", 0.0, kLoadMaxKw, "kW").value_or(ups.load_kw);
  ups.outage_mean_interval_h =
      u.number("outage_mean_interval_h", kOutageIntervalMinH, kOutageIntervalMaxH, "h")
          .value_or(ups.outage_mean_interval_h);
  const auto min_s = u.number("outage_min_s", kOutageMinS, kOutageMaxS, "s");
  const auto max_s = u.number("outage_max_s", kOutageMinS, kOutageMaxS, "s");
  ups.outage_min_s = min_s.value_or(ups.outage_min_s);
  ups.outage_max_s = max_s.value_or(ups.outage_max_s);
  if ((min_s || max_s) && !u.rejected("outage_min_s") && !u.rejected("outage_max_s") &&
      ups.outage_min_s > ups.outage_max_s) {
    u.issue(min_s ? "outage_min_s" : "outage_max_s",
            fmt::format("outage_min_s ({} s) must not exceed outage_max_s ({} s)",
                        num(ups.outage_min_s), num(ups.outage_max_s)));
  }
  u.finish();
  s.finish();
}

// One [[string]] table; `index` counts from 1 (the N in the issue path strings[N]).
void readString(Context& ctx, Section& top, const toml::table& table, int index,
                const ChargerKeys& plant_charger, model::StringConfig& out) {
  Section s(ctx, table, fmt::format("strings[{}]", index), "string", &top, "[[string]]");

  out.name = fmt::format("String {}", index);
  if (const auto name = s.string("name")) {
    if (trim(*name).empty()) {
      s.issue("name", "must not be empty");
    } else if (name->size() > kMaxNameLength) {
      s.issue("name", fmt::format("must be at most {} characters long, got {}", kMaxNameLength,
                                  name->size()));
    }
    out.name = *name;
  }
  out.block_count =
      static_cast<int>(s.integer("blocks", 1, kMaxBlocksPerString).value_or(out.block_count));

  bool chemistry_ok = true;
  if (const auto chem = s.string("chemistry")) {
    if (const auto parsed = model::parseChemistry(lower(*chem))) {
      out.chemistry = *parsed;
    } else {
      chemistry_ok = false;
      const auto keys = chemistryKeys();
      s.issue("chemistry", unknownName("chemistry", *chem, keys));
    }
  }
  chemistry_ok = chemistry_ok && !s.rejected("chemistry");
  const ChemistryInfo& chem = model::chemistryInfo(out.chemistry);

  if (const auto capacity = s.number("capacity_ah", "Ah")) {
    out.capacity_ah = *capacity;
    if (chemistry_ok && !(*capacity >= chem.capacity_ah_min && *capacity <= chem.capacity_ah_max)) {
      s.issue("capacity_ah", fmt::format("must be between {} and {} Ah for chemistry '{}', got {}",
                                         num(chem.capacity_ah_min), num(chem.capacity_ah_max),
                                         chem.key, num(*capacity)));
    }
  }

  bool module_given = false;
  bool module_ok = true;
  if (const auto module = s.string("module")) {
    module_given = true;
    if (const auto parsed = model::parseModuleType(*module)) {
      out.module_type = *parsed;
    } else {
      module_ok = false;
      const auto keys = moduleTypeKeys();
      s.issue("module", unknownName("module type", *module, keys));
    }
  }
  module_ok = module_ok && !s.rejected("module");

  out.age_years = s.number("age_years", 0.0, kAgeMaxYears, "years").value_or(out.age_years);

  // [string.charger]: overrides of the plant-wide [charger].
  Section c = s.child("charger");
  const ChargerKeys own = readChargerKeys(c);
  model::ChargerConfig& charger = out.charger;
  charger.float_v_per_cell =
      firstOf(own.float_v_per_cell, plant_charger.float_v_per_cell, chem.float_v_per_cell);
  charger.current_limit_a =
      firstOf(own.current_limit_a, plant_charger.current_limit_a, charger.current_limit_a);
  charger.temperature_compensation =
      firstOf(own.temperature_compensation, plant_charger.temperature_compensation,
              charger.temperature_compensation);
  charger.temp_comp_mv_per_k_per_cell =
      firstOf(own.temp_comp_mv_per_k_per_cell, plant_charger.temp_comp_mv_per_k_per_cell,
              chem.temp_comp_mv_per_k_per_cell);
  charger.temp_comp_min_c =
      firstOf(own.temp_comp_min_c, plant_charger.temp_comp_min_c, charger.temp_comp_min_c);
  charger.temp_comp_max_c =
      firstOf(own.temp_comp_max_c, plant_charger.temp_comp_max_c, charger.temp_comp_max_c);
  charger.reduced_setpoint_factor =
      firstOf(own.reduced_setpoint_factor, plant_charger.reduced_setpoint_factor,
              charger.reduced_setpoint_factor);
  checkTempBand(c, own, plant_charger);

  // The float voltage must suit the chemistry, wherever it was set.
  bool float_ok = !own.float_rejected && (own.float_v_per_cell || !plant_charger.float_rejected);
  if (float_ok && chemistry_ok &&
      !(charger.float_v_per_cell >= chem.float_v_per_cell_min &&
        charger.float_v_per_cell <= chem.float_v_per_cell_max)) {
    const char* origin = own.float_v_per_cell ? "" : " (inherited from [charger])";
    c.issue("float_v_per_cell",
            fmt::format("must be between {} and {} V/cell for chemistry '{}', got {}{}",
                        num(chem.float_v_per_cell_min), num(chem.float_v_per_cell_max), chem.key,
                        num(charger.float_v_per_cell), origin));
    float_ok = false;
  }

  // [string.current_sensor]
  Section cs = s.child("current_sensor");
  out.current_sensor.present = cs.boolean("present").value_or(out.current_sensor.present);
  out.current_sensor.range_a = cs.number("range_a", kSensorRangeMinA, kSensorRangeMaxA, "A")
                                   .value_or(out.current_sensor.range_a);
  cs.finish();
  c.finish();
  s.finish();

  // The measuring module must cover the block's float voltage.
  if (chemistry_ok && module_ok) {
    const double v_per_cell = float_ok ? charger.float_v_per_cell : chem.float_v_per_cell;
    const double block_v = chem.cells_per_block * v_per_cell;
    const ModuleTypeInfo& module = model::moduleTypeInfo(out.module_type);
    if (block_v < module.voltage_min_v || block_v > module.voltage_max_v) {
      std::vector<std::string> fitting;
      for (const auto& m : model::moduleTypes()) {
        if (block_v >= m.voltage_min_v && block_v <= m.voltage_max_v) {
          fitting.emplace_back(m.key);
        }
      }
      s.issue(
          "module",
          fmt::format("module '{}'{} measures {} to {} V, but a '{}' block floats at {} V "
                      "({} cell{} × {} V/cell); {}",
                      module.key, module_given ? "" : " (the default)", num(module.voltage_min_v),
                      num(module.voltage_max_v), chem.key, rounded(block_v), chem.cells_per_block,
                      chem.cells_per_block == 1 ? "" : "s", num(v_per_cell),
                      fitting.empty() ? std::string("no module type fits")
                                      : fmt::format("modules that fit: {}", joined(fitting))));
    }
  }
}

void readStrings(Context& ctx, Section& top, const ChargerKeys& plant_charger,
                 model::PlantConfig& plant) {
  const toml::node* node = top.lookup("string");
  if (node == nullptr) {
    ctx.add("strings", "no [[string]] defined; at least one battery string is required",
            toml::source_region{});
    return;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    top.reject("string",
               fmt::format("expected an array of tables ([[string]]), got {}{}", typeName(*node),
                           node->is_table() ? " (write [[string]], not [string])" : ""));
    return;
  }
  if (array->empty()) {
    ctx.add("strings", "no [[string]] defined; at least one battery string is required", node);
    return;
  }
  int index = 0;
  std::vector<int> string_index;  // plant.strings[k] was strings[string_index[k]]
  for (const toml::node& element : *array) {
    ++index;
    const toml::table* table = element.as_table();
    if (table == nullptr) {
      ctx.add(fmt::format("strings[{}]", index),
              fmt::format("expected a table, got {}", typeName(element)), &element);
      continue;
    }
    model::StringConfig string_config;
    readString(ctx, top, *table, index, plant_charger, string_config);
    plant.strings.push_back(std::move(string_config));
    string_index.push_back(index);
  }

  if (index > kMaxStrings) {
    ctx.add("strings",
            fmt::format("at most {} [[string]] tables are supported, got {}", kMaxStrings, index),
            node);
  }
  if (const int modules = plant.moduleCount(); modules > kMaxModules) {
    ctx.add("strings",
            fmt::format("at most {} modules are supported in total (blocks over all strings), "
                        "got {}",
                        kMaxModules, modules),
            node);
  }
  // Unique names (ignoring case and surrounding spaces: they label the same thing in the UI).
  for (std::size_t k = 0; k < plant.strings.size(); ++k) {
    const std::string name = lower(trim(plant.strings[k].name));
    if (name.empty()) {
      continue;
    }
    for (std::size_t j = 0; j < k; ++j) {
      if (lower(trim(plant.strings[j].name)) == name) {
        const auto* table = (*array)[static_cast<std::size_t>(string_index[k] - 1)].as_table();
        const toml::node* name_node = table->get("name");
        ctx.add(fmt::format("strings[{}].name", string_index[k]),
                fmt::format("duplicate string name \"{}\" (already used by strings[{}])",
                            plant.strings[k].name, string_index[j]),
                name_node ? name_node : table);
        break;
      }
    }
  }
}

model::PlantConfig readPlant(Context& ctx, const toml::table& root) {
  model::PlantConfig plant;
  Section top(ctx, root, "", "", nullptr, "");
  if (const auto dir = top.string("data_dir")) {
    if (trim(*dir).empty()) {
      top.issue("data_dir", "must not be empty");
    } else {
      plant.data_dir = *dir;
    }
  }
  readSite(top, plant.site);
  readHttp(top, plant.http);
  readRadius(top, plant.radius);
  readAmbient(top, plant.ambient);
  const ChargerKeys plant_charger = readPlantCharger(top);
  readHistory(top, plant.history);
  readSimulation(top, plant.simulation);
  readEqualization(ctx, top, plant.equalization);
  readThermalRunaway(top, plant.thermal_runaway);
  readProtocols(top, plant.protocols);
  readStrings(ctx, top, plant_charger, plant);
  readBus(ctx, top, plant);  // after the strings: lines name them
  readAlarms(ctx, top, plant);
  readIo(ctx, top, plant);
  readEvents(ctx, top, plant);
  top.finish();
  return plant;
}

LoadResult finishResult(Context& ctx, model::PlantConfig plant) {
  LoadResult result;
  std::stable_sort(ctx.issues.begin(), ctx.issues.end(), [](const Located& a, const Located& b) {
    const auto key = [](const Located& l) {
      // Issues without a place in the file go last.
      return std::pair(l.line == 0 ? std::numeric_limits<std::uint32_t>::max() : l.line, l.column);
    };
    return key(a) < key(b);
  });
  for (auto& located : ctx.issues) {
    result.issues.push_back(std::move(located.issue));
  }
  if (result.issues.empty()) {
    result.config = std::move(plant);
  }
  return result;
}

LoadResult single(std::string message) {
  LoadResult result;
  result.issues.push_back(ConfigIssue{"", std::move(message)});
  return result;
}

}  // namespace

std::string LoadResult::issueLines() const {
  std::string out;
  for (const auto& i : issues) {
    out += (out.empty() ? "" : "\n") + i.key + ": " + i.message;
  }
  return out;
}

std::string LoadResult::describe(std::string_view origin) const {
  std::string out;
  for (const auto& issue : issues) {
    out += formatIssue(origin, issue);
    out += '\n';
  }
  return out;
}

std::string formatIssue(std::string_view origin, const ConfigIssue& issue) {
  if (issue.key.empty()) {
    return fmt::format("{}: {}", origin, issue.message);
  }
  return fmt::format("{}: {}: {}", origin, issue.key, issue.message);
}

LoadResult parseConfig(std::string_view toml_text, std::string_view origin) {
  try {
    toml::table root;
    try {
      root = toml::parse(toml_text, origin);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      return single(fmt::format("TOML syntax error at line {}, column {}: {}", where.line,
                                where.column, e.description()));
    }
    Context ctx;
    model::PlantConfig plant = readPlant(ctx, root);
    return finishResult(ctx, std::move(plant));
  } catch (const std::exception& e) {
    return single(fmt::format("cannot load configuration: {}", e.what()));
  }
}

LoadResult loadConfigFile(const std::string& path) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return single(fmt::format("cannot read configuration file '{}': is a directory", path));
    }
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int err = errno;
      return single(fmt::format(
          "cannot read configuration file '{}': {}", path,
          err != 0 ? std::generic_category().message(err) : std::string("cannot open")));
    }
    std::string text(kMaxFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
      return single(fmt::format("cannot read configuration file '{}': read error", path));
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return single(fmt::format("configuration file '{}' is larger than {} MiB", path,
                                kMaxFileBytes / (std::size_t{1024} * 1024)));
    }
    return parseConfig(text, path);
  } catch (const std::exception& e) {
    return single(fmt::format("cannot read configuration file '{}': {}", path, e.what()));
  }
}

std::vector<std::string> knownKeys() {
  std::vector<std::string> keys;
  Context ctx;
  ctx.known = &keys;
  toml::table root;
  root.insert("string", toml::array{toml::table{}});
  root.insert("bus", toml::table{{"line", toml::array{toml::table{}}}});
  root.insert("alarms", toml::table{{"rule", toml::array{toml::table{}}}});
  // [[io.device]] with one [[io.device.channel]], so that their keys are listed too.
  root.insert(
      "io",
      toml::table{{"device", toml::array{toml::table{{"channel", toml::array{toml::table{}}}}}}});
  root.insert(
      "events",
      toml::table{{"rule", toml::array{toml::table{{"action", toml::array{toml::table{}}}}}}});
  (void)readPlant(ctx, root);
  return keys;
}

}  // namespace equalis::config
