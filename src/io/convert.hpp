// Channel values from what a device delivers: register decoding, signal scaling (0–10 V,
// 4–20 mA), sensor plausibility and active-low inputs. Pure functions (unit-tested).
#pragma once

#include <cstdint>
#include <limits>
#include <span>

#include "model/io.hpp"
#include "model/quality.hpp"

namespace equalis::io {

struct Reading {
  double value = std::numeric_limits<double>::quiet_NaN();
  model::Quality quality = model::Quality::kNotPresent;
};

// NAMUR NE 43: a 4–20 mA transmitter signals a failure below 3.6 mA (open loop, broken wire) or
// above 21 mA (short circuit); 3.6–3.8 and 20.5–21 mA are saturation, shown clamped.
constexpr double kLoopFailLowMa = 3.6;
constexpr double kLoopFailHighMa = 21.0;
// A 0–10 V input more than 0.5 V outside its span is miswired or broken [G].
constexpr double kVoltageMarginV = 0.5;

// The number in one or two registers: 16 or 32 bit (high word first), signed or unsigned.
double decodeRegisters(const model::RegisterMap& map, std::span<const std::uint16_t> words);

// A wire signal (V or mA) scaled linearly to the engineering range; invalid outside the signal's
// plausible band (NE 43 for 4–20 mA).
Reading scaleSignal(model::AnalogSignal signal, double wire, double range_min, double range_max);

// An analog channel's value from its raw number (the decoded register): raw × scale + offset
// (the register map's; 1 and 0 without one), then the signal scaling of an analog input, or the
// plausibility range of a sensor (temperature −40…85 °C, humidity 0…100 %, hydrogen 0…100 % vol,
// electrolyte level 0/1/2).
Reading analogReading(const model::IoChannelConfig& channel, double raw);

// A digital channel's logical state from the bit on the wire (active-low inverts).
inline bool logicalState(const model::IoChannelConfig& channel, bool wire) {
  return wire != channel.active_low;
}

}  // namespace equalis::io
