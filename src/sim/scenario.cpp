#include "sim/scenario.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <limits>
#include <system_error>
#include <utility>

#include <toml++/toml.h>

namespace equalis::sim {

namespace {

using text::didYouMean;
using text::joined;

constexpr std::size_t kMaxFileBytes = std::size_t{1024} * 1024;
constexpr DurationMs kMaxDurationMs = 100LL * 365 * kDayMs;
constexpr double kMaxLoadKw = 10000.0;
constexpr double kMaxCurrentA = 5000.0;
constexpr double kMinAmbientC = -40.0;
constexpr double kMaxAmbientC = 70.0;
constexpr double kMaxSwingC = 30.0;
constexpr double kMinFloatVPerCell = 1.0;
constexpr double kMaxFloatVPerCell = 4.0;
constexpr double kMaxAirChangesPerH = 100.0;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

const std::vector<std::string>& actionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto a : {ScenarioAction::kFault, ScenarioAction::kClearFault, ScenarioAction::kOutage,
                   ScenarioAction::kDischarge, ScenarioAction::kCharger, ScenarioAction::kAmbient,
                   ScenarioAction::kBypass, ScenarioAction::kReplaceBlock, ScenarioAction::kInput,
                   ScenarioAction::kVentilation, ScenarioAction::kElectrolyte,
                   ScenarioAction::kHumidity, ScenarioAction::kAgeBlock}) {
      v.emplace_back(scenarioActionName(a));
    }
    return v;
  }();
  return names;
}

std::optional<ScenarioAction> parseAction(std::string_view name) {
  for (auto a : {ScenarioAction::kFault, ScenarioAction::kClearFault, ScenarioAction::kOutage,
                 ScenarioAction::kDischarge, ScenarioAction::kCharger, ScenarioAction::kAmbient,
                 ScenarioAction::kBypass, ScenarioAction::kReplaceBlock, ScenarioAction::kInput,
                 ScenarioAction::kVentilation, ScenarioAction::kElectrolyte,
                 ScenarioAction::kHumidity, ScenarioAction::kAgeBlock}) {
    if (scenarioActionName(a) == name) {
      return a;
    }
  }
  return std::nullopt;
}

const std::vector<std::string>& faultKindNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const FaultKind k : allFaultKinds()) {
      v.emplace_back(faultKindName(k));
    }
    return v;
  }();
  return names;
}

struct Issues {
  std::vector<std::string> list;
  void add(const std::string& key, const std::string& message) {
    list.push_back(key + ": " + message);
  }
};

