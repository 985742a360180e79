// StateStore: the latest value, time and quality of every point of the catalogue.
// Writers update a batch under one lock (one control cycle = one version); readers take a
// consistent view. Staleness is applied on read: an "ok" value older than the limit is reported
// "stale", so nothing downstream can show old data as fresh.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/clock.hpp"
#include "model/points.hpp"
#include "model/quality.hpp"

namespace equalis::state {

struct Sample {
  double value = std::numeric_limits<double>::quiet_NaN();
  TimeMs time_ms = 0;  // when the value was measured; 0 = never
  model::Quality quality = model::Quality::kNotPresent;
};

// Applies the staleness rule to a stored sample.
inline Sample withStaleness(const Sample& stored, TimeMs now_ms, DurationMs stale_after_ms) {
  Sample s = stored;
  if (s.quality == model::Quality::kOk && s.time_ms > 0 && now_ms - s.time_ms > stale_after_ms) {
    s.quality = model::Quality::kStale;
  }
  return s;
}

class StateStore {
 public:
  // blocks_per_string: the plant layout. stale_after_ms: age at which "ok" becomes "stale".
  StateStore(std::vector<int> blocks_per_string, DurationMs stale_after_ms);

  std::size_t stringCount() const { return blocks_per_string_.size(); }
  int blockCount(std::size_t string_index) const { return blocks_per_string_.at(string_index); }
  DurationMs staleAfterMs() const { return stale_after_ms_; }

  class Reader;
  // Exclusive batch update; bumps the version and wakes waiters when it ends.
  class Writer {
   public:
    explicit Writer(StateStore& store);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // Indices are 0-based and ignored where the point's scope does not use them.
    void set(model::PointId id, std::size_t string_index, std::size_t block_index,
             const Sample& sample) {
      store_.samples_[store_.slot(id, string_index, block_index)] = sample;
    }
    void setSystem(model::PointId id, const Sample& sample) { set(id, 0, 0, sample); }
    // Attaches the non-point part of this version (the published alarm list, rules and I/O
    // view, see command/published.hpp); readers of the version get the same object.
    void attach(std::shared_ptr<const void> attachment) {
      store_.attachment_ = std::move(attachment);
    }

   private:
    friend class Reader;
    StateStore& store_;
    std::unique_lock<std::shared_mutex> lock_;
  };

  // Shared consistent view at time `now_ms` (for staleness and age).
  class Reader {
   public:
    Reader(const StateStore& store, TimeMs now_ms);
    // A view of the version being written, for the writer's own thread (alarm rules evaluate
    // the values of the cycle before it commits them); takes no lock of its own.
    Reader(const Writer& writer, TimeMs now_ms);
    Sample get(model::PointId id, std::size_t string_index = 0, std::size_t block_index = 0) const {
      return withStaleness(store_.samples_[store_.slot(id, string_index, block_index)], now_ms_,
                           store_.stale_after_ms_);
    }
    TimeMs nowMs() const { return now_ms_; }
    std::uint64_t version() const { return store_.version_; }
    const std::shared_ptr<const void>& attachment() const { return store_.attachment_; }

   private:
    const StateStore& store_;
    std::shared_lock<std::shared_mutex> lock_;
    TimeMs now_ms_;
  };

  std::uint64_t version() const;
  // Blocks until the version differs from `seen` or the timeout passes; returns the version.
  std::uint64_t waitForChange(std::uint64_t seen, std::chrono::milliseconds timeout) const;
  // Wakes all waiters (used at shutdown).
  void notifyAll() const;

 private:
  // The flat index of a point (hot: every set and get; out-of-range indices throw).
  std::size_t slot(model::PointId id, std::size_t string_index, std::size_t block_index) const {
    const auto index = static_cast<std::size_t>(id);
    const std::size_t base = point_offset_[index];
    switch (point_scope_[index]) {
      case model::Scope::kSystem:
        return base;
      case model::Scope::kString:
        if (string_index >= blocks_per_string_.size()) {
          throwOutOfRange("string index");
        }
        return base + string_index;
      case model::Scope::kBlock:
        if (string_index >= blocks_per_string_.size() ||
            block_index >= static_cast<std::size_t>(blocks_per_string_[string_index])) {
          throwOutOfRange("block index");
        }
        return base + block_offset_[string_index] + block_index;
    }
    return base;
  }
  [[noreturn]] static void throwOutOfRange(const char* what);

  std::vector<int> blocks_per_string_;
  std::vector<std::size_t> block_offset_;  // first flat block index of each string
  std::size_t total_blocks_ = 0;
  DurationMs stale_after_ms_;
  std::vector<std::size_t> point_offset_;  // first slot of each point
  std::vector<model::Scope> point_scope_;  // scope of each point (no catalogue lookup per set)
  std::vector<Sample> samples_;
  std::uint64_t version_ = 0;
  std::shared_ptr<const void> attachment_;
  mutable std::shared_mutex mutex_;
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_cv_;
};

}  // namespace equalis::state
