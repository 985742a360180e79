#include "alarms/alarms.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/text.hpp"
#include "model/chemistry.hpp"

namespace equalis::alarms {

namespace {

using model::PointId;

// Per-cell voltage limits per chemistry [high warning, high alarm, low warning, low alarm].
// Lead-acid: equalize/boost 2.35–2.40 V/cell is the top of normal charging (battery-science.md
// §1.1 Narada 14.1 V/block); end of discharge 1.75 V/cell (chemistry table), warning at 1.85.
struct CellLimits {
  double high_warning_v;
  double high_alarm_v;
  double low_warning_v;
  double low_alarm_v;
};

CellLimits cellLimits(model::Chemistry c) {
  switch (c) {
    case model::Chemistry::kVrla12V:
    case model::Chemistry::kVrla2V:
    case model::Chemistry::kVented2V:
      return {2.35, 2.40, 1.85, 1.75};
    case model::Chemistry::kLiFePO4:
      return {3.55, 3.65, 2.90, 2.70};
    case model::Chemistry::kNiCd:
      return {1.50, 1.55, 1.05, 1.00};
  }
  return {2.35, 2.40, 1.85, 1.75};
}

// Ri·C is nearly constant within a chemistry: a 12 V 100 Ah VRLA block has 4.9 mΩ (Leoch,
// battery-science.md §2.5), i.e. 0.082 Ω·Ah per cell; LiFePO4 0.3–0.5 mΩ at 100 Ah, NiCd 0.5–1 mΩ
// (§6.4).
double expectedRiMohm(const model::StringConfig& s) {
  const auto& chem = model::chemistryInfo(s.chemistry);
  double ohm_ah_per_cell = 0.082;
  if (s.chemistry == model::Chemistry::kLiFePO4) {
    ohm_ah_per_cell = 0.04;
  } else if (s.chemistry == model::Chemistry::kNiCd) {
    ohm_ah_per_cell = 0.075;
  }
  return ohm_ah_per_cell * chem.cells_per_block / s.capacity_ah * 1000.0;
}

Rule rule(std::string id, PointId point, Direction dir, double warning, double alarm,
          double hysteresis, DurationMs on_ms, DurationMs off_ms, std::string quantity,
          std::string unit, int decimals) {
  Rule r;
  r.id = std::move(id);
  r.point = point;
  r.direction = dir;
  r.warning = warning;
  r.alarm = alarm;
  r.hysteresis = hysteresis;
  r.on_delay_ms = on_ms;
  r.off_delay_ms = off_ms;
  r.quantity = std::move(quantity);
  r.unit = std::move(unit);
  r.decimals = decimals;
  return r;
}

std::string where(int s, int b) {
  if (s == 0) {
    return "System";
  }
  return b == 0 ? fmt::format("String {}", s) : fmt::format("String {}, block {}", s, b);
}

bool beyond(const Rule& r, double v, double threshold) {
  return r.direction == Direction::kHigh ? v >= threshold : v <= threshold;
}

bool stillBeyond(const Rule& r, double v, double threshold) {
  return r.direction == Direction::kHigh ? v > threshold - r.hysteresis
                                         : v < threshold + r.hysteresis;
}

}  // namespace

std::string_view levelName(Level l) {
  switch (l) {
    case Level::kNone:
      return "none";
    case Level::kWarning:
      return "warning";
    case Level::kAlarm:
      return "alarm";
  }
  return "none";
}

std::vector<Rule> defaultRules(const model::StringConfig& s) {
  const auto& chem = model::chemistryInfo(s.chemistry);
  const double cells = chem.cells_per_block;
  const double n = s.block_count;
  const auto lim = cellLimits(s.chemistry);
  const double ri = expectedRiMohm(s);
  const double c = s.capacity_ah;
  std::vector<Rule> rules = {
      rule("block.voltage_high", PointId::kBlockVoltageV, Direction::kHigh,
           lim.high_warning_v * cells, lim.high_alarm_v * cells, 0.01 * cells, kMinuteMs, kMinuteMs,
           "voltage", "V", 3),
      rule("block.voltage_low", PointId::kBlockVoltageV, Direction::kLow, lim.low_warning_v * cells,
           lim.low_alarm_v * cells, 0.02 * cells, 10 * kSecondMs, kMinuteMs, "voltage", "V", 3),
      rule("block.temperature_high", PointId::kBlockTemperatureC, Direction::kHigh, 35.0, 45.0, 1.0,
           kMinuteMs, 5 * kMinuteMs, "temperature", "°C", 1),
      rule("block.temperature_low", PointId::kBlockTemperatureC, Direction::kLow, 5.0, 0.0, 1.0,
           kMinuteMs, 5 * kMinuteMs, "temperature", "°C", 1),
      // +50 % / +100 % over the expected value of a new block (warranty limit +50 %, BU).
      rule("block.ri_high", PointId::kBlockRiMohm, Direction::kHigh, 1.5 * ri, 2.0 * ri, 0.05 * ri,
           10 * kMinuteMs, 10 * kMinuteMs, "internal resistance", "mΩ", 2),
      // Rise against the block's own baseline: +20 % is the failure indicator of IEEE 1188
      // practice (Fluke), +50 % the usual warranty limit (battery-science.md §3.1).
      // At 25 °C, the median of the last 6 hours (analysis/health.hpp): a cold night is no rise.
      rule("block.ri_rise", PointId::kBlockRiRise25cPct, Direction::kHigh, 20.0, 50.0, 3.0,
           10 * kMinuteMs, kHourMs, "internal resistance rise at 25 °C vs baseline", "%", 1),
      // IEEE 450 / 1188 (analysis/health.hpp): degraded below 90 % SOH (or 10 points below its
      // best), replace below 80 %. A block whose health is unknown raises nothing.
      rule("block.health", PointId::kBlockHealthState, Direction::kHigh, 1.0, 2.0, 0.5, kMinuteMs,
           kMinuteMs, "health state", "", 0),
      // The weak-block early warning: SOH expected at 80 % within a year (evidence in the log).
      rule("block.weak", PointId::kBlockWeakWarning, Direction::kHigh, 1.0, 2.0, 0.5, kMinuteMs,
           kMinuteMs, "health outlook", "", 0),
      // A module at full bypass for hours cannot hold its block at target.
      rule("block.equalization_high", PointId::kBlockEqualizationPct, Direction::kHigh, 95.0, 100.0,
           10.0, 6 * kHourMs, kHourMs, "equalization", "%", 0),
      rule("string.voltage_high", PointId::kStringVoltageV, Direction::kHigh,
           lim.high_warning_v * cells * n, lim.high_alarm_v * cells * n, 0.01 * cells * n,
           kMinuteMs, kMinuteMs, "string voltage", "V", 1),
      rule("string.voltage_low", PointId::kStringVoltageV, Direction::kLow,
           lim.low_warning_v * cells * n, lim.low_alarm_v * cells * n, 0.02 * cells * n,
           10 * kSecondMs, kMinuteMs, "string voltage", "V", 1),
      // Deviation between blocks (the ± spread): 0.08 / 0.17 V per cell (0.5 / 1.0 V per 12 V
      // block); 30 min on-delay so a recharge transient does not raise it.
      rule("string.deviation_high", PointId::kStringBlockVoltageSpreadV, Direction::kHigh,
           0.083 * cells, 0.167 * cells, 0.01 * cells, 30 * kMinuteMs, 10 * kMinuteMs,
           "block voltage deviation", "V", 3),
      // Discharge current beyond C/2 and charge current beyond C/5.
      rule("string.discharge_current_high", PointId::kStringCurrentA, Direction::kLow, -0.5 * c,
           -1.0 * c, 0.02 * c, 10 * kSecondMs, kMinuteMs, "current", "A", 1),
      rule("string.charge_current_high", PointId::kStringCurrentA, Direction::kHigh, 0.2 * c,
           0.3 * c, 0.01 * c, kMinuteMs, kMinuteMs, "current", "A", 1),
      // Charger supervision: the string voltage in float against the configured, compensated
      // set-point. +2 % is past any compensation or probe error (0.13 %/K); +5 % is the
      // charger fault of the runaway recipe (battery-science.md §6.4). Below −2 % in float the
      // string is undercharged (sulfation).
      rule("string.charger_voltage_high", PointId::kStringChargerDeviationPct, Direction::kHigh,
           2.0, 5.0, 0.5, 10 * kMinuteMs, 5 * kMinuteMs, "charger voltage deviation", "%", 1),
      rule("string.charger_voltage_low", PointId::kStringChargerDeviationPct, Direction::kLow, -2.0,
           -5.0, 0.5, 30 * kMinuteMs, 5 * kMinuteMs, "charger voltage deviation", "%", 1),
      // AC ripple: lead-acid manufacturers ask for < 5 % of C (RMS).
      rule("string.ripple_high", PointId::kStringAcCurrentA, Direction::kHigh, 0.05 * c, 0.1 * c,
           0.005 * c, 10 * kMinuteMs, 10 * kMinuteMs, "AC ripple current", "A", 2),
  };
  // Electrolyte level sensor (vented lead-acid / NiCd pilot cell): 1 = warning, 2 = alarm.
  rules.push_back(rule("string.electrolyte_low", PointId::kStringElectrolyteLevel, Direction::kHigh,
                       1, 2, 0.5, kMinuteMs, kMinuteMs, "electrolyte level", "", 0));
  Rule comm = rule("block.comm_lost", PointId::kBlockVoltageV, Direction::kHigh, 1, 1, 0, 0, 0,
                   "module communication", "", 0);
  comm.source = Source::kCommLost;
  rules.push_back(comm);
  // A module that answers with values outside its measuring range (broken sense lead, module
  // fault): its readings are invalid, so no measurement alarm can see the block.
  Rule fault = rule("block.module_fault", PointId::kBlockVoltageV, Direction::kHigh, 1, 1, 0,
                    kMinuteMs, kMinuteMs, "module measurement", "", 0);
  fault.source = Source::kInvalid;
  rules.push_back(fault);
  return rules;
}

std::vector<Rule> defaultSystemRules() {
  return {
      rule("system.ambient_high", PointId::kSystemAmbientTemperatureC, Direction::kHigh, 30.0, 35.0,
           1.0, 5 * kMinuteMs, 5 * kMinuteMs, "ambient temperature", "°C", 1),
      rule("system.ambient_low", PointId::kSystemAmbientTemperatureC, Direction::kLow, 10.0, 5.0,
           1.0, 5 * kMinuteMs, 5 * kMinuteMs, "ambient temperature", "°C", 1),
      // Condensation risk on terminals and electronics above ~80 % RH.
      rule("system.humidity_high", PointId::kSystemHumidityPct, Direction::kHigh, 80.0, 90.0, 3.0,
           10 * kMinuteMs, 10 * kMinuteMs, "relative humidity", "%", 1),
      // Hydrogen: LEL 4 % by volume; 1 % pre-alarm (ventilation), 2 % alarm (EN IEC 62485-2).
      rule("system.hydrogen_high", PointId::kSystemHydrogenPct, Direction::kHigh, 1.0, 2.0, 0.1,
           10 * kSecondMs, kMinuteMs, "hydrogen concentration", "% vol", 2),
  };
}

Status validateRule(const Rule& r) {
  // Thresholds derived per cell (2.40 V × 6 = 14.399999…) equal a typed 14.4: compare with a
  // tolerance far below any display resolution.
  const double tolerance = 1e-9 * std::max(1.0, std::abs(r.alarm));
  const bool ordered = r.direction == Direction::kHigh ? r.warning <= r.alarm + tolerance
                                                       : r.warning >= r.alarm - tolerance;
  if (!ordered) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("rule {}: warning {:.6g} must be {} alarm {:.6g}", r.id, r.warning,
                                 r.direction == Direction::kHigh ? "≤" : "≥", r.alarm));
  }
  if (r.hysteresis < 0 || r.on_delay_ms < 0 || r.off_delay_ms < 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("rule {}: hysteresis and delays must not be negative", r.id));
  }
  return {};
}

