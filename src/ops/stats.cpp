#include "ops/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace equalis::ops {

void RuntimeStats::cycleDone(std::chrono::nanoseconds duration, std::int64_t modules_ok,
                             std::int64_t modules_comm_lost, Steady::time_point end) {
  const double s = std::chrono::duration<double>(duration).count();
  std::lock_guard lock(mutex_);
  data_.cycles += 1;
  data_.last_cycle_s = s;
  data_.last_cycle_end = end;
  data_.modules_ok = modules_ok;
  data_.modules_comm_lost = modules_comm_lost;
  data_.cycle.count += 1;
  data_.cycle.sum_s += s;
  for (std::size_t i = 0; i < kCycleBucketsS.size(); ++i) {
    if (s <= kCycleBucketsS[i]) {
      data_.cycle.buckets[i] += 1;
    }
  }
}

void RuntimeStats::commandDone(bool applied) {
  std::lock_guard lock(mutex_);
  (applied ? data_.commands_applied : data_.commands_refused) += 1;
}

void RuntimeStats::reloadDone(bool applied) {
  std::lock_guard lock(mutex_);
  (applied ? data_.reloads_applied : data_.reloads_rejected) += 1;
}

RuntimeSnapshot RuntimeStats::snapshot() const {
  RuntimeSnapshot out;
  {
    std::lock_guard lock(mutex_);
    out = data_;
  }
  out.started = started_;
  out.stopping = stopping_.load();
  return out;
}

double HealthPolicy::limitS() const {
  return std::max(static_cast<double>(stall_intervals) * sweep_interval_s, min_limit_s);
}

Health liveness(const RuntimeSnapshot& s, const HealthPolicy& policy, Steady::time_point now) {
  Health h;
  h.limit_s = policy.limitS();
  // Before the first cycle the age counts from the start: a daemon that never completes one
  // fails the check after the same limit.
  const auto since = s.cycles > 0 ? s.last_cycle_end : s.started;
  h.last_cycle_age_s =
      s.cycles > 0 ? std::chrono::duration<double>(now - s.last_cycle_end).count() : -1.0;
  const double age = std::chrono::duration<double>(now - since).count();
  if (age <= h.limit_s) {
    h.ok = true;
    return h;
  }
  h.reason = s.cycles > 0 ? fmt::format("no control cycle completed for {:.1f} s (limit {:.1f} s)",
                                        age, h.limit_s)
                          : fmt::format(
                                "no control cycle completed since the start {:.1f} s ago "
                                "(limit {:.1f} s)",
                                age, h.limit_s);
  return h;
}

Health readiness(const RuntimeSnapshot& s, bool history_open) {
  Health h;
  h.limit_s = 0;
  h.last_cycle_age_s = -1;
  if (s.stopping) {
    h.reason = "shutting down";
  } else if (!history_open) {
    h.reason = "history store is not open";
  } else if (s.cycles == 0) {
    h.reason = "first sweep not done yet";
  } else {
    h.ok = true;
  }
  return h;
}

ProcessFigures processFigures() {
  ProcessFigures p;
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      std::istringstream in(line);
      std::string key;
      std::uint64_t value = 0;
      in >> key >> value;
      if (key == "VmRSS:") {
        p.resident_bytes = value * 1024;
      } else if (key == "VmSize:") {
        p.virtual_bytes = value * 1024;
      } else if (key == "Threads:") {
        p.threads = static_cast<std::int64_t>(value);
      }
    }
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  {
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name "(…)", which may itself hold spaces: state is field 3.
    const auto close = text.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream in(text.substr(close + 2));
      std::string field;
      std::vector<std::string> fields;
      while (in >> field) {
        fields.push_back(field);
      }
      // fields[0] is field 3 (state): utime = 14, stime = 15, starttime = 22.
      if (fields.size() > 19) {
        const double utime = std::strtod(fields[11].c_str(), nullptr);
        const double stime = std::strtod(fields[12].c_str(), nullptr);
        p.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
        double btime = 0;
        std::ifstream sys("/proc/stat");
        std::string key;
        while (sys >> key) {
          if (key == "btime") {
            sys >> btime;
            break;
          }
        }
        p.start_time_unix_s =
            btime + std::strtod(fields[19].c_str(), nullptr) / static_cast<double>(ticks);
      }
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    p.open_fds += 1;
  }
  return p;
}

}  // namespace equalis::ops
