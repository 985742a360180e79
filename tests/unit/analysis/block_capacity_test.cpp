#include "analysis/block_capacity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "analysis/mode.hpp"
#include "model/plant.hpp"
#include "sim/plant_sim.hpp"

namespace equalis::analysis {
namespace {

constexpr TimeMs kT0 = 1'767'225'600'000;
constexpr DurationMs kStepMs = 10'000;

// A synthetic string that is not the simulator: each (12 V) block follows
//   V_b = 12.70 + offset_b − 0.90·D − 0.60·D² − R_b·I_dis,   D = Q / C_b,
// so its voltage falls with its own depth of discharge, plus 1 mV of reading noise.
struct Synthetic {
  std::vector<double> capacity_ah;
  std::vector<double> offset_v;
  std::vector<double> r_ohm;
  std::mt19937 rng{7};
  std::normal_distribution<double> noise{0.0, 0.001};

  explicit Synthetic(std::vector<double> c) : capacity_ah(std::move(c)) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (std::size_t b = 0; b < capacity_ah.size(); ++b) {
      offset_v.push_back(0.05 * u(rng));
      r_ohm.push_back(0.005 * (1.0 + 0.3 * u(rng)));
    }
  }
  std::vector<double> voltages(double q_ah, double i_dis_a) {
    std::vector<double> v(capacity_ah.size());
    for (std::size_t b = 0; b < v.size(); ++b) {
      const double d = q_ah / capacity_ah[b];
      v[b] = 12.70 + offset_v[b] - 0.90 * d - 0.60 * d * d - r_ohm[b] * i_dis_a + noise(rng);
    }
    return v;
  }
  double relativeTruth(std::size_t b) const {
    double inv = 0;
    for (double c : capacity_ah)
      inv += 1.0 / c;
    return capacity_ah[b] * inv / static_cast<double>(capacity_ah.size());
  }
};

// Runs one discharge of `duration_ms` with the current given by `current_of(t_rel_ms)`
// (A, positive = discharge), then one sweep out of discharge. Returns the event.
template <typename F>
std::optional<CapacityEvent> discharge(StringCapacityEstimator& est, Synthetic& plant, TimeMs& t,
                                       DurationMs duration_ms, F current_of) {
  double q = 0;
  const TimeMs start = t;
  while (t - start <= duration_ms) {
    const double i = current_of(t - start);
    est.update(t, -i, true, plant.voltages(q, i));
    q += i * static_cast<double>(kStepMs) / static_cast<double>(kHourMs);
    t += kStepMs;
  }
  const auto e = est.update(t, 5.0, false, plant.voltages(q, 0.0));
  t += kHourMs;
  return e;
}

std::vector<double> capacities() {
  return {100, 95, 102.5, 75, 99, 101, 87.5, 100.5, 99.5, 97.5, 102, 81};
}

TEST(BlockCapacity, FindsEachBlocksCapacityFromAPartialDischarge) {
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  // 20 A (C/5) for 60 min: 20 % of the nominal capacity.
  const auto e = discharge(est, plant, t, kHourMs, [](DurationMs) { return 20.0; });
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->used);
  EXPECT_NEAR(e->ah_out, 20.0, 0.1);
  for (std::size_t b = 0; b < plant.capacity_ah.size(); ++b) {
    const auto& r = est.blocks()[b];
    EXPECT_EQ(r.events, 1) << "block " << b + 1;
    EXPECT_NEAR(r.relative, plant.relativeTruth(b), 0.01) << "block " << b + 1;
    EXPECT_GT(r.relative_sigma, 0.0);
  }
  // The weakest block is found, and the capacities in Ah use the nominal level until anchored.
  const auto weakest =
      std::min_element(est.blocks().begin(), est.blocks().end(),
                       [](const auto& a, const auto& b) { return a.relative < b.relative; }) -
      est.blocks().begin();
  EXPECT_EQ(weakest, 3);
  EXPECT_FALSE(est.level().anchored);
  EXPECT_NEAR(est.blocks()[3].capacity_ah, 100.0 * est.blocks()[3].relative, 1e-9);
  EXPECT_NEAR(est.blocks()[3].capacity_pct, 100.0 * est.blocks()[3].relative, 1e-9);
}

TEST(BlockCapacity, LoadStepsDoNotPassForCapacity) {
  // The load steps between 10 and 30 A every 7 minutes; the blocks' resistances differ by ±30 %,
  // so each step moves each block differently. ΔI as a regressor keeps that out of the slope.
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  const auto e = discharge(est, plant, t, kHourMs, [](DurationMs rel) {
    return (rel / (7 * kMinuteMs)) % 2 == 0 ? 30.0 : 10.0;
  });
  ASSERT_TRUE(e && e->used);
  for (std::size_t b = 0; b < plant.capacity_ah.size(); ++b) {
    EXPECT_NEAR(est.blocks()[b].relative, plant.relativeTruth(b), 0.01) << "block " << b + 1;
  }
}

