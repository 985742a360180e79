#include "adapters/modbus/modbus_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "adapters/common/alarm_text.hpp"
#include "adapters/modbus/server_internal.hpp"
#include "core/log.hpp"

namespace equalis::modbus {

namespace {

constexpr int kExceptionIllegalFunction = 0x01;
constexpr int kExceptionIllegalDataAddress = 0x02;
constexpr int kExceptionIllegalDataValue = 0x03;
constexpr int kExceptionServerDeviceFailure = 0x04;
constexpr int kReadHolding = 0x03;
constexpr int kReadInput = 0x04;
constexpr int kWriteSingleRegister = 0x06;
constexpr int kWriteMultipleRegisters = 0x10;

bool parseInt(std::string_view text, int& out) {
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

std::vector<int> blockLayout(const state::StateStore& store) {
  std::vector<int> blocks;
  for (std::size_t s = 0; s < store.stringCount(); ++s) {
    blocks.push_back(store.blockCount(s));
  }
  return blocks;
}

void closeFd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

// Waits up to `ms` unless the wake pipe fires; returns false when woken.
bool pauseUnlessWoken(int wake_fd, int ms) {
  pollfd p{wake_fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 0;
}

// "; strings 11–64 under unit ids 2–7" for a plant with more than 10 strings.
std::string serveNote(std::size_t plant_strings, int base_unit_id, std::string_view what) {
  const int pages = unitPageCount(plant_strings);
  if (pages <= 1) {
    return "";
  }
  return fmt::format("; strings {}–{} under {} {}–{}", kStringsPerUnit + 1, plant_strings, what,
                     base_unit_id + 1, base_unit_id + pages - 1);
}

std::vector<RegisterMap> unitMaps(const state::StateStore& store) {
  std::vector<RegisterMap> maps;
  const auto layout = blockLayout(store);
  const int pages = unitPageCount(layout.size());
  maps.reserve(static_cast<std::size_t>(pages));
  for (int p = 0; p < pages; ++p) {
    maps.emplace_back(layout, store.staleAfterMs(), p);
  }
  return maps;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Spec parsing

Result<TcpSpec> parseTcpSpec(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("Modbus TCP address '{}' must be HOST:PORT", spec));
  }
  TcpSpec out;
  out.host = spec.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (!parseInt(std::string_view(spec).substr(colon + 1), out.port) || out.port < 0 ||
      out.port > 65535) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("port in Modbus TCP address '{}' must be 0…65535", spec));
  }
  return out;
}

Result<RtuSpec> parseRtuSpec(const std::string& spec) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string::npos ? colon : colon - start));
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  RtuSpec out;
  if (parts.empty() || parts[0].empty() || parts.size() > 4) {
    return makeError(
        ErrorCode::kInvalidArgument,
        fmt::format("Modbus RTU spec '{}' must be DEVICE[:BAUD[:PARITY[:SLAVE_ID]]]", spec));
  }
  out.device = parts[0];
  if (parts.size() > 1 && (!parseInt(parts[1], out.baud) || out.baud < 300 || out.baud > 4000000)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("baud rate '{}' in '{}' must be 300…4000000", parts[1], spec));
  }
  if (parts.size() > 2) {
    const std::string& p = parts[2];
    if (p == "N" || p == "n" || p == "none") {
      out.parity = 'N';
    } else if (p == "E" || p == "e" || p == "even") {
      out.parity = 'E';
    } else if (p == "O" || p == "o" || p == "odd") {
      out.parity = 'O';
    } else {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("parity '{}' in '{}' must be N, E or O", p, spec));
    }
  }
  if (parts.size() > 3 &&
      (!parseInt(parts[3], out.slave_id) || out.slave_id < 1 || out.slave_id > 247)) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("slave id '{}' in '{}' must be 1…247", parts[3], spec));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request handling