RuleTable defaultRuleTable(const model::PlantConfig& plant) {
  RuleTable t;
  for (const auto& s : plant.strings) {
    t.strings.push_back(defaultRules(s));
  }
  t.system = defaultSystemRules();
  return t;
}

std::vector<std::string> ruleIds() {
  model::StringConfig s;
  std::vector<std::string> ids;
  for (const auto& r : defaultRules(s)) {
    ids.push_back(r.id);
  }
  for (const auto& r : defaultSystemRules()) {
    ids.push_back(r.id);
  }
  return ids;
}

namespace {

void applyOne(Rule& r, const model::AlarmRuleOverride& o, const std::string& origin) {
  r.enabled = o.enabled.value_or(r.enabled);
  r.warning = o.warning.value_or(r.warning);
  r.alarm = o.alarm.value_or(r.alarm);
  r.hysteresis = o.hysteresis.value_or(r.hysteresis);
  r.on_delay_ms = o.on_delay_ms.value_or(r.on_delay_ms);
  r.off_delay_ms = o.off_delay_ms.value_or(r.off_delay_ms);
  r.origin = origin;
}

}  // namespace

Status applyOverrides(RuleTable& table, const std::vector<model::AlarmRuleOverride>& overrides,
                      const std::string& origin, std::size_t string_count) {
  RuleTable out = table;
  for (const auto& o : overrides) {
    const std::string what = o.string_number == 0
                                 ? fmt::format("rule {}", o.rule_id)
                                 : fmt::format("rule {} of string {}", o.rule_id, o.string_number);
    if (o.string_number < 0 || static_cast<std::size_t>(o.string_number) > string_count) {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: string {} does not exist (1…{})", what, o.string_number, string_count));
    }
    bool matched = false;
    auto touch = [&](std::vector<Rule>& rules) -> Status {
      for (auto& r : rules) {
        if (r.id != o.rule_id) {
          continue;
        }
        matched = true;
        applyOne(r, o, origin);
        if (auto st = validateRule(r); !st) {
          return makeError(ErrorCode::kInvalidArgument,
                           o.string_number == 0
                               ? st.error().message
                               : fmt::format("string {}: {}", o.string_number, st.error().message));
        }
      }
      return {};
    };
    for (std::size_t s = 0; s < out.strings.size(); ++s) {
      if (o.string_number == 0 || static_cast<std::size_t>(o.string_number) == s + 1) {
        if (auto st = touch(out.strings[s]); !st) {
          return st;
        }
      }
    }
    if (o.string_number == 0) {
      if (auto st = touch(out.system); !st) {
        return st;
      }
    }
    if (!matched) {
      const auto ids = ruleIds();
      const auto guess = text::closest(o.rule_id, ids);
      return makeError(
          ErrorCode::kNotFound,
          fmt::format("{}: no such rule{} (rules: {})", what,
                      guess ? fmt::format(", did you mean '{}'?", *guess) : "", text::joined(ids)));
    }
  }
  table = std::move(out);
  return {};
}

