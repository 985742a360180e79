// Fuzz target: the module bus codec (docs/module-bus.md). The input is a byte stream as read from
// a line; it goes through the streaming FrameParser (strict and lenient, split at a point taken
// from the first byte), every frame found through every payload decoder, and the whole input
// through decode(). Nothing may crash, and a frame that comes out must re-encode to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "bus/protocol.hpp"

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
  return 0;
}
