#include "state/state_store.hpp"

#include <stdexcept>

namespace equalis::state {

Sample withStaleness(const Sample& stored, TimeMs now_ms, DurationMs stale_after_ms) {
  Sample s = stored;
  if (s.quality == model::Quality::kOk && s.time_ms > 0 && now_ms - s.time_ms > stale_after_ms) {
    s.quality = model::Quality::kStale;
  }
  return s;
}

StateStore::StateStore(std::vector<int> blocks_per_string, DurationMs stale_after_ms)
    : blocks_per_string_(std::move(blocks_per_string)), stale_after_ms_(stale_after_ms) {
  for (int n : blocks_per_string_) {
    block_offset_.push_back(total_blocks_);
    total_blocks_ += static_cast<std::size_t>(n);
  }
  std::size_t offset = 0;
  for (const auto& def : model::catalogue()) {
    point_offset_.push_back(offset);
    point_scope_.push_back(def.scope);
    switch (def.scope) {
      case model::Scope::kSystem:
        offset += 1;
        break;
      case model::Scope::kString:
        offset += blocks_per_string_.size();
        break;
      case model::Scope::kBlock:
        offset += total_blocks_;
        break;
    }
  }
  samples_.resize(offset);
}

std::size_t StateStore::slot(model::PointId id, std::size_t string_index,
                             std::size_t block_index) const {
  const auto index = static_cast<std::size_t>(id);
  const std::size_t base = point_offset_[index];
  switch (point_scope_[index]) {
    case model::Scope::kSystem:
      return base;
    case model::Scope::kString:
      if (string_index >= blocks_per_string_.size()) {
        throw std::out_of_range("string index");
      }
      return base + string_index;
    case model::Scope::kBlock:
      if (string_index >= blocks_per_string_.size() ||
          block_index >= static_cast<std::size_t>(blocks_per_string_[string_index])) {
        throw std::out_of_range("block index");
      }
      return base + block_offset_[string_index] + block_index;
  }
  return base;
}

StateStore::Writer::Writer(StateStore& store) : store_(store), lock_(store.mutex_) {}

StateStore::Writer::~Writer() {
  store_.version_ += 1;
  lock_.unlock();
  std::lock_guard wait_lock(store_.wait_mutex_);
  store_.wait_cv_.notify_all();
}

void StateStore::Writer::set(model::PointId id, std::size_t string_index, std::size_t block_index,
                             const Sample& sample) {
  store_.samples_[store_.slot(id, string_index, block_index)] = sample;
}

StateStore::Reader::Reader(const StateStore& store, TimeMs now_ms)
    : store_(store), lock_(store.mutex_), now_ms_(now_ms) {}

StateStore::Reader::Reader(const Writer& writer, TimeMs now_ms)
    : store_(writer.store_), now_ms_(now_ms) {}

Sample StateStore::Reader::get(model::PointId id, std::size_t string_index,
                               std::size_t block_index) const {
  return withStaleness(store_.samples_[store_.slot(id, string_index, block_index)], now_ms_,
                       store_.stale_after_ms_);
}

std::uint64_t StateStore::version() const {
  std::shared_lock lock(mutex_);
  return version_;
}

std::uint64_t StateStore::waitForChange(std::uint64_t seen,
                                        std::chrono::milliseconds timeout) const {
  std::unique_lock lock(wait_mutex_);
  wait_cv_.wait_for(lock, timeout, [&] { return version() != seen; });
  return version();
}

void StateStore::notifyAll() const {
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

}  // namespace equalis::state
