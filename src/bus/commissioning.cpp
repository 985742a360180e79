#include "bus/commissioning.hpp"

#include <charconv>

#include <fmt/format.h>

namespace equalis::bus {

namespace {

using proto::Command;

Result<proto::DeviceInfo> infoOf(const Result<proto::Frame>& f) {
  if (!f) {
    return f.error();
  }
  return proto::decodeInfo(f->data());
}

std::uint64_t badFrames(const LineMaster& line) {
  const auto c = line.counters();
  return c.crc_errors + c.malformed + c.noise_bytes + c.truncated;
}

void search(LineMaster& line, std::uint32_t lo, std::uint32_t hi, std::size_t max_found,
            std::vector<std::uint32_t>& found) {
  if (found.size() >= max_found) {
    return;
  }
  const std::uint64_t bad_before = badFrames(line);
  auto info =
      infoOf(line.transact(proto::kUnaddressed, Command::kSearch, proto::encodeSearch({lo, hi})));
  const bool collided = badFrames(line) != bad_before;
  if (info && !collided) {
    const std::uint32_t s = info->serial;
    if (s < lo || s > hi) {
      return;
    }
    found.push_back(s);
    // A collision on the wire can leave one frame intact (bits of one reply hiding under the
    // other's): others may still be in the range, on either side of the one found.
    if (s > lo) {
      search(line, lo, s - 1, max_found, found);
    }
    if (s < hi) {
      search(line, s + 1, hi, max_found, found);
    }
    return;
  }
  if (!collided || lo == hi) {
    return;  // nobody in [lo, hi]
  }
  const std::uint32_t mid = lo + (hi - lo) / 2;
  search(line, lo, mid, max_found, found);
  search(line, mid + 1, hi, max_found, found);
}

}  // namespace

Result<proto::DeviceInfo> readInfo(LineMaster& line, std::uint16_t address) {
  return infoOf(line.transact(address, Command::kReadInfo, {}));
}

Result<proto::DeviceInfo> assignNext(LineMaster& line, std::uint16_t address) {
  return infoOf(
      line.transact(proto::kUnaddressed, Command::kAssignNext, proto::encodeU16(address), address));
}

Result<proto::DeviceInfo> assignBySerial(LineMaster& line, std::uint32_t serial,
                                         std::uint16_t address) {
  return infoOf(line.transact(proto::kBroadcast, Command::kAssignSerial,
                              proto::encodeAssignSerial({serial, address}), address));
}

Result<std::vector<proto::DeviceInfo>> assignInChainOrder(LineMaster& line, std::uint16_t first,
                                                          std::size_t max_modules) {
  if (auto st = line.broadcast(Command::kUnassign, {}); !st) {
    return st.error();
  }
  std::vector<proto::DeviceInfo> out;
  for (std::size_t k = 0; k < max_modules; ++k) {
    const auto address = static_cast<std::uint16_t>(first + k);
    if (address > proto::kLastModule) {
      break;
    }
    auto info = assignNext(line, address);
    if (!info) {
      if (info.error().code == ErrorCode::kUnavailable) {
        return info.error();
      }
      break;  // the end of the chain
    }
    out.push_back(*info);
  }
  return out;
}

std::vector<std::uint32_t> searchUnaddressed(LineMaster& line, std::size_t max_found) {
  std::vector<std::uint32_t> found;
  search(line, 0, 0xFFFFFFFFu, max_found, found);
  return found;
}

Result<std::vector<proto::DeviceInfo>> scanAddresses(LineMaster& line, std::uint16_t first,
                                                     std::uint16_t last,
                                                     std::size_t stop_after_misses) {
  std::vector<proto::DeviceInfo> found;
  std::size_t misses = 0;
  for (std::uint32_t a = first; a <= last; ++a) {
    auto info = readInfo(line, static_cast<std::uint16_t>(a));
    if (info) {
      found.push_back(*info);
      misses = 0;
      continue;
    }
    if (info.error().code == ErrorCode::kUnavailable || !line.connected()) {
      return info.error();
    }
    misses += 1;
    if (stop_after_misses > 0 && misses >= stop_after_misses) {
      break;
    }
  }
  return found;
}

namespace {

Result<std::uint64_t> parseNumber(std::string_view text, const char* what) {
  int base = 10;
  std::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  std::uint64_t v = 0;
  const auto* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, v, base);
  if (!digits.empty() && ec == std::errc::result_out_of_range && ptr == end) {
    return makeError(ErrorCode::kOutOfRange, fmt::format("{} '{}' is too large", what, text));
  }
  if (digits.empty() || ec != std::errc() || ptr != end) {
    return makeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}' is not a number (decimal or 0x-hex)", what, text));
  }
  return v;
}

}  // namespace

Result<std::uint16_t> parseDeviceAddress(std::string_view text) {
  auto v = parseNumber(text, "address");
  if (!v) {
    return v.error();
  }
  if (*v < proto::kFirstModule || *v >= proto::kUnaddressed) {
    return makeError(ErrorCode::kOutOfRange,
                     fmt::format("address {} out of range 1 … 65533 (0x0001 … 0xFFFD)", text));
  }
  return static_cast<std::uint16_t>(*v);
}

Result<std::uint32_t> parseSerial(std::string_view text) {
  auto v = parseNumber(text, "serial");
  if (!v) {
    return v.error();
  }
  if (*v > 0xFFFFFFFFull) {
    return makeError(ErrorCode::kOutOfRange,
                     fmt::format("serial {} does not fit in 32 bits", text));
  }
  return static_cast<std::uint32_t>(*v);
}

std::string formatSerial(std::uint32_t serial) {
  return fmt::format("0x{:08X}", serial);
}

std::string formatFirmware(const proto::DeviceInfo& info) {
  return fmt::format("{}.{}.{}", info.firmware_major, info.firmware_minor, info.firmware_patch);
}

std::vector<SerialCheck> checkSerials(
    LineMaster& line, const std::vector<std::pair<std::uint16_t, std::uint32_t>>& expected) {
  std::vector<SerialCheck> out;
  out.reserve(expected.size());
  for (const auto& [address, serial] : expected) {
    SerialCheck c;
    c.address = address;
    c.expected_serial = serial;
    if (auto info = readInfo(line, address)) {
      c.found_serial = info->serial;
      c.outcome =
          info->serial == serial ? SerialCheck::Outcome::kSame : SerialCheck::Outcome::kReplaced;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace equalis::bus
