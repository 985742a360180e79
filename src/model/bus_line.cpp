#include "model/bus_line.hpp"

#include <array>
#include <charconv>

namespace equalis::model {

namespace {

constexpr std::array<std::uint32_t, 11> kBauds = {1200,  2400,   4800,   9600,   19200, 38400,
                                                  57600, 115200, 230400, 460800, 921600};

bool parseInt(std::string_view s, long long& out) {
  if (s.empty()) {
    return false;
  }
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::string bauds() {
  std::string out;
  for (const auto b : kBauds) {
    out += (out.empty() ? "" : ", ") + std::to_string(b);
  }
  return out;
}

}  // namespace

bool supportedBaud(std::uint32_t baud) {
  for (const auto b : kBauds) {
    if (b == baud) {
      return true;
    }
  }
  return false;
}

Result<BusLineUrl> parseBusLineUrl(std::string_view text) {
  BusLineUrl url;
  constexpr std::string_view kSerial = "serial:";
  constexpr std::string_view kTcp = "tcp://";
  if (text.substr(0, kSerial.size()) == kSerial) {
    url.kind = BusLineUrl::Kind::kSerial;
    const std::string_view rest = text.substr(kSerial.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return makeError(ErrorCode::kInvalidArgument,
                       "expected \"serial:DEVICE:BAUD\", e.g. \"serial:/dev/ttyUSB0:115200\"");
    }
    url.device = std::string(rest.substr(0, colon));
    long long baud = 0;
    if (!parseInt(rest.substr(colon + 1), baud) || baud <= 0 ||
        !supportedBaud(static_cast<std::uint32_t>(baud))) {
      return makeError(ErrorCode::kInvalidArgument,
                       "baud \"" + std::string(rest.substr(colon + 1)) +
                           "\" is not supported (one of " + bauds() + ")");
    }
    if (url.device.front() != '/') {
      return makeError(ErrorCode::kInvalidArgument,
                       "the serial device must be an absolute path, got \"" + url.device + "\"");
    }
    url.baud = static_cast<std::uint32_t>(baud);
    return url;
  }
  if (text.substr(0, kTcp.size()) == kTcp) {
    url.kind = BusLineUrl::Kind::kTcp;
    std::string_view rest = text.substr(kTcp.size());
    if (!rest.empty() && rest.back() == '/') {
      rest.remove_suffix(1);
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       "expected \"tcp://HOST:PORT\", e.g. \"tcp://192.0.2.10:4001\"");
    }
    std::string_view host = rest.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    long long port = 0;
    if (host.empty() || host.find_first_of(" /") != std::string_view::npos) {
      return makeError(ErrorCode::kInvalidArgument,
                       "missing or bad host in \"" + std::string(text) + "\"");
    }
    if (!parseInt(rest.substr(colon + 1), port) || port < 1 || port > 65535) {
      return makeError(ErrorCode::kInvalidArgument, "port must be between 1 and 65535, got \"" +
                                                        std::string(rest.substr(colon + 1)) + "\"");
    }
    url.host = std::string(host);
    url.port = static_cast<int>(port);
    return url;
  }
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown line \"" + std::string(text) +
                       "\": use \"serial:/dev/ttyUSB0:115200\" or \"tcp://HOST:PORT\"");
}

}  // namespace equalis::model
