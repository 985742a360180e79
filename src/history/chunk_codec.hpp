// Compressed columnar chunks of one series (docs/history.md "Chunk format"): a run of samples of
// one quantity of one block or string, as the history store's v2 format will keep them.
//
//   times    first time (zig-zag varint), first delta (varint), then delta-of-deltas (zig-zag
//            varints): a steady cadence costs one byte per sample;
//   values   the present values at their native integer resolution (mV, 0.1 °C, µΩ, 0.1 Wh/day,
//            mA, 0.1 %): the first (zig-zag varint), then the deltas (zig-zag varints);
//   quality  run-length: (quality·2 + present) and the run's length (varint) per run.
//
// Written here (Gorilla-style time encoding, Pelkonen et al., VLDB 2015; varints as in Protocol
// Buffers): no Debian library encodes this layout. A general-purpose second stage (zstd) may go
// on top; this layer stands alone and is what decodeChunk() checks.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace equalis::history {

struct ChunkSample {
  TimeMs time_ms = 0;
  std::optional<std::int64_t> value;  // native integer resolution; nullopt: no value
  std::uint8_t quality = 0;           // model::Quality as its integer

  bool operator==(const ChunkSample&) const = default;
};

// At most this many samples per chunk (a day at 10 s is 8 640), qualities up to 127.
constexpr std::size_t kMaxChunkSamples = 1 << 20;
constexpr std::uint8_t kMaxChunkQuality = 127;

// Encodes `samples`, which must be in strictly increasing time order (an error value otherwise,
// or when there are more than kMaxChunkSamples or a quality above kMaxChunkQuality).
Result<std::string> encodeChunk(std::span<const ChunkSample> samples);

// Decodes what encodeChunk() wrote. Bytes that are cut short, overlong, out of range, out of
// time order or followed by anything are an error value naming the part that is wrong.
Result<std::vector<ChunkSample>> decodeChunk(std::string_view bytes);

}  // namespace equalis::history