// Reads the keys of one table; every key looked up (present or not) is "known", so that the
// remaining keys can be reported as unknown with a suggestion.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, Issues& issues)
      : table_(table), prefix_(std::move(prefix)), issues_(issues) {}

  std::string key(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }
  void issue(std::string_view name, const std::string& message) { issues_.add(key(name), message); }
  bool has(std::string_view name) {
    remember(name);
    return table_.get(name) != nullptr;
  }

  std::optional<std::string> string(std::string_view name, bool required) {
    const toml::node* node = lookup(name, required);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto v = node->value<std::string>(); node->is_string() && v) {
      return *v;
    }
    issue(name, "expected a string, got " + typeName(*node));
    return std::nullopt;
  }

  std::optional<double> number(std::string_view name, bool required, double lo, double hi,
                               std::string_view unit = "") {
    const toml::node* node = lookup(name, required);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (!node->is_number()) {
      issue(name, "expected a number, got " + typeName(*node));
      return std::nullopt;
    }
    const double v = node->value<double>().value_or(std::numeric_limits<double>::quiet_NaN());
    if (!std::isfinite(v) || v < lo || v > hi) {
      const std::string u = unit.empty() ? "" : " " + std::string(unit);
      issue(name, num(v) + u + " is outside " + num(lo) + " … " + num(hi) + u);
      return std::nullopt;
    }
    return v;
  }

  // A 1-based index ≥ 1, returned 0-based.
  std::optional<std::size_t> index(std::string_view name, bool required) {
    const toml::node* node = lookup(name, required);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto v = node->value<std::int64_t>();
    if (!node->is_integer() || !v) {
      issue(name, "expected an integer (1-based), got " + typeName(*node));
      return std::nullopt;
    }
    if (*v < 1 || *v > 100000) {
      issue(name, "must be ≥ 1 (indices are 1-based), got " + std::to_string(*v));
      return std::nullopt;
    }
    return static_cast<std::size_t>(*v - 1);
  }

  std::optional<bool> boolean(std::string_view name) {
    const toml::node* node = lookup(name, false);
    if (node == nullptr) {
      return std::nullopt;
    }
    if (const auto v = node->value<bool>(); node->is_boolean() && v) {
      return *v;
    }
    issue(name, "expected true or false, got " + typeName(*node));
    return std::nullopt;
  }

  std::optional<DurationMs> duration(std::string_view name, bool required) {
    const toml::node* node = lookup(name, required);
    if (node == nullptr) {
      return std::nullopt;
    }
    const auto text = node->value<std::string>();
    if (!node->is_string() || !text) {
      issue(name, "expected a duration string like \"90s\", \"15min\", \"2h\" or \"3d\", got " +
                      typeName(*node));
      return std::nullopt;
    }
    auto d = parseDuration(*text);
    if (!d) {
      issue(name, d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  // Keys present but never looked up.
  void reportUnknown(const std::string& context) {
    for (const auto& [k, v] : table_) {
      const std::string_view name = k.str();
      if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
        issue(name, "unknown key" + context + didYouMean(name, known_) +
                        (known_.empty() ? "" : " (known: " + joined(known_) + ")"));
      }
    }
  }

 private:
  void remember(std::string_view name) {
    if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
      known_.emplace_back(name);
    }
  }

  const toml::node* lookup(std::string_view name, bool required) {
    remember(name);
    const toml::node* node = table_.get(name);
    if (node == nullptr && required) {
      issue(name, "missing");
    }
    return node;
  }

  const toml::table& table_;
  std::string prefix_;
  Issues& issues_;
  std::vector<std::string> known_;
};

// The fault parameters of `kind` from the event table (§6.4 defaults where absent).
void readFaultParameters(TableReader& r, Fault& f) {
  switch (f.kind) {
    case FaultKind::kDryOut:
      if (auto v = r.number("r0_factor", false, 1.0, 20.0)) {
        f.r0_factor = *v;
      }
      if (auto v = r.number("i0_factor", false, 1.0, 1000.0)) {
        f.i0_factor = *v;
      }
      if (auto v = r.duration("time_constant", false)) {
        f.time_constant_ms = *v;
      }
      break;
    case FaultKind::kInternalShort:
      if (auto v = r.number("resistance_ohm", false, 1.0, 1e6, "Ω")) {
        f.leak_ohm = *v;
      }
      break;
    case FaultKind::kLooseConnector:
      if (auto v = r.number("resistance_mohm", false, 0.001, 1000.0, "mΩ")) {
        f.series_ohm = *v * 1e-3;
      }
      break;
    case FaultKind::kBlockedCooling:
      if (auto v = r.number("factor", false, 0.01, 1.0)) {
        f.cooling_factor = *v;
      }
      break;
    case FaultKind::kHighI0:
      if (auto v = r.number("factor", false, 1.0, 1000.0)) {
        f.i0_factor = *v;
      }
      break;
    case FaultKind::kChargerOvervoltage:
      if (auto v = r.number("factor", false, 0.5, 1.5)) {
        f.setpoint_factor = *v;
      }
      break;
    case FaultKind::kModuleOffsetJump:
      if (auto v = r.number("offset_mv", false, -5000.0, 5000.0, "mV")) {
        f.offset_jump_v = *v * 1e-3;
      }
      break;
    case FaultKind::kStuckSensor:
    case FaultKind::kModuleCommLoss:
      break;
  }
}

