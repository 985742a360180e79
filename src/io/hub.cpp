#include "io/hub.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "core/log.hpp"
#include "io/convert.hpp"

namespace equalis::io {

namespace {

constexpr std::size_t kMaxQueuedChanges = 1000;
constexpr DurationMs kMaxPulseMs = kHourMs;
// Real-time bounds of a device thread's waits: never spin (high time scales), and retry a silent
// device at least every few seconds.
constexpr DurationMs kMinRealWaitMs = 10;
constexpr DurationMs kMaxRealBackoffMs = 5000;
// A real device's value is stale after this many poll intervals without a good poll.
constexpr int kStaleAfterPolls = 3;

bool usable(model::Quality q) {
  return q == model::Quality::kOk || q == model::Quality::kStale;
}

}  // namespace

bool ChannelSnapshot::active() const {
  return usable(quality) && std::isfinite(value) && value != 0.0;
}

struct Hub::Channel {
  model::IoChannelConfig cfg;
  std::string full_id;
  std::string name;  // shown: the configuration's, or the one given at run time
  std::size_t device = 0;
  double value = std::numeric_limits<double>::quiet_NaN();
  model::Quality quality = model::Quality::kNotPresent;
  TimeMs time_ms = 0;
  std::string error;
  std::optional<bool> last_state;  // last valid digital state (change detection)
  // Outputs
  std::optional<bool> commanded;
  std::optional<bool> applied;  // last state written successfully
  bool pending = false;
  TimeMs pulse_end_ms = 0;
};

struct Hub::Device {
  model::IoDeviceConfig cfg;
  std::vector<std::size_t> channels;  // indices into channels_
  std::unique_ptr<Transport> transport;
  std::string endpoint;
  std::string state = "connecting";
  std::string error;
  TimeMs last_ok_ms = 0;
  int consecutive_failures = 0;
  std::uint64_t polls = 0;
  std::uint64_t failures = 0;
  DurationMs stale_after_ms = 0;
  std::thread thread;
  bool simulated() const { return cfg.transport == model::IoTransport::kSimulated; }
};

Hub::Hub(const model::PlantConfig& plant, Clock& clock, SimulatedSite* sim)
    : clock_(clock),
      sim_(sim),
      sim_stale_after_ms_(plant.bus.sweep_interval_ms * plant.bus.stale_after_sweeps) {
  for (const auto& dc : plant.io.devices) {
    auto d = std::make_unique<Device>();
    d->cfg = dc;
    switch (dc.transport) {
      case model::IoTransport::kSimulated:
        d->endpoint = "simulated";
        d->stale_after_ms = sim_stale_after_ms_;
        break;
      case model::IoTransport::kModbusTcp:
      case model::IoTransport::kModbusRtu:
        d->transport = makeModbusTransport(dc);
        break;
      case model::IoTransport::kGpio:
        d->transport = makeGpioTransport(dc);
        break;
    }
    if (d->transport) {
      d->endpoint = d->transport->endpoint();
      // In plant time: the thread waits at least kMinRealWaitMs of real time, and a request may
      // take its (real-time) timeout.
      const double scale = clock.timeScale() > 0.0 ? clock.timeScale() : 1.0;
      const auto real_to_plant = [&](DurationMs real_ms) {
        return static_cast<DurationMs>(static_cast<double>(real_ms) * scale);
      };
      const DurationMs poll_ms = std::max(dc.poll_interval_ms, real_to_plant(kMinRealWaitMs));
      d->stale_after_ms = kStaleAfterPolls * poll_ms + real_to_plant(dc.timeout_ms);
    }
    for (const auto& cc : dc.channels) {
      Channel c;
      c.cfg = cc;
      c.full_id = fmt::format("{}.{}", dc.id, cc.id);
      c.device = devices_.size();
      d->channels.push_back(channels_.size());
      channels_.push_back(std::move(c));
    }
    devices_.push_back(std::move(d));
  }
}

Hub::~Hub() {
  stop();
}

void Hub::start() {
  std::lock_guard lock(mutex_);
  if (started_) {
    return;
  }
  started_ = true;
  stopping_ = false;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    if (!devices_[i]->simulated()) {
      devices_[i]->thread = std::thread([this, i] { worker(i); });
    }
  }
}

void Hub::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& d : devices_) {
    if (d->thread.joinable()) {
      d->thread.join();
    }
  }
  std::lock_guard lock(mutex_);
  started_ = false;
}

