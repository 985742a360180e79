// [io.room], [[io.device]] and [[io.device.channel]]: I/O and sensor devices (docs/io.md).
#include <algorithm>
#include <array>
#include <set>

#include "config/readers.hpp"

namespace equalis::config::detail {

namespace {

constexpr double kRoomVolumeMinM3 = 1.0;
constexpr double kRoomVolumeMaxM3 = 100000.0;
constexpr double kAirChangesMaxPerH = 100.0;
constexpr double kHumiditySwingMaxPct = 50.0;
constexpr std::int64_t kUnitIdMax = 247;
constexpr std::int64_t kRegisterMax = 65535;
constexpr double kPollMinS = 0.05;
constexpr double kPollMaxS = 3600.0;
constexpr std::int64_t kTimeoutMinMs = 10;
constexpr std::int64_t kTimeoutMaxMs = 10000;
constexpr std::int64_t kFailuresMax = 100;
constexpr std::int64_t kGpioLineMax = 1023;
constexpr std::int64_t kMaxBaud = 4000000;
constexpr std::size_t kMaxIdLength = 32;
constexpr std::size_t kMaxDevices = 64;

bool validId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::vector<std::string> deviceTypeKeys() {
  std::vector<std::string> keys;
  for (const auto& m : model::ioDeviceModels()) {
    keys.emplace_back(m.key);
  }
  return keys;
}

std::vector<std::string> channelIds(const model::IoDeviceModel& m) {
  std::vector<std::string> ids;
  for (const auto& c : m.channels) {
    ids.emplace_back(c.id);
  }
  return ids;
}

// The catalogue points an analog channel may feed.
constexpr std::array<model::PointId, 4> kFeedablePoints = {
    model::PointId::kSystemHumidityPct, model::PointId::kSystemHydrogenPct,
    model::PointId::kSystemAmbientTemperatureC, model::PointId::kStringElectrolyteLevel};

std::vector<std::string> feedablePointNames() {
  std::vector<std::string> names;
  names.reserve(kFeedablePoints.size());
  for (const auto id : kFeedablePoints) {
    names.emplace_back(model::point(id).name);
  }
  return names;
}

using model::defaultPoint;

bool isAnalogKind(model::ChannelKind k) {
  return !model::isDigitalKind(k);
}

struct Reader {
  Context& ctx;
  const model::PlantConfig& plant;

  // A 1-based string number checked against the plant ("string = 3" with 2 strings).
  std::optional<int> stringNumber(Section& s) {
    const auto v = s.integer("string", 1, kMaxStrings);
    if (!v) {
      return std::nullopt;
    }
    const auto count = static_cast<std::int64_t>(plant.strings.size());
    if (*v > count && count > 0) {
      s.issue("string", fmt::format("string {} does not exist (the plant has {} string{})", *v,
                                    count, count == 1 ? "" : "s"));
      return std::nullopt;
    }
    return static_cast<int>(*v);
  }

