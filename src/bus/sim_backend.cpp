#include "bus/sim_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bus/wire_backend.hpp"

namespace equalis::bus {

namespace {
template <class T>
T saturate(double v) {
  const double lo = static_cast<double>(std::numeric_limits<T>::min());
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  return static_cast<T>(std::clamp(std::round(v), lo, hi));
}
}  // namespace

Result<ModuleReading> SimBackend::readModule(std::size_t string_index, std::size_t block_index) {
  if (string_index >= plant_.stringCount() || block_index >= plant_.blockCount(string_index)) {
    return makeError(ErrorCode::kNotFound, "no such module");
  }
  if (plant_.moduleCommFault(string_index, block_index)) {
    return makeError(ErrorCode::kTimeout, "module did not answer");
  }
  const auto m = plant_.measureModule(string_index, block_index);
  ModuleReading r;
  r.voltage_mv = saturate<std::int32_t>(m.voltage_v * 1000.0);
  r.temperature_dc = saturate<std::int16_t>(m.temperature_c * 10.0);
  r.ri_uohm = saturate<std::int32_t>(m.ri_ohm * 1e6);
  r.bypass_duty_pct = saturate<std::uint8_t>(std::clamp(m.bypass_duty, 0.0, 1.0) * 100.0);
  return r;
}

Result<StringSensorReading> SimBackend::readStringSensor(std::size_t string_index) {
  if (string_index >= plant_.stringCount()) {
    return makeError(ErrorCode::kNotFound, "no such string");
  }
  const auto m = plant_.measureStringCurrent(string_index);
  return StringSensorReading{saturate<std::int32_t>(m.current_a * 1000.0),
                             saturate<std::int32_t>(m.ac_current_a * 1000.0)};
}

Result<std::int16_t> SimBackend::readAmbientDc() {
  return saturate<std::int16_t>(plant_.measureAmbientC() * 10.0);
}

Status SimBackend::writeBypass(std::size_t string_index, std::size_t block_index,
                               std::uint8_t duty_pct) {
  if (string_index >= plant_.stringCount() || block_index >= plant_.blockCount(string_index)) {
    return makeError(ErrorCode::kNotFound, "no such module");
  }
  plant_.setBypassDuty(string_index, block_index, std::min<double>(duty_pct, 100.0) / 100.0);
  return {};
}

Result<std::unique_ptr<Backend>> openBackend(const model::PlantConfig& plant, const Clock& clock,
                                             sim::PlantSim* sim) {
  if (!plant.bus.lines.empty()) {
    auto wire = WireBackend::create(plant, clock);
    if (!wire) {
      return wire.error();
    }
    return std::unique_ptr<Backend>(std::move(*wire));
  }
  if (sim == nullptr) {
    return makeError(ErrorCode::kInvalidArgument, "no [[bus.line]] and no simulator");
  }
  return std::unique_ptr<Backend>(std::make_unique<SimBackend>(*sim));
}

}  // namespace equalis::bus
