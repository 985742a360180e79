#include "analysis/health.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/hours_in_band.hpp"
#include "analysis/median.hpp"

namespace equalis::analysis {

namespace {

constexpr const char* kFormat = "equalis-health";
constexpr int kFormatVersion = 1;
constexpr double kYearMs = 365.25 * 24.0 * 3600.0 * 1000.0;
constexpr DurationMs kWeekMs = 7 * kDayMs;
constexpr double kTrendSigmaPct = 6.0;  // weekly SOH points this certain make the SOH trend
constexpr double kBestSigmaPct = 5.0;   // … and count for the "10 points below its best" rule
constexpr double kMaxRulYears = 50.0;
constexpr double kZ80 = 1.2816;  // two-sided 80 %
constexpr double kHalvingK = 8.0;
constexpr double kEolPct = 80.0;
constexpr double kDegradedPct = 90.0;
constexpr double kDegradedDropPct = 10.0;
constexpr double kMinLevelSpanMs = 90.0 * 24 * 3600 * 1000;  // two levels give a rate
constexpr double kPriorRateSigma = 0.5;  // of the chemistry's rate: blocks age ×/÷ 2 apart
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

std::string dateText(TimeMs t_ms) {
  return formatIso8601(t_ms).substr(0, 10);  // YYYY-MM-DD
}

Error healthError(const std::string& what) {
  return makeError(ErrorCode::kInvalidArgument, "health: " + what);
}

// JSON has no NaN: it is written as null.
nlohmann::json num(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

std::optional<double> readNum(const nlohmann::json& j) {
  if (j.is_null()) {
    return kNan;
  }
  if (!j.is_number() || !std::isfinite(j.get<double>())) {
    return std::nullopt;
  }
  return j.get<double>();
}

SenSlope fitWeeks(const std::vector<HealthWeek>& weeks, TimeMs now_ms, auto value) {
  std::vector<double> x;
  std::vector<double> y;
  const std::size_t first =
      weeks.size() > HealthTracker::kTrendWeeks ? weeks.size() - HealthTracker::kTrendWeeks : 0;
  for (std::size_t i = first; i < weeks.size(); ++i) {
    const auto v = value(weeks[i]);
    if (v && std::isfinite(*v)) {
      x.push_back(static_cast<double>(weeks[i].time_ms - now_ms) / kYearMs);
      y.push_back(*v);
    }
  }
  if (x.size() < static_cast<std::size_t>(HealthTracker::kMinTrendWeeks)) {
    return {};
  }
  return theilSen(x, y);
}

// The capacity observations of the last kTrendWeeks weeks, when there are enough over a long
// enough span.
SenSlope fitObservations(const std::vector<CapacityObservation>& obs, TimeMs now_ms) {
  std::vector<double> x;
  std::vector<double> y;
  const TimeMs from = now_ms - static_cast<TimeMs>(HealthTracker::kTrendWeeks) * kWeekMs;
  TimeMs first = 0;
  for (const auto& o : obs) {
    if (o.time_ms < from || !std::isfinite(o.soh_pct)) {
      continue;
    }
    first = x.empty() ? o.time_ms : first;
    x.push_back(static_cast<double>(o.time_ms - now_ms) / kYearMs);
    y.push_back(o.soh_pct);
  }
  if (x.size() < static_cast<std::size_t>(HealthTracker::kMinObservations) || obs.empty() ||
      obs.back().time_ms - first < HealthTracker::kMinObservedSpanMs) {
    return {};
  }
  return theilSen(x, y);
}

bool significantDecline(const SenSlope& s) {
  return s.n > 0 && s.hi < 0.0;
}

}  // namespace

std::string_view healthStateName(HealthState s) {
  switch (s) {
    case HealthState::kOk:
      return "ok";
    case HealthState::kDegraded:
      return "degraded";
    case HealthState::kReplace:
      return "replace";
    case HealthState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

double riTemperaturePerK(model::Chemistry c) {
  switch (c) {
    case model::Chemistry::kLiFePO4:
      return 0.02;
    case model::Chemistry::kNiCd:
      return 0.01;
    case model::Chemistry::kVrla12V:
    case model::Chemistry::kVrla2V:
    case model::Chemistry::kVented2V:
      return 0.012;
  }
  return 0.012;
}

double riAt25C(double ri_mohm, double temperature_c, model::Chemistry c) {
  return ri_mohm * std::exp(-riTemperaturePerK(c) * (25.0 - temperature_c));
}

SenSlope theilSen(std::span<const double> x, std::span<const double> y, double z) {
  const std::size_t n = std::min(x.size(), y.size());
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dx = x[j] - x[i];
      if (dx != 0.0) {
        slopes.push_back((y[j] - y[i]) / dx);
      }
    }
  }
  if (slopes.empty()) {
    return {};
  }
  std::sort(slopes.begin(), slopes.end());
  const auto nd = static_cast<double>(n);
  const auto count = static_cast<double>(slopes.size());
  const double c = z * std::sqrt(nd * (nd - 1.0) * (2.0 * nd + 5.0) / 18.0);
  const auto rank = [&](double r) {  // 1-based rank, clamped
    const auto k = static_cast<std::ptrdiff_t>(std::llround(r)) - 1;
    return slopes[static_cast<std::size_t>(
        std::clamp<std::ptrdiff_t>(k, 0, static_cast<std::ptrdiff_t>(slopes.size()) - 1))];
  };
  SenSlope out;
  const std::size_t mid = slopes.size() / 2;
  out.slope = slopes.size() % 2 == 1 ? slopes[mid] : 0.5 * (slopes[mid - 1] + slopes[mid]);
  out.lo = rank((count - c) / 2.0);
  out.hi = rank((count + c) / 2.0 + 1.0);
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) {
    r[i] = y[i] - out.slope * x[i];
  }
  out.intercept = median(std::move(r));
  out.n = static_cast<int>(n);
  return out;
}

HealthTracker::HealthTracker(std::size_t blocks, model::Chemistry chemistry)
    : chemistry_(chemistry),
      cells_(model::chemistryInfo(chemistry).cells_per_block),
      blocks_(blocks),
      views_(blocks) {
  for (auto& v : views_) {
    v.soh_pct = v.soh_sigma_pct = v.capacity_soh_pct = v.ri_soh_pct = kNan;
    v.ri25_mohm = v.ri_baseline_25c_mohm = v.ri_rise_25c_pct = kNan;
    v.float_dev_mv = v.effort_pct = v.ageing_factor = kNan;
    v.rul_years = v.rul_low_years = v.rul_high_years = kNan;
  }
  summary_.soh_pct = summary_.rul_years = summary_.rul_low_years = summary_.rul_high_years = kNan;
}

void HealthTracker::update(TimeMs t_ms, bool floating, std::span<const double> ri_mohm,
                           std::span<const double> temperature_c, std::span<const double> voltage_v,
                           std::span<const double> equalization_pct) {
  warnings_changed_.clear();
  if (hour_start_ms_ < 0) {
    hour_start_ms_ = t_ms - t_ms % kHourMs;
    week_start_ms_ = hour_start_ms_;
  }
  if (t_ms - hour_start_ms_ > kMaxGapMs) {
    // A long gap (the controller was stopped): what was being summed is dropped, not smeared
    // over the hours that were not seen.
    for (auto& blk : blocks_) {
      blk.ri_sum = blk.t_sum = blk.dev_sum = blk.eq_sum = 0;
      blk.ri_n = blk.t_n = blk.dev_n = blk.eq_n = 0;
    }
    hour_start_ms_ = t_ms - t_ms % kHourMs;
    if (hour_start_ms_ - week_start_ms_ >= kWeekMs) {
      closeWeek(hour_start_ms_);
      week_start_ms_ = hour_start_ms_;
    }
  }
  while (t_ms >= hour_start_ms_ + kHourMs) {
    hour_start_ms_ += kHourMs;
    closeHour(hour_start_ms_);
    if (hour_start_ms_ - week_start_ms_ >= kWeekMs) {
      closeWeek(hour_start_ms_);
      week_start_ms_ = hour_start_ms_;
    }
  }
  if (!floating) {
    float_since_ms_ = -1;
  } else if (float_since_ms_ < 0) {
    float_since_ms_ = t_ms;
  }
  const bool settled = floating && t_ms - float_since_ms_ >= kSettleMs;
  const std::size_t n = std::min({blocks_.size(), ri_mohm.size(), temperature_c.size(),
                                  voltage_v.size(), equalization_pct.size()});
  double median_v = kNan;
  if (settled) {
    dev_scratch_.assign(voltage_v.begin(), voltage_v.begin() + static_cast<std::ptrdiff_t>(n));
    median_v = median(dev_scratch_);
  }
  for (std::size_t b = 0; b < n; ++b) {
    auto& blk = blocks_[b];
    const double t = temperature_c[b];
    if (std::isfinite(t)) {
      blk.t_sum += t;
      blk.t_n += 1;
    }
    if (!settled) {
      continue;
    }
    if (std::isfinite(ri_mohm[b]) && ri_mohm[b] > 0.0 && std::isfinite(t)) {
      blk.ri_sum += riAt25C(ri_mohm[b], t, chemistry_);
      blk.ri_n += 1;
    }
    if (std::isfinite(voltage_v[b]) && std::isfinite(median_v)) {
      blk.dev_sum += (voltage_v[b] - median_v) * 1000.0 / cells_;
      blk.dev_n += 1;
    }
    if (std::isfinite(equalization_pct[b])) {
      blk.eq_sum += equalization_pct[b];
      blk.eq_n += 1;
    }
  }
}

void HealthTracker::closeHour(TimeMs t_ms) {
  for (auto& blk : blocks_) {
    const auto mean = [](double sum, int count) {
      return count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
    };
    const Hour h{mean(blk.ri_sum, blk.ri_n), mean(blk.t_sum, blk.t_n), mean(blk.dev_sum, blk.dev_n),
                 mean(blk.eq_sum, blk.eq_n)};
    blk.ri_sum = blk.t_sum = blk.dev_sum = blk.eq_sum = 0;
    blk.ri_n = blk.t_n = blk.dev_n = blk.eq_n = 0;
    if (std::isfinite(h.temperature_c)) {
      blk.arrhenius_sum += std::exp2((h.temperature_c - 25.0) / kHalvingK);
      blk.arrhenius_hours += 1.0;
    }
    if (!std::isfinite(h.ri25_mohm) && !std::isfinite(h.float_dev_mv)) {
      continue;
    }
    blk.hours.push_back(h);
    if (std::isfinite(h.ri25_mohm)) {
      blk.recent_ri25.push_back(h.ri25_mohm);
      if (blk.recent_ri25.size() > static_cast<std::size_t>(kBaselineHours)) {
        blk.recent_ri25.erase(blk.recent_ri25.begin());
      }
      if (blk.baseline_mohm <= 0.0) {
        blk.baseline_hours.push_back(h.ri25_mohm);
        if (blk.baseline_hours.size() >= static_cast<std::size_t>(kBaselineHours)) {
          blk.baseline_mohm = median(blk.baseline_hours);
          blk.baseline_ms = t_ms;
          blk.baseline_hours.clear();
        }
      }
    }
  }
  assess(t_ms);
}

void HealthTracker::closeWeek(TimeMs t_ms) {
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    auto& blk = blocks_[b];
    if (blk.hours.empty()) {
      continue;
    }
    std::vector<double> ri;
    std::vector<double> dev;
    std::vector<double> eq;
    for (const auto& h : blk.hours) {
      ri.push_back(h.ri25_mohm);
      dev.push_back(h.float_dev_mv);
      eq.push_back(h.effort_pct);
    }
    blk.hours.clear();
    const auto& v = views_[b];
    blk.weeks.push_back({t_ms, median(ri), v.soh_pct, v.soh_sigma_pct, median(dev), median(eq)});
    if (blk.weeks.size() > kMaxWeeks) {
      blk.weeks.erase(blk.weeks.begin());
    }
    if (std::isfinite(v.soh_pct) && v.soh_sigma_pct <= kBestSigmaPct) {
      blk.best_soh_pct = std::max(blk.best_soh_pct, v.soh_pct);
    }
  }
  fitTrends(t_ms);
  assess(t_ms);
}