  // Reads every key of a channel table (all of them, whatever the device, so that knownKeys()
  // lists them), then checks them against the channel's kind and the device's transport.
  void channel(Section& s, const model::IoDeviceConfig& dev, const model::IoDeviceModel* m,
               std::vector<model::IoChannelConfig>& out, std::set<std::string>& seen) {
    const auto id = s.string("id");
    const auto name = s.string("name");
    const auto role = s.string("role");
    const auto string_number = stringNumber(s);
    const auto active_low = s.boolean("active_low");
    const auto point = s.string("point");
    const auto signal = s.string("signal");
    const auto range_min = s.number("range_min", "");
    const auto range_max = s.number("range_max", "");
    const auto unit = s.string("unit");
    const auto table = s.string("table");
    const auto address = s.integer("register", 0, kRegisterMax);
    const auto words = s.integer("words", 1, 2);
    const auto is_signed = s.boolean("signed");
    const auto scale = s.number("scale", "");
    const auto offset = s.number("offset", "");
    const auto line = s.integer("line", 0, kGpioLineMax);
    const auto alarm = s.string("alarm");
    const auto alarm_delay_s = s.number("alarm_delay_s", 0.0, 86400.0, "s");

    if (!id) {
      if (!s.rejected("id")) {
        s.issue("id", "missing: the channel of the device model (e.g. \"di1\", \"relay2\")");
      }
      return;
    }
    if (m == nullptr) {
      return;  // unknown device type: reported on the device
    }
    const model::ChannelModel* cm = nullptr;
    for (const auto& c : m->channels) {
      if (c.id == *id) {
        cm = &c;
      }
    }
    if (cm == nullptr) {
      s.issue("id", unknownName(fmt::format("channel of a {}", m->key), *id, channelIds(*m)));
      return;
    }
    if (!seen.insert(*id).second) {
      s.issue("id",
              fmt::format("channel \"{}\" is configured twice in device \"{}\"", *id, dev.id));
      return;
    }
    model::IoChannelConfig c;
    c.id = *id;
    c.kind = cm->kind;
    c.name = name && !trim(*name).empty() ? *name : fmt::format("{} {}", dev.name, c.id);
    const bool digital = model::isDigitalKind(c.kind);
    const bool output = model::isOutputKind(c.kind);

    if (role) {
      if (*role == "generic") {
        c.role = model::ChannelRole::kGeneric;
      } else if (*role == "breaker_status" && c.kind == model::ChannelKind::kDigitalInput) {
        c.role = model::ChannelRole::kBreakerStatus;
      } else if (*role == "breaker_trip" && c.kind == model::ChannelKind::kRelay) {
        c.role = model::ChannelRole::kBreakerTrip;
      } else if (*role == "charger_reduce" && c.kind == model::ChannelKind::kRelay) {
        c.role = model::ChannelRole::kChargerReduce;
      } else {
        const std::vector<std::string> roles =
            c.kind == model::ChannelKind::kDigitalInput
                ? std::vector<std::string>{"generic", "breaker_status"}
            : c.kind == model::ChannelKind::kRelay
                ? std::vector<std::string>{"generic", "breaker_trip", "charger_reduce"}
                : std::vector<std::string>{"generic"};
        s.issue("role", fmt::format("{} for a {} channel", unknownName("role", *role, roles),
                                    model::channelKindName(c.kind)));
      }
    }
    if (string_number) {
      c.string_number = *string_number;
    }
    const bool breaker = c.role != model::ChannelRole::kGeneric;
    if (breaker && c.string_number == 0 && !s.rejected("string")) {
      s.issue("string", fmt::format("missing: role {} needs the string number (1-based)",
                                    model::channelRoleName(c.role)));
    }
    if (active_low) {
      if (!digital) {
        s.issue("active_low", fmt::format("only digital channels can be active-low, \"{}\" is {}",
                                          c.id, model::channelKindName(c.kind)));
      }
      c.active_low = *active_low;
    }

    // Digital inputs: alarm while active (breaker status: while the breaker is open).
    if (c.role == model::ChannelRole::kBreakerStatus) {
      c.alarm_level = 2;
    }
    if (alarm) {
      const std::vector<std::string> levels{"none", "warning", "alarm"};
      const auto it = std::find(levels.begin(), levels.end(), *alarm);
      if (c.kind != model::ChannelKind::kDigitalInput) {
        s.issue("alarm", fmt::format("only digital inputs raise alarms, \"{}\" is {}", c.id,
                                     model::channelKindName(c.kind)));
      } else if (it == levels.end()) {
        s.issue("alarm", unknownName("alarm level", *alarm, levels));
      } else {
        c.alarm_level = static_cast<int>(it - levels.begin());
      }
    }
    if (alarm_delay_s) {
      c.alarm_delay_ms = toMs(*alarm_delay_s);
    }

    // Analog channels: the point they feed.
    c.point = defaultPoint(c.kind);
    if (point) {
      if (point->empty()) {
        c.point.reset();
      } else if (!isAnalogKind(c.kind)) {
        s.issue("point", fmt::format("digital channel \"{}\" cannot feed a point", c.id));
      } else {
        const auto names = feedablePointNames();
        const auto* def = model::findPoint(*point);
        if (def == nullptr ||
            std::find(names.begin(), names.end(), std::string(def->name)) == names.end()) {
          s.issue("point", unknownName("point for an I/O channel", *point, names));
        } else if (def->id == model::PointId::kStringElectrolyteLevel &&
                   c.kind != model::ChannelKind::kElectrolyteLevel) {
          s.issue("point", "string.electrolyte_level is fed by an els_sensor's level channel only");
        } else if (def->id != model::PointId::kStringElectrolyteLevel &&
                   c.kind == model::ChannelKind::kElectrolyteLevel) {
          s.issue("point", "an electrolyte level channel can feed string.electrolyte_level only");
        } else {
          c.point = def->id;
        }
      }
    }
    if (c.point == model::PointId::kStringElectrolyteLevel && c.string_number == 0) {
      c.string_number = dev.string_number;  // the device's pilot cell
      if (c.string_number == 0 && !s.rejected("string")) {
        s.issue("string",
                "missing: string.electrolyte_level needs the string number (on the channel or "
                "the device)");
      }
    }

    // Analog inputs: signal and engineering range.
    if (signal) {
      const auto parsed = model::parseAnalogSignal(*signal);
      if (c.kind != model::ChannelKind::kAnalogInput) {
        s.issue("signal", "only analog inputs (ai1 …) have a signal type");
      } else if (!parsed) {
        s.issue("signal", unknownName("signal", *signal, {"0-10V", "4-20mA", "none"}));
      } else {
        c.signal = *parsed;
      }
    } else if (c.kind == model::ChannelKind::kAnalogInput) {
      c.signal = model::AnalogSignal::kCurrent4To20;
    }
    c.range_min = range_min.value_or(c.range_min);
    c.range_max = range_max.value_or(c.range_max);
    if ((range_min || range_max) && c.kind != model::ChannelKind::kAnalogInput) {
      s.issue(range_min ? "range_min" : "range_max", "only analog inputs (ai1 …) have a range");
    } else if (!(c.range_min < c.range_max) && !s.rejected("range_min") &&
               !s.rejected("range_max")) {
      s.issue("range_max", fmt::format("must be above range_min ({}), got {}", num(c.range_min),
                                       num(c.range_max)));
    }
    if (unit) {
      if (c.kind != model::ChannelKind::kAnalogInput) {
        s.issue("unit", fmt::format("the unit of a {} channel is fixed ({})",
                                    model::channelKindName(c.kind),
                                    model::channelKindUnit(c.kind).empty()
                                        ? std::string("none")
                                        : std::string(model::channelKindUnit(c.kind))));
      }
      c.unit = *unit;
    } else {
      c.unit = std::string(model::channelKindUnit(c.kind));
    }
    if (c.point) {
      c.unit = std::string(model::point(*c.point).unit);
    }

    // Transport addressing.
    const bool modbus = dev.transport == model::IoTransport::kModbusTcp ||
                        dev.transport == model::IoTransport::kModbusRtu;
    const bool any_register = table || address || words || is_signed || scale || offset;
    if (modbus) {
      model::RegisterMap r;
      bool ok = true;
      if (!table) {
        if (!s.rejected("table")) {
          s.issue("table", "missing: the Modbus table (coil, discrete, holding or input)");
        }
        ok = false;
      } else if (const auto t = model::parseRegisterTable(*table)) {
        r.table = *t;
        const bool bit =
            r.table == model::RegisterTable::kCoil || r.table == model::RegisterTable::kDiscrete;
        if (output && r.table != model::RegisterTable::kCoil &&
            r.table != model::RegisterTable::kHolding) {
          s.issue("table", fmt::format("output \"{}\" must be a coil or a holding register, got {}",
                                       c.id, *table));
          ok = false;
        } else if (bit && !digital) {
          s.issue("table",
                  fmt::format("analog channel \"{}\" needs a holding or input register", c.id));
          ok = false;
        }
      } else {
        s.issue("table",
                unknownName("Modbus table", *table, {"coil", "discrete", "holding", "input"}));
        ok = false;
      }
      if (!address) {
        if (!s.rejected("register")) {
          s.issue("register", "missing: the 0-based register or bit address");
        }
        ok = false;
      } else {
        r.address = static_cast<int>(*address);
      }
      r.words = static_cast<int>(words.value_or(1));
      r.is_signed = is_signed.value_or(false);
      if (words && *words == 2 && *address + 1 > kRegisterMax) {
        s.issue("words", "a 32-bit value needs two registers below 65536");
        ok = false;
      }
      if (scale && *scale == 0.0) {
        s.issue("scale", "must not be 0");
        ok = false;
      }
      r.scale = scale.value_or(1.0);
      r.offset = offset.value_or(0.0);
      if (ok && !s.rejected("words") && !s.rejected("register")) {
        c.reg = r;
      }
    } else if (any_register) {
      s.issue(table ? "table" : (address ? "register" : "scale"),
              fmt::format("register map keys need a Modbus transport (device \"{}\" is {})", dev.id,
                          model::ioTransportName(dev.transport)));
    }
    if (dev.transport == model::IoTransport::kGpio) {
      if (!digital) {
        s.issue("id", fmt::format("GPIO carries digital inputs and outputs only, \"{}\" is {}",
                                  c.id, model::channelKindName(c.kind)));
      } else if (!line) {
        if (!s.rejected("line")) {
          s.issue("line", "missing: the GPIO line offset on the device's chip");
        }
      } else {
        c.gpio_line = static_cast<int>(*line);
      }
    } else if (line) {
      s.issue("line", fmt::format("'line' needs the gpio transport (device \"{}\" is {})", dev.id,
                                  model::ioTransportName(dev.transport)));
    }
    out.push_back(std::move(c));
  }

