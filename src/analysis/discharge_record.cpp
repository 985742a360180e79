#include "analysis/discharge_record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

namespace equalis::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kLevels = 5;
constexpr const char* kFormat = "equalis-discharge-reports";
constexpr int kFormatVersion = 1;

bool lower(double v, double than) {
  return std::isfinite(v) && (!std::isfinite(than) || v < than);
}

double maxOf(double a, double b) {
  if (!std::isfinite(a)) {
    return b;
  }
  return std::isfinite(b) ? std::max(a, b) : a;
}

Error recordError(const std::string& what) {
  return makeError(ErrorCode::kInvalidArgument, "discharge report: " + what);
}

}  // namespace

double DischargeRecord::meanCurrentA() const {
  const double h = durationS() / 3600.0;
  return h > 0.0 ? ah_out / h : 0.0;
}

double DischargeRecord::actualRuntimeS() const {
  return first_at_end ? static_cast<double>(first_at_end->time_ms - start_ms) / 1000.0 : 0.0;
}

std::optional<double> DischargeRecord::predictedAtHalfS() const {
  if (!first_at_end || runtime_trace.empty()) {
    return std::nullopt;
  }
  const TimeMs half_ms = start_ms + (first_at_end->time_ms - start_ms) / 2;
  const auto best =
      std::min_element(runtime_trace.begin(), runtime_trace.end(),
                       [half_ms](const RuntimePoint& a, const RuntimePoint& b) {
                         return std::llabs(a.time_ms - half_ms) < std::llabs(b.time_ms - half_ms);
                       });
  return static_cast<double>(best->time_ms - start_ms) / 1000.0 + best->remaining_s;
}

std::optional<double> DischargeRecord::remainingAtEndS() const {
  if (runtime_trace.empty()) {
    return std::nullopt;
  }
  return runtime_trace.back().remaining_s;
}

DischargeRecorder::DischargeRecorder(model::Chemistry chemistry, std::size_t blocks)
    : chemistry_(chemistry), n_blocks_(blocks) {}

void DischargeRecorder::addTrace(const RuntimePoint& p) {
  auto& trace = current_->runtime_trace;
  if (trace_count_++ % trace_stride_ != 0) {
    // Keep the newest sweep as the last point, so the trace always ends now.
    if (!trace.empty() && trace.size() > 1) {
      trace.back() = p;
    }
    return;
  }
  trace.push_back(p);
  if (trace.size() >= kTracePoints) {
    std::vector<RuntimePoint> kept;
    kept.reserve(kTracePoints / 2 + 1);
    for (std::size_t i = 0; i < trace.size(); i += 2) {
      kept.push_back(trace[i]);
    }
    if (kept.back().time_ms != trace.back().time_ms) {
      kept.push_back(trace.back());
    }
    trace = std::move(kept);
    trace_stride_ *= 2;
  }
}

