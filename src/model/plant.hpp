// The plant configuration: site → strings → blocks, charger, sensors, simulation and daemon
// settings. Loaded from a TOML file by config/, or built in (demoPlant()).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "model/alarm_config.hpp"
#include "model/chemistry.hpp"
#include "model/events.hpp"
#include "model/io.hpp"

namespace equalis::model {

struct SiteConfig {
  std::string name = "Equalis demo site";
  std::string location = "Battery room 1";

  bool operator==(const SiteConfig&) const = default;
};

// The charger (UPS rectifier) feeding one string in constant-voltage float with a current limit.
struct ChargerConfig {
  double float_v_per_cell = 2.27;
  double current_limit_a = 10.0;  // constant-current limit while recharging
  bool temperature_compensation = true;
  double temp_comp_mv_per_k_per_cell = -3.0;
  double temp_comp_min_c = 5.0;  // compensation clamped outside this band (Narada manual)
  double temp_comp_max_c = 40.0;
  // Set-point × this while the charger's "reduce voltage" input is driven (a charger_reduce relay,
  // thermal-runaway protection): 0.95 × 2.27 V ≈ 2.16 V/cell, about the open-circuit voltage.
  double reduced_setpoint_factor = 0.95;

  bool operator==(const ChargerConfig&) const = default;
};

struct CurrentSensorConfig {
  bool present = true;
  double range_a = 100.0;  // ± full scale (BACS_CSH ±50 … 2000 A)

  bool operator==(const CurrentSensorConfig&) const = default;
};

struct StringConfig {
  std::string name;
  int block_count = 32;
  Chemistry chemistry = Chemistry::kVrla12V;
  double capacity_ah = 100.0;
  ModuleType module_type = ModuleType::kC24;
  double age_years = 0.0;  // simulated service age: widens float scatter, fades capacity
  ChargerConfig charger;
  CurrentSensorConfig current_sensor;

  bool operator==(const StringConfig&) const = default;
};

struct AmbientConfig {
  bool sensor_present = true;
  double temperature_c = 25.0;  // simulated room temperature
  double daily_swing_c = 0.0;   // simulated day/night swing amplitude

  bool operator==(const AmbientConfig&) const = default;
};

// A UPS load that now and then loses mains and discharges the strings.
struct UpsConfig {
  bool outages = true;
  double load_kw = 20.0;                // total load carried by all strings during an outage
  double outage_mean_interval_h = 6.0;  // mean time between simulated mains failures
  double outage_min_s = 60.0;
  double outage_max_s = 600.0;

  bool operator==(const UpsConfig&) const = default;
};

struct SimulationConfig {
  std::uint64_t seed = 1;
  UpsConfig ups;

  bool operator==(const SimulationConfig&) const = default;
};

// One module-bus line ([[bus.line]], docs/module-bus.md): the strings whose modules hang on it.
struct BusLineConfig {
  std::string url;             // "serial:/dev/ttyUSB0:115200" or "tcp://HOST:PORT"
  std::vector<int> strings;    // 1-based string numbers, in chain (address) order
  int baud = 115200;           // tcp: the gateway's RS-485 baud rate (serial: taken from the url)
  DurationMs timeout_ms = 10;  // reply slack beyond the frames' wire time
  int retries = 1;             // extra attempts of a unicast request

  bool operator==(const BusLineConfig&) const = default;
};

struct BusConfig {
  DurationMs sweep_interval_ms = 10 * kSecondMs;  // simulated time between two sweeps
  int stale_after_sweeps = 3;                     // values older than this many sweeps are stale
  int comm_lost_after_failures = 3;               // consecutive failures before comm_lost
  // Module-bus lines; empty = the built-in simulator answers (the default).
  std::vector<BusLineConfig> lines;

