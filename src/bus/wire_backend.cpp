#include "bus/wire_backend.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <utility>

#include "bus/sim_backend.hpp"

namespace equalis::bus {

namespace {

using proto::Command;

Error failed(const std::string& what) {
  return makeError(ErrorCode::kTimeout, what);
}

}  // namespace

// ---- WireLine -------------------------------------------------------------------------------

WireLine::WireLine(std::unique_ptr<Transport> transport, LineOptions options,
                   std::vector<LineString> strings, bool ambient_sensor, const Clock& clock)
    : master_(std::move(transport), options),
      strings_(std::move(strings)),
      ambient_sensor_(ambient_sensor),
      clock_(clock) {
  std::size_t max_string = 0;
  proto::SweepShape shape;
  for (const auto& s : strings_) {
    max_string = std::max(max_string, s.string_index + 1);
    modules_ =
        static_cast<std::uint16_t>(std::max<std::size_t>(modules_, s.first_address + s.blocks - 1));
    shape.module_runs.push_back(s.blocks);
    shape.current_sensors += s.current_sensor ? 1 : 0;
  }
  // Consecutive strings form one run of addresses (the sweep reads across string boundaries).
  if (!shape.module_runs.empty()) {
    std::size_t total = 0;
    for (const auto r : shape.module_runs) {
      total += r;
    }
    shape.module_runs = {total};
  }
  shape.ambient = ambient_sensor_;
  wire_limit_ms_ = proto::sweepWireLimitMs(shape, master_.baud());
  sensor_cache_.resize(max_string);
  bypass_duty_.assign(static_cast<std::size_t>(modules_) + 1, -1);
  info_attempts_left_.assign(static_cast<std::size_t>(modules_) + 1, 0);
  for (const auto& s : strings_) {
    for (std::size_t b = 0; b < s.blocks; ++b) {
      info_attempts_left_[s.first_address + b] = kInfoAttempts;
    }
  }
}

const LineString* WireLine::find(std::size_t string_index) const {
  for (const auto& s : strings_) {
    if (s.string_index == string_index) {
      return &s;
    }
  }
  return nullptr;
}

std::optional<std::uint16_t> WireLine::address(std::size_t string_index,
                                               std::size_t block_index) const {
  const auto* s = find(string_index);
  if (s == nullptr || block_index >= s->blocks) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(s->first_address + block_index);
}

Status WireLine::triggerSample() {
  std::lock_guard lock(mutex_);
  const TimeMs now_ms = clock_.nowMs();
  if (now_ms >= next_time_sync_ms_) {
    if (master_.broadcast(Command::kTimeSync,
                          proto::encodeTimeSync(static_cast<std::uint64_t>(now_ms)))) {
      next_time_sync_ms_ = now_ms + kHourMs;
    }
  }
  tag_ = static_cast<std::uint8_t>(tag_ % proto::kMaxSampleTag + 1);  // 1 … 15
  for (auto& c : sensor_cache_) {
    c.reset();
  }
  ambient_cache_.reset();
  return master_.broadcast(Command::kSample, std::vector<std::uint8_t>{tag_},
                           proto::kSampleLatchMs);
}

Result<ModuleReading> WireLine::reading(std::uint16_t address, const proto::Frame& f) {
  auto m = proto::decodeMeasurement(f.data());
  if (!m) {
    master_.device(address).errors += 1;
    return m.error();
  }
  if ((m->flags & proto::kFlagRestarted) != 0) {
    restarted_.push_back(address);
    if (address < info_attempts_left_.size()) {
      info_attempts_left_[address] = kInfoAttempts;  // it may be another module now
    }
  }
  if ((m->flags & proto::kFlagMeasurementFault) != 0) {
    master_.device(address).errors += 1;
    return makeError(ErrorCode::kProtocol,
                     "module " + std::to_string(address) + " reports a measurement fault");
  }
  if (tag_ != 0 && m->sample_tag != tag_) {
    master_.device(address).stale += 1;
    return makeError(ErrorCode::kProtocol, "module " + std::to_string(address) +
                                               " missed the sample (tag " +
                                               std::to_string(m->sample_tag) + ")");
  }
  ModuleReading r;
  r.voltage_mv = m->voltage_mv;
  r.temperature_dc = m->temperature_dc;
  r.ri_uohm = (m->flags & proto::kFlagRiInvalid) != 0 ? 0 : m->ri_uohm;
  r.bypass_duty_pct = m->bypass_duty_pct;
  return r;
}

void WireLine::sweep(std::vector<std::vector<Result<ModuleReading>>>& out) {
  std::lock_guard lock(mutex_);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::optional<proto::Frame>> frames;
  std::vector<std::optional<Result<ModuleReading>>> by_address(modules_ + 1u);
  std::vector<std::uint16_t> alive;  // answered their slot
  Status line_status;
  // Modules: consecutive addresses 1 … modules_, in runs of at most 255.
  for (std::size_t first = proto::kFirstModule; first <= modules_ && line_status;) {
    const auto count = static_cast<std::uint8_t>(
        std::min<std::size_t>(proto::kMaxGroupCount, modules_ - first + 1));
    line_status = master_.groupRead(static_cast<std::uint16_t>(first), count,
                                    Command::kReadMeasurement, frames);
    for (std::size_t k = 0; k < frames.size(); ++k) {
      if (frames[k]) {
        const auto address = static_cast<std::uint16_t>(first + k);
        by_address[address] = reading(address, *frames[k]);
        alive.push_back(address);
      }
    }
    first += count;
  }
  modules_ok_ = 0;
  for (const auto& s : strings_) {
    if (out.size() <= s.string_index) {
      out.resize(s.string_index + 1);
    }
    auto& o = out[s.string_index];
    o.clear();
    o.reserve(s.blocks);
    for (std::size_t b = 0; b < s.blocks; ++b) {
      auto& r = by_address[s.first_address + b];
      if (r) {
        modules_ok_ += r->ok() ? 1 : 0;
        o.push_back(std::move(*r));
      } else {
        o.push_back(line_status ? failed("module did not answer its slot") : line_status.error());
      }
    }
  }
  // String current sensors: runs of consecutive sensor addresses.
  std::vector<std::size_t> with_sensor;
  for (const auto& s : strings_) {
    if (s.current_sensor) {
      with_sensor.push_back(s.string_index);
    }
  }
  std::sort(with_sensor.begin(), with_sensor.end());
  for (std::size_t i = 0; i < with_sensor.size() && line_status;) {
    std::size_t j = i + 1;
    while (j < with_sensor.size() && with_sensor[j] == with_sensor[j - 1] + 1 &&
           j - i < proto::kMaxGroupCount) {
      ++j;
    }
    const auto first = proto::currentSensorAddress(with_sensor[i]);
    line_status =
        master_.groupRead(first, static_cast<std::uint8_t>(j - i), Command::kReadCurrent, frames);
    for (std::size_t k = 0; k < frames.size(); ++k) {
      if (!frames[k]) {
        continue;  // not cached: readStringSensor() asks once more
      }
      const auto c = proto::decodeCurrent(frames[k]->data());
      if (c && (c->flags & proto::kFlagMeasurementFault) == 0 &&
          (tag_ == 0 || c->sample_tag == tag_)) {
        sensor_cache_[with_sensor[i + k]] = StringSensorReading{c->current_ma, c->ac_current_ma};
      }
    }
    i = j;
  }
  resendBypass();
  if (line_status && read_identities_) {
    readIdentities(alive);
  }
  last_sweep_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void WireLine::readIdentities(const std::vector<std::uint16_t>& alive) {
  std::size_t budget = kInfoReadsPerSweep;
  for (const auto address : alive) {
    if (budget == 0) {
      return;
    }
    if (address >= info_attempts_left_.size() || info_attempts_left_[address] <= 0) {
      continue;
    }
    const LineString* where = nullptr;
    for (const auto& s : strings_) {
      if (address >= s.first_address && address < s.first_address + s.blocks) {
        where = &s;
      }
    }
    if (where == nullptr) {
      continue;
    }
    budget -= 1;
    info_attempts_left_[address] -= 1;
    auto f = master_.transact(address, Command::kReadInfo, {});
    if (!f) {
      continue;
    }
    auto info = proto::decodeInfo(f->data());
    if (!info) {
      master_.device(address).errors += 1;
      continue;
    }
    info_attempts_left_[address] = 0;
    ModuleIdentity m;
    m.string_index = where->string_index;
    m.block_index = address - where->first_address;
    m.address = address;
    m.serial = info->serial;
    m.firmware_major = info->firmware_major;
    m.firmware_minor = info->firmware_minor;
    m.firmware_patch = info->firmware_patch;
    m.device_type = info->device_type;
    m.line = master_.describe();
    m.since_ms = clock_.nowMs();
    identities_.push_back(std::move(m));
  }
}

void WireLine::setIdentityReads(bool on) {
  std::lock_guard lock(mutex_);
  read_identities_ = on;
}

std::vector<ModuleIdentity> WireLine::takeIdentities() {
  std::lock_guard lock(mutex_);
  return std::exchange(identities_, {});
}

void WireLine::resendBypass() {
  // A restarted module lost its duty: send the last one again.
  auto pending = std::move(restarted_);
  restarted_.clear();
  for (const auto address : pending) {
    const int duty = address < bypass_duty_.size() ? bypass_duty_[address] : -1;
    if (duty >= 0) {
      (void)master_.transact(address, Command::kWriteBypass,
                             std::vector<std::uint8_t>{static_cast<std::uint8_t>(duty)});
    }
  }
}

Result<ModuleReading> WireLine::readModule(std::size_t string_index, std::size_t block_index) {
  std::lock_guard lock(mutex_);
  const auto a = address(string_index, block_index);
  if (!a) {
    return makeError(ErrorCode::kNotFound, "no such module on this line");
  }
  auto f = master_.transact(*a, Command::kReadMeasurement, {});
  if (!f) {
    return f.error();
  }
  auto r = reading(*a, *f);
  resendBypass();
  return r;
}

Result<StringSensorReading> WireLine::readStringSensor(std::size_t string_index) {
  std::lock_guard lock(mutex_);
  const auto* s = find(string_index);
  if (s == nullptr || !s->current_sensor) {
    return makeError(ErrorCode::kNotFound, "no current sensor on this line for that string");
  }
  if (auto& cached = sensor_cache_[string_index]) {
    auto r = std::move(*cached);
    cached.reset();
    return r;
  }
  auto f = master_.transact(proto::currentSensorAddress(string_index), Command::kReadCurrent, {});
  if (!f) {
    return f.error();
  }
  auto c = proto::decodeCurrent(f->data());
  if (!c) {
    return c.error();
  }
  if ((c->flags & proto::kFlagMeasurementFault) != 0) {
    return makeError(ErrorCode::kProtocol, "current sensor reports a measurement fault");
  }
  if (tag_ != 0 && c->sample_tag != tag_) {
    return makeError(ErrorCode::kProtocol, "current sensor missed the sample");
  }
  return StringSensorReading{c->current_ma, c->ac_current_ma};
}

Result<std::int16_t> WireLine::readAmbientDc() {
  std::lock_guard lock(mutex_);
  if (!ambient_sensor_) {
    return makeError(ErrorCode::kNotFound, "no room sensor on this line");
  }
  auto f = master_.transact(proto::kAmbientSensor, Command::kReadTemperature, {});
  if (!f) {
    return f.error();
  }
  auto t = proto::decodeTemperature(f->data());
  if (!t) {
    return t.error();
  }
  if ((t->flags & proto::kFlagMeasurementFault) != 0) {
    return makeError(ErrorCode::kProtocol, "room sensor reports a measurement fault");
  }
  return t->temperature_dc;
}

Status WireLine::writeBypass(std::size_t string_index, std::size_t block_index,
                             std::uint8_t duty_pct) {
  std::lock_guard lock(mutex_);
  const auto a = address(string_index, block_index);
  if (!a) {
    return makeError(ErrorCode::kNotFound, "no such module on this line");
  }
  if (duty_pct > 100) {
    return makeError(ErrorCode::kOutOfRange, "bypass duty above 100 %");
  }
  auto f = master_.transact(*a, Command::kWriteBypass, std::vector<std::uint8_t>{duty_pct});
  if (!f) {
    return f.error();
  }
  if (f->length != 1 || f->payload[0] != duty_pct) {
    master_.device(*a).errors += 1;
    return makeError(ErrorCode::kProtocol, "module applied another duty than the one written");
  }
  bypass_duty_[*a] = duty_pct;
  return {};
}

Status WireLine::setTarget(std::size_t string_index, std::uint16_t target_mv) {
  std::lock_guard lock(mutex_);
  const auto* s = find(string_index);
  if (s == nullptr || s->blocks == 0) {
    return makeError(ErrorCode::kNotFound, "no such string on this line");
  }
  const auto last = static_cast<std::uint16_t>(s->first_address + s->blocks - 1);
  return master_.broadcast(Command::kSetTarget,
                           proto::encodeSetTarget({s->first_address, last, target_mv}));
}

LineHealth WireLine::health() const {
  std::lock_guard lock(mutex_);
  LineHealth h;
  h.line = master_.describe();
  h.connected = master_.connected();
  h.counters = master_.counters();
  h.last_error = master_.lastError();
  h.modules = modules_;
  h.modules_ok = modules_ok_;
  h.last_sweep_ms = last_sweep_ms_;
  h.wire_limit_ms = wire_limit_ms_;
  if (!h.connected || (modules_ > 0 && modules_ok_ == 0)) {
    h.state = LineState::kDown;
  } else {
    h.state = modules_ok_ < modules_ ? LineState::kDegraded : LineState::kUp;
  }
  return h;
}

DeviceCounters WireLine::moduleCounters(std::size_t string_index, std::size_t block_index) const {
  std::lock_guard lock(mutex_);
  const auto a = address(string_index, block_index);
  const DeviceCounters* d = a ? master_.findDevice(*a) : nullptr;
  return d != nullptr ? *d : DeviceCounters{};
}

// ---- LineWorker -----------------------------------------------------------------------------

LineWorker::LineWorker() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || (busy_ && job_); });
      if (stop_) {
        return;
      }
      auto job = std::move(job_);
      job_ = nullptr;
      lock.unlock();
      job();
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  });
}