  void device(Section& s, model::IoConfig& io, std::set<std::string>& ids) {
    model::IoDeviceConfig d;
    const auto id = s.string("id");
    const auto type = s.string("type");
    const auto name = s.string("name");
    const auto transport = s.string("transport");
    const auto address = s.string("address");
    const auto baud = s.integer("baud", 50, kMaxBaud, "baud");
    const auto parity = s.string("parity");
    const auto unit_id = s.integer("unit_id", 0, kUnitIdMax);
    const auto chip = s.string("chip");
    const auto poll_s = s.number("poll_interval_s", kPollMinS, kPollMaxS, "s");
    const auto timeout_ms = s.integer("timeout_ms", kTimeoutMinMs, kTimeoutMaxMs, "ms");
    const auto failures = s.integer("comm_lost_after_failures", 1, kFailuresMax);
    const auto string_number = stringNumber(s);
    const auto block = s.integer("block", 1, kMaxBlocksPerString);

    bool ok = true;
    if (!id) {
      if (!s.rejected("id")) {
        s.issue("id", "missing: a short unique name, e.g. \"aux1\" (channel ids are \"aux1.di1\")");
      }
      ok = false;
    } else if (!validId(*id)) {
      s.issue("id", fmt::format("\"{}\" must be 1–{} characters of a–z, 0–9, '_' or '-'", *id,
                                kMaxIdLength));
      ok = false;
    } else if (!ids.insert(*id).second) {
      s.issue("id", fmt::format("duplicate device id \"{}\"", *id));
      ok = false;
    } else {
      d.id = *id;
    }
    const model::IoDeviceModel* m = nullptr;
    if (!type) {
      if (!s.rejected("type")) {
        s.issue("type", fmt::format("missing (known: {})", joined(deviceTypeKeys())));
      }
      ok = false;
    } else if (const auto t = model::parseIoDeviceType(*type)) {
      d.type = *t;
      m = &model::ioDeviceModel(*t);
    } else {
      s.issue("type", unknownName("device type", *type, deviceTypeKeys()));
      ok = false;
    }
    d.name = name && !trim(*name).empty() ? *name : d.id;
    if (transport) {
      if (const auto t = model::parseIoTransport(*transport)) {
        d.transport = *t;
      } else {
        s.issue("transport", unknownName("transport", *transport,
                                         {"simulated", "modbus_tcp", "modbus_rtu", "gpio"}));
        ok = false;
      }
    }
    switch (d.transport) {
      case model::IoTransport::kModbusTcp:
        if (!address) {
          s.issue("address", "missing: \"HOST:PORT\" of the Modbus TCP device");
          ok = false;
        } else if (const auto problem = listenProblem(*address)) {
          s.issue("address", *problem);
          ok = false;
        }
        break;
      case model::IoTransport::kModbusRtu:
        if (!address || trim(*address).empty()) {
          s.issue("address", "missing: the serial device, e.g. \"/dev/ttyUSB0\"");
          ok = false;
        }
        break;
      case model::IoTransport::kGpio:
        if (!chip || trim(*chip).empty()) {
          s.issue("chip", "missing: the GPIO chip, e.g. \"gpiochip0\"");
          ok = false;
        }
        break;
      case model::IoTransport::kSimulated:
        break;
    }
    d.address = address.value_or("");
    d.chip = chip.value_or("");
    if ((address && d.transport != model::IoTransport::kModbusTcp &&
         d.transport != model::IoTransport::kModbusRtu)) {
      s.issue("address", "only Modbus devices have an address");
    }
    if (chip && d.transport != model::IoTransport::kGpio) {
      s.issue("chip", "only gpio devices have a chip");
    }
    if ((baud || parity) && d.transport != model::IoTransport::kModbusRtu) {
      s.issue(baud ? "baud" : "parity", "only modbus_rtu devices have a baud rate and parity");
    }
    d.baud = static_cast<int>(baud.value_or(d.baud));
    if (parity) {
      if (*parity == "N" || *parity == "E" || *parity == "O") {
        d.parity = (*parity)[0];
      } else {
        s.issue("parity", fmt::format("must be \"N\", \"E\" or \"O\", got \"{}\"", *parity));
      }
    }
    d.unit_id = static_cast<int>(unit_id.value_or(d.unit_id));
    if (poll_s) {
      d.poll_interval_ms = toMs(*poll_s);
    }
    d.timeout_ms = timeout_ms.value_or(d.timeout_ms);
    d.comm_lost_after_failures = static_cast<int>(failures.value_or(d.comm_lost_after_failures));
    d.string_number = string_number.value_or(0);
    d.block_number = static_cast<int>(block.value_or(0));
    if (m != nullptr && d.type == model::IoDeviceType::kElsSensor) {
      if (d.string_number == 0 && !s.rejected("string")) {
        s.issue("string", "missing: the string of the pilot cell the sensor sits on (1-based)");
        ok = false;
      }
      if (d.block_number == 0 && !s.rejected("block")) {
        s.issue("block", "missing: the pilot block the sensor sits on (1-based)");
        ok = false;
      }
      if (d.string_number > 0 && d.block_number > 0 &&
          static_cast<std::size_t>(d.string_number) <= plant.strings.size() &&
          d.block_number >
              plant.strings[static_cast<std::size_t>(d.string_number - 1)].block_count) {
        s.issue(
            "block",
            fmt::format("block {} does not exist (string {} has {} blocks)", d.block_number,
                        d.string_number,
                        plant.strings[static_cast<std::size_t>(d.string_number - 1)].block_count));
        ok = false;
      }
    } else if (m != nullptr && (string_number || block)) {
      s.issue(string_number ? "string" : "block",
              "only an els_sensor sits on a pilot cell (string and block); set 'string' on the "
              "channel for breaker roles");
    }
    if (d.type == model::IoDeviceType::kElsSensor && d.transport == model::IoTransport::kGpio) {
      s.issue("transport", "an els_sensor has no GPIO form (use simulated or Modbus)");
      ok = false;
    }

    std::set<std::string> seen;
    forEachTable(ctx, s, "channel", [&](Section& cs, int) { channel(cs, d, m, d.channels, seen); });
    if (m == nullptr || !ok) {
      return;
    }
    // Simulated devices have every channel of their model; others only the configured ones.
    if (d.transport == model::IoTransport::kSimulated) {
      model::completeChannels(d);
    } else if (d.channels.empty()) {
      s.issue("channel",
              fmt::format("a {} device needs at least one [[io.device.channel]] with "
                          "its {}",
                          model::ioTransportName(d.transport),
                          d.transport == model::IoTransport::kGpio ? "line" : "register map"));
      return;
    }
    io.devices.push_back(std::move(d));
  }
};

}  // namespace

void readIo(Context& ctx, Section& top, model::PlantConfig& plant) {
  Section io = top.child("io");
  Section room = io.child("room");
  model::RoomConfig& r = plant.io.room;
  r.volume_m3 =
      room.number("volume_m3", kRoomVolumeMinM3, kRoomVolumeMaxM3, "m³").value_or(r.volume_m3);
  r.air_changes_per_h = room.number("air_changes_per_h", 0.0, kAirChangesMaxPerH, "1/h")
                            .value_or(r.air_changes_per_h);
  r.humidity_pct = room.number("humidity_pct", 0.0, 100.0, "%").value_or(r.humidity_pct);
  r.humidity_swing_pct = room.number("humidity_swing_pct", 0.0, kHumiditySwingMaxPct, "%")
                             .value_or(r.humidity_swing_pct);
  room.finish();

  Reader reader{ctx, plant};
  std::set<std::string> ids;
  int count = 0;
  forEachTable(ctx, io, "device", [&](Section& s, int) {
    ++count;
    reader.device(s, plant.io, ids);
  });
  if (static_cast<std::size_t>(count) > kMaxDevices) {
    io.issue("device", fmt::format("at most {} [[io.device]] tables are supported, got {}",
                                   kMaxDevices, count));
  }

  // One source per point, one trip relay and one status input per string.
  std::set<std::pair<model::PointId, int>> fed;
  std::set<std::pair<model::ChannelRole, int>> roles;
  for (const auto& d : plant.io.devices) {
    for (const auto& c : d.channels) {
      const std::string full = fmt::format("{}.{}", d.id, c.id);
      if (c.point) {
        const int string_number =
            c.point == model::PointId::kStringElectrolyteLevel ? c.string_number : 0;
        if (!fed.insert({*c.point, string_number}).second) {
          io.issue(
              "device",
              fmt::format("two channels feed {}{} (the second is {}); set point = \"\" on one",
                          model::point(*c.point).name,
                          string_number ? fmt::format(" of string {}", string_number) : "", full));
        }
      }
      if (c.role != model::ChannelRole::kGeneric && c.string_number > 0 &&
          !roles.insert({c.role, c.string_number}).second) {
        io.issue("device", fmt::format("two channels are {} of string {} (the second is {})",
                                       model::channelRoleName(c.role), c.string_number, full));
      }
    }
  }
  io.finish();
}

}  // namespace equalis::config::detail
