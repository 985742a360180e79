#include "alarms/runaway.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace equalis::alarms {

namespace {

constexpr DurationMs kHistoryMs = 24 * kHourMs;  // string temperature history (no room sensor)
constexpr std::size_t kReferenceHours = 48;      // hourly current lows kept for the reference
// A minute with a current below this (A per Ah) is a discharge: the next window is not judged
// for the current trend (the step back to charge is not a runaway).
constexpr double kDischargePerAh = -0.002;
// Once suspected, the evidence counts as present with these margins, so readings at a threshold
// do not flap the state (hysteresis).
constexpr double kTempMarginK = 1.0;
constexpr double kCurrentMargin = 0.8;
// Block evidence needs the hot block not to be cooling (slope ≥ −this); once suspected, only a
// clear cooling counts as the evidence going away.
constexpr double kNotCoolingKPerH = 0.2;
constexpr double kClearlyCoolingKPerH = 0.5;
// The current "tapers" when it falls faster than this (relative per hour, plus an absolute part
// per Ah for the sensor noise): a recharge after a discharge.
constexpr double kTaperRelPerH = 0.02;
constexpr double kTaperAbsPerAhPerH = 0.0001;
// A recharge lasts until the charge taken out is back (at this charge efficiency), the current
// has tapered to twice the evidence floor, or a day has passed (the current sensor's offset must
// not keep the guard blind).
constexpr double kRechargeEfficiency = 0.95;
constexpr DurationMs kRechargeMaxMs = 24 * kHourMs;
// Without a room sensor the string's warmth cannot be told from the room's: the current must
// also be well above its settled level (vendor criterion: float current > 3× steady state).
constexpr double kNoRoomCurrentFactor = 3.0;

// Least-squares slope of y over x (hours); 0 with fewer than 3 points.
double slopePerHour(const std::vector<double>& x_h, const std::vector<double>& y) {
  const auto n = x_h.size();
  if (n < 3) {
    return 0.0;
  }
  double mx = 0;
  double my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x_h[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0;
  double sxx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x_h[i] - mx) * (y[i] - my);
    sxx += (x_h[i] - mx) * (x_h[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0.0;
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return 0.0;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace

RunawayInput runawayInputFrom(const bus::Sweep& sweep, std::size_t s,
                              const analysis::StringSummary& sum) {
  const auto& modules = sweep.modules[s];
  RunawayInput in;
  in.time_ms = sweep.time_ms;
  in.current_valid = sum.current_quality == model::Quality::kOk;
  in.current_a = sum.current_a;
  in.voltage_valid = sum.voltage_quality == model::Quality::kOk;
  in.voltage_v = sum.voltage_v;
  in.setpoint_v = sum.target_voltage_v * static_cast<double>(modules.size());
  in.ambient_valid =
      sweep.ambient.quality == model::Quality::kOk && sweep.ambient.time_ms == sweep.time_ms;
  in.ambient_c = sweep.ambient.temperature_c;
  in.temperature_c.resize(modules.size());
  in.valid.resize(modules.size());
  for (std::size_t b = 0; b < modules.size(); ++b) {
    in.valid[b] = modules[b].usable();
    in.temperature_c[b] = modules[b].temperature_c;
  }
  return in;
}

std::string_view runawayStateName(RunawayState s) {
  switch (s) {
    case RunawayState::kNormal:
      return "normal";
    case RunawayState::kSuspect:
      return "suspect";
    case RunawayState::kCountdown:
      return "countdown";
    case RunawayState::kTripped:
      return "tripped";
    case RunawayState::kReduced:
      return "reduced";
  }
  return "normal";
}

RunawayGuard::RunawayGuard(std::string string_name, double capacity_ah,
                           const model::ThermalRunawayConfig& cfg)
    : name_(std::move(string_name)), capacity_ah_(std::max(capacity_ah, 1e-3)), cfg_(cfg) {}

void RunawayGuard::accumulate(const RunawayInput& in) {
  if (sum_block_.size() != in.temperature_c.size()) {
    sum_block_.assign(in.temperature_c.size(), 0.0);
    n_block_.assign(in.temperature_c.size(), 0);
  }
  if (in.current_valid && std::isfinite(in.current_a)) {
    min_current_ = n_current_ == 0 ? in.current_a : std::min(min_current_, in.current_a);
    sum_current_ += in.current_a;
    ++n_current_;
  }
  if (in.ambient_valid && std::isfinite(in.ambient_c)) {
    sum_ambient_ += in.ambient_c;
    ++n_ambient_;
  }
  if (in.voltage_valid && std::isfinite(in.voltage_v) && std::isfinite(in.setpoint_v)) {
    sum_voltage_ += in.voltage_v;
    sum_setpoint_ += in.setpoint_v;
    ++n_voltage_;
  }
  for (std::size_t b = 0; b < in.temperature_c.size() && b < in.valid.size(); ++b) {
    if (in.valid[b] && std::isfinite(in.temperature_c[b])) {
      sum_block_[b] += in.temperature_c[b];
      ++n_block_[b];
    }
  }
}

RunawayGuard::Minute RunawayGuard::closeMinute(TimeMs end_ms) {
  Minute m;
  m.time_ms = end_ms;
  m.current_valid = n_current_ > 0;
  m.current_a = m.current_valid ? sum_current_ / n_current_ : 0.0;
  m.current_min_a = min_current_;
  m.ambient_valid = n_ambient_ > 0;
  m.ambient_c = m.ambient_valid ? sum_ambient_ / n_ambient_ : 0.0;
  m.voltage_v = n_voltage_ > 0 ? sum_voltage_ / n_voltage_ : 0.0;
  m.setpoint_v = n_voltage_ > 0 ? sum_setpoint_ / n_voltage_ : 0.0;
  // Per-block means of the minute: the hottest, the median and the mean block.
  std::vector<double> temps;
  temps.reserve(sum_block_.size());
  double hot = -1e300;
  double sum = 0;
  for (std::size_t b = 0; b < sum_block_.size(); ++b) {
    if (n_block_[b] == 0) {
      continue;
    }
    const double t = sum_block_[b] / n_block_[b];
    temps.push_back(t);
    sum += t;
    if (t > hot) {
      hot = t;
      m.hot_block = static_cast<int>(b) + 1;
    }
  }
  // Median against the hottest needs a few blocks; a string of fewer has only string evidence.
  m.temps_valid = temps.size() >= 3 && temps.size() * 2 >= sum_block_.size();
  if (m.temps_valid) {
    m.hot_c = hot;
    m.median_c = median(temps);
    m.mean_c = sum / static_cast<double>(temps.size());
  }
  n_current_ = n_ambient_ = n_voltage_ = 0;
  sum_current_ = sum_ambient_ = sum_voltage_ = sum_setpoint_ = 0;
  min_current_ = 0;
  std::fill(sum_block_.begin(), sum_block_.end(), 0.0);
  std::fill(n_block_.begin(), n_block_.end(), 0);
  return m;
}

// The settled float current: the median of the lowest minute current of each of the last 48 quiet
// hours (recharge tails lift a few hourly lows, not the median). Frozen while anything looks hot,
// so a runaway developing over hours does not become its own reference.
void RunawayGuard::learnReference(const Minute& m, bool quiet) {
  if (hour_start_ms_ < 0) {
    hour_start_ms_ = m.time_ms;
  }
  if (m.current_valid && quiet) {
    hour_min_a_ = std::min(hour_min_a_, m.current_a);
  }
  if (m.time_ms - hour_start_ms_ < kHourMs) {
    return;
  }
  hour_start_ms_ = m.time_ms;
  if (hour_min_a_ < 1e299) {
    hourly_min_a_.push_back(hour_min_a_);
    if (hourly_min_a_.size() > kReferenceHours) {
      hourly_min_a_.pop_front();
    }
    current_ref_a_ = median({hourly_min_a_.begin(), hourly_min_a_.end()});
  }
  hour_min_a_ = 1e300;
}

std::vector<RunawayEvent> RunawayGuard::update(const RunawayInput& in) {
  std::vector<RunawayEvent> events;
  if (!cfg_.enabled) {
    return events;
  }
  if (minute_start_ms_ < 0) {
    minute_start_ms_ = in.time_ms;
  }
  accumulate(in);
  if (in.time_ms - minute_start_ms_ < kMinuteMs) {
    return events;
  }
  minute_start_ms_ = in.time_ms;
  const Minute m = closeMinute(in.time_ms);
  minutes_.push_back(m);
  while (!minutes_.empty() && m.time_ms - minutes_.front().time_ms > kHistoryMs) {
    minutes_.pop_front();
  }
  if (m.current_valid) {
    // Charge balance since the last discharge (recharge_ah_ > 0: the recharge is not done).
    const double dt_h =
        minutes_.size() >= 2
            ? std::min(
                  10.0 / 60.0,
                  static_cast<double>(m.time_ms - minutes_[minutes_.size() - 2].time_ms) / kHourMs)
            : 1.0 / 60.0;
    const double floor_a = cfg_.current_min_per_ah * capacity_ah_;
    if (m.current_min_a < kDischargePerAh * capacity_ah_) {
      last_discharge_ms_ = m.time_ms;
      recharge_ah_ += std::max(0.0, -m.current_a) * dt_h;
      recharge_started_ = false;
    } else if (recharge_ah_ > 0) {
      recharge_ah_ -= std::max(0.0, m.current_a) * dt_h * kRechargeEfficiency;
      // Tapered: down to float levels after a recharge current (not a cut-off at rest).
      recharge_started_ = recharge_started_ || m.current_a > 4 * floor_a;
      const bool tapered = recharge_started_ && m.current_a < 2 * floor_a;
      if (recharge_ah_ <= 0 || tapered || m.time_ms - last_discharge_ms_ > kRechargeMaxMs) {
        recharge_ah_ = 0;
      }
    }
  }
  evaluate(m, events);
  return events;
}

void RunawayGuard::evaluate(const Minute& m, std::vector<RunawayEvent>& events) {
  auto& f = figures_;
  f = RunawayFigures{};
  f.time_ms = m.time_ms;
  f.current_valid = m.current_valid;
  f.current_a = m.current_a;
  f.ambient_valid = m.ambient_valid;
  f.ambient_c = m.ambient_c;
  f.voltage_v = m.voltage_v;
  f.setpoint_v = m.setpoint_v;
  f.hot_block = m.hot_block;
  f.hot_c = m.hot_c;
  f.median_c = m.median_c;
  f.mean_c = m.mean_c;

  // Trends over the window: current, hottest block (the block of this minute), string mean.
  std::vector<double> x_h;
  std::vector<double> y_i;
  std::vector<double> y_hot;
  std::vector<double> y_mean;
  std::vector<double> x_i_h;
  f.history_min_c = m.temps_valid ? m.mean_c : 0.0;
  for (const auto& p : minutes_) {
    if (p.temps_valid) {
      f.history_min_c = std::min(f.history_min_c, p.mean_c);
    }
    if (m.time_ms - p.time_ms > cfg_.window_ms) {
      continue;
    }
    const double t_h = static_cast<double>(p.time_ms - m.time_ms) / kHourMs;
    if (p.temps_valid) {
      x_h.push_back(t_h);
      y_hot.push_back(p.hot_c);
      y_mean.push_back(p.mean_c);
    }
    if (p.current_valid) {
      x_i_h.push_back(t_h);
      y_i.push_back(p.current_a);
    }
  }
  // The hottest block's own trend: its history is the per-minute hottest, which is that block
  // as long as it stays the hottest (the case that matters).
  f.hot_slope_k_per_h = slopePerHour(x_h, y_hot);
  f.mean_slope_k_per_h = slopePerHour(x_h, y_mean);
  f.current_slope_a_per_h = slopePerHour(x_i_h, y_i);
  // A trend needs a few points spread over at least half the window (the sweeps may come further
  // apart than a minute when the daemon runs the plant fast).
  const double window_h = static_cast<double>(cfg_.window_ms) / kHourMs;
  const bool trend_ready = x_h.size() >= 3 && -x_h.front() >= window_h / 2;

  const bool active = state_ == RunawayState::kSuspect || state_ == RunawayState::kCountdown;
  const double t_margin = active ? kTempMarginK : 0.0;
  const bool discharge_in_window =
      last_discharge_ms_ >= 0 && m.time_ms - last_discharge_ms_ <= cfg_.window_ms;
  const bool discharging_now = m.current_valid && m.current_min_a < kDischargePerAh * capacity_ah_;
  // On the charger: a current that is not a discharge, or (no current sensor) the voltage held.
  const bool on_charger =
      m.current_valid ? !discharging_now : (m.setpoint_v > 0 && m.voltage_v >= 0.97 * m.setpoint_v);
  // Runaway is judged on the charger only: during a discharge and its first window the state
  // holds (a suspicion is neither confirmed nor cleared, the countdown does not end).
  const bool judgeable = on_charger && !discharge_in_window;

  // Block evidence.
  const double d_med = m.hot_c - m.median_c;
  const double d_amb = m.hot_c - m.ambient_c;
  const bool block_hot = m.temps_valid && d_med >= cfg_.delta_median_k - t_margin &&
                         (!m.ambient_valid || d_amb >= cfg_.delta_ambient_k - t_margin);
  const double cooling_limit = active ? kClearlyCoolingKPerH : kNotCoolingKPerH;
  f.block_evidence = block_hot && trend_ready && f.hot_slope_k_per_h >= -cooling_limit && judgeable;

  // String evidence.
  const double s_amb = m.mean_c - m.ambient_c;
  const double s_hist = m.mean_c - f.history_min_c;
  const bool string_warm =
      m.temps_valid && (m.ambient_valid ? s_amb >= cfg_.string_delta_ambient_k - t_margin
                                        : s_hist >= cfg_.string_delta_history_k - t_margin);
  const bool warming = trend_ready && f.mean_slope_k_per_h >= (active ? 0.0 : cfg_.warming_k_per_h);
  const double floor_a = cfg_.current_min_per_ah * capacity_ah_ * (active ? kCurrentMargin : 1.0);
  const double ref_a = std::max(current_ref_a_, 0.0);
  const bool current_high =
      m.current_valid && current_ref_a_ > -1 && m.current_a - ref_a >= floor_a &&
      (m.ambient_valid || m.current_a >= kNoRoomCurrentFactor * std::max(ref_a, floor_a) *
                                             (active ? kCurrentMargin : 1.0));
  const double taper_limit =
      -(kTaperRelPerH * std::fabs(m.current_a) + kTaperAbsPerAhPerH * capacity_ah_);
  const bool not_tapering = f.current_slope_a_per_h >= taper_limit;
  // A recharge after a discharge is not a runaway however its current and warmth look.
  const bool current_evidence = current_high && not_tapering && judgeable && recharge_ah_ <= 0;
  f.string_evidence = string_warm && warming && current_evidence;
  f.current_ref_a = current_ref_a_;

  // Learn the settled current only while nothing looks hot and no discharge is recent.
  const bool quiet =
      state_ == RunawayState::kNormal && !discharge_in_window &&
      m.time_ms - last_discharge_ms_ > 2 * kHourMs &&
      !(m.temps_valid && (d_med >= cfg_.delta_median_k / 2 ||
                          (m.ambient_valid && s_amb >= cfg_.string_delta_ambient_k / 2) ||
                          s_hist >= cfg_.string_delta_history_k / 2));
  learnReference(m, quiet);

  const bool evidence = f.block_evidence || f.string_evidence;
  if (active && !judgeable) {
    return;  // hold: neither confirmed nor cleared while the string is not on the charger
  }
  if (evidence) {
    absent_since_ms_ = 0;
  } else if (absent_since_ms_ == 0) {
    absent_since_ms_ = m.time_ms;
  }
  const bool gone = !evidence && m.time_ms - absent_since_ms_ >= cfg_.clear_after_ms;

  auto push = [&](const char* kind, std::string message) {
    last_message_ = std::move(message);
    RunawayEvent e;
    e.time_ms = m.time_ms;
    e.kind = kind;
    e.message = last_message_;
    events.push_back(std::move(e));
    return &events.back();
  };

  switch (state_) {
    case RunawayState::kNormal:
    case RunawayState::kReduced:
      if (evidence) {
        state_ = RunawayState::kSuspect;
        since_ms_ = m.time_ms;
        hot_block_ = m.hot_block;
        push("suspected", "thermal runaway suspected: " + describe());
      }
      break;
    case RunawayState::kSuspect:
      if (gone) {
        state_ = charger_reduced_ ? RunawayState::kReduced : RunawayState::kNormal;
        push("cleared", fmt::format("{}: thermal-runaway evidence gone before the alarm", name_));
      } else if (evidence && m.time_ms - since_ms_ >= cfg_.hold_ms) {
        state_ = RunawayState::kCountdown;
        const bool reduce = cfg_.reduce_charger && charger_controllable_ && !charger_reduced_;
        // With the charger lowered the countdown lasts at least one trend window, so that the
        // lower voltage can show its effect on the current and the temperatures.
        countdown_end_ms_ =
            m.time_ms + (reduce ? std::max(cfg_.countdown_ms, cfg_.window_ms) : cfg_.countdown_ms);
        push("alarm",
             fmt::format(
                 "THERMAL RUNAWAY alarm, evidence held {:.0f} min: {}; {}{}",
                 static_cast<double>(m.time_ms - since_ms_) / kMinuteMs, describe(),
                 reduce ? "charger voltage lowered; " : "",
                 cfg_.trip_breaker
                     ? fmt::format("the string breaker opens in {:.0f} min unless the "
                                   "evidence goes away",
                                   static_cast<double>(countdown_end_ms_ - m.time_ms) / kMinuteMs)
                     : std::string("breaker trip disabled")));
        if (reduce) {
          charger_reduced_ = true;
          auto* e = push("charger_reduced",
                         fmt::format("{}: charger voltage lowered by thermal-runaway protection "
                                     "(string {:.1f} V, set-point {:.1f} V, current {:.2f} A)",
                                     name_, m.voltage_v, m.setpoint_v, m.current_a));
          e->reduce_charger = true;
        }
      }
      break;
    case RunawayState::kCountdown:
      if (gone) {
        state_ = charger_reduced_ ? RunawayState::kReduced : RunawayState::kNormal;
        push("cleared",
             fmt::format("{}: thermal-runaway evidence gone during the countdown; breaker stays "
                         "closed{}",
                         name_,
                         charger_reduced_ ? ", charger stays lowered until an operator resets "
                                            "the protection"
                                          : ""));
      } else if (cfg_.trip_breaker && m.time_ms >= countdown_end_ms_ && evidence) {
        if (discharging_now) {
          break;  // the string carries the load in a mains failure: trip when it ends
        }
        state_ = RunawayState::kTripped;
        auto* e = push(
            "trip",
            fmt::format("{}: string breaker OPENED by thermal-runaway protection after "
                        "{:.0f} min of evidence; {}",
                        name_, static_cast<double>(m.time_ms - since_ms_) / kMinuteMs, describe()));
        e->open_breaker = true;
      }
      break;
    case RunawayState::kTripped:
      break;
  }
}

std::string RunawayGuard::describe() const {
  const auto& f = figures_;
  std::string why;
  if (f.block_evidence) {
    why =
        fmt::format("block {} {:.1f} K above the string median", f.hot_block, f.hot_c - f.median_c);
  }
  if (f.string_evidence) {
    why += fmt::format(
        "{}string {:.1f} K above {}, warming {:+.1f} K/h, current {:.2f} A above "
        "its settled {:.2f} A and {}",
        why.empty() ? "" : "; ",
        f.ambient_valid ? f.mean_c - f.ambient_c : f.mean_c - f.history_min_c,
        f.ambient_valid ? "the room" : "its 24 h low", f.mean_slope_k_per_h,
        f.current_a - std::max(f.current_ref_a, 0.0), std::max(f.current_ref_a, 0.0),
        f.current_slope_a_per_h >= 0 ? "rising" : "not tapering");
  }
  return fmt::format(
      "{}: {} — block {} at {:.1f} °C ({:+.1f} K/h), string median {:.1f} °C, mean {:.1f} °C "
      "({:+.1f} K/h), room {}, current {} ({:+.2f} A/h), voltage {:.1f} V (set-point {:.1f} V)",
      name_, why.empty() ? "evidence fading" : why, f.hot_block, f.hot_c, f.hot_slope_k_per_h,
      f.median_c, f.mean_c, f.mean_slope_k_per_h,
      f.ambient_valid ? fmt::format("{:.1f} °C", f.ambient_c) : std::string("not measured"),
      f.current_valid ? fmt::format("{:.2f} A", f.current_a) : std::string("not measured"),
      f.current_slope_a_per_h, f.voltage_v, f.setpoint_v);
}

std::vector<RunawayEvent> RunawayGuard::reset(TimeMs now_ms) {
  if (state_ != RunawayState::kTripped && !charger_reduced_) {
    return {};
  }
  const bool was_tripped = state_ == RunawayState::kTripped;
  const bool was_reduced = charger_reduced_;
  state_ = RunawayState::kNormal;
  charger_reduced_ = false;
  hot_block_ = 0;
  absent_since_ms_ = 0;
  last_message_ = fmt::format("{}: thermal-runaway protection reset by the operator{}{}", name_,
                              was_tripped ? "; breaker closed" : "",
                              was_reduced ? "; charger voltage restored" : "");
  RunawayEvent e;
  e.time_ms = now_ms;
  e.kind = "reset";
  e.message = last_message_;
  e.release_charger = was_reduced;
  return {e};
}

}  // namespace equalis::alarms