LineWorker::~LineWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LineWorker::start(std::function<void()> job) {
  std::lock_guard lock(mutex_);
  job_ = std::move(job);
  busy_ = true;
  cv_.notify_all();
}

void LineWorker::wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return !busy_; });
}

// ---- WireBackend ----------------------------------------------------------------------------

WireBackend::WireBackend(const model::PlantConfig& plant,
                         std::vector<std::unique_ptr<WireLine>> lines)
    : lines_(std::move(lines)) {
  for (const auto& s : plant.strings) {
    blocks_.push_back(static_cast<std::size_t>(s.block_count));
  }
  line_of_string_.assign(blocks_.size(), -1);
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    for (const auto& s : lines_[i]->strings()) {
      if (s.string_index < line_of_string_.size()) {
        line_of_string_[s.string_index] = static_cast<int>(i);
      }
    }
  }
  if (lines_.size() > 1) {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      workers_.push_back(std::make_unique<LineWorker>());
    }
  }
}

WireBackend::~WireBackend() = default;

Result<std::unique_ptr<WireBackend>> WireBackend::create(const model::PlantConfig& plant,
                                                         const Clock& clock) {
  std::vector<std::unique_ptr<WireLine>> lines;
  for (std::size_t i = 0; i < plant.bus.lines.size(); ++i) {
    const auto& cfg = plant.bus.lines[i];
    auto url = parseLineUrl(cfg.url);
    if (!url) {
      return makeError(url.error().code,
                       "bus.line[" + std::to_string(i + 1) + "].url: " + url.error().message);
    }
    if (url->kind == LineUrl::Kind::kTcp) {
      url->baud = static_cast<std::uint32_t>(cfg.baud);
    }
    LineOptions options;
    options.reply_slack = std::chrono::milliseconds(cfg.timeout_ms);
    options.retries = cfg.retries;
    std::vector<LineString> strings;
    std::uint16_t next = proto::kFirstModule;
    for (const int number : cfg.strings) {
      const auto s = static_cast<std::size_t>(number - 1);
      if (number < 1 || s >= plant.strings.size()) {
        return makeError(
            ErrorCode::kInvalidArgument,
            "bus.line[" + std::to_string(i + 1) + "].strings: no string " + std::to_string(number));
      }
      const auto blocks = static_cast<std::size_t>(plant.strings[s].block_count);
      strings.push_back({s, blocks, next, plant.strings[s].current_sensor.present});
      next = static_cast<std::uint16_t>(next + blocks);
    }
    const bool ambient = i == 0 && plant.ambient.sensor_present;
    lines.push_back(std::make_unique<WireLine>(makeTransport(*url), options, std::move(strings),
                                               ambient, clock));
  }
  return std::make_unique<WireBackend>(plant, std::move(lines));
}