void HealthTracker::fitTrends(TimeMs t_ms) {
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    const auto& blk = blocks_[b];
    auto& v = views_[b];
    v.weeks = static_cast<int>(blk.weeks.size());
    v.soh_trend = fitObservations(blk.observations, t_ms);
    v.soh_trend_basis = v.soh_trend.n > 0 ? "capacity" : "";
    if (v.soh_trend.n == 0) {
      v.soh_trend = fitWeeks(blk.weeks, t_ms, [](const HealthWeek& w) -> std::optional<double> {
        if (!std::isfinite(w.soh_pct) || !(w.soh_sigma_pct <= kTrendSigmaPct)) {
          return std::nullopt;
        }
        return w.soh_pct;
      });
      v.soh_trend_basis = v.soh_trend.n > 0 ? "weekly SOH" : "";
    }
    const double base = blk.baseline_mohm;
    v.ri_trend = fitWeeks(blk.weeks, t_ms, [base](const HealthWeek& w) -> std::optional<double> {
      if (base <= 0.0) {
        return std::nullopt;
      }
      return 100.0 * (w.ri25_mohm / base - 1.0);
    });
    v.float_trend = fitWeeks(blk.weeks, t_ms, [](const HealthWeek& w) -> std::optional<double> {
      return w.float_dev_mv;
    });
    v.effort_trend = fitWeeks(
        blk.weeks, t_ms, [](const HealthWeek& w) -> std::optional<double> { return w.effort_pct; });
  }
}

