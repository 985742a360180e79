#include "model/chemistry.hpp"

#include <strings.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace equalis::model {

namespace {

// Sources: battery-science.md §1.1 (float, compensation), §2.4 (OCV), §6.4 (defaults).
constexpr std::array kChemistries = {
    ChemistryInfo{Chemistry::kVrla12V, "vrla-12v", "12 V VRLA block (6 cells)", 6, 12.0, 11.90,
                  12.85, 2.27, 2.20, 2.35, -3.0, 1.75, 7.0, 600.0},
    ChemistryInfo{Chemistry::kVrla2V, "vrla-2v", "2 V VRLA cell", 1, 2.0, 1.98, 2.14, 2.25, 2.20,
                  2.35, -3.0, 1.75, 7.0, 5000.0},
    // Vented (flooded) 2 V lead-acid cell, OPzS: OCV ≈ SG + 0.84 V (§2.4) with SG 1.24 full and
    // 1.10 empty [G: typical OPzS values]; float 2.23 V/cell [G].
    ChemistryInfo{Chemistry::kVented2V, "vented-2v", "2 V vented (flooded) lead-acid cell, OPzS", 1,
                  2.0, 1.94, 2.08, 2.23, 2.18, 2.40, -3.0, 1.75, 50.0, 5000.0},
    ChemistryInfo{Chemistry::kLiFePO4, "lifepo4", "LiFePO4 cell", 1, 3.2, 2.90, 3.32, 3.40, 3.30,
                  3.50, 0.0, 2.80, 5.0, 1000.0},
    ChemistryInfo{Chemistry::kNiCd, "nicd", "NiCd cell", 1, 1.2, 1.00, 1.30, 1.41, 1.38, 1.45, -3.0,
                  1.00, 5.0, 1500.0},
};

// Sources: seeds 000 (BACS 4 C24/C44, BACS 3 C20/C30/C41) and 001 (C23, C40); power cap per
// battery-science.md §0 (≈ 2 W per module at full bypass).
constexpr std::array kModuleTypes = {
    ModuleTypeInfo{ModuleType::kC20, "C20", 3, 9.7, 17.0, 0.5, 60.0, 0.15, 2.1, 0.5, 5.0, 3.0},
    ModuleTypeInfo{ModuleType::kC23, "C23", 3, 9.7, 21.0, 0.5, 60.0, 0.12, 2.2, 0.5, 5.0, 3.0},
    ModuleTypeInfo{ModuleType::kC24, "C24", 4, 8.0, 17.0, 0.5, 60.0, 0.15, 2.1, 0.5, 3.0, 1.0},
    ModuleTypeInfo{ModuleType::kC30, "C30", 3, 4.8, 8.0, 0.5, 60.0, 0.30, 2.0, 0.5, 5.0, 3.0},
    ModuleTypeInfo{ModuleType::kC40, "C40", 3, 1.25, 3.2, 0.02, 6.0, 0.90, 2.1, 0.5, 10.0, 3.0},
    ModuleTypeInfo{ModuleType::kC41, "C41", 3, 2.4, 5.0, 0.5, 30.0, 0.30, 1.5, 0.5, 10.0, 4.0},
    ModuleTypeInfo{ModuleType::kC44, "C44", 4, 0.7, 6.0, 0.02, 6.0, 0.85, 2.0, 0.5, 3.0, 1.0},
};

}  // namespace