Engine::Engine(const model::PlantConfig& plant) : plant_(plant) {
  base_ = defaultRuleTable(plant);
  // The configuration loader validated these overrides with the same function.
  (void)applyOverrides(base_, plant.alarms.overrides, "config", plant.strings.size());
  for (std::size_t si = 0; si < plant.strings.size(); ++si) {
    const auto& s = plant.strings[si];
    string_rules_.push_back(base_.strings[si]);
    std::vector<std::vector<Instance>> per_rule;
    for (const auto& r : string_rules_.back()) {
      const bool per_block = model::point(r.point).scope == model::Scope::kBlock;
      per_rule.emplace_back(per_block ? static_cast<std::size_t>(s.block_count) : 1u);
    }
    instances_.push_back(std::move(per_rule));
  }
  system_rules_ = base_.system;
  system_instances_.resize(system_rules_.size());
}

Status Engine::setRuntimeOverrides(std::vector<model::AlarmRuleOverride> overrides) {
  RuleTable table = base_;
  if (auto st = applyOverrides(table, overrides, "api", plant_.strings.size()); !st) {
    return st;
  }
  string_rules_ = std::move(table.strings);
  system_rules_ = std::move(table.system);
  runtime_ = std::move(overrides);
  return {};
}

Status Engine::setConfigOverrides(const std::vector<model::AlarmRuleOverride>& overrides) {
  RuleTable base = defaultRuleTable(plant_);
  if (auto st = applyOverrides(base, overrides, "config", plant_.strings.size()); !st) {
    return st;
  }
  RuleTable table = base;
  if (auto st = applyOverrides(table, runtime_, "api", plant_.strings.size()); !st) {
    return makeError(st.error().code,
                     fmt::format("the alarm rule changes made at run time do not fit the new "
                                 "configuration: {}",
                                 st.error().message));
  }
  base_ = std::move(base);
  string_rules_ = std::move(table.strings);
  system_rules_ = std::move(table.system);
  return {};
}