double HealthTracker::risePct(const Block& blk, std::size_t hours) const {
  if (blk.baseline_mohm <= 0.0 || blk.recent_ri25.empty()) {
    return kNan;
  }
  const std::size_t k = std::min(hours, blk.recent_ri25.size());
  std::vector<double> last(blk.recent_ri25.end() - static_cast<std::ptrdiff_t>(k),
                           blk.recent_ri25.end());
  return 100.0 * (median(std::move(last)) / blk.baseline_mohm - 1.0);
}

std::pair<double, double> HealthTracker::levelNow(TimeMs t_ms) const {
  const double years = std::max(0.0, (static_cast<double>(t_ms) - level_ms_) / kYearMs);
  double rate = 0.0;  // % of nominal per year
  if (prev_level_pct_ > 0.0 && level_ms_ - prev_level_ms_ >= kMinLevelSpanMs) {
    rate = std::max(0.0, (prev_level_pct_ - level_pct_) / ((level_ms_ - prev_level_ms_) / kYearMs));
  } else {
    double factor = 0.0;
    int n = 0;
    for (const auto& blk : blocks_) {
      if (blk.arrhenius_hours > 0) {
        factor += blk.arrhenius_sum / blk.arrhenius_hours;
        n += 1;
      }
    }
    rate = (100.0 - kEolPct) / designLifeYears(chemistry_) * (n > 0 ? factor / n : 1.0);
  }
  const double change = rate * years;
  return {level_pct_ - change, std::hypot(level_sigma_pct_, kCarrySigmaFraction * change)};
}

