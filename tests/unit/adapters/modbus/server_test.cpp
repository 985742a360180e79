#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "adapters/modbus/modbus_server.hpp"
#include "adapters/modbus/server_internal.hpp"

namespace equalis::modbus {
namespace {

using model::PointId;
using model::Quality;
using namespace std::chrono_literals;

// A Modbus TCP request "read holding registers" (FC 03): MBAP header, unit id, PDU.
std::vector<std::uint8_t> readRequest(std::uint16_t transaction, std::uint8_t unit,
                                      std::uint16_t address, std::uint16_t count) {
  return {static_cast<std::uint8_t>(transaction >> 8),
          static_cast<std::uint8_t>(transaction & 0xFF),
          0,
          0,
          0,
          6,
          unit,
          0x03,
          static_cast<std::uint8_t>(address >> 8),
          static_cast<std::uint8_t>(address & 0xFF),
          static_cast<std::uint8_t>(count >> 8),
          static_cast<std::uint8_t>(count & 0xFF)};
}

// A plain TCP connection to the server on 127.0.0.1 (-1 on failure).
int rawConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, const void* data, std::size_t size) {
  return ::send(fd, data, size, MSG_NOSIGNAL) == static_cast<ssize_t>(size);
}

// True when the server closes `fd` within `timeout_ms` (end of stream or a reset); bytes it
// sends before are skipped.
bool closedByServer(int fd, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    std::uint8_t buf[512];
    const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET)) {
      return true;
    }
  }
}

// The next reply on `fd` (up to `timeout_ms`), empty when none came.
std::vector<std::uint8_t> receiveReply(int fd, int timeout_ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    return {};
  }
  std::uint8_t buf[512];
  const ssize_t got = ::recv(fd, buf, sizeof(buf), 0);
  return got > 0 ? std::vector<std::uint8_t>(buf, buf + got) : std::vector<std::uint8_t>{};
}

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

TEST_F(ModbusServerTest, MalformedFramesCloseOnlyTheirConnection) {
  // A client in the middle of a request while others send garbage.
  const auto request = readRequest(0x0507, 1, 1003, 2);
  const int waiting = rawConnect(server_->port());
  ASSERT_GE(waiting, 0);
  ASSERT_TRUE(sendAll(waiting, request.data(), 4));
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"protocol id 1", std::string("\x00\x01\x00\x01\x00\x06\x01\x03\x03\xeb\x00\x02", 12)},
      {"length 0xffff", std::string("\x00\x01\x00\x00\xff\xff\x01\x2b\x0e\x01\x00", 11)},
      {"length 1", std::string("\x00\x01\x00\x00\x00\x01\x01", 7)},
      {"length 0", std::string("\x00\x01\x00\x00\x00\x00\x01", 7)},
      {"length 255", std::string("\x00\x01\x00\x00\x00\xff\x01", 7)},
      {"300 bytes of 0xff", std::string(300, '\xff')},
      {"a good request, then a bad header",
       std::string("\x00\x01\x00\x00\x00\x06\x01\x03\x03\xeb\x00\x02\x00\x02\x00\x07\x00\x06\x01",
                   19)},
      {"a bad protocol id, the header not yet complete", std::string("\x00\x01\x12\x34", 4)},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    const int fd = rawConnect(server_->port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(sendAll(fd, bytes.data(), bytes.size()));
    EXPECT_TRUE(closedByServer(fd)) << "the connection stayed open";
    ::close(fd);
  }
  // Everybody else is served as before: a connected client, a new one, and the one that was in
  // the middle of its request.
  std::uint16_t regs[2] = {};
  EXPECT_EQ(modbus_read_registers(client_, 1003, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(regs[1], 64);
  modbus_t* fresh = connectClient();
  EXPECT_EQ(modbus_read_registers(fresh, 1003, 2, regs), 2) << modbus_strerror(errno);
  modbus_close(fresh);
  modbus_free(fresh);
  ASSERT_TRUE(sendAll(waiting, request.data() + 4, request.size() - 4));
  const auto reply = receiveReply(waiting);
  const std::vector<std::uint8_t> expected = {0x05, 0x07, 0, 0, 0, 7, 1, 0x03, 4, 0, 2, 0, 64};
  EXPECT_EQ(reply, expected);
  ::close(waiting);
}

TEST_F(ModbusServerTest, SlowClientDoesNotDelayTheOthers) {
  // One client sends a request a byte every 150 ms (1.65 s for the frame) while another reads
  // 20 times: all 20 reads are answered before the slow request is even complete.
  const int slow = rawConnect(server_->port());
  ASSERT_GE(slow, 0);
  const auto request = readRequest(0x0A0B, 1, 1003, 2);
  std::atomic<bool> started{false};
  std::atomic<bool> slow_complete{false};  // set just before the last byte goes out
  std::thread dribbler([&] {
    for (std::size_t i = 0; i < request.size(); ++i) {
      if (i + 1 == request.size()) {
        slow_complete = true;
      }
      sendAll(slow, &request[i], 1);
      started = true;
      if (i + 1 < request.size()) {
        std::this_thread::sleep_for(150ms);
      }
    }
  });
  while (!started) {
    std::this_thread::sleep_for(1ms);
  }
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    std::uint16_t regs[2] = {};
    if (modbus_read_registers(client_, 1003, 2, regs) == 2 && regs[0] == 2 && regs[1] == 64) {
      ++answered;
    }
  }
  const bool before_slow_request = !slow_complete;
  dribbler.join();
  EXPECT_EQ(answered, 20);
  EXPECT_TRUE(before_slow_request)
      << "the fast client's reads waited for the slow client's request";
  // The slow client is answered too, once its request is complete.
  const std::vector<std::uint8_t> expected = {0x0A, 0x0B, 0, 0, 0, 7, 1, 0x03, 4, 0, 2, 0, 64};
  EXPECT_EQ(receiveReply(slow), expected);
  ::close(slow);
}