void Engine::setInputRules(const std::vector<InputRule>& rules) {
  std::vector<Rule> out;
  std::vector<int> strings;
  std::vector<Instance> instances;
  for (const auto& in : rules) {
    Rule r;
    r.id = "input." + in.channel_id;
    r.point = PointId::kSystemStringCount;  // not read: inputs come through evaluateInputs()
    r.source = Source::kInput;
    r.direction = Direction::kHigh;
    r.warning = 1;
    r.alarm = in.level == Level::kAlarm ? 1 : 2;
    r.hysteresis = 0.5;
    r.on_delay_ms = in.on_delay_ms;
    r.off_delay_ms = in.off_delay_ms;
    r.quantity = in.name;
    // What the alarm state is called in messages.
    r.unit = in.alarm_when ? "active" : (in.string_number > 0 ? "breaker open" : "inactive");
    r.decimals = 0;
    r.input_alarm_when = in.alarm_when;
    r.origin = "config";
    Instance inst;
    for (std::size_t k = 0; k < input_rules_.size(); ++k) {
      if (input_rules_[k].id == r.id) {
        inst = std::move(input_instances_[k]);
      }
    }
    out.push_back(std::move(r));
    strings.push_back(in.string_number);
    instances.push_back(std::move(inst));
  }
  input_rules_ = std::move(out);
  input_strings_ = std::move(strings);
  input_instances_ = std::move(instances);
}

