// Battery analysis scored against the simulator's truth (docs/analysis.md, "Measured figures").
//
// Families of plants, each run with many seeds. A plant floats for a day, then loses mains three
// times, a day apart; each outage draws a random depth of discharge (5 … 30 % of the nominal
// capacity; 2 … 8 % in the family of short outages) at a random rate (C/8 … C/2, constant power as
// a UPS loads it). Blocks have the simulator's manufacturing scatter and ageing, and a quarter of
// them are set weak
// (`age_block`-style: 65 … 100 % capacity). The estimator sees only what the controller sees:
// module voltages and the string current sensor, sampled every 10 s, and the string mode from
// analysis::ModeTracker. The scorer compares with the truth stream's capacities.
//
// Figures per family, each the mean over seeds with a 95 % interval (t · s / √n):
//   capacity_rel_rms_pct_1 / _3   RMS over blocks of the relative capacity error (C_b / C_string
//                                 against the true C_b / harmonic mean), after 1 and 3 events
//   capacity_rel_max_pct_1 / _3   the largest such error in a string
//   capacity_abs_rms_pct_3        RMS error of the capacity in Ah (string level not anchored)
//   weakest_in_three_pct_1        strings whose true weakest block is among the 3 lowest estimates
//   sigma_coverage_pct_3          blocks whose error lies within their stated 1 σ (68 % expected)
//   blocks_estimated_pct_1        blocks with an estimate after the first outage (a block without
//                                 one counts as C_string in the errors above)
//
// Runtime family ("runtime-vrla-12v", docs/analysis.md "Runtime on battery"): the same plants;
// after a partial outage (20–30 % of C) that teaches the blocks' capacities, two outages a day
// apart run both strings to the cut-off, each at its own random rate (C/8 … C/1, constant power).
// The controller's runtime predictor and discharge recorder run on what it sees; the first
// discharge to the cut-off also measures the string's level (levelFromDischarge), the second is
// predicted with it. Figures per outage to the cut-off (2: level nominal, 3: level measured):
//   runtime_half_err_rms_pct_N    RMS over strings of (predicted at half time / actual − 1)
//   runtime_half_err_max_pct_N    the largest |error| of a seed's strings
//   runtime_within_10_pct_N       strings whose prediction at half time is within ±10 %
//
// Usage: equalis-bench-analysis [--seeds N] [--family NAME]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "analysis/block_capacity.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/mode.hpp"
#include "analysis/runtime.hpp"
#include "bench_json.hpp"
#include "bench_stats.hpp"
#include "datasheet_block.hpp"
#include "model/chemistry.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

using namespace equalis;

