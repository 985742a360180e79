#include "history/recorder.hpp"

#include <algorithm>

namespace equalis::history {

Recorder::Recorder(const model::HistoryConfig& cfg) {
  setConfig(cfg);
}

void Recorder::setConfig(const model::HistoryConfig& cfg) {
  float_interval_ms_ = std::max<DurationMs>(1, cfg.float_interval_ms);
  fast_interval_ms_ = std::max<DurationMs>(1, cfg.fast_interval_ms);
  fast_hold_ms_ = std::max<DurationMs>(0, cfg.fast_hold_ms);
}

bool Recorder::inHold(TimeMs now_ms) const {
  return discharge_ended_ && now_ms >= discharge_end_ms_ &&
         now_ms - discharge_end_ms_ < fast_hold_ms_;
}

bool Recorder::fastMode(TimeMs now_ms) const {
  return discharging_ || inHold(now_ms);
}

DurationMs Recorder::currentIntervalMs(TimeMs now_ms) const {
  return fastMode(now_ms) ? fast_interval_ms_ : float_interval_ms_;
}

std::optional<TimeMs> Recorder::lastRecordMs() const {
  if (!started_) {
    return std::nullopt;
  }
  return last_record_ms_;
}

std::optional<std::string> Recorder::shouldRecord(TimeMs now_ms, bool discharging, bool event) {
  // Track the discharge state first: the hold runs from the first sweep without discharge.
  if (discharging) {
    discharging_ = true;
  } else if (discharging_) {
    discharging_ = false;
    discharge_ended_ = true;
    discharge_end_ms_ = now_ms;
  }

  if (!started_) {
    started_ = true;
    last_record_ms_ = now_ms;
    return std::string("start");
  }
  if (event) {
    last_record_ms_ = now_ms;
    return std::string("event");
  }
  if (now_ms < last_record_ms_) {  // the clock stepped backwards: restart the interval
    last_record_ms_ = now_ms;
    return std::nullopt;
  }
  if (now_ms - last_record_ms_ < currentIntervalMs(now_ms)) {
    return std::nullopt;
  }
  last_record_ms_ = now_ms;
  if (discharging_) {
    return std::string("discharge");
  }
  if (inHold(now_ms)) {
    return std::string("after-discharge");
  }
  return std::string("float");
}

}  // namespace equalis::history
