#include "adapters/rest/json_view.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

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

namespace {

// The displayed value of a sample: null when there is none, an enum's name, an integer, or a
// number rounded to one digit more than the catalogue displays.
void writeDisplayedValue(JsonWriter& w, PointId id, const state::Sample& sample) {
  const auto& def = model::point(id);
  const bool has_value = sample.quality != model::Quality::kNotPresent && sample.time_ms > 0 &&
                         std::isfinite(sample.value);
  if (!has_value) {
    w.null();
  } else if (def.type == model::PointType::kEnum) {
    w.value(model::enumName(id, static_cast<int>(sample.value)));
  } else if (def.type == model::PointType::kInt) {
    w.value(static_cast<std::int64_t>(std::llround(sample.value)));
  } else {
    w.value(roundTo(sample.value, def.decimals));
  }
}

}  // namespace

void writeValue(JsonWriter& w, PointId id, const state::Sample& sample, TimeMs now_ms) {
  w.beginObject().key("value");
  writeDisplayedValue(w, id, sample);
  w.member("quality", model::qualityName(sample.quality));
  if (sample.time_ms > 0) {
    w.member("time", formatIso8601(sample.time_ms));
    w.member("age_s", static_cast<double>(now_ms - sample.time_ms) / 1000.0);
  } else {
    w.key("time").null().key("age_s").null();
  }
  w.endObject();
}

void writePoints(JsonWriter& w, const state::StateStore::Reader& r, Scope scope, std::size_t s,
                 std::size_t b) {
  for (const auto& def : model::catalogue()) {
    if (def.scope != scope) {
      continue;
    }
    w.key(def.field());
    switch (scope) {
      case Scope::kSystem:
        writeValue(w, def.id, r.get(def.id), r.nowMs());
        break;
      case Scope::kString:
        writeValue(w, def.id, r.get(def.id, s), r.nowMs());
        break;
      default:
        writeValue(w, def.id, r.get(def.id, s, b), r.nowMs());
    }
  }
}

void writeStringMembers(JsonWriter& w, const model::PlantConfig& plant,
                        const state::StateStore::Reader& r, std::size_t s) {
  const auto& cfg = plant.strings.at(s);
  w.member("string", static_cast<std::uint64_t>(s + 1));
  w.member("name", cfg.name);
  w.member("chemistry", model::chemistryInfo(cfg.chemistry).key);
  w.member("module_type", model::moduleTypeInfo(cfg.module_type).key);
  w.member("block_count", cfg.block_count);
  w.member("capacity_ah", cfg.capacity_ah);
  writePoints(w, r, Scope::kString, s);
}

void writeBlock(JsonWriter& w, const state::StateStore::Reader& r, std::size_t s, std::size_t b) {
  w.beginObject();
  w.member("block", static_cast<std::uint64_t>(b + 1));
  writePoints(w, r, Scope::kBlock, s, b);
  model::Quality q = model::Quality::kOk;
  TimeMs measured_ms = 0;
  for (const PointId id :
       {PointId::kBlockVoltageV, PointId::kBlockTemperatureC, PointId::kBlockRiMohm}) {
    const auto sample = r.get(id, s, b);
    q = worst(q, sample.quality);
    measured_ms = std::max(measured_ms, sample.time_ms);
  }
  w.member("quality", model::qualityName(q));
  w.key("age_s");
  if (measured_ms > 0) {
    w.value(static_cast<double>(r.nowMs() - measured_ms) / 1000.0);
  } else {
    w.null();
  }
  w.endObject();
}

void writeBlocks(JsonWriter& w, const model::PlantConfig& plant, const state::StateStore::Reader& r,
                 std::size_t s) {
  w.beginArray();
  for (int b = 0; b < plant.strings.at(s).block_count; ++b) {
    writeBlock(w, r, s, static_cast<std::size_t>(b));
  }
  w.endArray();
}

std::string stringsDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().member("time", formatIso8601(r.nowMs())).key("strings").beginArray();
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    w.beginObject();
    writeStringMembers(w, plant, r, s);
    w.endObject();
  }
  w.endArray().endObject();
  return out;
}

