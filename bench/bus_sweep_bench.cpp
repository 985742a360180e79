// Module-bus sweep benchmark (docs/module-bus.md §9): the wire backend sweeping plants served by
// the equalis-sim process on ptys paced at 115 200 baud.
//   1. 600 modules (10 strings × 60) on one line: sweep time and efficiency against the wire
//      limit computed from the frame sizes;
//   2. 2048 modules (32 strings × 64) on 4 lines swept in parallel;
//   3. 600 modules on one line with 1 % corrupted frames and 5 silent modules: sweep time and
//      what failed.
// A sweep is bus::Frontend::sweep(): SAMPLE, group reads, one retry per missing module, the
// current sensors and the room sensor. Prints one JSON object per line.
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bus/bus.hpp"
#include "bus/wire_backend.hpp"

namespace {

using namespace equalis;  // NOLINT(google-build-using-namespace): a benchmark's own file

constexpr std::uint32_t kBaud = 115200;
constexpr int kSweeps = 10;

struct Sim {
  pid_t pid = -1;
  std::vector<std::string> urls;
};

// Starts equalis-sim (next to this executable) and reads the line URLs it prints.
Sim startSim(const std::vector<std::string>& args, std::size_t lines) {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string exe = (self.parent_path() / "equalis-sim").string();
  int out[2];
  if (::pipe(out) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  Sim sim;
  sim.pid = ::fork();
  if (sim.pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));  // NOLINT
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));  // NOLINT
    }
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    std::perror("execv equalis-sim");
    std::_Exit(127);
  }
  ::close(out[1]);
  FILE* in = ::fdopen(out[0], "r");
  char line[512];
  while (sim.urls.size() < lines && std::fgets(line, sizeof line, in) != nullptr) {
    // "equalis-sim: line 1 on /dev/pts/3 (serial:/dev/pts/3:115200; strings …)"
    const char* open = std::strchr(line, '(');
    const char* semi = open ? std::strchr(open, ';') : nullptr;
    if (open != nullptr && semi != nullptr) {
      sim.urls.emplace_back(open + 1, semi);
    }
  }
  if (sim.urls.size() < lines) {
    std::fprintf(stderr, "equalis-sim did not start (%s)\n", exe.c_str());
    std::exit(1);
  }
  return sim;
}

void stopSim(const Sim& sim) {
  ::kill(sim.pid, SIGTERM);
  int status = 0;
  ::waitpid(sim.pid, &status, 0);
}

model::PlantConfig plantOf(int strings, int blocks, const std::vector<std::string>& urls) {
  auto p = model::demoPlant();
  const auto base = p.strings[0];
  p.strings.assign(static_cast<std::size_t>(strings), base);
  for (std::size_t s = 0; s < p.strings.size(); ++s) {
    p.strings[s].block_count = blocks;
    p.strings[s].name = "String " + std::to_string(s + 1);
  }
  const std::size_t per = (p.strings.size() + urls.size() - 1) / urls.size();
  for (std::size_t l = 0; l < urls.size(); ++l) {
    model::BusLineConfig line;
    line.url = urls[l];
    for (std::size_t s = l * per; s < std::min(p.strings.size(), (l + 1) * per); ++s) {
      line.strings.push_back(static_cast<int>(s + 1));
    }
    p.bus.lines.push_back(line);
  }
  return p;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void emit(const std::string& metric, double value, const std::string& unit,
          const nlohmann::json& conditions) {
  utsname u{};
  uname(&u);
  nlohmann::json j{{"bench", "bus_sweep"}, {"metric", metric}, {"value", value}, {"unit", unit}};
  j["conditions"] = {{"baud", kBaud},
                     {"transport", "pty to the equalis-sim process, paced at the baud rate"},
                     {"sweeps", kSweeps},
                     {"statistic", "median of sweeps (after one warm-up sweep)"},
                     {"machine", u.machine},
                     {"kernel", u.release},
#ifdef NDEBUG
                     {"build", "release"}
#else
                     {"build", "debug"}
#endif
  };
  for (const auto& [k, v] : conditions.items()) {
    j["conditions"][k] = v;
  }
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

struct Run {
  std::vector<double> sweep_ms;
  double wire_limit_ms = 0;  // the slowest line's
  std::vector<bus::LineHealth> health;
  std::vector<std::string> failed;  // modules not read in the last sweep, "string:block"
  int modules_ok_min = 1 << 30;
  std::uint64_t first_attempt_failures = 0;
};

Run sweep(const model::PlantConfig& plant) {
  RealClock clock;
  auto backend = bus::WireBackend::create(plant, clock);
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().message.c_str());
    std::exit(1);
  }
  // The steady sweep alone: module identities (READ_INFO) ride on the first sweeps after a
  // start only.
  (*backend)->setIdentityReads(false);
  bus::Frontend frontend(**backend, plant);
  Run run;
  frontend.sweep(clock.nowMs());  // warm-up: opens the lines
  for (int i = 0; i < kSweeps; ++i) {
    const auto& sw = frontend.sweep(clock.nowMs());
    run.sweep_ms.push_back(sw.duration_ms);
    run.modules_ok_min = std::min(run.modules_ok_min, sw.modules_ok);
  }
  const auto& sw = frontend.last();
  for (std::size_t s = 0; s < sw.modules.size(); ++s) {
    for (std::size_t b = 0; b < sw.modules[s].size(); ++b) {
      if (sw.modules[s][b].time_ms != sw.time_ms) {
        run.failed.push_back(std::to_string(s + 1) + ":" + std::to_string(b + 1));
      }
      run.first_attempt_failures += sw.comm[s][b].errors;
    }
  }
  run.health = (*backend)->lineHealth();
  for (const auto& h : run.health) {
    run.wire_limit_ms = std::max(run.wire_limit_ms, h.wire_limit_ms);
  }
  return run;
}