namespace {

using bench::Stats;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01
constexpr DurationMs kSampleMs = 10'000;

struct Family {
  const char* name;
  model::Chemistry chemistry;
  model::ModuleType module;
  int strings;
  int blocks;
  double capacity_ah;
  double age_years_old;  // the first string's age; the others are new
  double dod_min;        // depth of each outage, drawn in [dod_min, dod_max] of C
  double dod_max;
};

const Family kFamilies[] = {
    {"vrla-12v", model::Chemistry::kVrla12V, model::ModuleType::kC24, 2, 32, 100.0, 5.0, 0.05,
     0.30},
    {"vrla-12v-short", model::Chemistry::kVrla12V, model::ModuleType::kC24, 2, 32, 100.0, 5.0, 0.02,
     0.08},
    {"vrla-2v", model::Chemistry::kVrla2V, model::ModuleType::kC44, 2, 24, 800.0, 5.0, 0.05, 0.30},
    {"vented-2v", model::Chemistry::kVented2V, model::ModuleType::kC44, 2, 24, 1000.0, 5.0, 0.05,
     0.30},
    {"lifepo4", model::Chemistry::kLiFePO4, model::ModuleType::kC44, 2, 16, 100.0, 2.0, 0.05, 0.30},
};

struct Scores {
  Stats rel_rms_1, rel_max_1, rel_rms_3, rel_max_3, abs_rms_3, weakest_1, coverage_3, estimated_1;
};

model::PlantConfig plantFor(const Family& f, std::uint64_t seed) {
  auto cfg = model::demoPlant();
  cfg.simulation.seed = seed;
  cfg.simulation.ups.outages = false;
  cfg.io = {};
  const auto proto = cfg.strings.at(0);
  cfg.strings.clear();
  for (int s = 0; s < f.strings; ++s) {
    auto sc = proto;
    sc.name = "String " + std::to_string(s + 1);
    sc.block_count = f.blocks;
    sc.chemistry = f.chemistry;
    sc.capacity_ah = f.capacity_ah;
    sc.module_type = f.module;
    sc.age_years = s == 0 ? f.age_years_old : 0.0;
    const auto& chem = model::chemistryInfo(f.chemistry);
    sc.charger.float_v_per_cell = chem.float_v_per_cell;
    cfg.strings.push_back(sc);
  }
  return cfg;
}

struct StringRun {
  analysis::StringCapacityEstimator est;
  analysis::ModeTracker mode;
  double float_per_block_v;
};

// Scores one string's estimate against the truth.
struct StringScore {
  double rel_rms = 0, rel_max = 0, abs_rms = 0, coverage = 0, estimated = 0;
  bool weakest_in_three = false;
};

// `truth`: the blocks' true capacities.
StringScore score(const std::vector<double>& truth, const analysis::StringCapacityEstimator& est) {
  const std::size_t n = truth.size();
  double inv_sum = 0;
  for (std::size_t b = 0; b < n; ++b) {
    inv_sum += 1.0 / truth[b];
  }
  const double c_h = static_cast<double>(n) / inv_sum;
  StringScore r;
  double se = 0, sa = 0;
  int within = 0;
  std::vector<std::size_t> order(n);
  for (std::size_t b = 0; b < n; ++b) {
    order[b] = b;
    const auto& e = est.blocks()[b];
    const double rel_true = truth[b] / c_h;
    const double err = e.relative / rel_true - 1.0;
    se += err * err;
    r.rel_max = std::max(r.rel_max, std::fabs(err) * 100.0);
    const double abs_err = e.capacity_ah / truth[b] - 1.0;
    sa += abs_err * abs_err;
    within += std::fabs(e.relative - rel_true) <= e.relative_sigma ? 1 : 0;
    r.estimated += e.events > 0 ? 100.0 / static_cast<double>(n) : 0.0;
  }
  r.rel_rms = std::sqrt(se / static_cast<double>(n)) * 100.0;
  r.abs_rms = std::sqrt(sa / static_cast<double>(n)) * 100.0;
  r.coverage = 100.0 * within / static_cast<double>(n);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return est.blocks()[a].relative < est.blocks()[b].relative;
  });
  const auto weakest =
      static_cast<std::size_t>(std::min_element(truth.begin(), truth.end()) - truth.begin());
  for (std::size_t k = 0; k < std::min<std::size_t>(3, n); ++k) {
    r.weakest_in_three |= order[k] == weakest;
  }
  return r;
}

StringScore score(const sim::PlantSim& plant, std::size_t s,
                  const analysis::StringCapacityEstimator& est) {
  std::vector<double> truth(plant.blockCount(s));
  for (std::size_t b = 0; b < truth.size(); ++b) {
    truth[b] = plant.blockTruth(s, b).capacity_ah;
  }
  return score(truth, est);
}

void record(Scores& out, int event, const StringScore& r) {
  if (event == 1) {
    out.rel_rms_1.add(r.rel_rms);
    out.rel_max_1.add(r.rel_max);
    out.weakest_1.add(r.weakest_in_three ? 100.0 : 0.0);
    out.estimated_1.add(r.estimated);
  } else if (event == 3) {
    out.rel_rms_3.add(r.rel_rms);
    out.rel_max_3.add(r.rel_max);
    out.abs_rms_3.add(r.abs_rms);
    out.coverage_3.add(r.coverage);
  }
}