std::vector<AlarmEvent> Engine::evaluateInputs(const std::vector<InputSample>& inputs,
                                               TimeMs now_ms) {
  std::vector<AlarmEvent> events;
  for (std::size_t k = 0; k < input_rules_.size(); ++k) {
    const auto& rule = input_rules_[k];
    for (const auto& in : inputs) {
      if ("input." + in.channel_id != rule.id) {
        continue;
      }
      state::Sample s = in.sample;
      if (s.quality == model::Quality::kOk && std::isfinite(s.value)) {
        const bool alarm_state = (s.value >= 0.5) == rule.input_alarm_when;
        s.value = alarm_state ? 1.0 : 0.0;
      }
      step(rule, input_instances_[k], s, input_strings_[k], 0, now_ms, events);
    }
  }
  return events;
}

Engine::Counts Engine::counts() const {
  Counts c;
  for (const auto& a : active()) {
    if (a.shelved) {
      ++c.shelved;
      continue;
    }
    (a.level == Level::kAlarm ? c.alarm : c.warning) += 1;
    c.unacknowledged += a.acknowledged ? 0 : 1;
  }
  return c;
}

void Engine::step(const Rule& rule, Instance& inst, const state::Sample& sample, int s, int b,
                  TimeMs now_ms, std::vector<AlarmEvent>& events) {
  if (!rule.enabled) {
    if (inst.level != Level::kNone) {
      inst.level = Level::kNone;
      inst.pending = Level::kNone;
      auto& a = *inst.alarm;
      a.level = Level::kNone;
      a.changed_ms = now_ms;
      a.message = fmt::format("{}: {} alarm cleared (rule {} disabled)", where(s, b), rule.quantity,
                              rule.id);
      events.push_back({now_ms, "cleared", a});
      decorate(events.back().alarm);
    }
    return;
  }
  double v = sample.value;
  if (rule.source == Source::kCommLost) {
    if (sample.quality == model::Quality::kNotPresent) {
      return;
    }
    v = sample.quality == model::Quality::kCommLost ? 1.0 : 0.0;
  } else if (rule.source == Source::kInvalid) {
    if (sample.quality != model::Quality::kOk && sample.quality != model::Quality::kInvalid) {
      return;  // no answer: comm_lost's business
    }
    v = sample.quality == model::Quality::kInvalid ? 1.0 : 0.0;
  } else if (sample.quality != model::Quality::kOk || !std::isfinite(v)) {
    return;  // no alarm is raised (or cleared) from missing or stale data
  }

  Level target = Level::kNone;
  if (beyond(rule, v, rule.alarm) ||
      (inst.level == Level::kAlarm && stillBeyond(rule, v, rule.alarm))) {
    target = Level::kAlarm;
  } else if (beyond(rule, v, rule.warning) ||
             (inst.level >= Level::kWarning && stillBeyond(rule, v, rule.warning))) {
    target = Level::kWarning;
  }
  if ((rule.source == Source::kCommLost || rule.source == Source::kInvalid) &&
      target != Level::kNone) {
    target = Level::kAlarm;
  }
  if (target == inst.level) {
    inst.pending = inst.level;
    return;
  }
  if (target != inst.pending) {
    inst.pending = target;
    inst.pending_since_ms = now_ms;
  }
  const DurationMs delay = target > inst.level ? rule.on_delay_ms : rule.off_delay_ms;
  if (now_ms - inst.pending_since_ms < delay) {
    return;
  }

  const Level before = inst.level;
  inst.level = target;
  if (!inst.alarm) {
    inst.alarm = std::make_unique<ActiveAlarm>();
  }
  auto& a = *inst.alarm;
  a.rule_id = rule.id;
  a.string_number = s;
  a.block_number = b;
  a.key = fmt::format("{}/{}/{}", rule.id, s, b);
  a.value = v;
  a.changed_ms = now_ms;
  if (before == Level::kNone) {
    a.id = next_id_++;
    a.raised_ms = now_ms;
    a.acknowledged = false;
  }
  a.level = target;
  a.threshold = target == Level::kAlarm ? rule.alarm : rule.warning;
  std::string kind;
  if (rule.source == Source::kCommLost) {
    a.message = target == Level::kNone
                    ? fmt::format("{}: module answers again", where(s, b))
                    : fmt::format("{}: module does not answer (comm lost); its values are stale",
                                  where(s, b));
  } else if (rule.source == Source::kInvalid) {
    a.message = target == Level::kNone
                    ? fmt::format("{}: module readings valid again", where(s, b))
                    : fmt::format(
                          "{}: module reports values outside its measuring range "
                          "(module or sense-lead fault); its readings are invalid",
                          where(s, b));
  } else if (rule.source == Source::kInput) {
    const std::string channel = rule.id.substr(std::string_view("input.").size());
    a.message =
        target == Level::kNone
            ? fmt::format("{}: input {} ({}) back to normal", where(s, b), channel, rule.quantity)
            : fmt::format("{}: input {} ({}) {} ({})", where(s, b), channel, rule.quantity,
                          rule.unit, levelName(target));
  } else if (model::point(rule.point).type == model::PointType::kEnum) {
    a.message = fmt::format(
        "{}: {} is {}{}", where(s, b), rule.quantity,
        model::enumName(rule.point, static_cast<int>(std::lround(v))),
        target == Level::kNone ? " (back to normal)" : fmt::format(" ({})", levelName(target)));
  } else if (target == Level::kNone) {
    a.message = fmt::format("{}: {} back to normal ({:.{}f} {})", where(s, b), rule.quantity, v,
                            rule.decimals, rule.unit);
  } else {
    a.message = fmt::format("{}: {} {:.{}f} {} {} {} threshold {:.{}f} {}", where(s, b),
                            rule.quantity, v, rule.decimals, rule.unit,
                            rule.direction == Direction::kHigh ? "above" : "below",
                            levelName(target), a.threshold, rule.decimals, rule.unit);
  }
  if (target == Level::kNone) {
    kind = "cleared";
  } else if (before == Level::kNone) {
    kind = "raised";
  } else {
    kind = target > before ? "escalated" : "lowered";
  }
  events.push_back({now_ms, kind, a});
  decorate(events.back().alarm);
}

