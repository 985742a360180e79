// Delivery queue: one worker thread that runs jobs (send an email, a syslog message, a webhook,
// a command) off the control loop. Bounded: a push into a full queue drops the oldest job and
// counts it. A failed job is retried after a backoff (doubling) up to its attempt limit, while
// other jobs go ahead. stop() gives pending jobs a grace period, then aborts what is running and
// reports the rest as not delivered; the worker is joined.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::events {

// The outcome of one action, as the event log shows it.
struct Delivery {
  TimeMs time_ms = 0;  // when it completed (controller clock)
  std::string rule;    // rule name
  std::string action;  // "email", "syslog", "webhook", "command", "relay", "buzzer"
  std::string target;  // "ops@example.com", "udp://10.0.0.1:514", "aux1.do1", …
  std::string event;   // "alarm_raised block.voltage_high/1/17"
  bool ok = false;
  std::string error;   // why it failed (empty when ok)
  std::string detail;  // success detail ("exit 0: done"), may be empty
  int attempts = 0;
};

// "email to ops@example.com sent (rule 'ops', alarm_raised block.voltage_high/1/17)",
// "syslog to udp://… failed after 3 attempts: connection refused (rule …)".
std::string describe(const Delivery& d);

struct Job {
  std::string rule;
  std::string action;
  std::string target;
  std::string event;
  int max_attempts = 1;
  // Does the work; `abort` turns true when the queue stops. The string is a success detail.
  std::function<Result<std::string>(const std::atomic<bool>& abort)> run;
};

class DeliveryQueue {
 public:
  using Done = std::function<void(Delivery)>;
  // `name` names the worker in logs; `backoff_ms` is the wait before the first retry.
  DeliveryQueue(std::string name, Clock& clock, std::size_t capacity, DurationMs backoff_ms,
                Done done);
  ~DeliveryQueue();
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  void push(Job job);
  // Waits until nothing is queued or running (tests), at most `timeout_ms` of real time.
  bool waitIdle(DurationMs timeout_ms);
  // Stops accepting jobs; waits up to `grace_ms` (real time) for the queue to empty, retrying
  // failed jobs without backoff; then aborts, reports the rest, joins the worker. Idempotent.
  void stop(DurationMs grace_ms);

  std::uint64_t dropped() const { return dropped_.load(); }
  std::size_t pending() const;

 private:
  using Steady = std::chrono::steady_clock;
  struct Item {
    Job job;
    int attempts = 0;
    Steady::time_point not_before;
  };
  void work();
  void finish(Item& item, bool ok, std::string error, std::string detail);

  std::string name_;
  Clock& clock_;
  std::size_t capacity_;
  DurationMs backoff_ms_;
  Done done_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Item> items_;
  bool busy_ = false;
  bool stopping_ = false;  // no new jobs, no backoff waits
  bool quit_ = false;      // worker exits
  std::atomic<bool> abort_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread worker_;
};

}  // namespace equalis::events
