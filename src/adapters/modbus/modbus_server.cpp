#include "adapters/modbus/modbus_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

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
constexpr int kWriteSingleCoil = 0x05;
constexpr int kWriteMultipleCoils = 0x0F;
constexpr int kMaskWriteRegister = 0x16;
constexpr int kReadWriteMultipleRegisters = 0x17;
constexpr int kMaxAcceptsPerRound = 64;       // then the clients get their turn again
constexpr std::int64_t kAcceptPauseMs = 200;  // after running out of file descriptors

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

std::int64_t monotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
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

void TcpFramer::feed(const std::uint8_t* data, std::size_t n) {
  if (problem_.empty()) {
    buf_.insert(buf_.end(), data, data + n);
  }
}

std::size_t TcpFramer::expected() const {
  if (buf_.size() < kHeaderSize) {
    return 0;
  }
  return 6 + (static_cast<std::size_t>(buf_[4]) << 8 | buf_[5]);
}

std::size_t TcpFramer::next(Buffer& out) {
  if (!problem_.empty()) {
    return 0;
  }
  // Each field is checked as soon as it is in, so that a bad header is refused at once.
  const unsigned protocol_id = buf_.size() >= 4 ? static_cast<unsigned>(buf_[2]) << 8 | buf_[3] : 0;
  const std::size_t length =
      buf_.size() >= 6 ? static_cast<std::size_t>(buf_[4]) << 8 | buf_[5] : kMinLength;
  if (protocol_id != 0) {
    problem_ = fmt::format("protocol id {:#06x} in the MBAP header (Modbus is 0)", protocol_id);
  } else if (length < kMinLength || length > kMaxLength) {
    problem_ =
        fmt::format("length {} in the MBAP header (must be {}–{})", length, kMinLength, kMaxLength);
  }
  if (!problem_.empty()) {
    buf_.clear();
    return 0;
  }
  const std::size_t size = 6 + length;
  if (buf_.size() < kHeaderSize || buf_.size() < size) {
    return 0;
  }
  std::copy(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(size), out.begin());
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(size), out.end(), std::uint8_t{0});
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(size));
  return size;
}

bool isWriteFunction(int function) {
  switch (function) {
    case kWriteSingleCoil:
    case kWriteSingleRegister:
    case kWriteMultipleCoils:
    case kWriteMultipleRegisters:
    case kMaskWriteRegister:
    case kReadWriteMultipleRegisters:
      return true;
    default:
      return false;
  }
}

Result<std::vector<net::IpPrefix>> parseWriteAllowlist(const std::vector<std::string>& entries) {
  std::vector<net::IpPrefix> out;
  for (const auto& entry : entries) {
    auto prefix = net::parseIpPrefix(entry);
    if (!prefix) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("[modbus] write_allowlist: {}", prefix.error().message));
    }
    out.push_back(*prefix);
  }
  return out;
}

bool writeAllowed(const std::vector<net::IpPrefix>& allowlist, const net::IpAddress& address) {
  return allowlist.empty() ||
         std::any_of(allowlist.begin(), allowlist.end(),
                     [&](const net::IpPrefix& p) { return p.contains(address); });
}

