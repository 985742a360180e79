// The wire backend against the device side: in-process responders served on ptys at 115 200
// baud (paced like a real line), reading a simulated plant; and the line master against a
// scripted transport fed raw bytes (foreign, late, echoed and corrupted frames).
#include "bus/wire_backend.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>

#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "bus/line_server.hpp"
#include "bus/responder.hpp"
#include "bus/sim_backend.hpp"

namespace equalis::bus {
namespace {

using model::Quality;
constexpr std::uint32_t kBaud = 115200;
constexpr TimeMs kStartMs = 1'767'225'600'000;

model::PlantConfig plantOf(int strings, int blocks) {
  auto p = model::demoPlant();
  p.strings.resize(static_cast<std::size_t>(strings), p.strings[0]);
  for (std::size_t s = 0; s < p.strings.size(); ++s) {
    p.strings[s].block_count = blocks;
    p.strings[s].name = "String " + std::to_string(s + 1);
  }
  return p;
}

std::vector<LineString> lineStrings(const model::PlantConfig& plant,
                                    const std::vector<std::size_t>& strings) {
  std::vector<LineString> out;
  std::uint16_t next = 1;
  for (const auto s : strings) {
    const auto blocks = static_cast<std::size_t>(plant.strings[s].block_count);
    out.push_back({s, blocks, next, plant.strings[s].current_sensor.present});
    next = static_cast<std::uint16_t>(next + blocks);
  }
  return out;
}

// A plant simulator answering on one pty line, and a twin simulator with the same seed that is
// measured directly in the same order: the wire must carry exactly the twin's values.
struct Rig {
  model::PlantConfig plant;
  sim::PlantSim sim;
  sim::PlantSim twin;
  SimBackend values{sim};
  SimBackend twin_values{twin};
  std::mutex plant_mutex;
  std::unique_ptr<LineResponder> responder;
  std::unique_ptr<LineServer> server;
  SimulatedClock clock{kStartMs};
  std::unique_ptr<WireBackend> backend;

  // The reply slack is generous: under the sanitizers a reply may take long; tests that need
  // a timeout to happen use faults far longer than the slack instead of a tight slack.
  explicit Rig(model::PlantConfig p, WireFaults faults = {},
               std::chrono::milliseconds slack = std::chrono::milliseconds(150))
      : plant(std::move(p)), sim(plant, kStartMs), twin(plant, kStartMs) {
    std::vector<std::size_t> all;
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      all.push_back(s);
    }
    const auto strings = lineStrings(plant, all);
    responder = std::make_unique<LineResponder>(strings, true, kBaud, values, std::move(faults));
    auto srv = LineServer::openPty(*responder, plant_mutex);
    EXPECT_TRUE(srv.ok()) << (srv.ok() ? "" : srv.error().message);
    server = std::move(*srv);
    server->start();
    LineOptions options;
    options.reply_slack = slack;
    std::vector<std::unique_ptr<WireLine>> lines;
    lines.push_back(std::make_unique<WireLine>(
        std::make_unique<SerialTransport>(server->path(), kBaud), options, strings, true, clock));
    backend = std::make_unique<WireBackend>(plant, std::move(lines));
  }
  ~Rig() { server->stop(); }

  // The server thread reads the plant and the responder under plant_mutex.
  void advance(TimeMs t_ms) {
    {
      std::lock_guard lock(plant_mutex);
      sim.advanceTo(t_ms);
    }
    twin.advanceTo(t_ms);
  }
  LineResponder::Stats responderStats() {
    std::lock_guard lock(plant_mutex);
    return responder->stats();
  }

  // What one sample of the twin reads, in the responder's order.
  struct Truth {
    std::vector<std::vector<ModuleReading>> modules;
    std::vector<StringSensorReading> sensors;
    std::int16_t ambient_dc = 0;
  };
  Truth twinSample() {
    Truth t;
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      t.modules.emplace_back();
      for (std::size_t b = 0; b < static_cast<std::size_t>(plant.strings[s].block_count); ++b) {
        t.modules[s].push_back(*twin_values.readModule(s, b));
      }
    }
    for (std::size_t s = 0; s < plant.strings.size(); ++s) {
      t.sensors.push_back(*twin_values.readStringSensor(s));
    }
    t.ambient_dc = *twin_values.readAmbientDc();
    return t;
  }
};

