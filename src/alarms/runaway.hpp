// Thermal-runaway protection for one string (seed 000 "Active Protection & Thermal Runaway",
// IFC 608.3): temperature AND float-current conditions held for a time → alarm → countdown →
// open the string breaker (latched until an operator resets it).
#pragma once

#include <string>
#include <vector>

#include "core/clock.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"

namespace equalis::alarms {

enum class RunawayState { kNormal, kSuspect, kCountdown, kTripped };
std::string_view runawayStateName(RunawayState s);

struct RunawayInput {
  TimeMs time_ms = 0;
  bool mode_valid = false;
  model::StringModeValue mode = model::StringModeValue::kFloat;
  bool current_valid = false;
  double current_a = 0;
  bool ambient_valid = false;
  double ambient_c = 25;
  std::vector<double> temperature_c;  // per block
  std::vector<bool> valid;            // per block: fresh and ok
};

struct RunawayEvent {
  TimeMs time_ms = 0;
  std::string kind;  // "suspected", "alarm", "trip", "cleared", "reset"
  std::string message;
  bool open_breaker = false;  // the caller must open the string breaker now
};

class RunawayGuard {
 public:
  RunawayGuard(std::string string_name, double capacity_ah, const model::ThermalRunawayConfig& cfg);

  std::vector<RunawayEvent> update(const RunawayInput& in);
  // Operator reset after a trip (closes the breaker again); error text when not tripped.
  std::vector<RunawayEvent> reset(TimeMs now_ms);

  RunawayState state() const { return state_; }
  int hotBlock() const { return hot_block_; }  // 1-based, 0 = none
  double baselineCurrentA() const { return baseline_a_; }
  TimeMs countdownEndsMs() const { return countdown_end_ms_; }
  const std::string& lastMessage() const { return last_message_; }

 private:
  std::string name_;
  double capacity_ah_;
  model::ThermalRunawayConfig cfg_;
  RunawayState state_ = RunawayState::kNormal;
  double baseline_a_ = -1;  // settled float current (EWMA), −1 until known
  TimeMs last_ms_ = 0;
  TimeMs since_ms_ = 0;
  TimeMs false_since_ms_ = 0;
  TimeMs countdown_end_ms_ = 0;
  int hot_block_ = 0;
  std::string last_message_;
};

}  // namespace equalis::alarms
