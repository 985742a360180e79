// Configuration of I/O and sensor devices (relay/digital-input boxes, analog inputs, room
// sensors): see docs/io.md.
#pragma once

namespace equalis::model {

struct IoConfig {};

}  // namespace equalis::model