  bool operator==(const BusConfig&) const = default;
};

struct HistoryConfig {
  std::uint64_t max_bytes = 256ull * 1024 * 1024;
  DurationMs float_interval_ms = 20 * kMinuteMs;  // seed: autosave every 20 min in float
  DurationMs fast_interval_ms = 10 * kSecondMs;   // during a discharge
  DurationMs fast_hold_ms = kHourMs;              // and for this long after it

  bool operator==(const HistoryConfig&) const = default;
};

struct TimeWindow {
  TimeMs from_ms = 0;
  TimeMs to_ms = 0;

  bool operator==(const TimeWindow&) const = default;
};

// Equalization (top balancing). Defaults follow the seed: target = charger voltage / blocks.
struct EqualizationConfig {
  bool enabled = true;
  // Fixed target per cell instead of the charger's (temperature-compensated) float voltage;
  // 0 = follow the charger. For lithium strings this is the top-balance voltage.
  double target_v_per_cell = 0.0;
  // After a discharge and recharge, balancing waits until the string has floated this long.
  DurationMs settle_ms = 30 * kMinuteMs;
  // Errors within ± this are treated as zero (per block). Keep it 0 for lead-acid: in float the
  // block voltages must sum to the charger voltage, so a deadband lets the other blocks absorb a
  // low block's deficit without acting.
  double deadband_mv = 0.0;
  // Closed-loop response time: a block above target is brought down with this time constant
  // (limited by the module's bypass current).
  DurationMs response_ms = 20 * kMinuteMs;
  // Lithium only: keep the string near 80 % charge by equalizing to the cells' 80 % voltage.
  bool lithium_hold_80pct = false;
  // Correct module voltage offsets with the self-calibration estimate before equalizing.
  bool self_calibration = true;
  // Pause windows, e.g. while forming new batteries.
  std::vector<TimeWindow> pauses;

  bool operator==(const EqualizationConfig&) const = default;
};

// Thermal-runaway protection (IFC 608.3; alarms/runaway.hpp, docs/alarms.md). Runaway = heat
// generation outgrowing heat removal while the charger holds the voltage. Vendor anchors
// (battery-science.md §3.6): case ≥ 5 °C above ambient; a charger must not raise the battery more
// than 3 °C above ambient; float current > 3× steady state; AND-qualified with a delay (BACS).
struct ThermalRunawayConfig {
  bool enabled = true;
  double delta_median_k = 5.0;  // block evidence: hottest block this far above the string median …
  double delta_ambient_k = 5.0;  // … and this far above the room (when a room sensor reads)
  double string_delta_ambient_k = 3.0;   // string evidence: string mean this far above the room …
  double string_delta_history_k = 10.0;  // … or, without a room sensor, above its own 24 h low
  double warming_k_per_h = 0.2;          // … and still warming at least this fast
  double current_min_per_ah = 0.001;  // … with the current this far (A per Ah) above its settled
                                      //     float level (the sensor's offset cancels out)
  DurationMs window_ms = 30 * kMinuteMs;       // trend window for the slopes
  DurationMs hold_ms = 5 * kMinuteMs;          // evidence held this long → alarm
  DurationMs countdown_ms = 10 * kMinuteMs;    // alarm → breaker opens after this countdown
  DurationMs clear_after_ms = 10 * kMinuteMs;  // evidence gone this long → cleared
  bool reduce_charger = true;  // at the alarm, lower the charger through a charger_reduce relay
  bool trip_breaker = true;    // false: alarm (and charger reduction) only

