#include "adapters/rest/discharge_report_view.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "analysis/discharge_report.hpp"
#include "model/chemistry.hpp"
#include "persist/files.hpp"

namespace equalis::rest {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// The end-of-discharge ranking at the lowest string voltage (discharge_report.hpp).
analysis::EndOfDischarge ranking(const analysis::DischargeRecord& r,
                                 const model::StringConfig& cfg) {
  std::vector<int> numbers;
  std::vector<double> at;
  for (std::size_t b = 0; b < r.blocks.size(); ++b) {
    numbers.push_back(static_cast<int>(b) + 1);
    at.push_back(r.blocks[b].end_voltage_v);
  }
  return analysis::rankEndOfDischarge(numbers, at,
                                      model::chemistryInfo(cfg.chemistry).nominal_voltage_v);
}

// Per block (0-based): its place in the ranking (1 = lowest; 0 = no value) and its early-collapse
// flag.
struct Ranks {
  std::vector<int> rank;
  std::vector<bool> collapse;
};
Ranks ranksOf(const analysis::EndOfDischarge& eod, std::size_t blocks) {
  Ranks out{std::vector<int>(blocks, 0), std::vector<bool>(blocks, false)};
  for (std::size_t i = 0; i < eod.blocks.size(); ++i) {
    const auto b = static_cast<std::size_t>(eod.blocks[i].block - 1);
    if (b >= blocks) {
      continue;
    }
    if (std::isfinite(eod.blocks[i].voltage_v)) {
      out.rank[b] = static_cast<int>(i) + 1;
    }
    out.collapse[b] = eod.blocks[i].early_collapse;
  }
  return out;
}

// Minutes from the start at which each block reached each level (NaN: never).
std::vector<std::vector<double>> levelMinutes(const analysis::DischargeRecord& r) {
  std::vector<std::vector<double>> m(r.blocks.size(),
                                     std::vector<double>(r.levels_v_per_cell.size(), kNaN));
  for (std::size_t l = 0; l < r.crossings.size(); ++l) {
    for (const auto& c : r.crossings[l]) {
      const auto b = static_cast<std::size_t>(c.block - 1);
      if (b < m.size()) {
        m[b][l] = static_cast<double>(c.time_ms - r.start_ms) / 60000.0;
      }
    }
  }
  return m;
}

std::string csvNumber(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string();
}

std::string htmlNumber(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("—");
}

std::string escapeHtml(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr std::string_view kReportStyle =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}"
    "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;"
    "text-align:right}th{background:#eee}td.l,th.l{text-align:left}"
    "tr.weak td{background:#fde2e2}dl{display:grid;grid-template-columns:max-content auto;"
    "gap:2px 1em}dt{font-weight:600}dd{margin:0}"
    "@media print{body{margin:1cm}tr{break-inside:avoid}}";

std::string minutes(double s) {
  return fmt::format("{:.1f} min", s / 60.0);
}

}  // namespace

const std::string& reportHtmlPolicy() {
  static const std::string policy = [] {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int n = 0;
    EVP_Digest(kReportStyle.data(), kReportStyle.size(), md.data(), &n, EVP_sha256(), nullptr);
    std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
    const int len = EVP_EncodeBlock(b64.data(), md.data(), static_cast<int>(n));
    return fmt::format(
        "default-src 'none'; style-src 'sha256-{}'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'",
        std::string_view(reinterpret_cast<const char*>(b64.data()),
                         static_cast<std::size_t>(std::max(0, len))));
  }();
  return policy;
}

Result<std::vector<analysis::DischargeRecord>> loadDischargeReports(const model::PlantConfig& plant,
                                                                    int string_index) {
  const auto path = persist::dischargeReportsPath(plant, static_cast<std::size_t>(string_index));
  auto text = persist::readFile(path);
  if (!text) {
    return text.error();
  }
  if (!text->has_value()) {
    return std::vector<analysis::DischargeRecord>{};
  }
  auto records = analysis::recordsFromJson(**text);
  if (!records) {
    return makeError(ErrorCode::kIo, path + ": " + records.error().message);
  }
  return records;
}

const analysis::DischargeRecord* findReport(const std::vector<analysis::DischargeRecord>& reports,
                                            TimeMs start_ms) {
  const analysis::DischargeRecord* best = nullptr;
  for (const auto& r : reports) {
    const auto d = std::llabs(r.start_ms - start_ms);
    if (d <= kReportMatchMs && (best == nullptr || d < std::llabs(best->start_ms - start_ms))) {
      best = &r;
    }
  }
  return best;
}

