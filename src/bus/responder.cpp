#include "bus/responder.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/chemistry.hpp"

namespace equalis::bus {

namespace {

using proto::Command;

template <class T>
T saturate(std::int64_t v) {
  return static_cast<T>(
      std::clamp<std::int64_t>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

constexpr std::uint8_t kFirmwareMajor = 1;
constexpr std::uint8_t kFirmwareMinor = 0;
constexpr std::uint8_t kFirmwarePatch = 0;
constexpr std::uint32_t kSerialBase = 0x45510000;  // "EQ" + module number

}  // namespace

LineResponder::LineResponder(std::vector<LineString> strings, bool ambient_sensor,
                             std::uint32_t baud, Backend& values, WireFaults faults)
    : strings_(std::move(strings)),
      ambient_sensor_(ambient_sensor),
      char_ns_(static_cast<std::int64_t>(1e9 * proto::kCharBits / baud)),
      values_(values),
      faults_(std::move(faults)),
      rng_(faults_.seed) {
  for (const auto& s : strings_) {
    for (std::size_t b = 0; b < s.blocks; ++b) {
      Module m;
      m.string_index = s.string_index;
      m.block_index = b;
      m.address = static_cast<std::uint16_t>(s.first_address + b);
      m.serial = kSerialBase + static_cast<std::uint32_t>(s.string_index * 1000 + b + 1);
      m.type = 3;  // C24
      modules_.push_back(m);
    }
    if (s.current_sensor) {
      sensors_.push_back(Sensor{s.string_index, {}, false});
    }
  }
  reindex();
}

void LineResponder::replaceModule(std::size_t module, std::uint32_t serial, bool keep_address) {
  if (module >= modules_.size()) {
    return;
  }
  auto& m = modules_[module];
  m.serial = serial;
  if (!keep_address) {
    m.address = proto::kUnaddressed;
  }
  m.have_sample = false;
  m.restarted = true;
  m.target_mv = 0;
  reindex();
}

void LineResponder::forgetAddresses() {
  for (auto& m : modules_) {
    m.address = proto::kUnaddressed;
  }
  reindex();
}

std::optional<std::size_t> LineResponder::moduleIndex(std::size_t string_index,
                                                      std::size_t block_index) const {
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i].string_index == string_index && modules_[i].block_index == block_index) {
      return i;
    }
  }
  return std::nullopt;
}

void LineResponder::reindex() {
  by_address_.clear();
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i].address != proto::kUnaddressed) {
      by_address_[modules_[i].address] = i;
    }
  }
}

LineResponder::Module* LineResponder::moduleAt(std::uint16_t address) {
  const auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : &modules_[it->second];
}

bool LineResponder::silent(std::uint16_t address, const Module* m) {
  if (faults_.silent.count(address) != 0) {
    return true;
  }
  // A module the plant simulator declares mute (comm fault) does not answer either.
  return m != nullptr && m->mute;
}

proto::Measurement LineResponder::measure(Module& m, std::uint8_t tag) {
  proto::Measurement out;
  out.sample_tag = tag;
  auto r = values_.readModule(m.string_index, m.block_index);
  m.mute = !r && r.error().code == ErrorCode::kTimeout;
  if (!r) {
    out.flags = proto::kFlagMeasurementFault;
    return out;
  }
  out.voltage_mv = saturate<std::int16_t>(r->voltage_mv);
  out.temperature_dc = r->temperature_dc;
  out.ri_uohm = r->ri_uohm <= 0 ? std::uint16_t{0} : saturate<std::uint16_t>(r->ri_uohm);
  if (r->ri_uohm <= 0) {
    out.flags |= proto::kFlagRiInvalid;
  }
  out.bypass_duty_pct = std::min<std::uint8_t>(r->bypass_duty_pct, 100);
  return out;
}

void LineResponder::sample(std::uint8_t tag) {
  stats_.samples += 1;
  for (auto& m : modules_) {
    m.latched = measure(m, tag);
    m.have_sample = true;
  }
  for (auto& s : sensors_) {
    s.latched = {};
    s.latched.sample_tag = tag;
    if (auto r = values_.readStringSensor(s.string_index)) {
      s.latched.current_ma = r->current_ma;
      s.latched.ac_current_ma = r->ac_current_ma;
    } else {
      s.latched.flags = proto::kFlagMeasurementFault;
    }
    s.have_sample = true;
  }
  if (ambient_sensor_) {
    ambient_latched_ = {};
    ambient_latched_.sample_tag = tag;
    if (auto t = values_.readAmbientDc()) {
      ambient_latched_.temperature_dc = *t;
    } else {
      ambient_latched_.flags = proto::kFlagMeasurementFault;
    }
    ambient_have_sample_ = true;
  }
}