  bool operator==(const ThermalRunawayConfig&) const = default;
};

// Protocol adapters started with the daemon (empty = off). The same specs as the command-line
// flags --modbus-tcp, --modbus-rtu, --snmp and --mqtt, which override them.
struct ProtocolConfig {
  std::string modbus_tcp;      // "HOST:PORT"
  std::string modbus_rtu;      // "DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]"
  std::string snmp;            // "HOST:PORT[?options]"
  std::string mqtt;            // "mqtt[s]://[user:password@]HOST[:PORT][/PREFIX][?options]"
  bool modbus_writes = false;  // [modbus] writes: the acknowledge register accepts writes
  // [modbus] write_allowlist: Modbus TCP clients whose address is in one of these prefixes
  // ("10.0.0.0/8", "::1") may send write function codes; empty = every client (as without it).
  std::vector<std::string> modbus_write_allowlist;
  // [snmp] keys other than listen, as (spec option, value) pairs in the vocabulary of the
  // --snmp spec options ("community", "writecommunity", "v3user", …); options in the spec
  // itself override them.
  std::vector<std::pair<std::string, std::string>> snmp_options;

  bool operator==(const ProtocolConfig&) const = default;
};

// "auto" follows the listen address: on loopback only, HTTPS is off and anonymous reading is
// on; anywhere else HTTPS is on and every request needs a login.
enum class AutoSwitch { kAuto, kOn, kOff };

struct HttpConfig {
  std::string listen = "127.0.0.1:8080";
  AutoSwitch tls = AutoSwitch::kAuto;
  // PEM files of the site's certificate (chain) and key; empty: a self-signed certificate is
  // made in <data_dir>/tls/ at the first start.
  std::string certificate_file;
  std::string key_file;
  // Host names the controller answers to (besides IP literals and "localhost"): a request with
  // any other Host header is refused (DNS rebinding).
  std::vector<std::string> server_names;
  AutoSwitch anonymous_read = AutoSwitch::kAuto;
  bool hsts = false;
  // A plain-HTTP port on the listen address that redirects every request to HTTPS; 0 = none.
  int redirect_port = 0;
  DurationMs session_idle_ms = DurationMs{30} * 60 * 1000;
  DurationMs session_absolute_ms = DurationMs{12} * 60 * 60 * 1000;

  bool operator==(const HttpConfig&) const = default;
};

// [radius]: logins of names that are not local accounts, checked by RADIUS servers; the role
// comes from an attribute of the Access-Accept (docs/security.md, "RADIUS").
struct RadiusConfig {
  bool enabled = false;
  std::vector<std::string> servers = {"127.0.0.1:1812"};  // "HOST:PORT", tried in order
  std::string secret;            // shared with every server (secret, secret_file or secret_env)
  std::string secret_file;       // the file the secret was read from, "" when it was not
  DurationMs timeout_ms = 3000;  // per attempt, 100 to 60000
  int retries = 1;               // attempts after the first, per server
  std::string nas_identifier = "equalis";
  std::string role_attribute = "Filter-Id";  // "Filter-Id" or "Class"
  std::string default_role;                  // "" = an Access-Accept without a role is refused

  bool operator==(const RadiusConfig&) const = default;
};

struct PlantConfig {
  SiteConfig site;
  std::vector<StringConfig> strings;
  AmbientConfig ambient;
  SimulationConfig simulation;
  BusConfig bus;
  HistoryConfig history;
  EqualizationConfig equalization;
  ThermalRunawayConfig thermal_runaway;
  HttpConfig http;
  RadiusConfig radius;
  ProtocolConfig protocols;
  AlarmsConfig alarms;
  IoConfig io;
  EventsConfig events;
  std::string data_dir = "data";

  int moduleCount() const;

  // Compared member by member (config::diffConfig: what a reload changes).
  bool operator==(const PlantConfig&) const = default;
};

// The built-in demo plant: 2 strings × 32 blocks of 12 V 100 Ah VRLA (one 5 years old, one new),
// C24 modules, a current sensor per string, 25 °C ambient, a UPS with short mains failures.
// Its I/O: a GX_R_AUX on both string breakers (status inputs, trip relays), a temperature/humidity
// sensor, a hydrogen sensor, an ELS sensor on string 1's pilot cell (block 1) and an alarm panel
// (buzzer + LED), all simulated; the room is the default RoomConfig.
PlantConfig demoPlant();
IoConfig demoIo();

}  // namespace equalis::model
