#include "core/clock.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace equalis {

TimeMs wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RealClock::RealClock(double scale, TimeMs start_ms)
    : scale_(scale > 0 ? scale : 1.0),
      start_ms_(start_ms >= 0 ? start_ms : wallNowMs()),
      start_steady_(Steady::now()) {}

TimeMs RealClock::nowMs() const {
  const auto elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - start_steady_).count();
  return start_ms_ + static_cast<TimeMs>(static_cast<double>(elapsed_us) * scale_ / 1000.0);
}

bool RealClock::sleepUntil(TimeMs t_ms) {
  std::unique_lock lock(mutex_);
  while (!woken_) {
    const TimeMs now = nowMs();
    if (now >= t_ms) {
      return true;
    }
    const auto real_wait_us =
        static_cast<std::int64_t>(static_cast<double>(t_ms - now) * 1000.0 / scale_);
    cv_.wait_for(lock, std::chrono::microseconds(std::max<std::int64_t>(real_wait_us, 50)));
  }
  return false;
}

void RealClock::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

SimulatedClock::SimulatedClock(TimeMs start_ms) : now_ms_(start_ms) {}

bool SimulatedClock::sleepUntil(TimeMs t_ms) {
  TimeMs now = now_ms_.load();
  while (now < t_ms && !now_ms_.compare_exchange_weak(now, t_ms)) {
  }
  return true;
}

std::string formatIso8601(TimeMs t_ms) {
  std::time_t secs = static_cast<std::time_t>(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
  const int ms = static_cast<int>(t_ms - static_cast<TimeMs>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

bool parseTime(const std::string& text, TimeMs& out_ms) {
  if (text.empty()) {
    return false;
  }
  // Plain integer: epoch milliseconds.
  {
    TimeMs v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && p == text.data() + text.size()) {
      out_ms = v;
      return true;
    }
  }
  std::tm tm{};
  int ms = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {
        ms = ms * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    for (; digits < 3; ++digits) {
      ms *= 10;
    }
  }
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  }
  if (pos != text.size() || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  out_ms = static_cast<TimeMs>(timegm(&tm)) * 1000 + ms;
  return true;
}

}  // namespace equalis