void readEvent(TableReader& r, ScenarioEvent& e, Issues& issues, std::size_t issues_before) {
  if (auto at = r.duration("at", true)) {
    e.at_ms = *at;
  }
  const auto action_name = r.string("action", true);
  if (!action_name) {
    r.reportUnknown("");
    return;
  }
  const auto action = parseAction(*action_name);
  if (!action) {
    r.issue("action", "unknown action '" + *action_name + "'" +
                          didYouMean(*action_name, actionNames()) +
                          " (known: " + joined(actionNames()) + ")");
    return;  // the other keys depend on the action: not reported
  }
  e.action = *action;
  std::string context = " for action '" + *action_name + "'";
  switch (e.action) {
    case ScenarioAction::kFault:
    case ScenarioAction::kClearFault: {
      const auto kind_name = r.string("kind", true);
      std::optional<FaultKind> kind;
      if (kind_name) {
        kind = parseFaultKind(*kind_name);
        if (!kind) {
          const std::string guess = didYouMean(*kind_name, faultKindNames());
          r.issue("kind",
                  "unknown fault kind '" + *kind_name + "'" +
                      (guess.empty() ? " (known: " + joined(faultKindNames()) + ")" : guess));
        }
      }
      e.string_index = r.index("string", true);
      if (!kind) {
        // Without a valid kind the block and parameter keys cannot be checked.
        return;
      }
      e.fault = makeFault(*kind);
      context += " (kind " + *kind_name + ")";
      if (faultScope(*kind) == FaultScope::kString) {
        if (r.has("block")) {
          r.issue("block", std::string("not used: ") + *kind_name +
                               " is a string-level fault (remove 'block')");
        }
      } else {
        e.block_index = r.index("block", true);
      }
      if (e.action == ScenarioAction::kFault) {
        readFaultParameters(r, e.fault);
        if (issues.list.size() == issues_before) {
          if (Status st = validateFault(e.fault); !st) {
            r.issue("kind", st.error().message);
          }
        }
      }
      break;
    }
    case ScenarioAction::kOutage:
      if (auto v = r.number("load_kw", true, 0.0, kMaxLoadKw, "kW")) {
        e.load_w = *v * 1000.0;
      }
      if (auto v = r.duration("duration", true)) {
        e.duration_ms = *v;
        if (*v <= 0) {
          r.issue("duration", "must be > 0");
        }
      }
      break;
    case ScenarioAction::kDischarge:
      e.string_index = r.index("string", true);
      if (auto v = r.number("current_a", true, 0.001, kMaxCurrentA, "A")) {
        e.current_a = *v;
      }
      if (auto v = r.duration("duration", true)) {
        e.duration_ms = *v;
        if (*v <= 0) {
          r.issue("duration", "must be > 0");
        }
      }
      break;
    case ScenarioAction::kCharger:
      e.string_index = r.index("string", false);
      e.charger_enabled = r.boolean("enabled");
      e.temperature_compensation = r.boolean("temperature_compensation");
      e.float_v_per_cell =
          r.number("float_v_per_cell", false, kMinFloatVPerCell, kMaxFloatVPerCell, "V/cell");
      e.current_limit_a = r.number("current_limit_a", false, 0.1, kMaxCurrentA, "A");
      if (!r.has("enabled") && !r.has("temperature_compensation") && !r.has("float_v_per_cell") &&
          !r.has("current_limit_a")) {
        r.issue("action",
                "a charger event needs at least one of enabled, temperature_compensation, "
                "float_v_per_cell, current_limit_a");
      }
      break;
    case ScenarioAction::kAmbient:
      e.ambient_c = r.number("temperature_c", false, kMinAmbientC, kMaxAmbientC, "°C");
      e.daily_swing_c = r.number("daily_swing_c", false, 0.0, kMaxSwingC, "K");
      if (!r.has("temperature_c") && !r.has("daily_swing_c")) {
        r.issue("action", "an ambient event needs temperature_c and/or daily_swing_c");
      }
      break;
    case ScenarioAction::kBypass:
      e.string_index = r.index("string", true);
      e.block_index = r.index("block", true);
      if (auto v = r.number("duty", true, 0.0, 1.0)) {
        e.duty = *v;
      }
      break;
    case ScenarioAction::kReplaceBlock:
      e.string_index = r.index("string", true);
      e.block_index = r.index("block", true);
      if (auto v = r.number("soc", false, 0.0, 1.0)) {
        e.soc = *v;
      }
      break;
    case ScenarioAction::kInput:
      if (auto v = r.string("channel", true)) {
        e.channel_id = *v;
        if (v->find('.') == std::string::npos) {
          r.issue("channel",
                  "expected \"<device>.<channel>\", e.g. \"aux1.di3\", got '" + *v + "'");
        }
      }
      if (auto v = r.boolean("active")) {
        e.active = *v;
      } else if (!r.has("active")) {
        r.issue("active", "missing (true: contact active, false: released)");
      }
      break;
    case ScenarioAction::kVentilation:
      if (auto v = r.number("air_changes_per_h", true, 0.0, kMaxAirChangesPerH, "1/h")) {
        e.air_changes_per_h = *v;
      }
      break;
    case ScenarioAction::kElectrolyte:
      e.string_index = r.index("string", true);
      e.block_index = r.index("block", true);
      if (auto v = r.number("level_pct", true, 0.0, 100.0, "%")) {
        e.level_pct = *v;
      }
      break;
    case ScenarioAction::kHumidity:
      e.humidity_pct = r.number("humidity_pct", false, 0.0, 100.0, "%");
      e.humidity_swing_pct = r.number("swing_pct", false, 0.0, 50.0, "%");
      if (!r.has("humidity_pct") && !r.has("swing_pct")) {
        r.issue("action", "a humidity event needs humidity_pct and/or swing_pct");
      }
      break;
    case ScenarioAction::kAgeBlock:
      e.string_index = r.index("string", true);
      e.block_index = r.index("block", true);
      e.health.capacity_pct = r.number("capacity_pct", false, BlockHealth::kMinCapacityPct,
                                       BlockHealth::kMaxCapacityPct, "%");
      e.health.ri_factor =
          r.number("ri_factor", false, BlockHealth::kMinFactor, BlockHealth::kMaxRiFactor);
      e.health.i0_factor =
          r.number("i0_factor", false, BlockHealth::kMinFactor, BlockHealth::kMaxI0Factor);
      if (!r.has("capacity_pct") && !r.has("ri_factor") && !r.has("i0_factor")) {
        r.issue("action", "an age_block event needs capacity_pct, ri_factor and/or i0_factor");
      }
      break;
  }
  r.reportUnknown(context);
}

