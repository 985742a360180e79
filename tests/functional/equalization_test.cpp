// The equalization controller closing the loop on the simulated plant (ground truth from the sim).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "analysis/analysis.hpp"
#include "control/equalizer.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::control {
namespace {

struct Spread {
  double displayed_v = 0;
  double true_v = 0;
};

// Runs one string of `plant` under the equalizer for `duration_ms`, sweeping every 10 s.
// Returns the spreads (max |V − mean|) at the end; prints a trace every `print_every_ms`.
class Loop {
 public:
  Loop(model::PlantConfig plant, std::size_t string_index)
      : plant_(std::move(plant)),
        s_(string_index),
        sim_(plant_, 0),
        eq_(plant_.strings[s_], plant_.equalization) {}

  Spread run(DurationMs duration_ms) {
    const TimeMs end = t_ + duration_ms;
    Spread sp;
    while (t_ < end) {
      t_ += 10 * kSecondMs;
      sim_.advanceTo(t_);
      sp = step();
    }
    return sp;
  }

  // Runs until the displayed spread stays below `limit_v`; returns the time it took (or −1).
  DurationMs timeTo(double limit_v, DurationMs max_ms) {
    const TimeMs start = t_;
    while (t_ - start < max_ms) {
      if (run(10 * kSecondMs).displayed_v < limit_v) {
        return t_ - start;
      }
    }
    return -1;
  }

  Spread step() {
    const auto& cfg = plant_.strings[s_];
    const std::size_t n = static_cast<std::size_t>(cfg.block_count);
    StringInput in;
    in.time_ms = t_;
    const auto cur = sim_.measureStringCurrent(s_);
    in.current_a = cur.current_a;
    in.mode_valid = true;
    in.voltage_v.resize(n);
    in.valid.assign(n, true);
    double sum_meas = 0;
    double sum_true = 0;
    std::vector<double> truth(n);
    for (std::size_t b = 0; b < n; ++b) {
      in.voltage_v[b] = sim_.measureModule(s_, b).voltage_v;
      truth[b] = sim_.blockTruth(s_, b).voltage_v;
      sum_meas += in.voltage_v[b];
      sum_true += truth[b];
    }
    in.mode = analysis::classifyMode(in.current_a, cfg.capacity_ah, sum_meas / n,
                                     in.target_v = analysis::targetVoltagePerBlockV(cfg, 25.0));
    const auto& duties = eq_.update(in);
    for (std::size_t b = 0; b < n; ++b) {
      sim_.setBypassDuty(s_, b, duties[b]);
    }
    Spread sp;
    for (std::size_t b = 0; b < n; ++b) {
      sp.displayed_v = std::max(sp.displayed_v, std::abs(in.voltage_v[b] - sum_meas / n));
      sp.true_v = std::max(sp.true_v, std::abs(truth[b] - sum_true / n));
    }
    return sp;
  }

  sim::PlantSim& sim() { return sim_; }
  StringEqualizer& equalizer() { return eq_; }

