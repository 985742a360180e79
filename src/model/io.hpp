// Configuration of I/O and sensor devices (relay/digital-input boxes, analog inputs, room
// sensors): see docs/io.md.
#pragma once

#include <string>

#include "core/clock.hpp"

namespace equalis::model {

// A digital input that changed state (what the event manager and the alarm engine react to).
struct InputChange {
  std::string channel_id;  // "aux1.di3"
  std::string name;        // "Door contact"
  bool value = false;      // new state (true = active)
  TimeMs time_ms = 0;
};

struct IoConfig {};

}  // namespace equalis::model