double HealthTracker::medianRisePct() const {
  std::vector<double> rises;
  for (const auto& blk : blocks_) {
    rises.push_back(risePct(blk, kBaselineHours));
  }
  return median(std::move(rises));
}

void HealthTracker::noteCapacity(TimeMs t_ms, std::span<const double> relative,
                                 std::span<const double> relative_sigma, double level_pct,
                                 double level_sigma_pct, std::span<const double> event_relative,
                                 std::span<const double> event_sigma) {
  warnings_changed_.clear();
  const double median_rise = medianRisePct();
  if (std::isfinite(level_pct) && level_pct > 0.0 && level_pct != level_pct_) {
    // The first measured level: what was scaled with a stand-in level is scaled again. Between
    // two measured levels nothing is: the change is the string ageing, which is what the trend
    // is to find.
    if (!(level_pct_ > 0.0)) {
      for (auto& blk : blocks_) {
        for (auto& o : blk.observations) {
          if (!o.level_measured && o.level_pct > 0.0) {
            o.soh_pct *= level_pct / o.level_pct;
            o.sigma_pct *= level_pct / o.level_pct;
            o.level_pct = level_pct;
            o.level_measured = true;
          }
        }
      }
    }
    if (level_pct_ > 0.0 && static_cast<double>(t_ms) - level_ms_ >= kMinLevelSpanMs) {
      prev_level_pct_ = level_pct_;
      prev_level_ms_ = level_ms_;
    }
    level_pct_ = level_pct;
    level_sigma_pct_ = std::isfinite(level_sigma_pct) ? level_sigma_pct : kRiSigmaPct;
    level_ms_ = static_cast<double>(t_ms);
  }
  double level = 100.0;
  double level_sigma = kRiSigmaPct;
  if (level_pct_ > 0.0) {
    std::tie(level, level_sigma) = levelNow(t_ms);
  } else if (std::isfinite(median_rise)) {
    level = 100.0 - kSohPerRiRise * median_rise;
  }
  const std::size_t n = std::min({blocks_.size(), relative.size(), relative_sigma.size()});
  for (std::size_t b = 0; b < n; ++b) {
    if (!std::isfinite(relative[b]) || relative[b] <= 0.0) {
      continue;
    }
    auto& blk = blocks_[b];
    Capacity c;
    c.time_ms = t_ms;
    c.soh_pct = relative[b] * level;
    const double rs = std::isfinite(relative_sigma[b]) ? relative_sigma[b] : 0.0;
    c.sigma_pct = std::hypot(rs * level, relative[b] * level_sigma);
    blk.capacity = c;
  }
  const std::size_t ne = std::min({blocks_.size(), event_relative.size(), event_sigma.size()});
  for (std::size_t b = 0; b < ne; ++b) {
    if (!std::isfinite(event_relative[b]) || event_relative[b] <= 0.0) {
      continue;
    }
    auto& obs = blocks_[b].observations;
    const double es = std::isfinite(event_sigma[b]) ? event_sigma[b] : 0.0;
    obs.push_back({t_ms, event_relative[b] * level, es * level, level, level_pct_ > 0.0});
    if (obs.size() > kMaxObservations) {
      obs.erase(obs.begin());
    }
  }
  fitTrends(t_ms);
  assess(t_ms);
}

void HealthTracker::resetBlock(std::size_t b, TimeMs t_ms) {
  warnings_changed_.clear();
  if (b >= blocks_.size()) {
    return;
  }
  const bool warned = blocks_[b].warning_since_ms > 0;
  blocks_[b] = Block{};
  auto& v = views_[b];
  v = BlockHealthView{};
  v.soh_pct = v.soh_sigma_pct = v.capacity_soh_pct = v.ri_soh_pct = kNan;
  v.ri25_mohm = v.ri_baseline_25c_mohm = v.ri_rise_25c_pct = kNan;
  v.float_dev_mv = v.effort_pct = v.ageing_factor = kNan;
  v.rul_years = v.rul_low_years = v.rul_high_years = kNan;
  assess(t_ms);
  if (warned) {
    warnings_changed_.push_back(b);
  }
}

