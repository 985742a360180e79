#include "adapters/rest/metrics.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace equalis::rest {

namespace {

struct UnitRule {
  std::string_view unit;         // catalogue unit
  std::string_view name_suffix;  // suffix of the catalogue field name
  std::string_view base_suffix;  // Prometheus base unit
  double factor;
};

// Prometheus naming: base units (volts, amperes, celsius, ohms, watts, seconds, ratio).
constexpr std::array kUnitRules = {
    UnitRule{"V", "_v", "_volts", 1.0},
    UnitRule{"mV", "_mv", "_volts", 1e-3},
    UnitRule{"A", "_a", "_amperes", 1.0},
    UnitRule{"°C", "_c", "_celsius", 1.0},
    UnitRule{"mΩ", "_mohm", "_ohms", 1e-3},
    UnitRule{"%", "_pct", "_ratio", 1e-2},
    UnitRule{"kW", "_kw", "_watts", 1e3},
    UnitRule{"W", "_w", "_watts", 1.0},
    UnitRule{"ms", "_ms", "_seconds", 1e-3},
    UnitRule{"Wh/d", "_wh_per_day", "_joules_per_day", 3600.0},
};

std::string escapeHelp(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labels(const model::PointDef& def, std::size_t s, std::size_t b) {
  switch (def.scope) {
    case model::Scope::kSystem:
      return "";
    case model::Scope::kString:
      return fmt::format("string=\"{}\"", s + 1);
    case model::Scope::kBlock:
      return fmt::format("string=\"{}\",block=\"{}\"", s + 1, b + 1);
  }
  return "";
}

std::string formatValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  return fmt::format("{}", v);
}

}  // namespace

MetricName metricName(const model::PointDef& def) {
  std::string field(def.field());
  const std::string prefix = fmt::format("equalis_{}_", model::scopeName(def.scope));
  for (const auto& rule : kUnitRules) {
    if (def.unit == rule.unit && field.ends_with(rule.name_suffix)) {
      field.resize(field.size() - rule.name_suffix.size());
      return {prefix + field + std::string(rule.base_suffix), rule.factor, false};
    }
  }
  // Counts: the ones that only grow since start are counters (…_total); the others are plain
  // gauges named by what they count ("_count" is reserved for histograms and summaries).
  constexpr std::string_view kCount = "_count";
  if (field.ends_with(kCount)) {
    field.resize(field.size() - kCount.size());
    const bool monotonic = def.id == model::PointId::kSystemSweepCount ||
                           def.id == model::PointId::kBlockCommOkCount ||
                           def.id == model::PointId::kBlockCommErrorCount;
    if (monotonic) {
      return {prefix + field + "_total", 1.0, true};
    }
    if (field == "string" || field == "module") {
      field += "s";
    }
  }
  return {prefix + field, 1.0, false};
}

std::string renderMetrics(const model::PlantConfig& plant, const state::StateStore::Reader& r) {
  std::string out;
  out.reserve(std::size_t{64} * 1024);
  for (const auto& def : model::catalogue()) {
    const auto metric = metricName(def);
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", metric.name, escapeHelp(def.description),
                       metric.name, metric.counter ? "counter" : "gauge");
    auto emit = [&](std::size_t s, std::size_t b) {
      const auto sample = r.get(def.id, s, b);
      if (sample.quality != model::Quality::kOk || !std::isfinite(sample.value)) {
        return;  // absent: not fresh
      }
      const std::string where = labels(def, s, b);
      if (def.type == model::PointType::kEnum) {
        const std::string state_label = std::string(def.field());
        for (int i = 0; !model::enumName(def.id, i).empty(); ++i) {
          out += fmt::format("{}{{{}{}{}=\"{}\"}} {}\n", metric.name, where,
                             where.empty() ? "" : ",", state_label, model::enumName(def.id, i),
                             static_cast<int>(std::lround(sample.value)) == i ? 1 : 0);
        }
        return;
      }
      out += fmt::format("{}{} {}\n", metric.name, where.empty() ? "" : "{" + where + "}",
                         formatValue(sample.value * metric.factor));
    };
    switch (def.scope) {
      case model::Scope::kSystem:
        emit(0, 0);
        break;
      case model::Scope::kString:
        for (std::size_t s = 0; s < plant.strings.size(); ++s) {
          emit(s, 0);
        }
        break;
      case model::Scope::kBlock:
        for (std::size_t s = 0; s < plant.strings.size(); ++s) {
          for (int b = 0; b < plant.strings[s].block_count; ++b) {
            emit(s, static_cast<std::size_t>(b));
          }
        }
        break;
    }
  }
  // Freshness per string and block: 1 when the values are fresh and valid.
  out +=
      "# HELP equalis_string_up 1 when the string's sum voltage and current are fresh and valid\n"
      "# TYPE equalis_string_up gauge\n";
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    const bool up = r.get(model::PointId::kStringVoltageV, s).quality == model::Quality::kOk &&
                    r.get(model::PointId::kStringCurrentA, s).quality == model::Quality::kOk;
    out += fmt::format("equalis_string_up{{string=\"{}\"}} {}\n", s + 1, up ? 1 : 0);
  }
  out +=
      "# HELP equalis_block_up 1 when the block's module answered recently with a valid reading\n"
      "# TYPE equalis_block_up gauge\n";
  for (std::size_t s = 0; s < plant.strings.size(); ++s) {
    for (int b = 0; b < plant.strings[s].block_count; ++b) {
      const bool up =
          r.get(model::PointId::kBlockVoltageV, s, static_cast<std::size_t>(b)).quality ==
          model::Quality::kOk;
      out += fmt::format("equalis_block_up{{string=\"{}\",block=\"{}\"}} {}\n", s + 1, b + 1,
                         up ? 1 : 0);
    }
  }
  return out;
}

namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <class T>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            T value) {
  family(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

}  // namespace

std::string renderSelfMetrics(const SelfMetrics& m) {
  std::string out;
  out.reserve(std::size_t{8} * 1024);
  const auto& rt = m.runtime;
  family(out, "equalis_build_info", "gauge", "Version of this equalisd (always 1)");
  std::string version;
  for (char c : m.version) {
    if (c == '\\' || c == '"') {
      version += '\\';
    }
    version += c == '\n' ? ' ' : c;
  }
  out += fmt::format("equalis_build_info{{version=\"{}\"}} 1\n", version);
  single(out, "equalis_uptime_seconds", "gauge", "Real time since equalisd started",
         formatValue(std::chrono::duration<double>(m.now - rt.started).count()));

  // The control cycle.
  single(out, "equalis_control_cycles_total", "counter",
         "Control cycles completed (one sweep each) since start", rt.cycles);
  single(out, "equalis_control_cycle_last_duration_seconds", "gauge",
         "Real duration of the last control cycle", formatValue(rt.last_cycle_s));
  family(out, "equalis_control_cycle_duration_seconds", "histogram",
         "Real duration of the control cycles since start");
  for (std::size_t i = 0; i < ops::kCycleBucketsS.size(); ++i) {
    out += fmt::format("equalis_control_cycle_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                       ops::kCycleBucketsS[i], rt.cycle.buckets[i]);
  }
  out += fmt::format("equalis_control_cycle_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     rt.cycle.count);
  out +=
      fmt::format("equalis_control_cycle_duration_seconds_sum {}\n", formatValue(rt.cycle.sum_s));
  out += fmt::format("equalis_control_cycle_duration_seconds_count {}\n", rt.cycle.count);
  if (rt.cycles > 0) {
    single(out, "equalis_control_last_cycle_age_seconds", "gauge",
           "Real time since the last control cycle ended (liveness: /healthz)",
           formatValue(std::chrono::duration<double>(m.now - rt.last_cycle_end).count()));
  }
  single(out, "equalis_control_modules_ok", "gauge", "Modules that answered in the last sweep",
         rt.modules_ok);
  single(out, "equalis_control_modules_comm_lost", "gauge",
         "Modules whose communication is lost in the last sweep", rt.modules_comm_lost);
  single(out, "equalis_state_version", "gauge",
         "Version of the newest state (one per control cycle or applied command)", m.state_version);

  // Operator commands and configuration reloads.
  single(out, "equalis_command_queue_depth", "gauge", "Operator commands waiting for the cycle",
         m.command_queue_depth);
  family(out, "equalis_commands_total", "counter", "Operator commands since start, by outcome");
  out += fmt::format("equalis_commands_total{{outcome=\"applied\"}} {}\n", rt.commands_applied);
  out += fmt::format("equalis_commands_total{{outcome=\"refused\"}} {}\n", rt.commands_refused);
  family(out, "equalis_config_reloads_total", "counter",
         "Configuration reloads since start, by outcome");
  out +=
      fmt::format("equalis_config_reloads_total{{outcome=\"applied\"}} {}\n", rt.reloads_applied);
  out +=
      fmt::format("equalis_config_reloads_total{{outcome=\"rejected\"}} {}\n", rt.reloads_rejected);

  // History store.
  if (m.history_open) {
    single(out, "equalis_history_used_bytes", "gauge", "Bytes used by the history store's pages",
           m.history_used_bytes);
    single(out, "equalis_history_file_bytes", "gauge",
           "Bytes of the history database and its WAL on disk", m.history_file_bytes);
    single(out, "equalis_history_max_bytes", "gauge", "Size bound of the history store",
           m.history_max_bytes);
    single(out, "equalis_history_snapshots", "gauge", "Snapshots held by the history store",
           m.history_snapshots);
  }

  // Event manager.
  if (m.events_present) {
    const auto& e = m.events;
    family(out, "equalis_events_deliveries_total", "counter",
           "Event-manager action outcomes since start");
    out += fmt::format("equalis_events_deliveries_total{{outcome=\"ok\"}} {}\n", e.delivered);
    out += fmt::format("equalis_events_deliveries_total{{outcome=\"failed\"}} {}\n", e.failed);
    out += fmt::format("equalis_events_deliveries_total{{outcome=\"dropped\"}} {}\n", e.dropped);
    single(out, "equalis_events_queue_depth", "gauge",
           "Event-manager deliveries queued or running on the worker threads", e.queued);
    single(out, "equalis_events_pending_actions", "gauge",
           "Delayed or repeating event-manager actions waiting for their time", e.pending_actions);
  }

  // The process.
  const auto& p = m.process;
  single(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes",
         p.resident_bytes);
  single(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes",
         p.virtual_bytes);
  single(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds",
         formatValue(p.cpu_seconds));
  single(out, "process_open_fds", "gauge", "Open file descriptors", p.open_fds);
  single(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the epoch in seconds",
         fmt::format("{:.2f}", p.start_time_unix_s));
  single(out, "equalis_process_threads", "gauge", "Threads of the equalisd process", p.threads);
  return out;
}

}  // namespace equalis::rest