WireLine* WireBackend::lineOf(std::size_t string_index) const {
  if (string_index >= line_of_string_.size() || line_of_string_[string_index] < 0) {
    return nullptr;
  }
  return lines_[static_cast<std::size_t>(line_of_string_[string_index])].get();
}

Result<ModuleReading> WireBackend::readModule(std::size_t string_index, std::size_t block_index) {
  auto* l = lineOf(string_index);
  if (l == nullptr) {
    return makeError(ErrorCode::kNotFound, "string on no bus line");
  }
  return l->readModule(string_index, block_index);
}

Result<StringSensorReading> WireBackend::readStringSensor(std::size_t string_index) {
  auto* l = lineOf(string_index);
  if (l == nullptr) {
    return makeError(ErrorCode::kNotFound, "string on no bus line");
  }
  return l->readStringSensor(string_index);
}

Result<std::int16_t> WireBackend::readAmbientDc() {
  if (lines_.empty()) {
    return makeError(ErrorCode::kNotFound, "no bus line");
  }
  return lines_.front()->readAmbientDc();
}

Status WireBackend::writeBypass(std::size_t string_index, std::size_t block_index,
                                std::uint8_t duty_pct) {
  auto* l = lineOf(string_index);
  if (l == nullptr) {
    return makeError(ErrorCode::kNotFound, "string on no bus line");
  }
  return l->writeBypass(string_index, block_index, duty_pct);
}