TEST(BlockCapacity, AShortDischargeTeachesNothing) {
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  // 20 A for 8 minutes: 2.7 % drawn, below the window's start (3 %).
  const auto e = discharge(est, plant, t, 8 * kMinuteMs, [](DurationMs) { return 20.0; });
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->used);
  for (const auto& r : est.blocks()) {
    EXPECT_EQ(r.events, 0);
    EXPECT_DOUBLE_EQ(r.relative, 1.0);
    EXPECT_DOUBLE_EQ(r.relative_sigma, 0.0);
  }
}

TEST(BlockCapacity, ABlockWithoutReadingsGetsNoEstimateAndSpoilsNoOther) {
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  double q = 0;
  for (int k = 0; k <= 360; ++k) {
    auto v = plant.voltages(q, 20.0);
    v[5] = std::nan("");  // block 6 never answers
    if (k % 50 == 7) {
      v[2] = std::nan("");  // block 3 misses a few sweeps
    }
    est.update(t, -20.0, true, v);
    q += 20.0 * 10.0 / 3600.0;
    t += kStepMs;
  }
  const auto e = est.update(t, 0.0, false, plant.voltages(q, 0.0));
  ASSERT_TRUE(e && e->used);
  EXPECT_FALSE(e->blocks[5].valid);
  EXPECT_EQ(est.blocks()[5].events, 0);
  EXPECT_EQ(est.blocks()[2].events, 1);
  // The others are compared with each other: the missing block drops out of the mean.
  double inv = 0;
  int n = 0;
  for (std::size_t b = 0; b < plant.capacity_ah.size(); ++b) {
    if (b != 5) {
      inv += 1.0 / plant.capacity_ah[b];
      ++n;
    }
  }
  for (std::size_t b = 0; b < plant.capacity_ah.size(); ++b) {
    if (b != 5) {
      EXPECT_NEAR(est.blocks()[b].relative, plant.capacity_ah[b] * inv / n, 0.01)
          << "block " << b + 1;
    }
  }
}

TEST(BlockCapacity, EventsAreFusedAndTheUncertaintyShrinks) {
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  ASSERT_TRUE(discharge(est, plant, t, 45 * kMinuteMs, [](DurationMs) { return 25.0; }));
  const double sigma_1 = est.blocks()[0].relative_sigma;
  ASSERT_TRUE(discharge(est, plant, t, 45 * kMinuteMs, [](DurationMs) { return 25.0; }));
  EXPECT_EQ(est.blocks()[0].events, 2);
  EXPECT_LT(est.blocks()[0].relative_sigma, sigma_1 * 0.8);
  EXPECT_NEAR(est.blocks()[3].relative, plant.relativeTruth(3), 0.01);
}

TEST(BlockCapacity, NoFallingVoltageNoEstimate) {
  // A flat voltage (a LiFePO4 plateau read by a coarse module) gives no slope to compare.
  StringCapacityEstimator est(4, 100.0);
  TimeMs t = kT0;
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.002);
  for (int k = 0; k < 300; ++k) {
    est.update(t, -25.0, true,
               std::vector<double>{3.30 + noise(rng), 3.31 + noise(rng), 3.29 + noise(rng),
                                   3.30 + noise(rng)});
    t += kStepMs;
  }
  const auto e = est.update(t, 0.0, false, std::vector<double>(4, 3.3));
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->used);
  EXPECT_EQ(est.blocks()[0].events, 0);
}

TEST(BlockCapacity, SurvivesARestart) {
  Synthetic plant(capacities());
  StringCapacityEstimator est(plant.capacity_ah.size(), 100.0);
  TimeMs t = kT0;
  ASSERT_TRUE(discharge(est, plant, t, kHourMs, [](DurationMs) { return 20.0; }));
  const auto text = est.serialize();
  auto back = StringCapacityEstimator::deserialize(text, plant.capacity_ah.size(), 100.0);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->serialize(), text);
  EXPECT_EQ(back->stringEvents(), 1);
  for (std::size_t b = 0; b < plant.capacity_ah.size(); ++b) {
    EXPECT_DOUBLE_EQ(back->blocks()[b].relative, est.blocks()[b].relative);
    EXPECT_DOUBLE_EQ(back->blocks()[b].relative_sigma, est.blocks()[b].relative_sigma);
    EXPECT_EQ(back->blocks()[b].events, 1);
  }
  // The restored estimator goes on: a second discharge fuses with the first.
  ASSERT_TRUE(discharge(*back, plant, t, kHourMs, [](DurationMs) { return 20.0; }));
  EXPECT_EQ(back->blocks()[0].events, 2);
  EXPECT_EQ(back->stringEvents(), 2);
}