DurationMs Hub::realWaitMs(DurationMs plant_ms) const {
  const double scale = clock_.timeScale() > 0.0 ? clock_.timeScale() : 1.0;
  return std::max<DurationMs>(kMinRealWaitMs,
                              static_cast<DurationMs>(static_cast<double>(plant_ms) / scale));
}

// ------------------------------------------------------------------------- real devices

void Hub::worker(std::size_t di) {
  Device& d = *devices_[di];
  Transport& t = *d.transport;
  auto logger = log::get("io");
  while (!stopping_) {
    DurationMs wait_plant_ms = d.cfg.poll_interval_ms;
    bool failed = false;
    if (!t.isOpen()) {
      if (Status st = t.open(); !st) {
        noteFailure(di, st.error().message);
        failed = true;
      } else {
        logger->info("{} ({}): connected", d.cfg.id, d.endpoint);
      }
    }
    if (!failed) {
      // Outputs first (a trip must not wait for a full read cycle), then every channel.
      for (const auto& w : takeWrites(di, clock_.nowMs())) {
        const Channel& c = channels_[w.channel];
        const Status st = t.write(c.cfg, logicalState(c.cfg, w.on));
        writeDone(w.channel, w.on, st);
        if (!st && st.error().code != ErrorCode::kProtocol) {
          noteFailure(di, st.error().message);
          failed = true;
          break;
        }
      }
    }
    if (!failed) {
      std::vector<std::pair<std::size_t, Result<double>>> reads;
      for (const std::size_t ci : d.channels) {
        auto r = t.read(channels_[ci].cfg);
        if (!r && r.error().code != ErrorCode::kProtocol) {
          noteFailure(di, r.error().message);
          failed = true;
          break;
        }
        reads.emplace_back(ci, std::move(r));
      }
      if (!failed) {
        commit(di, reads, clock_.nowMs());
      }
    }
    std::unique_lock lock(mutex_);
    DurationMs real_ms = realWaitMs(wait_plant_ms);
    if (failed) {
      // Back off: poll interval × 2^(failures − 1), at most 5 s of real time.
      const int shift = std::min(d.consecutive_failures - 1, 10);
      real_ms = std::min(kMaxRealBackoffMs, real_ms << std::max(0, shift));
    } else {
      // Wake up for the end of a pulse in progress.
      const TimeMs now = clock_.nowMs();
      for (const std::size_t ci : d.channels) {
        const Channel& c = channels_[ci];
        if (c.pulse_end_ms > 0) {
          real_ms = std::min(real_ms, realWaitMs(std::max<DurationMs>(0, c.pulse_end_ms - now)));
        }
      }
    }
    cv_.wait_for(lock, std::chrono::milliseconds(real_ms), [&] {
      if (stopping_) {
        return true;
      }
      return !failed && std::any_of(d.channels.begin(), d.channels.end(),
                                    [&](std::size_t ci) { return channels_[ci].pending; });
    });
  }
  t.close();
}

void Hub::noteFailure(std::size_t di, const std::string& message) {
  std::lock_guard lock(mutex_);
  Device& d = *devices_[di];
  d.consecutive_failures += 1;
  d.failures += 1;
  const bool changed = d.error != message;
  d.error = message;
  if (d.consecutive_failures >= d.cfg.comm_lost_after_failures && d.state != "comm_lost") {
    d.state = "comm_lost";
    log::get("io")->warn("{} ({}): comm_lost after {} failed polls: {}", d.cfg.id, d.endpoint,
                         d.consecutive_failures, message);
  } else if (changed) {
    log::get("io")->debug("{} ({}): {}", d.cfg.id, d.endpoint, message);
  }
}

std::vector<Hub::Write> Hub::takeWrites(std::size_t di, TimeMs now_ms) {
  std::lock_guard lock(mutex_);
  std::vector<Write> out;
  for (const std::size_t ci : devices_[di]->channels) {
    Channel& c = channels_[ci];
    // A pulse ends once its "on" was written and its time is over.
    if (c.pulse_end_ms > 0 && !c.pending && c.applied == true && now_ms >= c.pulse_end_ms) {
      c.pulse_end_ms = 0;
      c.commanded = false;
      c.pending = true;
    }
    if (c.pending && c.commanded) {
      out.push_back({ci, *c.commanded});
    }
  }
  return out;
}