Status WireBackend::triggerSample() {
  Status result;
  for (auto& l : lines_) {
    if (auto st = l->triggerSample(); !st && result) {
      result = st;
    }
  }
  return result;
}

void WireBackend::readAll(const std::vector<bool>& with_sensor, SweepRead& out) {
  auto& modules = out.modules;
  modules.resize(blocks_.size());
  // Each line writes only the entries of its own strings: no two threads touch one vector.
  if (workers_.empty()) {
    for (auto& l : lines_) {
      l->sweep(modules);
    }
  } else {
    for (std::size_t i = 0; i < lines_.size(); ++i) {
      workers_[i]->start([this, i, &modules] { lines_[i]->sweep(modules); });
    }
    for (auto& w : workers_) {
      w->wait();
    }
  }
  out.sensors.assign(blocks_.size(), std::nullopt);
  for (std::size_t s = 0; s < modules.size(); ++s) {
    if (line_of_string_[s] < 0) {
      modules[s].clear();
      for (std::size_t b = 0; b < blocks_[s]; ++b) {
        modules[s].push_back(makeError(ErrorCode::kNotFound, "string on no bus line"));
      }
    } else if (s < with_sensor.size() && with_sensor[s]) {
      // From the line's group read of its sensors; a sensor missing there is asked once more.
      out.sensors[s] = lineOf(s)->readStringSensor(s);
    }
  }
}

Status WireBackend::setTarget(std::size_t string_index, std::uint16_t target_mv) {
  auto* l = lineOf(string_index);
  if (l == nullptr) {
    return makeError(ErrorCode::kNotFound, "string on no bus line");
  }
  return l->setTarget(string_index, target_mv);
}

std::vector<LineHealth> WireBackend::lineHealth() const {
  std::vector<LineHealth> out;
  out.reserve(lines_.size());
  for (const auto& l : lines_) {
    out.push_back(l->health());
  }
  return out;
}

void WireBackend::setIdentityReads(bool on) {
  for (auto& l : lines_) {
    l->setIdentityReads(on);
  }
}

std::vector<ModuleIdentity> WireBackend::takeModuleIdentities() {
  std::vector<ModuleIdentity> out;
  for (const auto& l : lines_) {
    auto part = l->takeIdentities();
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

}  // namespace equalis::bus