bool LineResponder::readPayload(std::uint16_t address, std::uint8_t item, proto::Payload& payload) {
  if (Module* m = moduleAt(address)) {
    if (item != static_cast<std::uint8_t>(Command::kReadMeasurement)) {
      return false;
    }
    if (!m->have_sample) {
      m->latched = measure(*m, 0);  // the power-up sample
      m->have_sample = true;
    }
    auto latched = m->latched;
    if (m->restarted) {
      latched.flags |= proto::kFlagRestarted;
      m->restarted = false;
    }
    payload = proto::encodeMeasurement(latched);
    return true;
  }
  if (address > proto::kCurrentSensorBase && address < proto::kAmbientSensor) {
    const std::size_t string_index = address - proto::kCurrentSensorBase - 1u;
    for (auto& s : sensors_) {
      if (s.string_index == string_index) {
        if (item != static_cast<std::uint8_t>(Command::kReadCurrent)) {
          return false;
        }
        payload = proto::encodeCurrent(s.latched);
        return true;
      }
    }
    return false;
  }
  if (address == proto::kAmbientSensor && ambient_sensor_ &&
      item == static_cast<std::uint8_t>(Command::kReadTemperature)) {
    if (!ambient_have_sample_) {
      sample(0);
    }
    payload = proto::encodeTemperature(ambient_latched_);
    return true;
  }
  return false;
}

std::int64_t LineResponder::emit(std::uint16_t address, std::uint8_t cmd_byte, std::uint8_t seq,
                                 std::span<const std::uint8_t> payload, std::int64_t start_ns,
                                 bool may_be_late, std::vector<Transmission>& out) {
  Transmission t;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (faults_.noise_probability > 0 && u(rng_) < faults_.noise_probability) {
    const auto n = std::uniform_int_distribution<int>(1, 16)(rng_);
    for (int i = 0; i < n; ++i) {
      t.bytes.push_back(
          static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng_)));
    }
    stats_.noise_injected += 1;
  }
  const auto frame = proto::encode(proto::makeFrame(address, cmd_byte, seq, payload));
  t.bytes.insert(t.bytes.end(), frame.bytes.begin(),
                 frame.bytes.begin() + static_cast<std::ptrdiff_t>(frame.size));
  if (faults_.crc_probability > 0 && u(rng_) < faults_.crc_probability) {
    const auto bit = std::uniform_int_distribution<std::size_t>(0, frame.size * 8 - 1)(rng_);
    t.bytes[t.bytes.size() - frame.size + bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    stats_.crc_injected += 1;
  }
  std::int64_t start = std::max(start_ns, busy_until_ns_ + char_ns_);
  if (may_be_late && faults_.late_probability > 0 && u(rng_) < faults_.late_probability) {
    start += static_cast<std::int64_t>(faults_.late_ms * 1e6);
    stats_.late_injected += 1;
  }
  const std::int64_t end = start + static_cast<std::int64_t>(t.bytes.size()) * char_ns_;
  t.due_ns = end;
  busy_until_ns_ = std::max(busy_until_ns_, end);
  stats_.replies += 1;
  out.push_back(std::move(t));
  return end;
}

void LineResponder::error(const proto::Frame& f, proto::DeviceError code, std::int64_t end_ns,
                          std::vector<Transmission>& out) {
  const std::uint8_t payload[] = {static_cast<std::uint8_t>(code)};
  emit(f.address,
       static_cast<std::uint8_t>(f.baseCommand() | proto::kReplyFlag | proto::kErrorFlag),
       f.sequence, payload, end_ns + char_ns_, true, out);
}

void LineResponder::receive(std::span<const std::uint8_t> bytes, std::int64_t end_ns,
                            std::vector<Transmission>& out) {
  parser_.push(bytes);
  proto::Frame f;
  while (parser_.next(f)) {
    stats_.requests += 1;
    handle(f, end_ns, out);
  }
  const auto& p = parser_.stats();
  stats_.bad_frames = p.crc_errors + p.malformed;
}