std::optional<DischargeRecord> DischargeRecorder::update(
    TimeMs t_ms, bool discharging, double current_a, double string_voltage_v,
    std::span<const DischargeSweepBlock> blocks, std::optional<RuntimePoint> runtime) {
  if (!discharging) {
    if (!current_) {
      return std::nullopt;
    }
    auto done = std::move(*current_);
    current_.reset();
    done.running = false;
    return done;
  }
  const auto& info = model::chemistryInfo(chemistry_);
  const std::size_t n = std::min(n_blocks_, blocks.size());
  if (!current_) {
    DischargeRecord r;
    r.start_ms = t_ms;
    r.last_ms = t_ms;
    r.start_voltage_v = std::isfinite(string_voltage_v) ? string_voltage_v : kNaN;
    r.min_voltage_v = kNaN;
    r.end_v_per_cell = info.end_of_discharge_v_per_cell;
    r.cells_per_block = info.cells_per_block;
    const double nominal_cell = info.nominal_voltage_v / info.cells_per_block;
    for (int k = kLevels - 1; k >= 0; --k) {
      const double v = r.end_v_per_cell + (nominal_cell - r.end_v_per_cell) * k / kLevels;
      r.levels_v_per_cell.push_back(std::round(v * 100.0) / 100.0);
    }
    r.crossings.resize(r.levels_v_per_cell.size());
    r.blocks.resize(n_blocks_);
    for (std::size_t b = 0; b < n_blocks_; ++b) {
      auto& br = r.blocks[b];
      const DischargeSweepBlock in = b < n ? blocks[b] : DischargeSweepBlock{kNaN, kNaN, kNaN};
      br.start_voltage_v = in.voltage_v;
      br.min_voltage_v = kNaN;
      br.end_voltage_v = kNaN;
      br.start_temperature_c = in.temperature_c;
      br.max_temperature_c = kNaN;
      br.charge_start_pct = in.charge_pct;
      br.charge_end_pct = kNaN;
      br.capacity_relative_pct = kNaN;
      br.capacity_relative_sigma_pct = kNaN;
      br.capacity_pct = kNaN;
    }
    current_ = std::move(r);
    last_ms_ = t_ms;
    last_current_a_ = std::isfinite(current_a) ? current_a : 0.0;
    last_voltage_v_ = std::isfinite(string_voltage_v) ? string_voltage_v : 0.0;
    trace_stride_ = 1;
    trace_count_ = 0;
    levels_reached_.assign(n_blocks_, 0);
  }
  auto& r = *current_;
  // Charge and energy: trapezoids of the discharge current (and power) between sweeps.
  if (std::isfinite(current_a) && t_ms > last_ms_) {
    const double dt_h = static_cast<double>(t_ms - last_ms_) / static_cast<double>(kHourMs);
    const double a0 = std::max(0.0, -last_current_a_);
    const double a1 = std::max(0.0, -current_a);
    r.ah_out += 0.5 * (a0 + a1) * dt_h;
    if (std::isfinite(string_voltage_v) && last_voltage_v_ > 0.0) {
      r.wh_out += 0.5 * (a0 * last_voltage_v_ + a1 * string_voltage_v) * dt_h;
    }
    last_ms_ = t_ms;
    last_current_a_ = current_a;
  }
  if (std::isfinite(string_voltage_v)) {
    last_voltage_v_ = string_voltage_v;
  }
  if (std::isfinite(current_a)) {
    r.max_current_a = std::max(r.max_current_a, -current_a);
  }
  r.last_ms = t_ms;
  const bool lowest = lower(string_voltage_v, r.min_voltage_v);
  if (lowest) {
    r.min_voltage_v = string_voltage_v;
    r.min_voltage_ms = t_ms;
  }
  for (std::size_t b = 0; b < n; ++b) {
    auto& br = r.blocks[b];
    const auto& in = blocks[b];
    if (lower(in.voltage_v, br.min_voltage_v)) {
      br.min_voltage_v = in.voltage_v;
      br.min_voltage_ms = t_ms;
    }
    if (lowest) {
      br.end_voltage_v = in.voltage_v;
    }
    br.max_temperature_c = maxOf(br.max_temperature_c, in.temperature_c);
    if (std::isfinite(in.charge_pct)) {
      br.charge_end_pct = in.charge_pct;
    }
    if (!std::isfinite(in.voltage_v)) {
      continue;
    }
    // Levels run from the highest down, so the levels a block has reached are the first
    // levels_reached_[b] of them: only the next ones can be new.
    const double v_cell = in.voltage_v / r.cells_per_block;
    auto& reached = levels_reached_[b];
    while (reached < r.levels_v_per_cell.size() && v_cell <= r.levels_v_per_cell[reached]) {
      auto& list = r.crossings[reached];
      list.push_back({static_cast<int>(b) + 1, t_ms, r.ah_out});
      if (reached + 1 == r.levels_v_per_cell.size() && !r.first_at_end) {
        r.first_at_end = list.back();
      }
      ++reached;
    }
  }
  if (runtime) {
    runtime->ah_out = r.ah_out;
    addTrace(*runtime);
  }
  return std::nullopt;
}

namespace {

nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json toJson(const DischargeRecord& r) {
  nlohmann::json j;
  j["start_ms"] = r.start_ms;
  j["last_ms"] = r.last_ms;
  j["running"] = r.running;
  j["ah_out"] = r.ah_out;
  j["wh_out"] = r.wh_out;
  j["max_current_a"] = r.max_current_a;
  j["start_voltage_v"] = number(r.start_voltage_v);
  j["min_voltage_v"] = number(r.min_voltage_v);
  j["min_voltage_ms"] = r.min_voltage_ms;
  j["end_v_per_cell"] = r.end_v_per_cell;
  j["cells_per_block"] = r.cells_per_block;
  j["levels_v_per_cell"] = r.levels_v_per_cell;
  auto& cr = j["crossings"] = nlohmann::json::array();
  for (const auto& list : r.crossings) {
    auto row = nlohmann::json::array();
    for (const auto& c : list) {
      row.push_back({c.block, c.time_ms, c.ah_out});
    }
    cr.push_back(std::move(row));
  }
  auto& bl = j["blocks"] = nlohmann::json::array();
  for (const auto& b : r.blocks) {
    bl.push_back({number(b.start_voltage_v), number(b.min_voltage_v), b.min_voltage_ms,
                  number(b.end_voltage_v), number(b.start_temperature_c),
                  number(b.max_temperature_c), number(b.charge_start_pct), number(b.charge_end_pct),
                  number(b.capacity_relative_pct), number(b.capacity_relative_sigma_pct),
                  number(b.capacity_pct)});
  }
  auto& tr = j["runtime_trace"] = nlohmann::json::array();
  for (const auto& p : r.runtime_trace) {
    tr.push_back({p.time_ms, p.ah_out, p.remaining_s, p.weakest});
  }
  j["first_at_end"] =
      r.first_at_end
          ? nlohmann::json({r.first_at_end->block, r.first_at_end->time_ms, r.first_at_end->ah_out})
          : nlohmann::json(nullptr);
  return j;
}

// Reads a JSON record; the first wrong field is named.
class Reader {
 public:
  std::optional<std::string> error;

