// Prometheus text exposition (format 0.0.4) of the state store. Metric names come from the point
// catalogue with Prometheus base units in the name (block.voltage_v →
// equalis_block_voltage_volts{string="1",block="17"}). Values whose quality is not "ok" are left
// out (absence is how Prometheus shows missing data); equalis_block_up / equalis_string_up say
// which blocks and strings have fresh data.
#pragma once

#include <optional>
#include <string>

#include "model/plant.hpp"
#include "model/points.hpp"
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

}  // namespace equalis::rest