void expectSame(const ModuleReading& a, const ModuleReading& b) {
  EXPECT_EQ(a.voltage_mv, b.voltage_mv);
  EXPECT_EQ(a.temperature_dc, b.temperature_dc);
  EXPECT_EQ(a.ri_uohm, b.ri_uohm);
  EXPECT_EQ(a.bypass_duty_pct, b.bypass_duty_pct);
}

TEST(WireBackend, ReadsThePlantThroughAPtyExactly) {
  Rig rig(plantOf(2, 32));
  for (int sweep = 0; sweep < 2; ++sweep) {
    ASSERT_TRUE(rig.backend->triggerSample().ok());
    SweepRead read;
    rig.backend->readAll({true, true}, read);
    const auto& got = read.modules;
    const auto truth = rig.twinSample();
    ASSERT_EQ(got.size(), 2u);
    for (std::size_t s = 0; s < 2; ++s) {
      ASSERT_EQ(got[s].size(), 32u);
      for (std::size_t b = 0; b < 32; ++b) {
        ASSERT_TRUE(got[s][b].ok()) << s << "/" << b << ": " << got[s][b].error().message;
        expectSame(*got[s][b], truth.modules[s][b]);
      }
      ASSERT_TRUE(read.sensors[s].has_value());
      const auto& sensor = *read.sensors[s];
      ASSERT_TRUE(sensor.ok());
      EXPECT_EQ(sensor->current_ma, truth.sensors[s].current_ma);
      EXPECT_EQ(sensor->ac_current_ma, truth.sensors[s].ac_current_ma);
    }
    const auto ambient = rig.backend->readAmbientDc();
    ASSERT_TRUE(ambient.ok());
    EXPECT_EQ(*ambient, truth.ambient_dc);
    rig.advance(kStartMs + (sweep + 1) * 10'000);
  }
  const auto health = rig.backend->lineHealth();
  ASSERT_EQ(health.size(), 1u);
  EXPECT_EQ(health[0].state, LineState::kUp);
  EXPECT_EQ(health[0].modules, 64);
  EXPECT_EQ(health[0].modules_ok, 64);
  EXPECT_EQ(health[0].counters.crc_errors, 0u);
  EXPECT_EQ(health[0].counters.timeouts, 0u);
  EXPECT_EQ(health[0].counters.late, 0u);
  EXPECT_GT(health[0].wire_limit_ms, 0.0);
  // A paced pty: the sweep takes about its wire time, never less.
  EXPECT_GE(health[0].last_sweep_ms, 0.9 * (health[0].wire_limit_ms - 2.0 - 2.0));
}

TEST(WireBackend, ReadsEveryModuleIdentityOnceThenAgainAfterARestart) {
  Rig rig(plantOf(2, 20));
  const auto sweep = [&rig] {
    EXPECT_TRUE(rig.backend->triggerSample().ok());
    SweepRead read;
    rig.backend->readAll({true, true}, read);
    return rig.backend->takeModuleIdentities();
  };
  // 40 modules, at most 16 per sweep, each once.
  std::vector<ModuleIdentity> all;
  std::vector<std::size_t> per_sweep;
  for (int i = 0; i < 5; ++i) {
    const auto got = sweep();
    per_sweep.push_back(got.size());
    all.insert(all.end(), got.begin(), got.end());
  }
  EXPECT_EQ(per_sweep, (std::vector<std::size_t>{16, 16, 8, 0, 0}));
  ASSERT_EQ(all.size(), 40u);
  for (std::size_t k = 0; k < all.size(); ++k) {
    const auto& m = all[k];
    EXPECT_EQ(m.string_index, k / 20);
    EXPECT_EQ(m.block_index, k % 20);
    EXPECT_EQ(m.address, k + 1);
    EXPECT_EQ(m.serial, rig.responder->serialOf(k));
    EXPECT_EQ(m.firmware(), "1.0.0");
    EXPECT_EQ(m.line, "serial:" + rig.server->path() + ":115200");
    EXPECT_EQ(m.since_ms, kStartMs);
  }
  // String 2, block 4 swapped for a module addressed at the bench: it reports RESTARTED and is
  // read again in that sweep.
  {
    std::lock_guard lock(rig.plant_mutex);
    rig.responder->replaceModule(23, 0x0BADF00D, true);
  }
  auto again = sweep();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].string_index, 1u);
  EXPECT_EQ(again[0].block_index, 3u);
  EXPECT_EQ(again[0].address, 24);
  EXPECT_EQ(again[0].serial, 0x0BADF00Du);
  EXPECT_TRUE(sweep().empty());
  // Off: nothing read, even after a restart.
  rig.backend->setIdentityReads(false);
  {
    std::lock_guard lock(rig.plant_mutex);
    rig.responder->replaceModule(0, 0x0BADF00E, true);
  }
  EXPECT_TRUE(sweep().empty());
}

