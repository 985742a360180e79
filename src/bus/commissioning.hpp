// Commissioning of a module-bus line (docs/module-bus.md §10): addresses in chain order or by
// serial number, the serials of unaddressed modules (SEARCH, bisecting on collisions), and the
// check that finds replaced modules by their serials.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/line_master.hpp"
#include "bus/protocol.hpp"

namespace equalis::bus {

// Forgets every address on the line (UNASSIGN broadcast), then gives first, first + 1, … to the
// modules in chain order until one ASSIGN_NEXT goes unanswered or `max_modules` are addressed.
Result<std::vector<proto::DeviceInfo>> assignInChainOrder(LineMaster& line, std::uint16_t first,
                                                          std::size_t max_modules);
// Gives one missing address to the unaddressed module whose chain input is active (a module
// replaced in place: its predecessor has an address).
Result<proto::DeviceInfo> assignNext(LineMaster& line, std::uint16_t address);
// The module with `serial` takes `address`, whatever it had.
Result<proto::DeviceInfo> assignBySerial(LineMaster& line, std::uint32_t serial,
                                         std::uint16_t address);
Result<proto::DeviceInfo> readInfo(LineMaster& line, std::uint16_t address);
// Serials of the unaddressed modules (at most `max_found`).
std::vector<std::uint32_t> searchUnaddressed(LineMaster& line, std::size_t max_found = 256);

// READ_INFO of first, first + 1, … up to `last`, stopping early after `stop_after_misses`
// consecutive addresses without an answer (0: never). The devices that answered, in address
// order. An error only when the line itself fails (cannot be opened, broken).
Result<std::vector<proto::DeviceInfo>> scanAddresses(LineMaster& line, std::uint16_t first,
                                                     std::uint16_t last,
                                                     std::size_t stop_after_misses);

// ---- Text forms (equalisctl bus, modules.json) ----
// An address a device may be given: 1 … 0xFFFD, decimal or 0x-hex ("17", "0x11").
Result<std::uint16_t> parseDeviceAddress(std::string_view text);
// A serial number: 0x-hex as printed on labels and by equalisctl ("0x45510003"), or decimal.
Result<std::uint32_t> parseSerial(std::string_view text);
// "0x45510003".
std::string formatSerial(std::uint32_t serial);
// "1.0.0".
std::string formatFirmware(const proto::DeviceInfo& info);

struct SerialCheck {
  enum class Outcome { kSame, kReplaced, kMissing };
  std::uint16_t address = 0;
  std::uint32_t expected_serial = 0;
  std::optional<std::uint32_t> found_serial;
  Outcome outcome = Outcome::kMissing;
};
// Reads READ_INFO of every (address, stored serial) and compares.
std::vector<SerialCheck> checkSerials(
    LineMaster& line, const std::vector<std::pair<std::uint16_t, std::uint32_t>>& expected);

}  // namespace equalis::bus