TEST(BlockCapacity, ADamagedOrForeignStateIsRefusedWithAReason) {
  StringCapacityEstimator est(2, 100.0);
  const auto good = est.serialize();
  const auto reason = [](std::string_view text, std::size_t blocks = 2, double nominal = 100.0) {
    const auto r = StringCapacityEstimator::deserialize(text, blocks, nominal);
    return r ? std::string("accepted") : r.error().message;
  };
  EXPECT_EQ(reason(good), "accepted");
  EXPECT_NE(reason(good.substr(0, good.size() / 2)).find("not JSON"), std::string::npos);
  EXPECT_NE(reason(R"({"format":"other"})").find("format"), std::string::npos);
  EXPECT_NE(reason(good, 3).find("written for 2 blocks, the string has 3"), std::string::npos);
  EXPECT_NE(reason(good, 2, 200.0).find("nominal capacity"), std::string::npos);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    const auto pos = t.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return t.replace(pos, from.size(), to);
  };
  EXPECT_NE(reason(with(R"("version":1)", R"("version":2)")).find("version"), std::string::npos);
  EXPECT_NE(reason(with(R"({"events":0,"last_event_ms":0,"w":0.0)",
                        R"({"events":0,"last_event_ms":0,"w":-1.0)"))
                .find("block 1: weight out of range"),
            std::string::npos);
  EXPECT_NE(reason(with(R"({"events":0,"last_event_ms":0,"w":0.0)",
                        R"({"events":1,"last_event_ms":0,"w":0.0)"))
                .find("block 1: weight and event count disagree"),
            std::string::npos);
  EXPECT_NE(reason(with(R"({"events":0,"last_event_ms":0,"w":0.0,"wx":0.0})",
                        R"({"events":1,"last_event_ms":0,"w":100.0,"wx":900.0})"))
                .find("block 1: estimate out of range"),
            std::string::npos);
}

// On the simulated demo plant as `make run` starts it (its 5-year-old string, manufacturing
// scatter, module errors, current-sensor errors), with four blocks set weak, one 25 % outage:
// the estimate sees only module voltages and the measured current.
TEST(BlockCapacity, OnTheDemoPlantsOldString) {
  auto cfg = model::demoPlant();
  cfg.simulation.ups.outages = false;
  sim::PlantSim plant(cfg, kT0);
  const std::size_t s = 0;
  const std::size_t n = plant.blockCount(s);
  for (const auto& [b, pct] :
       std::vector<std::pair<std::size_t, double>>{{4, 72.0}, {11, 80.0}, {20, 85.0}, {27, 68.0}}) {
    sim::BlockHealth h;
    h.capacity_pct = pct;
    ASSERT_TRUE(plant.setBlockHealth(s, b, h).ok());
  }
  StringCapacityEstimator est(n, cfg.strings[s].capacity_ah);
  ModeTracker mode;
  TimeMs t = kT0;
  std::vector<double> v(n);
  const double float_v = cfg.strings[s].charger.float_v_per_cell * 6.0;
  const auto sweep = [&] {
    plant.advanceTo(t);
    const double i = plant.measureStringCurrent(s).current_a;
    double sum = 0;
    for (std::size_t b = 0; b < n; ++b) {
      v[b] = plant.measureModule(s, b).voltage_v;
      sum += v[b];
    }
    const auto m = mode.update({t, i, sum / static_cast<double>(n), float_v, 100.0});
    est.update(t, i, m == model::StringModeValue::kDischarge, v);
  };
  for (int k = 0; k < 12 * 60; ++k, t += kMinuteMs) {
    sweep();
  }
  // 20 kW over both strings ≈ 26 A each (C/4) for 60 min: about 25 % of C.
  plant.startOutage(20'000.0, kHourMs);
  for (int k = 0; k < 6 * 70; ++k, t += kStepMs) {
    sweep();
  }
  std::vector<double> truth(n);
  double inv = 0;
  for (std::size_t b = 0; b < n; ++b) {
    truth[b] = plant.blockTruth(s, b).capacity_ah;
    inv += 1.0 / truth[b];
  }
  double se = 0;
  for (std::size_t b = 0; b < n; ++b) {
    ASSERT_EQ(est.blocks()[b].events, 1) << "block " << b + 1;
    const double rel_true = truth[b] * inv / static_cast<double>(n);
    const double err = est.blocks()[b].relative / rel_true - 1.0;
    se += err * err;
    EXPECT_LT(std::fabs(err), 0.08) << "block " << b + 1;
  }
  EXPECT_LT(std::sqrt(se / static_cast<double>(n)), 0.03);
  // The true four weakest blocks are the four lowest estimates (the string's own ageing scatter
  // decides which block besides the four set weak is next).
  const auto lowest4 = [&](const auto& value) {
    std::vector<std::size_t> order(n);
    for (std::size_t b = 0; b < n; ++b)
      order[b] = b;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return value(a) < value(b); });
    order.resize(4);
    std::sort(order.begin(), order.end());
    return order;
  };
  EXPECT_EQ(lowest4([&](std::size_t b) { return est.blocks()[b].relative; }),
            lowest4([&](std::size_t b) { return truth[b]; }));
}

}  // namespace
}  // namespace equalis::analysis
