// Readers of the configuration sections that live in their own files (internal to the loader).
#pragma once

#include "config/section.hpp"
#include "model/plant.hpp"

namespace equalis::config::detail {

// [bus] and [[bus.line]]: sweep settings and module-bus lines (after the strings are read).
void readBus(Context& ctx, Section& top, model::PlantConfig& plant);
// [alarms] and [[alarms.rule]]: rule overrides, plant-wide and per string.
void readAlarms(Context& ctx, Section& top, model::PlantConfig& plant);
// [[io.device]] and friends: I/O and sensor devices.
void readIo(Context& ctx, Section& top, model::PlantConfig& plant);
// [events], [events.smtp], [events.syslog], [[events.rule]]: the event manager.
void readEvents(Context& ctx, Section& top, model::PlantConfig& plant);
// [radius]: RADIUS logins.
void readRadius(Section& top, model::RadiusConfig& radius);

}  // namespace equalis::config::detail
