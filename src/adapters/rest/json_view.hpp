// JSON views of the state store, shared by the REST endpoints and the live event stream,
// written with the streaming JsonWriter (no object tree). Field names come from the point
// catalogue; every value carries quality, time and age.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/rest/json_writer.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "state/state_store.hpp"

namespace equalis::rest {

// {"value": …, "quality": "ok", "time": "…Z", "age_s": 1.5}; value is null when not present.
void writeValue(JsonWriter& w, model::PointId id, const state::Sample& sample, TimeMs now_ms);
// Every point of `scope` as "field": {value…} members of the object being written (system
// points: string and block indices unused).
void writePoints(JsonWriter& w, const state::StateStore::Reader& r, model::Scope scope,
                 std::size_t string_index = 0, std::size_t block_index = 0);

// The members of a string's object (configuration and string points), without the braces.
void writeStringMembers(JsonWriter& w, const model::PlantConfig& plant,
                        const state::StateStore::Reader& r, std::size_t string_index);
// One block's object: {"block": n, <points>, "quality": worst of V/T/Ri, "age_s": …}.
void writeBlock(JsonWriter& w, const state::StateStore::Reader& r, std::size_t string_index,
                std::size_t block_index);
// The array of every block of a string.
void writeBlocks(JsonWriter& w, const model::PlantConfig& plant, const state::StateStore::Reader& r,
                 std::size_t string_index);

// Documents of GET /api/v1/strings, /strings/{n}, /strings/{n}/blocks, /strings/{n}/blocks/{b}.
std::string stringsDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r);
std::string stringDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                           std::size_t string_index);
std::string blocksDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                           std::size_t string_index);
std::string blockDocument(const state::StateStore::Reader& r, std::size_t string_index,
                          std::size_t block_index);

// GET /api/v1/status and the live "snapshot": the system points and every string with its
// blocks.
std::string statusDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r);

nlohmann::ordered_json catalogueJson();

// ---- Live updates as changes (GET /api/v1/stream, docs/api.md "Live updates")
//
// A viewer gets one full status document ("snapshot"), then "delta" documents that hold only
// what changed since the message before. What the viewer holds is modelled here, so that a
// delta is exact: a point is listed when its displayed value or quality changed, or when its
// time differs from the time its field was measured at in the string (`blocks_time`), which the
// viewer gives every block point not listed.

// One point as a viewer holds it: the displayed value (rounded as in the documents), quality
// and measurement time.
struct ViewedPoint {
  std::string value;  // the JSON of the displayed value ("13.482", "null", "\"float\"")
  model::Quality quality = model::Quality::kNotPresent;
  TimeMs time_ms = 0;
  bool operator==(const ViewedPoint&) const = default;
};

struct ViewedString {
  std::vector<ViewedPoint> points;               // the string's points, catalogue order
  std::vector<std::vector<ViewedPoint>> blocks;  // [block][block point, catalogue order]
};

struct ViewedPlant {
  std::vector<ViewedPoint> system;
  std::vector<ViewedString> strings;
};

// The plant as a viewer of the version `r` holds it.
ViewedPlant viewedPlant(const model::PlantConfig& plant, const state::StateStore::Reader& r);

// The delta document from `before` to `after` (both of `plant`; `after` is the version `r`):
// {"seq": n, "time", "time_ms", "system": {field: value object…}, "strings": [{"string": n,
//  field: value object…, "blocks_time": {field: ISO time…}, "blocks": [{"block": n, field:
//  {"value", "quality"[, "time"]}…}…]}…]}; strings and blocks without changes are left out. A
// block point's object holds what changed; the viewer merges it into the one it holds and
// works out the ages (and a block's quality and age) from the times.
std::string deltaDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                          const ViewedPlant& before, const ViewedPlant& after, std::uint64_t seq);

}  // namespace equalis::rest