int checkRequest(const RegisterMap& map, int function, std::uint32_t address, std::uint32_t count) {
  if (function != kReadHolding && function != kReadInput) {
    return kExceptionIllegalFunction;
  }
  if (count < 1 || count > MODBUS_MAX_READ_REGISTERS) {
    return kExceptionIllegalDataValue;
  }
  if (!map.readable(address, count)) {
    return kExceptionIllegalDataAddress;
  }
  return 0;
}

int rtuRequestLength(const std::uint8_t* frame, int available) {
  if (available < 2) {
    return 0;
  }
  switch (frame[1]) {
    case 0x01:  // read coils … write single register: slave, function, 2 × 16 bit, CRC
    case 0x02:
    case kReadHolding:
    case kReadInput:
    case 0x05:
    case kWriteSingleRegister:
      return 8;
    case 0x07:  // read exception status, comm event counter/log, report server id: no data
    case 0x0B:
    case 0x0C:
    case 0x11:
      return 4;
    case 0x16:  // mask write register: address, and mask, or mask
      return 10;
    case 0x0F:  // write multiple coils/registers: address, count, byte count, data, CRC
    case kWriteMultipleRegisters:
      return available < 7 ? 0 : 9 + frame[6];
    case 0x17:  // read/write multiple registers: … write byte count at offset 10
      return available < 11 ? 0 : 13 + frame[10];
    default:
      return 0;
  }
}

bool rtuCrcOk(const std::uint8_t* frame, int length) {
  if (length < 4) {
    return false;
  }
  std::uint16_t crc = 0xFFFF;
  for (int i = 0; i < length - 2; ++i) {
    crc ^= frame[i];
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                           : static_cast<std::uint16_t>(crc >> 1);
    }
  }
  return frame[length - 2] == (crc & 0xFF) && frame[length - 1] == (crc >> 8);
}

void RtuFramer::feed(const std::uint8_t* data, std::size_t n) {
  if (resync_) {
    dropped_ += n;
    return;
  }
  buf_.insert(buf_.end(), data, data + n);
}

std::optional<RtuFramer::Frame> RtuFramer::next() {
  if (resync_ || buf_.size() < 2) {
    return std::nullopt;
  }
  const int length = rtuRequestLength(buf_.data(), static_cast<int>(buf_.size()));
  if (length == 0) {
    if (buf_.size() > kMaxFrame) {  // no frame: wait for the pause
      dropped_ += buf_.size();
      buf_.clear();
      resync_ = true;
    }
    return std::nullopt;  // unknown length: the pause ends it
  }
  if (buf_.size() < static_cast<std::size_t>(length)) {
    return std::nullopt;
  }
  Frame f;
  f.bytes.assign(buf_.begin(), buf_.begin() + length);
  f.crc_ok = rtuCrcOk(f.bytes.data(), length);
  buf_.erase(buf_.begin(), buf_.begin() + length);
  if (!f.crc_ok) {
    dropped_ += buf_.size();
    buf_.clear();
    resync_ = true;
  }
  return f;
}

std::optional<RtuFramer::Frame> RtuFramer::pause() {
  resync_ = false;
  if (buf_.empty()) {
    return std::nullopt;
  }
  Frame f;
  f.bytes = std::move(buf_);
  buf_.clear();
  f.crc_ok = f.bytes.size() >= 4 && f.bytes.size() <= kMaxFrame &&
             rtuCrcOk(f.bytes.data(), static_cast<int>(f.bytes.size()));
  return f;
}

RequestHandler::RequestHandler(const state::StateStore& store, const Clock& clock, int base_unit_id)
    : store_(store),
      clock_(clock),
      base_unit_id_(base_unit_id),
      maps_(unitMaps(store)),
      mapping_(modbus_mapping_new_start_address(0, 0, 0, 0, 0, RegisterMap::kSize, 0,
                                                RegisterMap::kSize)) {}