void Hub::writeDone(std::size_t ci, bool on, const Status& st) {
  std::lock_guard lock(mutex_);
  Channel& c = channels_[ci];
  if (!st) {
    c.error = st.error().message;
    if (st.error().code == ErrorCode::kProtocol) {
      c.pending = false;  // the device refuses this write: retrying will not help
    }
    return;
  }
  c.applied = on;
  c.error.clear();
  if (c.commanded == on) {
    c.pending = false;
  }
}

void Hub::storeValue(Channel& c, double value, model::Quality quality, TimeMs now_ms) {
  c.value = value;
  c.quality = quality;
  c.time_ms = now_ms;
  if (c.cfg.kind != model::ChannelKind::kDigitalInput || quality != model::Quality::kOk) {
    return;
  }
  const bool state = value != 0.0;
  if (c.last_state && *c.last_state != state) {
    if (changes_.size() >= kMaxQueuedChanges) {
      changes_.erase(changes_.begin());  // nobody consumes them: keep the newest
    }
    changes_.push_back(
        model::InputChange{c.full_id, c.name.empty() ? c.cfg.name : c.name, state, now_ms});
  }
  c.last_state = state;
}

void Hub::commit(std::size_t di, const std::vector<std::pair<std::size_t, Result<double>>>& reads,
                 TimeMs now_ms) {
  std::lock_guard lock(mutex_);
  Device& d = *devices_[di];
  if (d.state != "ok" && d.state != "connecting") {
    log::get("io")->info("{} ({}): answering again", d.cfg.id, d.endpoint);
  }
  d.state = "ok";
  d.error.clear();
  d.consecutive_failures = 0;
  d.polls += 1;
  d.last_ok_ms = now_ms;
  for (const auto& [ci, r] : reads) {
    Channel& c = channels_[ci];
    if (!r) {
      c.error = r.error().message;
      storeValue(c, std::numeric_limits<double>::quiet_NaN(), model::Quality::kInvalid, now_ms);
      continue;
    }
    c.error.clear();
    if (model::isDigitalKind(c.cfg.kind)) {
      const bool state = logicalState(c.cfg, *r != 0.0);
      storeValue(c, state ? 1.0 : 0.0, model::Quality::kOk, now_ms);
    } else {
      const Reading reading = analogReading(c.cfg, *r);
      storeValue(c, reading.value, reading.quality, now_ms);
    }
  }
}

// ------------------------------------------------------------------------- simulated devices

void Hub::poll(TimeMs now_ms) {
  for (std::size_t di = 0; di < devices_.size(); ++di) {
    Device& d = *devices_[di];
    if (!d.simulated()) {
      continue;
    }
    for (const auto& w : takeWrites(di, now_ms)) {
      simulatedWrite(channels_[w.channel], w.on);
      writeDone(w.channel, w.on, Status{});
    }
    std::vector<std::pair<std::size_t, Result<double>>> reads;
    for (const std::size_t ci : d.channels) {
      if (sim_ == nullptr) {
        reads.emplace_back(ci, makeError(ErrorCode::kProtocol, "no simulated plant"));
        continue;
      }
      const double raw = simulatedRead(d, channels_[ci]);
      if (std::isnan(raw)) {
        reads.emplace_back(ci, makeError(ErrorCode::kProtocol, "not wired in the simulation"));
      } else {
        reads.emplace_back(ci, raw);
      }
    }
    commit(di, reads, now_ms);
  }
}

