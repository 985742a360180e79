// Cost of one controller cycle — plant step → bus sweep → analysis → state store → history —
// in total and for the controller alone (without the simulated plant's physics and answers),
// for a plant of 12 V VRLA strings on a simulated clock: 10 strings × 60 blocks = 600 blocks by
// default, any size up to the controller's limits with arguments, e.g. 64 × 64 = 4096 blocks:
//   equalis-bench-pipeline [CYCLES [STRINGS [BLOCKS_PER_STRING]]]
// Prints JSON lines; figures, not pass/fail.
#include <sys/resource.h>
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/controller.hpp"

namespace {

using namespace equalis;

int g_strings = 10;
int g_blocks_per_string = 60;

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

nlohmann::json conditions() {
  utsname u{};
  uname(&u);
  return {{"strings", g_strings},
          {"blocks_per_string", g_blocks_per_string},
          {"blocks", g_strings * g_blocks_per_string},
          {"sweep_interval_s", 10},
          {"machine", u.machine},
          {"kernel", u.release},
#ifdef NDEBUG
          {"build", "release"}
#else
          {"build", "debug"}
#endif
  };
}

void emit(const std::string& metric, double value, const std::string& unit,
          nlohmann::json extra = {}) {
  nlohmann::json j{{"bench", "pipeline"}, {"metric", metric}, {"value", value}, {"unit", unit}};
  j["conditions"] = conditions();
  for (auto& [k, v] : extra.items()) {
    j["conditions"][k] = v;
  }
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

model::PlantConfig benchPlant(const std::string& dir, bool record_every_sweep) {
  auto p = model::demoPlant();
  p.strings.clear();
  for (int s = 0; s < g_strings; ++s) {
    model::StringConfig sc = model::demoPlant().strings[s % 2];
    sc.name = "String " + std::to_string(s + 1);
    sc.block_count = g_blocks_per_string;
    p.strings.push_back(sc);
  }
  p.simulation.ups.outages = false;
  p.data_dir = dir;
  if (record_every_sweep) {
    p.history.float_interval_ms = p.bus.sweep_interval_ms;
  }
  return p;
}

void run(bool record_every_sweep, int cycles) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("equalis-bench-" + std::to_string(::getpid()) + (record_every_sweep ? "-h" : "-n"));
  std::filesystem::remove_all(dir);
  {
    SimulatedClock clock;
    runtime::Controller c(benchPlant(dir.string(), record_every_sweep), clock);
    if (auto st = c.open(); !st) {
      std::fprintf(stderr, "cannot open store: %s\n", st.error().message.c_str());
      std::exit(1);
    }
    // Warm-up: settle the float and fill caches.
    c.runUntil(clock, clock.nowMs() + 100 * c.plant().bus.sweep_interval_ms);
    const double cpu0 = cpuSeconds();
    const double plant0 = c.plantCpuSeconds();
    const double history0 = c.historyCpuSeconds();
    const auto wall0 = std::chrono::steady_clock::now();
    c.runUntil(clock, clock.nowMs() + cycles * c.plant().bus.sweep_interval_ms);
    const double cpu = cpuSeconds() - cpu0;
    const double plant = c.plantCpuSeconds() - plant0;
    const double history = c.historyCpuSeconds() - history0;
    const auto snapshots = c.historyRecordCount();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const std::string mode = record_every_sweep ? "history_every_sweep" : "history_at_cadence";
    emit("cpu_per_cycle", cpu / cycles * 1e3, "ms", {{"history", mode}, {"cycles", cycles}});
    // The controller alone: without the simulated plant's physics and its answers to the sweep.
    emit("controller_cpu_per_cycle", (cpu - plant) / cycles * 1e3, "ms",
         {{"history", mode}, {"cycles", cycles}});
    emit("plant_sim_cpu_per_cycle", plant / cycles * 1e3, "ms",
         {{"history", mode}, {"cycles", cycles}});
    // Of the controller's share: writing snapshots and the event log (an alarm storm records a
    // snapshot at every event), and the rest (sweep handling, analysis, control, alarms, state).
    emit("history_cpu_per_cycle", history / cycles * 1e3, "ms",
         {{"history", mode}, {"cycles", cycles}, {"snapshots_total", snapshots}});
    emit("controller_cpu_per_cycle_without_history", (cpu - plant - history) / cycles * 1e3, "ms",
         {{"history", mode}, {"cycles", cycles}});
    emit("wall_per_cycle", wall / cycles * 1e3, "ms", {{"history", mode}, {"cycles", cycles}});
    if (record_every_sweep) {
      auto stats = c.history()->stats();
      if (stats) {
        emit(
            "history_bytes_per_block_sample",
            static_cast<double>(stats->used_bytes) / static_cast<double>(stats->block_record_count),
            "B", {{"history", mode}, {"block_records", stats->block_record_count}});
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const int cycles = argc > 1 ? std::atoi(argv[1]) : 2000;
  g_strings = argc > 2 ? std::atoi(argv[2]) : 10;
  g_blocks_per_string = argc > 3 ? std::atoi(argv[3]) : 60;
  if (cycles < 4 || g_strings < 1 || g_blocks_per_string < 1) {
    std::fprintf(stderr, "usage: equalis-bench-pipeline [CYCLES ≥ 4 [STRINGS [BLOCKS]]]\n");
    return 2;
  }
  try {
    run(false, cycles);
    run(true, cycles / 4);
    emit("peak_rss", static_cast<double>(peakRssKb()) / 1024.0, "MiB");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "equalis-bench-pipeline: %s\n", e.what());
    return 1;
  }
  return 0;
}