RequestHandler::RequestHandler(const adapters::Context& ctx, int base_unit_id)
    : RequestHandler(ctx.state, ctx.clock, base_unit_id) {
  active_alarms_ = ctx.active_alarms;
  acknowledge_alarm_ = ctx.acknowledge_alarm;
  writes_ = ctx.plant.protocols.modbus_writes;
}

std::vector<std::string> alarmsToAcknowledge(const std::vector<alarms::ActiveAlarm>& list,
                                             std::uint32_t id, bool all) {
  std::vector<std::string> keys;
  for (const auto& a : list) {
    // "All" means the engine's alarms; protection alarms (id 0) are reset by an operator.
    if (all ? a.id != 0 : adapters::protocolAlarmId(a) == id) {
      keys.push_back(a.key);
    }
  }
  return keys;
}

int RequestHandler::acknowledge(int function, const std::uint8_t* req, int offset, int length) {
  auto word = [&](int at) { return static_cast<std::uint32_t>(req[at] << 8 | req[at + 1]); };
  if (length < offset + 5) {
    return kExceptionIllegalDataValue;
  }
  const std::uint32_t address = word(offset + 1);
  std::uint32_t id = 0;
  bool all = false;
  if (function == kWriteSingleRegister) {
    if (address != kAlarmAckRegister) {
      return kExceptionIllegalDataAddress;
    }
    id = word(offset + 3);
    all = id == kAckAll16;
  } else {
    const std::uint32_t count = word(offset + 3);
    if (count < 1 || count > 123 || length < offset + 6 + 2 * static_cast<int>(count) ||
        req[offset + 5] != 2 * count) {
      return kExceptionIllegalDataValue;
    }
    if (address != kAlarmAckRegister || count > 2) {
      return kExceptionIllegalDataAddress;
    }
    id = count == 1 ? word(offset + 6) : (word(offset + 6) << 16 | word(offset + 8));
    all = count == 1 ? id == kAckAll16 : id == kAckAll32;
  }
  if (!active_alarms_ || !acknowledge_alarm_) {
    return kExceptionServerDeviceFailure;
  }
  const auto list = active_alarms_();
  const auto keys = alarmsToAcknowledge(list, id, all);
  if (keys.empty() && !all) {
    return kExceptionIllegalDataValue;
  }
  auto logger = log::get("modbus");
  for (const auto& key : keys) {
    const auto it =
        std::find_if(list.begin(), list.end(), [&](const auto& a) { return a.key == key; });
    if (it != list.end() && it->acknowledged) {
      continue;
    }
    const auto done = acknowledge_alarm_(key, command::Origin{"", "", "modbus"});
    if (!done) {
      logger->warn("modbus: acknowledging {} failed: {}", key, done.error().message);
      if (!all) {
        return kExceptionServerDeviceFailure;
      }
    } else {
      logger->info("modbus: alarm {} acknowledged", key);
    }
  }
  return 0;
}

const RegisterMap& RequestHandler::mapForUnit(int unit_id) const {
  return maps_[static_cast<std::size_t>(
      unitPage(unit_id, base_unit_id_, static_cast<int>(maps_.size())))];
}

RequestHandler::~RequestHandler() {
  if (mapping_ != nullptr) {
    modbus_mapping_free(mapping_);
  }
}

