// JSON views of the state store, shared by the REST endpoints and the live event stream.
// Field names come from the point catalogue; every value carries quality, time and age.
#pragma once

#include <nlohmann/json.hpp>

#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace equalis::rest {

// {"value": …, "quality": "ok", "time": "…Z", "age_s": 1.5}; value is null when not present.
nlohmann::ordered_json valueJson(model::PointId id, const state::Sample& sample, TimeMs now_ms);

nlohmann::ordered_json stringJson(const model::PlantConfig& plant,
                                  const state::StateStore::Reader& r, std::size_t string_index);
nlohmann::ordered_json blockJson(const state::StateStore::Reader& r, std::size_t string_index,
                                 std::size_t block_index);
nlohmann::ordered_json blocksJson(const model::PlantConfig& plant,
                                  const state::StateStore::Reader& r, std::size_t string_index);
nlohmann::ordered_json catalogueJson();

}  // namespace equalis::rest