std::string stringDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                           std::size_t s) {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  writeStringMembers(w, plant, r, s);
  w.endObject();
  return out;
}

std::string blocksDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                           std::size_t s) {
  std::string out;
  out.reserve(static_cast<std::size_t>(plant.strings.at(s).block_count) * 1400);
  JsonWriter w(out);
  w.beginObject()
      .member("string", static_cast<std::uint64_t>(s + 1))
      .member("name", plant.strings.at(s).name)
      .member("time", formatIso8601(r.nowMs()))
      .key("blocks");
  writeBlocks(w, plant, r, s);
  w.endObject();
  return out;
}

std::string statusDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r) {
  std::string out;
  std::size_t blocks = 0;
  for (const auto& cfg : plant.strings) {
    blocks += static_cast<std::size_t>(cfg.block_count);
  }
  out.reserve(blocks * 1400 + 4096);
  JsonWriter w(out);
  w.beginObject().member("time", formatIso8601(r.nowMs())).member("time_ms", r.nowMs());
  // System points (room environment, alarm counts) for the status page.
  w.key("system").beginObject();
  writePoints(w, r, Scope::kSystem);
  w.endObject().key("strings").beginArray();
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    w.beginObject();
    writeStringMembers(w, plant, r, s);
    w.key("blocks");
    writeBlocks(w, plant, r, s);
    w.endObject();
  }
  w.endArray().endObject();
  return out;
}

std::string blockDocument(const state::StateStore::Reader& r, std::size_t s, std::size_t b) {
  std::string block;
  JsonWriter inner(block);
  writeBlock(inner, r, s, b);
  // {"block": …} with "string" added last, as before.
  block.pop_back();
  block += ",\"string\":" + std::to_string(s + 1) + "}";
  return block;
}

namespace {

// The displayed value of a sample, as writeValue() writes it.
std::string displayedValue(PointId id, const state::Sample& sample) {
  std::string out;
  JsonWriter w(out);
  writeDisplayedValue(w, id, sample);
  return out;
}

ViewedPoint viewed(PointId id, const state::Sample& sample) {
  return {displayedValue(id, sample), sample.quality, sample.time_ms};
}

std::vector<PointId> pointsOf(Scope scope) {
  std::vector<PointId> ids;
  for (const auto& def : model::catalogue()) {
    if (def.scope == scope) {
      ids.push_back(def.id);
    }
  }
  return ids;
}

const std::vector<PointId>& systemPoints() {
  static const auto ids = pointsOf(Scope::kSystem);
  return ids;
}
const std::vector<PointId>& stringPoints() {
  static const auto ids = pointsOf(Scope::kString);
  return ids;
}
const std::vector<PointId>& blockPoints() {
  static const auto ids = pointsOf(Scope::kBlock);
  return ids;
}

// The time most block points of field `f` of a string changed to (0: none changed).
TimeMs commonTime(const ViewedString& before, const ViewedString& after, std::size_t f) {
  std::vector<TimeMs> times;
  for (std::size_t b = 0; b < after.blocks.size(); ++b) {
    const TimeMs t = after.blocks[b][f].time_ms;
    if (b >= before.blocks.size() || before.blocks[b][f].time_ms != t) {
      times.push_back(t);
    }
  }
  if (times.empty()) {
    return 0;
  }
  std::sort(times.begin(), times.end());
  TimeMs best = times.front();
  std::size_t best_run = 0;
  for (std::size_t i = 0; i < times.size();) {
    std::size_t j = i;
    while (j < times.size() && times[j] == times[i]) {
      ++j;
    }
    if (j - i > best_run) {
      best_run = j - i;
      best = times[i];
    }
    i = j;
  }
  return best;
}

}  // namespace

ViewedPlant viewedPlant(const model::PlantConfig& plant, const state::StateStore::Reader& r) {
  ViewedPlant v;
  for (const PointId id : systemPoints()) {
    v.system.push_back(viewed(id, r.get(id)));
  }
  v.strings.resize(plant.strings.size());
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    auto& vs = v.strings[s];
    for (const PointId id : stringPoints()) {
      vs.points.push_back(viewed(id, r.get(id, s)));
    }
    vs.blocks.resize(static_cast<std::size_t>(plant.strings[s].block_count));
    for (std::size_t b = 0; b < vs.blocks.size(); ++b) {
      vs.blocks[b].reserve(blockPoints().size());
      for (const PointId id : blockPoints()) {
        vs.blocks[b].push_back(viewed(id, r.get(id, s, b)));
      }
    }
  }
  return v;
}