int RequestHandler::handle(modbus_t* ctx, const std::uint8_t* req, int length) {
  ++requests_;
  const int offset = modbus_get_header_length(ctx);
  if (length < offset + 1 || mapping_ == nullptr) {
    return 0;
  }
  const int function = req[offset];
  // The unit id (TCP) or slave address (RTU) precedes the function code in both framings.
  const RegisterMap& map = mapForUnit(offset >= 1 ? req[offset - 1] : base_unit_id_);
  std::uint32_t address = 0;
  std::uint32_t count = 0;
  if (writes_ && (function == kWriteSingleRegister || function == kWriteMultipleRegisters)) {
    if (const int exception = acknowledge(function, req, offset, length); exception != 0) {
      ++exceptions_;
      return modbus_reply_exception(ctx, req, static_cast<unsigned int>(exception));
    }
    // libmodbus echoes the request and stores the written words in the mapping: clear them
    // (the acknowledge register reads 0).
    const int rc = modbus_reply(ctx, req, length, mapping_);
    mapping_->tab_registers[kAlarmAckRegister] = 0;
    mapping_->tab_registers[kAlarmAckRegister + 1] = 0;
    return rc;
  }
  if (length >= offset + 5) {
    address = static_cast<std::uint32_t>(req[offset + 1] << 8 | req[offset + 2]);
    count = static_cast<std::uint32_t>(req[offset + 3] << 8 | req[offset + 4]);
  } else if (function == kReadHolding || function == kReadInput) {
    ++exceptions_;
    return modbus_reply_exception(ctx, req, kExceptionIllegalDataValue);
  }
  if (const int exception = checkRequest(map, function, address, count); exception != 0) {
    ++exceptions_;
    return modbus_reply_exception(ctx, req, static_cast<unsigned int>(exception));
  }
  std::uint16_t* table =
      function == kReadHolding ? mapping_->tab_registers : mapping_->tab_input_registers;
  {
    std::vector<alarms::ActiveAlarm> alarm_list;
    const bool with_alarms = active_alarms_ && map.touchesAlarms(address, count);
    if (with_alarms) {
      alarm_list = active_alarms_();
    }
    const state::StateStore::Reader reader(store_, clock_.nowMs());
    map.read(reader, static_cast<std::uint16_t>(address), static_cast<std::uint16_t>(count),
             table + address, with_alarms ? &alarm_list : nullptr);
  }
  return modbus_reply(ctx, req, length, mapping_);
}

// ---------------------------------------------------------------------------------------------
// TCP server

TcpServer::TcpServer(const adapters::Context& ctx, std::string host)
    : handler_(ctx),
      host_(std::move(host)),
      writes_(ctx.plant.protocols.modbus_writes),
      plant_strings_(ctx.state.stringCount()) {}