double capacityTemperatureFactor(Chemistry c, double temperature_c) {
  struct Point {
    double t_c;
    double factor;
  };
  static constexpr std::array<Point, 4> kLead{
      {{-15.0, 0.65}, {0.0, 0.86}, {25.0, 1.0}, {40.0, 1.03}}};
  static constexpr std::array<Point, 3> kLfp{{{-20.0, 0.50}, {0.0, 0.80}, {25.0, 1.0}}};
  static constexpr std::array<Point, 4> kNiCd{
      {{-20.0, 0.80}, {0.0, 0.95}, {25.0, 1.0}, {45.0, 1.0}}};
  std::span<const Point> t = kLead;
  if (c == Chemistry::kLiFePO4) {
    t = kLfp;
  } else if (c == Chemistry::kNiCd) {
    t = kNiCd;
  }
  if (temperature_c < t[0].t_c) {
    const double slope = (t[1].factor - t[0].factor) / (t[1].t_c - t[0].t_c);
    return std::max(0.3, t[0].factor - slope * (t[0].t_c - temperature_c));
  }
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (temperature_c <= t[i].t_c) {
      const double f = (temperature_c - t[i - 1].t_c) / (t[i].t_c - t[i - 1].t_c);
      return t[i - 1].factor + f * (t[i].factor - t[i - 1].factor);
    }
  }
  return t.back().factor;
}

double capacityAtRate(Chemistry c, double c_rate) {
  // USF12-100A, 100 Ah C10, to 1.75 V/cell at 25 °C: [minutes, A].
  struct Row {
    double minutes;
    double current_a;
  };
  static constexpr std::array<Row, 14> kLead{{{10.0, 216.4},
                                              {15.0, 174.9},
                                              {20.0, 146.9},
                                              {30.0, 112.2},
                                              {45.0, 84.5},
                                              {60.0, 68.0},
                                              {120.0, 39.4},
                                              {180.0, 28.6},
                                              {240.0, 22.9},
                                              {300.0, 18.9},
                                              {360.0, 16.3},
                                              {480.0, 12.7},
                                              {600.0, 10.5},
                                              {1200.0, 5.58}}};
  constexpr double kTableC10Ah = 100.0;
  const double rate = std::max(c_rate, 1e-6);
  if (c == Chemistry::kLiFePO4 || c == Chemistry::kNiCd) {
    const double k = c == Chemistry::kLiFePO4 ? 1.03 : 1.05;
    return std::clamp(std::pow(0.1 / rate, k - 1.0), 0.5, 1.1);
  }
  const auto rate_of = [](const Row& r) { return r.current_a / kTableC10Ah; };
  const auto fraction_of = [](const Row& r) {
    return r.current_a * r.minutes / 60.0 / kTableC10Ah;
  };
  // Rows run from the highest rate to the lowest.
  if (rate >= rate_of(kLead.front())) {
    return fraction_of(kLead.front());
  }
  for (std::size_t i = 1; i < kLead.size(); ++i) {
    if (rate >= rate_of(kLead[i])) {
      const double f =
          std::log(rate / rate_of(kLead[i])) / std::log(rate_of(kLead[i - 1]) / rate_of(kLead[i]));
      return fraction_of(kLead[i]) + f * (fraction_of(kLead[i - 1]) - fraction_of(kLead[i]));
    }
  }
  return fraction_of(kLead.back());
}

std::span<const ChemistryInfo> chemistries() {
  return kChemistries;
}
std::span<const ModuleTypeInfo> moduleTypes() {
  return kModuleTypes;
}

const ChemistryInfo& chemistryInfo(Chemistry c) {
  for (const auto& info : kChemistries) {
    if (info.chemistry == c) {
      return info;
    }
  }
  return kChemistries[0];
}

const ModuleTypeInfo& moduleTypeInfo(ModuleType t) {
  for (const auto& info : kModuleTypes) {
    if (info.type == t) {
      return info;
    }
  }
  return kModuleTypes[0];
}

std::optional<Chemistry> parseChemistry(std::string_view key) {
  for (const auto& info : kChemistries) {
    if (info.key == key) {
      return info.chemistry;
    }
  }
  return std::nullopt;
}

std::optional<ModuleType> parseModuleType(std::string_view key) {
  for (const auto& info : kModuleTypes) {
    if (key.size() == info.key.size() &&
        strncasecmp(key.data(), info.key.data(), key.size()) == 0) {
      return info.type;
    }
  }
  return std::nullopt;
}

}  // namespace equalis::model
