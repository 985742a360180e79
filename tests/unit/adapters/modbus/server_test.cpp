#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "adapters/modbus/modbus_server.hpp"
#include "adapters/modbus/server_internal.hpp"

namespace equalis::modbus {
namespace {

using model::PointId;
using model::Quality;

TEST(ModbusSpec, ParsesTcp) {
  auto a = parseTcpSpec("127.0.0.1:1502");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 1502);
  auto b = parseTcpSpec("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_FALSE(parseTcpSpec("127.0.0.1"));
  EXPECT_FALSE(parseTcpSpec("127.0.0.1:70000"));
  EXPECT_FALSE(parseTcpSpec(":502"));
}

TEST(ModbusSpec, ParsesRtu) {
  auto a = parseRtuSpec("/dev/ttyUSB0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->device, "/dev/ttyUSB0");
  EXPECT_EQ(a->baud, 19200);
  EXPECT_EQ(a->parity, 'E');
  EXPECT_EQ(a->slave_id, 1);
  auto b = parseRtuSpec("/dev/pts/3:9600:N:17");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->baud, 9600);
  EXPECT_EQ(b->parity, 'N');
  EXPECT_EQ(b->slave_id, 17);
  EXPECT_FALSE(parseRtuSpec(""));
  EXPECT_FALSE(parseRtuSpec("/dev/x:fast"));
  EXPECT_FALSE(parseRtuSpec("/dev/x:9600:X"));
  EXPECT_FALSE(parseRtuSpec("/dev/x:9600:N:0"));
  EXPECT_FALSE(parseRtuSpec("/dev/x:9600:N:248"));
  EXPECT_FALSE(parseRtuSpec("/dev/x:9600:N:1:extra"));
}

TEST(ModbusSpec, RtuOnMissingDeviceFails) {
  model::PlantConfig plant = model::demoPlant();
  state::StateStore store({32, 32}, 30'000);
  SimulatedClock clock;
  adapters::Context ctx{plant, store, clock, "test", {}, {}};
  auto r = startRtu(ctx, "/dev/equalis-no-such-tty:19200:N:1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("equalis-no-such-tty"), std::string::npos);
}

TEST(ModbusRtu, FrameLengthAndCrc) {
  // Read 10 holding registers from 22630 at slave 7, with its CRC.
  std::uint8_t read[8] = {7, 0x03, 0x58, 0x66, 0x00, 0x0A, 0, 0};
  EXPECT_EQ(rtuRequestLength(read, 8), 8);
  EXPECT_FALSE(rtuCrcOk(read, 8));
  // CRC-16/MODBUS of the first 6 bytes, low byte first (computed independently below).
  std::uint16_t crc = 0xFFFF;
  for (int i = 0; i < 6; ++i) {
    crc ^= read[i];
    for (int k = 0; k < 8; ++k) {
      crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                      : static_cast<std::uint16_t>(crc >> 1);
    }
  }
  read[6] = static_cast<std::uint8_t>(crc & 0xFF);
  read[7] = static_cast<std::uint8_t>(crc >> 8);
  EXPECT_TRUE(rtuCrcOk(read, 8));
  // The textbook example: 01 03 00 00 00 0A → CRC C5 CD.
  const std::uint8_t known[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};
  EXPECT_TRUE(rtuCrcOk(known, 8));
  const std::uint8_t fc16[7] = {7, 0x10, 0x0B, 0xC2, 0x00, 0x02, 0x04};
  EXPECT_EQ(rtuRequestLength(fc16, 7), 13);
  EXPECT_EQ(rtuRequestLength(fc16, 6), 0);
  const std::uint8_t coils[2] = {7, 0x01};
  EXPECT_EQ(rtuRequestLength(coils, 2), 8);
  const std::uint8_t mei[2] = {7, 0x2B};
  EXPECT_EQ(rtuRequestLength(mei, 2), 0);
}

std::vector<std::uint8_t> withCrc(std::vector<std::uint8_t> frame) {
  std::uint16_t crc = 0xFFFF;
  for (const auto byte : frame) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) {
      crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                      : static_cast<std::uint16_t>(crc >> 1);
    }
  }
  frame.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(crc >> 8));
  return frame;
}

TEST(ModbusRtu, FramerSplitsBackToBackFramesAndResynchronises) {
  RtuFramer framer;
  const auto a = withCrc({7, 0x03, 0x58, 0x66, 0x00, 0x0A});
  const auto b = withCrc({1, 0x10, 0x0B, 0xC2, 0x00, 0x01, 0x02, 0x00, 0x11});
  std::vector<std::uint8_t> line = a;
  line.insert(line.end(), b.begin(), b.end());
  // Byte by byte: each frame comes out once it is complete.
  std::vector<RtuFramer::Frame> frames;
  for (const auto byte : line) {
    framer.feed(&byte, 1);
    while (auto f = framer.next()) {
      frames.push_back(*f);
    }
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].bytes, a);
  EXPECT_TRUE(frames[0].crc_ok);
  EXPECT_EQ(frames[1].bytes, b);
  EXPECT_TRUE(frames[1].crc_ok);
  EXPECT_FALSE(framer.waiting());
  // A bad CRC: reported once, then everything is dropped until the line pauses.
  auto bad = a;
  bad[7] ^= 0xFF;
  framer.feed(bad.data(), bad.size());
  framer.feed(a.data(), a.size());
  auto f = framer.next();
  ASSERT_TRUE(f.has_value());
  EXPECT_FALSE(f->crc_ok);
  EXPECT_FALSE(framer.next().has_value());
  EXPECT_TRUE(framer.waiting());
  EXPECT_FALSE(framer.pause().has_value());
  framer.feed(a.data(), a.size());
  f = framer.next();
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->crc_ok);
  // A function whose length the frame does not tell ends at the pause.
  const auto other = withCrc({1, 0x2B, 0x0E, 0x01, 0x00});
  framer.feed(other.data(), other.size());
  EXPECT_FALSE(framer.next().has_value());
  EXPECT_TRUE(framer.waiting());
  f = framer.pause();
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->crc_ok);
  EXPECT_EQ(f->bytes, other);
  // Junk that makes no frame is dropped.
  const std::vector<std::uint8_t> junk(300, 0xFF);
  framer.feed(junk.data(), junk.size());
  EXPECT_FALSE(framer.next().has_value());
  f = framer.pause();
  EXPECT_TRUE(!f.has_value() || !f->crc_ok);
}

