// History queries behind the web application's charts, on a store holding a year of a plant
// recorded at the float cadence (every 20 min): the reply for one block over the whole year
// (store read → min/max downsampling to what a chart can draw → JSON column arrays, as
// GET …/blocks/{b}/history?max_points= does), and a string's block pattern over a month
// (GET …/strings/{n}/blocks/history). Prints one JSON line per figure with its conditions.
//
//   equalis-bench-history [--strings N] [--blocks N] [--days N] [--max-points N] [--repeat N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/rest/history_view.hpp"
#include "adapters/rest/json_writer.hpp"
#include "bench_json.hpp"
#include "history/downsample.hpp"
#include "history/store.hpp"
#include "model/points.hpp"

namespace {

using namespace equalis;

int g_strings = 2;
int g_blocks = 32;
int g_days = 365;
std::size_t g_max_points = 2400;
int g_repeat = 5;
constexpr DurationMs kCadenceMs = 20 * kMinuteMs;
constexpr TimeMs kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

void emit(const std::string& metric, double value, const std::string& unit,
          const nlohmann::json& extra) {
  nlohmann::json c = bench::plantConditions(g_strings, g_blocks, g_days);
  c["cadence_min"] = kCadenceMs / kMinuteMs;
  c["max_points"] = g_max_points;
  c["repeat"] = g_repeat;
  bench::emitFigure("history", metric, value, unit, std::move(c), extra);
}

// A float-like year: slow drift, a daily wobble and a weekly 30-min discharge dip per block.
history::Snapshot snapshotAt(TimeMs t) {
  history::Snapshot s;
  s.time_ms = t;
  s.reason = "float";
  const double day = static_cast<double>(t - kT0) / static_cast<double>(kDayMs);
  const bool dip = std::fmod(day, 7.0) < 0.02;
  for (int si = 0; si < g_strings; ++si) {
    s.strings.push_back(
        {si, 435.0, dip ? -40.0 : 0.2, 0.15, dip ? 90.0 : 100.0, dip ? 2 : 0, model::Quality::kOk});
    for (int b = 0; b < g_blocks; ++b) {
      history::BlockRecord r;
      r.string_index = si;
      r.block_index = b;
      r.voltage_v = (dip ? 12.4 : 13.6) + 0.002 * b + 0.01 * std::sin(day * 6.283 + b);
      r.temperature_c = 25.0 + 0.5 * std::sin(day * 6.283);
      r.ri_mohm = 5.0 + 0.001 * day + 0.01 * b;
      r.charge_pct = dip ? 90.0 : 100.0;
      r.equalization_pct = b % 5 == 0 ? 30.0 : 0.0;
      r.equalization_wh_per_day = b % 5 == 0 ? 20.0 : 0.0;
      s.blocks.push_back(r);
    }
  }
  return s;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (a == "--strings") {
      g_strings = static_cast<int>(v);
    } else if (a == "--blocks") {
      g_blocks = static_cast<int>(v);
    } else if (a == "--days") {
      g_days = static_cast<int>(v);
    } else if (a == "--max-points") {
      g_max_points = static_cast<std::size_t>(v);
    } else if (a == "--repeat") {
      g_repeat = static_cast<int>(v);
    }
  }
  const auto dir = std::filesystem::temp_directory_path() / "equalis-history-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  history::StoreOptions opt;
  opt.durability = history::Durability::kNormal;
  auto store = history::Store::open((dir / "history.sqlite").string(), std::uint64_t{1} << 40, opt);
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open the store: %s\n", store.error().message.c_str());
    return 1;
  }
  auto& h = **store;
  const TimeMs end_ms = kT0 + static_cast<TimeMs>(g_days) * kDayMs;
  auto t0 = std::chrono::steady_clock::now();
  std::size_t snapshots = 0;
  for (TimeMs t = kT0; t < end_ms; t += kCadenceMs, ++snapshots) {
    if (auto st = h.append(snapshotAt(t)); !st.ok()) {
      std::fprintf(stderr, "append: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  emit("fill", secondsSince(t0), "s", {{"snapshots", snapshots}});

  // One block over the whole range, as the block page's chart asks for it.
  const auto& def = model::point(model::PointId::kBlockVoltageV);
  std::vector<double> times;
  std::size_t points = 0;
  std::size_t bytes = 0;
  for (int r = 0; r < g_repeat; ++r) {
    t0 = std::chrono::steady_clock::now();
    auto series = h.blockSeries(0, 7, history::BlockQuantity::kVoltageV, kT0, end_ms, /*limit=*/0);
    if (!series.ok()) {
      std::fprintf(stderr, "blockSeries: %s\n", series.error().message.c_str());
      return 1;
    }
    const auto thin = history::downsampleMinMax(*series, g_max_points);
    std::string out;
    rest::JsonWriter w(out);
    w.beginObject();
    rest::writeSeries(w, thin, def.id);
    w.endObject();
    times.push_back(secondsSince(t0) * 1e3);
    points = thin.size();
    bytes = out.size();
  }
  emit("block_year_reply", median(times), "ms",
       {{"source_points", snapshots}, {"points_sent", points}, {"bytes", bytes}});

  // Every block of a string over the last 30 days, as the voltage-pattern page asks for it.
  times.clear();
  const TimeMs month_from = std::max(kT0, end_ms - 30 * kDayMs);
  for (int r = 0; r < g_repeat; ++r) {
    t0 = std::chrono::steady_clock::now();
    auto doc = rest::blockPatternDocument(h, 0, history::BlockQuantity::kVoltageV, def, month_from,
                                          end_ms, 0, g_max_points);
    if (!doc.ok()) {
      std::fprintf(stderr, "blockPatternDocument: %s\n", doc.error().message.c_str());
      return 1;
    }
    times.push_back(secondsSince(t0) * 1e3);
    bytes = doc->size();
  }
  emit("string_pattern_month_reply", median(times), "ms", {{"bytes", bytes}});
  std::filesystem::remove_all(dir);
  return 0;
}
