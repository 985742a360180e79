#include "core/service_notify.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "core/log.hpp"

namespace equalis::service {

bool notifyEnabled() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && *socket != '\0';
}

bool notify(const std::string& message) {
  if (!notifyEnabled()) {
    return false;
  }
  return sd_notify(0, message.c_str()) > 0;
}

bool notifyReady(const std::string& status) {
  return notify("READY=1\nSTATUS=" + status);
}

bool notifyStatus(const std::string& status) {
  return notify("STATUS=" + status);
}

bool notifyStopping(const std::string& status) {
  return notify("STOPPING=1\nSTATUS=" + status);
}

std::chrono::microseconds watchdogTimeout() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(usec);
}

Watchdog::Watchdog(std::function<std::uint64_t()> progress, std::chrono::microseconds timeout,
                   std::chrono::milliseconds stall_after, std::string running_status)
    : progress_(std::move(progress)),
      timeout_(timeout),
      stall_after_(std::max(stall_after, std::chrono::ceil<std::chrono::milliseconds>(timeout))),
      running_status_(std::move(running_status)) {}

Watchdog::~Watchdog() {
  stop();
}

void Watchdog::start() {
  if (timeout_.count() <= 0 || thread_.joinable()) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void Watchdog::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Watchdog::loop() {
  using Steady = std::chrono::steady_clock;
  auto logger = log::get("watchdog");
  const auto period = std::max(timeout_ / 4, std::chrono::microseconds(1000));
  std::uint64_t last = progress_();
  auto last_change = Steady::now();
  bool stalled = false;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const std::uint64_t now_value = progress_();
    const auto now = Steady::now();
    if (now_value != last) {
      last = now_value;
      last_change = now;
    }
    const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_change);
    if (idle <= stall_after_) {
      if (stalled) {
        stalled = false;
        logger->info("progress resumed; watchdog pings resumed");
        notifyStatus(running_status_);
      }
      notify("WATCHDOG=1");
    } else if (!stalled) {
      stalled = true;
      const auto text = fmt::format("no progress for {} s (limit {} s); watchdog pings stopped",
                                    static_cast<double>(idle.count()) / 1000.0,
                                    static_cast<double>(stall_after_.count()) / 1000.0);
      logger->error("{}", text);
      notifyStatus("Stalled: " + text);
    }
    lock.lock();
    wake_.wait_for(lock, period, [this] { return stopping_; });
  }
}

}  // namespace equalis::service
