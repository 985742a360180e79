// Fuzz target: the module bus (docs/module-bus.md) on arbitrary bytes. The input is a byte stream
// as read from a line; it goes through the streaming FrameParser (strict and lenient, split at a
// point taken from the first byte), every frame found through every payload decoder, and the
// whole input through decode(); then through the device side (a LineResponder of 8 modules, a
// current sensor and the room sensor taking it as the master's requests) and the master side (a
// LineMaster reading it as the replies to a unicast request and to a group read). Nothing may
// crash, and a frame that comes out of the parser must re-encode to itself.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bus/line_master.hpp"
#include "bus/protocol.hpp"
#include "bus/responder.hpp"

namespace {

using namespace equalis::bus::proto;  // NOLINT(google-build-using-namespace): a fuzz target's own
                                      // file

void decodeAll(const Frame& f) {
  const auto p = f.data();
  (void)decodeMeasurement(p);
  (void)decodeCurrent(p);
  (void)decodeTemperature(p);
  (void)decodeInfo(p);
  (void)decodeGroupRead(p);
  (void)decodeSetTarget(p);
  (void)decodeTimeSync(p);
  (void)decodeAssignSerial(p);
  (void)decodeSearch(p);
  (void)decodeU16(p);
  const Encoded e = encode(f);
  const auto again = decode(e.span(), false);
  if (!again.ok() || again->address != f.address || again->command != f.command ||
      again->sequence != f.sequence || again->length != f.length) {
    std::abort();
  }
}

class Values final : public equalis::bus::Backend {
 public:
  std::size_t stringCount() const override { return 1; }
  std::size_t blockCount(std::size_t) const override { return 8; }
  equalis::Result<equalis::bus::ModuleReading> readModule(std::size_t, std::size_t b) override {
    if (b == 7) {
      return equalis::makeError(equalis::ErrorCode::kTimeout, "mute");
    }
    return equalis::bus::ModuleReading{13'600, 250, 70'000, 0};
  }
  equalis::Result<equalis::bus::StringSensorReading> readStringSensor(std::size_t) override {
    return equalis::bus::StringSensorReading{-5'000, 100};
  }
  equalis::Result<std::int16_t> readAmbientDc() override { return std::int16_t{250}; }
  equalis::Status writeBypass(std::size_t, std::size_t, std::uint8_t) override { return {}; }
};

// Replies are the fuzz input, handed out once.
class InputTransport final : public equalis::bus::Transport {
 public:
  explicit InputTransport(std::span<const std::uint8_t> input) : input_(input) {}
  equalis::Status open() override { return {}; }
  void close() override {}
  bool isOpen() const override { return true; }
  equalis::Status write(std::span<const std::uint8_t>) override { return {}; }
  equalis::Result<std::size_t> read(std::span<std::uint8_t> buffer,
                                    equalis::bus::SteadyTime) override {
    const std::size_t n = std::min(buffer.size(), input_.size());
    std::copy_n(input_.begin(), n, buffer.begin());
    input_ = input_.subspan(n);
    return n;
  }
  void discardInput() override {}
  std::string describe() const override { return "fuzz"; }
  std::uint32_t baud() const override { return 115200; }

 private:
  std::span<const std::uint8_t> input_;
};

void deviceSide(std::span<const std::uint8_t> data) {
  static Values values;
  equalis::bus::LineResponder responder({equalis::bus::LineString{0, 8, 1, true}}, true, 115200,
                                        values);
  std::vector<equalis::bus::Transmission> out;
  responder.receive(data, 0, out);
  for (const auto& t : out) {
    FrameParser p;
    p.push(t.bytes);
    Frame f;
    while (p.next(f)) {
      if (!f.isReply()) {
        std::abort();  // a device only ever sends replies
      }
    }
  }
}

void masterSide(std::span<const std::uint8_t> data, bool group) {
  equalis::bus::LineOptions options;
  options.retries = 0;
  options.reply_slack = std::chrono::microseconds(0);
  equalis::bus::LineMaster master(std::make_unique<InputTransport>(data), options);
  if (group) {
    std::vector<std::optional<Frame>> frames;
    (void)master.groupRead(1, 8, Command::kReadMeasurement, frames);
    for (const auto& f : frames) {
      if (f && f->address == 0) {
        std::abort();  // only frames of the addressed slots are accepted
      }
    }
  } else {
    (void)master.transact(3, Command::kReadMeasurement, {});
  }
  (void)master.counters();
}

void parse(std::span<const std::uint8_t> data, std::size_t split, bool strict) {
  FrameParser parser(strict);
  Frame f;
  parser.push(data.first(split));
  while (parser.next(f)) {
    decodeAll(f);
  }
  parser.push(data.subspan(split));
  while (parser.next(f)) {
    decodeAll(f);
  }
  parser.reset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  const std::size_t split = input.empty() ? 0 : data[0] % (input.size() + 1);
  parse(input, split, true);
  parse(input, split, false);
  (void)decode(input);
  (void)decode(input, false);
  deviceSide(input);
  masterSide(input, (data[0] & 1) != 0);
  return 0;
}
