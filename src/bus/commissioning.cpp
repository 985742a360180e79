#include "bus/commissioning.hpp"

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
