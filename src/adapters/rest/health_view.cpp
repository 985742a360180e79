#include "adapters/rest/health_view.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"

namespace equalis::rest {

namespace {

using nlohmann::json;

json num(double x, int decimals) {
  if (!std::isfinite(x)) {
    return nullptr;
  }
  const double f = std::pow(10.0, decimals);
  return std::round(x * f) / f + 0.0;  // + 0.0: no negative zero
}

json timeOrNull(TimeMs t_ms) {
  return t_ms > 0 ? json(formatIso8601(t_ms)) : json(nullptr);
}

json trend(const analysis::SenSlope& s, int decimals) {
  if (s.n == 0) {
    return nullptr;
  }
  return {{"per_year", num(s.slope, decimals)},
          {"low", num(s.lo, decimals)},
          {"high", num(s.hi, decimals)},
          {"weeks", s.n}};
}

json blockJson(const analysis::HealthTracker& h, std::size_t b) {
  const auto& v = h.block(b);
  json j{
      {"block", static_cast<int>(b) + 1},
      {"soh_pct", num(v.soh_pct, 1)},
      {"soh_sigma_pct", num(v.soh_sigma_pct, 1)},
      {"state", analysis::healthStateName(v.state)},
      {"components",
       {{"capacity",
         {{"pct", num(v.capacity_soh_pct, 1)},
          {"sigma_pct",
           std::isfinite(v.capacity_soh_pct) ? num(v.capacity_sigma_pct, 1) : json(nullptr)}}},
        {"ri",
         {{"pct", num(v.ri_soh_pct, 1)},
          {"sigma_pct", std::isfinite(v.ri_soh_pct) ? num(v.ri_sigma_pct, 1) : json(nullptr)}}}}},
      {"ri_25c_mohm", num(v.ri25_mohm, 4)},
      {"ri_baseline_25c_mohm", num(v.ri_baseline_25c_mohm, 4)},
      {"ri_rise_25c_pct", num(v.ri_rise_25c_pct, 1)},
      {"float_deviation_mv_per_cell", num(v.float_dev_mv, 1)},
      {"equalization_pct", num(v.effort_pct, 1)},
      {"ageing_factor", num(v.ageing_factor, 3)},
      {"trends",
       {{"soh_pct", trend(v.soh_trend, 2)},
        {"ri_rise_pct", trend(v.ri_trend, 2)},
        {"float_deviation_mv_per_cell", trend(v.float_trend, 2)},
        {"equalization_pct", trend(v.effort_trend, 2)}}},
      {"rul",
       {{"years", num(v.rul_years, 2)},
        {"low_years", num(v.rul_low_years, 2)},
        {"high_years", num(v.rul_high_years, 2)},
        {"basis", v.rul_basis.empty() ? json(nullptr) : json(v.rul_basis)},
        {"at_80_pct", timeOrNull(v.crossing_ms)},
        {"at_80_pct_early", timeOrNull(v.crossing_early_ms)},
        {"at_80_pct_late", timeOrNull(v.crossing_late_ms)}}},
      {"warning", v.warning},
      {"warning_since", timeOrNull(v.warning_since_ms)},
      {"evidence", v.evidence},
      {"weeks", v.weeks}};
  return j;
}

}  // namespace

std::string healthDocument(const analysis::HealthTracker& h, int string_index, TimeMs now_ms) {
  const auto& s = h.summary();
  json blocks = json::array();
  std::vector<std::size_t> order;
  for (std::size_t b = 0; b < h.blockCount(); ++b) {
    blocks.push_back(blockJson(h, b));
    const auto& v = h.block(b);
    if (v.state == analysis::HealthState::kReplace || v.warning ||
        (std::isfinite(v.rul_years) && v.rul_years < 1.0)) {
      order.push_back(b);
    }
  }
  // The replacement list: soonest at 80 % first.
  std::sort(order.begin(), order.end(), [&h](std::size_t a, std::size_t b) {
    const double ra = h.block(a).rul_years;
    const double rb = h.block(b).rul_years;
    return (std::isfinite(ra) ? ra : 1e9) < (std::isfinite(rb) ? rb : 1e9);
  });
  json replace = json::array();
  for (const std::size_t b : order) {
    const auto& v = h.block(b);
    replace.push_back({{"block", static_cast<int>(b) + 1},
                       {"state", analysis::healthStateName(v.state)},
                       {"soh_pct", num(v.soh_pct, 1)},
                       {"rul_years", num(v.rul_years, 2)},
                       {"at_80_pct", timeOrNull(v.crossing_ms)},
                       {"evidence", v.evidence}});
  }
  const json doc{{"string", string_index + 1},
                 {"time", formatIso8601(now_ms)},
                 {"soh_pct", num(s.soh_pct, 1)},
                 {"weakest_block", s.weakest >= 0 ? json(s.weakest + 1) : json(nullptr)},
                 {"rul_years", num(s.rul_years, 2)},
                 {"rul_low_years", num(s.rul_low_years, 2)},
                 {"rul_high_years", num(s.rul_high_years, 2)},
                 {"rul_block", s.rul_block >= 0 ? json(s.rul_block + 1) : json(nullptr)},
                 {"blocks_to_replace", s.blocks_to_replace},
                 {"warnings", s.warnings},
                 {"replacement_list", std::move(replace)},
                 {"blocks", std::move(blocks)}};
  return doc.dump();
}

std::string blockHealthDocument(const analysis::HealthTracker& h, int string_index,
                                std::size_t block_index, TimeMs now_ms) {
  json j = blockJson(h, block_index);
  j["string"] = string_index + 1;
  j["time"] = formatIso8601(now_ms);
  json weeks = json::array();
  for (const auto& w : h.weeks(block_index)) {
    weeks.push_back({{"time", formatIso8601(w.time_ms)},
                     {"ri_25c_mohm", num(w.ri25_mohm, 4)},
                     {"soh_pct", num(w.soh_pct, 1)},
                     {"soh_sigma_pct", num(w.soh_sigma_pct, 1)},
                     {"float_deviation_mv_per_cell", num(w.float_dev_mv, 1)},
                     {"equalization_pct", num(w.effort_pct, 1)}});
  }
  j["history"] = std::move(weeks);
  return j.dump();
}

}  // namespace equalis::rest
