#include "bus/bus.hpp"

#include <chrono>

#include "model/chemistry.hpp"

namespace equalis::bus {

namespace {
constexpr int kAttemptsPerModule = 2;  // one retry
}  // namespace

void convertToSi(Sweep& sweep) {
  for (auto& modules : sweep.modules) {
    for (auto& m : modules) {
      m.voltage_v = m.reading.voltage_mv / 1000.0;
      m.temperature_c = m.reading.temperature_dc / 10.0;
      m.ri_mohm = m.reading.ri_uohm / 1000.0;
      m.bypass_duty = m.reading.bypass_duty_pct / 100.0;
      m.fresh = m.time_ms == sweep.time_ms && m.time_ms != 0;
    }
  }
  for (auto& sensor : sweep.string_sensors) {
    sensor.current_a = sensor.reading.current_ma / 1000.0;
    sensor.ac_current_a = sensor.reading.ac_current_ma / 1000.0;
  }
  sweep.ambient.temperature_c = sweep.ambient.temperature_dc / 10.0;
}

const char* lineStateName(LineState state) {
  switch (state) {
    case LineState::kUp:
      return "up";
    case LineState::kDegraded:
      return "degraded";
    case LineState::kDown:
      return "down";
  }
  return "down";
}

void Backend::readString(std::size_t string_index, std::vector<Result<ModuleReading>>& out) {
  out.clear();
  const std::size_t blocks = blockCount(string_index);
  out.reserve(blocks);
  for (std::size_t b = 0; b < blocks; ++b) {
    out.push_back(readModule(string_index, b));
  }
}

void Backend::readAll(const std::vector<bool>& with_sensor, SweepRead& out) {
  const std::size_t strings = stringCount();
  out.modules.resize(strings);
  out.sensors.assign(strings, std::nullopt);
  for (std::size_t s = 0; s < strings; ++s) {
    readString(s, out.modules[s]);
    if (s < with_sensor.size() && with_sensor[s]) {
      out.sensors[s] = readStringSensor(s);
    }
  }
}

Frontend::Frontend(Backend& backend, const model::PlantConfig& plant)
    : backend_(backend), plant_(plant) {
  const std::size_t strings = backend_.stringCount();
  sweep_.modules.resize(strings);
  sweep_.comm.resize(strings);
  sweep_.string_sensors.resize(strings);
  bypass_sent_.resize(strings);
  with_sensor_.assign(strings, false);
  sensor_failures_.assign(strings, 0);
  for (std::size_t s = 0; s < strings; ++s) {
    with_sensor_[s] = s < plant_.strings.size() && plant_.strings[s].current_sensor.present;
    bypass_sent_[s].assign(backend_.blockCount(s), -1);
    sweep_.modules[s].resize(backend_.blockCount(s));
    sweep_.comm[s].resize(backend_.blockCount(s));
  }
}

void Frontend::commandBypass(std::size_t string_index, std::size_t block_index,
                             std::uint8_t duty_pct) {
  if (string_index >= bypass_sent_.size() || block_index >= bypass_sent_[string_index].size()) {
    return;
  }
  int& sent = bypass_sent_[string_index][block_index];
  if (sent == duty_pct) {
    return;
  }
  if (backend_.writeBypass(string_index, block_index, duty_pct)) {
    sent = duty_pct;
  } else {
    sent = -1;
    sweep_.comm[string_index][block_index].errors += 1;
  }
}

const Sweep& Frontend::sweep(TimeMs now_ms) {
  const auto wall_start = std::chrono::steady_clock::now();
  sweep_.seq += 1;
  sweep_.time_ms = now_ms;
  sweep_.modules_ok = 0;
  const int lost_after = plant_.bus.comm_lost_after_failures;
  // Bulk path: one sample instant, one read of everything; the retry is a single request.
  (void)backend_.triggerSample();  // a failed trigger shows as failed reads below
  backend_.readAll(with_sensor_, bulk_);

  for (std::size_t s = 0; s < sweep_.modules.size(); ++s) {
    const auto& module = model::moduleTypeInfo(plant_.strings[s].module_type);
    const auto v_min_mv = static_cast<std::int32_t>(module.voltage_min_v * 1000.0);
    const auto v_max_mv = static_cast<std::int32_t>(module.voltage_max_v * 1000.0);
    for (std::size_t b = 0; b < sweep_.modules[s].size(); ++b) {
      auto& sample = sweep_.modules[s][b];
      auto& comm = sweep_.comm[s][b];
      bool answered = false;
      for (int attempt = 0; attempt < kAttemptsPerModule && !answered; ++attempt) {
        const bool bulk = attempt == 0 && s < bulk_.modules.size() && b < bulk_.modules[s].size();
        auto reading = bulk ? std::move(bulk_.modules[s][b]) : backend_.readModule(s, b);
        if (!reading) {
          comm.errors += 1;
          continue;
        }
        answered = true;
        comm.ok += 1;
        comm.consecutive_failures = 0;
        sample.reading = *reading;
        sample.time_ms = now_ms;
        // A reading outside the module's measuring range is reported, but never as valid.
        const bool in_range = reading->voltage_mv >= v_min_mv && reading->voltage_mv <= v_max_mv;
        sample.quality = in_range ? model::Quality::kOk : model::Quality::kInvalid;
      }
      if (answered) {
        sweep_.modules_ok += 1;
      } else {
        comm.consecutive_failures += 1;
        if (static_cast<int>(comm.consecutive_failures) >= lost_after) {
          sample.quality = model::Quality::kCommLost;
        }
      }
    }
    auto& sensor = sweep_.string_sensors[s];
    if (!plant_.strings[s].current_sensor.present) {
      sensor.quality = model::Quality::kNotPresent;
    } else if (auto reading = s < bulk_.sensors.size() && bulk_.sensors[s]
                                  ? std::move(*bulk_.sensors[s])
                                  : backend_.readStringSensor(s)) {
      sensor.reading = *reading;
      sensor.time_ms = now_ms;
      const double range_ma = plant_.strings[s].current_sensor.range_a * 1000.0;
      const double current_ma = reading->current_ma;
      sensor.quality = (current_ma >= -range_ma && current_ma <= range_ma)
                           ? model::Quality::kOk
                           : model::Quality::kInvalid;
      sensor_failures_[s] = 0;
    } else {
      // No answer: the last reading keeps its time (so it turns stale), then comm-lost.
      sensor_failures_[s] += 1;
      if (sensor_failures_[s] >= lost_after) {
        sensor.quality = model::Quality::kCommLost;
      }
    }
  }

  if (!plant_.ambient.sensor_present) {
    sweep_.ambient.quality = model::Quality::kNotPresent;
  } else if (auto ambient = backend_.readAmbientDc()) {
    sweep_.ambient.temperature_dc = *ambient;
    sweep_.ambient.time_ms = now_ms;
    sweep_.ambient.quality = model::Quality::kOk;
    ambient_failures_ = 0;
  } else if (++ambient_failures_ >= lost_after) {
    sweep_.ambient.quality = model::Quality::kCommLost;
  }

  convertToSi(sweep_);
  sweep_.duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start)
          .count();
  return sweep_;
}

}  // namespace equalis::bus
