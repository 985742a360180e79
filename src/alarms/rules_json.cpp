#include "alarms/rules_json.hpp"

#include <cmath>

#include <fmt/format.h>

namespace equalis::alarms {

using json = nlohmann::ordered_json;

namespace {

constexpr double kMaxDelayS = 7.0 * 86400.0;

// 6 significant digits: 14.100000000000001 (0.01 × 6 cells × 2.35) reads 14.1.
double readable(double v) {
  return std::stod(fmt::format("{:.6g}", v));
}

double seconds(DurationMs ms) {
  return static_cast<double>(ms) / 1000.0;
}

Error badKey(const std::string& key, const std::string& why) {
  return makeError(ErrorCode::kInvalidArgument, fmt::format("{}: {}", key, why));
}

}  // namespace

json ruleJson(const Rule& r) {
  return json{{"id", r.id},
              {"point", std::string(model::point(r.point).name)},
              {"direction", r.direction == Direction::kHigh ? "high" : "low"},
              {"warning", readable(r.warning)},
              {"alarm", readable(r.alarm)},
              {"hysteresis", readable(r.hysteresis)},
              {"on_delay_s", seconds(r.on_delay_ms)},
              {"off_delay_s", seconds(r.off_delay_ms)},
              {"enabled", r.enabled},
              {"unit", r.unit},
              {"origin", r.origin}};
}

Result<model::AlarmRuleOverride> overrideFromJson(const json& j, bool with_target) {
  if (!j.is_object()) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("expected a JSON object, got {}", j.type_name()));
  }
  model::AlarmRuleOverride o;
  for (const auto& [key, value] : j.items()) {
    if (key == "enabled") {
      if (!value.is_boolean()) {
        return badKey(key, fmt::format("expected true or false, got {}", value.dump()));
      }
      o.enabled = value.get<bool>();
    } else if (key == "warning" || key == "alarm" || key == "hysteresis" || key == "on_delay_s" ||
               key == "off_delay_s") {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        return badKey(key, fmt::format("expected a number, got {}", value.dump()));
      }
      const double v = value.get<double>();
      if (key == "warning") {
        o.warning = v;
      } else if (key == "alarm") {
        o.alarm = v;
      } else if (key == "hysteresis") {
        if (v < 0) {
          return badKey(key, fmt::format("must not be negative, got {}", v));
        }
        o.hysteresis = v;
      } else {
        if (v < 0 || v > kMaxDelayS) {
          return badKey(key, fmt::format("must be between 0 and {} s, got {}", kMaxDelayS, v));
        }
        (key == "on_delay_s" ? o.on_delay_ms : o.off_delay_ms) =
            static_cast<DurationMs>(std::llround(v * 1000.0));
      }
    } else if (with_target && key == "rule") {
      if (!value.is_string()) {
        return badKey(key, fmt::format("expected a rule id, got {}", value.dump()));
      }
      o.rule_id = value.get<std::string>();
    } else if (with_target && key == "string") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
        return badKey(key, fmt::format("expected a string number (0 = all), got {}", value.dump()));
      }
      o.string_number = value.get<int>();
    } else {
      return badKey(key,
                    "unknown key (known: enabled, warning, alarm, hysteresis, on_delay_s, "
                    "off_delay_s)");
    }
  }
  return o;
}

json overrideJson(const model::AlarmRuleOverride& o) {
  json j{{"rule", o.rule_id}, {"string", o.string_number}};
  if (o.enabled) {
    j["enabled"] = *o.enabled;
  }
  if (o.warning) {
    j["warning"] = *o.warning;
  }
  if (o.alarm) {
    j["alarm"] = *o.alarm;
  }
  if (o.hysteresis) {
    j["hysteresis"] = *o.hysteresis;
  }
  if (o.on_delay_ms) {
    j["on_delay_s"] = seconds(*o.on_delay_ms);
  }
  if (o.off_delay_ms) {
    j["off_delay_s"] = seconds(*o.off_delay_ms);
  }
  return j;
}

std::string overridesFileText(const std::vector<model::AlarmRuleOverride>& overrides) {
  json arr = json::array();
  for (const auto& o : overrides) {
    arr.push_back(overrideJson(o));
  }
  return json{{"version", 1}, {"overrides", std::move(arr)}}.dump(2) + "\n";
}

Result<std::vector<model::AlarmRuleOverride>> parseOverridesFile(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("overrides") ||
      !j["overrides"].is_array()) {
    return makeError(ErrorCode::kInvalidArgument,
                     "not an alarm rule overrides file ({\"version\": 1, \"overrides\": [...]})");
  }
  std::vector<model::AlarmRuleOverride> out;
  int index = 0;
  for (const auto& item : j["overrides"]) {
    ++index;
    auto o = overrideFromJson(item, true);
    if (!o) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("overrides[{}].{}", index, o.error().message));
    }
    if (o->rule_id.empty()) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("overrides[{}]: rule is missing", index));
    }
    out.push_back(std::move(*o));
  }
  return out;
}

}  // namespace equalis::alarms
