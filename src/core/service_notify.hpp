// Notifications to the service manager (sd_notify(3), systemd's Type=notify services): readiness,
// status text, stopping, and a watchdog that pings only while the service makes progress.
// Every call is a no-op when the process was not started with NOTIFY_SOCKET (a shell, a test).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace equalis::service {

// Whether the service manager listens (NOTIFY_SOCKET is set).
bool notifyEnabled();
// Sends one notification, e.g. "READY=1\nSTATUS=…". False when disabled or not delivered.
bool notify(const std::string& message);
// READY=1 with a status text.
bool notifyReady(const std::string& status);
// STATUS=… (shown by `systemctl status`).
bool notifyStatus(const std::string& status);
// STOPPING=1 with a status text.
bool notifyStopping(const std::string& status);

// The watchdog timeout the service manager set for this process (WatchdogSec= → WATCHDOG_USEC,
// WATCHDOG_PID); zero when it set none.
std::chrono::microseconds watchdogTimeout();

// Sends WATCHDOG=1 every timeout/4 while `progress` advances. It samples `progress` on every tick;
// once the counter has not changed for `stall_after`, the pings stop (and STATUS= says why), so
// the service manager kills and restarts a service whose work has stalled even though the process
// is still alive. They resume when the counter moves again.
class Watchdog {
 public:
  // progress: a counter that grows while the service works (equalisd: the controller's sweep
  //   count); called from the watchdog thread.
  // timeout: the service manager's timeout (watchdogTimeout()); zero: start() does nothing.
  // stall_after: how long the counter may stand still; raised to `timeout` if shorter.
  // running_status: the STATUS= text sent when the counter moves again after a stall.
  Watchdog(std::function<std::uint64_t()> progress, std::chrono::microseconds timeout,
           std::chrono::milliseconds stall_after, std::string running_status = "Running");
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts the watchdog thread (no thread when the timeout is zero).
  void start();
  // Stops and joins it; safe to call twice.
  void stop();

  bool active() const { return thread_.joinable(); }
  std::chrono::microseconds timeout() const { return timeout_; }
  std::chrono::milliseconds stallAfter() const { return stall_after_; }

 private:
  void loop();

  std::function<std::uint64_t()> progress_;
  std::chrono::microseconds timeout_;
  std::chrono::milliseconds stall_after_;
  std::string running_status_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace equalis::service
