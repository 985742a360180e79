#include "adapters/rest/metrics.hpp"

#include <regex>
#include <set>

#include <gtest/gtest.h>

namespace equalis::rest {
namespace {

using model::PointId;
using model::Quality;

TEST(Metrics, NamesAreUniqueValidAndInBaseUnits) {
  const std::regex valid("^equalis_(system|string|block)_[a-z0-9_]+$");
  std::set<std::string> names;
  for (const auto& def : model::catalogue()) {
    const auto m = metricName(def);
    EXPECT_TRUE(std::regex_match(m.name, valid)) << m.name;
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate " << m.name;
    EXPECT_FALSE(m.name.ends_with("_count")) << m.name;  // reserved for histograms
  }
  EXPECT_EQ(metricName(model::point(PointId::kBlockVoltageV)).name, "equalis_block_voltage_volts");
  EXPECT_EQ(metricName(model::point(PointId::kBlockRiMohm)).name, "equalis_block_ri_ohms");
  EXPECT_DOUBLE_EQ(metricName(model::point(PointId::kBlockRiMohm)).factor, 1e-3);
  EXPECT_EQ(metricName(model::point(PointId::kStringPowerKw)).name, "equalis_string_power_watts");
  EXPECT_TRUE(metricName(model::point(PointId::kSystemSweepCount)).counter);
}

TEST(Metrics, StaleValuesAreAbsentAndBlockIsDown) {
  auto plant = model::demoPlant();
  state::StateStore store({32, 32}, 30'000);
  {
    state::StateStore::Writer w(store);
    w.set(PointId::kBlockVoltageV, 0, 0, {13.612, 100'000, Quality::kOk});
    w.set(PointId::kBlockVoltageV, 0, 1, {13.5, 10'000, Quality::kOk});  // stale by now
    w.set(PointId::kBlockRiMohm, 0, 0, {5.5, 100'000, Quality::kOk});
    w.set(PointId::kStringMode, 1, 0, {2, 100'000, Quality::kOk});
  }
  state::StateStore::Reader r(store, 110'000);
  const std::string text = renderMetrics(plant, r);
  EXPECT_NE(text.find("equalis_block_voltage_volts{string=\"1\",block=\"1\"} 13.612\n"),
            std::string::npos);
  EXPECT_EQ(text.find("equalis_block_voltage_volts{string=\"1\",block=\"2\"}"), std::string::npos);
  EXPECT_NE(text.find("equalis_block_ri_ohms{string=\"1\",block=\"1\"} 0.0055\n"),
            std::string::npos);
  EXPECT_NE(text.find("equalis_block_up{string=\"1\",block=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("equalis_block_up{string=\"1\",block=\"2\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("equalis_string_mode{string=\"2\",mode=\"discharge\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("equalis_string_mode{string=\"2\",mode=\"float\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace equalis::rest
