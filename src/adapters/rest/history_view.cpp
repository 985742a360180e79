#include "adapters/rest/history_view.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "adapters/rest/discharge_report_view.hpp"
#include "history/downsample.hpp"
#include "model/chemistry.hpp"

namespace equalis::rest {

namespace {

constexpr TimeMs kMinTime = std::numeric_limits<TimeMs>::min();
constexpr TimeMs kMaxTime = std::numeric_limits<TimeMs>::max();

std::vector<analysis::TimedValue> timed(const std::vector<history::SeriesPoint>& points) {
  std::vector<analysis::TimedValue> out;
  out.reserve(points.size());
  for (const auto& p : points) {
    out.push_back(analysis::TimedValue{p.time_ms, p.value});
  }
  return out;
}

bool isDischarge(const analysis::TimedValue& p) {
  return std::isfinite(p.value) &&
         static_cast<int>(p.value) == static_cast<int>(model::StringModeValue::kDischarge);
}

Result<std::vector<analysis::TimedValue>> readMode(const history::Store& store, int si,
                                                   TimeMs from_ms, TimeMs to_ms) {
  auto points = store.stringSeries(si, history::StringQuantity::kMode, from_ms, to_ms, 0);
  if (!points) {
    return points.error();
  }
  return timed(*points);
}

// v rounded to `decimals` places (the nearest double of the decimal, so it prints short).
double roundTo(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

void writeOptionalTime(JsonWriter& w, std::string_view iso_key, std::string_view ms_key,
                       std::optional<TimeMs> t) {
  w.key(iso_key);
  if (t) {
    w.value(formatIso8601(*t));
  } else {
    w.null();
  }
  w.key(ms_key);
  if (t) {
    w.value(static_cast<std::int64_t>(*t));
  } else {
    w.null();
  }
}

// The members of one discharge's summary.
void writeSummary(JsonWriter& w, const analysis::DischargeSpan& span,
                  const analysis::DischargeSummary& s, int block_count) {
  w.member("id", static_cast<std::int64_t>(span.start_ms));
  writeOptionalTime(w, "start", "start_ms", span.start_ms);
  writeOptionalTime(w, "end", "end_ms", span.end_ms);
  w.member("duration_s", s.duration_s);
  w.member("ah_out", roundTo(s.ah_out, 3));
  w.member("min_voltage_v", s.min_voltage_v);
  w.member("block_count", block_count);
}

Result<analysis::DischargeSummary> summarize(const history::Store& store, int si,
                                             const analysis::DischargeSpan& span) {
  auto voltage =
      store.stringSeries(si, history::StringQuantity::kVoltageV, span.start_ms, span.untilMs(), 0);
  if (!voltage) {
    return voltage.error();
  }
  auto current =
      store.stringSeries(si, history::StringQuantity::kCurrentA, span.start_ms, span.untilMs(), 0);
  if (!current) {
    return current.error();
  }
  return analysis::summarizeDischarge(span, timed(*voltage), timed(*current));
}

void writeDoubles(JsonWriter& w, const std::vector<double>& values) {
  w.beginArray();
  for (const double v : values) {
    w.value(v);  // NaN → null
  }
  w.endArray();
}

}  // namespace

const model::PointDef* historyPoint(model::Scope scope, const std::string& field) {
  for (const auto& def : model::catalogue()) {
    if (def.scope == scope && def.history && def.field() == field) {
      return &def;
    }
  }
  return nullptr;
}

std::string quantityList(model::Scope scope) {
  std::string out;
  for (const auto& def : model::catalogue()) {
    if (def.scope != scope || !def.history) {
      continue;
    }
    out += out.empty() ? "" : ", ";
    out += def.field();
  }
  return out;
}

void writeBlockMatrix(JsonWriter& w, const history::BlockMatrix& m) {
  w.key("times_ms").beginArray();
  for (const TimeMs t : m.times_ms) {
    w.value(static_cast<std::int64_t>(t));
  }
  w.endArray().key("blocks").beginArray();
  for (std::size_t b = 0; b < m.block_indices.size(); ++b) {
    w.beginObject().member("block", m.block_indices[b] + 1).key("values");
    writeDoubles(w, m.values[b]);
    w.endObject();
  }
  w.endArray();
}

Result<std::string> blockPatternDocument(const history::Store& store, int string_index,
                                         history::BlockQuantity q, const model::PointDef& def,
                                         TimeMs from_ms, TimeMs to_ms, std::size_t limit,
                                         std::optional<std::size_t> max_points) {
  TimeMs read_to_ms = to_ms;
  if (!max_points && limit > 0) {
    // The limit-th snapshot of the range ends what is read (every snapshot holds the string).
    auto snaps = store.snapshots(from_ms, to_ms, limit + 1);
    if (!snaps) {
      return snaps.error();
    }
    if (snaps->size() > limit) {
      read_to_ms = (*snaps)[limit - 1].time_ms;
    }
  }
  auto matrix = store.stringBlockSeries(string_index, q, from_ms, read_to_ms);
  if (!matrix) {
    return matrix.error();
  }
  const std::size_t source_count = matrix->times_ms.size();
  if (max_points && source_count > *max_points) {
    *matrix = history::downsampleMatrix(*matrix, *max_points);
  }
  std::string out;
  out.reserve(64 + matrix->times_ms.size() * (16 + 8 * matrix->block_indices.size()));
  JsonWriter w(out);
  w.beginObject()
      .member("string", string_index + 1)
      .member("quantity", std::string(history::blockQuantityName(q)))
      .member("unit", std::string(def.unit))
      .member("from", formatIso8601(from_ms))
      .member("to", formatIso8601(to_ms));
  writeBlockMatrix(w, *matrix);
  w.member("downsampled", matrix->times_ms.size() < source_count)
      .member("source_count", static_cast<std::uint64_t>(source_count))
      .endObject();
  return out;
}

Result<std::vector<analysis::DischargeSpan>> recordedDischarges(const history::Store& store, int si,
                                                                TimeMs from_ms, TimeMs to_ms,
                                                                TimeMs now_ms) {
  auto read = readMode(store, si, from_ms, to_ms);
  if (!read) {
    return read.error();
  }
  std::vector<analysis::TimedValue> mode = std::move(*read);
  // Before `from`, a window at a time, back to a snapshot that is not in discharge: a discharge
  // running at `from` (whether or not the range holds a snapshot) gets its true start. An empty
  // window (nothing recorded: before the history, or the daemon was off) ends the search too.
  TimeMs hi = from_ms - 1;
  for (DurationMs looked = 0;
       looked < kDischargeLookMaxMs && hi > kMinTime + kDischargeLookWindowMs;
       looked += kDischargeLookWindowMs) {
    auto before = readMode(store, si, hi - kDischargeLookWindowMs + 1, hi);
    if (!before) {
      return before.error();
    }
    const bool found_start =
        before->empty() ||
        std::any_of(before->begin(), before->end(), [](const auto& p) { return !isDischarge(p); });
    mode.insert(mode.begin(), before->begin(), before->end());
    if (found_start) {
      break;
    }
    hi -= kDischargeLookWindowMs;
  }
  // After `to`, while the record is still in discharge: on to its end (never beyond now:
  // nothing is recorded there).
  if (!mode.empty() && isDischarge(mode.back()) && to_ms < kMaxTime - kDischargeLookMaxMs) {
    TimeMs lo = to_ms + 1;
    for (DurationMs looked = 0; looked < kDischargeLookMaxMs && lo <= now_ms;
         looked += kDischargeLookWindowMs) {
      auto after = readMode(store, si, lo, lo + kDischargeLookWindowMs - 1);
      if (!after) {
        return after.error();
      }
      const auto end =
          std::find_if(after->begin(), after->end(), [](const auto& p) { return !isDischarge(p); });
      const bool found_end = end != after->end();
      mode.insert(mode.end(), after->begin(), found_end ? std::next(end) : after->end());
      if (found_end) {
        break;
      }
      lo += kDischargeLookWindowMs;
    }
  }
  std::vector<analysis::DischargeSpan> out;
  for (const auto& span : analysis::findDischarges(mode)) {
    if (span.start_ms <= to_ms && span.untilMs() >= from_ms) {
      out.push_back(span);
    }
  }
  return out;
}

Result<std::string> dischargeListDocument(const history::Store& store,
                                          const model::PlantConfig& plant, int si, TimeMs from_ms,
                                          TimeMs to_ms, TimeMs now_ms,
                                          const std::vector<analysis::DischargeRecord>& reports) {
  auto spans = recordedDischarges(store, si, from_ms, to_ms, now_ms);
  if (!spans) {
    return spans.error();
  }
  const int block_count = plant.strings[static_cast<std::size_t>(si)].block_count;
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .member("string", si + 1)
      .member("from", formatIso8601(from_ms))
      .member("to", formatIso8601(to_ms))
      .key("discharges")
      .beginArray();
  for (auto it = spans->rbegin(); it != spans->rend(); ++it) {  // newest first
    auto summary = summarize(store, si, *it);
    if (!summary) {
      return summary.error();
    }
    w.beginObject();
    writeSummary(w, *it, *summary, block_count);
    w.key("report");
    if (const auto* rep = findReport(reports, it->start_ms)) {
      w.beginObject();
      writeReportSummary(w, *rep);
      w.endObject();
    } else {
      w.null();
    }
    w.endObject();
  }
  w.endArray().endObject();
  return out;
}

Result<std::optional<std::string>> dischargeDetailDocument(
    const history::Store& store, const model::PlantConfig& plant, int si, TimeMs id_ms,
    TimeMs now_ms, std::size_t max_points, const std::vector<analysis::DischargeRecord>& reports) {
  auto spans = recordedDischarges(store, si, id_ms, id_ms, now_ms);
  if (!spans) {
    return spans.error();
  }
  const auto found = std::find_if(spans->begin(), spans->end(),
                                  [id_ms](const auto& s) { return s.start_ms == id_ms; });
  if (found == spans->end()) {
    return std::optional<std::string>();
  }
  const analysis::DischargeSpan span = *found;
  const auto& string_cfg = plant.strings[static_cast<std::size_t>(si)];
  const TimeMs window_from = span.start_ms - kDischargeBeforeMs;
  const TimeMs window_to = span.untilMs() + kDischargeAfterMs;

  auto voltage =
      store.stringSeries(si, history::StringQuantity::kVoltageV, window_from, window_to, 0);
  if (!voltage) {
    return voltage.error();
  }
  auto current =
      store.stringSeries(si, history::StringQuantity::kCurrentA, window_from, window_to, 0);
  if (!current) {
    return current.error();
  }
  auto matrix =
      store.stringBlockSeries(si, history::BlockQuantity::kVoltageV, window_from, window_to);
  if (!matrix) {
    return matrix.error();
  }
  const auto voltage_tv = timed(*voltage);
  const auto summary = analysis::summarizeDischarge(span, voltage_tv, timed(*current));

  // End of discharge, on every snapshot (before downsampling).
  const auto eod_index =
      analysis::endOfDischargeIndex(span, voltage_tv, matrix->times_ms, matrix->values);
  std::optional<analysis::EndOfDischarge> eod;
  TimeMs eod_time_ms = 0;
  double eod_string_v = std::numeric_limits<double>::quiet_NaN();
  if (eod_index) {
    eod_time_ms = matrix->times_ms[*eod_index];
    for (const auto& p : voltage_tv) {
      if (p.time_ms == eod_time_ms) {
        eod_string_v = p.value;
      }
    }
    std::vector<int> numbers;
    std::vector<double> at;
    for (std::size_t b = 0; b < matrix->block_indices.size(); ++b) {
      numbers.push_back(matrix->block_indices[b] + 1);
      at.push_back(matrix->values[b][*eod_index]);
    }
    eod = analysis::rankEndOfDischarge(
        numbers, at, model::chemistryInfo(string_cfg.chemistry).nominal_voltage_v);
  }

  // The string's voltage and current on their shared axis (one row per snapshot), thinned by
  // min/max buckets of each with half of max_points.
  std::vector<TimeMs> times;
  std::vector<double> volts;
  std::vector<double> amps;
  {
    std::size_t j = 0;
    for (const auto& p : *voltage) {
      while (j < current->size() && (*current)[j].time_ms < p.time_ms) {
        ++j;
      }
      times.push_back(p.time_ms);
      volts.push_back(p.value);
      amps.push_back(j < current->size() && (*current)[j].time_ms == p.time_ms
                         ? (*current)[j].value
                         : std::numeric_limits<double>::quiet_NaN());
    }
  }
  const std::size_t string_source = times.size();
  if (string_source > max_points) {
    auto envelope = [&](const std::vector<double>& v) {
      std::vector<history::Envelope> env(times.size());
      for (std::size_t i = 0; i < times.size(); ++i) {
        env[i] = history::Envelope{times[i], v[i], v[i], std::isnan(v[i])};
      }
      return history::minMaxIndices(env, std::max<std::size_t>(2, max_points / 2));
    };
    const auto by_voltage = envelope(volts);
    const auto by_current = envelope(amps);
    std::vector<std::size_t> keep;
    std::set_union(by_voltage.begin(), by_voltage.end(), by_current.begin(), by_current.end(),
                   std::back_inserter(keep));
    std::vector<TimeMs> t2;
    std::vector<double> v2;
    std::vector<double> a2;
    for (const std::size_t i : keep) {
      t2.push_back(times[i]);
      v2.push_back(volts[i]);
      a2.push_back(amps[i]);
    }
    times = std::move(t2);
    volts = std::move(v2);
    amps = std::move(a2);
  }
  const std::size_t block_source = matrix->times_ms.size();
  if (block_source > max_points) {
    *matrix = history::downsampleMatrix(*matrix, max_points);
  }

  std::string out;
  JsonWriter w(out);
  w.beginObject().member("string", si + 1);
  writeSummary(w, span, summary, string_cfg.block_count);
  w.member("from", formatIso8601(window_from))
      .member("from_ms", static_cast<std::int64_t>(window_from))
      .member("to", formatIso8601(window_to))
      .member("to_ms", static_cast<std::int64_t>(window_to));

  w.key("string_series").beginObject().key("times_ms").beginArray();
  for (const TimeMs t : times) {
    w.value(static_cast<std::int64_t>(t));
  }
  w.endArray().key("voltage_v");
  writeDoubles(w, volts);
  w.key("current_a");
  writeDoubles(w, amps);
  w.member("downsampled", times.size() < string_source)
      .member("source_count", static_cast<std::uint64_t>(string_source))
      .endObject();

  w.key("blocks").beginObject();
  writeBlockMatrix(w, *matrix);
  w.member("downsampled", matrix->times_ms.size() < block_source)
      .member("source_count", static_cast<std::uint64_t>(block_source))
      .endObject();

  w.key("end_of_discharge_at");
  if (eod) {
    w.beginObject()
        .member("time", formatIso8601(eod_time_ms))
        .member("time_ms", static_cast<std::int64_t>(eod_time_ms))
        .member("string_voltage_v", eod_string_v)
        .member("median_v", roundTo(eod->median_v, 6))
        .member("mad_v", roundTo(eod->mad_v, 6))
        .member("margin_v", roundTo(eod->margin_v, 6))
        .member("threshold_v", roundTo(eod->threshold_v, 6))
        .endObject();
  } else {
    w.null();
  }
  w.key("end_of_discharge").beginArray();
  if (eod) {
    for (const auto& b : eod->blocks) {
      w.beginObject()
          .member("block", b.block)
          .member("voltage_v", b.voltage_v)
          .member("deviation_v", roundTo(b.deviation_v, 6))
          .member("early_collapse", b.early_collapse)
          .endObject();
    }
  }
  w.endArray();
  w.key("report");
  if (const auto* rep = findReport(reports, span.start_ms)) {
    w.beginObject();
    writeReport(w, *rep, string_cfg);
    w.endObject();
  } else {
    w.null();
  }
  w.endObject();
  return std::optional<std::string>(std::move(out));
}

void writeSeries(JsonWriter& w, const std::vector<history::SeriesPoint>& points,
                 model::PointId id) {
  const auto& def = model::point(id);
  w.key("count").value(static_cast<std::uint64_t>(points.size()));
  w.key("times_ms").beginArray();
  for (const auto& p : points) {
    w.value(static_cast<std::int64_t>(p.time_ms));
  }
  w.endArray().key("values").beginArray();
  for (const auto& p : points) {
    if (!std::isfinite(p.value)) {
      w.null();
    } else if (def.type == model::PointType::kEnum) {
      w.value(model::enumName(id, static_cast<int>(p.value)));
    } else {
      w.value(p.value);
    }
  }
  w.endArray().key("quality");
  const bool all_ok = std::all_of(points.begin(), points.end(),
                                  [](const auto& p) { return p.quality == model::Quality::kOk; });
  if (all_ok) {
    w.value("ok");
    return;
  }
  w.beginArray();
  for (const auto& p : points) {
    w.value(model::qualityName(p.quality));
  }
  w.endArray();
}

}  // namespace equalis::rest