void writeReportSummary(JsonWriter& w, const analysis::DischargeRecord& r) {
  w.member("report_start_ms", static_cast<std::int64_t>(r.start_ms))
      .member("energy_wh", rounded(r.wh_out, 1))
      .member("mean_current_a", rounded(r.meanCurrentA(), 2))
      .member("max_current_a", rounded(r.max_current_a, 2))
      .member("end_v_per_cell", r.end_v_per_cell);
  w.key("first_at_end");
  if (r.first_at_end) {
    w.beginObject()
        .member("block", r.first_at_end->block)
        .member("time_ms", static_cast<std::int64_t>(r.first_at_end->time_ms))
        .member("ah_out", rounded(r.first_at_end->ah_out, 3))
        .endObject();
  } else {
    w.null();
  }
  w.key("runtime").beginObject();
  w.key("actual_s");
  if (r.first_at_end) {
    w.value(rounded(r.actualRuntimeS(), 1));
  } else {
    w.null();
  }
  const auto half = r.predictedAtHalfS();
  w.member("predicted_at_half_s", half ? rounded(*half, 1) : kNaN);
  w.member("error_pct", half && r.actualRuntimeS() > 0.0
                            ? rounded(100.0 * (*half / r.actualRuntimeS() - 1.0), 1)
                            : kNaN);
  const auto first = r.runtime_trace.empty() ? std::optional<double>()
                                             : std::optional(r.runtime_trace.front().remaining_s);
  w.member("predicted_at_start_s", first ? rounded(*first, 1) : kNaN);
  const auto left = r.remainingAtEndS();
  w.member("left_at_end_s", left && !r.first_at_end ? rounded(*left, 1) : kNaN);
  w.endObject();
}

void writeReport(JsonWriter& w, const analysis::DischargeRecord& r,
                 const model::StringConfig& cfg) {
  writeReportSummary(w, r);
  w.member("start", formatIso8601(r.start_ms))
      .member("start_ms", static_cast<std::int64_t>(r.start_ms))
      .member("last_ms", static_cast<std::int64_t>(r.last_ms))
      .member("duration_s", rounded(r.durationS(), 3))
      .member("ah_out", rounded(r.ah_out, 3))
      .member("start_voltage_v", rounded(r.start_voltage_v, 3))
      .member("min_voltage_v", rounded(r.min_voltage_v, 3))
      .member("min_voltage_ms", static_cast<std::int64_t>(r.min_voltage_ms));
  w.key("levels").beginArray();
  for (std::size_t l = 0; l < r.levels_v_per_cell.size(); ++l) {
    w.beginObject()
        .member("v_per_cell", r.levels_v_per_cell[l])
        .member("block_v", rounded(r.levels_v_per_cell[l] * r.cells_per_block, 3))
        .key("reached")
        .beginArray();
    for (const auto& c : r.crossings[l]) {
      w.beginObject()
          .member("block", c.block)
          .member("after_s", rounded(static_cast<double>(c.time_ms - r.start_ms) / 1000.0, 1))
          .member("ah_out", rounded(c.ah_out, 3))
          .endObject();
    }
    w.endArray().endObject();
  }
  w.endArray();
  const auto eod = ranking(r, cfg);
  const auto [rank, collapse] = ranksOf(eod, r.blocks.size());
  w.key("end_of_discharge")
      .beginObject()
      .member("median_v", rounded(eod.median_v, 4))
      .member("threshold_v", rounded(eod.threshold_v, 4))
      .key("early_collapse")
      .beginArray();
  for (const auto& b : eod.blocks) {
    if (b.early_collapse) {
      w.value(b.block);
    }
  }
  w.endArray().endObject();
  w.key("blocks").beginArray();
  for (std::size_t b = 0; b < r.blocks.size(); ++b) {
    const auto& x = r.blocks[b];
    w.beginObject()
        .member("block", static_cast<int>(b) + 1)
        .member("start_voltage_v", rounded(x.start_voltage_v, 3))
        .member("min_voltage_v", rounded(x.min_voltage_v, 3))
        .member("min_voltage_ms", static_cast<std::int64_t>(x.min_voltage_ms))
        .member("end_voltage_v", rounded(x.end_voltage_v, 3))
        .key("end_rank");
    if (rank[b] > 0) {
      w.value(rank[b]);
    } else {
      w.null();
    }
    w.member("early_collapse", static_cast<bool>(collapse[b]))
        .member("start_temperature_c", rounded(x.start_temperature_c, 1))
        .member("max_temperature_c", rounded(x.max_temperature_c, 1))
        .member("charge_start_pct", rounded(x.charge_start_pct, 1))
        .member("charge_end_pct", rounded(x.charge_end_pct, 1))
        .member("capacity_relative_pct", rounded(x.capacity_relative_pct, 1))
        .member("capacity_relative_sigma_pct", rounded(x.capacity_relative_sigma_pct, 1))
        .member("capacity_pct", rounded(x.capacity_pct, 1))
        .endObject();
  }
  w.endArray();
  w.key("runtime_trace").beginArray();
  for (const auto& p : r.runtime_trace) {
    w.beginObject()
        .member("time_ms", static_cast<std::int64_t>(p.time_ms))
        .member("ah_out", rounded(p.ah_out, 3))
        .member("remaining_s", rounded(p.remaining_s, 1))
        .member("block", p.weakest)
        .endObject();
  }
  w.endArray();
}

