#include "sim/truth.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace equalis::sim {

namespace {

std::string_view modeName(StringMode m) {
  switch (m) {
    case StringMode::kCharge:
      return "charge";
    case StringMode::kDischarge:
      return "discharge";
    case StringMode::kRest:
      return "rest";
    case StringMode::kFloat:
      break;
  }
  return "float";
}

}  // namespace

std::string truthLines(const PlantSim& sim, TimeMs t_ms) {
  std::string out;
  const std::string time = formatIso8601(t_ms);
  for (std::size_t s = 0; s < sim.stringCount(); ++s) {
    const StringTruth st = sim.stringTruth(s);
    fmt::format_to(std::back_inserter(out),
                   R"({{"kind":"string","t_ms":{},"time":"{}","string":{},"voltage_v":{},)"
                   R"("current_a":{},"charger_setpoint_v":{},"mode":"{}",)"
                   R"("current_sensor_gain_error":{},"current_sensor_offset_a":{}}})"
                   "\n",
                   t_ms, time, s + 1, st.voltage_v, st.current_a, st.charger_setpoint_v,
                   modeName(st.mode), st.current_sensor_gain_error, st.current_sensor_offset_a);
    const double nominal_ah = sim.nominalCapacityAh(s);
    for (std::size_t b = 0; b < sim.blockCount(s); ++b) {
      const BlockTruth bt = sim.blockTruth(s, b);
      fmt::format_to(
          std::back_inserter(out),
          R"({{"kind":"block","t_ms":{},"time":"{}","string":{},"block":{},"soc":{},)"
          R"("capacity_ah":{},"capacity_pct":{},"ri_ohm":{},"i0_a":{},)"
          R"("ri_ref_ohm":{},"initial_capacity_ah":{},"initial_ri_ohm":{},"initial_i0_a":{},)"
          R"("temperature_c":{},"voltage_v":{},"ocv_v":{},)"
          R"("corrosion_fade":{},"sulfation_fade":{},"softening_fade":{},"dry_out_fade":{},)"
          R"("water_loss_fraction":{},"coup_de_fouet_state":{},)"
          R"("module_gain_error":{},"module_offset_v":{}}})"
          "\n",
          t_ms, time, s + 1, b + 1, bt.soc, bt.capacity_ah, 100.0 * bt.capacity_ah / nominal_ah,
          bt.ri_ohm, bt.gas_i0_a, bt.ri_ref_ohm, bt.initial_capacity_ah, bt.initial_ri_ohm,
          bt.initial_gas_i0_a, bt.temperature_c, bt.voltage_v, bt.ocv_v, bt.corrosion_fade,
          bt.sulfation_fade, bt.softening_fade, bt.dry_out_fade, bt.water_loss_fraction,
          bt.coup_de_fouet_state, sim.moduleGainError(s, b), sim.moduleOffsetV(s, b));
    }
  }
  return out;
}

Result<TruthWriter> TruthWriter::open(const std::string& path, DurationMs interval_ms) {
  if (interval_ms <= 0) {
    return makeError(ErrorCode::kInvalidArgument, "the truth interval must be > 0");
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return makeError(ErrorCode::kIo, fmt::format("cannot write the truth stream {}: {}", path,
                                                 std::strerror(errno)));
  }
  return TruthWriter(f, path, interval_ms);
}

TruthWriter::TruthWriter(TruthWriter&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      path_(std::move(other.path_)),
      interval_ms_(other.interval_ms_),
      next_ms_(other.next_ms_),
      first_(other.first_) {}

TruthWriter::~TruthWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

Status TruthWriter::maybeWrite(const PlantSim& sim, TimeMs t_ms) {
  if (!first_ && t_ms < next_ms_) {
    return {};
  }
  first_ = false;
  next_ms_ = t_ms + interval_ms_;
  const std::string lines = truthLines(sim, t_ms);
  if (std::fwrite(lines.data(), 1, lines.size(), file_) != lines.size() ||
      std::fflush(file_) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("cannot write the truth stream {}: {}", path_,
                                                 std::strerror(errno)));
  }
  return {};
}

}  // namespace equalis::sim