Error parseError(std::string_view origin, const std::vector<std::string>& issues) {
  std::string message;
  for (const auto& i : issues) {
    message += message.empty() ? "" : "\n";
    message += std::string(origin) + ": " + i;
  }
  return makeError(ErrorCode::kInvalidArgument, message);
}

Result<Scenario> parseScenarioImpl(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return parseError(origin,
                      {"TOML syntax error at line " + std::to_string(where.line) + ", column " +
                       std::to_string(where.column) + ": " + std::string(e.description())});
  }
  Issues issues;
  Scenario sc;
  sc.origin = std::string(origin);
  TableReader top(root, "", issues);
  if (auto name = top.string("name", true)) {
    sc.name = *name;
    if (sc.name.empty()) {
      top.issue("name", "must not be empty");
    }
  }
  if (auto d = top.string("description", false)) {
    sc.description = *d;
  }
  const auto duration = top.duration("duration", false);
  top.has("event");
  top.reportUnknown("");

  const toml::node* events = root.get("event");
  if (events == nullptr) {
    issues.add("event", "no [[event]] defined; a scenario needs at least one");
  } else if (const toml::array* array = events->as_array(); array == nullptr) {
    issues.add("event", "expected an array of tables ([[event]]), got " + typeName(*events));
  } else {
    std::size_t number = 0;
    for (const toml::node& element : *array) {
      ++number;
      const std::string prefix = "event[" + std::to_string(number) + "]";
      const toml::table* table = element.as_table();
      if (table == nullptr) {
        issues.add(prefix, "expected a table, got " + typeName(element));
        continue;
      }
      ScenarioEvent e;
      e.number = number;
      TableReader r(*table, prefix, issues);
      readEvent(r, e, issues, issues.list.size());
      sc.events.push_back(std::move(e));
    }
    if (number == 0) {
      issues.add("event", "no [[event]] defined; a scenario needs at least one");
    }
  }
  if (!issues.list.empty()) {
    return parseError(origin, issues.list);
  }
  DurationMs end_ms = 0;
  for (const auto& e : sc.events) {
    end_ms = std::max(end_ms, e.at_ms + e.duration_ms);
  }
  sc.duration_ms = duration ? *duration : end_ms;
  if (sc.duration_ms < end_ms) {
    return parseError(origin, {"duration: " + num(static_cast<double>(sc.duration_ms) / 1000.0) +
                               " s ends before the last event (" +
                               num(static_cast<double>(end_ms) / 1000.0) + " s)"});
  }
  return sc;
}

}  // namespace

