// Throughput of the battery-plant simulator (src/sim) for a 600-block plant (10 strings × 60
// blocks of 12 V 100 Ah VRLA): block-steps per second in settled float (30 s steps) and in a
// constant-current discharge (1 s steps), and the wall time of one simulated year of float.
// Prints JSON lines {"bench":"sim","metric":…,"value":…,"unit":…,"conditions":{…}}; figures,
// not pass/fail. `--no-year` skips the (long) one-year run. Rates are per CPU second of this
// process (the wall time is reported for the year run).
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

namespace {

using namespace equalis;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int kStrings = 10;
constexpr int kBlocksPerString = 60;

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string conditions(const char* mode, double step_s, double simulated_s, double cpu_s) {
  utsname u{};
  uname(&u);
#ifdef NDEBUG
  const char* build = "release";
#else
  const char* build = "debug";
#endif
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"strings\":%d,\"blocks_per_string\":%d,\"blocks\":%d,\"mode\":\"%s\","
                "\"step_s\":%g,\"simulated_s\":%.0f,\"cpu_s\":%.3f,\"machine\":\"%s\","
                "\"build\":\"%s\"}",
                kStrings, kBlocksPerString, kStrings * kBlocksPerString, mode, step_s, simulated_s,
                cpu_s, u.machine, build);
  return buf;
}

void emit(const char* metric, double value, const char* unit, const std::string& cond) {
  std::printf(
      "{\"bench\":\"sim\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"conditions\":%s}\n",
      metric, value, unit, cond.c_str());
  std::fflush(stdout);
}

model::PlantConfig plant600() {
  auto p = model::demoPlant();
  p.simulation.ups.outages = false;  // pure float unless a load is applied
  const model::StringConfig proto = p.strings.at(0);
  p.strings.clear();
  for (int s = 0; s < kStrings; ++s) {
    model::StringConfig sc = proto;
    sc.name = "S" + std::to_string(s + 1);
    sc.block_count = kBlocksPerString;
    sc.age_years = s % 2 == 0 ? 5.0 : 0.0;
    p.strings.push_back(sc);
  }
  return p;
}

struct Run {
  double wall_s = 0;
  double cpu_s = 0;
  std::uint64_t block_steps = 0;
};

// Advances `sim` by `span_ms` in chunks of `chunk_ms` (as a controller would), timing it.
Run timeAdvance(sim::PlantSim& sim, DurationMs span_ms, DurationMs chunk_ms) {
  const std::uint64_t n0 = sim.blockStepCount();
  const double w0 = wallSeconds();
  const double c0 = cpuSeconds();
  const TimeMs end = sim.timeMs() + span_ms;
  for (TimeMs t = sim.timeMs() + chunk_ms; t < end; t += chunk_ms) {
    sim.advanceTo(t);
  }
  sim.advanceTo(end);
  return {wallSeconds() - w0, cpuSeconds() - c0, sim.blockStepCount() - n0};
}

}  // namespace

int main(int argc, char** argv) {
  bool year = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-year") == 0) {
      year = false;
    }
  }
  const auto cfg = plant600();

  // Float: settled float takes 30 s steps. One hour of warm-up, then 10 simulated days.
  {
    sim::PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + kHourMs);
    const DurationMs span = 10 * kDayMs;
    const Run r = timeAdvance(sim, span, 10 * kSecondMs * 60);
    const double steps_per_block =
        static_cast<double>(r.block_steps) / (kStrings * kBlocksPerString);
    emit("block_steps_per_s", static_cast<double>(r.block_steps) / r.cpu_s, "1/s",
         conditions("float", static_cast<double>(span) / 1000.0 / steps_per_block,
                    static_cast<double>(span) / 1000.0, r.cpu_s));
  }

  // Discharge: constant current C/10 on every string, 1 s steps, one simulated hour.
  {
    sim::PlantSim sim(cfg, kT0);
    sim.advanceTo(kT0 + kHourMs);
    for (std::size_t s = 0; s < sim.stringCount(); ++s) {
      sim.setDischargeCurrent(s, 10.0);
    }
    const DurationMs span = kHourMs;
    const Run r = timeAdvance(sim, span, 10 * kSecondMs);
    const double steps_per_block =
        static_cast<double>(r.block_steps) / (kStrings * kBlocksPerString);
    emit("block_steps_per_s", static_cast<double>(r.block_steps) / r.cpu_s, "1/s",
         conditions("discharge", static_cast<double>(span) / 1000.0 / steps_per_block,
                    static_cast<double>(span) / 1000.0, r.cpu_s));
  }

  // One simulated year of float for 600 blocks, advanced in 1-h chunks (so the plant takes its
  // own 30-s float steps; a controller advancing every 10 s caps the steps at 10 s instead).
  if (year) {
    sim::PlantSim sim(cfg, kT0);
    const DurationMs span = 365 * kDayMs;
    const Run r = timeAdvance(sim, span, kHourMs);
    const double steps_per_block =
        static_cast<double>(r.block_steps) / (kStrings * kBlocksPerString);
    const std::string cond =
        conditions("float-year", static_cast<double>(span) / 1000.0 / steps_per_block,
                   static_cast<double>(span) / 1000.0, r.cpu_s);
    emit("year_wall_time", r.wall_s, "s", cond);
    emit("block_steps_per_s", static_cast<double>(r.block_steps) / r.cpu_s, "1/s", cond);
  }
  return 0;
}
