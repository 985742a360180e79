#include <algorithm>

#include <fmt/format.h>

#include "alarms/alarms.hpp"
#include "config/readers.hpp"

namespace equalis::config::detail {

namespace {

constexpr double kMaxDelayS = 7.0 * 86400.0;

}  // namespace

void readAlarms(Context& ctx, Section& top, model::PlantConfig& plant) {
  Section a = top.child("alarms");
  model::AlarmsConfig& cfg = plant.alarms;
  if (const auto v = a.integer("ri_baseline_samples", 1, 1000)) {
    cfg.ri_baseline_samples = static_cast<int>(*v);
  }
  if (const auto v = a.number("ri_baseline_interval_s", 10.0, 7.0 * 86400.0, "s")) {
    cfg.ri_baseline_interval_ms = toMs(*v);
  }
  if (const auto v = a.number("ri_baseline_delay_days", 0.0, 3650.0, "days")) {
    cfg.ri_baseline_delay_ms = toMs(*v * 86400.0);
  }
  const auto string_count = static_cast<std::int64_t>(plant.strings.size());
  forEachTable(ctx, a, "rule", [&](Section& r, int /*index*/) {
    model::AlarmRuleOverride o;
    const auto id = r.string("id");
    if (!id && !r.rejected("id")) {
      r.issue("id", fmt::format("missing: the rule to change (one of {})",
                                text::joined(alarms::ruleIds())));
    }
    o.rule_id = id.value_or("");
    if (const auto s = r.integer("string", 1, std::max<std::int64_t>(string_count, 1))) {
      o.string_number = static_cast<int>(*s);
    }
    o.enabled = r.boolean("enabled");
    o.warning = r.number("warning", "");
    o.alarm = r.number("alarm", "");
    o.hysteresis = r.number("hysteresis", 0.0, 1e9, "");
    if (const auto v = r.number("on_delay_s", 0.0, kMaxDelayS, "s")) {
      o.on_delay_ms = toMs(*v);
    }
    if (const auto v = r.number("off_delay_s", 0.0, kMaxDelayS, "s")) {
      o.off_delay_ms = toMs(*v);
    }
    if (o.rule_id.empty()) {
      return;
    }
    const auto ids = alarms::ruleIds();
    if (std::find(ids.begin(), ids.end(), o.rule_id) == ids.end()) {
      r.issue("id", unknownName("alarm rule", o.rule_id, ids));
      return;
    }
    if (plant.strings.empty() || r.rejected("string")) {
      return;  // reported elsewhere; the rule itself cannot be checked without its string
    }
    // Check against the rules this plant will have (rule exists, ordering of the result).
    alarms::RuleTable table = alarms::defaultRuleTable(plant);
    std::vector<model::AlarmRuleOverride> so_far = plant.alarms.overrides;
    so_far.push_back(o);
    if (auto st = alarms::applyOverrides(table, so_far, "config", plant.strings.size()); !st) {
      r.issue(o.warning ? "warning" : (o.alarm ? "alarm" : "id"), st.error().message);
      return;
    }
    plant.alarms.overrides.push_back(std::move(o));
  });
  a.finish();
}

}  // namespace equalis::config::detail