std::string_view scenarioActionName(ScenarioAction action) {
  switch (action) {
    case ScenarioAction::kFault:
      return "fault";
    case ScenarioAction::kClearFault:
      return "clear_fault";
    case ScenarioAction::kOutage:
      return "outage";
    case ScenarioAction::kDischarge:
      return "discharge";
    case ScenarioAction::kCharger:
      return "charger";
    case ScenarioAction::kAmbient:
      return "ambient";
    case ScenarioAction::kBypass:
      return "bypass";
    case ScenarioAction::kReplaceBlock:
      return "replace_block";
    case ScenarioAction::kInput:
      return "input";
    case ScenarioAction::kVentilation:
      return "ventilation";
    case ScenarioAction::kElectrolyte:
      return "electrolyte";
    case ScenarioAction::kHumidity:
      return "humidity";
    case ScenarioAction::kAgeBlock:
      return "age_block";
  }
  return "?";
}

Result<DurationMs> parseDuration(std::string_view text) {
  const auto bad = [&] {
    return makeError(ErrorCode::kInvalidArgument,
                     "invalid duration \"" + std::string(text) +
                         "\" (write e.g. \"90s\", \"15min\", \"2h\", \"3d\" or \"1h30min\")");
  };
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
  };
  skip_space();
  if (text.substr(i) == "0") {
    return DurationMs{0};
  }
  double total_ms = 0.0;
  int parts = 0;
  while (true) {
    skip_space();
    if (i >= text.size()) {
      break;
    }
    const std::size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return bad();
    }
    double value = 0.0;
    try {
      std::size_t used = 0;
      const std::string number(text.substr(start, i - start));
      value = std::stod(number, &used);
      if (used != number.size()) {
        return bad();
      }
    } catch (const std::exception&) {
      return bad();
    }
    skip_space();
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double unit_ms = 0.0;
    if (unit == "ms") {
      unit_ms = 1.0;
    } else if (unit == "s") {
      unit_ms = 1e3;
    } else if (unit == "min") {
      unit_ms = 60e3;
    } else if (unit == "h") {
      unit_ms = 3600e3;
    } else if (unit == "d") {
      unit_ms = 86400e3;
    } else {
      return bad();
    }
    total_ms += value * unit_ms;
    ++parts;
  }
  if (parts == 0 || !std::isfinite(total_ms) || total_ms > static_cast<double>(kMaxDurationMs)) {
    return bad();
  }
  return static_cast<DurationMs>(std::llround(total_ms));
}

Result<Scenario> parseScenario(std::string_view toml_text, std::string_view origin) {
  try {
    return parseScenarioImpl(toml_text, origin);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInvalidArgument,
                     std::string(origin) + ": cannot load scenario: " + e.what());
  }
}