void HealthTracker::assess(TimeMs t_ms) {
  assessments_ += 1;
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    assessBlock(b, t_ms);
  }
  summary_ = StringHealthView{};
  summary_.soh_pct = summary_.rul_years = summary_.rul_low_years = summary_.rul_high_years = kNan;
  for (std::size_t b = 0; b < views_.size(); ++b) {
    const auto& v = views_[b];
    if (std::isfinite(v.soh_pct) && !(v.soh_pct >= summary_.soh_pct)) {
      summary_.soh_pct = v.soh_pct;
      summary_.weakest = static_cast<int>(b);
    }
    if (std::isfinite(v.rul_years) && !(v.rul_years >= summary_.rul_years)) {
      summary_.rul_years = v.rul_years;
      summary_.rul_low_years = v.rul_low_years;
      summary_.rul_high_years = v.rul_high_years;
      summary_.rul_block = static_cast<int>(b);
    }
    if (v.state == HealthState::kReplace || (std::isfinite(v.rul_years) && v.rul_years < 1.0)) {
      summary_.blocks_to_replace += 1;
    }
    summary_.warnings += v.warning ? 1 : 0;
  }
}

void HealthTracker::assessBlock(std::size_t b, TimeMs t_ms) {
  auto& blk = blocks_[b];
  auto& v = views_[b];
  v.ri25_mohm = blk.recent_ri25.empty() ? kNan : median(blk.recent_ri25);
  v.ri_baseline_25c_mohm = blk.baseline_mohm > 0.0 ? blk.baseline_mohm : kNan;
  v.ri_rise_25c_pct = risePct(blk, kRiseHours);
  const double rise_day = risePct(blk, kBaselineHours);
  if (!blk.weeks.empty()) {
    v.float_dev_mv = blk.weeks.back().float_dev_mv;
    v.effort_pct = blk.weeks.back().effort_pct;
  }
  if (!blk.hours.empty()) {
    std::vector<double> dev;
    std::vector<double> eq;
    for (const auto& h : blk.hours) {
      dev.push_back(h.float_dev_mv);
      eq.push_back(h.effort_pct);
    }
    const double d = median(dev);
    const double e = median(eq);
    v.float_dev_mv = std::isfinite(d) ? d : v.float_dev_mv;
    v.effort_pct = std::isfinite(e) ? e : v.effort_pct;
  }
  v.ageing_factor = blk.arrhenius_hours > 0 ? blk.arrhenius_sum / blk.arrhenius_hours : kNan;

  // The components and their fusion.
  v.ri_soh_pct = kNan;
  v.ri_sigma_pct = 0;
  if (std::isfinite(rise_day)) {
    v.ri_soh_pct = 100.0 - kSohPerRiRise * rise_day;
    v.ri_sigma_pct = kRiSigmaPct;
  }
  v.capacity_soh_pct = kNan;
  v.capacity_sigma_pct = 0;
  if (blk.capacity) {
    const auto& c = *blk.capacity;
    // Carried by the Ri trend (robust to a step: a loosened connector is no capacity loss; the
    // block.ri_rise alarm reports it), only ever downwards.
    const double years = std::max(0.0, static_cast<double>(t_ms - c.time_ms) / kYearMs);
    const double carried = v.ri_trend.n >= kMinTrendWeeks
                               ? -kSohPerRiRise * std::max(0.0, v.ri_trend.slope) * years
                               : 0.0;
    v.capacity_soh_pct = c.soh_pct + carried;
    v.capacity_sigma_pct =
        std::sqrt(c.sigma_pct * c.sigma_pct + std::pow(kCarrySigmaFraction * carried, 2) +
                  std::pow(kCapacityDriftPctPerYear * years, 2));
  }
  // The Ri component tells the change since the baseline, not the level the block had then: once
  // a capacity is measured it is carried forward by that change (above) and the Ri component
  // adds nothing independent. Alone, it stands for the block with its wide σ.
  if (std::isfinite(v.capacity_soh_pct)) {
    v.soh_pct = v.capacity_soh_pct;
    v.soh_sigma_pct = v.capacity_sigma_pct;
  } else {
    v.soh_pct = v.ri_soh_pct;
    v.soh_sigma_pct = std::isfinite(v.ri_soh_pct) ? v.ri_sigma_pct : kNan;
  }

  if (!std::isfinite(v.soh_pct)) {
    v.state = HealthState::kUnknown;
  } else if (v.soh_pct < kEolPct) {
    v.state = HealthState::kReplace;
  } else if (v.soh_pct < kDegradedPct ||
             (blk.best_soh_pct > 0 && v.soh_pct <= blk.best_soh_pct - kDegradedDropPct)) {
    v.state = HealthState::kDegraded;
  } else {
    v.state = HealthState::kOk;
  }

  // The SOH trend (fitTrends: the capacity observations, else the weekly SOH); else the Ri
  // trend's image.
  SenSlope trend = v.soh_trend;
  std::string trend_basis = v.soh_trend_basis;
  if (trend.n == 0 && v.ri_trend.n > 0) {
    trend.slope = -kSohPerRiRise * v.ri_trend.slope;
    trend.lo = -kSohPerRiRise * v.ri_trend.hi;
    trend.hi = -kSohPerRiRise * v.ri_trend.lo;
    trend.n = v.ri_trend.n;
    trend_basis = "Ri at 25 °C";
  }

  // Remaining useful life to 80 %.
  v.crossing_ms = v.crossing_early_ms = v.crossing_late_ms = 0;
  v.rul_years = v.rul_low_years = v.rul_high_years = kNan;
  v.rul_basis.clear();
  if (std::isfinite(v.soh_pct)) {
    const double margin = v.soh_pct - kEolPct;
    if (margin <= 0.0) {
      v.rul_years = v.rul_low_years = v.rul_high_years = 0.0;
      v.rul_basis = "below 80 %";
    } else {
      // The rate of decline: the chemistry's at the block's temperatures (20 points over the
      // design life, ×2 per 8 K), σ half of it; with a trend, that prior and the trend's slope
      // weighted by their variances (the trend's σ from its 80 % interval), so a short or noisy
      // trend leans on what such a block does and a long clear one speaks for itself.
      const double factor = std::isfinite(v.ageing_factor) ? v.ageing_factor : 1.0;
      const double prior = (100.0 - kEolPct) / designLifeYears(chemistry_) * factor;
      const double prior_sd = kPriorRateSigma * prior;
      double rate = prior;
      double rate_sd = prior_sd;
      v.rul_basis = "temperature";
      if (trend.n > 0) {
        const double sd = std::max((trend.hi - trend.lo) / (2.0 * kZ80), 0.05 * prior);
        const double w_prior = 1.0 / (prior_sd * prior_sd);
        const double w_trend = 1.0 / (sd * sd);
        rate = (prior * w_prior - trend.slope * w_trend) / (w_prior + w_trend);
        rate_sd = 1.0 / std::sqrt(w_prior + w_trend);
        v.rul_basis = "trend";
      }
      rate = std::max(rate, 0.05 * prior);
      // The interval: the rate's and the SOH's own, at the same 80 %.
      const double spread = kZ80 * v.soh_sigma_pct;
      const double fast = rate + kZ80 * rate_sd;
      const double slow = std::max(rate - kZ80 * rate_sd, 0.05 * prior);
      v.rul_years = std::min(kMaxRulYears, margin / rate);
      v.rul_low_years = std::min(kMaxRulYears, std::max(0.0, margin - spread) / fast);
      v.rul_high_years = std::min(kMaxRulYears, (margin + spread) / slow);
    }
    const auto at = [&](double years) { return t_ms + static_cast<TimeMs>(years * kYearMs); };
    v.crossing_ms = at(v.rul_years);
    v.crossing_early_ms = at(v.rul_low_years);
    v.crossing_late_ms = at(v.rul_high_years);
  }

  // The early warning.
  // Below 80 % beyond its uncertainty (a block at 79 ± 3 % is not yet a certain replacement).
  const bool below = std::isfinite(v.soh_pct) && v.soh_pct + kZ80 * v.soh_sigma_pct < kEolPct;
  const bool projected = std::isfinite(v.soh_pct) && v.soh_pct < kWarnBelowPct &&
                         v.rul_basis == "trend" && significantDecline(trend) &&
                         v.rul_years * 365.25 <= static_cast<double>(kWarnHorizonDays);
  const bool was = blk.warning_since_ms > 0;
  if ((below || projected) && !was) {
    blk.warning_since_ms = t_ms;
    warnings_changed_.push_back(b);
  } else if (was && v.state != HealthState::kReplace && !projected &&
             (!std::isfinite(v.soh_pct) || v.soh_pct >= kWarnBelowPct)) {
    blk.warning_since_ms = 0;
    warnings_changed_.push_back(b);
  }
  v.warning = blk.warning_since_ms > 0;
  v.warning_since_ms = blk.warning_since_ms;

  // What it rests on, in words.
  v.evidence.clear();
  if (!std::isfinite(v.soh_pct)) {
    return;
  }
  std::string text = fmt::format("SOH {:.1f} ± {:.1f} %", v.soh_pct, v.soh_sigma_pct);
  std::vector<std::string> parts;
  if (std::isfinite(v.capacity_soh_pct)) {
    parts.push_back(fmt::format("capacity {:.1f} ± {:.1f} % from the discharges",
                                v.capacity_soh_pct, v.capacity_sigma_pct));
  }
  if (std::isfinite(rise_day)) {
    // Rounded first: no "-0.0 %".
    parts.push_back(fmt::format("Ri at 25 °C {:+.1f} % against its baseline",
                                std::round(rise_day * 10.0) / 10.0 + 0.0));
  }
  if (!parts.empty()) {
    text += " (" + parts[0] + (parts.size() > 1 ? "; " + parts[1] : "") + ")";
  }
  if (trend.n > 0) {
    text += fmt::format(", SOH trend {:+.1f} %/year (80 % interval {:+.1f} … {:+.1f}) from {} {}",
                        trend.slope, trend.lo, trend.hi, trend.n,
                        trend_basis == "capacity" ? "discharges" : "weeks of " + trend_basis);
  }
  if (v.float_trend.n >= kMinTrendWeeks && std::isfinite(v.float_dev_mv)) {
    text += fmt::format(", float {:+.1f} mV/cell against the string ({:+.1f} mV/cell/year)",
                        v.float_dev_mv, v.float_trend.slope);
  }
  if (v.rul_basis == "trend") {
    text += fmt::format(": 80 % expected {} ({} … {})", dateText(v.crossing_ms),
                        dateText(v.crossing_early_ms), dateText(v.crossing_late_ms));
  } else if (v.rul_basis == "below 80 %") {
    text += ": below 80 %, replace";
  }
  v.evidence = std::move(text);
}