// The families driven by a manufacturer's tables: two strings of 32 blocks that follow the
// Shepherd model fitted to the USF12-100A constant-current tables (datasheet_block.hpp), each
// with its own capacity (a quarter weak as above, the others σ 2 %), resistance (σ 6 %) and
// E0 (σ 20 mV); modules with an offset (σ 5 mV) and 1 mV noise; a current sensor with a gain error
// (σ 0.5 %) and 0.1 A noise. Three discharges at constant current, each from full.
// How a block with less capacity differs is the open question the two variants bracket:
//   k_per_capacity  K·Q is the same for every block, so the whole curve is a function of the
//                   block's own depth of discharge (capacity limited by the acid, or scatter
//                   of a new block's size);
//   otherwise       K is the same for every block: the polarization voltage K·it follows the
//                   charge drawn, not the depth, and only the terms in Q/(Q − it) tell a weak
//                   block (capacity lost in the plates while the acid is what it was).
void runDatasheetSeed(const bench::Shepherd& m, bool k_per_capacity, std::uint64_t seed,
                      Scores& out) {
  constexpr int kStrings = 2;
  constexpr std::size_t kBlocks = 32;
  std::mt19937_64 rng(seed * 7919 + 23);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> z(0.0, 1.0);
  for (int s = 0; s < kStrings; ++s) {
    std::vector<double> q(kBlocks), r(kBlocks), e0(kBlocks), offset(kBlocks);
    for (std::size_t b = 0; b < kBlocks; ++b) {
      q[b] = m.q_ah * (u(rng) < 0.25 ? 0.65 + 0.35 * u(rng) : std::exp(0.02 * z(rng)));
      r[b] = m.r_ohm * std::exp(0.06 * z(rng));
      e0[b] = 0.02 * z(rng);
      offset[b] = 0.005 * z(rng);
    }
    const double gain = 1.0 + 0.005 * z(rng);
    analysis::StringCapacityEstimator est(kBlocks, m.q_ah);
    TimeMs t = kT0;
    std::vector<double> v(kBlocks);
    for (int event = 1; event <= 3; ++event) {
      const double dod = 0.05 + 0.25 * u(rng);
      const double i = (0.125 + 0.375 * u(rng)) * m.q_ah;
      const auto steps = static_cast<int>(dod * m.q_ah / i * 3600.0 / 10.0);
      double it = 0;
      double i_star = 0;
      for (int k = 0; k <= steps; ++k) {
        i_star += (i - i_star) * (1.0 - std::exp(-10.0 / 30.0));
        for (std::size_t b = 0; b < kBlocks; ++b) {
          bench::Shepherd mb = m;
          mb.e0_v += e0[b];
          mb.r_ohm = r[b];
          if (k_per_capacity) {
            mb.k_ohm = m.k_ohm * m.q_ah / q[b];
          }
          v[b] = mb.voltage(it, i, i_star, q[b]) + offset[b] + 0.001 * z(rng);
        }
        est.update(t, -(gain * i + 0.1 * z(rng)), true, v);
        it += i * 10.0 / 3600.0;
        t += kSampleMs;
      }
      est.update(t, 0.0, false, v);
      t += kDayMs;
      record(out, event, score(q, est));
    }
  }
}

// A quarter of the blocks weak: 65 … 100 % of their capacity (as `age_block` sets it).
void weakenAQuarter(sim::PlantSim& plant, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t s = 0; s < plant.stringCount(); ++s) {
    for (std::size_t b = 0; b < plant.blockCount(s); ++b) {
      if (u(rng) < 0.25) {
        sim::BlockHealth h;
        h.capacity_pct = 65.0 + 35.0 * u(rng);
        (void)plant.setBlockHealth(s, b, h);
      }
    }
  }
}

// The plant's load at `c_rate` (× C per string, at the nominal voltage), as a UPS draws it.
double loadW(const model::PlantConfig& cfg, const model::ChemistryInfo& chem, double c_rate) {
  double load_w = 0;
  for (const auto& sc : cfg.strings) {
    load_w += c_rate * sc.capacity_ah * chem.nominal_voltage_v * sc.block_count;
  }
  return load_w;
}

