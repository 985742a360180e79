#include "bus/line_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "bus/transport.hpp"

namespace equalis::bus {

namespace {

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Error sysError(const std::string& what) {
  return makeError(ErrorCode::kIo, what + ": " + std::strerror(errno));
}

bool writeAll(int fd, const std::uint8_t* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      (void)::poll(&p, 1, 100);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<LineServer>> LineServer::openPty(LineResponder& responder,
                                                        std::mutex& plant_mutex) {
  std::unique_ptr<LineServer> s(new LineServer(responder, plant_mutex));
  s->fd_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s->fd_ < 0) {
    return sysError("posix_openpt");
  }
  if (::grantpt(s->fd_) != 0 || ::unlockpt(s->fd_) != 0) {
    return sysError("grantpt");
  }
  std::array<char, 128> name{};
  if (::ptsname_r(s->fd_, name.data(), name.size()) != 0) {
    return sysError("ptsname");
  }
  s->path_ = name.data();
  s->keep_fd_ = ::open(s->path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s->keep_fd_ < 0) {
    return sysError("open " + s->path_);
  }
  // Raw before any client opens it: no echo, no line editing, no CR/LF mapping.
  const std::uint32_t baud = static_cast<std::uint32_t>(
      std::llround(1e9 * proto::kCharBits / static_cast<double>(responder.charNs())));
  if (auto st = configureRawTty(s->keep_fd_, supportedBaud(baud) ? baud : 115200); !st) {
    return st.error();
  }
  ::fcntl(s->fd_, F_SETFL, ::fcntl(s->fd_, F_GETFL) | O_NONBLOCK);
  if (::pipe2(s->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return sysError("pipe");
  }
  return s;
}

Result<std::unique_ptr<LineServer>> LineServer::listenTcp(LineResponder& responder,
                                                          std::mutex& plant_mutex,
                                                          const std::string& host, int port) {
  std::unique_ptr<LineServer> s(new LineServer(responder, plant_mutex));
  s->tcp_ = true;
  s->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->fd_ < 0) {
    return sysError("socket");
  }
  const int one = 1;
  (void)::setsockopt(s->fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return makeError(ErrorCode::kInvalidArgument, "not an IPv4 address: " + host);
  }
  if (::bind(s->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sysError("bind " + host + ":" + std::to_string(port));
  }
  if (::listen(s->fd_, 4) != 0) {
    return sysError("listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(s->fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->path_ = host + ":" + std::to_string(ntohs(addr.sin_port));
  if (::pipe2(s->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return sysError("pipe");
  }
  return s;
}

LineServer::~LineServer() {
  stop();
  for (const int fd : {fd_, keep_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::string LineServer::url(std::uint32_t baud) const {
  return tcp_ ? "tcp://" + path_ : "serial:" + path_ + ":" + std::to_string(baud);
}

void LineServer::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void LineServer::stop() {
  stop_ = true;
  if (wake_[1] >= 0) {
    const std::uint8_t b = 1;
    (void)!::write(wake_[1], &b, 1);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void LineServer::run() {
  if (!tcp_) {
    serve(fd_);
    return;
  }
  while (!stop_) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN) != 0) {
      continue;
    }
    const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) {
      continue;
    }
    const int one = 1;
    (void)::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve(client);
    ::close(client);
  }
}

void LineServer::serve(int fd) {
  const std::int64_t char_ns = responder_.charNs();
  std::deque<Transmission> queue;
  std::vector<Transmission> fresh;
  std::array<std::uint8_t, 1024> buffer{};
  std::int64_t rx_free_ns = 0;  // when the master's last byte has fully arrived on the "wire"
  while (!stop_) {
    const std::int64_t now = nowNs();
    // Write every frame whose last byte is due.
    while (!queue.empty() && queue.front().due_ns <= now) {
      const auto& t = queue.front();
      if (!writeAll(fd, t.bytes.data(), t.bytes.size()) && tcp_) {
        return;  // client gone
      }
      queue.pop_front();
    }
    timespec ts{0, 200'000'000};
    if (!queue.empty()) {
      const std::int64_t wait = std::max<std::int64_t>(0, queue.front().due_ns - now);
      ts = {static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    }
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int rc = ::ppoll(p, 2, &ts, nullptr);
    if (rc <= 0) {
      continue;
    }
    if ((p[1].revents & POLLIN) != 0) {
      return;
    }
    if ((p[0].revents & POLLIN) != 0) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n <= 0) {
        if (tcp_ && (n == 0 || (errno != EAGAIN && errno != EINTR))) {
          return;
        }
        continue;
      }
      // The bytes take their wire time to arrive, starting now (or after the previous ones).
      const std::int64_t arrived =
          std::max(nowNs(), rx_free_ns) + static_cast<std::int64_t>(n) * char_ns;
      rx_free_ns = arrived;
      fresh.clear();
      {
        std::lock_guard lock(plant_mutex_);
        responder_.receive({buffer.data(), static_cast<std::size_t>(n)}, arrived, fresh);
      }
      for (auto& t : fresh) {
        // Keep due order (late replies may overtake nothing that is due before them).
        auto it = queue.end();
        while (it != queue.begin() && std::prev(it)->due_ns > t.due_ns) {
          --it;
        }
        queue.insert(it, std::move(t));
      }
    } else if ((p[0].revents & (POLLHUP | POLLERR)) != 0) {
      if (tcp_) {
        return;
      }
      // pty without a client: wait for one.
      timespec idle{0, 20'000'000};
      ::nanosleep(&idle, nullptr);
    }
  }
}

}  // namespace equalis::bus