  double num(const nlohmann::json& v, const std::string& name, bool nullable = false) {
    if (nullable && v.is_null()) {
      return kNaN;
    }
    if (!v.is_number()) {
      fail(name + " must be a number");
      return 0.0;
    }
    return v.get<double>();
  }
  TimeMs time(const nlohmann::json& v, const std::string& name) {
    if (!v.is_number_integer()) {
      fail(name + " must be an integer (epoch ms)");
      return 0;
    }
    return v.get<std::int64_t>();
  }
  const nlohmann::json& at(const nlohmann::json& o, const char* key) {
    static const nlohmann::json null_value;
    if (!o.is_object() || !o.contains(key)) {
      fail(std::string("no '") + key + "'");
      return null_value;
    }
    return o.at(key);
  }
  const nlohmann::json& tuple(const nlohmann::json& v, std::size_t size, const std::string& name) {
    static const nlohmann::json empty_array = nlohmann::json::array();
    if (!v.is_array() || v.size() != size) {
      fail(name + " must be an array of " + std::to_string(size));
      return empty_array;
    }
    return v;
  }
  void fail(const std::string& what) {
    if (!error) {
      error = what;
    }
  }
};

Result<DischargeRecord> fromJson(const nlohmann::json& j) {
  Reader rd;
  DischargeRecord r;
  r.start_ms = rd.time(rd.at(j, "start_ms"), "start_ms");
  r.last_ms = rd.time(rd.at(j, "last_ms"), "last_ms");
  const auto& running = rd.at(j, "running");
  r.running = running.is_boolean() && running.get<bool>();
  r.ah_out = rd.num(rd.at(j, "ah_out"), "ah_out");
  r.wh_out = rd.num(rd.at(j, "wh_out"), "wh_out");
  r.max_current_a = rd.num(rd.at(j, "max_current_a"), "max_current_a");
  r.start_voltage_v = rd.num(rd.at(j, "start_voltage_v"), "start_voltage_v", true);
  r.min_voltage_v = rd.num(rd.at(j, "min_voltage_v"), "min_voltage_v", true);
  r.min_voltage_ms = rd.time(rd.at(j, "min_voltage_ms"), "min_voltage_ms");
  r.end_v_per_cell = rd.num(rd.at(j, "end_v_per_cell"), "end_v_per_cell");
  const auto& cells = rd.at(j, "cells_per_block");
  if (!cells.is_number_integer() || cells.get<int>() < 1 || cells.get<int>() > 100) {
    rd.fail("cells_per_block must be an integer 1 … 100");
  } else {
    r.cells_per_block = cells.get<int>();
  }
  const auto& levels = rd.at(j, "levels_v_per_cell");
  const auto& crossings = rd.at(j, "crossings");
  const auto& blocks = rd.at(j, "blocks");
  const auto& trace = rd.at(j, "runtime_trace");
  if (rd.error) {
    return recordError(*rd.error);
  }
  if (!levels.is_array() || !crossings.is_array() || levels.size() != crossings.size() ||
      levels.size() > 20) {
    return recordError("levels_v_per_cell and crossings must be arrays of the same size (≤ 20)");
  }
  if (!blocks.is_array() || blocks.size() > 100000 || !trace.is_array() ||
      trace.size() > DischargeRecorder::kTracePoints) {
    return recordError("blocks and runtime_trace must be arrays (runtime_trace ≤ " +
                       std::to_string(DischargeRecorder::kTracePoints) + ")");
  }
  for (std::size_t l = 0; l < levels.size(); ++l) {
    r.levels_v_per_cell.push_back(rd.num(levels[l], "levels_v_per_cell"));
    auto& list = r.crossings.emplace_back();
    if (!crossings[l].is_array() || crossings[l].size() > blocks.size()) {
      return recordError("crossings[" + std::to_string(l) + "] must list at most every block");
    }
    for (const auto& c : crossings[l]) {
      const auto& t = rd.tuple(c, 3, "a crossing");
      if (rd.error) {
        break;
      }
      const auto& b = t[0];
      if (!b.is_number_integer() || b.get<std::int64_t>() < 1 ||
          b.get<std::size_t>() > blocks.size()) {
        return recordError("a crossing's block must be 1 … " + std::to_string(blocks.size()));
      }
      list.push_back(
          {b.get<int>(), rd.time(t[1], "a crossing's time"), rd.num(t[2], "a crossing's ah_out")});
    }
  }
  for (const auto& b : blocks) {
    const auto& t = rd.tuple(b, 11, "a block");
    if (rd.error) {
      break;
    }
    DischargeBlockRecord br;
    br.start_voltage_v = rd.num(t[0], "start_voltage_v", true);
    br.min_voltage_v = rd.num(t[1], "min_voltage_v", true);
    br.min_voltage_ms = rd.time(t[2], "min_voltage_ms");
    br.end_voltage_v = rd.num(t[3], "end_voltage_v", true);
    br.start_temperature_c = rd.num(t[4], "start_temperature_c", true);
    br.max_temperature_c = rd.num(t[5], "max_temperature_c", true);
    br.charge_start_pct = rd.num(t[6], "charge_start_pct", true);
    br.charge_end_pct = rd.num(t[7], "charge_end_pct", true);
    br.capacity_relative_pct = rd.num(t[8], "capacity_relative_pct", true);
    br.capacity_relative_sigma_pct = rd.num(t[9], "capacity_relative_sigma_pct", true);
    br.capacity_pct = rd.num(t[10], "capacity_pct", true);
    r.blocks.push_back(br);
  }
  for (const auto& p : trace) {
    const auto& t = rd.tuple(p, 4, "a runtime point");
    if (rd.error) {
      break;
    }
    const auto& weakest = t[3];
    if (!weakest.is_number_integer() || weakest.get<std::int64_t>() < 1 ||
        weakest.get<std::size_t>() > blocks.size()) {
      return recordError("a runtime point's block must be 1 … " + std::to_string(blocks.size()));
    }
    r.runtime_trace.push_back({rd.time(t[0], "a runtime point's time"),
                               rd.num(t[1], "a runtime point's ah_out"),
                               rd.num(t[2], "a runtime point's remaining_s"), weakest.get<int>()});
  }
  const auto& first = rd.at(j, "first_at_end");
  if (!rd.error && !first.is_null()) {
    const auto& t = rd.tuple(first, 3, "first_at_end");
    if (!rd.error) {
      if (!t[0].is_number_integer() || t[0].get<std::int64_t>() < 1 ||
          t[0].get<std::size_t>() > blocks.size()) {
        return recordError("first_at_end's block must be 1 … " + std::to_string(blocks.size()));
      }
      r.first_at_end = LevelCrossing{t[0].get<int>(), rd.time(t[1], "first_at_end's time"),
                                     rd.num(t[2], "first_at_end's ah_out")};
    }
  }
  if (rd.error) {
    return recordError(*rd.error);
  }
  if (r.last_ms < r.start_ms) {
    return recordError("last_ms before start_ms");
  }
  return r;
}

}  // namespace