std::string reportCsv(const analysis::DischargeRecord& r, const model::StringConfig& cfg) {
  const auto eod = ranking(r, cfg);
  const auto [rank, collapse] = ranksOf(eod, r.blocks.size());
  const auto mins = levelMinutes(r);
  std::string out =
      "block,start_voltage_v,min_voltage_v,min_voltage_time,end_voltage_v,end_rank,"
      "early_collapse";
  for (const double level : r.levels_v_per_cell) {
    out += fmt::format(",min_to_{:.2f}_v_per_cell", level);
  }
  out +=
      ",start_temperature_c,max_temperature_c,charge_start_pct,charge_end_pct,"
      "capacity_relative_pct,capacity_relative_sigma_pct,capacity_pct\r\n";
  for (std::size_t b = 0; b < r.blocks.size(); ++b) {
    const auto& x = r.blocks[b];
    out += fmt::format("{},{},{},{},{},{},{}", b + 1, csvNumber(x.start_voltage_v, 3),
                       csvNumber(x.min_voltage_v, 3),
                       std::isfinite(x.min_voltage_v) ? formatIso8601(x.min_voltage_ms) : "",
                       csvNumber(x.end_voltage_v, 3), rank[b] > 0 ? std::to_string(rank[b]) : "",
                       collapse[b] ? "yes" : "no");
    for (const double m : mins[b]) {
      out += "," + csvNumber(m, 2);
    }
    out += fmt::format(",{},{},{},{},{},{},{}\r\n", csvNumber(x.start_temperature_c, 1),
                       csvNumber(x.max_temperature_c, 1), csvNumber(x.charge_start_pct, 1),
                       csvNumber(x.charge_end_pct, 1), csvNumber(x.capacity_relative_pct, 1),
                       csvNumber(x.capacity_relative_sigma_pct, 1), csvNumber(x.capacity_pct, 1));
  }
  return out;
}