bool LogLimiter::allow(std::int64_t now_ms, std::uint64_t& suppressed) {
  if (!started_ || now_ms - window_start_ms_ >= window_ms_) {
    started_ = true;
    window_start_ms_ = now_ms;
    written_ = 0;
  }
  if (written_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++written_;
  suppressed = suppressed_;
  suppressed_ = 0;
  return true;
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

int RequestHandler::acknowledge(int function, const std::uint8_t* req, int offset, int length,
                                const Requester& from) {
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
    const auto done = acknowledge_alarm_(key, command::Origin{"", from.address, "modbus"});
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

int RequestHandler::handle(modbus_t* ctx, const std::uint8_t* req, int length,
                           const Requester& from) {
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
  if (!from.may_write && isWriteFunction(function)) {
    ++exceptions_;
    return modbus_reply_exception(ctx, req, kExceptionIllegalFunction);
  }
  if (writes_ && (function == kWriteSingleRegister || function == kWriteMultipleRegisters)) {
    if (const int exception = acknowledge(function, req, offset, length, from); exception != 0) {
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

TcpServer::TcpServer(const adapters::Context& ctx, std::string host, TcpLimits limits)
    : handler_(ctx),
      host_(std::move(host)),
      writes_(ctx.plant.protocols.modbus_writes),
      limits_(limits),
      plant_strings_(ctx.state.stringCount()) {}

Result<std::unique_ptr<TcpServer>> TcpServer::start(const adapters::Context& ctx,
                                                    const TcpSpec& spec, TcpLimits limits) {
  auto allowlist = parseWriteAllowlist(ctx.plant.protocols.modbus_write_allowlist);
  if (!allowlist) {
    return allowlist.error();
  }
  std::unique_ptr<TcpServer> server(new TcpServer(ctx, spec.host, limits));
  server->write_allowlist_ = std::move(allowlist.value());
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
  // The context only builds and sends replies on the client socket it is handed (the server
  // reads and frames requests itself): libmodbus never waits on a client socket. RequestHandler
  // passes only requests it has checked to modbus_reply, so libmodbus never takes its error path
  // that sleeps and flushes (select()s) the socket; no FD_SETSIZE limit applies.
  server->ctx_ = modbus_new_tcp("127.0.0.1", server->port_);
  if (server->ctx_ == nullptr) {
    return makeError(ErrorCode::kIo, "libmodbus: cannot create a TCP context");
  }
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
  std::string writes = writes_ ? "on" : "off";
  if (writes_ && !write_allowlist_.empty()) {
    std::vector<std::string> entries;
    entries.reserve(write_allowlist_.size());
    for (const auto& p : write_allowlist_) {
      entries.push_back(p.toString());
    }
    writes += fmt::format(" from {} only", fmt::join(entries, ", "));
  }
  return fmt::format(
      "Modbus TCP on {}:{} (holding = input registers, map: docs/modbus.md{}; alarm "
      "acknowledge writes {})",
      host_, port_, serveNote(plant_strings_, 1, "unit ids"), writes);
}

void TcpServer::closeClient(std::size_t index) {
  ::close(clients_[index].fd);
  clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(index));
}

void TcpServer::logLimited(LogLimiter& limiter, std::int64_t now_ms, const std::string& text) {
  std::uint64_t suppressed = 0;
  if (!limiter.allow(now_ms, suppressed)) {
    return;
  }
  auto logger = log::get("modbus");
  if (suppressed > 0) {
    logger->warn("{} ({} similar lines suppressed)", text, suppressed);
  } else {
    logger->warn("{}", text);
  }
}

void TcpServer::run() {
  auto logger = log::get("modbus");
  std::vector<pollfd> fds;
  while (!stopping_) {
    std::int64_t now_ms = monotonicMs();
    const bool accepting = now_ms >= accept_paused_until_ms_;
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});  // poll() skips a negative fd
    for (const auto& c : clients_) {
      fds.push_back({c.fd, POLLIN, 0});
    }
    int timeout_ms = nextTimeoutMs(now_ms);
    if (!accepting) {
      const auto resume_ms = static_cast<int>(accept_paused_until_ms_ - now_ms);
      timeout_ms = timeout_ms < 0 ? resume_ms : std::min(timeout_ms, resume_ms);
    }
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
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
    now_ms = monotonicMs();
    // Clients (clients_[i] is fds[i + 2]), from the back so that closing one keeps the indices
    // of those still to come.
    for (std::size_t i = clients_.size(); i > 0; --i) {
      const std::size_t ci = i - 1;
      bool keep = fds[ci + 2].revents == 0 || serveClient(clients_[ci], now_ms);
      if (keep) {
        bool incomplete = false;
        if (const std::string why = expired(clients_[ci], now_ms, incomplete); !why.empty()) {
          if (incomplete) {
            logLimited(protocol_log_, now_ms, why);
          } else {
            logger->debug("{}", why);
          }
          keep = false;
        }
      }
      if (!keep) {
        closeClient(ci);
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      acceptClients(now_ms);
    }
  }
}

void TcpServer::acceptClients(std::int64_t now_ms) {
  for (int round = 0; round < kMaxAcceptsPerRound; ++round) {
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_size,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The connection stays queued; without a pause poll() would report it at once again.
        logLimited(refused_log_, now_ms,
                   fmt::format("modbus tcp: cannot accept a connection: {}", std::strerror(errno)));
        accept_paused_until_ms_ = now_ms + kAcceptPauseMs;
      }
      return;
    }
    const auto address = net::fromSockaddr(peer);
    const std::string text = address ? address->toString() : "an unknown address";
    if (clients_.size() >= limits_.max_clients) {
      ::close(fd);
      logLimited(refused_log_, now_ms,
                 fmt::format("modbus tcp: connection from {} closed: {} clients are connected "
                             "(the limit)",
                             text, clients_.size()));
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    Client client;
    client.fd = fd;
    client.from.address = text;
    client.from.may_write =
        write_allowlist_.empty() || (address && writeAllowed(write_allowlist_, *address));
    client.idle_since_ms = now_ms;
    clients_.push_back(std::move(client));
  }
}

bool TcpServer::serveClient(Client& client, std::int64_t now_ms) {
  auto logger = log::get("modbus");
  std::array<std::uint8_t, TcpFramer::kMaxFrame> chunk{};
  const ssize_t got = ::recv(client.fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
  if (got == 0) {
    logger->debug("modbus tcp: {} closed the connection", client.from.address);
    return false;
  }
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return true;
    }
    logger->debug("modbus tcp: connection from {}: {}", client.from.address, std::strerror(errno));
    return false;
  }
  const bool continued = client.framer.buffered() > 0;
  client.framer.feed(chunk.data(), static_cast<std::size_t>(got));
  bool answered = false;
  TcpFramer::Buffer frame{};
  while (const std::size_t size = client.framer.next(frame)) {
    answered = true;
    client.idle_since_ms = now_ms;
    const int function = frame[TcpFramer::kHeaderSize];
    if (!client.from.may_write && isWriteFunction(function)) {
      logLimited(write_log_, now_ms,
                 fmt::format("modbus tcp: write (function {:#04x}) from {} refused: the address "
                             "is not in [modbus] write_allowlist",
                             function, client.from.address));
    }
    // The socket is non-blocking: a reply that does not fit the client's send buffer (a client
    // that sends requests but reads no replies) fails instead of waiting.
    modbus_set_socket(ctx_, client.fd);
    const int rc = handler_.handle(ctx_, frame.data(), static_cast<int>(size), client.from);
    modbus_set_socket(ctx_, -1);
    if (rc < 0) {
      logger->debug("modbus tcp: reply to {} not sent ({}), closing the connection",
                    client.from.address, modbus_strerror(errno));
      return false;
    }
  }
  if (!client.framer.problem().empty()) {
    logLimited(protocol_log_, now_ms,
               fmt::format("modbus tcp: closing the connection from {}: {}", client.from.address,
                           client.framer.problem()));
    return false;
  }
  if (client.framer.buffered() > 0 && (answered || !continued)) {
    client.frame_since_ms = now_ms;  // a new request has begun
  }
  return true;
}

std::string TcpServer::expired(const Client& client, std::int64_t now_ms, bool& incomplete) const {
  const auto seconds = [](std::int64_t ms) { return static_cast<double>(ms) / 1000.0; };
  incomplete = client.framer.buffered() > 0;
  if (incomplete) {
    if (now_ms - client.frame_since_ms < limits_.frame_timeout_ms) {
      return {};
    }
    const std::size_t expected = client.framer.expected();
    return fmt::format(
        "modbus tcp: closing the connection from {}: a request still incomplete after {} s ({} "
        "of {} bytes)",
        client.from.address, seconds(limits_.frame_timeout_ms), client.framer.buffered(),
        expected > 0 ? std::to_string(expected) : std::string("at least 7"));
  }
  if (now_ms - client.idle_since_ms < limits_.idle_timeout_ms) {
    return {};
  }
  return fmt::format("modbus tcp: closing the connection from {}: no request for {} s",
                     client.from.address, seconds(limits_.idle_timeout_ms));
}

int TcpServer::nextTimeoutMs(std::int64_t now_ms) const {
  std::int64_t next = -1;
  for (const auto& c : clients_) {
    const std::int64_t deadline = c.framer.buffered() > 0
                                      ? c.frame_since_ms + limits_.frame_timeout_ms
                                      : c.idle_since_ms + limits_.idle_timeout_ms;
    const std::int64_t wait = std::max<std::int64_t>(0, deadline - now_ms);
    next = next < 0 ? wait : std::min(next, wait);
  }
  return static_cast<int>(std::min<std::int64_t>(next, std::numeric_limits<int>::max()));
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
