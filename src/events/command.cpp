#include "events/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;  // NOLINT: POSIX

namespace equalis::events {

namespace {

constexpr std::size_t kFirstLineMax = 200;
constexpr int kPollMs = 20;
constexpr DurationMs kKillGraceMs = 1000;

std::string numberText(const std::optional<double>& v) {
  return v ? formatNumber(*v) : std::string();
}

}  // namespace

Environment eventEnvironment(const Event& e, std::string_view site, std::string_view text) {
  return {
      {"EQUALIS_EVENT", e.event},
      {"EQUALIS_LEVEL", e.level},
      {"EQUALIS_SEVERITY", std::to_string(static_cast<int>(severityOf(e)))},
      {"EQUALIS_STRING", e.string_number > 0 ? std::to_string(e.string_number) : ""},
      {"EQUALIS_BLOCK", e.block_number > 0 ? std::to_string(e.block_number) : ""},
      {"EQUALIS_MESSAGE", std::string(text)},
      {"EQUALIS_ALARM_MESSAGE", e.message},
      {"EQUALIS_RULE", e.rule},
      {"EQUALIS_KEY", e.key},
      {"EQUALIS_VALUE", numberText(e.value)},
      {"EQUALIS_THRESHOLD", numberText(e.threshold)},
      {"EQUALIS_CHANNEL", e.channel},
      {"EQUALIS_SITE", std::string(site)},
      {"EQUALIS_TIME", formatIso8601(e.time_ms)},
      {"EQUALIS_TIME_MS", std::to_string(e.time_ms)},
  };
}

std::string describe(const CommandResult& r, DurationMs timeout_ms) {
  std::string s;
  if (r.timed_out) {
    s = fmt::format("killed after the {} s timeout", static_cast<double>(timeout_ms) / 1000.0);
  } else if (r.signal != 0) {
    s = fmt::format("killed by signal {}", r.signal);
  } else {
    s = fmt::format("exit {}", r.exit_status);
  }
  if (!r.first_line.empty()) {
    s += ": " + r.first_line;
  }
  return s;
}

Result<CommandResult> runCommand(const std::string& command, const Environment& env,
                                 DurationMs timeout_ms, const std::atomic<bool>* abort) {
  // Everything the child needs is prepared before fork(): after it only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    const auto eq = entry.find('=');
    const auto name = entry.substr(0, eq);
    bool overridden = false;
    for (const auto& [k, v] : env) {
      overridden = overridden || name == k;
    }
    if (!overridden) {
      env_strings.emplace_back(entry);
    }
  }
  for (const auto& [k, v] : env) {
    std::string value = v;
    for (char& c : value) {
      if (c == '\0') {
        c = ' ';
      }
    }
    env_strings.push_back(k);
    env_strings.back().append("=").append(value);
  }
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return makeError(ErrorCode::kIo, fmt::format("cannot start /bin/sh: {}", std::strerror(err)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
    }
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::close_range(3, ~0U, 0);  // no daemon sockets or files leak into the command
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv, envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so a kill right after fork reaches the group
  ::close(pipe_fds[1]);
  const int out = pipe_fds[0];
  ::fcntl(out, F_SETFL, ::fcntl(out, F_GETFL) | O_NONBLOCK);

  CommandResult result;
  std::string captured;
  bool line_done = false;
  bool pipe_open = true;
  auto drain = [&] {
    char buf[4096];
    while (pipe_open) {
      const ssize_t n = ::read(out, buf, sizeof(buf));
      if (n > 0) {
        for (ssize_t i = 0; i < n && !line_done; ++i) {
          if (buf[i] == '\n' || captured.size() >= kFirstLineMax) {
            line_done = true;
          } else if (buf[i] != '\r') {
            captured += buf[i];
          }
        }
        continue;
      }
      if (n == 0) {
        pipe_open = false;
      }
      break;  // EAGAIN or error: nothing more now
    }
  };

  const TimeMs deadline = wallNowMs() + timeout_ms;
  int status = 0;
  bool exited = false;
  TimeMs kill_at = -1;
  while (!exited) {
    if (pipe_open) {
      pollfd p{out, POLLIN, 0};
      ::poll(&p, 1, kPollMs);
      drain();
    } else {
      ::usleep(kPollMs * 1000);
    }
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      exited = true;
      break;
    }
    const TimeMs now = wallNowMs();
    const bool aborting = abort != nullptr && abort->load();
    if (kill_at < 0 && (now >= deadline || aborting)) {
      result.timed_out = now >= deadline;
      ::kill(-pid, SIGTERM);
      kill_at = now + kKillGraceMs;
    } else if (kill_at >= 0 && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
    }
  }
  drain();  // what the command wrote last (children that keep the pipe open are not waited for)
  ::close(out);
  if (WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.first_line = captured;
  if (result.exit_status == 127 && result.first_line.empty()) {
    result.first_line = "command not found";
  }
  return result;
}

}  // namespace equalis::events