std::vector<AlarmEvent> Engine::evaluate(const state::StateStore::Reader& r, TimeMs now_ms) {
  std::vector<AlarmEvent> events = expireShelves(now_ms);
  for (std::size_t s = 0; s < string_rules_.size(); ++s) {
    for (std::size_t k = 0; k < string_rules_[s].size(); ++k) {
      const auto& rule = string_rules_[s][k];
      auto& inst = instances_[s][k];
      const bool per_block =
          inst.size() > 1 || model::point(rule.point).scope == model::Scope::kBlock;
      for (std::size_t b = 0; b < inst.size(); ++b) {
        step(rule, inst[b], r.get(rule.point, s, b), static_cast<int>(s) + 1,
             per_block ? static_cast<int>(b) + 1 : 0, now_ms, events);
      }
    }
  }
  for (std::size_t k = 0; k < system_rules_.size(); ++k) {
    step(system_rules_[k], system_instances_[k], r.get(system_rules_[k].point), 0, 0, now_ms,
         events);
  }
  return events;
}

std::vector<ActiveAlarm> Engine::active() const {
  std::vector<ActiveAlarm> out;
  auto collect = [&](const Instance& i) {
    if (i.level != Level::kNone) {
      out.push_back(*i.alarm);
      decorate(out.back());
    }
  };
  for (const auto& per_string : instances_) {
    for (const auto& per_rule : per_string) {
      for (const auto& inst : per_rule) {
        collect(inst);
      }
    }
  }
  for (const auto& inst : system_instances_) {
    collect(inst);
  }
  for (const auto& inst : input_instances_) {
    collect(inst);
  }
  std::sort(out.begin(), out.end(), [](const ActiveAlarm& a, const ActiveAlarm& b) {
    return a.level != b.level ? a.level > b.level : a.raised_ms < b.raised_ms;
  });
  return out;
}

