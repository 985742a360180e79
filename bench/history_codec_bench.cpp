// Bytes per stored value of the history's compressed series chunks (history/chunk_codec.hpp) on
// realistic noisy data: the simulated demo-sized plant with its mains failures, read through the
// modules as the controller reads them (voltage mV, temperature 0.1 °C, Ri µΩ per block; string
// voltage mV and current mA), at the recorder's cadence (every 20 min in float, every 10 s during
// a discharge and the hour after it), one chunk per series and day. Prints one JSON line per
// figure with its conditions.
//
//   equalis-bench-history-codec [--strings N] [--blocks N] [--days N]
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_json.hpp"
#include "history/chunk_codec.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

namespace {

using namespace equalis;

int g_strings = 10;
int g_blocks = 60;
int g_days = 7;
constexpr DurationMs kFloatCadenceMs = 20 * kMinuteMs;
constexpr DurationMs kFastCadenceMs = 10 * kSecondMs;
constexpr DurationMs kFastHoldMs = kHourMs;
constexpr TimeMs kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

void emit(const std::string& metric, double value, const std::string& unit,
          const nlohmann::json& extra) {
  nlohmann::json c = bench::plantConditions(g_strings, g_blocks, g_days);
  c["float_cadence_min"] = kFloatCadenceMs / kMinuteMs;
  c["fast_cadence_s"] = kFastCadenceMs / kSecondMs;
  c["chunk"] = "one per series and day";
  bench::emitFigure("history_codec", metric, value, unit, std::move(c), extra);
}

struct Series {
  std::vector<history::ChunkSample> day;
  std::size_t bytes = 0;       // encoded chunks
  std::size_t time_bytes = 0;  // the same chunks' times alone
  std::size_t values = 0;
};

void seal(Series& s) {
  if (s.day.empty()) {
    return;
  }
  const auto full = history::encodeChunk(s.day);
  auto times = s.day;
  for (auto& x : times) {
    x.value.reset();
  }
  const auto time_only = history::encodeChunk(times);
  if (!full.ok() || !time_only.ok()) {
    std::fprintf(stderr, "encode failed\n");
    std::exit(1);
  }
  s.bytes += full->size();
  s.time_bytes += time_only->size();
  s.values += s.day.size();
  s.day.clear();
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--strings") == 0) {
      g_strings = v;
    } else if (std::strcmp(argv[i], "--blocks") == 0) {
      g_blocks = v;
    } else if (std::strcmp(argv[i], "--days") == 0) {
      g_days = v;
    } else {
      std::fprintf(stderr, "usage: %s [--strings N] [--blocks N] [--days N]\n", argv[0]);
      return 2;
    }
  }
  auto cfg = model::demoPlant();
  const auto proto = cfg.strings.at(0);
  cfg.strings.clear();
  for (int s = 0; s < g_strings; ++s) {
    auto sc = proto;
    sc.name = "String " + std::to_string(s + 1);
    sc.block_count = g_blocks;
    sc.age_years = s % 2 == 0 ? 5.0 : 0.0;
    cfg.strings.push_back(sc);
  }
  sim::PlantSim plant(cfg, kT0);
  const std::size_t n_blocks = static_cast<std::size_t>(g_strings * g_blocks);
  // Per block: voltage, temperature, Ri; per string: voltage, current.
  std::vector<Series> block_v(n_blocks), block_t(n_blocks), block_ri(n_blocks);
  std::vector<Series> string_v(static_cast<std::size_t>(g_strings));
  std::vector<Series> string_i(static_cast<std::size_t>(g_strings));
  const auto start = std::chrono::steady_clock::now();
  TimeMs t = kT0;
  TimeMs fast_until = kT0 - 1;
  TimeMs day_end = kT0 + kDayMs;
  std::size_t snapshots = 0;
  while (t < kT0 + g_days * kDayMs) {
    plant.advanceTo(t);
    bool discharging = false;
    for (int s = 0; s < g_strings; ++s) {
      discharging |= plant.stringTruth(static_cast<std::size_t>(s)).current_a < -1.0;
    }
    if (discharging) {
      fast_until = t + kFastHoldMs;
    }
    ++snapshots;
    for (std::size_t s = 0; s < static_cast<std::size_t>(g_strings); ++s) {
      const auto cur = plant.measureStringCurrent(s);
      double sum_v = 0;
      for (std::size_t b = 0; b < static_cast<std::size_t>(g_blocks); ++b) {
        const auto m = plant.measureModule(s, b);
        sum_v += m.voltage_v;
        const std::size_t k = s * static_cast<std::size_t>(g_blocks) + b;
        block_v[k].day.push_back({t, std::llround(m.voltage_v * 1000.0), 0});
        block_t[k].day.push_back({t, std::llround(m.temperature_c * 10.0), 0});
        block_ri[k].day.push_back({t, std::llround(m.ri_ohm * 1e6), 0});
      }
      string_v[s].day.push_back({t, std::llround(sum_v * 1000.0), 0});
      string_i[s].day.push_back({t, std::llround(cur.current_a * 1000.0), 0});
    }
    t += t < fast_until ? kFastCadenceMs : kFloatCadenceMs;
    if (t >= day_end) {
      for (auto* group : {&block_v, &block_t, &block_ri, &string_v, &string_i}) {
        for (auto& s : *group) {
          seal(s);
        }
      }
      day_end += kDayMs;
    }
  }
  for (auto* group : {&block_v, &block_t, &block_ri, &string_v, &string_i}) {
    for (auto& s : *group) {
      seal(s);
    }
  }
  const double cpu_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t bytes = 0;
  std::size_t time_bytes = 0;
  std::size_t values = 0;
  const auto total = [&](const std::vector<Series>& g, const char* name) {
    std::size_t b = 0;
    std::size_t tb = 0;
    std::size_t v = 0;
    for (const auto& s : g) {
      b += s.bytes;
      tb += s.time_bytes;
      v += s.values;
    }
    emit("bytes_per_value", static_cast<double>(b) / static_cast<double>(v), "B",
         {{"series", name}, {"values", v}, {"times", "in every chunk"}});
    emit("bytes_per_value", static_cast<double>(b - tb) / static_cast<double>(v), "B",
         {{"series", name}, {"values", v}, {"times", "shared by the series of a snapshot"}});
    bytes += b;
    time_bytes += tb;
    values += v;
  };
  total(block_v, "block voltage (mV)");
  total(block_t, "block temperature (0.1 °C)");
  total(block_ri, "block Ri (µΩ)");
  total(string_v, "string voltage (mV)");
  total(string_i, "string current (mA)");
  // All series: times stored once per snapshot and day (the time-only chunk of one series).
  const double shared = static_cast<double>(bytes - time_bytes) +
                        static_cast<double>(time_bytes) / static_cast<double>(values) *
                            static_cast<double>(snapshots);
  emit("bytes_per_value", static_cast<double>(bytes) / static_cast<double>(values), "B",
       {{"series", "all"}, {"values", values}, {"times", "in every chunk"}, {"cpu_s", cpu_s}});
  emit("bytes_per_value", shared / static_cast<double>(values), "B",
       {{"series", "all"},
        {"values", values},
        {"snapshots", snapshots},
        {"times", "shared by the series of a snapshot"}});
  return 0;
}
