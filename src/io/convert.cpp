#include "io/convert.hpp"

#include <algorithm>
#include <cmath>

namespace equalis::io {

namespace {

constexpr double kTemperatureMinC = -40.0;
constexpr double kTemperatureMaxC = 85.0;
constexpr double kLoopMinMa = 4.0;
constexpr double kLoopSpanMa = 16.0;
constexpr double kVoltageSpanV = 10.0;

Reading checked(double v, double lo, double hi) {
  if (!std::isfinite(v)) {
    return Reading{v, model::Quality::kInvalid};
  }
  return Reading{v, (v >= lo && v <= hi) ? model::Quality::kOk : model::Quality::kInvalid};
}

}  // namespace

double decodeRegisters(const model::RegisterMap& map, std::span<const std::uint16_t> words) {
  if (words.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (map.words == 2 && words.size() >= 2) {
    const std::uint32_t u = (static_cast<std::uint32_t>(words[0]) << 16) | words[1];
    return map.is_signed ? static_cast<double>(static_cast<std::int32_t>(u))
                         : static_cast<double>(u);
  }
  return map.is_signed ? static_cast<double>(static_cast<std::int16_t>(words[0]))
                       : static_cast<double>(words[0]);
}

Reading scaleSignal(model::AnalogSignal signal, double wire, double range_min, double range_max) {
  if (!std::isfinite(wire)) {
    return Reading{wire, model::Quality::kInvalid};
  }
  double fraction = 0.0;
  switch (signal) {
    case model::AnalogSignal::kCurrent4To20:
      if (wire < kLoopFailLowMa || wire > kLoopFailHighMa) {
        // Open loop / short: no measurement (the value shows what the wire carries, in mA).
        return Reading{wire, model::Quality::kInvalid};
      }
      fraction = std::clamp((wire - kLoopMinMa) / kLoopSpanMa, 0.0, 1.0);
      break;
    case model::AnalogSignal::kVoltage0To10:
      if (wire < -kVoltageMarginV || wire > kVoltageSpanV + kVoltageMarginV) {
        return Reading{wire, model::Quality::kInvalid};
      }
      fraction = std::clamp(wire / kVoltageSpanV, 0.0, 1.0);
      break;
    case model::AnalogSignal::kNone:
      return Reading{wire, model::Quality::kOk};
  }
  return Reading{range_min + fraction * (range_max - range_min), model::Quality::kOk};
}

Reading analogReading(const model::IoChannelConfig& channel, double raw) {
  const double scale = channel.reg ? channel.reg->scale : 1.0;
  const double offset = channel.reg ? channel.reg->offset : 0.0;
  const double v = raw * scale + offset;
  switch (channel.kind) {
    case model::ChannelKind::kAnalogInput:
      return scaleSignal(channel.signal, v, channel.range_min, channel.range_max);
    case model::ChannelKind::kTemperature:
      return checked(v, kTemperatureMinC, kTemperatureMaxC);
    case model::ChannelKind::kHumidity:
    case model::ChannelKind::kHydrogen:
      return checked(v, 0.0, 100.0);
    case model::ChannelKind::kElectrolyteLevel: {
      const bool known = v == 0.0 || v == 1.0 || v == 2.0;  // good, warning, alarm
      return Reading{v, known ? model::Quality::kOk : model::Quality::kInvalid};
    }
    default:
      return Reading{v, model::Quality::kOk};
  }
}

}  // namespace equalis::io
