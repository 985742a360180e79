// Internals of the Modbus adapter, exposed for tests and the benchmark: spec parsing, the
// request handler shared by TCP and RTU, and the TCP server class.
#pragma once

#include <modbus.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/common/service.hpp"
#include "adapters/modbus/register_map.hpp"

namespace equalis::modbus {

struct TcpSpec {
  std::string host;
  int port = 0;
};
// "HOST:PORT" or "[IPv6]:PORT"; port 0 = any free port.
Result<TcpSpec> parseTcpSpec(const std::string& spec);

struct RtuSpec {
  std::string device;
  int baud = 19200;
  char parity = 'E';  // 'N', 'E' or 'O'
  int slave_id = 1;
};
// "DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]", parity N/E/O (or none/even/odd), slave 1–247.
Result<RtuSpec> parseRtuSpec(const std::string& spec);

// What a read request gets: 0 = data, else the Modbus exception code.
int checkRequest(const RegisterMap& map, int function, std::uint32_t address, std::uint32_t count);

// The length of an RTU request frame from its first bytes (slave, function, …) for the request
// functions of the Modbus specification whose length the frame tells (01–07, 0B, 0C, 0F, 10,
// 11, 16, 17); 0 for any other function or when `available` bytes are too few to tell.
int rtuRequestLength(const std::uint8_t* frame, int available);
// True when the last two bytes of `frame` are its Modbus CRC-16 (low byte first).
bool rtuCrcOk(const std::uint8_t* frame, int length);

// Splits the bytes received on an RTU line into request frames. The RTU slave reads the line
// itself (not with modbus_receive) because it answers several slave ids on a large plant;
// libmodbus answers one and, after a frame for another slave, swallows the next frame as that
// slave's reply. Frames end by their length (rtuRequestLength) or, for other functions, at a
// pause in the line (pause()). A frame with a bad CRC, or bytes that make no frame, drop what
// is buffered until the next pause (resynchronisation, as modbus_flush does).
class RtuFramer {
 public:
  static constexpr std::size_t kMaxFrame = 256;  // MODBUS_RTU_MAX_ADU_LENGTH
  struct Frame {
    std::vector<std::uint8_t> bytes;  // slave … CRC
    bool crc_ok = false;
  };
  void feed(const std::uint8_t* data, std::size_t n);
  // The next complete frame, if any (call until empty after each feed()). A frame with a bad
  // CRC is returned once with crc_ok false; the framer then drops bytes until pause().
  std::optional<Frame> next();
  // The line was quiet for the inter-frame time: a frame of unknown length ends here, and
  // resynchronisation is over.
  std::optional<Frame> pause();
  // Bytes wait for more (a pause would end them): poll with a timeout.
  bool waiting() const { return !buf_.empty() || resync_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::vector<std::uint8_t> buf_;
  bool resync_ = false;
  std::uint64_t dropped_ = 0;
};

// The alarms an acknowledge-register write means: id (16- or 32-bit as written), or every
// active alarm for the "all" value of that width. Empty when no active alarm matches.
std::vector<std::string> alarmsToAcknowledge(const std::vector<alarms::ActiveAlarm>& list,
                                             std::uint32_t id, bool all);

// Answers one request (as returned by modbus_receive) from the register map of the request's
// unit id (docs/modbus.md "Strings 11–64"). Not thread-safe: one handler per serving thread.
class RequestHandler {
 public:
  // `base_unit_id` serves strings 1–10 (TCP: 1; RTU: the slave id); base + 1 … base + pages − 1
  // serve the next tens of strings.
  RequestHandler(const state::StateStore& store, const Clock& clock, int base_unit_id = 1);
  // With the alarm source, the acknowledge hook and [modbus] writes of the context.
  explicit RequestHandler(const adapters::Context& ctx, int base_unit_id = 1);
  ~RequestHandler();
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // Sends the reply; returns modbus_reply's result (-1 when sending failed).
  int handle(modbus_t* ctx, const std::uint8_t* req, int length);
  // The map of strings 1–10, and the one a unit id reads.
  const RegisterMap& map() const { return maps_.front(); }
  const RegisterMap& mapForUnit(int unit_id) const;
  int unitCount() const { return static_cast<int>(maps_.size()); }
  int baseUnitId() const { return base_unit_id_; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t exceptions() const { return exceptions_; }

 private:
  // FC 06/10 to the acknowledge register: the exception code, 0 = done.
  int acknowledge(int function, const std::uint8_t* req, int offset, int length);

  const state::StateStore& store_;
  const Clock& clock_;
  std::function<std::vector<alarms::ActiveAlarm>()> active_alarms_;
  std::function<Result<alarms::AlarmEvent>(const std::string&, const command::Origin&)>
      acknowledge_alarm_;
  bool writes_ = false;
  int base_unit_id_ = 1;
  std::vector<RegisterMap> maps_;  // one per unit id page
  modbus_mapping_t* mapping_ = nullptr;
  std::uint64_t requests_ = 0;
  std::uint64_t exceptions_ = 0;
};

// Modbus TCP server: one thread, poll() over the listening socket and all clients.
class TcpServer final : public adapters::Service {
 public:
  static constexpr std::size_t kMaxClients = 32;

  static Result<std::unique_ptr<TcpServer>> start(const adapters::Context& ctx,
                                                  const TcpSpec& spec);
  ~TcpServer() override;
  void stop() override;
  std::string describe() const override;
  int port() const { return port_; }

 private:
  TcpServer(const adapters::Context& ctx, std::string host);
  void run();
  void closeClient(std::size_t index);

  struct Client {
    int fd = -1;
    std::int64_t last_active_ms = 0;
  };

  RequestHandler handler_;
  std::string host_;
  bool writes_ = false;
  int port_ = 0;
  std::size_t plant_strings_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  modbus_t* ctx_ = nullptr;
  std::vector<Client> clients_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace equalis::modbus
