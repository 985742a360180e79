#include "equalisctl/bus.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bus/commissioning.hpp"
#include "bus/line_master.hpp"
#include "bus/transport.hpp"

namespace equalisctl {

namespace {

using nlohmann::json;
namespace bus = equalis::bus;

// Exit statuses of `equalisctl bus` (kUsage in main.cpp, docs/operations.md).
constexpr int kExitFailed = 1;  // no answer, serial not found, address taken
constexpr int kExitUsage = 2;   // usage, bad URL, value out of range
constexpr int kExitNoLine = 3;  // the line cannot be opened (missing, in use, refused)
constexpr std::size_t kDefaultStopAfter = 10;

int usage(const std::string& message) {
  std::fprintf(stderr, "equalisctl bus: %s (see equalisctl --help)\n", message.c_str());
  return kExitUsage;
}

int failed(const std::string& message) {
  std::fprintf(stderr, "equalisctl bus: %s\n", message.c_str());
  return kExitFailed;
}

struct BusOptions {
  std::string sub;
  std::string line;
  std::optional<std::uint32_t> baud;
  std::uint16_t first = 1;
  std::uint16_t max = bus::proto::kLastModule;
  std::size_t stop_after = kDefaultStopAfter;
  int timeout_ms = 20;
  int retries = 1;
  bool chain = false;
  std::optional<std::uint32_t> serial;
  std::optional<std::uint16_t> address;
};

std::optional<long long> parseCount(const std::string& text, long long lo, long long hi) {
  auto v = bus::parseSerial(text);  // decimal or 0x-hex, 32 bits
  if (!v || *v < lo || *v > hi) {
    return std::nullopt;
  }
  return *v;
}

json infoJson(const bus::proto::DeviceInfo& i) {
  return json{{"address", i.address},
              {"serial", bus::formatSerial(i.serial)},
              {"firmware", bus::formatFirmware(i)},
              {"device_type", i.device_type}};
}

void printTable(const std::vector<bus::proto::DeviceInfo>& modules) {
  std::printf("%7s  %-10s  %-8s  %s\n", "Address", "Serial", "Firmware", "Type");
  for (const auto& i : modules) {
    std::printf("%7u  %-10s  %-8s  %u\n", static_cast<unsigned>(i.address),
                bus::formatSerial(i.serial).c_str(), bus::formatFirmware(i).c_str(),
                static_cast<unsigned>(i.device_type));
  }
}

// Opens the line for this process (a serial tty exclusively) or says why not.
std::unique_ptr<bus::LineMaster> openLine(const BusOptions& o, int& code) {
  auto url = bus::parseLineUrl(o.line);
  if (!url) {
    code = usage("--line '" + o.line + "': " + url.error().message);
    return nullptr;
  }
  if (o.baud) {
    if (url->kind != bus::LineUrl::Kind::kTcp) {
      code = usage("--baud is for tcp:// lines (a serial line's URL carries its baud rate)");
      return nullptr;
    }
    url->baud = *o.baud;
  }
  auto transport = bus::makeTransport(*url);
  if (auto st = transport->open(); !st) {
    std::fprintf(stderr, "equalisctl bus: cannot open the line %s: %s\n", o.line.c_str(),
                 st.error().message.c_str());
    code = kExitNoLine;
    return nullptr;
  }
  bus::LineOptions options;
  options.reply_slack = std::chrono::milliseconds(o.timeout_ms);
  options.retries = o.retries;
  return std::make_unique<bus::LineMaster>(std::move(transport), options);
}

int scan(const BusOptions& o, bool as_json) {
  int code = 0;
  auto line = openLine(o, code);
  if (!line) {
    return code;
  }
  const auto last = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(bus::proto::kUnaddressed - 1, std::uint32_t{o.first} + o.max - 1));
  auto found = bus::scanAddresses(*line, o.first, last, o.stop_after);
  if (!found) {
    std::fprintf(stderr, "equalisctl bus: line %s failed: %s\n", o.line.c_str(),
                 found.error().message.c_str());
    return kExitNoLine;
  }
  const auto unaddressed = bus::searchUnaddressed(*line);
  if (!line->connected()) {
    std::fprintf(stderr, "equalisctl bus: line %s failed: %s\n", o.line.c_str(),
                 line->lastError().c_str());
    return kExitNoLine;
  }
  if (as_json) {
    json modules = json::array();
    for (const auto& i : *found) {
      modules.push_back(infoJson(i));
    }
    json serials = json::array();
    for (const auto s : unaddressed) {
      serials.push_back(bus::formatSerial(s));
    }
    std::cout << json{{"line", o.line},
                      {"first", o.first},
                      {"last", last},
                      {"modules", std::move(modules)},
                      {"unaddressed", std::move(serials)}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("line %s\n", o.line.c_str());
  if (found->empty()) {
    std::printf("no module answered READ_INFO at addresses %u …\n", static_cast<unsigned>(o.first));
  } else {
    printTable(*found);
    std::printf("%zu modules answered (addresses %u … %u)\n", found->size(),
                static_cast<unsigned>(found->front().address),
                static_cast<unsigned>(found->back().address));
  }
  if (unaddressed.empty()) {
    std::printf("no unaddressed module answered SEARCH\n");
  } else {
    std::printf("%zu unaddressed modules (SEARCH):\n", unaddressed.size());
    for (const auto s : unaddressed) {
      std::printf("  %s\n", bus::formatSerial(s).c_str());
    }
  }
  return 0;
}

int assignChain(const BusOptions& o, bool as_json) {
  int code = 0;
  auto line = openLine(o, code);
  if (!line) {
    return code;
  }
  auto modules = bus::assignInChainOrder(*line, o.first, o.max);
  if (!modules) {
    std::fprintf(stderr, "equalisctl bus: line %s failed: %s\n", o.line.c_str(),
                 modules.error().message.c_str());
    return kExitNoLine;
  }
  if (modules->empty()) {
    return failed(fmt::format(
        "no module took address {} (ASSIGN_NEXT unanswered): is the first module of the chain "
        "connected and powered?",
        o.first));
  }
  if (as_json) {
    json list = json::array();
    for (const auto& i : *modules) {
      list.push_back(infoJson(i));
    }
    std::cout << json{{"line", o.line}, {"modules", std::move(list)}}.dump(2) << "\n";
    return 0;
  }
  printTable(*modules);
  std::printf("%zu modules addressed %u … %u in chain order\n", modules->size(),
              static_cast<unsigned>(modules->front().address),
              static_cast<unsigned>(modules->back().address));
  return 0;
}

int assignSerial(const BusOptions& o, bool as_json) {
  int code = 0;
  auto line = openLine(o, code);
  if (!line) {
    return code;
  }
  const auto serial = *o.serial;
  const auto address = *o.address;
  // Two modules must never share an address: whoever answers there now must be this one.
  if (auto there = bus::readInfo(*line, address)) {
    if (there->serial != serial) {
      return failed(
          fmt::format("address {} is taken by module {}: give that one another address "
                      "first (or choose a free address)",
                      address, bus::formatSerial(there->serial)));
    }
  } else if (!line->connected()) {
    std::fprintf(stderr, "equalisctl bus: line %s failed: %s\n", o.line.c_str(),
                 line->lastError().c_str());
    return kExitNoLine;
  }
  auto info = bus::assignBySerial(*line, serial, address);
  if (!info) {
    if (!line->connected()) {
      std::fprintf(stderr, "equalisctl bus: line %s failed: %s\n", o.line.c_str(),
                   info.error().message.c_str());
      return kExitNoLine;
    }
    return failed(
        fmt::format("serial {} not found: no module answered ASSIGN_SERIAL on {} "
                    "(equalisctl bus scan lists the modules the line has)",
                    bus::formatSerial(serial), o.line));
  }
  if (as_json) {
    std::cout << json{{"line", o.line}, {"modules", json::array({infoJson(*info)})}}.dump(2)
              << "\n";
    return 0;
  }
  printTable({*info});
  std::printf("module %s now answers at address %u\n", bus::formatSerial(serial).c_str(),
              static_cast<unsigned>(info->address));
  return 0;
}

}  // namespace

int cmdBus(const std::vector<std::string>& args, bool json) {
  if (args.empty()) {
    return usage("needs a subcommand: scan or assign");
  }
  BusOptions o;
  o.sub = args[0];
  if (o.sub != "scan" && o.sub != "assign") {
    return usage("unknown subcommand '" + o.sub + "' (scan, assign)");
  }
  bool have_max = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--chain" && o.sub == "assign") {
      o.chain = true;
      continue;
    }
    const bool takes_value = a == "--line" || a == "--max" || a == "--first" ||
                             a == "--stop-after" || a == "--timeout-ms" || a == "--retries" ||
                             a == "--baud" ||
                             (o.sub == "assign" && (a == "--serial" || a == "--address"));
    if (!takes_value) {
      return usage(fmt::format("unexpected argument '{}' for bus {}", a, o.sub));
    }
    if (i + 1 >= args.size()) {
      return usage(a + " needs a value");
    }
    const std::string& v = args[++i];
    if (a == "--line") {
      o.line = v;
    } else if (a == "--max") {
      const auto n = parseCount(v, 1, bus::proto::kUnaddressed - 1);
      if (!n) {
        return usage("--max must be a count of addresses 1 … 65533, got '" + v + "'");
      }
      o.max = static_cast<std::uint16_t>(*n);
      have_max = true;
    } else if (a == "--stop-after") {
      const auto n = parseCount(v, 0, 65533);
      if (!n) {
        return usage("--stop-after must be 0 (never) … 65533 addresses, got '" + v + "'");
      }
      o.stop_after = static_cast<std::size_t>(*n);
    } else if (a == "--timeout-ms") {
      const auto n = parseCount(v, 1, 5000);
      if (!n) {
        return usage("--timeout-ms must be 1 … 5000, got '" + v + "'");
      }
      o.timeout_ms = static_cast<int>(*n);
    } else if (a == "--retries") {
      const auto n = parseCount(v, 0, 5);
      if (!n) {
        return usage("--retries must be 0 … 5, got '" + v + "'");
      }
      o.retries = static_cast<int>(*n);
    } else if (a == "--baud") {
      const auto n = parseCount(v, 1, 4'000'000);
      if (!n || !bus::supportedBaud(static_cast<std::uint32_t>(*n))) {
        return usage("--baud must be a standard rate (9600 … 921600), got '" + v + "'");
      }
      o.baud = static_cast<std::uint32_t>(*n);
    } else if (a == "--first" || a == "--address") {
      auto address = bus::parseDeviceAddress(v);
      if (!address) {
        return usage(a + ": " + address.error().message);
      }
      (a == "--first" ? o.first : o.address.emplace()) = *address;
    } else if (a == "--serial") {
      auto serial = bus::parseSerial(v);
      if (!serial) {
        return usage("--serial: " + serial.error().message);
      }
      o.serial = *serial;
    }
  }
  if (o.line.empty()) {
    return usage("bus " + o.sub +
                 " needs --line URL (serial:/dev/ttyUSB0:115200 or tcp://host:port)");
  }
  if (o.sub == "scan") {
    return scan(o, json);
  }
  if (o.chain) {
    if (o.serial || o.address) {
      return usage("assign: --chain or --serial S --address A, not both");
    }
    return assignChain(o, json);
  }
  if (!o.serial || !o.address) {
    return usage("assign needs --chain, or --serial S and --address A");
  }
  if (have_max || o.first != 1) {
    return usage("--first and --max go with --chain");
  }
  return assignSerial(o, json);
}

}  // namespace equalisctl