void runSeed(const Family& f, std::uint64_t seed, Scores& out) {
  const auto cfg = plantFor(f, seed);
  sim::PlantSim plant(cfg, kT0);
  std::mt19937_64 rng(seed * 7919 + 17);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  weakenAQuarter(plant, rng);
  const auto& chem = model::chemistryInfo(f.chemistry);
  std::vector<StringRun> runs;
  for (const auto& sc : cfg.strings) {
    runs.push_back({analysis::StringCapacityEstimator(static_cast<std::size_t>(sc.block_count),
                                                      sc.capacity_ah),
                    analysis::ModeTracker{}, chem.float_v_per_cell * chem.cells_per_block});
  }
  TimeMs t = kT0;
  std::vector<double> v;
  const auto sample = [&] {
    plant.advanceTo(t);
    for (std::size_t s = 0; s < runs.size(); ++s) {
      const double i = plant.measureStringCurrent(s).current_a;
      v.assign(plant.blockCount(s), 0.0);
      double sum = 0;
      for (std::size_t b = 0; b < v.size(); ++b) {
        v[b] = plant.measureModule(s, b).voltage_v;
        sum += v[b];
      }
      const auto m = runs[s].mode.update({t, i, sum / static_cast<double>(v.size()),
                                          runs[s].float_per_block_v, cfg.strings[s].capacity_ah});
      runs[s].est.update(t, i, m == model::StringModeValue::kDischarge, v);
    }
  };
  const auto advance = [&](DurationMs d, DurationMs step) {
    const TimeMs end = t + d;
    while (t < end) {
      t += step;
      sample();
    }
  };
  advance(24 * kHourMs, kMinuteMs);
  for (int event = 1; event <= 3; ++event) {
    const double dod = f.dod_min + (f.dod_max - f.dod_min) * u(rng);
    const double c_rate = 0.125 + 0.375 * u(rng);
    const auto duration = static_cast<DurationMs>(dod / c_rate * 3600.0 * 1000.0);
    plant.startOutage(loadW(cfg, chem, c_rate), duration);
    advance(duration + 5 * kMinuteMs, kSampleMs);
    advance(24 * kHourMs, kMinuteMs);
    for (std::size_t s = 0; s < runs.size(); ++s) {
      record(out, event, score(plant, s, runs[s].est));
    }
  }
}

struct RuntimeScores {
  Stats rms_2, max_2, within_2, rms_3, max_3, within_3;
};

