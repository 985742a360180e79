#include "bus/line_master.hpp"

#include <algorithm>
#include <array>
#include <thread>

namespace equalis::bus {

namespace {
constexpr std::uint8_t kLateWindow = 16;  // replies to one of the last 16 requests are "late"
}

LineMaster::LineMaster(std::unique_ptr<Transport> transport, LineOptions options)
    : transport_(std::move(transport)), options_(options) {}

std::chrono::nanoseconds LineMaster::chars(std::size_t n) const {
  const double ns = 1e9 * proto::kCharBits * static_cast<double>(n) / transport_->baud();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

DeviceCounters& LineMaster::device(std::uint16_t address) {
  auto it = std::lower_bound(devices_.begin(), devices_.end(), address,
                             [](const auto& e, std::uint16_t a) { return e.first < a; });
  if (it == devices_.end() || it->first != address) {
    it = devices_.insert(it, {address, DeviceCounters{}});
  }
  return it->second;
}

const DeviceCounters* LineMaster::findDevice(std::uint16_t address) const {
  auto it = std::lower_bound(devices_.begin(), devices_.end(), address,
                             [](const auto& e, std::uint16_t a) { return e.first < a; });
  return it != devices_.end() && it->first == address ? &it->second : nullptr;
}

LineCounters LineMaster::counters() const {
  LineCounters c = counters_;
  const auto& p = parser_.stats();
  c.crc_errors = p.crc_errors;
  c.malformed = p.malformed;
  c.noise_bytes = p.noise_bytes;
  c.truncated = p.truncated;
  return c;
}

Status LineMaster::ensureOpen() {
  if (transport_->isOpen()) {
    return {};
  }
  const auto now = Clock::now();
  if (now < next_reconnect_) {
    return makeError(ErrorCode::kUnavailable,
                     transport_->describe() + ": line down (" + last_error_ + ")");
  }
  next_reconnect_ = now + options_.reconnect_interval;
  if (auto st = transport_->open(); !st) {
    last_error_ = st.error().message;
    return makeError(ErrorCode::kUnavailable, transport_->describe() + ": " + last_error_);
  }
  counters_.reconnects += 1;
  parser_.reset();
  not_before_ = {};
  return {};
}

Result<SteadyTime> LineMaster::send(std::uint16_t address, std::uint8_t cmd_byte,
                                    std::span<const std::uint8_t> payload) {
  if (auto st = ensureOpen(); !st) {
    return st.error();
  }
  if (const auto now = Clock::now(); now < not_before_) {
    std::this_thread::sleep_until(not_before_);
  }
  seq_ = static_cast<std::uint8_t>(seq_ + 1);
  pending_address_ = address;
  pending_cmd_ = cmd_byte;
  const auto frame = proto::encode(proto::makeFrame(address, cmd_byte, seq_, payload));
  const auto start = Clock::now();
  if (auto st = transport_->write(frame.span()); !st) {
    last_error_ = st.error().message;
    return st.error();
  }
  counters_.requests += 1;
  return start + chars(frame.size);
}

void LineMaster::countLateOrForeign(const proto::Frame& f) {
  const auto age = static_cast<std::uint8_t>(seq_ - f.sequence);
  if (f.isReply() && age >= 1 && age <= kLateWindow) {
    counters_.late += 1;
    if (findDevice(f.address) != nullptr) {
      device(f.address).late += 1;
    }
    return;
  }
  counters_.foreign += 1;
}

template <class Accept>
void LineMaster::receive(SteadyTime& deadline, Accept&& accept) {
  std::array<std::uint8_t, 512> buffer{};
  while (true) {
    proto::Frame f;
    while (parser_.next(f)) {
      if (!f.isReply()) {
        if (f.sequence == seq_ && f.address == pending_address_ && f.command == pending_cmd_) {
          counters_.echo += 1;
        } else {
          counters_.foreign += 1;
        }
        continue;
      }
      if (f.sequence != seq_) {
        countLateOrForeign(f);
        continue;
      }
      if (accept(f)) {
        return;
      }
    }
    if (Clock::now() >= deadline) {
      return;
    }
    auto n = transport_->read(buffer, deadline);
    if (!n) {
      last_error_ = n.error().message;
      return;
    }
    if (*n == 0) {
      return;  // deadline
    }
    parser_.push({buffer.data(), *n});
  }
}

Result<proto::Frame> LineMaster::transact(std::uint16_t address, proto::Command command,
                                          std::span<const std::uint8_t> payload,
                                          std::optional<std::uint16_t> reply_from) {
  const std::uint16_t from = reply_from.value_or(address);
  const auto cmd = static_cast<std::uint8_t>(command);
  const std::size_t reply_bytes = proto::kOverheadBytes + proto::replyPayloadBytes(cmd).value_or(1);
  Error last = makeError(ErrorCode::kTimeout, "no reply");
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      counters_.retries += 1;
    }
    auto sent = send(address, cmd, payload);
    if (!sent) {
      return sent.error();
    }
    SteadyTime deadline = *sent + chars(reply_bytes + 2) + options_.reply_slack;
    std::optional<proto::Frame> got;
    receive(deadline, [&](const proto::Frame& f) {
      if (f.address != from || f.baseCommand() != cmd) {
        counters_.foreign += 1;
        return false;
      }
      got = f;
      return true;
    });
    if (!transport_->isOpen()) {
      return makeError(ErrorCode::kUnavailable, describe() + ": " + last_error_);
    }
    if (!got) {
      counters_.timeouts += 1;
      device(from).timeouts += 1;
      last = makeError(ErrorCode::kTimeout, "no reply from device " + std::to_string(from));
      continue;
    }
    if (got->isError()) {
      counters_.error_replies += 1;
      device(from).errors += 1;
      const std::uint8_t code = got->length > 0 ? got->payload[0] : 0;
      return makeError(ErrorCode::kProtocol, std::string("device ") + std::to_string(address) +
                                                 " answered " + proto::deviceErrorName(code));
    }
    counters_.frames_ok += 1;
    device(from).ok += 1;
    return *got;
  }
  return last;
}