TEST(ModbusRequests, ExceptionCodes) {
  RegisterMap map({2});
  EXPECT_EQ(checkRequest(map, 3, 1000, 5), 0);
  EXPECT_EQ(checkRequest(map, 4, 4000, 20), 0);
  EXPECT_EQ(checkRequest(map, 3, 1060, 1), 2);
  EXPECT_EQ(checkRequest(map, 3, 4000, 21), 2);
  EXPECT_EQ(checkRequest(map, 3, 65535, 2), 2);
  EXPECT_EQ(checkRequest(map, 3, 1000, 0), 3);
  EXPECT_EQ(checkRequest(map, 3, 1000, 126), 3);
  for (const int fc : {1, 2, 5, 6, 15, 16, 17, 22, 23, 43, 0x7F}) {
    EXPECT_EQ(checkRequest(map, fc, 1000, 1), 1) << fc;
  }
}

class ModbusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      state::StateStore::Writer w(store_);
      const TimeMs t = clock_.nowMs();
      w.setSystem(PointId::kSystemStringCount, {2, t, Quality::kOk});
      w.setSystem(PointId::kSystemModuleCount, {64, t, Quality::kOk});
      w.set(PointId::kBlockVoltageV, 1, 31, {13.625, t, Quality::kOk});
      w.set(PointId::kStringVoltageV, 0, 0, {436.123, t, Quality::kOk});
    }
    auto started = TcpServer::start(ctx_, TcpSpec{"127.0.0.1", 0});
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(started.value());
    ASSERT_GT(server_->port(), 0);
    EXPECT_NE(server_->describe().find(fmt::format("Modbus TCP on 127.0.0.1:{}", server_->port())),
              std::string::npos);
    client_ = connectClient();
  }
  void TearDown() override {
    if (client_ != nullptr) {
      modbus_close(client_);
      modbus_free(client_);
    }
  }
  modbus_t* connectClient() {
    modbus_t* c = modbus_new_tcp("127.0.0.1", server_->port());
    EXPECT_NE(c, nullptr);
    EXPECT_EQ(modbus_connect(c), 0) << modbus_strerror(errno);
    modbus_set_response_timeout(c, 2, 0);
    return c;
  }

  model::PlantConfig plant_ = model::demoPlant();
  state::StateStore store_{{32, 32}, 30'000};
  SimulatedClock clock_;
  adapters::Context ctx_{plant_, store_, clock_, "test", {}, {}};
  std::unique_ptr<TcpServer> server_;
  modbus_t* client_ = nullptr;
};