TEST_F(ModbusServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  const std::size_t limit = TcpLimits{}.max_clients;
  EXPECT_EQ(limit, 32u);
  std::vector<modbus_t*> clients;  // with client_, `limit` connections
  for (std::size_t i = 1; i < limit; ++i) {
    clients.push_back(connectClient());
  }
  std::uint16_t regs[2] = {};
  int served = 0;
  for (auto* c : clients) {
    served += modbus_read_registers(c, 1003, 2, regs) == 2 ? 1 : 0;
  }
  EXPECT_EQ(served, static_cast<int>(limit) - 1);
  // One more: accepted and closed at once; nobody else is dropped for it.
  const int extra = rawConnect(server_->port());
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(closedByServer(extra));
  ::close(extra);
  EXPECT_EQ(modbus_read_registers(client_, 1003, 2, regs), 2) << modbus_strerror(errno);
  EXPECT_EQ(modbus_read_registers(clients.front(), 1003, 2, regs), 2) << modbus_strerror(errno);
  // A place that frees up goes to the next connection.
  modbus_close(clients.back());
  modbus_free(clients.back());
  clients.pop_back();
  bool admitted = false;
  for (int attempt = 0; attempt < 100 && !admitted; ++attempt) {
    modbus_t* next = connectClient();
    admitted = modbus_read_registers(next, 1003, 2, regs) == 2;
    if (admitted) {
      clients.push_back(next);
    } else {
      modbus_close(next);
      modbus_free(next);
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_TRUE(admitted);
  for (auto* c : clients) {
    modbus_close(c);
    modbus_free(c);
  }
}

TEST_F(ModbusServerTest, IdleAndIncompleteConnectionsAreClosed) {
  TcpLimits limits;
  limits.idle_timeout_ms = 1000;
  limits.frame_timeout_ms = 500;
  auto started = TcpServer::start(ctx_, TcpSpec{"127.0.0.1", 0}, limits);
  ASSERT_TRUE(started) << started.error().message;
  auto& server = *started;
  const int idle = rawConnect(server->port());
  const int incomplete = rawConnect(server->port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(incomplete, 0);
  const auto request = readRequest(1, 1, 1003, 2);
  ASSERT_TRUE(sendAll(incomplete, request.data(), 9));
  // A client that asks every 200 ms for 3 s is never idle long enough to be closed.
  modbus_t* busy = modbus_new_tcp("127.0.0.1", server->port());
  ASSERT_EQ(modbus_connect(busy), 0);
  modbus_set_response_timeout(busy, 2, 0);
  int answered = 0;
  for (int i = 0; i < 15; ++i) {
    std::uint16_t regs[2] = {};
    answered += modbus_read_registers(busy, 1003, 2, regs) == 2 ? 1 : 0;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(answered, 15);
  EXPECT_TRUE(closedByServer(idle)) << "an idle connection stayed open";
  EXPECT_TRUE(closedByServer(incomplete)) << "an incomplete request kept its connection open";
  ::close(idle);
  ::close(incomplete);
  modbus_close(busy);
  modbus_free(busy);
  server->stop();
}

TEST(ModbusTcpFramer, SplitsTheStreamByTheMbapLength) {
  TcpFramer framer;
  TcpFramer::Buffer frame{};
  const auto a = readRequest(1, 1, 1003, 2);
  // FC 16 to 3010, one register: 13 bytes after the header's length field.
  const std::vector<std::uint8_t> b = {0, 2, 0, 0, 0, 9, 7, 0x10, 0x0B, 0xC2, 0, 1, 2, 0, 17};
  std::vector<std::uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  std::vector<std::vector<std::uint8_t>> frames;
  for (const auto byte : stream) {
    framer.feed(&byte, 1);
    while (const std::size_t n = framer.next(frame)) {
      frames.emplace_back(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(std::all_of(frame.begin() + static_cast<std::ptrdiff_t>(n), frame.end(),
                              [](std::uint8_t x) { return x == 0; }));
    }
    if (frames.empty() && framer.buffered() >= TcpFramer::kHeaderSize) {
      EXPECT_EQ(framer.expected(), a.size());
    }
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], a);
  EXPECT_EQ(frames[1], b);
  EXPECT_EQ(framer.buffered(), 0u);
  EXPECT_TRUE(framer.problem().empty());
  // Both at once, and a third begun.
  framer.feed(stream.data(), stream.size());
  framer.feed(a.data(), 3);
  EXPECT_EQ(framer.next(frame), a.size());
  EXPECT_EQ(framer.next(frame), b.size());
  EXPECT_EQ(framer.next(frame), 0u);
  EXPECT_EQ(framer.buffered(), 3u);
  EXPECT_EQ(framer.expected(), 0u);  // the header is not in yet
  // The largest frame (length 254, 260 bytes) passes.
  TcpFramer big;
  std::vector<std::uint8_t> largest(260, 0);
  largest[5] = 254;
  largest[7] = 0x10;
  big.feed(largest.data(), largest.size());
  EXPECT_EQ(big.next(frame), 260u);
  // Headers that are not Modbus TCP: the stream is unusable from there on.
  const std::vector<std::pair<std::vector<std::uint8_t>, const char*>> bad = {
      {{0, 1, 0, 1, 0, 6, 1, 3}, "protocol id 0x0001"},
      {{0, 1, 0, 0, 0, 1, 1}, "length 1 "},
      {{0, 1, 0, 0, 0, 0, 1}, "length 0 "},
      {{0, 1, 0, 0, 0, 255, 1}, "length 255 "},
      {{0, 1, 0, 0, 0xFF, 0xFF, 1}, "length 65535 "},
      {{0, 1, 0xAB, 0xCD}, "protocol id 0xabcd"},  // refused before the header is complete
      {{0, 1, 0, 0, 1, 0}, "length 256 "},
  };
  for (const auto& [bytes, problem] : bad) {
    TcpFramer f;
    f.feed(bytes.data(), bytes.size());
    EXPECT_EQ(f.next(frame), 0u);
    EXPECT_NE(f.problem().find(problem), std::string::npos) << f.problem();
    f.feed(a.data(), a.size());
    EXPECT_EQ(f.next(frame), 0u) << "a broken stream yields no more frames";
  }
}

TEST(ModbusAllowlist, ParsesAddressesAndPrefixes) {
  const auto addr = [](const char* text) { return *net::parseIpAddress(text); };
  struct Good {
    const char* text;
    const char* canonical;
    std::vector<const char*> inside;
    std::vector<const char*> outside;
  };
  const std::vector<Good> good = {
      {"127.0.0.1", "127.0.0.1", {"127.0.0.1", "::ffff:127.0.0.1"}, {"127.0.0.2", "::1"}},
      {"10.0.0.0/8",
       "10.0.0.0/8",
       {"10.0.0.1", "10.255.255.255", "::ffff:10.1.2.3"},
       {"11.0.0.0", "9.255.255.255", "::a00:1"}},
      {"192.168.1.128/25",
       "192.168.1.128/25",
       {"192.168.1.128", "192.168.1.255"},
       {"192.168.1.127"}},
      {"0.0.0.0/0", "0.0.0.0/0", {"1.2.3.4", "255.255.255.255"}, {"::1", "fd00::1"}},
      {"::1", "::1", {"::1"}, {"::2", "127.0.0.1"}},
      {"fd00::/8", "fd00::/8", {"fd00::1", "fdff:ffff::1"}, {"fe00::1", "fc00::1", "10.0.0.1"}},
      {"2001:db8::/32", "2001:db8::/32", {"2001:db8:1::5"}, {"2001:db9::"}},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8", {"10.9.9.9"}, {"11.0.0.1"}},
      {"::/0", "::/0", {"::1", "1.2.3.4", "fe80::1"}, {}},
  };
  for (const auto& g : good) {
    SCOPED_TRACE(g.text);
    const auto prefix = net::parseIpPrefix(g.text);
    ASSERT_TRUE(prefix) << prefix.error().message;
    EXPECT_EQ(prefix->toString(), g.canonical);
    for (const char* a : g.inside) {
      EXPECT_TRUE(prefix->contains(addr(a))) << a;
    }
    for (const char* a : g.outside) {
      EXPECT_FALSE(prefix->contains(addr(a))) << a;
    }
  }
  for (const char* text : {"", "localhost", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x",
                           "10.0.0.0/-1", "10.0.0.0/8/8", "::1/129", "fe80::1%eth0", "10.0.0",
                           " 10.0.0.1", "10.0.0.256", "fd00::1/8", "1.2.3.4/ 8"}) {
    const auto prefix = net::parseIpPrefix(text);
    EXPECT_FALSE(prefix) << "accepted \"" << text << "\"";
    if (!prefix) {
      EXPECT_NE(prefix.error().message.find(std::string("\"") + text + "\""), std::string::npos)
          << prefix.error().message;
    }
  }
  EXPECT_NE(net::parseIpPrefix("10.0.0.1/8").error().message.find("10.0.0.0/8"), std::string::npos);
  // The list: empty lets everybody write; otherwise only the addresses in it.
  EXPECT_TRUE(writeAllowed({}, addr("192.0.2.1")));
  const auto list = parseWriteAllowlist({"10.0.0.0/8", "::1"});
  ASSERT_TRUE(list);
  EXPECT_TRUE(writeAllowed(*list, addr("10.1.1.1")));
  EXPECT_TRUE(writeAllowed(*list, addr("::1")));
  EXPECT_FALSE(writeAllowed(*list, addr("127.0.0.1")));
  const auto wrong = parseWriteAllowlist({"10.0.0.0/8", "bms.example.org"});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("write_allowlist"), std::string::npos);
  EXPECT_NE(wrong.error().message.find("bms.example.org"), std::string::npos);
  // Socket addresses: IPv4 and IPv6 peers.
  sockaddr_storage peer{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&peer);
  v4->sin_family = AF_INET;
  v4->sin_addr.s_addr = htonl(0x0A000005);
  ASSERT_TRUE(net::fromSockaddr(peer));
  EXPECT_EQ(net::fromSockaddr(peer)->toString(), "10.0.0.5");
  peer = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&peer);
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = in6addr_loopback;
  EXPECT_EQ(net::fromSockaddr(peer)->toString(), "::1");
}

TEST(ModbusLogLimiter, HoldsBackBurstsAndCountsThem) {
  LogLimiter limiter(10'000, 3);
  std::uint64_t suppressed = 99;
  int written = 0;
  for (int i = 0; i < 10; ++i) {
    written += limiter.allow(1000 + i, suppressed) ? 1 : 0;
  }
  EXPECT_EQ(written, 3);
  EXPECT_EQ(suppressed, 0u);
  ASSERT_TRUE(limiter.allow(11'000, suppressed));  // the next window
  EXPECT_EQ(suppressed, 7u);
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
  void start(bool writes, std::vector<std::string> allowlist = {}) {
    plant_.protocols.modbus_writes = writes;
    plant_.protocols.modbus_write_allowlist = std::move(allowlist);
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
    ctx_ = std::make_unique<adapters::Context>(
        adapters::Context{plant_, store_, clock_, "test",
                          [this] {
                            std::lock_guard lock(mutex_);
                            return alarms_;
                          },
                          [this](const std::string& key,
                                 const command::Origin& origin) -> Result<alarms::AlarmEvent> {
                            std::lock_guard lock(mutex_);
                            for (auto& x : alarms_) {
                              if (x.key == key) {
                                x.acknowledged = true;
                                acked_.push_back(key);
                                origins_.push_back(origin.address);
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
  std::vector<std::string> origins_;  // the address of each acknowledgement
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
  EXPECT_EQ(origins_, std::vector<std::string>{"127.0.0.1"});
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

TEST_F(ModbusAlarmServerTest, AllowlistRefusesWritesFromOtherAddresses) {
  start(true, {"10.0.0.0/8", "::1"});  // the client is 127.0.0.1
  EXPECT_NE(server_->describe().find("writes on from 10.0.0.0/8, ::1 only"), std::string::npos)
      << server_->describe();
  EXPECT_EQ(modbus_write_register(client_, 3010, 7), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  const std::uint16_t id32[2] = {0, 9};
  EXPECT_EQ(modbus_write_registers(client_, 3010, 2, id32), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  EXPECT_EQ(modbus_write_bit(client_, 0, 1), -1);
  EXPECT_EQ(errno, EMBXILFUN);
  EXPECT_TRUE(acked_.empty());
  // Reads are not affected, and the connection stays usable.
  std::uint16_t entry[8] = {};
  ASSERT_EQ(modbus_read_registers(client_, 3100, 8, entry), 8) << modbus_strerror(errno);
  EXPECT_EQ(entry[1], 7);
  EXPECT_EQ(entry[6], 0);
  std::uint16_t input[2] = {};
  EXPECT_EQ(modbus_read_input_registers(client_, 1003, 2, input), 2);
}

TEST_F(ModbusAlarmServerTest, AllowlistLetsListedAddressesWrite) {
  start(true, {"192.0.2.0/24", "127.0.0.0/8"});
  ASSERT_EQ(modbus_write_register(client_, 3010, 7), 1) << modbus_strerror(errno);
  EXPECT_EQ(acked_, std::vector<std::string>{"block.voltage_high/1/3"});
  // The usual checks still apply to a listed client.
  EXPECT_EQ(modbus_write_register(client_, 1000, 7), -1);
  EXPECT_EQ(errno, EMBXILADD);
}

TEST(ModbusAllowlistServer, BadEntryStopsTheStart) {
  model::PlantConfig plant = model::demoPlant();
  plant.protocols.modbus_write_allowlist = {"10.0.0.0/8", "10.0.0.1/8"};
  state::StateStore store({32, 32}, 30'000);
  SimulatedClock clock;
  adapters::Context ctx{plant, store, clock, "test", {}, {}};
  auto server = TcpServer::start(ctx, TcpSpec{"127.0.0.1", 0});
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("10.0.0.1/8"), std::string::npos);
}

}  // namespace
}  // namespace equalis::modbus
