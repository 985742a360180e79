// The part of a state version that is not a catalogue point: the active alarms, the alarm rules
// in force, the protection states and the I/O view. The control cycle builds it and attaches it
// to the state version it commits (StateStore::Writer::attach), so an adapter that reads a
// version gets the alarm list that produced that version's block status and alarm counts.
#pragma once

#include <memory>
#include <vector>

#include "alarms/alarms.hpp"
#include "alarms/runaway.hpp"
#include "analysis/health.hpp"
#include "bus/bus.hpp"
#include "io/hub.hpp"
#include "model/plant.hpp"
#include "state/state_store.hpp"

namespace equalis::command {

// Rules change rarely: one shared copy until an operator edits them.
struct RulesView {
  alarms::RuleTable table;                          // defaults + config + run-time changes
  std::vector<model::AlarmRuleOverride> overrides;  // the run-time changes alone
};

struct Published {
  std::vector<alarms::ActiveAlarm> alarms;  // worst first, protection alarms included
  std::shared_ptr<const RulesView> rules;
  std::vector<alarms::RunawayState> protection;  // per string
  std::vector<io::ChannelSnapshot> io_channels;
  std::vector<io::DeviceSnapshot> io_devices;
  std::vector<bus::LineHealth> bus_lines;  // module-bus lines; empty with the simulator
  // What each module said it is (READ_INFO); changes rarely, so one shared copy. Empty with the
  // simulator.
  std::shared_ptr<const std::vector<bus::ModuleIdentity>> modules;
  // The blocks' health per string, as last assessed (hourly); empty before the first cycle.
  std::vector<std::shared_ptr<const analysis::HealthTracker>> health;
};

// The published part of the version `reader` sees; an empty object before the first cycle.
inline std::shared_ptr<const Published> published(const state::StateStore::Reader& reader) {
  static const auto empty_view = std::make_shared<const Published>(
      Published{{},
                std::make_shared<const RulesView>(),
                {},
                {},
                {},
                {},
                std::make_shared<const std::vector<bus::ModuleIdentity>>(),
                {}});
  const auto& any = reader.attachment();
  return any ? std::static_pointer_cast<const Published>(any) : empty_view;
}

// Active alarms of the newest version.
inline std::vector<alarms::ActiveAlarm> activeAlarms(const state::StateStore& store,
                                                     TimeMs now_ms) {
  state::StateStore::Reader r(store, now_ms);
  return published(r)->alarms;
}

}  // namespace equalis::command