 private:
  model::PlantConfig plant_;
  std::size_t s_;
  sim::PlantSim sim_;
  StringEqualizer eq_;
  TimeMs t_ = 0;
};

model::PlantConfig quiet() {
  auto p = model::demoPlant();
  p.simulation.ups.outages = false;
  p.equalization.settle_ms = 0;
  return p;
}

TEST(Equalization, NewStringReachesTenMillivoltsWithinFourHours) {
  Loop loop(quiet(), 1);
  const auto before = loop.run(kHourMs / 6);
  EXPECT_GT(before.displayed_v, 0.02);
  const DurationMs took = loop.timeTo(0.010, 4 * kHourMs);
  std::printf("new string: ±%.3f V → ±10 mV displayed in %.2f h\n", before.displayed_v,
              static_cast<double>(took) / kHourMs);
  ASSERT_GT(took, 0);
  // And it stays there.
  const auto later = loop.run(6 * kHourMs);
  EXPECT_LT(later.displayed_v, 0.012);
  EXPECT_EQ(loop.equalizer().state(), EqualizerState::kBalancing);
}

// A string whose weakest blocks need more float current than a module can bypass (§1.4
// feasibility) is brought as close as the 150 mA allow, with the high blocks at full bypass.
TEST(Equalization, OldStringNarrowsWithinBypassAuthority) {
  auto plant = quiet();
  plant.equalization.enabled = false;
  Loop free_run(plant, 0);
  const auto unbalanced = free_run.run(kDayMs);
  Loop loop(quiet(), 0);
  const auto balanced = loop.run(kDayMs);
  std::printf("old string: ±%.3f V free, ±%.3f V equalized\n", unbalanced.displayed_v,
              balanced.displayed_v);
  EXPECT_LT(balanced.displayed_v, 0.5 * unbalanced.displayed_v);
  int saturated = 0;
  for (double d : loop.equalizer().duties()) {
    saturated += d > 0.99 ? 1 : 0;
  }
  EXPECT_GT(saturated, 0);
}

TEST(Equalization, PausedDuringDischargeAndUntilSettled) {
  auto plant = quiet();
  plant.equalization.settle_ms = 30 * kMinuteMs;
  Loop loop(plant, 1);
  loop.run(2 * kHourMs);
  ASSERT_EQ(loop.equalizer().state(), EqualizerState::kBalancing);
  loop.sim().startOutage(20'000.0, 10 * kMinuteMs);
  loop.run(2 * kMinuteMs);
  EXPECT_EQ(loop.equalizer().state(), EqualizerState::kPausedDischarge);
  for (double d : loop.equalizer().duties()) {
    EXPECT_EQ(d, 0.0);
  }
  loop.run(8 * kMinuteMs + 30 * kSecondMs);
  // Recharge (charge mode) and the first 30 min of float: still waiting.
  loop.run(5 * kMinuteMs);
  EXPECT_NE(loop.equalizer().state(), EqualizerState::kBalancing);
  loop.run(3 * kHourMs);
  EXPECT_EQ(loop.equalizer().state(), EqualizerState::kBalancing);
}

TEST(Equalization, PauseWindowStopsBleeding) {
  auto plant = quiet();
  plant.equalization.pauses.push_back({2 * kHourMs, 3 * kHourMs});
  Loop loop(plant, 1);
  loop.run(2 * kHourMs + kMinuteMs);
  EXPECT_EQ(loop.equalizer().state(), EqualizerState::kPausedSchedule);
  for (double d : loop.equalizer().duties()) {
    EXPECT_EQ(d, 0.0);
  }
  loop.run(kHourMs);
  EXPECT_EQ(loop.equalizer().state(), EqualizerState::kBalancing);
}

}  // namespace
}  // namespace equalis::control

namespace equalis::control {
namespace {

// Seeds: "defective/old batteries can be replaced – allowing new and old to be operated
// together". Four blocks of a 1-year-old string are replaced by new ones (fully charged: they
// float high with their lower float current); equalization holds the mixed string at target.
TEST(Equalization, MixedOldAndNewBlocksStayAtTarget) {
  auto plant = quiet();
  plant.strings[0].age_years = 1.0;
  auto free_plant = plant;
  free_plant.equalization.enabled = false;
  Spread spread[2];
  for (int on = 0; on < 2; ++on) {
    Loop loop(on == 1 ? plant : free_plant, 0);
    loop.run(kHourMs);
    for (std::size_t b : {3u, 10u, 18u, 26u}) {
      ASSERT_TRUE(loop.sim().replaceBlock(0, b, 1.0).ok());
    }
    spread[on] = loop.run(12 * kHourMs);
  }
  std::printf("mixed string: ±%.3f V free, ±%.3f V equalized (displayed)\n", spread[0].displayed_v,
              spread[1].displayed_v);
  EXPECT_LT(spread[1].displayed_v, 0.015);
  EXPECT_LT(spread[1].displayed_v, 0.2 * spread[0].displayed_v);
}

}  // namespace
}  // namespace equalis::control