std::string HealthTracker::serialize(TimeMs as_of_ms) const {
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& blk : blocks_) {
    nlohmann::json o;
    o["baseline_25c_mohm"] = blk.baseline_mohm;
    o["baseline_ms"] = blk.baseline_ms;
    o["baseline_hours"] = blk.baseline_hours;
    o["recent_ri25"] = blk.recent_ri25;
    o["arrhenius_sum"] = blk.arrhenius_sum;
    o["arrhenius_hours"] = blk.arrhenius_hours;
    o["best_soh_pct"] = blk.best_soh_pct;
    o["warning_since_ms"] = blk.warning_since_ms;
    if (blk.capacity) {
      o["capacity"] = {blk.capacity->time_ms, num(blk.capacity->soh_pct),
                       num(blk.capacity->sigma_pct)};
    }
    auto hours = nlohmann::json::array();
    for (const auto& h : blk.hours) {
      hours.push_back(
          {num(h.ri25_mohm), num(h.temperature_c), num(h.float_dev_mv), num(h.effort_pct)});
    }
    o["hours"] = std::move(hours);
    auto weeks = nlohmann::json::array();
    for (const auto& w : blk.weeks) {
      weeks.push_back({w.time_ms, num(w.ri25_mohm), num(w.soh_pct), num(w.soh_sigma_pct),
                       num(w.float_dev_mv), num(w.effort_pct)});
    }
    o["weeks"] = std::move(weeks);
    auto obs = nlohmann::json::array();
    for (const auto& x : blk.observations) {
      obs.push_back(
          {x.time_ms, num(x.soh_pct), num(x.sigma_pct), num(x.level_pct), x.level_measured});
    }
    o["observations"] = std::move(obs);
    blocks.push_back(std::move(o));
  }
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  j["chemistry"] = model::chemistryInfo(chemistry_).key;
  j["time_ms"] = as_of_ms;
  j["hour_start_ms"] = hour_start_ms_;
  j["week_start_ms"] = week_start_ms_;
  j["level"] = {num(level_pct_), num(level_sigma_pct_), level_ms_, prev_level_pct_, prev_level_ms_};
  j["blocks"] = std::move(blocks);
  return j.dump();
}