Result<std::unique_ptr<TcpServer>> TcpServer::start(const adapters::Context& ctx,
                                                    const TcpSpec& spec) {
  std::unique_ptr<TcpServer> server(new TcpServer(ctx, spec.host));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(spec.port);
  if (const int rc = ::getaddrinfo(spec.host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("cannot resolve '{}': {}", spec.host, ::gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    server->listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(found);
  if (server->listen_fd_ < 0) {
    return makeError(ErrorCode::kIo,
                     fmt::format("cannot listen on {}:{}: {}", spec.host, spec.port, last_error));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    server->port_ = bound.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                        : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  }
  if (::pipe2(server->wake_, O_CLOEXEC) != 0) {
    return makeError(ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno)));
  }
  // The context only frames requests and replies on the client sockets it is handed.
  server->ctx_ = modbus_new_tcp("127.0.0.1", server->port_);
  if (server->ctx_ == nullptr) {
    return makeError(ErrorCode::kIo, "libmodbus: cannot create a TCP context");
  }
  // A client that stops in the middle of a frame blocks the loop at most this long.
  modbus_set_byte_timeout(server->ctx_, 0, 200'000);
  TcpServer* raw = server.get();
  server->thread_ = std::thread([raw] { raw->run(); });
  return server;
}

TcpServer::~TcpServer() {
  stop();
  closeFd(wake_[0]);
  closeFd(wake_[1]);
}

void TcpServer::stop() {
  if (!stopping_.exchange(true) && wake_[1] >= 0) {
    const char c = 'x';
    [[maybe_unused]] const auto n = ::write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  for (std::size_t i = clients_.size(); i > 0; --i) {
    closeClient(i - 1);
  }
  closeFd(listen_fd_);
  if (ctx_ != nullptr) {
    modbus_set_socket(ctx_, -1);
    modbus_free(ctx_);
    ctx_ = nullptr;
  }
}

std::string TcpServer::describe() const {
  return fmt::format(
      "Modbus TCP on {}:{} (holding = input registers, map: docs/modbus.md{}; alarm "
      "acknowledge writes {})",
      host_, port_, serveNote(plant_strings_, 1, "unit ids"), writes_ ? "on" : "off");
}

void TcpServer::closeClient(std::size_t index) {
  ::close(clients_[index].fd);
  clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(index));
}

void TcpServer::run() {
  auto logger = log::get("modbus");
  std::vector<std::uint8_t> buf(MODBUS_TCP_MAX_ADU_LENGTH);
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : clients_) {
      fds.push_back({c.fd, POLLIN, 0});
    }
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      logger->error("modbus tcp: poll failed: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0 || stopping_) {
      break;
    }
    // Clients first (indices match fds[2..]); closed ones are removed from the back.
    for (std::size_t i = fds.size(); i > 2; --i) {
      const std::size_t ci = i - 3;
      if (fds[i - 1].revents == 0) {
        continue;
      }
      modbus_set_socket(ctx_, clients_[ci].fd);
      const int rc = modbus_receive(ctx_, buf.data());
      bool keep = rc >= 0;
      if (rc > 0) {
        keep = handler_.handle(ctx_, buf.data(), rc) >= 0;
        clients_[ci].last_active_ms = wallNowMs();
      }
      if (!keep) {
        logger->debug("modbus tcp: closing client: {}", modbus_strerror(errno));
        closeClient(ci);
      }
    }
    // Accept every pending connection (the listening socket is non-blocking).
    while ((fds[1].revents & POLLIN) != 0) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        break;
      }
      if (fd >= FD_SETSIZE) {  // libmodbus select()s on client sockets
        ::close(fd);
        continue;
      }
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      if (clients_.size() >= kMaxClients) {
        // Make room by dropping the client that has been idle longest.
        std::size_t oldest = 0;
        for (std::size_t i = 1; i < clients_.size(); ++i) {
          if (clients_[i].last_active_ms < clients_[oldest].last_active_ms) {
            oldest = i;
          }
        }
        closeClient(oldest);
      }
      clients_.push_back({fd, wallNowMs()});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RTU slave

namespace {

class RtuSlave final : public adapters::Service {
 public:
  RtuSlave(const adapters::Context& ctx, RtuSpec spec)
      : handler_(ctx, spec.slave_id),
        spec_(std::move(spec)),
        plant_strings_(ctx.state.stringCount()) {}
  ~RtuSlave() override {
    stop();
    closeFd(wake_[0]);
    closeFd(wake_[1]);
  }

  Status open() {
    const int last_slave = spec_.slave_id + handler_.unitCount() - 1;
    if (last_slave > 247) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("Modbus RTU slave id {} is too high for {} strings: they take "
                                   "slave ids {}–{} (10 strings each), the last must be ≤ 247",
                                   spec_.slave_id, plant_strings_, spec_.slave_id, last_slave));
    }
    ctx_ = modbus_new_rtu(spec_.device.c_str(), spec_.baud, spec_.parity, 8, 1);
    if (ctx_ == nullptr) {
      return makeError(
          ErrorCode::kInvalidArgument,
          fmt::format("libmodbus rejected '{}': {}", spec_.device, modbus_strerror(errno)));
    }
    modbus_set_slave(ctx_, spec_.slave_id);
    if (modbus_connect(ctx_) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("cannot open serial device '{}': {}",
                                                   spec_.device, modbus_strerror(errno)));
    }
    connected_ = true;
    if (::pipe2(wake_, O_CLOEXEC) != 0) {
      return makeError(ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno)));
    }
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void stop() override {
    if (!stopping_.exchange(true) && wake_[1] >= 0) {
      const char c = 'x';
      [[maybe_unused]] const auto n = ::write(wake_[1], &c, 1);
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    if (ctx_ != nullptr) {
      if (connected_) {
        modbus_close(ctx_);
      }
      modbus_free(ctx_);
      ctx_ = nullptr;
    }
  }

  std::string describe() const override {
    return fmt::format("Modbus RTU slave {} on {} ({} baud, 8{}1; map: docs/modbus.md{})",
                       spec_.slave_id, spec_.device, spec_.baud, spec_.parity,
                       serveNote(plant_strings_, spec_.slave_id, "slave ids"));
  }

 private:
  // Reads the line itself (RtuFramer) and answers frames for its slave ids: S for strings
  // 1–10 and S + 1 … for the others; broadcasts (0) are handled without an answer.
  void run() {
    auto logger = log::get("modbus");
    const int fd = modbus_get_socket(ctx_);
    // A frame of unknown length ends, and resynchronisation after a bad frame ends, when the
    // line is quiet this long (≥ 3.5 characters; USB adapters deliver in bursts up to ~16 ms).
    const int pause_ms = std::max(50, 3500 * 11 / std::max(spec_.baud, 1) + 1);
    RtuFramer framer;
    std::array<std::uint8_t, 512> chunk{};
    while (!stopping_) {
      pollfd fds[2] = {{wake_[0], POLLIN, 0}, {fd, POLLIN, 0}};
      const int n = ::poll(fds, 2, framer.waiting() ? pause_ms : -1);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      if (fds[0].revents != 0 || stopping_) {
        break;
      }
      if (n == 0) {
        if (auto f = framer.pause()) {
          answer(*f, logger);
        }
        continue;
      }
      if ((fds[1].revents & POLLIN) == 0) {
        // Hang-up or error on the line (e.g. the other end of a pty went away): back off.
        if (!pauseUnlessWoken(wake_[0], 200)) {
          break;
        }
        continue;
      }
      const ssize_t got = ::read(fd, chunk.data(), chunk.size());
      if (got <= 0) {
        if (got < 0 && errno != EAGAIN && errno != EINTR && !pauseUnlessWoken(wake_[0], 100)) {
          break;
        }
        continue;
      }
      framer.feed(chunk.data(), static_cast<std::size_t>(got));
      while (auto f = framer.next()) {
        answer(*f, logger);
      }
    }
  }

  void answer(const RtuFramer::Frame& f, const std::shared_ptr<spdlog::logger>& logger) {
    if (!f.crc_ok) {
      logger->debug("modbus rtu: bad frame ({} bytes), resynchronising", f.bytes.size());
      return;
    }
    const int slave = f.bytes[0];
    const bool ours =
        slave == 0 || (slave >= spec_.slave_id && slave < spec_.slave_id + handler_.unitCount());
    if (ours && handler_.handle(ctx_, f.bytes.data(), static_cast<int>(f.bytes.size())) < 0) {
      logger->debug("modbus rtu: reply failed: {}", modbus_strerror(errno));
    }
  }

  RequestHandler handler_;
  RtuSpec spec_;
  std::size_t plant_strings_ = 0;
  modbus_t* ctx_ = nullptr;
  bool connected_ = false;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Factories

Result<adapters::ServicePtr> startTcp(const adapters::Context& ctx, const std::string& spec) {
  auto parsed = parseTcpSpec(spec);
  if (!parsed) {
    return parsed.error();
  }
  auto server = TcpServer::start(ctx, *parsed);
  if (!server) {
    return server.error();
  }
  return adapters::ServicePtr(std::move(server.value()));
}

Result<adapters::ServicePtr> startRtu(const adapters::Context& ctx, const std::string& spec) {
  auto parsed = parseRtuSpec(spec);
  if (!parsed) {
    return parsed.error();
  }
  auto slave = std::make_unique<RtuSlave>(ctx, *parsed);
  if (auto st = slave->open(); !st) {
    return st.error();
  }
  return adapters::ServicePtr(std::move(slave));
}

}  // namespace equalis::modbus
