// Block health scored against the simulator's truth (docs/analysis.md, "Health of every block",
// "Measured figures").
//
// Each seed: one string of 32 × 12 V 100 Ah VRLA blocks (C24 modules), 4.5 … 7 years old at the
// start, with the simulator's per-block ageing scatter (lognormal rate multipliers of its four
// mechanisms), module and current-sensor errors, a room at 25 °C ± 3 K over the day. It is
// watched for four years: an IEEE 450 capacity test (C/10 to the end voltage) at the start and
// every year, a mains failure every 30 days (10 … 30 % of C at C/4 … C/2, constant power), float
// in between. In the second year a connector of one random block loosens for three days. The
// analysis sees what the controller sees (module readings every 10 minutes in float, every 10 s
// in a discharge; the string current; the mode from analysis::ModeTracker) and runs the
// controller's chain: StringCapacityEstimator, CapacityTestDetector and anchorFromTest,
// HealthTracker. The scorer reads the truth's capacity of every block once a day.
//
// Figures (means over seeds with 95 % intervals):
//   warned_6_months_ahead_pct   blocks whose true capacity crosses 80 % (of nominal) after the
//                               first year: warned at least 182 days before the crossing
//   warning_lead_days_median    the median lead of those warnings
//   false_warnings_per_100_block_years
//                               warnings of blocks still above 80 % two years later (per block-
//                               year in which such a warning can be judged)
//   rul_median_err_pct          |predicted − true| / true remaining life to 80 %, median over
//                               quarterly checks of blocks that cross within the run
//   rul_median_abs_err_years    the same in years
//   rul_interval_cover_pct      how often the 80 % interval holds the true remaining life
//   soh_rms_pct, soh_bias_pct   RMS and mean of block.soh_pct − the true C10 capacity (the
//                               charge content × kC10DeliveredFraction), yearly checks
//   soh_content_rms_pct         the same against the charge content itself
//   ri_step_detect_h            hours from the connector loosening to block.ri_rise_25c_pct ≥ 20
//   ri_false_alarms_per_100_block_years
//                               block.ri_rise_25c_pct ≥ 20 without a loose connector while the
//                               true Ri at 25 °C has risen < 10 % since the baseline
//
// Usage: equalis-bench-health [--seeds N] [--years Y]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "analysis/block_capacity.hpp"
#include "analysis/capacity_test.hpp"
#include "analysis/health.hpp"
#include "analysis/median.hpp"
#include "analysis/mode.hpp"
#include "bench_json.hpp"
#include "bench_stats.hpp"
#include "model/chemistry.hpp"
#include "model/plant.hpp"
#include "sim/fault.hpp"
#include "sim/plant_sim.hpp"

using namespace equalis;

