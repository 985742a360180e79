#include "history/chunk_codec.hpp"

#include <fmt/format.h>

#include <limits>

namespace equalis::history {

namespace {

constexpr std::uint8_t kFormatVersion = 1;

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
}

void putVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Differences of int64 values wrap (two's complement) so that any sequence round-trips.
std::int64_t wrappingSub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

std::int64_t wrappingAdd(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}

  // A varint of at most 10 bytes whose value fits 64 bits.
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) {
        return false;
      }
      const auto byte = static_cast<std::uint8_t>(in_[pos_++]);
      if (shift == 63 && byte > 1) {
        return false;  // more than 64 bits
      }
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }
  bool signedVarint(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!varint(u)) {
      return false;
    }
    v = unzigzag(u);
    return true;
  }
  bool byte(std::uint8_t& b) {
    if (pos_ >= in_.size()) {
      return false;
    }
    b = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

Error bad(const std::string& what) {
  return makeError(ErrorCode::kProtocol, "history chunk: " + what);
}

}  // namespace

Result<std::string> encodeChunk(std::span<const ChunkSample> samples) {
  if (samples.size() > kMaxChunkSamples) {
    return makeError(ErrorCode::kOutOfRange, fmt::format("history chunk: {} samples, at most {}",
                                                         samples.size(), kMaxChunkSamples));
  }
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].quality > kMaxChunkQuality) {
      return makeError(ErrorCode::kOutOfRange,
                       fmt::format("history chunk: sample {} has quality {} (at most {})", i,
                                   samples[i].quality, kMaxChunkQuality));
    }
    if (i > 0 && samples[i].time_ms <= samples[i - 1].time_ms) {
      return makeError(ErrorCode::kInvalidArgument,
                       fmt::format("history chunk: sample {} is not after the one before it", i));
    }
  }
  std::string out;
  out.reserve(8 + samples.size() * 3);
  out.push_back(static_cast<char>(kFormatVersion));
  putVarint(out, samples.size());
  // Times: first, first delta, delta-of-deltas.
  std::int64_t prev_t = 0;
  std::int64_t prev_dt = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::int64_t t = samples[i].time_ms;
    if (i == 0) {
      putVarint(out, zigzag(t));
    } else {
      const std::int64_t dt = wrappingSub(t, prev_t);
      putVarint(out, i == 1 ? zigzag(dt) : zigzag(wrappingSub(dt, prev_dt)));
      prev_dt = dt;
    }
    prev_t = t;
  }
  // Quality and presence runs: key = quality·2 + present, then the run's length.
  const auto key = [](const ChunkSample& x) {
    return static_cast<std::uint8_t>((x.quality << 1) | (x.value ? 1 : 0));
  };
  std::size_t i = 0;
  while (i < samples.size()) {
    std::size_t j = i + 1;
    while (j < samples.size() && key(samples[j]) == key(samples[i])) {
      ++j;
    }
    out.push_back(static_cast<char>(key(samples[i])));
    putVarint(out, j - i);
    i = j;
  }
  // Present values: first, then deltas.
  bool first = true;
  std::int64_t prev_v = 0;
  for (const auto& s : samples) {
    if (!s.value) {
      continue;
    }
    putVarint(out, zigzag(first ? *s.value : wrappingSub(*s.value, prev_v)));
    prev_v = *s.value;
    first = false;
  }
  return out;
}

Result<std::vector<ChunkSample>> decodeChunk(std::string_view bytes) {
  Cursor c(bytes);
  std::uint8_t version = 0;
  if (!c.byte(version)) {
    return bad("empty");
  }
  if (version != kFormatVersion) {
    return bad(fmt::format("format {} (this build reads format {})", version, kFormatVersion));
  }
  std::uint64_t count = 0;
  if (!c.varint(count)) {
    return bad("the sample count is cut short");
  }
  if (count > kMaxChunkSamples || count > bytes.size()) {
    return bad(fmt::format("{} samples announced in {} bytes", count, bytes.size()));
  }
  std::vector<ChunkSample> out(count);
  std::int64_t prev_t = 0;
  std::int64_t prev_dt = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::int64_t x = 0;
    if (!c.signedVarint(x)) {
      return bad(fmt::format("time {} is cut short or overlong", i));
    }
    std::int64_t t = x;
    if (i == 1) {
      prev_dt = x;
      t = wrappingAdd(prev_t, x);
    } else if (i > 1) {
      prev_dt = wrappingAdd(prev_dt, x);
      t = wrappingAdd(prev_t, prev_dt);
    }
    if (i > 0 && t <= prev_t) {
      return bad(fmt::format("sample {} is not after the one before it", i));
    }
    out[i].time_ms = t;
    prev_t = t;
  }
  std::size_t filled = 0;
  std::size_t present = 0;
  while (filled < count) {
    std::uint8_t key = 0;
    std::uint64_t run = 0;
    if (!c.byte(key) || !c.varint(run)) {
      return bad("a quality run is cut short");
    }
    const auto quality = static_cast<std::uint8_t>(key >> 1);
    const bool has = (key & 1) != 0;
    if (run == 0 || run > count - filled) {
      return bad(fmt::format("a quality run of {} samples at sample {} does not fit", run, filled));
    }
    for (std::uint64_t k = 0; k < run; ++k, ++filled) {
      out[filled].quality = quality;
      if (has) {
        out[filled].value = 0;  // filled below
        ++present;
      }
    }
  }
  std::int64_t prev_v = 0;
  bool first = true;
  for (auto& s : out) {
    if (!s.value) {
      continue;
    }
    std::int64_t x = 0;
    if (!c.signedVarint(x)) {
      return bad(fmt::format("the values are cut short ({} present)", present));
    }
    prev_v = first ? x : wrappingAdd(prev_v, x);
    s.value = prev_v;
    first = false;
  }
  if (!c.done()) {
    return bad("bytes after the last value");
  }
  return out;
}

}  // namespace equalis::history