Result<HealthTracker> HealthTracker::deserialize(std::string_view text, std::size_t blocks,
                                                 model::Chemistry chemistry) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return healthError("not JSON");
  }
  const auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kFormat) {
    return healthError("not a health record (format)");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kFormatVersion) {
    return healthError("unsupported version");
  }
  const auto chem = j.find("chemistry");
  if (chem == j.end() || !chem->is_string() ||
      chem->get<std::string>() != model::chemistryInfo(chemistry).key) {
    return healthError("written for another chemistry");
  }
  const auto list = j.find("blocks");
  if (list == j.end() || !list->is_array() || list->size() != blocks) {
    return healthError("'blocks' must list " + std::to_string(blocks) + " blocks");
  }
  const auto integer = [](const nlohmann::json& o, const char* key) -> std::optional<TimeMs> {
    const auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer()) {
      return std::nullopt;
    }
    return it->get<TimeMs>();
  };
  const auto numbers = [](const nlohmann::json& a, std::size_t size,
                          std::vector<double>& out) -> bool {
    if (!a.is_array() || (size > 0 && a.size() != size)) {
      return false;
    }
    out.clear();
    for (const auto& x : a) {
      const auto v = readNum(x);
      if (!v) {
        return false;
      }
      out.push_back(*v);
    }
    return true;
  };
  HealthTracker out(blocks, chemistry);
  const auto hs = integer(j, "hour_start_ms");
  const auto ws = integer(j, "week_start_ms");
  std::vector<double> level;
  if (!hs || !ws || !j.contains("level") || !numbers(j["level"], 5, level)) {
    return healthError("'hour_start_ms', 'week_start_ms' and 'level' [5 numbers] are required");
  }
  out.hour_start_ms_ = *hs;
  out.week_start_ms_ = *ws;
  out.level_pct_ = level[0];
  out.level_sigma_pct_ = level[1];
  out.level_ms_ = level[2];
  out.prev_level_pct_ = level[3];
  out.prev_level_ms_ = level[4];
  std::vector<double> row;
  for (std::size_t b = 0; b < blocks; ++b) {
    const auto& o = (*list)[b];
    const auto where = " (block " + std::to_string(b + 1) + ")";
    if (!o.is_object()) {
      return healthError("a block must be an object" + where);
    }
    auto& blk = out.blocks_[b];
    const auto scalar = [&](const char* key, double& into) {
      const auto it = o.find(key);
      if (it == o.end() || !it->is_number() || !std::isfinite(it->get<double>()) ||
          it->get<double>() < 0.0) {
        return false;
      }
      into = it->get<double>();
      return true;
    };
    const auto bms = integer(o, "baseline_ms");
    const auto wms = integer(o, "warning_since_ms");
    if (!scalar("baseline_25c_mohm", blk.baseline_mohm) ||
        !scalar("arrhenius_sum", blk.arrhenius_sum) ||
        !scalar("arrhenius_hours", blk.arrhenius_hours) ||
        !scalar("best_soh_pct", blk.best_soh_pct) || !bms || !wms) {
      return healthError("baseline, ageing and warning fields must be numbers ≥ 0" + where);
    }
    blk.baseline_ms = *bms;
    blk.warning_since_ms = *wms;
    if (!o.contains("baseline_hours") || !numbers(o["baseline_hours"], 0, blk.baseline_hours) ||
        !o.contains("recent_ri25") || !numbers(o["recent_ri25"], 0, blk.recent_ri25) ||
        blk.recent_ri25.size() > static_cast<std::size_t>(kBaselineHours) ||
        blk.baseline_hours.size() > static_cast<std::size_t>(kBaselineHours)) {
      return healthError("'baseline_hours' and 'recent_ri25' must be lists of at most " +
                         std::to_string(kBaselineHours) + " numbers" + where);
    }
    if (o.contains("capacity")) {
      const auto& c = o["capacity"];
      if (!c.is_array() || c.size() != 3 || !c[0].is_number_integer()) {
        return healthError("'capacity' must be [time_ms, soh, sigma]" + where);
      }
      std::vector<double> rest;
      if (!numbers(nlohmann::json(std::vector<nlohmann::json>(c.begin() + 1, c.end())), 2, rest)) {
        return healthError("'capacity' must be [time_ms, soh, sigma]" + where);
      }
      blk.capacity = Capacity{c[0].get<TimeMs>(), rest[0], rest[1]};
    }
    if (!o.contains("hours") || !o["hours"].is_array() || o["hours"].size() > 24 * 7 + 1) {
      return healthError("'hours' must be a list of at most a week of hours" + where);
    }
    for (const auto& h : o["hours"]) {
      if (!numbers(h, 4, row)) {
        return healthError("an hour must be 4 numbers or nulls" + where);
      }
      blk.hours.push_back({row[0], row[1], row[2], row[3]});
    }
    if (!o.contains("weeks") || !o["weeks"].is_array() || o["weeks"].size() > kMaxWeeks) {
      return healthError("'weeks' must be a list of at most " + std::to_string(kMaxWeeks) +
                         " weeks" + where);
    }
    for (const auto& w : o["weeks"]) {
      if (!w.is_array() || w.size() != 6 || !w[0].is_number_integer()) {
        return healthError("a week must be [time_ms, 5 numbers or nulls]" + where);
      }
      if (!numbers(nlohmann::json(std::vector<nlohmann::json>(w.begin() + 1, w.end())), 5, row)) {
        return healthError("a week must be [time_ms, 5 numbers or nulls]" + where);
      }
      blk.weeks.push_back({w[0].get<TimeMs>(), row[0], row[1], row[2], row[3], row[4]});
    }
    if (!o.contains("observations") || !o["observations"].is_array() ||
        o["observations"].size() > kMaxObservations) {
      return healthError("'observations' must be a list of at most " +
                         std::to_string(kMaxObservations) + " capacity observations" + where);
    }
    for (const auto& x : o["observations"]) {
      if (!x.is_array() || x.size() != 5 || !x[0].is_number_integer() || !x[4].is_boolean() ||
          !numbers(nlohmann::json(std::vector<nlohmann::json>(x.begin() + 1, x.begin() + 4)), 3,
                   row)) {
        return healthError("an observation must be [time_ms, soh, sigma, level, measured]" + where);
      }
      blk.observations.push_back({x[0].get<TimeMs>(), row[0], row[1], row[2], x[4].get<bool>()});
    }
  }
  // The trends and the views from what was read.
  const TimeMs as_of = integer(j, "time_ms").value_or(*hs);
  out.fitTrends(as_of);
  out.assess(as_of);
  out.warnings_changed_.clear();
  return out;
}

Result<HealthTracker> HealthTracker::deserialize(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return healthError("not JSON");
  }
  const auto chem = j.find("chemistry");
  const auto list = j.find("blocks");
  if (chem == j.end() || !chem->is_string() || list == j.end() || !list->is_array() ||
      list->empty()) {
    return healthError("no 'chemistry' or 'blocks'");
  }
  const auto c = model::parseChemistry(chem->get<std::string>());
  if (!c) {
    return healthError("unknown chemistry '" + chem->get<std::string>() + "'");
  }
  return deserialize(text, list->size(), *c);
}

}  // namespace equalis::analysis