void runRuntimeSeed(const Family& f, std::uint64_t seed, RuntimeScores& out) {
  const auto cfg = plantFor(f, seed);
  sim::PlantSim plant(cfg, kT0);
  std::mt19937_64 rng(seed * 6007 + 29);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  weakenAQuarter(plant, rng);
  const auto& chem = model::chemistryInfo(f.chemistry);
  struct Run {
    analysis::StringCapacityEstimator est;
    analysis::ModeTracker mode;
    analysis::RuntimePredictor runtime;
    analysis::DischargeRecorder recorder;
    double missing_ah = 0.0;  // charge out since the string was last full (floats a day between)
    std::optional<analysis::DischargeRecord> done;
  };
  std::vector<Run> runs;
  for (const auto& sc : cfg.strings) {
    const auto n = static_cast<std::size_t>(sc.block_count);
    runs.push_back({analysis::StringCapacityEstimator(n, sc.capacity_ah), analysis::ModeTracker{},
                    analysis::RuntimePredictor(f.chemistry, sc.capacity_ah),
                    analysis::DischargeRecorder(f.chemistry, n), 0.0, std::nullopt});
  }
  TimeMs t = kT0;
  TimeMs last_t = t;
  std::vector<double> v;
  std::vector<analysis::RuntimeBlock> rb;
  std::vector<analysis::DischargeSweepBlock> db;
  const auto sample = [&] {
    plant.advanceTo(t);
    for (std::size_t s = 0; s < runs.size(); ++s) {
      auto& run = runs[s];
      const double nominal = cfg.strings[s].capacity_ah;
      const double i = plant.measureStringCurrent(s).current_a;
      v.assign(plant.blockCount(s), 0.0);
      rb.resize(v.size());
      db.resize(v.size());
      double sum = 0;
      for (std::size_t b = 0; b < v.size(); ++b) {
        const auto m = plant.measureModule(s, b);
        v[b] = m.voltage_v;
        sum += v[b];
        const auto& cap = run.est.blocks()[b];
        const double c_ah = cap.events > 0 ? cap.capacity_ah : nominal;
        const double charge = 1.0 - run.missing_ah / c_ah;
        rb[b] = {c_ah, charge, m.temperature_c};
        db[b] = {m.voltage_v, m.temperature_c, 100.0 * charge};
      }
      const auto mode = run.mode.update({t, i, sum / static_cast<double>(v.size()),
                                         chem.float_v_per_cell * chem.cells_per_block, nominal});
      const bool discharging = mode == model::StringModeValue::kDischarge;
      if (discharging) {
        run.missing_ah += std::max(0.0, -i) * static_cast<double>(t - last_t) / kHourMs;
      } else if (mode == model::StringModeValue::kFloat) {
        run.missing_ah = 0.0;  // a day in float between outages: full again
      }
      run.est.update(t, i, discharging, v);
      run.runtime.update(t, i, discharging, rb);
      std::optional<analysis::RuntimePoint> point;
      if (const auto& r = run.runtime.runtime(); r && r->on_battery) {
        point = analysis::RuntimePoint{t, 0.0, r->seconds, static_cast<int>(r->weakest) + 1};
      }
      if (auto done = run.recorder.update(t, discharging, i, sum, db, point)) {
        run.done = std::move(done);
      }
    }
    last_t = t;
  };
  const auto advance = [&](DurationMs d, DurationMs step) {
    const TimeMs end = t + d;
    while (t < end) {
      t += step;
      sample();
    }
  };
  const auto outage = [&](double c_rate, DurationMs duration) {
    for (auto& run : runs) {
      run.done.reset();
    }
    plant.startOutage(loadW(cfg, chem, c_rate), duration);
    advance(duration + 10 * kMinuteMs, kSampleMs);
  };
  advance(24 * kHourMs, kMinuteMs);
  const double c1 = 0.125 + 0.375 * u(rng);
  outage(c1, static_cast<DurationMs>((0.2 + 0.1 * u(rng)) / c1 * 3600.0 * 1000.0));
  advance(24 * kHourMs, kMinuteMs);
  for (int event = 2; event <= 3; ++event) {
    // C/8 … C/1 (log-uniform); long enough for any string to reach its cut-off.
    const double c_rate = 0.125 * std::pow(8.0, u(rng));
    const double table_h = model::capacityAtRate(f.chemistry, c_rate) / c_rate;
    outage(c_rate, static_cast<DurationMs>(1.3 * table_h * 3600.0 * 1000.0));
    double ss = 0;
    double worst = 0;
    int within = 0;
    int n = 0;
    for (std::size_t s = 0; s < runs.size(); ++s) {
      auto& run = runs[s];
      if (!run.done || !run.done->first_at_end || !run.done->predictedAtHalfS()) {
        continue;
      }
      const double err = 100.0 * (*run.done->predictedAtHalfS() / run.done->actualRuntimeS() - 1.0);
      ss += err * err;
      worst = std::max(worst, std::fabs(err));
      within += std::fabs(err) <= 10.0 ? 1 : 0;
      ++n;
      // The discharge measures the level for the next one.
      if (const auto level = analysis::levelFromDischarge(*run.done, run.est, f.chemistry,
                                                          cfg.strings[s].capacity_ah)) {
        analysis::fuseLevel(run.est, *level, run.done->last_ms);
      }
    }
    if (n > 0) {
      auto& rms = event == 2 ? out.rms_2 : out.rms_3;
      rms.add(std::sqrt(ss / n));
      (event == 2 ? out.max_2 : out.max_3).add(worst);
      (event == 2 ? out.within_2 : out.within_3).add(100.0 * within / n);
    }
    advance(24 * kHourMs, kMinuteMs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 30;
  const char* only = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::max(2, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--family") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--family NAME]\n", argv[0]);
      return 2;
    }
  }
  const auto emitAll = [](const Scores& sc, const nlohmann::json& cond) {
    const auto emit = [&](const char* metric, const Stats& s, const char* unit) {
      bench::emitFigure("analysis", metric, s.mean(), unit, cond, {{"ci95", s.ci95()}});
    };
    emit("capacity_rel_rms_pct_1", sc.rel_rms_1, "%");
    emit("capacity_rel_max_pct_1", sc.rel_max_1, "%");
    emit("capacity_rel_rms_pct_3", sc.rel_rms_3, "%");
    emit("capacity_rel_max_pct_3", sc.rel_max_3, "%");
    emit("capacity_abs_rms_pct_3", sc.abs_rms_3, "%");
    emit("weakest_in_three_pct_1", sc.weakest_1, "%");
    emit("sigma_coverage_pct_3", sc.coverage_3, "%");
    emit("blocks_estimated_pct_1", sc.estimated_1, "%");
  };
  for (const auto& f : kFamilies) {
    if (only != nullptr && std::strcmp(only, f.name) != 0) {
      continue;
    }
    Scores sc;
    for (int k = 0; k < seeds; ++k) {
      runSeed(f, static_cast<std::uint64_t>(1000 + k), sc);
    }
    emitAll(sc, {{"family", f.name},
                 {"seeds", seeds},
                 {"strings", f.strings},
                 {"blocks_per_string", f.blocks},
                 {"capacity_ah", f.capacity_ah},
                 {"dod_pct", std::to_string(static_cast<int>(f.dod_min * 100)) + "-" +
                                 std::to_string(static_cast<int>(f.dod_max * 100))},
                 {"c_rate", "0.125-0.5"},
                 {"weak_blocks", "25 % at 65-100 %"}});
  }
  if (only == nullptr || std::strcmp(only, "runtime-vrla-12v") == 0) {
    RuntimeScores rs;
    for (int k = 0; k < seeds; ++k) {
      runRuntimeSeed(kFamilies[0], static_cast<std::uint64_t>(2000 + k), rs);
    }
    const nlohmann::json cond{{"family", "runtime-vrla-12v"},
                              {"seeds", seeds},
                              {"strings", "2 (one 5 years old, one new)"},
                              {"blocks_per_string", 32},
                              {"c_rate", "0.125-1 (log-uniform), to the cut-off"},
                              {"weak_blocks", "25 % at 65-100 %"}};
    const auto emit = [&](const char* metric, const Stats& st, const char* unit) {
      bench::emitFigure("analysis", metric, st.mean(), unit, cond, {{"ci95", st.ci95()}});
    };
    emit("runtime_half_err_rms_pct_2", rs.rms_2, "%");
    emit("runtime_half_err_max_pct_2", rs.max_2, "%");
    emit("runtime_within_10_pct_2", rs.within_2, "%");
    emit("runtime_half_err_rms_pct_3", rs.rms_3, "%");
    emit("runtime_half_err_max_pct_3", rs.max_3, "%");
    emit("runtime_within_10_pct_3", rs.within_3, "%");
  }
  for (const bool k_per_capacity : {true, false}) {
    const char* name = k_per_capacity ? "datasheet-usf12" : "datasheet-usf12-plate";
    if (only != nullptr && std::strcmp(only, name) != 0) {
      continue;
    }
    const auto sheet = bench::loadDatasheet(
        std::string(EQUALIS_SOURCE_DIR) + "/tests/data/discharge/unidentified-usf12-100a.toml",
        1.0);
    double fit_rms_pct = 0;
    const auto model = bench::fitShepherd(sheet, fit_rms_pct);
    Scores sc;
    for (int k = 0; k < seeds; ++k) {
      runDatasheetSeed(model, k_per_capacity, static_cast<std::uint64_t>(1000 + k), sc);
    }
    emitAll(sc,
            {{"family", name},
             {"weak_block_model", k_per_capacity ? "K scaled with 1/Q (curve follows depth)"
                                                 : "K common (curve follows charge drawn)"},
             {"seeds", seeds},
             {"strings", 2},
             {"blocks_per_string", 32},
             {"model", "Shepherd/Tremblay fitted to " + sheet.model + " constant-current tables"},
             {"fit",
              {{"e0_v", model.e0_v},
               {"k_ohm", model.k_ohm},
               {"q_ah", model.q_ah},
               {"r_ohm", model.r_ohm},
               {"points", sheet.points.size()},
               {"time_rms_pct", fit_rms_pct}}},
             {"dod_pct", "5-30"},
             {"c_rate", "0.125-0.5"},
             {"weak_blocks", "25 % at 65-100 %"}});
  }
  return 0;
}
