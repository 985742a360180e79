// The report of a recorded discharge (analysis/discharge_record.hpp) as the REST API serves it:
// a summary in the discharge list, the whole report as JSON, one row per block as CSV, and a
// printable HTML page (docs/api.md, "Discharge reports"). The reports are read from the
// controller's discharges-string-N.json, which it rewrites whole (atomically) after each
// discharge.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adapters/rest/json_writer.hpp"
#include "analysis/discharge_record.hpp"
#include "analysis/hours_in_band.hpp"
#include "core/result.hpp"
#include "model/plant.hpp"

namespace equalis::rest {

// The string's reports, oldest first; none when it has no file yet.
Result<std::vector<analysis::DischargeRecord>> loadDischargeReports(const model::PlantConfig& plant,
                                                                    int string_index);

// The report of the discharge that started at `start_ms` (the history's discharge id; the
// report's own start is the same sweep, within kReportMatchMs for a store written late).
inline constexpr DurationMs kReportMatchMs = kMinuteMs;
const analysis::DischargeRecord* findReport(const std::vector<analysis::DischargeRecord>& reports,
                                            TimeMs start_ms);

// The figures of the list: energy, mean and peak current, runtime (actual, predicted at half
// time, left at the end), the first block at the end voltage.
void writeReportSummary(JsonWriter& w, const analysis::DischargeRecord& r);
// The whole report: the summary, the voltage levels with the blocks in the order they reached
// them, per block its voltages, temperatures, charge, capacity and end-of-discharge rank, and the
// runtime predictions through the discharge.
void writeReport(JsonWriter& w, const analysis::DischargeRecord& r,
                 const model::StringConfig& string_cfg);
std::string reportCsv(const analysis::DischargeRecord& r, const model::StringConfig& string_cfg);
std::string reportHtml(const analysis::DischargeRecord& r, const model::StringConfig& string_cfg,
                       const std::string& site_name);
// The Content-Security-Policy of the printable page: no script, no other resource, and its one
// inline stylesheet allowed by its SHA-256 (so the page is styled in a browser and the same file
// saved by `equalisctl report --html` is styled too).
const std::string& reportHtmlPolicy();

// GET /api/v1/strings/{n}/hours-in-band: each block's hours per temperature and voltage band,
// the hours observed, life used and ageing factor (analysis/hours_in_band.hpp); time_ms: when
// the controller wrote them.
std::string hoursInBandDocument(const analysis::BandHours& bands, int string_index, TimeMs time_ms);

}  // namespace equalis::rest