TEST(WireBackend, BypassWritesReachThePlantAndReadBack) {
  Rig rig(plantOf(1, 8));
  ASSERT_TRUE(rig.backend->writeBypass(0, 3, 40).ok());
  EXPECT_FALSE(rig.backend->writeBypass(0, 3, 101).ok());
  EXPECT_FALSE(rig.backend->writeBypass(0, 8, 10).ok());
  rig.advance(kStartMs + 60'000);
  ASSERT_TRUE(rig.backend->triggerSample().ok());
  auto r = rig.backend->readModule(0, 3);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bypass_duty_pct, 40);
  EXPECT_EQ(rig.backend->readModule(0, 2)->bypass_duty_pct, 0);
  EXPECT_TRUE(rig.backend->setTarget(0, 13'620).ok());
  EXPECT_FALSE(rig.backend->setTarget(5, 13'620).ok());
  EXPECT_TRUE(rig.backend->readModule(0, 2).ok());  // the line goes on after the broadcast
}

TEST(WireBackend, FrontendSweepsThroughTheBulkPath) {
  Rig rig(plantOf(2, 16));
  Frontend fe(*rig.backend, rig.plant);
  const auto& sw = fe.sweep(kStartMs);
  EXPECT_EQ(sw.modules_ok, 32);
  EXPECT_EQ(sw.modules[1][15].quality, Quality::kOk);
  EXPECT_EQ(sw.string_sensors[1].quality, Quality::kOk);
  EXPECT_EQ(sw.ambient.quality, Quality::kOk);
  const auto truth = rig.twinSample();
  expectSame(sw.modules[1][15].reading, truth.modules[1][15]);
  EXPECT_EQ(sw.string_sensors[0].reading.current_ma, truth.sensors[0].current_ma);
}

TEST(WireBackend, CrcErrorsAndSilentModulesFailOnlyThoseModulesAndNeverGiveWrongValues) {
  WireFaults faults;
  faults.crc_probability = 0.05;
  faults.silent = {3, 17, 40};
  faults.seed = 7;
  Rig rig(plantOf(2, 24), faults, std::chrono::milliseconds(60));
  Frontend fe(*rig.backend, rig.plant);
  std::uint64_t failed_first_attempts = 0;
  for (int sweep = 0; sweep < 3; ++sweep) {
    const auto& sw = fe.sweep(kStartMs + sweep * 10'000);
    const auto truth = rig.twinSample();
    EXPECT_GE(sw.modules_ok, 48 - 3 - 2);  // silent ones, and at most a rare double corruption
    for (std::size_t s = 0; s < 2; ++s) {
      for (std::size_t b = 0; b < 24; ++b) {
        const auto address = static_cast<std::uint16_t>(s * 24 + b + 1);
        const auto& m = sw.modules[s][b];
        if (faults.silent.count(address) != 0) {
          EXPECT_EQ(m.time_ms, 0) << address;  // never a value
          EXPECT_EQ(sw.comm[s][b].consecutive_failures, static_cast<std::uint32_t>(sweep + 1));
        } else if (m.time_ms == kStartMs + sweep * 10'000) {
          expectSame(m.reading, truth.modules[s][b]);  // fresh values are exactly right
        }
      }
    }
    rig.advance(kStartMs + (sweep + 1) * 10'000);
  }
  const auto& sw = fe.last();
  EXPECT_EQ(sw.modules[0][2].quality, Quality::kCommLost);   // address 3
  EXPECT_EQ(sw.modules[0][16].quality, Quality::kCommLost);  // address 17
  EXPECT_EQ(sw.modules[1][15].quality, Quality::kCommLost);  // address 40
  const auto h = rig.backend->lineHealth()[0];
  const auto injected = rig.responderStats();
  EXPECT_GT(injected.crc_injected, 0u);
  // Every corrupted frame was rejected (by the CRC, the header check, or — a flipped start
  // byte — skipped as noise) and every intact one accepted: nothing lost, nothing let through.
  EXPECT_GT(h.counters.crc_errors, 0u);
  EXPECT_EQ(h.counters.frames_ok, injected.replies - injected.crc_injected);
  // Each silent module: a missing slot and two unanswered retries per sweep (frontend retry,
  // then the line's own retry).
  EXPECT_GE(h.counters.timeouts, 3u * 3u * 3u);
  EXPECT_EQ(h.state, LineState::kDegraded);
  const auto silent = rig.backend->line(0).moduleCounters(0, 2);
  EXPECT_EQ(silent.ok, 0u);
  EXPECT_EQ(silent.timeouts, 9u);
  (void)failed_first_attempts;
}

TEST(WireBackend, LateRepliesAreCountedAndDropped) {
  WireFaults faults;
  faults.late_probability = 1.0;
  faults.late_ms = 400;
  Rig rig(plantOf(1, 4), faults, std::chrono::milliseconds(100));
  ASSERT_TRUE(rig.backend->triggerSample().ok());
  EXPECT_FALSE(rig.backend->readModule(0, 1).ok());  // both attempts come 400 ms late
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  {
    std::lock_guard lock(rig.plant_mutex);
    rig.responder->faults().late_probability = 0;
  }
  const auto truth = rig.twinSample();
  const auto r = rig.backend->readModule(0, 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  expectSame(*r, truth.modules[0][1]);
  const auto h = rig.backend->lineHealth()[0];
  EXPECT_EQ(h.counters.late, 2u);
  EXPECT_EQ(h.counters.timeouts, 2u);
  EXPECT_EQ(rig.backend->line(0).moduleCounters(0, 1).late, 2u);
}

TEST(WireBackend, NoiseBurstsAreSkipped) {
  WireFaults faults;
  faults.noise_probability = 0.2;
  faults.seed = 3;
  Rig rig(plantOf(1, 40), faults);
  ASSERT_TRUE(rig.backend->triggerSample().ok());
  SweepRead read;
  rig.backend->readAll({true}, read);
  const auto& got = read.modules;
  const auto truth = rig.twinSample();
  int ok = 0;
  for (std::size_t b = 0; b < 40; ++b) {
    if (got[0][b].ok()) {
      ++ok;
      expectSame(*got[0][b], truth.modules[0][b]);
    }
  }
  EXPECT_GE(ok, 36);  // a burst that looks like a frame start may cost its frame, rarely
  EXPECT_GT(rig.backend->lineHealth()[0].counters.noise_bytes, 0u);
}

TEST(WireBackend, SeveralLinesSweepInParallel) {
  auto plant = plantOf(4, 20);
  sim::PlantSim sim(plant, kStartMs);
  SimBackend values(sim);
  std::mutex plant_mutex;
  SimulatedClock clock(kStartMs);
  std::vector<std::unique_ptr<LineResponder>> responders;
  std::vector<std::unique_ptr<LineServer>> servers;
  std::vector<std::unique_ptr<WireLine>> lines;
  LineOptions options;
  options.reply_slack = std::chrono::milliseconds(150);
  for (std::size_t l = 0; l < 2; ++l) {
    const auto strings = lineStrings(plant, {2 * l, 2 * l + 1});
    responders.push_back(std::make_unique<LineResponder>(strings, l == 0, kBaud, values));
    servers.push_back(LineServer::openPty(*responders.back(), plant_mutex).value());
    servers.back()->start();
    lines.push_back(
        std::make_unique<WireLine>(std::make_unique<SerialTransport>(servers.back()->path(), kBaud),
                                   options, strings, l == 0, clock));
  }
  WireBackend backend(plant, std::move(lines));
  ASSERT_TRUE(backend.triggerSample().ok());
  const auto start = std::chrono::steady_clock::now();
  SweepRead read;
  backend.readAll({}, read);
  const auto& got = read.modules;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t s = 0; s < 4; ++s) {
    ASSERT_EQ(got[s].size(), 20u);
    for (const auto& r : got[s]) {
      EXPECT_TRUE(r.ok());
    }
  }
  const auto health = backend.lineHealth();
  ASSERT_EQ(health.size(), 2u);
  // In parallel: the whole sweep takes about one line's time, not two (each line is paced at
  // its baud rate, so this holds on a loaded machine too).
  EXPECT_LT(ms, health[0].last_sweep_ms + health[1].last_sweep_ms);
  for (auto& s : servers) {
    s->stop();
  }
}

// ---- The line master on raw bytes ----

// A transport whose peer is a function: every frame written is answered with the bytes it
// returns (or nothing), available to the next read.
class ScriptedTransport final : public Transport {
 public:
  using Peer = std::function<std::vector<std::uint8_t>(const proto::Frame&)>;
  explicit ScriptedTransport(Peer peer) : peer_(std::move(peer)) {}
  Status open() override {
    open_ = true;
    return {};
  }
  void close() override { open_ = false; }
  bool isOpen() const override { return open_; }
  Status write(std::span<const std::uint8_t> bytes) override {
    auto f = proto::decode(bytes);
    if (f) {
      const auto reply = peer_(*f);
      input_.insert(input_.end(), reply.begin(), reply.end());
    }
    return {};
  }
  Result<std::size_t> read(std::span<std::uint8_t> buffer, SteadyTime) override {
    const std::size_t n = std::min(buffer.size(), input_.size());
    std::copy_n(input_.begin(), n, buffer.begin());
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
  }
  void discardInput() override { input_.clear(); }
  std::string describe() const override { return "scripted"; }
  std::uint32_t baud() const override { return kBaud; }

 private:
  Peer peer_;
  bool open_ = false;
  std::deque<std::uint8_t> input_;
};

std::vector<std::uint8_t> bytes(const proto::Frame& f) {
  const auto e = proto::encode(f);
  return {e.bytes.begin(), e.bytes.begin() + static_cast<std::ptrdiff_t>(e.size)};
}

std::vector<std::uint8_t> measurementReply(std::uint16_t address, std::uint8_t seq,
                                           std::int16_t mv) {
  return bytes(proto::makeFrame(
      address, static_cast<std::uint8_t>(proto::Command::kReadMeasurement) | proto::kReplyFlag, seq,
      proto::encodeMeasurement({mv, 250, 4000, 0, 0, 0})));
}

TEST(LineMaster, DropsForeignLateEchoedAndCorruptedFramesAndTakesTheRightOne) {
  std::uint8_t previous_seq = 0;
  auto transport = std::make_unique<ScriptedTransport>([&](const proto::Frame& req) {
    std::vector<std::uint8_t> out = bytes(req);  // an echoing adapter
    auto append = [&out](const std::vector<std::uint8_t>& b) {
      out.insert(out.end(), b.begin(), b.end());
    };
    append(measurementReply(9, req.sequence, 11'111));            // foreign address
    append(measurementReply(req.address, previous_seq, 22'222));  // late (earlier request)
    auto bad = measurementReply(req.address, req.sequence, 9'999);
    bad[7] ^= 0x04;  // corrupted: same frame with a flipped bit
    append(bad);
    append({0x00, 0x13, 0x37});                                   // noise
    append(measurementReply(req.address, req.sequence, 13'600));  // the answer
    previous_seq = req.sequence;
    return out;
  });
  LineOptions options;
  options.retries = 0;
  LineMaster master(std::move(transport), options);
  for (int i = 0; i < 3; ++i) {
    auto f = master.transact(5, proto::Command::kReadMeasurement, {});
    ASSERT_TRUE(f.ok()) << f.error().message;
    EXPECT_EQ(f->address, 5);
    EXPECT_EQ(proto::decodeMeasurement(f->data())->voltage_mv, 13'600);
  }
  const auto c = master.counters();
  EXPECT_EQ(c.frames_ok, 3u);
  EXPECT_EQ(c.echo, 3u);
  EXPECT_EQ(c.foreign, 3u);
  EXPECT_EQ(c.late, 3u);
  EXPECT_GE(c.crc_errors, 3u);
  EXPECT_GE(c.noise_bytes, 9u);
  EXPECT_EQ(c.timeouts, 0u);
}

TEST(LineMaster, ErrorRepliesAndRetries) {
  int calls = 0;
  auto transport = std::make_unique<ScriptedTransport>([&](const proto::Frame& req) {
    ++calls;
    if (calls == 1) {
      return std::vector<std::uint8_t>{};  // first attempt: silence
    }
    const std::uint8_t code = static_cast<std::uint8_t>(proto::DeviceError::kBusy);
    return bytes(proto::makeFrame(
        req.address, static_cast<std::uint8_t>(req.command | proto::kReplyFlag | proto::kErrorFlag),
        req.sequence, std::vector<std::uint8_t>{code}));
  });
  LineOptions options;
  options.retries = 1;
  options.reply_slack = std::chrono::microseconds(100);
  LineMaster master(std::move(transport), options);
  auto f = master.transact(5, proto::Command::kReadInfo, {});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("BUSY"), std::string::npos);
  const auto c = master.counters();
  EXPECT_EQ(c.timeouts, 1u);
  EXPECT_EQ(c.retries, 1u);
  EXPECT_EQ(c.error_replies, 1u);
  EXPECT_EQ(master.findDevice(5)->errors, 1u);
  EXPECT_EQ(master.findDevice(5)->timeouts, 1u);
}

TEST(LineMaster, LineDownFailsFastAndReconnects) {
  LineOptions options;
  options.reconnect_interval = std::chrono::milliseconds(0);
  LineMaster master(std::make_unique<SerialTransport>("/nonexistent/tty", kBaud), options);
  auto f = master.transact(1, proto::Command::kReadMeasurement, {});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(master.connected());
  EXPECT_NE(master.lastError().find("/nonexistent/tty"), std::string::npos);
}

TEST(SerialTransport, OpensALineForOneMasterOnly) {
  const int pty = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(pty, 0);
  ASSERT_EQ(::grantpt(pty), 0);
  ASSERT_EQ(::unlockpt(pty), 0);
  std::array<char, 128> name{};
  ASSERT_EQ(::ptsname_r(pty, name.data(), name.size()), 0);
  SerialTransport first(name.data(), 115200);
  SerialTransport second(name.data(), 115200);
  ASSERT_TRUE(first.open().ok());
  const auto refused = second.open();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("in use"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(second.isOpen());
  // Closed: the next master may open it (the pty itself stays open on its other side).
  first.close();
  EXPECT_TRUE(second.open().ok());
  second.close();
  ::close(pty);
}

TEST(LineUrl, ParsesAndRejects) {
  auto s = parseLineUrl("serial:/dev/ttyUSB0:115200");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, LineUrl::Kind::kSerial);
  EXPECT_EQ(s->device, "/dev/ttyUSB0");
  EXPECT_EQ(s->baud, 115200u);
  auto t = parseLineUrl("tcp://127.0.0.1:4001");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 4001);
  EXPECT_TRUE(parseLineUrl("tcp://[::1]:4001").ok());
  EXPECT_FALSE(parseLineUrl("serial:/dev/ttyUSB0:12345").ok());
  EXPECT_FALSE(parseLineUrl("serial:/dev/ttyUSB0").ok());
  EXPECT_FALSE(parseLineUrl("serial:ttyUSB0:9600").ok());
  EXPECT_FALSE(parseLineUrl("tcp://host").ok());
  EXPECT_FALSE(parseLineUrl("tcp://host:0").ok());
  EXPECT_FALSE(parseLineUrl("udp://host:1").ok());
}

}  // namespace
}  // namespace equalis::bus
