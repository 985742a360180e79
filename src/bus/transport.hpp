// Line transports of the module bus: a serial tty (termios raw 8N1, for USB RS-485 adapters and
// on-board UARTs) and TCP (RS-485-to-Ethernet gateways in transparent mode), behind one small
// interface. Both are file descriptors read with poll(), so timeouts are exact and a read never
// blocks past its deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "model/bus_line.hpp"

namespace equalis::bus {

using SteadyTime = std::chrono::steady_clock::time_point;

// "serial:/dev/ttyUSB0:115200" or "tcp://host:port" (model/bus_line.hpp).
using LineUrl = model::BusLineUrl;
using model::supportedBaud;
inline Result<LineUrl> parseLineUrl(std::string_view text) {
  return model::parseBusLineUrl(text);
}

class Transport {
 public:
  virtual ~Transport() = default;
  // Opens (or re-opens) the line. Idempotent while open.
  virtual Status open() = 0;
  virtual void close() = 0;
  virtual bool isOpen() const = 0;
  // Writes all bytes (the kernel's buffer takes them; the wire time is the caller's to count).
  virtual Status write(std::span<const std::uint8_t> bytes) = 0;
  // Reads what is there, waiting until `deadline` for the first byte. Returns the number of bytes
  // (0 = deadline passed); an error means the line is broken (closed by the transport).
  virtual Result<std::size_t> read(std::span<std::uint8_t> buffer, SteadyTime deadline) = 0;
  // Drops unread input.
  virtual void discardInput() = 0;
  virtual std::string describe() const = 0;
  // Baud rate of the RS-485 side, for wire-time arithmetic.
  virtual std::uint32_t baud() const = 0;
};

// A transport over a file descriptor (shared by serial and TCP).
class FdTransport : public Transport {
 public:
  ~FdTransport() override;
  void close() override;
  bool isOpen() const override { return fd_ >= 0; }
  Status write(std::span<const std::uint8_t> bytes) override;
  Result<std::size_t> read(std::span<std::uint8_t> buffer, SteadyTime deadline) override;
  void discardInput() override;

 protected:
  int fd_ = -1;
  bool eof_closes_ = false;  // a read of 0 bytes means the peer closed (sockets), not "no data"
};

class SerialTransport final : public FdTransport {
 public:
  SerialTransport(std::string device, std::uint32_t baud)
      : device_(std::move(device)), baud_(baud) {}
  ~SerialTransport() override { SerialTransport::close(); }
  // Opens the tty for this process alone: a lock (flock) and the tty's exclusive mode
  // (TIOCEXCL); a second opener gets kUnavailable with a message saying the line is in use.
  Status open() override;
  void close() override;
  void discardInput() override;
  std::string describe() const override;
  std::uint32_t baud() const override { return baud_; }

 private:
  std::string device_;
  std::uint32_t baud_;
  bool exclusive_ = false;
};

class TcpTransport final : public FdTransport {
 public:
  TcpTransport(std::string host, int port, std::uint32_t baud,
               std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(2000))
      : host_(std::move(host)), port_(port), baud_(baud), connect_timeout_(connect_timeout) {
    eof_closes_ = true;
  }
  Status open() override;
  std::string describe() const override;
  std::uint32_t baud() const override { return baud_; }

 private:
  std::string host_;
  int port_;
  std::uint32_t baud_;
  std::chrono::milliseconds connect_timeout_;
};

std::unique_ptr<Transport> makeTransport(const LineUrl& url);

// Puts a tty file descriptor in raw 8N1 mode at `baud` (used by the serial transport and by the
// simulator for its pty). Error: not a tty or an unsupported speed.
Status configureRawTty(int fd, std::uint32_t baud);

}  // namespace equalis::bus
