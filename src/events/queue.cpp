#include "events/queue.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/log.hpp"

namespace equalis::events {

namespace {

constexpr int kMaxBackoffShift = 10;

}  // namespace

std::string describe(const Delivery& d) {
  std::string s = d.target.empty() ? d.action : fmt::format("{} to {}", d.action, d.target);
  if (d.ok) {
    s += d.action == "relay" || d.action == "buzzer" ? " set" : " sent";
    if (!d.detail.empty()) {
      s += " (" + d.detail + ")";
    }
  } else if (d.attempts > 1) {
    s += fmt::format(" failed after {} attempts: {}", d.attempts, d.error);
  } else {
    s += " failed: " + d.error;
  }
  std::string context = d.rule.empty() ? "" : fmt::format("rule '{}'", d.rule);
  if (!d.event.empty()) {
    context += (context.empty() ? "" : ", ") + d.event;
  }
  if (!context.empty()) {
    s += " [" + context + "]";
  }
  return s;
}

DeliveryQueue::DeliveryQueue(std::string name, Clock& clock, std::size_t capacity,
                             DurationMs backoff_ms, Done done)
    : name_(std::move(name)),
      clock_(clock),
      capacity_(std::max<std::size_t>(capacity, 1)),
      backoff_ms_(backoff_ms),
      done_(std::move(done)),
      worker_([this] { work(); }) {}

DeliveryQueue::~DeliveryQueue() {
  stop(0);
}

std::size_t DeliveryQueue::pending() const {
  std::lock_guard lock(mutex_);
  return items_.size() + (busy_ ? 1 : 0);
}

void DeliveryQueue::push(Job job) {
  Item dropped_item;
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      dropped_item.job = std::move(job);
      reason = "not delivered: shutting down";
    } else {
      if (items_.size() >= capacity_) {
        dropped_item = std::move(items_.front());
        items_.pop_front();
        dropped_ += 1;
        reason = fmt::format("dropped: {} queue full ({} pending)", name_, capacity_);
      }
      items_.push_back(Item{std::move(job), 0, Steady::now()});
    }
  }
  cv_.notify_all();
  if (!reason.empty()) {
    log::get("events")->warn("{} {} to {} {}", name_, dropped_item.job.action,
                             dropped_item.job.target, reason);
    finish(dropped_item, false, reason, {});
  }
}

bool DeliveryQueue::waitIdle(DurationMs timeout_ms) {
  std::unique_lock lock(mutex_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return items_.empty() && !busy_; });
}

void DeliveryQueue::finish(Item& item, bool ok, std::string error, std::string detail) {
  Delivery d;
  d.time_ms = clock_.nowMs();
  d.rule = item.job.rule;
  d.action = item.job.action;
  d.target = item.job.target;
  d.event = item.job.event;
  d.ok = ok;
  d.error = std::move(error);
  d.detail = std::move(detail);
  d.attempts = item.attempts;
  if (done_) {
    done_(std::move(d));
  }
}

void DeliveryQueue::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (quit_) {
      break;
    }
    // The first job whose backoff has passed (all of them while stopping).
    const auto now = Steady::now();
    auto ready = std::find_if(items_.begin(), items_.end(),
                              [&](const Item& i) { return stopping_ || i.not_before <= now; });
    if (ready == items_.end()) {
      if (items_.empty()) {
        idle_cv_.notify_all();
        cv_.wait(lock);
      } else {
        const auto next = std::min_element(items_.begin(), items_.end(), [](auto& a, auto& b) {
                            return a.not_before < b.not_before;
                          })->not_before;
        cv_.wait_until(lock, next);
      }
      continue;
    }
    Item item = std::move(*ready);
    items_.erase(ready);
    busy_ = true;
    lock.unlock();

    item.attempts += 1;
    Result<std::string> r = makeError(ErrorCode::kUnavailable, "not run");
    if (abort_.load()) {
      r = makeError(ErrorCode::kUnavailable, "not delivered: shutting down");
    } else if (item.job.run) {
      try {
        r = item.job.run(abort_);
      } catch (const std::exception& e) {
        r = makeError(ErrorCode::kUnavailable, fmt::format("internal error: {}", e.what()));
      }
    }
    const bool retry = !r && item.attempts < item.job.max_attempts && !abort_.load();
    if (!r && retry) {
      log::get("events")->debug("{} {} to {} failed (attempt {}): {}", name_, item.job.action,
                                item.job.target, item.attempts, r.error().message);
    }
    if (!retry) {
      finish(item, r.ok(), r ? std::string() : r.error().message, r ? r.value() : std::string());
    }

    lock.lock();
    busy_ = false;
    if (retry) {
      const int shift = std::min(item.attempts - 1, kMaxBackoffShift);
      item.not_before = Steady::now() + std::chrono::milliseconds(backoff_ms_ << shift);
      items_.push_front(std::move(item));  // keeps its place: oldest first
    }
  }
  idle_cv_.notify_all();
}

void DeliveryQueue::stop(DurationMs grace_ms) {
  {
    std::unique_lock lock(mutex_);
    if (quit_) {
      return;
    }
    stopping_ = true;
    cv_.notify_all();
    idle_cv_.wait_for(lock, std::chrono::milliseconds(std::max<DurationMs>(grace_ms, 0)),
                      [&] { return items_.empty() && !busy_; });
    abort_ = true;  // ends a transfer or command in progress; the rest is reported undelivered
    cv_.notify_all();
    idle_cv_.wait(lock, [&] { return items_.empty() && !busy_; });
    quit_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
}

}  // namespace equalis::events
