// Run-time figures of the daemon itself, for /healthz, /readyz and the self-metrics in /metrics
// (docs/operations.md). The controller updates a RuntimeStats at the end of every cycle and when
// it applies operator commands; the REST server reads a snapshot. Thread-safe; nothing here
// reaches back into the controller.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace equalis::ops {

// Upper bounds (seconds) of the control-cycle duration histogram buckets; +Inf is implied.
inline constexpr std::array<double, 12> kCycleBucketsS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

struct Histogram {
  std::array<std::uint64_t, kCycleBucketsS.size()> buckets{};  // cumulative counts, ≤ bound
  std::uint64_t count = 0;
  double sum_s = 0.0;
};

using Steady = std::chrono::steady_clock;

struct RuntimeSnapshot {
  std::uint64_t cycles = 0;             // control cycles completed (each one sweep)
  double last_cycle_s = 0.0;            // real duration of the last cycle
  Histogram cycle;                      // real durations of every cycle
  std::int64_t modules_ok = 0;          // in the last sweep
  std::int64_t modules_comm_lost = 0;   // in the last sweep
  std::uint64_t commands_applied = 0;   // operator commands applied …
  std::uint64_t commands_refused = 0;   // … and refused, since start
  std::uint64_t reloads_applied = 0;    // configuration reloads applied …
  std::uint64_t reloads_rejected = 0;   // … and rejected, since start
  Steady::time_point started{};         // when the stats object was made (process start)
  Steady::time_point last_cycle_end{};  // end of the last cycle (valid when cycles > 0)
  bool stopping = false;                // the daemon is shutting down
};

class RuntimeStats {
 public:
  RuntimeStats() : started_(Steady::now()) {}

  // The control thread, at the end of each cycle.
  void cycleDone(std::chrono::nanoseconds duration, std::int64_t modules_ok,
                 std::int64_t modules_comm_lost, Steady::time_point end = Steady::now());
  void commandDone(bool applied);
  void reloadDone(bool applied);
  // Main, at SIGTERM/SIGINT: readiness turns false at once.
  void markStopping() { stopping_ = true; }

  RuntimeSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  RuntimeSnapshot data_;
  Steady::time_point started_;
  std::atomic<bool> stopping_{false};
};

// Liveness: the control cycle completed a sweep within `max(stall_intervals × sweep interval,
// min_limit)` of real time. The sweep interval in real time is the plant's sweep interval divided
// by the time scale.
struct HealthPolicy {
  double sweep_interval_s = 10.0;  // real seconds between two sweeps
  int stall_intervals = 3;
  double min_limit_s = 2.0;
  double limitS() const;
};

struct Health {
  bool ok = false;
  std::string reason;       // why not (empty when ok)
  double last_cycle_age_s;  // real seconds since the last cycle ended (< 0: none yet)
  double limit_s;
};

Health liveness(const RuntimeSnapshot& s, const HealthPolicy& policy,
                Steady::time_point now = Steady::now());

// Readiness: the history store is open, the first sweep is done and the daemon is not stopping.
Health readiness(const RuntimeSnapshot& s, bool history_open);

// Figures of this process from /proc (Linux); zero where unavailable.
struct ProcessFigures {
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::int64_t threads = 0;
  std::int64_t open_fds = 0;
  double cpu_seconds = 0.0;        // user + system
  double start_time_unix_s = 0.0;  // process start, seconds since the epoch
};

ProcessFigures processFigures();

}  // namespace equalis::ops