Result<Scenario> loadScenarioFile(const std::string& path) {
  try {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      const int err = errno;
      return makeError(ErrorCode::kIo, "cannot read scenario file '" + path + "': " +
                                           (err != 0 ? std::generic_category().message(err)
                                                     : std::string("cannot open")));
    }
    std::string text(kMaxFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
      return makeError(ErrorCode::kIo, "cannot read scenario file '" + path + "': read error");
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return makeError(ErrorCode::kInvalidArgument,
                       "scenario file '" + path + "' is larger than 1 MiB");
    }
    return parseScenario(text, path);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kIo, "cannot read scenario file '" + path + "': " + e.what());
  }
}

namespace {

// Why a scenario cannot drive `channel_id`, or nothing when it names a simulated digital input.
std::optional<std::string> inputProblem(const model::IoConfig& io, const std::string& channel_id) {
  std::vector<std::string> inputs;
  for (const auto& d : io.devices) {
    for (const auto& c : d.channels) {
      const std::string full = d.id + "." + c.id;
      const bool usable = d.transport == model::IoTransport::kSimulated &&
                          c.kind == model::ChannelKind::kDigitalInput &&
                          c.role == model::ChannelRole::kGeneric;
      if (full == channel_id) {
        if (d.transport != model::IoTransport::kSimulated) {
          return "'" + channel_id + "' belongs to a real (" +
                 std::string(model::ioTransportName(d.transport)) +
                 ") device; only simulated inputs can be driven";
        }
        if (c.kind != model::ChannelKind::kDigitalInput) {
          return "'" + channel_id + "' is not a digital input (" +
                 std::string(model::channelKindName(c.kind)) + ")";
        }
        if (!usable) {
          return "'" + channel_id + "' is a breaker_status input: it follows the simulated breaker";
        }
        return std::nullopt;
      }
      if (usable) {
        inputs.push_back(full);
      }
    }
  }
  return "no simulated digital input '" + channel_id + "'" + didYouMean(channel_id, inputs) +
         (inputs.empty() ? " (the plant has none: add an [[io.device]])"
                         : " (known: " + joined(inputs) + ")");
}

}  // namespace

Status validate(const Scenario& scenario, const model::PlantConfig& plant) {
  std::vector<std::string> issues;
  const std::size_t strings = plant.strings.size();
  for (const auto& e : scenario.events) {
    const std::string prefix = "event[" + std::to_string(e.number) + "]";
    if (e.action == ScenarioAction::kInput) {
      if (auto problem = inputProblem(plant.io, e.channel_id)) {
        issues.push_back(prefix + ".channel: " + *problem);
      }
    }
    if (!e.string_index) {
      continue;
    }
    if (*e.string_index >= strings) {
      issues.push_back(prefix + ".string: string " + std::to_string(*e.string_index + 1) +
                       " does not exist (the plant has " + std::to_string(strings) +
                       (strings == 1 ? " string)" : " strings)"));
      continue;
    }
    const auto blocks =
        static_cast<std::size_t>(std::max(0, plant.strings[*e.string_index].block_count));
    if (e.block_index && *e.block_index >= blocks) {
      issues.push_back(prefix + ".block: block " + std::to_string(*e.block_index + 1) +
                       " does not exist (string " + std::to_string(*e.string_index + 1) + " has " +
                       std::to_string(blocks) + " blocks)");
    }
  }
  if (!issues.empty()) {
    return parseError(scenario.origin, issues);
  }
  return {};
}

// ---------------------------------------------------------------------------------- runner