namespace {

using bench::Stats;

constexpr TimeMs kT0 = 1'767'225'600'000;  // 2026-01-01
constexpr double kYearMs = 365.25 * kDayMs;
constexpr double kEolPct = 80.0;
constexpr DurationMs kLeadMs = static_cast<DurationMs>(0.5 * kYearMs);
// A warning says "80 % within about a year": false when the block is still above 80 % two years
// later.
constexpr DurationMs kFalseHorizonMs = static_cast<DurationMs>(2.0 * kYearMs);
// The truth's capacity_ah is a block's charge content (C10_i of its SOC); what an IEEE 450 test
// measures — the charge delivered at C/10 to 1.75 V/cell, the capacity that SOH and the 80 % rule
// are about — is less: 9.63 h at 10 A for a new 100 Ah block (docs/simulator.md, "Calibration").
// The scorer puts the truth on that scale; soh_content_rms_pct is against the charge content.
constexpr double kC10DeliveredFraction = 0.963;

struct Scores {
  Stats warned, lead_days, false_rate, rul_err, rul_abs_err, rul_cover, soh_rms, soh_bias,
      soh_content_rms, ri_detect_h, ri_false;
  int crossings = 0;
  int warned_total = 0;
  int false_total = 0;
  double block_years = 0;
};

void runSeed(std::uint64_t seed, double years, Scores& out) {
  std::mt19937_64 rng(seed * 104729 + 3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto cfg = model::demoPlant();
  cfg.simulation.seed = seed;
  cfg.simulation.ups.outages = false;
  cfg.io = {};
  cfg.ambient.temperature_c = 25.0;
  cfg.ambient.daily_swing_c = 3.0;
  auto sc = cfg.strings.at(0);
  sc.name = "String 1";
  sc.block_count = 32;
  sc.age_years = 4.5 + 2.5 * u(rng);
  cfg.strings = {sc};
  const auto& chem = model::chemistryInfo(sc.chemistry);
  const double nominal = sc.capacity_ah;
  const std::size_t n = static_cast<std::size_t>(sc.block_count);

  const bool debug = std::getenv("EQUALIS_BENCH_DEBUG") != nullptr;
  sim::PlantSim plant(cfg, kT0);
  analysis::StringCapacityEstimator est(n, nominal);
  analysis::CapacityTestDetector tests(sc.chemistry, n, nominal);
  analysis::ModeTracker modes;
  analysis::HealthTracker health(n, sc.chemistry);

  TimeMs t = kT0;
  const TimeMs end = kT0 + static_cast<TimeMs>(years * kYearMs);
  std::vector<double> v(n), temps(n), ri(n), eq(n, 0.0);
  // What the scorer keeps: the truth once a day, the warnings and quarterly remaining-life checks.
  std::vector<TimeMs> crossing(n, 0);
  std::vector<TimeMs> first_warning(n, 0);
  std::vector<TimeMs> warnings;  // every raise, with its block
  std::vector<std::size_t> warning_blocks;
  struct RulCheck {
    TimeMs t;
    std::size_t b;
    double rul, low, high;
    double soh, truth_pct;
    std::string basis;
  };
  std::vector<RulCheck> rul_checks;
  std::vector<double> soh_err;
  std::vector<double> soh_content_err;
  std::vector<double> baseline_truth_ohm(n, 0.0);
  std::vector<bool> ri_alarm(n, false);
  int ri_false = 0;
  // The loose connector: a random block, some time in the second year, for three days.
  const std::size_t loose_block = static_cast<std::size_t>(u(rng) * static_cast<double>(n)) % n;
  const TimeMs loose_on = kT0 + static_cast<TimeMs>((1.0 + 0.9 * u(rng)) * kYearMs);
  const TimeMs loose_off = loose_on + 3 * kDayMs;
  bool loose = false;
  TimeMs loose_seen = 0;

  const auto contentPct = [&](std::size_t b) {
    return 100.0 * plant.blockTruth(0, b).capacity_ah / nominal;
  };
  const auto truthPct = [&](std::size_t b) { return kC10DeliveredFraction * contentPct(b); };
  const auto sample = [&] {
    plant.advanceTo(t);
    if (!loose && t >= loose_on && t < loose_off) {
      (void)plant.injectFault(0, loose_block, sim::makeFault(sim::FaultKind::kLooseConnector));
      loose = true;
    } else if (loose && t >= loose_off) {
      (void)plant.clearFault(0, loose_block, sim::FaultKind::kLooseConnector);
      loose = false;
    }
    const double i = plant.measureStringCurrent(0).current_a;
    double sum = 0;
    for (std::size_t b = 0; b < n; ++b) {
      const auto m = plant.measureModule(0, b);
      v[b] = m.voltage_v;
      temps[b] = m.temperature_c;
      ri[b] = m.ri_ohm * 1000.0;
      sum += v[b];
    }
    const auto mode = modes.update({t, i, sum / static_cast<double>(n),
                                    chem.float_v_per_cell * chem.cells_per_block, nominal});
    const bool discharging = mode == model::StringModeValue::kDischarge;
    const auto event = est.update(t, i, discharging, v);
    bool changed = event.has_value();
    if (const auto r = tests.update(t, i, discharging, v, temps)) {
      changed = analysis::anchorFromTest(est, *r) > 0 || changed;
      if (debug) {
        for (std::size_t b = 0; b < n; ++b) {
          if (r->block_capacity_ah[b]) {
            std::fprintf(stderr,
                         "test t=%.2f b%zu measured %.1f truth %.1f rel %.3f level %.1f T %.1f\n",
                         static_cast<double>(t - kT0) / kYearMs, b + 1, *r->block_capacity_ah[b],
                         plant.blockTruth(0, b).capacity_ah, est.blocks()[b].relative,
                         est.level().capacity_ah, r->mean_temperature_c);
          }
        }
      }
    }
    health.update(t, mode == model::StringModeValue::kFloat, ri, temps, v, eq);
    if (changed) {
      std::vector<double> rel(n, std::nan("")), sig(n, std::nan(""));
      for (std::size_t b = 0; b < n; ++b) {
        if (est.blocks()[b].events > 0) {
          rel[b] = est.blocks()[b].relative;
          sig[b] = est.blocks()[b].relative_sigma;
        }
      }
      const auto& level = est.level();
      std::vector<double> event_rel;
      std::vector<double> event_sig;
      if (event) {
        analysis::eventRelatives(*event, event_rel, event_sig);
      }
      health.noteCapacity(
          t, rel, sig, level.anchored ? 100.0 * level.capacity_ah / nominal : std::nan(""),
          level.anchored ? 100.0 * level.sigma_ah / nominal : std::nan(""), event_rel, event_sig);
    }
    for (std::size_t b = 0; b < n; ++b) {
      const auto& view = health.block(b);
      if (view.warning && first_warning[b] == 0) {
        first_warning[b] = t;
      }
      if (std::isfinite(view.ri_baseline_25c_mohm) && baseline_truth_ohm[b] == 0.0) {
        baseline_truth_ohm[b] = plant.blockTruth(0, b).ri_ref_ohm;
      }
      const bool alarm = view.ri_rise_25c_pct >= 20.0;
      if (alarm && !ri_alarm[b]) {
        if (b == loose_block && t >= loose_on && t < loose_off + 6 * kHourMs) {
          if (loose_seen == 0) {
            loose_seen = t;
          }
        } else if (baseline_truth_ohm[b] > 0 &&
                   plant.blockTruth(0, b).ri_ref_ohm < 1.1 * baseline_truth_ohm[b]) {
          ri_false += 1;
        }
      }
      ri_alarm[b] = alarm;
    }
    for (const std::size_t b : health.warningsChanged()) {
      if (health.block(b).warning) {
        warnings.push_back(t);
        warning_blocks.push_back(b);
        if (debug) {
          const auto& w = health.block(b);
          std::fprintf(
              stderr,
              "raise b%zu t=%.2f soh %.1f±%.1f truth %.1f rul %.2f %s slope %.2f [%.2f %.2f]\n",
              b + 1, static_cast<double>(t - kT0) / kYearMs, w.soh_pct, w.soh_sigma_pct,
              truthPct(b), w.rul_years, w.rul_basis.c_str(), w.soh_trend.slope, w.soh_trend.lo,
              w.soh_trend.hi);
        }
      }
    }
  };
  const auto advance = [&](DurationMs d, DurationMs step) {
    const TimeMs stop = std::min(end, t + d);
    while (t < stop) {
      t += step;
      sample();
    }
  };
  const auto capacityTest = [&] {
    if (debug) {
      double soc = 0;
      for (std::size_t b = 0; b < n; ++b) {
        soc += plant.blockTruth(0, b).soc / static_cast<double>(n);
      }
      std::fprintf(stderr, "test start t=%.2f mean true SOC %.4f\n",
                   static_cast<double>(t - kT0) / kYearMs, soc);
    }
    plant.setDischargeCurrent(0, 0.1 * nominal);
    for (int k = 0; k < 14 * 360 && !plant.lowVoltageCutOff(0); ++k) {
      t += 10 * kSecondMs;
      sample();
    }
    plant.setDischargeCurrent(0, 0.0);
    advance(10 * kMinuteMs, 10 * kSecondMs);
  };

  TimeMs next_test = kT0 + 7 * kDayMs;
  TimeMs next_outage = kT0 + 12 * kDayMs;
  TimeMs next_check = kT0 + static_cast<TimeMs>(0.5 * kYearMs);
  TimeMs next_soh = kT0 + static_cast<TimeMs>(1.0 * kYearMs);
  TimeMs next_truth = kT0;
  while (t < end) {
    if (t >= next_truth) {
      next_truth += kDayMs;
      for (std::size_t b = 0; b < n; ++b) {
        if (crossing[b] == 0 && truthPct(b) < kEolPct) {
          crossing[b] = t;
        }
      }
    }
    if (t >= next_check) {
      next_check += static_cast<TimeMs>(0.25 * kYearMs);
      for (std::size_t b = 0; b < n; ++b) {
        const auto& view = health.block(b);
        if (truthPct(b) > kEolPct && std::isfinite(view.rul_years)) {
          rul_checks.push_back({t, b, view.rul_years, view.rul_low_years, view.rul_high_years,
                                view.soh_pct, truthPct(b), view.rul_basis});
        }
      }
    }
    if (t >= next_soh) {
      next_soh += static_cast<TimeMs>(kYearMs);
      for (std::size_t b = 0; b < n; ++b) {
        if (std::isfinite(health.block(b).soh_pct)) {
          soh_err.push_back(health.block(b).soh_pct - truthPct(b));
          soh_content_err.push_back(health.block(b).soh_pct - contentPct(b));
        }
      }
    }
    if (t >= next_test) {
      next_test += static_cast<TimeMs>(kYearMs);
      capacityTest();
      advance(2 * kDayMs, 10 * kMinuteMs);
      continue;
    }
    if (t >= next_outage) {
      next_outage += 30 * kDayMs;
      const double dod = 0.1 + 0.2 * u(rng);
      const double c_rate = 0.25 + 0.25 * u(rng);
      const auto duration = static_cast<DurationMs>(dod / c_rate * 3600.0 * 1000.0);
      plant.startOutage(c_rate * nominal * chem.nominal_voltage_v * static_cast<double>(n),
                        duration);
      advance(duration + 5 * kMinuteMs, 10 * kSecondMs);
      advance(12 * kHourMs, kMinuteMs);
      continue;
    }
    advance(kHourMs, 10 * kMinuteMs);
  }

  // Scores.
  int eligible = 0;
  int warned_ahead = 0;
  std::vector<double> leads;
  for (std::size_t b = 0; b < n; ++b) {
    if (crossing[b] == 0 || crossing[b] < kT0 + static_cast<TimeMs>(kYearMs)) {
      continue;
    }
    ++eligible;
    if (first_warning[b] > 0 && first_warning[b] <= crossing[b] - kLeadMs) {
      ++warned_ahead;
    }
    if (debug) {
      std::fprintf(
          stderr, "cross b%zu at %.2f warned %.2f\n", b + 1,
          static_cast<double>(crossing[b] - kT0) / kYearMs,
          first_warning[b] > 0 ? static_cast<double>(first_warning[b] - kT0) / kYearMs : -1.0);
    }
    if (first_warning[b] > 0 && first_warning[b] < crossing[b]) {
      leads.push_back(static_cast<double>(crossing[b] - first_warning[b]) / kDayMs);
    }
  }
  out.crossings += eligible;
  out.warned_total += warned_ahead;
  if (eligible > 0) {
    out.warned.add(100.0 * warned_ahead / eligible);
  }
  out.lead_days.add(analysis::median(leads));
  int false_warnings = 0;
  for (std::size_t k = 0; k < warnings.size(); ++k) {
    const std::size_t b = warning_blocks[k];
    const TimeMs horizon = warnings[k] + kFalseHorizonMs;
    const bool crossed_in_time = crossing[b] > 0 && crossing[b] <= horizon;
    if (!crossed_in_time && horizon <= end) {
      ++false_warnings;
    }
    if (debug) {
      std::fprintf(stderr, "warn b%zu t=%.2f crossing %.2f %s: %s\n", b + 1,
                   static_cast<double>(warnings[k] - kT0) / kYearMs,
                   crossing[b] > 0 ? static_cast<double>(crossing[b] - kT0) / kYearMs : -1.0,
                   !crossed_in_time && horizon <= end ? "FALSE" : "",
                   health.block(b).evidence.c_str());
    }
  }
  // Block-years in which a false warning could be raised and judged.
  const double judged_years = std::max(0.0, years - kFalseHorizonMs / kYearMs);
  out.false_total += false_warnings;
  out.block_years += judged_years * static_cast<double>(n);
  if (judged_years > 0) {
    out.false_rate.add(100.0 * false_warnings / (judged_years * static_cast<double>(n)));
  }
  std::vector<double> errs;
  std::vector<double> abs_errs;
  int covered = 0;
  int judged = 0;
  for (const auto& c : rul_checks) {
    if (crossing[c.b] == 0 || crossing[c.b] <= c.t) {
      continue;
    }
    const double truth = static_cast<double>(crossing[c.b] - c.t) / kYearMs;
    if (debug) {
      std::fprintf(stderr,
                   "rul b%zu t=%.2f soh %.1f truth %.1f basis %s rul %.2f [%.2f %.2f] true %.2f\n",
                   c.b + 1, static_cast<double>(c.t - kT0) / kYearMs, c.soh, c.truth_pct,
                   c.basis.c_str(), c.rul, c.low, c.high, truth);
    }
    errs.push_back(100.0 * std::fabs(c.rul - truth) / truth);
    abs_errs.push_back(std::fabs(c.rul - truth));
    covered += (truth >= c.low && truth <= c.high) ? 1 : 0;
    ++judged;
  }
  out.rul_err.add(analysis::median(errs));
  out.rul_abs_err.add(analysis::median(abs_errs));
  if (judged > 0) {
    out.rul_cover.add(100.0 * covered / judged);
  }
  double ss = 0;
  for (double e : soh_err) {
    ss += e * e;
  }
  if (!soh_err.empty()) {
    out.soh_rms.add(std::sqrt(ss / static_cast<double>(soh_err.size())));
    double content_ss = 0;
    double bias = 0;
    for (double e : soh_content_err) {
      content_ss += e * e;
    }
    for (double e : soh_err) {
      bias += e;
    }
    out.soh_content_rms.add(std::sqrt(content_ss / static_cast<double>(soh_content_err.size())));
    out.soh_bias.add(bias / static_cast<double>(soh_err.size()));
  }
  out.ri_detect_h.add(loose_seen > 0 ? static_cast<double>(loose_seen - loose_on) / kHourMs
                                     : std::nan(""));
  out.ri_false.add(100.0 * ri_false / (years * static_cast<double>(n)));
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 30;
  double years = 4.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::max(2, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--years") == 0 && i + 1 < argc) {
      years = std::max(2.0, std::atof(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--years Y]\n", argv[0]);
      return 2;
    }
  }
  Scores sc;
  for (int k = 0; k < seeds; ++k) {
    runSeed(static_cast<std::uint64_t>(3000 + k), years, sc);
  }
  const nlohmann::json cond{{"family", "health-vrla-12v"},
                            {"seeds", seeds},
                            {"years", years},
                            {"strings", 1},
                            {"blocks_per_string", 32},
                            {"age_at_start_years", "4.5-7"},
                            {"capacity_tests", "C/10 at the start and yearly"},
                            {"outages", "every 30 days, 10-30 % of C at C/4-C/2"},
                            {"crossings", sc.crossings},
                            {"warned_6_months_ahead", sc.warned_total},
                            {"false_warnings", sc.false_total},
                            {"judged_block_years", sc.block_years}};
  const auto emit = [&](const char* metric, const Stats& s, const char* unit) {
    bench::emitFigure("health", metric, s.mean(), unit, cond,
                      {{"ci95", s.ci95()}, {"seeds_with_value", s.v.size()}});
  };
  emit("warned_6_months_ahead_pct", sc.warned, "%");
  emit("warning_lead_days_median", sc.lead_days, "d");
  emit("false_warnings_per_100_block_years", sc.false_rate, "");
  emit("rul_median_err_pct", sc.rul_err, "%");
  emit("rul_median_abs_err_years", sc.rul_abs_err, "a");
  emit("rul_interval_cover_pct", sc.rul_cover, "%");
  emit("soh_rms_pct", sc.soh_rms, "%");
  emit("soh_bias_pct", sc.soh_bias, "%");
  emit("soh_content_rms_pct", sc.soh_content_rms, "%");
  emit("ri_step_detect_h", sc.ri_detect_h, "h");
  emit("ri_false_alarms_per_100_block_years", sc.ri_false, "");
  return 0;
}
