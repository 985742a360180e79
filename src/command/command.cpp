#include "command/command.hpp"

#include <fmt/format.h>

#include "core/overloaded.hpp"

namespace equalis::command {

namespace {

std::string upper(std::string text) {
  for (auto& c : text) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return text;
}

}  // namespace

std::string Origin::describe() const {
  std::string door = via.empty() ? std::string("local") : upper(via);
  if (via == "cli" || via == "test") {
    door = via;
  }
  std::string text = user.empty() ? door : fmt::format("{} via {}", user, door);
  if (!address.empty()) {
    text += " from " + address;
  }
  return text;
}

std::string describe(const Action& action) {
  return std::visit(
      Overloaded{
          [](const AcknowledgeAlarm& a) { return fmt::format("acknowledge {}", a.key); },
          [](const ShelveAlarm& a) {
            return fmt::format("shelve {} for {}", a.key,
                               alarms::shelveDurationText(a.duration_ms));
          },
          [](const UnshelveAlarm& a) { return fmt::format("unshelve {}", a.key); },
          [](const ChangeAlarmRule& a) {
            return a.change.string_number == 0
                       ? fmt::format("change rule {}", a.change.rule_id)
                       : fmt::format("change rule {} of string {}", a.change.rule_id,
                                     a.change.string_number);
          },
          [](const RevertAlarmRule& a) {
            return a.string_number == 0
                       ? fmt::format("revert rule {}", a.rule_id)
                       : fmt::format("revert rule {} of string {}", a.rule_id, a.string_number);
          },
          [](const SetOutput& a) {
            return fmt::format("switch {} {}", a.channel_id, a.on ? "on" : "off");
          },
          [](const PulseOutput& a) {
            return fmt::format("pulse {} for {} ms", a.channel_id, a.duration_ms);
          },
          [](const ResetProtection& a) {
            return fmt::format("reset protection of string {}", a.string_index + 1);
          },
          [](const ResetRiBaseline& a) {
            return fmt::format("reset Ri baseline of string {}, block {}", a.string_index + 1,
                               a.block_index + 1);
          },
          [](const RenameChannel& a) {
            return a.name.empty() ? fmt::format("give {} its configured name", a.channel_id)
                                  : fmt::format("rename {} to '{}'", a.channel_id, a.name);
          },
          [](const ReloadConfig&) { return std::string("reload the configuration"); },
          [](const StageRestore& a) { return fmt::format("stage restore of {}", a.description); },
      },
      action);
}

std::future<Outcome> Queue::submit(Command command) {
  Pending p{std::move(command), {}};
  auto future = p.promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      p.promise.set_value(makeError(ErrorCode::kUnavailable, closed_reason_));
      return future;
    }
    if (queue_.size() >= capacity_) {
      p.promise.set_value(makeError(
          ErrorCode::kUnavailable,
          fmt::format("{} commands are already waiting; try again later", queue_.size())));
      return future;
    }
    queue_.push_back(std::move(p));
    submitted_ += 1;
  }
  cv_.notify_all();
  return future;
}

Outcome Queue::execute(Command command, std::chrono::milliseconds timeout) {
  const auto what = describe(command.action);
  auto future = submit(std::move(command));
  if (future.wait_for(timeout) != std::future_status::ready) {
    // The command stays queued and is applied later; the caller only stops waiting.
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("{}: not applied within {} ms (the control cycle is busy); it "
                                 "will still be applied",
                                 what, timeout.count()));
  }
  return future.get();
}

std::vector<Pending> Queue::drain() {
  std::lock_guard lock(mutex_);
  std::vector<Pending> out;
  out.reserve(queue_.size());
  for (auto& p : queue_) {
    out.push_back(std::move(p));
  }
  queue_.clear();
  return out;
}

bool Queue::waitForWork(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  return !queue_.empty();
}

void Queue::close(const std::string& reason) {
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    closed_reason_ = reason;
    left.swap(queue_);
  }
  for (auto& p : left) {
    p.promise.set_value(makeError(ErrorCode::kUnavailable, reason));
  }
  cv_.notify_all();
}

std::size_t Queue::depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t Queue::submittedCount() const {
  std::lock_guard lock(mutex_);
  return submitted_;
}

}  // namespace equalis::command
