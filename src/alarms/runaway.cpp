#include "alarms/runaway.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace equalis::alarms {

namespace {
// The settled float current follows slowly (τ 24 h) and is frozen while a block runs hot, so a
// runaway developing over hours does not become its own baseline.
constexpr double kBaselineTauS = 24 * 3600.0;
// Once suspected, the conditions count as gone only after they stayed gone this long, and with a
// margin (1 K, 20 % of the current limit): readings at a threshold must not flap the state.
constexpr DurationMs kClearAfterMs = 5 * kMinuteMs;
constexpr double kTempMarginK = 1.0;
constexpr double kCurrentMargin = 0.8;
}  // namespace

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
  }
  return "normal";
}

RunawayGuard::RunawayGuard(std::string string_name, double capacity_ah,
                           const model::ThermalRunawayConfig& cfg)
    : name_(std::move(string_name)), capacity_ah_(capacity_ah), cfg_(cfg) {}

std::vector<RunawayEvent> RunawayGuard::update(const RunawayInput& in) {
  std::vector<RunawayEvent> events;
  const double dt_s = last_ms_ > 0 ? static_cast<double>(in.time_ms - last_ms_) / 1000.0 : 0.0;
  last_ms_ = in.time_ms;
  if (!cfg_.enabled || state_ == RunawayState::kTripped) {
    return events;
  }

  // Temperature condition: the hottest valid block against ambient and against the median.
  std::vector<double> temps;
  int hottest = -1;
  for (std::size_t b = 0; b < in.temperature_c.size() && b < in.valid.size(); ++b) {
    if (in.valid[b] && std::isfinite(in.temperature_c[b])) {
      temps.push_back(in.temperature_c[b]);
      if (hottest < 0 ||
          in.temperature_c[b] > in.temperature_c[static_cast<std::size_t>(hottest)]) {
        hottest = static_cast<int>(b);
      }
    }
  }
  bool hot = false;
  double t_hot = 0;
  double median = 0;
  if (hottest >= 0 && temps.size() >= 2) {
    std::nth_element(temps.begin(), temps.begin() + static_cast<long>(temps.size() / 2),
                     temps.end());
    median = temps[temps.size() / 2];
    t_hot = in.temperature_c[static_cast<std::size_t>(hottest)];
    const double margin = state_ == RunawayState::kNormal ? 0.0 : kTempMarginK;
    hot = t_hot - median >= cfg_.delta_median_k - margin ||
          (in.ambient_valid && t_hot - in.ambient_c >= cfg_.delta_ambient_k - margin);
  }

  // Current condition, only in float (a recharge after a discharge draws a high current by
  // design and must never trip).
  const bool floating =
      in.mode_valid && in.mode == model::StringModeValue::kFloat && in.current_valid;
  if (floating && !hot && state_ == RunawayState::kNormal) {
    baseline_a_ = baseline_a_ < 0 ? in.current_a
                                  : baseline_a_ + (in.current_a - baseline_a_) *
                                                      std::min(1.0, dt_s / kBaselineTauS);
  }
  const double limit_a = std::max(cfg_.current_rise_factor * std::max(baseline_a_, 0.0),
                                  cfg_.current_min_per_ah * capacity_ah_);
  const double current_margin = state_ == RunawayState::kNormal ? 1.0 : kCurrentMargin;
  const bool rising = floating && baseline_a_ >= 0 && in.current_a > current_margin * limit_a;
  const bool condition = hot && rising;
  if (condition) {
    false_since_ms_ = 0;
  } else if (false_since_ms_ == 0) {
    false_since_ms_ = in.time_ms;
  }
  const bool gone = !condition && in.time_ms - false_since_ms_ >= kClearAfterMs;

  auto describe = [&] {
    return fmt::format(
        "{}: block {} at {:.1f} °C (ambient {}, string median {:.1f} °C), float current {:.2f} A "
        "({:.1f}× its settled {:.2f} A)",
        name_, hottest + 1, t_hot,
        in.ambient_valid ? fmt::format("{:.1f} °C", in.ambient_c) : "n/a", median, in.current_a,
        baseline_a_ > 0 ? in.current_a / baseline_a_ : 0.0, std::max(baseline_a_, 0.0));
  };

  switch (state_) {
    case RunawayState::kNormal:
      if (condition) {
        state_ = RunawayState::kSuspect;
        since_ms_ = in.time_ms;
        hot_block_ = hottest + 1;
        last_message_ = "thermal runaway suspected: " + describe();
        events.push_back({in.time_ms, "suspected", last_message_, false});
      }
      break;
    case RunawayState::kSuspect:
      if (gone) {
        state_ = RunawayState::kNormal;
        last_message_ =
            fmt::format("{}: thermal-runaway conditions cleared before the alarm", name_);
        events.push_back({in.time_ms, "cleared", last_message_, false});
      } else if (condition && in.time_ms - since_ms_ >= cfg_.hold_ms) {
        state_ = RunawayState::kCountdown;
        countdown_end_ms_ = in.time_ms + cfg_.countdown_ms;
        last_message_ = fmt::format(
            "THERMAL RUNAWAY alarm after {:.0f} min: {}; {}",
            static_cast<double>(cfg_.hold_ms) / kMinuteMs, describe(),
            cfg_.trip_breaker ? fmt::format("the string breaker opens in {:.0f} min",
                                            static_cast<double>(cfg_.countdown_ms) / kMinuteMs)
                              : std::string("breaker trip disabled"));
        events.push_back({in.time_ms, "alarm", last_message_, false});
      }
      break;
    case RunawayState::kCountdown:
      if (gone) {
        state_ = RunawayState::kNormal;
        last_message_ = fmt::format(
            "{}: thermal-runaway conditions cleared during the countdown; "
            "breaker stays closed",
            name_);
        events.push_back({in.time_ms, "cleared", last_message_, false});
      } else if (condition && cfg_.trip_breaker && in.time_ms >= countdown_end_ms_) {
        state_ = RunawayState::kTripped;
        last_message_ = fmt::format("{}: string breaker OPENED by thermal-runaway protection; {}",
                                    name_, describe());
        events.push_back({in.time_ms, "trip", last_message_, true});
      }
      break;
    case RunawayState::kTripped:
      break;
  }
  return events;
}

std::vector<RunawayEvent> RunawayGuard::reset(TimeMs now_ms) {
  if (state_ != RunawayState::kTripped) {
    return {};
  }
  state_ = RunawayState::kNormal;
  hot_block_ = 0;
  last_message_ =
      fmt::format("{}: thermal-runaway trip reset by the operator; breaker closed", name_);
  return {{now_ms, "reset", last_message_, false}};
}

}  // namespace equalis::alarms
