#include "events/syslog.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/log.hpp"

namespace equalis::events {

namespace {

constexpr std::size_t kHostnameMax = 255;
constexpr std::size_t kAppNameMax = 48;
constexpr std::size_t kProcIdMax = 128;
constexpr std::size_t kMsgIdMax = 32;
constexpr std::size_t kSdNameMax = 32;
constexpr int kFacilityMax = 23;
constexpr int kSeverityMax = 7;

// PRINTUSASCII (33 … 126), cut to `max`; "-" when empty.
std::string headerField(std::string_view v, std::size_t max) {
  std::string out;
  for (const char c : v.substr(0, std::min(v.size(), max))) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 33 && u <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

// SD-NAME: PRINTUSASCII except '=', ' ', ']', '"'; at most 32.
std::string sdName(std::string_view v) {
  std::string out;
  for (const char c : v.substr(0, std::min(v.size(), kSdNameMax))) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = u >= 33 && u <= 126 && c != '=' && c != ']' && c != '"';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

// "connection refused": strerror() text, lower case like the other delivery errors.
std::string errnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && (s.size() < 2 || !(s[1] >= 'A' && s[1] <= 'Z'))) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

}  // namespace

std::string escapeSdValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::string formatRfc5424(const SyslogMessage& m) {
  const int pri =
      std::clamp(m.facility, 0, kFacilityMax) * 8 + std::clamp(m.severity, 0, kSeverityMax);
  std::string out =
      fmt::format("<{}>1 {} {} {} {} {} ", pri, formatIso8601(m.time_ms),
                  headerField(m.hostname, kHostnameMax), headerField(m.app_name, kAppNameMax),
                  headerField(m.procid, kProcIdMax), headerField(m.msgid, kMsgIdMax));
  if (m.sd_id.empty()) {
    out += '-';
  } else {
    out += '[';
    out += sdName(m.sd_id);
    for (const auto& [name, value] : m.sd_params) {
      out += fmt::format(" {}=\"{}\"", sdName(name), escapeSdValue(value));
    }
    out += ']';
  }
  if (!m.msg.empty()) {
    out += ' ';
    if (m.bom) {
      out += "\xEF\xBB\xBF";
    }
    out += m.msg;
  }
  return out;
}

std::string octetFrame(std::string_view msg) {
  return fmt::format("{} {}", msg.size(), msg);
}

SyslogSender::SyslogSender(const model::SyslogConfig& cfg)
    : transport_(cfg.transport), host_(cfg.host), port_(cfg.port), timeout_ms_(cfg.timeout_ms) {}

SyslogSender::~SyslogSender() {
  close();
}

void SyslogSender::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::string SyslogSender::describe() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", transport_ == model::SyslogTransport::kTcp ? "tcp" : "udp",
                     v6 ? "[" : "", host_, v6 ? "]" : "", port_);
}

Status SyslogSender::connectSocket() {
  const bool tcp = transport_ == model::SyslogTransport::kTcp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_);
  if (const int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return makeError(ErrorCode::kUnavailable,
                     fmt::format("cannot resolve {}: {}", host_, gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_error = errnoText(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout_ms_));
      if (rc == 0) {
        last_error = "connection timed out";
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last_error = errnoText(err);
        ::close(fd);
        continue;
      }
      rc = 0;
    }
    if (rc != 0) {
      last_error = errnoText(errno);
      ::close(fd);
      continue;
    }
    if (tcp) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    fd_ = fd;
    ::freeaddrinfo(res);
    return {};
  }
  ::freeaddrinfo(res);
  return makeError(ErrorCode::kUnavailable, last_error);
}

Status SyslogSender::send(std::string_view message) {
  const bool tcp = transport_ == model::SyslogTransport::kTcp;
  if (tcp && fd_ >= 0) {
    // A collector that closed the connection shows as readable with EOF: reconnect first.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      char buf[256];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        close();
      }
    }
  }
  if (fd_ < 0) {
    if (auto st = connectSocket(); !st) {
      return st;
    }
  }
  const std::string frame = tcp ? octetFrame(message) : std::string(message);
  std::size_t sent = 0;
  const TimeMs deadline = wallNowMs() + timeout_ms_;
  bool udp_retried = false;
  while (sent < frame.size()) {
    const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      if (!tcp) {
        break;  // a datagram goes whole or not at all
      }
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const TimeMs left = deadline - wallNowMs();
      pollfd p{fd_, POLLOUT, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
        close();
        return makeError(ErrorCode::kTimeout, "send timed out");
      }
      continue;
    }
    const int err = errno;
    if (!tcp && err == ECONNREFUSED && !udp_retried) {
      // The ICMP "port unreachable" of an EARLIER datagram, reported on this send (which did
      // not go out). UDP cannot confirm delivery anyway: note it and send this one again.
      udp_retried = true;
      log::get("events")->warn(
          "syslog {}: the collector refused an earlier message (port "
          "unreachable)",
          describe());
      continue;
    }
    close();  // the next send reconnects (TCP) or reopens (UDP)
    return makeError(ErrorCode::kUnavailable, errnoText(err));
  }
  return {};
}

}  // namespace equalis::events
