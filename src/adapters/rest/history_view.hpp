// History replies of the REST API that take more than one store query or some analysis: a
// string's block pattern on one time axis and its recorded discharges (docs/api.md). Internal
// to the REST server's sources; the documents are rendered here so that they can be tested
// without a server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "adapters/rest/json_writer.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/discharge_report.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "history/store.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"

namespace equalis::rest {

// The recorded point of `scope` named `field` ("voltage_v"), null when none is recorded.
const model::PointDef* historyPoint(model::Scope scope, const std::string& field);
// "voltage_v, temperature_c, …": the recorded fields of a scope, for error messages.
std::string quantityList(model::Scope scope);

// Members "count", "times_ms", "values" and "quality" of a series (what chart libraries take):
// values null where there is none, enum names for enum points; quality "ok" when every point is,
// else one name per point.
void writeSeries(JsonWriter& w, const std::vector<history::SeriesPoint>& points, model::PointId id);

// Members "times_ms" and "blocks": [{"block": 1, "values": […]}, …] (blocks 1-based).
void writeBlockMatrix(JsonWriter& w, const history::BlockMatrix& m);

// GET /api/v1/strings/{n}/blocks/history: the document for string `string_index` (0-based).
// max_points: every snapshot of the range read, then downsampled to at most max_points; without
// it, at most `limit` snapshots (the oldest of the range, as the series' limit).
Result<std::string> blockPatternDocument(const history::Store& store, int string_index,
                                         history::BlockQuantity q, const model::PointDef& def,
                                         TimeMs from_ms, TimeMs to_ms, std::size_t limit,
                                         std::optional<std::size_t> max_points);

// How far the discharge routes look before `from` and after `to` for the start and the end of
// a discharge that crosses them, in windows of kDischargeLookWindowMs.
inline constexpr DurationMs kDischargeLookWindowMs = 6 * kHourMs;
inline constexpr DurationMs kDischargeLookMaxMs = 2 * kDayMs;
// The window of a discharge's details around [start, end].
inline constexpr DurationMs kDischargeBeforeMs = 10 * kMinuteMs;
inline constexpr DurationMs kDischargeAfterMs = kHourMs;
inline constexpr std::size_t kDischargeDefaultPoints = 2000;

// The discharges of a string (0-based) that overlap [from_ms, to_ms], oldest first, with their
// true start and end (read beyond the range, up to kDischargeLookMaxMs; never after now_ms).
Result<std::vector<analysis::DischargeSpan>> recordedDischarges(const history::Store& store,
                                                                int string_index, TimeMs from_ms,
                                                                TimeMs to_ms, TimeMs now_ms);

// GET /api/v1/strings/{n}/discharges: {"string", "from", "to", "discharges": […newest first]}.
// Each discharge with its report's summary ("report"; null without one) from `reports`
// (discharge_report_view.hpp).
Result<std::string> dischargeListDocument(const history::Store& store,
                                          const model::PlantConfig& plant, int string_index,
                                          TimeMs from_ms, TimeMs to_ms, TimeMs now_ms,
                                          const std::vector<analysis::DischargeRecord>& reports);

// GET /api/v1/strings/{n}/discharges/{id}: nullopt when no discharge started at id_ms.
Result<std::optional<std::string>> dischargeDetailDocument(
    const history::Store& store, const model::PlantConfig& plant, int string_index, TimeMs id_ms,
    TimeMs now_ms, std::size_t max_points, const std::vector<analysis::DischargeRecord>& reports);

}  // namespace equalis::rest