nlohmann::json counters(const std::vector<bus::LineHealth>& health) {
  bus::LineCounters c;
  for (const auto& h : health) {
    c.requests += h.counters.requests;
    c.frames_ok += h.counters.frames_ok;
    c.crc_errors += h.counters.crc_errors;
    c.malformed += h.counters.malformed;
    c.noise_bytes += h.counters.noise_bytes;
    c.timeouts += h.counters.timeouts;
    c.late += h.counters.late;
    c.foreign += h.counters.foreign;
    c.retries += h.counters.retries;
  }
  return {{"requests", c.requests},   {"frames_ok", c.frames_ok}, {"crc_errors", c.crc_errors},
          {"malformed", c.malformed}, {"timeouts", c.timeouts},   {"late", c.late},
          {"foreign", c.foreign},     {"retries", c.retries}};
}

}  // namespace

int main() {
  // 1. 600 modules on one line.
  {
    const Sim sim = startSim({"--plant", "10x60", "--baud", "115200"}, 1);
    const auto plant = plantOf(10, 60, sim.urls);
    const Run run = sweep(plant);
    stopSim(sim);
    const double ms = median(run.sweep_ms);
    const nlohmann::json c{{"plant", "10 strings × 60 modules, 10 current sensors, room sensor"},
                           {"lines", 1},
                           {"wire_limit_ms", run.wire_limit_ms},
                           {"min_ms", *std::min_element(run.sweep_ms.begin(), run.sweep_ms.end())},
                           {"max_ms", *std::max_element(run.sweep_ms.begin(), run.sweep_ms.end())},
                           {"modules_ok_min", run.modules_ok_min}};
    emit("sweep_600_one_line", ms, "ms", c);
    emit("efficiency_600_one_line", 100.0 * run.wire_limit_ms / ms, "%", c);
  }
  // 2. 2048 modules on 4 lines in parallel.
  {
    const Sim sim = startSim({"--plant", "32x64", "--lines", "4", "--baud", "115200"}, 4);
    const auto plant = plantOf(32, 64, sim.urls);
    const Run run = sweep(plant);
    stopSim(sim);
    const double ms = median(run.sweep_ms);
    const nlohmann::json c{{"plant", "32 strings × 64 modules = 2048, 8 strings per line"},
                           {"lines", 4},
                           {"wire_limit_ms_per_line", run.wire_limit_ms},
                           {"min_ms", *std::min_element(run.sweep_ms.begin(), run.sweep_ms.end())},
                           {"max_ms", *std::max_element(run.sweep_ms.begin(), run.sweep_ms.end())},
                           {"modules_ok_min", run.modules_ok_min}};
    emit("sweep_2048_four_lines", ms, "ms", c);
    emit("efficiency_2048_four_lines", 100.0 * run.wire_limit_ms / ms, "%", c);
  }
  // 3. Faults: 1 % corrupted frames, 5 silent modules.
  {
    const Sim sim = startSim({"--plant", "10x60", "--baud", "115200", "--fault", "crc=0.01",
                              "--fault", "silent=1:5,3:17,5:30,7:44,10:60", "--fault", "seed=11"},
                             1);
    const auto plant = plantOf(10, 60, sim.urls);
    const Run run = sweep(plant);
    stopSim(sim);
    const double ms = median(run.sweep_ms);
    nlohmann::json c{{"plant", "10 strings × 60 modules"},
                     {"lines", 1},
                     {"faults", "crc=0.01, silent 1:5 3:17 5:30 7:44 10:60"},
                     {"timeout_ms", 10},
                     {"retries", 1},
                     {"wire_limit_ms", run.wire_limit_ms},
                     {"modules_ok_min", run.modules_ok_min},
                     {"failed_last_sweep", run.failed},
                     {"module_errors_total", run.first_attempt_failures},
                     {"line_counters", counters(run.health)}};
    emit("sweep_600_faults", ms, "ms", c);
    emit("modules_failed_600_faults", static_cast<double>(run.failed.size()), "modules", c);
  }
  return 0;
}
