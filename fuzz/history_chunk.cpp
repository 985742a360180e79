// Fuzz target: compressed history chunks (history::decodeChunk), as read back from the store.
// What decodes must encode again and decode to the same samples.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "history/chunk_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto samples = equalis::history::decodeChunk(bytes);
  if (!samples.ok()) {
    return 0;
  }
  const auto again = equalis::history::encodeChunk(*samples);
  if (!again.ok()) {
    std::abort();
  }
  const auto back = equalis::history::decodeChunk(*again);
  if (!back.ok() || *back != *samples) {
    std::abort();
  }
  return 0;
}
