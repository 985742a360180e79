// Internals of the Modbus adapter, exposed for tests and the benchmark: spec parsing, the
// request handler shared by TCP and RTU, and the TCP server class.
#pragma once

#include <modbus.h>

#include <array>
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
#include "core/ip_prefix.hpp"

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

// Splits the byte stream of a Modbus TCP connection into request frames by the MBAP header:
// transaction id (2 bytes), protocol id (2, always 0), length (2: the bytes that follow, unit id
// and PDU, 2–254), unit id (1). A header that breaks these rules makes the stream unusable
// (problem()); the connection is then closed, as there is no way to find the next frame.
class TcpFramer {
 public:
  static constexpr std::size_t kHeaderSize = 7;  // MBAP header, unit id included
  static constexpr std::size_t kMaxFrame = 260;  // MODBUS_TCP_MAX_ADU_LENGTH
  static constexpr std::size_t kMinLength = 2;   // length field: unit id + function code
  static constexpr std::size_t kMaxLength = kMaxFrame - kHeaderSize + 1;  // 254
  using Buffer = std::array<std::uint8_t, kMaxFrame>;

  void feed(const std::uint8_t* data, std::size_t n);
  // Copies the next complete frame to `out` (zeroing the rest) and returns its length; 0 when no
  // frame is complete or the stream is malformed (see problem()). Call until 0 after feed().
  std::size_t next(Buffer& out);
  // Why the stream is not Modbus TCP, "" while it is. Never cleared.
  const std::string& problem() const { return problem_; }
  // Bytes of a frame that has begun but is not complete.
  std::size_t buffered() const { return buf_.size(); }
  // The length of the frame being received once its header is in, else 0.
  std::size_t expected() const;

 private:
  std::vector<std::uint8_t> buf_;
  std::string problem_;
};

// Function codes that write (05, 06, 0F, 10, 16, 17).
bool isWriteFunction(int function);

// [modbus] write_allowlist entries as prefixes; an entry that does not parse is an error.
Result<std::vector<net::IpPrefix>> parseWriteAllowlist(const std::vector<std::string>& entries);
// True when a client at `address` may send writes: the allowlist is empty (not configured) or
// one of its prefixes holds the address.
bool writeAllowed(const std::vector<net::IpPrefix>& allowlist, const net::IpAddress& address);

// At most `burst` log lines per `window_ms` for one kind of event (a client flooding the server
// with bad frames or connections must not flood the log); the lines held back are counted and
// reported with the next line that is written.
class LogLimiter {
 public:
  LogLimiter(std::int64_t window_ms, int burst) : window_ms_(window_ms), burst_(burst) {}
  // True when a line may be written at `now_ms`; then `suppressed` is the number of lines held
  // back since the last one written.
  bool allow(std::int64_t now_ms, std::uint64_t& suppressed);

 private:
  std::int64_t window_ms_;
  int burst_;
  std::int64_t window_start_ms_ = 0;
  int written_ = 0;
  bool started_ = false;
  std::uint64_t suppressed_ = 0;
};

// Who sent a request: the TCP peer's address (for the event log) and whether the write
// allowlist lets it write. RTU requests have no address and may write.
struct Requester {
  std::string address;
  bool may_write = true;
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

  // Sends the reply; returns modbus_reply's result (-1 when sending failed). A write function
  // from a requester that may not write answers exception 01 (illegal function), as every write
  // does while [modbus] writes is off.
  int handle(modbus_t* ctx, const std::uint8_t* req, int length, const Requester& from = {});
  // The map of strings 1–10, and the one a unit id reads.
  const RegisterMap& map() const { return maps_.front(); }
  const RegisterMap& mapForUnit(int unit_id) const;
  int unitCount() const { return static_cast<int>(maps_.size()); }
  int baseUnitId() const { return base_unit_id_; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t exceptions() const { return exceptions_; }

 private:
  // FC 06/10 to the acknowledge register: the exception code, 0 = done.
  int acknowledge(int function, const std::uint8_t* req, int offset, int length,
                  const Requester& from);

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

// Limits of the Modbus TCP server (docs/modbus.md "Modbus TCP connections"); tests shorten the
// times.
struct TcpLimits {
  std::size_t max_clients = 32;           // connections beyond this are closed at once
  std::int64_t idle_timeout_ms = 60'000;  // no complete request for this long: closed
  std::int64_t frame_timeout_ms = 5'000;  // a request begun but not complete after this: closed
};

// Modbus TCP server: one thread, poll() over the listening socket and all clients. Client
// sockets are non-blocking and every connection has its own receive buffer (TcpFramer), so a
// client that sends slowly, or stops in the middle of a frame, delays nobody else; complete
// frames are answered by RequestHandler through libmodbus.
class TcpServer final : public adapters::Service {
 public:
  static Result<std::unique_ptr<TcpServer>> start(const adapters::Context& ctx, const TcpSpec& spec,
                                                  TcpLimits limits = {});
  ~TcpServer() override;
  void stop() override;
  std::string describe() const override;
  int port() const { return port_; }

 private:
  TcpServer(const adapters::Context& ctx, std::string host, TcpLimits limits);
  void run();

  struct Client {
    int fd = -1;
    Requester from;
    TcpFramer framer;
    std::int64_t idle_since_ms = 0;   // connected, or the last complete request
    std::int64_t frame_since_ms = 0;  // the first byte of the incomplete request
  };

  void acceptClients(std::int64_t now_ms);
  // Reads what the client sent and answers its complete requests; false: close it.
  bool serveClient(Client& client, std::int64_t now_ms);
  // Why a client is closed for a timeout at `now_ms`, "" when it is not; `incomplete` marks a
  // request left incomplete (idle connections are closed quietly).
  std::string expired(const Client& client, std::int64_t now_ms, bool& incomplete) const;
  // Milliseconds until the next timeout of any client, -1 without clients.
  int nextTimeoutMs(std::int64_t now_ms) const;
  void closeClient(std::size_t index);
  // A warning, rate-limited by `limiter`.
  void logLimited(LogLimiter& limiter, std::int64_t now_ms, const std::string& text);

  RequestHandler handler_;
  std::string host_;
  bool writes_ = false;
  TcpLimits limits_;
  std::vector<net::IpPrefix> write_allowlist_;
  int port_ = 0;
  std::size_t plant_strings_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  modbus_t* ctx_ = nullptr;
  std::vector<Client> clients_;
  std::int64_t accept_paused_until_ms_ = 0;  // out of file descriptors: accept again then
  LogLimiter protocol_log_{10'000, 5};       // malformed and incomplete requests
  LogLimiter refused_log_{10'000, 5};        // connections beyond the limit
  LogLimiter write_log_{10'000, 5};          // writes refused by the allowlist
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace equalis::modbus