void LineResponder::handle(const proto::Frame& f, std::int64_t end_ns,
                           std::vector<Transmission>& out) {
  if (f.isReply()) {
    return;  // another device's answer
  }
  const std::uint8_t cmd = f.baseCommand();
  const auto reply_cmd = static_cast<std::uint8_t>(cmd | proto::kReplyFlag);
  const bool is_broadcast = f.address == proto::kBroadcast;
  const bool unaddressed = f.address == proto::kUnaddressed;
  Module* target = is_broadcast || unaddressed ? nullptr : moduleAt(f.address);
  const bool is_sensor =
      (f.address > proto::kCurrentSensorBase && f.address < proto::kAmbientSensor &&
       std::any_of(sensors_.begin(), sensors_.end(),
                   [&](const Sensor& s) {
                     return proto::currentSensorAddress(s.string_index) == f.address;
                   })) ||
      (f.address == proto::kAmbientSensor && ambient_sensor_);
  if (!is_broadcast && !unaddressed && target == nullptr && !is_sensor) {
    return;  // not a device of this line
  }
  // Broadcasts and the unaddressed address take only their own commands (§4).
  const auto c = static_cast<Command>(cmd);
  if (is_broadcast && c != Command::kSample && c != Command::kReadGroup &&
      c != Command::kSetTarget && c != Command::kTimeSync && c != Command::kUnassign &&
      c != Command::kAssignSerial) {
    return;
  }
  if (unaddressed && c != Command::kAssignNext && c != Command::kSearch) {
    return;
  }
  const bool mute = !is_broadcast && !unaddressed && silent(f.address, target);
  const auto want = proto::requestPayloadBytes(cmd);
  if (!want) {
    if (!is_broadcast && !unaddressed && !mute) {
      error(f, proto::DeviceError::kUnknownCommand, end_ns, out);
    }
    return;
  }
  if (*want != f.length) {
    if (!is_broadcast && !unaddressed && !mute) {
      error(f, proto::DeviceError::kBadLength, end_ns, out);
    }
    return;
  }
  if (mute) {
    stats_.silent += 1;
    return;
  }
  const std::int64_t reply_at = end_ns + char_ns_;
  switch (static_cast<Command>(cmd)) {
    case Command::kSample:
      if (is_broadcast) {
        sample(static_cast<std::uint8_t>(f.payload[0] & 0x0F));
      }
      return;
    case Command::kReadGroup: {
      const auto g = proto::decodeGroupRead(f.data());
      if (!is_broadcast || !g) {
        return;
      }
      const std::int64_t slot_chars = static_cast<std::int64_t>(proto::slotFrameBytes(g->item));
      std::int64_t t = std::max(end_ns, busy_until_ns_);
      for (std::size_t k = 0; k < g->count; ++k) {
        const auto address = static_cast<std::uint16_t>(g->first + k);
        proto::Payload payload;
        const bool answers =
            !silent(address, moduleAt(address)) && readPayload(address, g->item, payload);
        if (!answers) {
          if (faults_.silent.count(address) != 0) {
            stats_.silent += 1;
          }
          t += proto::kSilentSlotChars * char_ns_;
          continue;
        }
        const std::int64_t end =
            emit(address, static_cast<std::uint8_t>(g->item | proto::kReplyFlag), f.sequence,
                 payload, t + proto::kSlotGapMinChars * char_ns_, false, out);
        t = std::max(end, t + slot_chars * char_ns_);
      }
      busy_until_ns_ = std::max(busy_until_ns_, t);
      return;
    }
    case Command::kReadInfo: {
      proto::DeviceInfo info;
      info.firmware_major = kFirmwareMajor;
      info.firmware_minor = kFirmwareMinor;
      info.firmware_patch = kFirmwarePatch;
      info.address = f.address;
      if (target != nullptr) {
        info.serial = target->serial;
        info.device_type = target->type;
      } else if (f.address == proto::kAmbientSensor) {
        info.serial = kSerialBase + 0xF101;
        info.device_type = proto::kDeviceRoomSensor;
      } else {
        info.serial = kSerialBase + f.address;
        info.device_type = proto::kDeviceCurrentSensor;
      }
      emit(f.address, reply_cmd, f.sequence, proto::encodeInfo(info), reply_at, true, out);
      return;
    }
    case Command::kReadMeasurement:
    case Command::kReadCurrent:
    case Command::kReadTemperature: {
      proto::Payload payload;
      if (is_broadcast || unaddressed || !readPayload(f.address, cmd, payload)) {
        if (!is_broadcast && !unaddressed) {
          error(f, proto::DeviceError::kUnknownCommand, end_ns, out);
        }
        return;
      }
      emit(f.address, reply_cmd, f.sequence, payload, reply_at, true, out);
      return;
    }
    case Command::kWriteBypass: {
      if (target == nullptr) {
        if (!is_broadcast && !unaddressed) {
          error(f, proto::DeviceError::kNotAllowed, end_ns, out);
        }
        return;
      }
      const std::uint8_t duty = f.payload[0];
      if (duty > 100) {
        error(f, proto::DeviceError::kBadValue, end_ns, out);
        return;
      }
      if (!values_.writeBypass(target->string_index, target->block_index, duty)) {
        error(f, proto::DeviceError::kHardwareFault, end_ns, out);
        return;
      }
      const std::uint8_t echo[] = {duty};
      emit(f.address, reply_cmd, f.sequence, echo, reply_at, true, out);
      return;
    }
    case Command::kSetTarget: {
      const auto t = proto::decodeSetTarget(f.data());
      if (is_broadcast && t) {
        for (auto& m : modules_) {
          if (m.address >= t->first && m.address <= t->last) {
            m.target_mv = t->target_mv;
          }
        }
      }
      return;
    }
    case Command::kTimeSync:
      return;  // the simulated modules take their time from the plant
    case Command::kUnassign:
      if (is_broadcast) {
        for (auto& m : modules_) {
          m.address = proto::kUnaddressed;
        }
        reindex();
      } else if (target != nullptr) {
        emit(f.address, reply_cmd, f.sequence, {}, reply_at, true, out);
        target->address = proto::kUnaddressed;
        reindex();
      }
      return;
    case Command::kAssignNext: {
      const auto address = proto::decodeU16(f.data());
      if (!unaddressed || !address || *address == proto::kBroadcast ||
          *address >= proto::kUnaddressed) {
        return;
      }
      // The chain: the first unaddressed module whose predecessor (in cable order) has an address.
      for (std::size_t i = 0; i < modules_.size(); ++i) {
        const bool input_active = i == 0 || modules_[i - 1].address != proto::kUnaddressed;
        if (modules_[i].address == proto::kUnaddressed && input_active) {
          if (moduleAt(*address) != nullptr) {
            return;  // taken: the module stays silent (the master sees a timeout)
          }
          modules_[i].address = *address;
          reindex();
          proto::DeviceInfo info{modules_[i].serial, kFirmwareMajor,   kFirmwareMinor,
                                 kFirmwarePatch,     modules_[i].type, *address};
          emit(*address, reply_cmd, f.sequence, proto::encodeInfo(info), reply_at, true, out);
          return;
        }
      }
      return;
    }
    case Command::kAssignSerial: {
      const auto a = proto::decodeAssignSerial(f.data());
      if (!is_broadcast || !a || a->address == proto::kBroadcast ||
          a->address >= proto::kUnaddressed) {
        return;
      }
      for (auto& m : modules_) {
        if (m.serial == a->serial) {
          m.address = a->address;
          reindex();
          proto::DeviceInfo info{m.serial,       kFirmwareMajor, kFirmwareMinor,
                                 kFirmwarePatch, m.type,         a->address};
          emit(a->address, reply_cmd, f.sequence, proto::encodeInfo(info), reply_at, true, out);
          return;
        }
      }
      return;
    }
    case Command::kSearch: {
      const auto r = proto::decodeSearch(f.data());
      if (!unaddressed || !r) {
        return;
      }
      // Every matching module answers at once: several collide on the wire (the master sees a
      // CRC error). The collision is modelled as the bytes of all of them OR-ed together.
      std::vector<std::uint8_t> merged;
      int matches = 0;
      for (const auto& m : modules_) {
        if (m.address == proto::kUnaddressed && m.serial >= r->serial_lo &&
            m.serial <= r->serial_hi) {
          proto::DeviceInfo info{m.serial,       kFirmwareMajor, kFirmwareMinor,
                                 kFirmwarePatch, m.type,         proto::kUnaddressed};
          const auto e = proto::encode(proto::makeFrame(proto::kUnaddressed, reply_cmd, f.sequence,
                                                        proto::encodeInfo(info)));
          merged.resize(e.size, 0);
          for (std::size_t i = 0; i < e.size; ++i) {
            merged[i] |= e.bytes[i];
          }
          ++matches;
        }
      }
      if (matches == 1) {
        const auto decoded = proto::decode(merged);
        if (decoded) {
          emit(proto::kUnaddressed, reply_cmd, f.sequence, decoded->data(), reply_at, true, out);
        }
      } else if (matches > 1) {
        Transmission t;
        const std::int64_t start = std::max(reply_at, busy_until_ns_ + char_ns_);
        t.due_ns = start + static_cast<std::int64_t>(merged.size()) * char_ns_;
        t.bytes = std::move(merged);
        busy_until_ns_ = t.due_ns;
        out.push_back(std::move(t));
      }
      return;
    }
  }
}

}  // namespace equalis::bus
