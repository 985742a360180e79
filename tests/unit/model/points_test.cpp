#include "model/points.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace equalis::model {
namespace {

TEST(Points, NamesAreUniqueAndScoped) {
  std::set<std::string_view> names;
  for (const auto& p : catalogue()) {
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
    const auto prefix = std::string(scopeName(p.scope)) + ".";
    EXPECT_EQ(p.name.substr(0, prefix.size()), prefix) << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_EQ(&point(p.id), &p);
    EXPECT_EQ(findPoint(p.name), &p);
  }
  EXPECT_EQ(findPoint("block.nonsense"), nullptr);
}

// Units in names: a float point with a unit ends with the unit's suffix.
TEST(Points, QuantityNamesCarryTheirUnit) {
  const std::pair<std::string_view, std::string_view> suffix_for_unit[] = {
      {"V", "_v"},   {"A", "_a"},    {"°C", "_c"}, {"mΩ", "_mohm"},         {"%", "_pct"},
      {"kW", "_kw"}, {"ms", "_ms"},  {"W", "_w"},  {"Wh/d", "_wh_per_day"}, {"mV", "_mv"},
      {"s", "_s"},   {"a", "_years"}};
  for (const auto& p : catalogue()) {
    if (p.unit.empty()) {
      continue;
    }
    bool found = false;
    for (const auto& [unit, suffix] : suffix_for_unit) {
      if (p.unit == unit) {
        found = true;
        EXPECT_TRUE(p.name.ends_with(suffix)) << p.name << " has unit " << p.unit;
      }
    }
    EXPECT_TRUE(found) << "unit " << p.unit << " of " << p.name << " has no naming rule";
  }
}

TEST(Points, EnumValues) {
  EXPECT_EQ(enumName(PointId::kStringMode, 0), "float");
  EXPECT_EQ(enumName(PointId::kStringMode, 2), "discharge");
  EXPECT_EQ(enumName(PointId::kStringMode, 9), "");
  EXPECT_EQ(enumValue(PointId::kBlockEqualizationLevel, "boost"), 5);
  EXPECT_EQ(enumValue(PointId::kBlockStatus, "nope"), -1);
}

// Seed bands: OFF, ECO+ 1–20 %, ECO 21–40 %, normal 41–60 %, power 61–80 %, boost > 80 %.
TEST(Points, EqualizationBands) {
  EXPECT_EQ(equalizationLevelFor(0), EqualizationLevel::kOff);
  EXPECT_EQ(equalizationLevelFor(1), EqualizationLevel::kEcoPlus);
  EXPECT_EQ(equalizationLevelFor(20), EqualizationLevel::kEcoPlus);
  EXPECT_EQ(equalizationLevelFor(21), EqualizationLevel::kEco);
  EXPECT_EQ(equalizationLevelFor(50), EqualizationLevel::kNormal);
  EXPECT_EQ(equalizationLevelFor(61), EqualizationLevel::kPower);
  EXPECT_EQ(equalizationLevelFor(81), EqualizationLevel::kBoost);
  EXPECT_EQ(equalizationLevelFor(100), EqualizationLevel::kBoost);
}

// docs/points.md is generated from the catalogue; it must not drift.
TEST(Points, DocumentationMatchesCatalogue) {
  std::ifstream in(std::string(EQUALIS_SOURCE_DIR) + "/docs/points.md");
  ASSERT_TRUE(in) << "docs/points.md missing; run: make docs";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), catalogueMarkdown())
      << "docs/points.md is out of date; run: build/bin/equalisctl points --markdown > "
         "docs/points.md";
}

}  // namespace
}  // namespace equalis::model