std::string deltaDocument(const model::PlantConfig& plant, const state::StateStore::Reader& r,
                          const ViewedPlant& before, const ViewedPlant& after, std::uint64_t seq) {
  const TimeMs now = r.nowMs();
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .member("seq", seq)
      .member("time", formatIso8601(now))
      .member("time_ms", now)
      .key("system")
      .beginObject();
  for (std::size_t i = 0; i < after.system.size(); ++i) {
    if (i >= before.system.size() || !(before.system[i] == after.system[i])) {
      const PointId id = systemPoints()[i];
      w.key(model::point(id).field());
      writeValue(w, id, r.get(id), now);
    }
  }
  w.endObject().key("strings").beginArray();
  const auto& block_ids = blockPoints();
  for (std::size_t s = 0; s < after.strings.size() && s < plant.strings.size(); ++s) {
    const ViewedString empty;
    const ViewedString& was = s < before.strings.size() ? before.strings[s] : empty;
    const ViewedString& now_s = after.strings[s];
    std::string body;  // the string's members after "string": empty when nothing changed
    JsonWriter sw(body);
    sw.beginObject();
    for (std::size_t i = 0; i < now_s.points.size(); ++i) {
      if (i >= was.points.size() || !(was.points[i] == now_s.points[i])) {
        const PointId id = stringPoints()[i];
        sw.key(model::point(id).field());
        writeValue(sw, id, r.get(id, s), now);
      }
    }
    // The time each block field was measured at: unlisted points take it.
    std::vector<TimeMs> field_time(block_ids.size(), 0);
    bool any_time = false;
    for (std::size_t f = 0; f < block_ids.size(); ++f) {
      field_time[f] = commonTime(was, now_s, f);
      any_time = any_time || field_time[f] != 0;
    }
    if (any_time) {
      sw.key("blocks_time").beginObject();
      for (std::size_t f = 0; f < block_ids.size(); ++f) {
        if (field_time[f] != 0) {
          sw.member(model::point(block_ids[f]).field(), formatIso8601(field_time[f]));
        }
      }
      sw.endObject();
    }
    bool any_block = false;
    for (std::size_t b = 0; b < now_s.blocks.size(); ++b) {
      bool open = false;
      for (std::size_t f = 0; f < block_ids.size(); ++f) {
        const ViewedPoint& p = now_s.blocks[b][f];
        const bool known = b < was.blocks.size();
        // What the viewer would hold if this point were not listed.
        ViewedPoint held = known ? was.blocks[b][f] : ViewedPoint{};
        if (field_time[f] != 0) {
          held.time_ms = field_time[f];
        }
        if (known && held == p) {
          continue;
        }
        if (!any_block) {
          sw.key("blocks").beginArray();
          any_block = true;
        }
        if (!open) {
          sw.beginObject().member("block", static_cast<std::uint64_t>(b + 1));
          open = true;
        }
        // Only what differs from what the viewer holds: the value and quality, the time when
        // it is not the field's time (ages follow from the times).
        sw.key(model::point(block_ids[f]).field()).beginObject().key("value").raw(p.value);
        sw.member("quality", model::qualityName(p.quality));
        if (!known || held.time_ms != p.time_ms) {
          sw.key("time");
          if (p.time_ms > 0) {
            sw.value(formatIso8601(p.time_ms));
          } else {
            sw.null();
          }
        }
        sw.endObject();
      }
      if (open) {
        sw.endObject();
      }
    }
    if (any_block) {
      sw.endArray();
    }
    sw.endObject();
    if (body.size() > 2) {
      w.beginObject().member("string", static_cast<std::uint64_t>(s + 1));
      out += ',';
      out.append(body, 1, body.size() - 2);  // the members, without the braces
      w.endObject();
    }
  }
  w.endArray().endObject();
  return out;
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
