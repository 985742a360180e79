#include "bus/transport.hpp"

#include <fcntl.h>
#include <linux/serial.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace equalis::bus {

namespace {

struct BaudCode {
  std::uint32_t baud;
  speed_t code;
};

constexpr std::array kBauds = {
    BaudCode{1200, B1200},     BaudCode{2400, B2400},     BaudCode{4800, B4800},
    BaudCode{9600, B9600},     BaudCode{19200, B19200},   BaudCode{38400, B38400},
    BaudCode{57600, B57600},   BaudCode{115200, B115200}, BaudCode{230400, B230400},
    BaudCode{460800, B460800}, BaudCode{921600, B921600},
};

std::string errnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

Status configureRawTty(int fd, std::uint32_t baud) {
  speed_t code = 0;
  for (const auto& b : kBauds) {
    if (b.baud == baud) {
      code = b.code;
    }
  }
  if (code == 0) {
    return makeError(ErrorCode::kInvalidArgument, "unsupported baud " + std::to_string(baud));
  }
  termios tio{};
  if (::tcgetattr(fd, &tio) != 0) {
    return makeError(ErrorCode::kIo, errnoText("tcgetattr"));
  }
  ::cfmakeraw(&tio);
  tio.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | CSTOPB | CRTSCTS);
  tio.c_cflag |= CS8 | CLOCAL | CREAD;
  tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  if (::cfsetispeed(&tio, code) != 0 || ::cfsetospeed(&tio, code) != 0) {
    return makeError(ErrorCode::kIo, errnoText("cfsetspeed"));
  }
  if (::tcsetattr(fd, TCSANOW, &tio) != 0) {
    return makeError(ErrorCode::kIo, errnoText("tcsetattr"));
  }
  return {};
}

// ---- FdTransport ----------------------------------------------------------------------------

FdTransport::~FdTransport() {
  FdTransport::close();
}

void FdTransport::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Status FdTransport::write(std::span<const std::uint8_t> bytes) {
  if (fd_ < 0) {
    return makeError(ErrorCode::kUnavailable, "line not open");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 1000) <= 0) {
        close();
        return makeError(ErrorCode::kIo, "write: output stalled");
      }
      continue;
    }
    const std::string why = errnoText("write");
    close();
    return makeError(ErrorCode::kIo, why);
  }
  return {};
}

Result<std::size_t> FdTransport::read(std::span<std::uint8_t> buffer, SteadyTime deadline) {
  if (fd_ < 0) {
    return makeError(ErrorCode::kUnavailable, "line not open");
  }
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n > 0) {
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      // TCP: the peer closed. A pty or tty: no data (VMIN = 0).
      if (eof_closes_) {
        close();
        return makeError(ErrorCode::kIo, "connection closed by the peer");
      }
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      const std::string why = errnoText("read");
      close();
      return makeError(ErrorCode::kIo, why);
    }
    if (left.count() <= 0) {
      return std::size_t{0};
    }
    pollfd p{fd_, POLLIN, 0};
    timespec ts{static_cast<time_t>(left.count() / 1'000'000),
                static_cast<long>((left.count() % 1'000'000) * 1000)};
    const int rc = ::ppoll(&p, 1, &ts, nullptr);
    if (rc < 0 && errno != EINTR) {
      const std::string why = errnoText("poll");
      close();
      return makeError(ErrorCode::kIo, why);
    }
    if (rc > 0 && (p.revents & (POLLERR | POLLNVAL)) != 0) {
      close();
      return makeError(ErrorCode::kIo, "line error");
    }
    if (rc > 0 && (p.revents & POLLHUP) != 0 && (p.revents & POLLIN) == 0) {
      close();
      return makeError(ErrorCode::kIo, "line hung up");
    }
  }
}

void FdTransport::discardInput() {
  if (fd_ < 0) {
    return;
  }
  std::array<std::uint8_t, 512> sink{};
  while (::read(fd_, sink.data(), sink.size()) > 0) {
  }
}

// ---- Serial ---------------------------------------------------------------------------------

Status SerialTransport::open() {
  if (fd_ >= 0) {
    return {};
  }
  const int fd = ::open(device_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EBUSY) {
      return makeError(ErrorCode::kUnavailable,
                       "open " + device_ + ": in use by another program (exclusive, TIOCEXCL)");
    }
    return makeError(ErrorCode::kIo, errnoText(("open " + device_).c_str()));
  }
  // One master per line: an advisory lock (released when the process ends, whoever it is) and
  // the tty's exclusive mode (a second open() fails with EBUSY, except for root).
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    const std::string why = errnoText(("lock " + device_).c_str());
    ::close(fd);
    return makeError(busy ? ErrorCode::kUnavailable : ErrorCode::kIo,
                     busy ? device_ +
                                " is in use by another program (is equalisd running on "
                                "this line?)"
                          : why);
  }
  if (auto st = configureRawTty(fd, baud_); !st) {
    ::close(fd);
    return makeError(st.error().code, device_ + ": " + st.error().message);
  }
  // USB adapters (FTDI) hold received bytes up to their latency timer (16 ms by default): ask the
  // driver for low latency where it supports it (not every tty does; that is no error).
  serial_struct ss{};
  if (::ioctl(fd, TIOCGSERIAL, &ss) == 0) {
    ss.flags |= ASYNC_LOW_LATENCY;
    (void)::ioctl(fd, TIOCSSERIAL, &ss);
  }
  exclusive_ = ::ioctl(fd, TIOCEXCL) == 0;
  ::tcflush(fd, TCIOFLUSH);
  fd_ = fd;
  return {};
}

void SerialTransport::close() {
  if (fd_ >= 0 && exclusive_) {
    // A pty stays open on its other side: leave it openable for the next master.
    (void)::ioctl(fd_, TIOCNXCL);
  }
  exclusive_ = false;
  FdTransport::close();
}

void SerialTransport::discardInput() {
  if (fd_ >= 0) {
    ::tcflush(fd_, TCIFLUSH);
  }
  FdTransport::discardInput();
}

std::string SerialTransport::describe() const {
  return "serial:" + device_ + ":" + std::to_string(baud_);
}

// ---- TCP ------------------------------------------------------------------------------------

Status TcpTransport::open() {
  if (fd_ >= 0) {
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(port_);
  if (const int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return makeError(ErrorCode::kIo, "resolve " + host_ + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = errnoText("socket");
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(connect_timeout_.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        errno = rc == 0 ? ETIMEDOUT : (err != 0 ? err : errno);
        rc = -1;
      }
    }
    if (rc != 0) {
      last = errnoText(("connect " + host_ + ":" + port).c_str());
      ::close(fd);
      continue;
    }
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    break;
  }
  ::freeaddrinfo(list);
  if (fd_ < 0) {
    return makeError(ErrorCode::kIo, last);
  }
  return {};
}

std::string TcpTransport::describe() const {
  return "tcp://" + host_ + ":" + std::to_string(port_);
}

std::unique_ptr<Transport> makeTransport(const LineUrl& url) {
  if (url.kind == LineUrl::Kind::kTcp) {
    return std::make_unique<TcpTransport>(url.host, url.port, url.baud);
  }
  return std::make_unique<SerialTransport>(url.device, url.baud);
}

}  // namespace equalis::bus
