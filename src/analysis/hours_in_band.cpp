#include "analysis/hours_in_band.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace equalis::analysis {

namespace {

constexpr const char* kFormat = "equalis-hours-in-band";
constexpr int kFormatVersion = 1;
constexpr double kYearS = 365.25 * 24.0 * 3600.0;

template <std::size_t N>
std::size_t bandOf(const std::array<double, N>& edges, double x) {
  return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
}

Error bandError(const std::string& what) {
  return makeError(ErrorCode::kInvalidArgument, "hours in band: " + what);
}

}  // namespace

double designLifeYears(model::Chemistry c) {
  switch (c) {
    case model::Chemistry::kVrla12V:
      return 10.0;
    case model::Chemistry::kVrla2V:
    case model::Chemistry::kLiFePO4:
      return 15.0;
    case model::Chemistry::kVented2V:
    case model::Chemistry::kNiCd:
      return 20.0;
  }
  return 10.0;
}

BandHours::BandHours(std::size_t blocks, model::Chemistry chemistry)
    : chemistry_(chemistry),
      cells_(model::chemistryInfo(chemistry).cells_per_block),
      blocks_(blocks) {}

void BandHours::update(TimeMs t_ms, std::span<const double> voltage_v,
                       std::span<const double> temperature_c, double target_v_per_block) {
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    auto& blk = blocks_[b];
    const double v = b < voltage_v.size() ? voltage_v[b] : std::nan("");
    const double t_c = b < temperature_c.size() ? temperature_c[b] : std::nan("");
    if (!std::isfinite(v) && !std::isfinite(t_c)) {
      continue;
    }
    const TimeMs gap = blk.last_ms > 0 ? t_ms - blk.last_ms : 0;
    blk.last_ms = t_ms;
    if (gap <= 0 || gap > kMaxGapMs) {
      continue;
    }
    const double dt_s = static_cast<double>(gap) / 1000.0;
    if (std::isfinite(t_c)) {
      blk.temperature_s[bandOf(kTemperatureEdgesC, t_c)] += dt_s;
      blk.observed_s += dt_s;
      blk.life_25c_s += dt_s * std::exp2((t_c - 25.0) / kHalvingK);
    }
    if (std::isfinite(v) && std::isfinite(target_v_per_block)) {
      const double dev_mv_per_cell = 1000.0 * (v - target_v_per_block) / cells_;
      blk.voltage_s[bandOf(kVoltageEdgesMvPerCell, dev_mv_per_cell)] += dt_s;
    }
  }
}

double BandHours::lifeUsedPct(std::size_t b) const {
  return 100.0 * blocks_.at(b).life_25c_s / (designLifeYears(chemistry_) * kYearS);
}

double BandHours::ageingFactor(std::size_t b) const {
  const auto& blk = blocks_.at(b);
  return blk.observed_s > 0.0 ? blk.life_25c_s / blk.observed_s : std::nan("");
}

std::string BandHours::serialize(TimeMs as_of_ms) const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  j["time_ms"] = as_of_ms;
  j["chemistry"] = std::string(model::chemistryInfo(chemistry_).key);
  auto& list = j["blocks"] = nlohmann::json::array();
  for (const auto& b : blocks_) {
    list.push_back({{"t", b.temperature_s},
                    {"v", b.voltage_s},
                    {"observed_s", b.observed_s},
                    {"life_25c_s", b.life_25c_s}});
  }
  return j.dump() + "\n";
}

Result<BandHours> BandHours::deserialize(std::string_view text, std::size_t blocks,
                                         model::Chemistry chemistry) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bandError("not JSON");
  }
  const auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kFormat) {
    return bandError("not an hours-in-band record (format)");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kFormatVersion) {
    return bandError("unsupported version");
  }
  const auto chem = j.find("chemistry");
  if (chem == j.end() || !chem->is_string() ||
      chem->get<std::string>() != model::chemistryInfo(chemistry).key) {
    return bandError("written for another chemistry");
  }
  const auto list = j.find("blocks");
  if (list == j.end() || !list->is_array() || list->size() != blocks) {
    return bandError("'blocks' must list " + std::to_string(blocks) + " blocks");
  }
  BandHours out(blocks, chemistry);
  const auto seconds = [](const nlohmann::json& x) {
    return x.is_number() && std::isfinite(x.get<double>()) && x.get<double>() >= 0.0;
  };
  for (std::size_t b = 0; b < blocks; ++b) {
    const auto& o = (*list)[b];
    const auto where = " (block " + std::to_string(b + 1) + ")";
    if (!o.is_object() || !o.contains("t") || !o.contains("v") || !o["t"].is_array() ||
        !o["v"].is_array() || o["t"].size() != kTemperatureBands ||
        o["v"].size() != kVoltageBands) {
      return bandError("'t' and 'v' must be arrays of " + std::to_string(kTemperatureBands) +
                       " and " + std::to_string(kVoltageBands) + " seconds" + where);
    }
    auto& blk = out.blocks_[b];
    for (std::size_t k = 0; k < kTemperatureBands; ++k) {
      if (!seconds(o["t"][k])) {
        return bandError("band seconds must be numbers ≥ 0" + where);
      }
      blk.temperature_s[k] = o["t"][k].get<double>();
    }
    for (std::size_t k = 0; k < kVoltageBands; ++k) {
      if (!seconds(o["v"][k])) {
        return bandError("band seconds must be numbers ≥ 0" + where);
      }
      blk.voltage_s[k] = o["v"][k].get<double>();
    }
    if (!o.contains("observed_s") || !seconds(o["observed_s"]) || !o.contains("life_25c_s") ||
        !seconds(o["life_25c_s"])) {
      return bandError("'observed_s' and 'life_25c_s' must be numbers ≥ 0" + where);
    }
    blk.observed_s = o["observed_s"].get<double>();
    blk.life_25c_s = o["life_25c_s"].get<double>();
  }
  return out;
}

Result<BandHours> BandHours::deserialize(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bandError("not JSON");
  }
  const auto chem = j.find("chemistry");
  const auto list = j.find("blocks");
  if (chem == j.end() || !chem->is_string() || list == j.end() || !list->is_array() ||
      list->empty()) {
    return bandError("no 'chemistry' or 'blocks'");
  }
  const auto c = model::parseChemistry(chem->get<std::string>());
  if (!c) {
    return bandError("unknown chemistry '" + chem->get<std::string>() + "'");
  }
  return deserialize(text, list->size(), *c);
}

}  // namespace equalis::analysis