std::string reportHtml(const analysis::DischargeRecord& r, const model::StringConfig& cfg,
                       const std::string& site_name) {
  const auto eod = ranking(r, cfg);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += fmt::format("<title>Discharge report: {} — {}</title>", escapeHtml(cfg.name),
                   formatIso8601(r.start_ms));
  h += "<style>" + std::string(kReportStyle) + "</style></head><body>\n";
  h += fmt::format("<h1>Discharge report — {}, {}</h1>\n", escapeHtml(site_name),
                   escapeHtml(cfg.name));
  h += "<dl>";
  const auto item = [&h](const std::string& k, const std::string& v) {
    h += "<dt>" + k + "</dt><dd>" + v + "</dd>";
  };
  item("Start", formatIso8601(r.start_ms));
  item("Duration", minutes(r.durationS()));
  item("Charge out", fmt::format("{:.2f} Ah ({:.1f} % of {:.0f} Ah nominal)", r.ah_out,
                                 100.0 * r.ah_out / cfg.capacity_ah, cfg.capacity_ah));
  item("Energy out", fmt::format("{:.3f} kWh", r.wh_out / 1000.0));
  item("Current", fmt::format("{:.1f} A mean, {:.1f} A peak", r.meanCurrentA(), r.max_current_a));
  item("String voltage",
       fmt::format("{} V at the start, {} V lowest", htmlNumber(r.start_voltage_v, 2),
                   htmlNumber(r.min_voltage_v, 2)));
  if (r.first_at_end) {
    item("End voltage reached",
         fmt::format("block {} at {:.2f} V/cell after {}", r.first_at_end->block, r.end_v_per_cell,
                     minutes(r.actualRuntimeS())));
    if (const auto half = r.predictedAtHalfS()) {
      item("Runtime predicted at half time",
           fmt::format("{} ({:+.1f} % against the actual {})", minutes(*half),
                       100.0 * (*half / r.actualRuntimeS() - 1.0), minutes(r.actualRuntimeS())));
    }
  } else {
    item("End voltage reached", "no block");
    if (const auto left = r.remainingAtEndS()) {
      item("Runtime left at the end", minutes(*left));
    }
  }
  if (!r.runtime_trace.empty()) {
    item("Runtime predicted at the start", minutes(r.runtime_trace.front().remaining_s));
  }
  std::string collapsed;
  for (const auto& b : eod.blocks) {
    if (b.early_collapse) {
      collapsed += (collapsed.empty() ? "" : ", ") + std::to_string(b.block);
    }
  }
  item("Early collapse", collapsed.empty() ? std::string("none") : "blocks " + collapsed);
  h += "</dl>\n<h2>Order in which the blocks reached each voltage</h2>\n<table><tr>"
       "<th>V/cell</th><th>Block V</th><th class=\"l\">Blocks, first first (minutes)</th></tr>";
  for (std::size_t l = 0; l < r.levels_v_per_cell.size(); ++l) {
    std::string list;
    for (const auto& c : r.crossings[l]) {
      list += fmt::format("{}{} ({:.1f})", list.empty() ? "" : ", ", c.block,
                          static_cast<double>(c.time_ms - r.start_ms) / 60000.0);
    }
    h += fmt::format("<tr><td>{:.2f}</td><td>{:.2f}</td><td class=\"l\">{}</td></tr>",
                     r.levels_v_per_cell[l], r.levels_v_per_cell[l] * r.cells_per_block,
                     list.empty() ? "none" : list);
  }
  h += "</table>\n<h2>Blocks, lowest at the end of discharge first</h2>\n<table><tr>"
       "<th>Rank</th><th>Block</th><th>Start V</th><th>Lowest V</th><th>End V</th>"
       "<th>Deviation V</th><th>Start °C</th><th>Max °C</th><th>Charge start %</th>"
       "<th>Charge end %</th><th>Capacity vs. mean %</th><th>Capacity % of nominal</th></tr>";
  for (std::size_t i = 0; i < eod.blocks.size(); ++i) {
    const auto& e = eod.blocks[i];
    const auto& x = r.blocks[static_cast<std::size_t>(e.block - 1)];
    std::string cap = htmlNumber(x.capacity_relative_pct, 1);
    if (std::isfinite(x.capacity_relative_sigma_pct)) {
      cap += fmt::format(" ± {:.1f}", x.capacity_relative_sigma_pct);
    }
    h += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        e.early_collapse ? " class=\"weak\"" : "", i + 1, e.block, htmlNumber(x.start_voltage_v, 3),
        htmlNumber(x.min_voltage_v, 3), htmlNumber(x.end_voltage_v, 3),
        htmlNumber(e.deviation_v, 3), htmlNumber(x.start_temperature_c, 1),
        htmlNumber(x.max_temperature_c, 1), htmlNumber(x.charge_start_pct, 1),
        htmlNumber(x.charge_end_pct, 1), cap, htmlNumber(x.capacity_pct, 1));
  }
  h += "</table>\n";
  h += fmt::format(
      "<p>Equalis — levels per cell from the nominal voltage down to the end voltage of the "
      "chemistry ({:.2f} V/cell); early collapse: below the median by more than "
      "max(0.05 V per cell, 4 MAD) at the lowest string voltage.</p>\n</body></html>\n",
      r.end_v_per_cell);
  return h;
}

std::string hoursInBandDocument(const analysis::BandHours& bands, int si, TimeMs time_ms) {
  using analysis::BandHours;
  std::string out;
  JsonWriter w(out);
  const auto edges = [&w](const auto& e) {
    w.beginArray();
    for (std::size_t k = 0; k <= e.size(); ++k) {
      w.beginArray();
      if (k == 0) {
        w.null();
      } else {
        w.value(e[k - 1]);
      }
      if (k == e.size()) {
        w.null();
      } else {
        w.value(e[k]);
      }
      w.endArray();
    }
    w.endArray();
  };
  w.beginObject()
      .member("string", si + 1)
      .member("time", formatIso8601(time_ms))
      .member("time_ms", static_cast<std::int64_t>(time_ms))
      .member("design_life_years", analysis::designLifeYears(bands.chemistry()))
      .member("halving_k", BandHours::kHalvingK)
      .key("temperature_bands_c");
  edges(BandHours::kTemperatureEdgesC);
  w.key("voltage_bands_mv_per_cell");
  edges(BandHours::kVoltageEdgesMvPerCell);
  w.key("blocks").beginArray();
  for (std::size_t b = 0; b < bands.blockCount(); ++b) {
    const auto& x = bands.blocks()[b];
    w.beginObject().member("block", static_cast<int>(b) + 1).key("temperature_h").beginArray();
    for (const double sec : x.temperature_s) {
      w.value(rounded(sec / 3600.0, 3));
    }
    w.endArray().key("voltage_h").beginArray();
    for (const double sec : x.voltage_s) {
      w.value(rounded(sec / 3600.0, 3));
    }
    w.endArray()
        .member("observed_h", rounded(x.observed_s / 3600.0, 3))
        .member("life_used_pct", rounded(bands.lifeUsedPct(b), 4))
        .member("ageing_factor", rounded(bands.ageingFactor(b), 3))
        .endObject();
  }
  w.endArray().endObject();
  return out;
}

}  // namespace equalis::rest
