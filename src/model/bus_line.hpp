// Module-bus line addresses ([[bus.line]] url, docs/module-bus.md): "serial:/dev/ttyUSB0:115200"
// or "tcp://HOST:PORT". Parsed here so that the configuration can check them and the bus can
// open them with one grammar.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace equalis::model {

struct BusLineUrl {
  enum class Kind { kSerial, kTcp };
  Kind kind = Kind::kSerial;
  std::string device;           // serial: the tty path
  std::string host;             // tcp
  int port = 0;                 // tcp
  std::uint32_t baud = 115200;  // serial: from the URL; tcp: the gateway's RS-485 side (timing)
};

// Baud rates a serial line may use (termios has fixed speeds).
bool supportedBaud(std::uint32_t baud);
// Parses a line URL; the error says what is wrong ("baud \"12345\" is not supported (…)").
Result<BusLineUrl> parseBusLineUrl(std::string_view text);

}  // namespace equalis::model