// The raw value a simulated device delivers (the bit on the wire for digital channels).
double Hub::simulatedRead(const Device& d, const Channel& c) const {
  const auto& cfg = c.cfg;
  const auto wire = [&](bool logical) { return logicalState(cfg, logical) ? 1.0 : 0.0; };
  constexpr double kTenth = 10.0;
  switch (cfg.kind) {
    case model::ChannelKind::kDigitalInput: {
      if (cfg.role == model::ChannelRole::kBreakerStatus) {
        const auto s = static_cast<std::size_t>(cfg.string_number - 1);
        if (s >= sim_->stringCount()) {
          return std::nan("");
        }
        return wire(sim_->breakerClosed(s));
      }
      return wire(sim_->contact(c.full_id).value_or(false));
    }
    case model::ChannelKind::kRelay:
    case model::ChannelKind::kBuzzer:
    case model::ChannelKind::kLed: {
      std::lock_guard lock(mutex_);
      return wire(c.applied.value_or(false));
    }
    case model::ChannelKind::kAnalogInput:
      // Nothing is wired to a simulated analog input: it reads the live zero (4 mA / 0 V).
      return cfg.signal == model::AnalogSignal::kCurrent4To20 ? 4.0 : 0.0;
    case model::ChannelKind::kTemperature:
      return std::round(sim_->ambientTemperatureC() * kTenth) / kTenth;
    case model::ChannelKind::kHumidity:
      return std::round(sim_->roomHumidityPct() * kTenth) / kTenth;
    case model::ChannelKind::kHydrogen:
      return sim_->roomHydrogenPct();
    case model::ChannelKind::kElectrolyteLevel: {
      const auto s = static_cast<std::size_t>(d.cfg.string_number - 1);
      const auto b = static_cast<std::size_t>(d.cfg.block_number - 1);
      if (s >= sim_->stringCount() || b >= sim_->blockCount(s)) {
        return std::nan("");
      }
      return static_cast<double>(sim_->electrolyteLevel(s, b));
    }
  }
  return std::nan("");
}

void Hub::simulatedWrite(const Channel& c, bool on) {
  if (sim_ == nullptr) {
    return;
  }
  // A breaker_trip relay energised opens the simulated string breaker (shunt trip). Releasing it
  // does not close the breaker: that is a hand operation (Controller::resetProtection).
  const auto s = static_cast<std::size_t>(c.cfg.string_number - 1);
  if (c.cfg.role == model::ChannelRole::kBreakerTrip && on && s < sim_->stringCount()) {
    sim_->openBreaker(s);
  }
  // A charger_reduce relay drives the simulated charger's "reduce voltage" input.
  if (c.cfg.role == model::ChannelRole::kChargerReduce && s < sim_->stringCount()) {
    sim_->setChargerReduced(s, on);
  }
}

// ------------------------------------------------------------------------- commands

Hub::Channel* Hub::find(const std::string& id) {
  for (auto& c : channels_) {
    if (c.full_id == id) {
      return &c;
    }
  }
  return nullptr;
}

Result<Hub::Channel*> Hub::findOutput(const std::string& id) {
  Channel* c = find(id);
  if (c == nullptr) {
    std::string outputs;
    for (const auto& ch : channels_) {
      if (model::isOutputKind(ch.cfg.kind)) {
        outputs += outputs.empty() ? "" : ", ";
        outputs += ch.full_id;
      }
    }
    return makeError(ErrorCode::kNotFound,
                     fmt::format("no I/O channel '{}' (outputs: {})", id,
                                 outputs.empty() ? std::string("none configured") : outputs));
  }
  if (!model::isOutputKind(c->cfg.kind)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("'{}' is {}, not an output (relay, buzzer or LED)", id,
                                 model::channelKindName(c->cfg.kind)));
  }
  return c;
}

Status Hub::setOutput(const std::string& id, bool on) {
  {
    std::lock_guard lock(mutex_);
    auto c = findOutput(id);
    if (!c) {
      return c.error();
    }
    (*c)->commanded = on;
    (*c)->pulse_end_ms = 0;
    (*c)->pending = true;
  }
  cv_.notify_all();
  return {};
}

Status Hub::pulseOutput(const std::string& id, DurationMs duration_ms) {
  if (duration_ms < 1 || duration_ms > kMaxPulseMs) {
    return makeError(ErrorCode::kOutOfRange, fmt::format("pulse duration must be 1 … {} ms, got {}",
                                                         kMaxPulseMs, duration_ms));
  }
  {
    std::lock_guard lock(mutex_);
    auto c = findOutput(id);
    if (!c) {
      return c.error();
    }
    (*c)->commanded = true;
    (*c)->pulse_end_ms = clock_.nowMs() + duration_ms;
    (*c)->pending = true;
  }
  cv_.notify_all();
  return {};
}

std::vector<model::InputChange> Hub::drainChanges() {
  std::lock_guard lock(mutex_);
  std::vector<model::InputChange> out;
  out.swap(changes_);
  return out;
}

// ------------------------------------------------------------------------- snapshots