void Engine::blockLevels(std::size_t s, std::vector<Level>& out) const {
  out.assign(out.size(), Level::kNone);
  for (std::size_t k = 0; k < string_rules_.at(s).size(); ++k) {
    if (model::point(string_rules_[s][k].point).scope != model::Scope::kBlock) {
      continue;
    }
    const auto& inst = instances_[s][k];
    const std::size_t n = std::min(inst.size(), out.size());
    for (std::size_t b = 0; b < n; ++b) {
      if (!isShelved(inst[b])) {  // a shelved alarm does not colour its block
        out[b] = std::max(out[b], inst[b].level);
      }
    }
  }
}

Level Engine::blockLevel(std::size_t s, std::size_t b) const {
  Level worst = Level::kNone;
  for (std::size_t k = 0; k < string_rules_.at(s).size(); ++k) {
    const auto& inst = instances_[s][k];
    if (inst.size() > b && model::point(string_rules_[s][k].point).scope == model::Scope::kBlock &&
        !isShelved(inst[b])) {
      worst = std::max(worst, inst[b].level);
    }
  }
  return worst;
}

Engine::Instance* Engine::find(const std::string& key, bool active_only) {
  auto match = [&](Instance& i) {
    return i.alarm && (!active_only || i.level != Level::kNone) && i.alarm->key == key;
  };
  for (auto& per_string : instances_) {
    for (auto& per_rule : per_string) {
      for (auto& inst : per_rule) {
        if (match(inst)) {
          return &inst;
        }
      }
    }
  }
  for (auto* list : {&system_instances_, &input_instances_}) {
    for (auto& inst : *list) {
      if (match(inst)) {
        return &inst;
      }
    }
  }
  return nullptr;
}

Result<AlarmEvent> Engine::acknowledge(const std::string& key, TimeMs now_ms) {
  Instance* hit = find(key, true);
  if (hit == nullptr) {
    return makeError(ErrorCode::kNotFound, fmt::format("no active alarm '{}'", key));
  }
  hit->alarm->acknowledged = true;
  AlarmEvent e{now_ms, "acknowledged", *hit->alarm};  // the event's kind says what happened
  decorate(e.alarm);
  return e;
}

// ------------------------------------------------------------------------------------ shelving