TEST_F(ModbusServerTest, ServesHoldingAndInputRegistersAlike) {
  std::uint16_t holding[5] = {};
  std::uint16_t input[5] = {};
  ASSERT_EQ(modbus_read_registers(client_, 1000, 5, holding), 5) << modbus_strerror(errno);
  ASSERT_EQ(modbus_read_input_registers(client_, 1000, 5, input), 5) << modbus_strerror(errno);
  EXPECT_EQ(holding[3], 2);
  EXPECT_EQ(holding[4], 64);
  EXPECT_EQ(std::memcmp(holding, input, sizeof(holding)), 0);
  std::uint16_t block[10] = {};
  ASSERT_EQ(modbus_read_registers(client_, 4000 + 6000 + 10 * 31, 10, block), 10);
  EXPECT_EQ(block[0], 13625);
  std::uint16_t volts[2] = {};
  ASSERT_EQ(modbus_read_input_registers(client_, 2000, 2, volts), 2);
  EXPECT_EQ(static_cast<std::uint32_t>(volts[0]) << 16 | volts[1], 43612u);
  std::uint16_t many[125] = {};
  EXPECT_EQ(modbus_read_registers(client_, 4000, 120, many), 120);
}

TEST_F(ModbusServerTest, AnswersExceptions) {
  std::uint16_t regs[2] = {};
  EXPECT_EQ(modbus_read_registers(client_, 1060, 1, regs), -1);
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(modbus_read_input_registers(client_, 4000 + 32 * 10, 1, regs), -1);  // block 33
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(modbus_write_register(client_, 1000, 1), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  const std::uint16_t values[2] = {1, 2};
  EXPECT_EQ(modbus_write_registers(client_, 4000, 2, values), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  std::uint8_t bits[8] = {};
  EXPECT_EQ(modbus_read_bits(client_, 0, 8, bits), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  // The connection still works afterwards.
  EXPECT_EQ(modbus_read_registers(client_, 1003, 2, regs), 2);
}

TEST_F(ModbusServerTest, SurvivesMalformedFramesAndManyClients) {
  // Garbage and a truncated frame on raw sockets.
  for (const std::string& junk :
       {std::string("\x00\x01\x00\x00\x00\x06\x01\x03\x03", 9), std::string(300, '\xff'),
        std::string("\x00\x01\x00\x00\xff\xff\x01\x2b\x0e\x01\x00", 11)}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(junk.size()));
    ::usleep(50'000);
    ::close(fd);
  }
  std::vector<modbus_t*> clients;
  for (int i = 0; i < 40; ++i) {  // more than kMaxClients: the idle ones are dropped
    clients.push_back(connectClient());
  }
  std::uint16_t regs[2] = {};
  EXPECT_EQ(modbus_read_registers(clients.back(), 1003, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(regs[1], 64);
  for (auto* c : clients) {
    modbus_close(c);
    modbus_free(c);
  }
  // The first client was idle longest and may have been dropped: reconnect.
  modbus_close(client_);
  ASSERT_EQ(modbus_connect(client_), 0);
  EXPECT_EQ(modbus_read_registers(client_, 1003, 2, regs), 2) << modbus_strerror(errno);
}

TEST_F(ModbusServerTest, StopClosesEverything) {
  const int port = server_->port();
  server_->stop();
  server_->stop();  // twice is fine
  std::uint16_t regs[1] = {};
  EXPECT_EQ(modbus_read_registers(client_, 1003, 1, regs), -1);
  modbus_t* late = modbus_new_tcp("127.0.0.1", port);
  EXPECT_EQ(modbus_connect(late), -1);
  modbus_free(late);
}

TEST_F(ModbusServerTest, StaleStateReadsSentinelOverTheWire) {
  clock_.advance(60'000);
  std::uint16_t regs[10] = {};
  ASSERT_EQ(modbus_read_registers(client_, 4000 + 6000 + 10 * 31, 10, regs), 10);
  EXPECT_EQ(regs[0], 0x8000);
  EXPECT_EQ(regs[7] & kFlagStale, kFlagStale);
  EXPECT_EQ(regs[8], 60);
}

TEST(ModbusLargePlantServer, UnitIdsServeStrings11To64) {
  model::PlantConfig plant = model::demoPlant();
  state::StateStore store(std::vector<int>(64, 64), 30'000);
  SimulatedClock clock;
  {
    state::StateStore::Writer w(store);
    const TimeMs t = clock.nowMs();
    w.set(PointId::kBlockVoltageV, 63, 63, {13.642, t, Quality::kOk});  // string 64, block 64
    w.set(PointId::kBlockVoltageV, 0, 63, {13.501, t, Quality::kOk});   // string 1, block 64
    w.set(PointId::kBlockVoltageV, 10, 0, {13.111, t, Quality::kOk});   // string 11, block 1
  }
  adapters::Context ctx{plant, store, clock, "test", {}, {}};
  auto server = TcpServer::start(ctx, TcpSpec{"127.0.0.1", 0});
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_NE((*server)->describe().find("strings 11–64 under unit ids 2–7"), std::string::npos)
      << (*server)->describe();
  modbus_t* c = modbus_new_tcp("127.0.0.1", (*server)->port());
  ASSERT_EQ(modbus_connect(c), 0);
  modbus_set_response_timeout(c, 2, 0);
  std::uint16_t regs[10] = {};
  const int last = 4000 + 6000 * 3 + 10 * 63;  // string 4 of the unit, block 64
  modbus_set_slave(c, 7);
  ASSERT_EQ(modbus_read_registers(c, last, 10, regs), 10) << modbus_strerror(errno);
  EXPECT_EQ(regs[0], 13642);
  ASSERT_EQ(modbus_read_input_registers(c, 1112, 2, regs), 2);
  EXPECT_EQ(regs[0], 61);
  EXPECT_EQ(regs[1], 7);
  EXPECT_EQ(modbus_read_registers(c, 4000 + 6000 * 4, 1, regs), -1);  // string 65: none
  EXPECT_EQ(errno, EMBXILADD);
  modbus_set_slave(c, 2);
  ASSERT_EQ(modbus_read_registers(c, 4000, 1, regs), 1);
  EXPECT_EQ(regs[0], 13111);
  for (const int unit : {1, 0, 8, 255}) {  // strings 1–10, where they always were
    modbus_set_slave(c, unit);
    ASSERT_EQ(modbus_read_registers(c, 4000 + 10 * 63, 1, regs), 1) << unit;
    EXPECT_EQ(regs[0], 13501) << unit;
  }
  modbus_close(c);
  modbus_free(c);
  (*server)->stop();
}

// A server whose context has an alarm source and an acknowledge hook, writes on or off.
class ModbusAlarmServerTest : public ::testing::Test {
 protected:
  void start(bool writes) {
    plant_.protocols.modbus_writes = writes;
    alarms::ActiveAlarm a;
    a.id = 7;
    a.rule_id = "block.voltage_high";
    a.key = "block.voltage_high/1/3";
    a.level = alarms::Level::kAlarm;
    a.string_number = 1;
    a.block_number = 3;
    alarms_.push_back(a);
    a.id = 9;
    a.rule_id = "string.ripple_high";
    a.key = "string.ripple_high/2/0";
    a.level = alarms::Level::kWarning;
    a.string_number = 2;
    a.block_number = 0;
    alarms_.push_back(a);
    ctx_ = std::make_unique<adapters::Context>(adapters::Context{
        plant_, store_, clock_, "test",
        [this] {
          std::lock_guard lock(mutex_);
          return alarms_;
        },
        [this](const std::string& key, const command::Origin&) -> Result<alarms::AlarmEvent> {
          std::lock_guard lock(mutex_);
          for (auto& x : alarms_) {
            if (x.key == key) {
              x.acknowledged = true;
              acked_.push_back(key);
              return alarms::AlarmEvent{0, "acknowledged", x};
            }
          }
          return makeError(ErrorCode::kNotFound, "no such alarm");
        }});
    auto server = TcpServer::start(*ctx_, TcpSpec{"127.0.0.1", 0});
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(server.value());
    client_ = modbus_new_tcp("127.0.0.1", server_->port());
    ASSERT_EQ(modbus_connect(client_), 0);
    modbus_set_response_timeout(client_, 2, 0);
  }
  void TearDown() override {
    if (client_ != nullptr) {
      modbus_close(client_);
      modbus_free(client_);
    }
    if (server_) {
      server_->stop();
    }
  }

  model::PlantConfig plant_ = model::demoPlant();
  state::StateStore store_{{32, 32}, 30'000};
  SimulatedClock clock_;
  std::unique_ptr<adapters::Context> ctx_;
  std::mutex mutex_;
  std::vector<alarms::ActiveAlarm> alarms_;
  std::vector<std::string> acked_;
  std::unique_ptr<TcpServer> server_;
  modbus_t* client_ = nullptr;
};

TEST_F(ModbusAlarmServerTest, WritesOffAnswerIllegalFunction) {
  start(false);
  std::uint16_t entry[8] = {};
  ASSERT_EQ(modbus_read_registers(client_, 3100, 8, entry), 8);
  EXPECT_EQ(entry[1], 7);
  EXPECT_EQ(entry[6], 0);
  EXPECT_EQ(modbus_write_register(client_, 3010, 7), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  EXPECT_TRUE(acked_.empty());
}

TEST_F(ModbusAlarmServerTest, WritingAnIdAcknowledgesThroughTheHook) {
  start(true);
  std::uint16_t summary[6] = {};
  ASSERT_EQ(modbus_read_registers(client_, 3000, 6, summary), 6);
  EXPECT_EQ(summary[0], 2);
  EXPECT_EQ(summary[3], 2);  // unacknowledged
  ASSERT_EQ(modbus_write_register(client_, 3010, 7), 1) << modbus_strerror(errno);
  EXPECT_EQ(acked_, std::vector<std::string>{"block.voltage_high/1/3"});
  std::uint16_t entry[8] = {};
  ASSERT_EQ(modbus_read_registers(client_, 3100, 8, entry), 8);
  EXPECT_EQ(entry[6], 1);
  ASSERT_EQ(modbus_read_registers(client_, 3000, 6, summary), 6);
  EXPECT_EQ(summary[3], 1);
  // The acknowledge register reads 0.
  std::uint16_t ack[2] = {0xAAAA, 0xAAAA};
  ASSERT_EQ(modbus_read_registers(client_, 3010, 2, ack), 2);
  EXPECT_EQ(ack[0], 0);
  EXPECT_EQ(ack[1], 0);
  // Unknown id: illegal data value; other addresses: illegal data address.
  EXPECT_EQ(modbus_write_register(client_, 3010, 8), -1);
  EXPECT_EQ(errno, EMBXILVAL);
  EXPECT_EQ(modbus_write_register(client_, 1000, 7), -1);
  EXPECT_EQ(errno, EMBXILADD);
  // 32-bit id with FC 16, then "all" with FC 06.
  const std::uint16_t id32[2] = {0, 9};
  ASSERT_EQ(modbus_write_registers(client_, 3010, 2, id32), 2) << modbus_strerror(errno);
  EXPECT_EQ(acked_.size(), 2u);
  ASSERT_EQ(modbus_write_register(client_, 3010, 0xFFFF), 1);
  EXPECT_EQ(acked_.size(), 2u);  // both were acknowledged already
  std::uint8_t bits[8] = {};
  EXPECT_EQ(modbus_read_bits(client_, 0, 8, bits), -1);
  EXPECT_EQ(errno, EMBXILFUN);
}

}  // namespace
}  // namespace equalis::modbus
