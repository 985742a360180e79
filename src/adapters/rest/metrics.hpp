// Prometheus text exposition (format 0.0.4) of the state store. Metric names come from the point
// catalogue with Prometheus base units in the name (block.voltage_v →
// equalis_block_voltage_volts{string="1",block="17"}). Values whose quality is not "ok" are left
// out (absence is how Prometheus shows missing data); equalis_block_up / equalis_string_up say
// which blocks and strings have fresh data.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "events/manager.hpp"
#include "model/plant.hpp"
#include "model/points.hpp"
#include "ops/stats.hpp"
#include "state/state_store.hpp"

namespace equalis::rest {

struct MetricName {
  std::string name;  // equalis_block_voltage_volts
  double factor;     // catalogue unit → base unit
  bool counter;      // monotonic since start (…_total)
};

// Prometheus name and unit conversion of a float/int point; enum points are exported as
// state sets (one series per state, 1 for the current one) named without a unit.
MetricName metricName(const model::PointDef& def);

std::string renderMetrics(const model::PlantConfig& plant, const state::StateStore::Reader& r);

// The daemon's own figures (docs/prometheus.md, "Self-metrics"): the control cycle, the
// operator-command queue, configuration reloads, the history store, the event manager and the
// process. Filled by the REST server at each scrape; absent parts are left out.
struct SelfMetrics {
  std::string version;
  ops::RuntimeSnapshot runtime;
  std::chrono::steady_clock::time_point now;
  std::uint64_t state_version = 0;
  std::size_t command_queue_depth = 0;
  bool history_open = false;
  std::uint64_t history_used_bytes = 0;
  std::uint64_t history_file_bytes = 0;
  std::uint64_t history_max_bytes = 0;
  std::uint64_t history_snapshots = 0;
  bool events_present = false;
  events::ManagerStats events;
  ops::ProcessFigures process;
};

std::string renderSelfMetrics(const SelfMetrics& m);

}  // namespace equalis::rest