std::string shelveDurationText(DurationMs d) {
  if (d != 0 && d % kDayMs == 0) {
    return fmt::format("{} d", d / kDayMs);
  }
  if (d != 0 && d % kHourMs == 0) {
    return fmt::format("{} h", d / kHourMs);
  }
  if (d % kMinuteMs == 0) {
    return fmt::format("{} min", d / kMinuteMs);
  }
  if (d % kSecondMs == 0) {
    return fmt::format("{} s", d / kSecondMs);
  }
  return fmt::format("{} ms", d);
}

Status checkShelveDuration(DurationMs d) {
  if (d < kShelveMinMs) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("shelf time {} is shorter than the shortest, {}",
                                 shelveDurationText(d), shelveDurationText(kShelveMinMs)));
  }
  if (d > kShelveMaxMs) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("shelf time {} is longer than the longest, {} ({} min)", shelveDurationText(d),
                    shelveDurationText(kShelveMaxMs), kShelveMaxMs / kMinuteMs));
  }
  return {};
}

namespace {

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

Status checkShelveReason(std::string_view reason) {
  const auto text = trimmed(reason);
  if (text.empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("a reason is required (1–{} characters): why is the alarm "
                                 "shelved?",
                                 kShelveReasonMaxChars));
  }
  std::size_t chars = 0;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return makeError(ErrorCode::kInvalidArgument,
                       "the reason must be one line without control characters");
    }
    chars += (u & 0xC0) != 0x80 ? 1 : 0;  // UTF-8: count lead bytes, not continuation bytes
  }
  if (chars > kShelveReasonMaxChars) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("the reason has {} characters; at most {}", chars, kShelveReasonMaxChars));
  }
  return {};
}

void Engine::decorate(ActiveAlarm& a) const {
  const auto it = shelves_.empty() ? shelves_.end() : shelves_.find(a.key);
  if (it == shelves_.end()) {
    a.shelved = false;
    a.shelved_ms = 0;
    a.shelved_until_ms = 0;
    a.shelve_reason.clear();
    a.shelved_by.clear();
    return;
  }
  a.shelved = true;
  a.shelved_ms = it->second.since_ms;
  a.shelved_until_ms = it->second.until_ms;
  a.shelve_reason = it->second.reason;
  a.shelved_by = it->second.user;
}

Result<AlarmEvent> Engine::shelve(const std::string& key, TimeMs until_ms,
                                  const std::string& reason, const std::string& user,
                                  TimeMs now_ms) {
  Instance* hit = find(key, true);
  if (hit == nullptr) {
    return makeError(ErrorCode::kNotFound, fmt::format("no active alarm '{}'", key));
  }
  if (auto st = checkShelveDuration(until_ms - now_ms); !st) {
    return st.error();
  }
  if (auto st = checkShelveReason(reason); !st) {
    return st.error();
  }
  shelves_[key] = Shelf{now_ms, until_ms, std::string(trimmed(reason)), user};
  AlarmEvent e{now_ms, "shelved", *hit->alarm};
  decorate(e.alarm);
  return e;
}

Result<AlarmEvent> Engine::unshelve(const std::string& key, TimeMs now_ms) {
  if (shelves_.erase(key) == 0) {
    return makeError(ErrorCode::kNotFound, fmt::format("alarm '{}' is not shelved", key));
  }
  AlarmEvent e{now_ms, "unshelved", {}};
  if (const Instance* inst = find(key, false)) {
    e.alarm = *inst->alarm;
  } else {
    e.alarm.key = key;  // its rule is gone (an input rule removed by a reload)
  }
  decorate(e.alarm);
  return e;
}

std::vector<AlarmEvent> Engine::expireShelves(TimeMs now_ms) {
  std::vector<AlarmEvent> events;
  for (auto it = shelves_.begin(); it != shelves_.end();) {
    if (it->second.until_ms > now_ms) {
      ++it;
      continue;
    }
    AlarmEvent e{now_ms, "shelf_expired", {}};
    if (const Instance* inst = find(it->first, false)) {
      e.alarm = *inst->alarm;
    } else {
      e.alarm.key = it->first;
    }
    it = shelves_.erase(it);
    decorate(e.alarm);
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace equalis::alarms
