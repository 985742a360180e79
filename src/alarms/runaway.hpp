// Thermal-runaway protection for one string (seed 000 "Active Protection & Thermal Runaway",
// IFC 608.3). Runaway is heat generation outgrowing heat removal while the charger holds the
// voltage; the guard looks for its physical signature in what a controller measures — the string
// current, the block temperatures, the room temperature — and never at a mode label:
//
//   block evidence:  one block far above its string's median and above the room, still heating
//                    (not cooling), while the string is on the charger;
//   string evidence: the whole string warmer than the room (or, without a room sensor, than its
//                    own last 24 h) and still warming, with the current above its settled float
//                    level and not tapering (a recharge after a discharge tapers: it never counts).
//
// Evidence held for hold_ms → alarm → (a charger_reduce relay, if there is one, lowers the charger
// voltage) → countdown → the string breaker opens; latched until an operator resets it. The method,
// its thresholds and their sources are in docs/alarms.md; the benchmark bench/runaway_bench.cpp
// measures it on randomized runaways and on years of normal operation.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "analysis/analysis.hpp"
#include "bus/bus.hpp"
#include "core/clock.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"

namespace equalis::alarms {

// kReduced: the alarm lowered the charger voltage and the evidence then went away; the charger
// stays reduced (and the state a warning) until an operator resets the protection.
enum class RunawayState { kNormal, kSuspect, kCountdown, kTripped, kReduced };
std::string_view runawayStateName(RunawayState s);

struct RunawayInput {
  TimeMs time_ms = 0;
  bool current_valid = false;
  double current_a = 0;  // + charge / − discharge
  bool voltage_valid = false;
  double voltage_v = 0;   // string voltage (Σ blocks)
  double setpoint_v = 0;  // the charger's float set-point for the string (compensated)
  bool ambient_valid = false;
  double ambient_c = 25;
  std::vector<double> temperature_c;  // per block
  std::vector<bool> valid;            // per block: fresh and ok
};

// The guard's input for string `s` from a sweep and its analysis: fresh, ok readings only.
RunawayInput runawayInputFrom(const bus::Sweep& sweep, std::size_t s,
                              const analysis::StringSummary& sum);

struct RunawayEvent {
  TimeMs time_ms = 0;
  std::string kind;  // "suspected", "alarm", "charger_reduced", "trip", "cleared", "reset"
  std::string message;
  bool open_breaker = false;     // the caller must open the string breaker now
  bool reduce_charger = false;   // the caller must lower the charger voltage now
  bool release_charger = false;  // the caller may restore the charger voltage (operator reset)
};

// What the guard derived from the last complete minute (for events, tests and the benchmark).
struct RunawayFigures {
  TimeMs time_ms = 0;
  int hot_block = 0;  // 1-based, 0 = none
  double hot_c = 0;
  double median_c = 0;
  double mean_c = 0;
  bool ambient_valid = false;
  double ambient_c = 0;
  double history_min_c = 0;  // lowest string mean temperature in the last 24 h
  bool current_valid = false;
  double current_a = 0;
  double current_ref_a = 0;  // settled float current (−1 while unknown)
  double current_slope_a_per_h = 0;
  double hot_slope_k_per_h = 0;
  double mean_slope_k_per_h = 0;
  double voltage_v = 0;
  double setpoint_v = 0;
  bool block_evidence = false;
  bool string_evidence = false;
};

class RunawayGuard {
 public:
  RunawayGuard(std::string string_name, double capacity_ah, const model::ThermalRunawayConfig& cfg);

  std::vector<RunawayEvent> update(const RunawayInput& in);
  // Operator reset after a trip or a charger reduction (closes the breaker again, restores the
  // charger); empty when there is nothing to reset.
  std::vector<RunawayEvent> reset(TimeMs now_ms);
  // The caller tells whether it could lower the charger (a charger_reduce relay exists).
  void setChargerControllable(bool controllable) { charger_controllable_ = controllable; }
  // New thresholds and times (configuration reload); the evidence gathered and the state
  // (suspect, countdown, tripped) stay.
  void setConfig(const model::ThermalRunawayConfig& cfg) { cfg_ = cfg; }

  RunawayState state() const { return state_; }
  bool chargerReduced() const { return charger_reduced_; }
  int hotBlock() const { return hot_block_; }  // 1-based, 0 = none
  double baselineCurrentA() const { return current_ref_a_; }
  TimeMs countdownEndsMs() const { return countdown_end_ms_; }
  const std::string& lastMessage() const { return last_message_; }
  const RunawayFigures& figures() const { return figures_; }

 private:
  struct Minute {
    TimeMs time_ms = 0;  // end of the minute
    bool current_valid = false;
    double current_a = 0;
    double current_min_a = 0;
    double hot_c = 0;
    int hot_block = 0;
    double median_c = 0;
    double mean_c = 0;
    bool temps_valid = false;
    bool ambient_valid = false;
    double ambient_c = 0;
    double voltage_v = 0;
    double setpoint_v = 0;
  };
  void accumulate(const RunawayInput& in);
  Minute closeMinute(TimeMs end_ms);
  void evaluate(const Minute& m, std::vector<RunawayEvent>& events);
  void learnReference(const Minute& m, bool quiet);
  std::string describe() const;

  std::string name_;
  double capacity_ah_;
  model::ThermalRunawayConfig cfg_;
  bool charger_controllable_ = false;

  // The minute being accumulated.
  TimeMs minute_start_ms_ = -1;
  int n_current_ = 0;
  int n_ambient_ = 0;
  int n_voltage_ = 0;
  double sum_current_ = 0;
  double min_current_ = 0;
  double sum_ambient_ = 0;
  double sum_voltage_ = 0;
  double sum_setpoint_ = 0;
  std::vector<double> sum_block_;
  std::vector<int> n_block_;

  std::deque<Minute> minutes_;       // the last 24 h, one per minute
  TimeMs last_discharge_ms_ = -1;    // end of the last minute with a discharge current
  double recharge_ah_ = 0;           // charge still to be returned after the last discharge
  bool recharge_started_ = false;    // a recharge current has flowed since the last discharge
  std::deque<double> hourly_min_a_;  // lowest minute current of each quiet hour (48 h)
  double hour_min_a_ = 1e300;
  TimeMs hour_start_ms_ = -1;
  double current_ref_a_ = -1;

  RunawayState state_ = RunawayState::kNormal;
  bool charger_reduced_ = false;
  TimeMs since_ms_ = 0;         // when the evidence began (suspect)
  TimeMs absent_since_ms_ = 0;  // when the evidence (with margins) went away; 0 = present
  TimeMs countdown_end_ms_ = 0;
  int hot_block_ = 0;
  RunawayFigures figures_;
  std::string last_message_;
};

}  // namespace equalis::alarms
