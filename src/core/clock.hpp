// Clock: every component reads time through this interface.
//   RealClock      — wall time, optionally scaled (--time-scale N runs N× real time);
//   SimulatedClock — advanced explicitly by tests (step mode), fully deterministic.
// Times are milliseconds since the Unix epoch (TimeMs) so they store and serialize as plain
// integers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace equalis {

using TimeMs = std::int64_t;
using DurationMs = std::int64_t;

constexpr DurationMs kSecondMs = 1000;
constexpr DurationMs kMinuteMs = 60 * kSecondMs;
constexpr DurationMs kHourMs = 60 * kMinuteMs;
constexpr DurationMs kDayMs = 24 * kHourMs;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs nowMs() const = 0;
  // Blocks until the clock reads at least `t_ms` or wake() is called. Returns false if woken early.
  virtual bool sleepUntil(TimeMs t_ms) = 0;
  // Ends any sleepUntil() in progress (used at shutdown).
  virtual void wake() = 0;
  // How many simulated seconds pass per real second (1 for real time).
  virtual double timeScale() const = 0;
};

// Wall clock. With scale > 1 the clock starts at `start_ms` (default: now) and runs scale× faster.
class RealClock final : public Clock {
 public:
  explicit RealClock(double scale = 1.0, TimeMs start_ms = -1);
  TimeMs nowMs() const override;
  bool sleepUntil(TimeMs t_ms) override;
  void wake() override;
  double timeScale() const override { return scale_; }

 private:
  using Steady = std::chrono::steady_clock;
  double scale_;
  TimeMs start_ms_;
  Steady::time_point start_steady_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
};

// Step-mode clock for tests and fast simulations: time moves only when advanced; sleepUntil()
// jumps straight to the requested time.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(TimeMs start_ms = 1'767'225'600'000);  // 2026-01-01T00:00:00Z
  TimeMs nowMs() const override { return now_ms_.load(); }
  bool sleepUntil(TimeMs t_ms) override;
  void wake() override {}
  double timeScale() const override { return 0.0; }
  void advance(DurationMs d_ms) { now_ms_ += d_ms; }
  void set(TimeMs t_ms) { now_ms_ = t_ms; }

 private:
  std::atomic<TimeMs> now_ms_;
};

TimeMs wallNowMs();
// ISO 8601 UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z.
std::string formatIso8601(TimeMs t_ms);
// Parses ISO 8601 UTC ("2026-01-01T00:00:00Z", optional .mmm) or integer epoch milliseconds.
bool parseTime(const std::string& text, TimeMs& out_ms);

}  // namespace equalis
