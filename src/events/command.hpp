// "Run a command" action: /bin/sh -c COMMAND in its own process group, with the event in
// EQUALIS_* environment variables, stdin from /dev/null, stdout and stderr captured (the first
// line is kept for the log), killed (SIGTERM, then SIGKILL after 1 s) when it outlives its
// timeout. Blocking: the event manager runs it on its command worker thread, never on the
// control loop.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "events/event.hpp"

namespace equalis::events {

using Environment = std::vector<std::pair<std::string, std::string>>;

// EQUALIS_EVENT, EQUALIS_LEVEL, EQUALIS_STRING, EQUALIS_BLOCK, EQUALIS_MESSAGE (the expanded
// template), EQUALIS_ALARM_MESSAGE, EQUALIS_RULE, EQUALIS_KEY, EQUALIS_VALUE,
// EQUALIS_THRESHOLD, EQUALIS_CHANNEL, EQUALIS_SITE, EQUALIS_TIME (ISO 8601), EQUALIS_TIME_MS,
// EQUALIS_SEVERITY (RFC 5424 number). Absent fields are empty strings.
Environment eventEnvironment(const Event& e, std::string_view site, std::string_view text);

struct CommandResult {
  int exit_status = -1;  // exit code, or -1 when killed by a signal
  int signal = 0;        // the signal that ended it, 0 = exited
  bool timed_out = false;
  std::string first_line;  // first line of stdout+stderr (at most 200 bytes)
};

// Runs the command to completion (or its timeout, or `abort`). Fails only when it cannot be
// started; the exit status is in the result.
Result<CommandResult> runCommand(const std::string& command, const Environment& env,
                                 DurationMs timeout_ms, const std::atomic<bool>* abort = nullptr);

// "exit 0", "exit 3", "killed after the 30 s timeout", "killed by signal 9" + ": first line".
std::string describe(const CommandResult& r, DurationMs timeout_ms);

}  // namespace equalis::events
