#include "model/chemistry.hpp"

#include <gtest/gtest.h>

#include "model/plant.hpp"

namespace equalis::model {
namespace {

// Module figures from the seed datasheets (000: BACS 4 C24/C44, BACS 3 C20/C30/C41; 001: C23/C40).
TEST(ModuleTypes, SeedFigures) {
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC24).bypass_current_a, 0.15);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC44).bypass_current_a, 0.85);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC40).bypass_current_a, 0.9);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC23).bypass_current_a, 0.12);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC30).bypass_current_a, 0.3);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC44).ri_max_mohm, 6.0);
  EXPECT_DOUBLE_EQ(moduleTypeInfo(ModuleType::kC20).voltage_min_v, 9.7);
  for (const auto& m : moduleTypes()) {
    EXPECT_LT(m.voltage_min_v, m.voltage_max_v) << m.key;
    EXPECT_LT(m.ri_min_mohm, m.ri_max_mohm) << m.key;
    // ≈ 2 W per module at full bypass (battery-science.md §0).
    EXPECT_NEAR(m.bypass_power_max_w, 2.0, 0.55) << m.key;
  }
}

TEST(Chemistry, ParseAndFloatInsideModuleRange) {
  EXPECT_EQ(parseChemistry("vrla-12v"), Chemistry::kVrla12V);
  EXPECT_EQ(parseChemistry("lead"), std::nullopt);
  EXPECT_EQ(parseModuleType("c24"), ModuleType::kC24);
  EXPECT_EQ(parseModuleType("C99"), std::nullopt);
  const auto& vrla = chemistryInfo(Chemistry::kVrla12V);
  const double float_v = vrla.float_v_per_cell * vrla.cells_per_block;
  EXPECT_NEAR(float_v, 13.62, 0.01);
  EXPECT_GT(float_v, moduleTypeInfo(ModuleType::kC24).voltage_min_v);
  EXPECT_LT(float_v, moduleTypeInfo(ModuleType::kC24).voltage_max_v);
}

TEST(DemoPlant, TwoStringsOfThirtyTwo) {
  const auto p = demoPlant();
  ASSERT_EQ(p.strings.size(), 2u);
  EXPECT_EQ(p.moduleCount(), 64);
  EXPECT_GT(p.strings[0].age_years, p.strings[1].age_years);
  EXPECT_EQ(p.strings[0].chemistry, Chemistry::kVrla12V);
  EXPECT_DOUBLE_EQ(p.strings[0].capacity_ah, 100.0);
  EXPECT_DOUBLE_EQ(p.ambient.temperature_c, 25.0);
}

}  // namespace
}  // namespace equalis::model