Status LineMaster::broadcast(proto::Command command, std::span<const std::uint8_t> payload,
                             double settle_ms) {
  auto sent = send(proto::kBroadcast, static_cast<std::uint8_t>(command), payload);
  if (!sent) {
    return sent.error();
  }
  not_before_ = *sent + std::chrono::microseconds(static_cast<std::int64_t>(settle_ms * 1000.0));
  return {};
}

Status LineMaster::groupRead(std::uint16_t first, std::uint8_t count, proto::Command item,
                             std::vector<std::optional<proto::Frame>>& out) {
  out.assign(count, std::nullopt);
  if (count == 0) {
    return {};
  }
  const auto item_byte = static_cast<std::uint8_t>(item);
  const std::size_t slot_bytes = proto::slotFrameBytes(item_byte);
  const auto payload = proto::encodeGroupRead({first, count, item_byte});
  auto sent =
      send(proto::kBroadcast, static_cast<std::uint8_t>(proto::Command::kReadGroup), payload);
  if (!sent) {
    return sent.error();
  }
  const auto slot_max =
      chars(std::max<std::size_t>(slot_bytes + proto::kSlotGapMaxChars, proto::kSilentSlotChars));
  SteadyTime deadline = *sent + slot_max * count + options_.reply_slack;
  std::size_t received = 0;
  receive(deadline, [&](const proto::Frame& f) {
    const int k = static_cast<int>(f.address) - static_cast<int>(first);
    if (k < 0 || k >= count || f.command != (item_byte | proto::kReplyFlag) ||
        out[static_cast<std::size_t>(k)]) {
      counters_.foreign += 1;
      return false;
    }
    out[static_cast<std::size_t>(k)] = f;
    counters_.frames_ok += 1;
    received += 1;
    // Slots still to come may run late (a gateway, a slow responder): keep waiting for them.
    const auto rest = slot_max * (count - 1 - k) + options_.reply_slack;
    deadline = std::max(deadline, Clock::now() + rest);
    return received == count || k == count - 1;
  });
  for (std::size_t k = 0; k < out.size(); ++k) {
    const auto address = static_cast<std::uint16_t>(first + k);
    if (out[k]) {
      device(address).ok += 1;
    } else {
      counters_.timeouts += 1;
      device(address).timeouts += 1;
    }
  }
  if (!transport_->isOpen()) {
    return makeError(ErrorCode::kUnavailable, describe() + ": " + last_error_);
  }
  return {};
}

}  // namespace equalis::bus
