#include "adapters/rest/json_view.hpp"

#include <cmath>

#include "model/chemistry.hpp"

namespace equalis::rest {

namespace {

using model::PointId;
using model::Scope;

double roundTo(double v, int decimals) {
  const double f = std::pow(10.0, decimals + 1);  // one digit more than displayed
  return std::round(v * f) / f;
}

// Worst (highest) quality of the measured values of a block.
model::Quality worst(model::Quality a, model::Quality b) {
  return a > b ? a : b;
}

}  // namespace

nlohmann::ordered_json valueJson(PointId id, const state::Sample& sample, TimeMs now_ms) {
  const auto& def = model::point(id);
  nlohmann::ordered_json j;
  const bool has_value = sample.quality != model::Quality::kNotPresent && sample.time_ms > 0 &&
                         std::isfinite(sample.value);
  if (!has_value) {
    j["value"] = nullptr;
  } else if (def.type == model::PointType::kEnum) {
    j["value"] = std::string(model::enumName(id, static_cast<int>(sample.value)));
  } else if (def.type == model::PointType::kInt) {
    j["value"] = static_cast<std::int64_t>(std::llround(sample.value));
  } else {
    j["value"] = roundTo(sample.value, def.decimals);
  }
  j["quality"] = std::string(model::qualityName(sample.quality));
  if (sample.time_ms > 0) {
    j["time"] = formatIso8601(sample.time_ms);
    j["age_s"] = static_cast<double>(now_ms - sample.time_ms) / 1000.0;
  } else {
    j["time"] = nullptr;
    j["age_s"] = nullptr;
  }
  return j;
}

nlohmann::ordered_json stringJson(const model::PlantConfig& plant,
                                  const state::StateStore::Reader& r, std::size_t s) {
  const auto& cfg = plant.strings.at(s);
  nlohmann::ordered_json j;
  j["string"] = s + 1;
  j["name"] = cfg.name;
  j["chemistry"] = std::string(model::chemistryInfo(cfg.chemistry).key);
  j["module_type"] = std::string(model::moduleTypeInfo(cfg.module_type).key);
  j["block_count"] = cfg.block_count;
  j["capacity_ah"] = cfg.capacity_ah;
  for (const auto& def : model::catalogue()) {
    if (def.scope == Scope::kString) {
      j[std::string(def.field())] = valueJson(def.id, r.get(def.id, s), r.nowMs());
    }
  }
  return j;
}

nlohmann::ordered_json blockJson(const state::StateStore::Reader& r, std::size_t s, std::size_t b) {
  nlohmann::ordered_json j;
  j["block"] = b + 1;
  model::Quality q = model::Quality::kOk;
  TimeMs measured_ms = 0;
  for (const auto& def : model::catalogue()) {
    if (def.scope != Scope::kBlock) {
      continue;
    }
    const auto sample = r.get(def.id, s, b);
    j[std::string(def.field())] = valueJson(def.id, sample, r.nowMs());
    if (def.id == PointId::kBlockVoltageV || def.id == PointId::kBlockTemperatureC ||
        def.id == PointId::kBlockRiMohm) {
      q = worst(q, sample.quality);
      measured_ms = std::max(measured_ms, sample.time_ms);
    }
  }
  j["quality"] = std::string(model::qualityName(q));
  if (measured_ms > 0) {
    j["age_s"] = static_cast<double>(r.nowMs() - measured_ms) / 1000.0;
  } else {
    j["age_s"] = nullptr;
  }
  return j;
}

nlohmann::ordered_json blocksJson(const model::PlantConfig& plant,
                                  const state::StateStore::Reader& r, std::size_t s) {
  nlohmann::ordered_json j;
  j["string"] = s + 1;
  j["name"] = plant.strings.at(s).name;
  j["time"] = formatIso8601(r.nowMs());
  auto& blocks = j["blocks"] = nlohmann::ordered_json::array();
  for (int b = 0; b < plant.strings[s].block_count; ++b) {
    blocks.push_back(blockJson(r, s, static_cast<std::size_t>(b)));
  }
  return j;
}

nlohmann::ordered_json catalogueJson() {
  nlohmann::ordered_json points = nlohmann::ordered_json::array();
  for (const auto& def : model::catalogue()) {
    nlohmann::ordered_json p;
    p["name"] = std::string(def.name);
    p["field"] = std::string(def.field());
    p["scope"] = std::string(model::scopeName(def.scope));
    p["type"] = std::string(model::pointTypeName(def.type));
    p["unit"] = std::string(def.unit);
    p["decimals"] = def.decimals;
    p["protocol_scale"] = def.protocol_scale;
    p["access"] = def.access == model::Access::kRead ? "read" : "read/write";
    p["history"] = def.history;
    if (def.type == model::PointType::kEnum) {
      auto& values = p["values"] = nlohmann::ordered_json::array();
      for (int i = 0; !model::enumName(def.id, i).empty(); ++i) {
        values.push_back(std::string(model::enumName(def.id, i)));
      }
    }
    p["description"] = std::string(def.description);
    points.push_back(std::move(p));
  }
  return nlohmann::ordered_json{{"points", std::move(points)}};
}

}  // namespace equalis::rest