ChannelSnapshot Hub::snapshot(const Channel& c, TimeMs now_ms) const {
  const Device& d = *devices_[c.device];
  ChannelSnapshot s;
  s.id = c.full_id;
  s.device_id = d.cfg.id;
  s.channel = c.cfg.id;
  s.name = c.name.empty() ? c.cfg.name : c.name;
  s.configured_name = c.cfg.name;
  s.kind = c.cfg.kind;
  s.role = c.cfg.role;
  s.string_number = c.cfg.string_number;
  s.output = model::isOutputKind(c.cfg.kind);
  s.active_low = c.cfg.active_low;
  s.point = c.cfg.point;
  s.unit = c.cfg.unit;
  s.value = c.value;
  s.time_ms = c.time_ms;
  s.error = c.error;
  s.commanded = c.commanded;
  s.pulse_end_ms = c.pulse_end_ms;
  s.pending = c.pending;
  if (d.state == "comm_lost") {
    s.quality = model::Quality::kCommLost;
  } else if (c.quality == model::Quality::kOk && c.time_ms > 0 &&
             now_ms - c.time_ms > d.stale_after_ms) {
    s.quality = model::Quality::kStale;
  } else {
    s.quality = c.quality;
  }
  return s;
}

Status Hub::renameChannel(const std::string& id, const std::string& name) {
  std::lock_guard lock(mutex_);
  Channel* c = find(id);
  if (c == nullptr) {
    return makeError(ErrorCode::kNotFound, fmt::format("no I/O channel '{}'", id));
  }
  c->name = name == c->cfg.name ? std::string() : name;
  return {};
}

std::map<std::string, std::string> Hub::configuredNames() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::string> out;
  for (const auto& c : channels_) {
    out.emplace(c.full_id, c.cfg.name);
  }
  return out;
}

std::vector<ChannelSnapshot> Hub::channels(TimeMs now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<ChannelSnapshot> out;
  out.reserve(channels_.size());
  for (const auto& c : channels_) {
    out.push_back(snapshot(c, now_ms));
  }
  return out;
}

std::optional<ChannelSnapshot> Hub::channel(const std::string& id, TimeMs now_ms) const {
  std::lock_guard lock(mutex_);
  for (const auto& c : channels_) {
    if (c.full_id == id) {
      return snapshot(c, now_ms);
    }
  }
  return std::nullopt;
}

std::vector<DeviceSnapshot> Hub::devices() const {
  std::lock_guard lock(mutex_);
  std::vector<DeviceSnapshot> out;
  for (const auto& d : devices_) {
    DeviceSnapshot s;
    s.id = d->cfg.id;
    s.name = d->cfg.name;
    s.type = d->cfg.type;
    s.transport = d->cfg.transport;
    s.endpoint = d->endpoint;
    s.state = d->state;
    s.error = d->error;
    s.last_ok_ms = d->last_ok_ms;
    s.polls = d->polls;
    s.failures = d->failures;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<PointSample> Hub::pointSamples(TimeMs now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<PointSample> out;
  for (const auto& c : channels_) {
    if (!c.cfg.point) {
      continue;
    }
    const ChannelSnapshot s = snapshot(c, now_ms);
    PointSample p;
    p.id = *c.cfg.point;
    p.string_index =
        c.cfg.string_number > 0 ? static_cast<std::size_t>(c.cfg.string_number - 1) : 0;
    p.value = s.value;
    p.time_ms = s.time_ms;
    // The state store applies staleness itself (from the time); pass ok, invalid, comm_lost.
    p.quality = s.quality == model::Quality::kStale ? model::Quality::kOk : s.quality;
    if (p.time_ms == 0 && p.quality == model::Quality::kNotPresent) {
      p.quality = model::Quality::kCommLost;  // configured but never read yet
    }
    out.push_back(p);
  }
  return out;
}

namespace {
template <class Channels>
std::optional<std::string> roleRelay(const Channels& channels, model::ChannelRole role,
                                     std::size_t string_index) {
  for (const auto& c : channels) {
    if (c.cfg.role == role && c.cfg.string_number == static_cast<int>(string_index) + 1) {
      return c.full_id;
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> Hub::breakerTripRelay(std::size_t string_index) const {
  return roleRelay(channels_, model::ChannelRole::kBreakerTrip, string_index);
}

std::optional<std::string> Hub::chargerReduceRelay(std::size_t string_index) const {
  return roleRelay(channels_, model::ChannelRole::kChargerReduce, string_index);
}

}  // namespace equalis::io