ScenarioRunner::ScenarioRunner(Scenario scenario) : scenario_(std::move(scenario)) {
  for (std::size_t i = 0; i < scenario_.events.size(); ++i) {
    const auto& e = scenario_.events[i];
    steps_.push_back({e.at_ms, i, false});
    if (e.action == ScenarioAction::kDischarge) {
      steps_.push_back({e.at_ms + e.duration_ms, i, true});
    }
  }
  // Time order; for equal times the file order, a discharge's end after the events it follows.
  std::stable_sort(steps_.begin(), steps_.end(),
                   [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
}

DurationMs ScenarioRunner::nextAtMs() const {
  return finished() ? -1 : steps_[next_].at_ms;
}

void ScenarioRunner::applyDue(PlantSim& sim, TimeMs start_ms, TimeMs now_ms) {
  while (next_ < steps_.size() && start_ms + steps_[next_].at_ms <= now_ms) {
    apply(sim, steps_[next_]);
    ++next_;
  }
}

void ScenarioRunner::apply(PlantSim& sim, const Step& step) {
  const ScenarioEvent& e = scenario_.events[step.event];
  const std::string prefix = scenario_.origin + ": event[" + std::to_string(e.number) + "] (" +
                             std::string(scenarioActionName(e.action)) + "): ";
  const std::size_t si = e.string_index.value_or(0);
  const std::size_t bi = e.block_index.value_or(0);
  const bool string_ok = !e.string_index || si < sim.stringCount();
  const bool block_ok = string_ok && (!e.block_index || bi < sim.blockCount(si));
  if (!string_ok || !block_ok) {
    errors_.push_back(prefix + "string/block index out of range for this plant");
    return;
  }
  Status st;
  switch (e.action) {
    case ScenarioAction::kFault:
      st = sim.injectFault(si, bi, e.fault);
      break;
    case ScenarioAction::kClearFault:
      st = sim.clearFault(si, bi, e.fault.kind);
      break;
    case ScenarioAction::kOutage:
      sim.startOutage(e.load_w, e.duration_ms);
      break;
    case ScenarioAction::kDischarge:
      sim.setDischargeCurrent(si, step.end ? 0.0 : e.current_a);
      break;
    case ScenarioAction::kCharger: {
      const std::size_t first = e.string_index ? si : 0;
      const std::size_t last = e.string_index ? si + 1 : sim.stringCount();
      for (std::size_t s = first; s < last; ++s) {
        model::ChargerConfig c = sim.chargerConfig(s);
        if (e.temperature_compensation) {
          c.temperature_compensation = *e.temperature_compensation;
        }
        if (e.float_v_per_cell) {
          c.float_v_per_cell = *e.float_v_per_cell;
        }
        if (e.current_limit_a) {
          c.current_limit_a = *e.current_limit_a;
        }
        sim.setChargerConfig(s, c);
        if (e.charger_enabled) {
          sim.setChargerEnabled(s, *e.charger_enabled);
        }
      }
      break;
    }
    case ScenarioAction::kAmbient: {
      model::AmbientConfig a = sim.ambientConfig();
      if (e.ambient_c) {
        a.temperature_c = *e.ambient_c;
      }
      if (e.daily_swing_c) {
        a.daily_swing_c = *e.daily_swing_c;
      }
      sim.setAmbient(a);
      break;
    }
    case ScenarioAction::kBypass:
      sim.setBypassDuty(si, bi, e.duty);
      break;
    case ScenarioAction::kReplaceBlock:
      st = sim.replaceBlock(si, bi, e.soc);
      break;
    case ScenarioAction::kInput:
      sim.setContact(e.channel_id, e.active);
      break;
    case ScenarioAction::kVentilation:
      sim.setRoomVentilation(e.air_changes_per_h);
      break;
    case ScenarioAction::kElectrolyte:
      st = sim.setElectrolyteLevel(si, bi, e.level_pct);
      break;
    case ScenarioAction::kHumidity:
      sim.setRoomHumidity(e.humidity_pct, e.humidity_swing_pct);
      break;
    case ScenarioAction::kAgeBlock:
      st = sim.setBlockHealth(si, bi, e.health);
      break;
  }
  if (!st) {
    errors_.push_back(prefix + st.error().message);
  }
}

}  // namespace equalis::sim