std::string recordToJson(const DischargeRecord& r) {
  return toJson(r).dump();
}

Result<DischargeRecord> recordFromJson(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return recordError("not JSON");
  }
  return fromJson(j);
}

std::string recordsToJson(std::span<const DischargeRecord> records) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  auto& list = j["records"] = nlohmann::json::array();
  const std::size_t first =
      records.size() > kMaxDischargeRecords ? records.size() - kMaxDischargeRecords : 0;
  for (std::size_t i = first; i < records.size(); ++i) {
    list.push_back(toJson(records[i]));
  }
  return j.dump() + "\n";
}

Result<std::vector<DischargeRecord>> recordsFromJson(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return recordError("not JSON");
  }
  const auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kFormat) {
    return recordError("not a discharge-report file (format)");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kFormatVersion) {
    return recordError("unsupported version");
  }
  const auto list = j.find("records");
  if (list == j.end() || !list->is_array() || list->size() > kMaxDischargeRecords) {
    return recordError("'records' must be an array of at most " +
                       std::to_string(kMaxDischargeRecords));
  }
  std::vector<DischargeRecord> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto r = fromJson((*list)[i]);
    if (!r) {
      return makeError(ErrorCode::kInvalidArgument,
                       r.error().message + " (record " + std::to_string(i + 1) + ")");
    }
    out.push_back(std::move(r.value()));
  }
  return out;
}

}  // namespace equalis::analysis
